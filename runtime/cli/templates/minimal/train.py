"""Trains `scorer` (project.mlp): a logistic regression over the model's inputs, exported as
TorchScript with its input scaling inside, so that serving passes raw feature values.

Run by the `fit` step of pipeline `train`:
  python train.py --data DATASET_DIR --out OUT_DIR [--epochs N]
Reads DATASET_DIR/training_set.parquet, writes OUT_DIR/model.pt and OUT_DIR/metrics.json.
"""

import argparse
import json
import os

import numpy as np
import pyarrow.parquet as pq
import torch

# The model block's inputs, in order, as the training set names them (view__feature).
INPUTS = ["user_activity__events_7d", "user_activity__mean_value_7d"]
LABEL = "label"


class Scorer(torch.nn.Module):
    """Scales its inputs with the training set's mean and spread, then a logistic regression."""

    def __init__(self, mean: torch.Tensor, std: torch.Tensor):
        super().__init__()
        self.register_buffer("mean", mean)
        self.register_buffer("std", std)
        self.linear = torch.nn.Linear(len(INPUTS), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.linear((x - self.mean) / self.std)).squeeze(1)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--data", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--epochs", type=int, default=200)
    args = p.parse_args()
    table = pq.read_table(os.path.join(args.data, "training_set.parquet")).to_pydict()
    # A missing feature value (an entity with no events yet) is 0, as serving passes it.
    x = np.array(
        [[0.0 if v is None else float(v) for v in table[c]] for c in INPUTS], dtype=np.float32
    ).T
    y = np.array([1.0 if v else 0.0 for v in table[LABEL]], dtype=np.float32)
    torch.manual_seed(0)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    model = Scorer(xt.mean(0), xt.std(0).clamp_min(1e-6))
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    loss = torch.tensor(0.0)
    for _ in range(args.epochs):
        opt.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy(model(xt), yt)
        loss.backward()
        opt.step()
    os.makedirs(args.out, exist_ok=True)
    torch.jit.save(torch.jit.script(model), os.path.join(args.out, "model.pt"))
    with open(os.path.join(args.out, "metrics.json"), "w") as f:
        json.dump({"loss": loss.item(), "rows": int(len(y))}, f)


if __name__ == "__main__":
    main()
