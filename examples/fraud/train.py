"""Trains fraud_scorer: a small PyTorch MLP over the model's four inputs, exported as
TorchScript with its input scaling inside, so that serving passes raw feature values.

Run by the `train` step of pipeline train_fraud (models.mlp):
  python train.py --data DATASET_DIR --extra HISTORY_DIR --epochs N --lr LR --out OUT_DIR
Reads DATASET_DIR/training_set.parquet (the point-in-time training set), writes
OUT_DIR/model.pt, OUT_DIR/metrics.json (auc, loss, rows) and OUT_DIR/params.json.
Deterministic: the same training set and parameters give the same model file.
"""

import argparse
import json
import os

import numpy as np
import pyarrow.parquet as pq
import torch

# The model block's inputs, in order, as the training set names them (view__feature).
INPUTS = [
    "user_stats__txn_count_7d",
    "user_stats__avg_amount_7d",
    "checkout_derived__amount_vs_avg",
    "checkout_derived__foreign",
]
LABEL = "is_fraud"
HIDDEN = 16
SEED = 0


class Scorer(torch.nn.Module):
    """Scales its inputs with the training set's mean and spread, then a two-layer MLP."""

    def __init__(self, mean: torch.Tensor, std: torch.Tensor):
        super().__init__()
        self.register_buffer("mean", mean)
        self.register_buffer("std", std)
        self.net = torch.nn.Sequential(
            torch.nn.Linear(len(INPUTS), HIDDEN),
            torch.nn.ReLU(),
            torch.nn.Linear(HIDDEN, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # [batch, 4] raw features -> [batch, 1] fraud probability.
        return torch.sigmoid(self.net((x - self.mean) / self.std))


def column(table, name):
    """A column as float64; a missing value (nothing visible at that time) is 0."""
    return np.array([0.0 if v is None else float(v) for v in table.column(name).to_pylist()])


def auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve: the chance that a random positive outranks a random
    negative (ties count half)."""
    pos, neg = scores[labels == 1], scores[labels == 0]
    if len(pos) == 0 or len(neg) == 0:
        return 0.5
    order = np.argsort(np.concatenate([pos, neg]), kind="mergesort")
    ranks = np.empty(len(order))
    values = np.concatenate([pos, neg])[order]
    i = 0
    while i < len(values):
        j = i
        while j + 1 < len(values) and values[j + 1] == values[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return float((ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--data", required=True)
    p.add_argument("--extra")
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--out", required=True)
    args = p.parse_args()

    torch.manual_seed(SEED)
    torch.set_num_threads(1)
    table = pq.read_table(os.path.join(args.data, "training_set.parquet"))
    x = np.stack([column(table, c) for c in INPUTS], axis=1)
    y = column(table, LABEL)
    if args.extra:
        extra = pq.read_table(os.path.join(args.extra, "training_set.parquet"))
        print(f"extra training set: {extra.num_rows} rows, columns {', '.join(extra.column_names)}")

    # The labels are in time order: train on the first 80 %, test on the last 20 %.
    cut = int(len(y) * 0.8)
    xt, yt = torch.tensor(x[:cut], dtype=torch.float32), torch.tensor(y[:cut], dtype=torch.float32)
    xv, yv = torch.tensor(x[cut:], dtype=torch.float32), y[cut:]
    mean, std = xt.mean(0), xt.std(0).clamp_min(1e-6)
    model = Scorer(mean, std)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    loss_fn = torch.nn.BCELoss()
    g = torch.Generator().manual_seed(SEED)
    loss = torch.tensor(0.0)
    for epoch in range(args.epochs):
        perm = torch.randperm(len(yt), generator=g)
        for i in range(0, len(yt), 256):
            idx = perm[i : i + 256]
            opt.zero_grad()
            loss = loss_fn(model(xt[idx]).squeeze(1), yt[idx])
            loss.backward()
            opt.step()
        print(f"epoch {epoch + 1}/{args.epochs}: loss {loss.item():.4f}")

    model.eval()
    with torch.no_grad():
        scores = model(xv).squeeze(1).numpy()
    metrics = {
        "auc": round(auc(yv, scores), 6),
        "loss": round(float(loss.item()), 6),
        "train_rows": cut,
        "test_rows": len(yv),
    }
    print(f"test auc {metrics['auc']:.4f} on {len(yv)} rows")
    os.makedirs(args.out, exist_ok=True)
    torch.jit.save(torch.jit.script(model), os.path.join(args.out, "model.pt"))
    with open(os.path.join(args.out, "metrics.json"), "w") as f:
        json.dump(metrics, f, indent=2, sort_keys=True)
    with open(os.path.join(args.out, "params.json"), "w") as f:
        json.dump({"epochs": args.epochs, "lr": args.lr, "hidden": HIDDEN, "seed": SEED}, f, indent=2, sort_keys=True)


if __name__ == "__main__":
    main()
