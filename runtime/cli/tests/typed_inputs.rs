//! Models with several typed input tensors and vector outputs, end to end: a model
//! `forward(x: float32[batch, 4], cat: int64[batch]) -> softmax float32[batch, 3]` with an
//! embedding, exported with the venv's PyTorch, registered (its signature checked against the
//! block), served, and answered over `/v1/deployments/…/predict`, `/v2/…/infer` and `mlpc
//! score` with PyTorch's own outputs on the same inputs (rtol 1e-5, atol 1e-6) for batches of
//! 1, 4, 17 and 0 rows, and for 1-row and 17-row requests batched together. `probs:
//! float32[3]` is a list per row (`[n, 3]` over the Open Inference Protocol, a `FLOAT[3]`
//! column from `mlpc score`, a list per row in the prediction log), `p_fraud = probs[1]` is
//! derived from it, and a deployment routes on `probs[1] > 0.5`. Ids outside the declared
//! range answer 400 naming the tensor, input and row, and the server keeps answering; a
//! negative id maps to the declared bucket where one is declared; an id of 2^40 + 1 reaches
//! the model exactly; an artifact whose `forward` disagrees with the block is refused with
//! both signatures.

use mlp_test_support::serving::{call, mlpc, mlpc_bin, serve, venv, Server};
use serde_json::{json, Value};
use std::path::Path;
use std::process::Command;

const SPEC: &str = "project typed {}

request checkout {
  a: float
  b: float
  c: int
  d: bool
  cat: int
}

model ranker {
  inputs {
    x: float32 = [checkout.a, checkout.b, checkout.c, checkout.d]
    cat: int64 in 0..6 = checkout.cat
  }
  outputs {
    probs: float32[3]
    p_fraud: float = probs[1]
  }
}

model flipped {
  inputs {
    x: float32 = [checkout.a, checkout.b, checkout.c, checkout.d]
    cat: int64 in 0..6 = checkout.cat
  }
  outputs {
    probs: float32[3]
    p_fraud: float = probs[1]
  }
}

model bucketed {
  inputs {
    x: float32 = [checkout.a, checkout.b, checkout.c, checkout.d]
    cat: int64 in 0..6 else 0 = checkout.cat
  }
  outputs {
    probs: float32[3]
    p_fraud: float = probs[1]
  }
}

model duo {
  inputs {
    x: float32 = [checkout.a, checkout.b]
    cat: int64 in 0..6 = checkout.cat
  }
  outputs = [head: float32[2], s: float]
}

deployment duos {
  model = duo@latest
}

deployment routed {
  model = route(by = ranker@latest, when = probs[1] > 0.5, then = flipped@latest, else = ranker@latest)
}

model exact {
  inputs {
    x: float32 = [checkout.a]
    id: int64 = checkout.cat
  }
  output = delta: float
}

model pair {
  inputs {
    x: float32 = [checkout.a, checkout.b]
    cat: int64 in 0..6 = checkout.cat
  }
  outputs = [lo: float, hi: float]
}

deployment pairs {
  model = pair@latest
}

deployment rank {
  model = ranker@latest

  batching {
    max_batch = 64
    max_delay = 20ms
  }
}

deployment rank_bucketed {
  model = bucketed@latest
}

deployment ids {
  model = exact@latest
}
";

/// The models, seeded, saved with TorchScript: `ranker` (an embedding of 6 ids beside a
/// linear layer over 4 floats, softmax over 3; the first float lifts class 1 so that its
/// probability crosses 0.5 on some rows and not others), `flipped` its classes reversed,
/// `exact` the id minus 2^40 as a float, and tuples for `duo`.
const MODELS: &str = r#"
import sys, torch
from typing import Tuple
torch.manual_seed(7)
class Ranker(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(4, 3)
        self.emb = torch.nn.Embedding(6, 3)
        self.lift = torch.nn.Parameter(torch.tensor([[0.0, 3.0, 0.0]]))
    def forward(self, x: torch.Tensor, cat: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.lin(x) * 0.05 + self.emb(cat) + x[:, 0:1] * self.lift, dim=1)
class Flipped(torch.nn.Module):
    def __init__(self, r: Ranker):
        super().__init__()
        self.r = r
    def forward(self, x: torch.Tensor, cat: torch.Tensor) -> torch.Tensor:
        return self.r(x, cat).flip(1)
class Duo(torch.nn.Module):
    def forward(self, x: torch.Tensor, cat: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        return x * 2.0, x[:, 0] + cat.to(torch.float32)
class Swapped(torch.nn.Module):
    def forward(self, x: torch.Tensor, cat: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        return x[:, 0], x * 2.0
class Exact(torch.nn.Module):
    def forward(self, x: torch.Tensor, id: torch.Tensor) -> torch.Tensor:
        return (id - 1099511627776).to(torch.float32) + x[:, 0] * 0.0
class OneTensor(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.sum(dim=1)
class FloatIds(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.ones(1, 1))
    def forward(self, x: torch.Tensor, cat: torch.Tensor) -> torch.Tensor:
        return torch.matmul(cat.unsqueeze(1), self.w).squeeze(1) + x.sum(dim=1)
class Pair(torch.nn.Module):
    def forward(self, x: torch.Tensor, cat: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        return x[:, 0] + cat.to(torch.float32), x[:, 1] * 2.0
class Triple(torch.nn.Module):
    def forward(self, x: torch.Tensor, cat: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        return x[:, 0], x
out = sys.argv[1]
torch.jit.save(torch.jit.script(Pair()), f"{out}/pair.pt")
torch.jit.save(torch.jit.script(Triple()), f"{out}/triple.pt")
ranker = Ranker()
torch.jit.save(torch.jit.script(ranker), f"{out}/ranker.pt")
torch.jit.save(torch.jit.script(Flipped(ranker)), f"{out}/flipped.pt")
torch.jit.save(torch.jit.script(Duo()), f"{out}/duo.pt")
torch.jit.save(torch.jit.script(Swapped()), f"{out}/swapped.pt")
torch.jit.save(torch.jit.script(Exact()), f"{out}/exact.pt")
torch.jit.save(torch.jit.script(OneTensor()), f"{out}/one_tensor.pt")
torch.jit.save(torch.jit.script(FloatIds()), f"{out}/float_ids.pt")
"#;

/// PyTorch's answers for the rows in argv[2] (JSON `{"x": [[..]], "cat": [..]}`).
const REFERENCE: &str = r#"
import json, sys, torch
m = torch.jit.load(sys.argv[1])
rows = json.loads(sys.argv[2])
x = torch.tensor(rows["x"], dtype=torch.float32).reshape(-1, 4)
cat = torch.tensor(rows["cat"], dtype=torch.int64)
with torch.no_grad():
    print(json.dumps(m(x, cat).tolist()))
"#;

fn python(args: &[&str]) -> String {
    let out = Command::new(venv().join("bin/python"))
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `n` seeded rows: four floats (one an int, one a bool) and an id in 0..6.
fn rows(n: usize, seed: u64) -> (Vec<[f64; 4]>, Vec<i64>) {
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let mut next = || {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (s >> 33) as f64 / (1u64 << 31) as f64
    };
    let mut x = Vec::with_capacity(n);
    let mut cat = Vec::with_capacity(n);
    for _ in 0..n {
        let a = next() * 4.0 - 2.0;
        let b = next() * 100.0;
        let c = (next() * 20.0).floor();
        let d = if next() > 0.5 { 1.0 } else { 0.0 };
        x.push([a, b, c, d]);
        cat.push((next() * 6.0).floor() as i64);
    }
    (x, cat)
}

/// PyTorch's outputs of artifact `pt` for `rows`: a row of 3 probabilities each.
fn reference(pt: &Path, x: &[[f64; 4]], cat: &[i64]) -> Vec<Vec<f64>> {
    let input = json!({"x": x, "cat": cat}).to_string();
    let out = python(&["-c", REFERENCE, &pt.display().to_string(), &input]);
    serde_json::from_str::<Vec<Vec<f64>>>(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"))
}

/// Rows of `got` equal `want`'s, element by element, within tolerance.
fn same_rows(got: &[Vec<f64>], want: &[Vec<f64>], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: rows");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert_eq!(g.len(), w.len(), "{what}, row {i}: {g:?} vs PyTorch {w:?}");
        for (a, b) in g.iter().zip(w) {
            assert!(close(*a, *b), "{what}, row {i}: {g:?} vs PyTorch {w:?}");
        }
    }
}

/// Output `name` of a `/v1` answer as rows of vectors.
fn vectors(answer: &Value, name: &str) -> Vec<Vec<f64>> {
    answer["outputs"][name]
        .as_array()
        .unwrap_or_else(|| panic!("{answer}"))
        .iter()
        .map(|row| {
            row.as_array()
                .unwrap_or_else(|| panic!("{name}: not a list per row: {answer}"))
                .iter()
                .map(|v| v.as_f64().unwrap_or(f64::NAN))
                .collect()
        })
        .collect()
}

fn close(got: f64, want: f64) -> bool {
    (got - want).abs() <= 1e-6 + 1e-5 * want.abs()
}

fn predict_body(x: &[[f64; 4]], cat: &[i64]) -> Value {
    json!({"request": {
        "a": x.iter().map(|r| r[0]).collect::<Vec<_>>(),
        "b": x.iter().map(|r| r[1]).collect::<Vec<_>>(),
        "c": x.iter().map(|r| r[2] as i64).collect::<Vec<_>>(),
        "d": x.iter().map(|r| r[3] == 1.0).collect::<Vec<_>>(),
        "cat": cat,
    }})
}

fn scores(answer: &Value, name: &str) -> Vec<f64> {
    answer["outputs"][name]
        .as_array()
        .unwrap_or_else(|| panic!("{answer}"))
        .iter()
        .map(|v| v.as_f64().unwrap_or(f64::NAN))
        .collect()
}

fn register(p: &Path, model: &str, file: &str) -> std::process::Output {
    Command::new(mlpc_bin())
        .args(["registry", "register", ".", model, "--artifact", file])
        .current_dir(p)
        .env("MLP_VENV", venv())
        .output()
        .unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn typed_tensors_serve_pytorchs_answers_and_ids_are_checked_before_the_model() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let p = dir.path();
    std::fs::write(p.join("typed.mlp"), SPEC).unwrap_or_else(|e| panic!("{e}"));
    // TorchScript reads the classes' source, so the script is a file.
    std::fs::write(p.join("models.py"), MODELS).unwrap_or_else(|e| panic!("{e}"));
    python(&[
        &p.join("models.py").display().to_string(),
        &p.display().to_string(),
    ]);
    mlpc(&["check", "."], p);
    mlpc(&["apply", ".", "--auto-approve"], p);

    signatures_are_checked_and_recorded(p);
    let server = serve(p);
    let url = |path: &str| format!("{}{path}", server.base);
    let pt = p.join("ranker.pt");
    answers_are_pytorchs(&url, &pt);
    ids_are_checked_and_exact(&url, &pt);
    scores_are_pytorchs(p, &pt);
    routes_and_tuples_answer(&url, &pt);
    the_log_keeps_a_list_per_row(server, p);
}

/// Artifacts whose `forward` disagrees with their block are refused with both signatures;
/// the others register, and the registry records their tensors and outputs.
fn signatures_are_checked_and_recorded(p: &Path) {
    // Artifacts whose forward disagrees with the block: refused, with both signatures.
    for (file, why) in [
        (
            "one_tensor.pt",
            "it takes 1 tensors, the model block gives 2",
        ),
        (
            "float_ids.pt",
            "it fails on a batch of the declared tensors",
        ),
    ] {
        let out = register(p, "ranker", file);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{file} was registered");
        assert!(err.contains(why), "{file}: {err}");
        assert!(
            err.contains("the block declares forward(x: float32[batch, 4], cat: int64[batch]) -> (probs: float32[3])"),
            "{file}: {err}"
        );
        assert!(err.contains("the artifact has forward("), "{file}: {err}");
    }
    // A tuple whose elements give more columns than the block's outputs: refused.
    let out = register(p, "pair", "triple.pt");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "triple.pt was registered");
    assert!(
        err.contains("3 values per row, not 2 (the block's outputs)"),
        "{err}"
    );
    // A tuple whose elements have the right total but not the outputs' widths, in order.
    let out = register(p, "duo", "swapped.pt");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "swapped.pt was registered");
    assert!(
        err.contains("its tuple gives 1 values per row where output `head` takes 2"),
        "{err}"
    );
    assert!(err.contains("-> (head: float32[2], s: float)"), "{err}");
    for (model, file) in [
        ("ranker", "ranker.pt"),
        ("bucketed", "ranker.pt"),
        ("flipped", "flipped.pt"),
        ("duo", "duo.pt"),
        ("exact", "exact.pt"),
        ("pair", "pair.pt"),
    ] {
        let out = register(p, model, file);
        assert!(
            out.status.success(),
            "{model}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // The registry records the tensors.
    let shown = Command::new(mlpc_bin())
        .args(["registry", "show", ".", "ranker@1", "--format", "json"])
        .current_dir(p)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let shown: Value = serde_json::from_slice(&shown.stdout).unwrap_or(Value::Null);
    assert_eq!(
        shown["signature"]["tensors"],
        json!([["x", "float32[batch, 4]"], ["cat", "int64[batch]"]]),
        "{shown}"
    );
    assert_eq!(
        shown["signature"]["outputs"],
        json!([["probs", "float32[3]"], ["p_fraud", "float"]]),
        "{shown}"
    );
}

/// `/v1` predict, `/v2` infer and the model's metadata answer PyTorch's outputs for 1, 4,
/// 17 and 0 rows, and for 1-row and 17-row callers batched together.
fn answers_are_pytorchs(url: &dyn Fn(&str) -> String, pt: &Path) {
    for n in [1, 4, 17, 0] {
        let (x, cat) = rows(n, n as u64);
        let want = reference(pt, &x, &cat);
        assert_eq!(want.len(), n);
        let (status, answer) = call(
            "POST",
            &url("/v1/deployments/rank/predict"),
            Some(predict_body(&x, &cat)),
        );
        assert_eq!(status, 200, "{answer}");
        same_rows(
            &vectors(&answer, "probs"),
            &want,
            &format!("predict, {n} rows"),
        );
        // The derived output is element 1 of each row.
        let p_fraud: Vec<Vec<f64>> = scores(&answer, "p_fraud")
            .into_iter()
            .map(|p| vec![p])
            .collect();
        let want_p: Vec<Vec<f64>> = want.iter().map(|r| vec![r[1]]).collect();
        same_rows(&p_fraud, &want_p, &format!("p_fraud, {n} rows"));
        // The Open Inference Protocol, one input per tensor: INT64 ids as they are.
        let flat: Vec<f64> = x.iter().flatten().copied().collect();
        let (status, answer) = call(
            "POST",
            &url("/v2/models/rank/infer"),
            Some(json!({"inputs": [
                {"name": "x", "shape": [n, 4], "datatype": "FP32", "data": flat},
                {"name": "cat", "shape": [n], "datatype": "INT64", "data": cat},
            ]})),
        );
        assert_eq!(status, 200, "{answer}");
        let probs = &answer["outputs"][0];
        assert_eq!(probs["name"], "probs", "{answer}");
        assert_eq!(probs["shape"], json!([n, 3]), "{answer}");
        assert_eq!(answer["outputs"][1]["shape"], json!([n]), "{answer}");
        let data: Vec<f64> = probs["data"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|v| v.as_f64().unwrap_or(f64::NAN))
            .collect();
        let rows3: Vec<Vec<f64>> = data.chunks(3).map(<[f64]>::to_vec).collect();
        same_rows(&rows3, &want, &format!("infer, {n} rows"));
    }
    // The model's metadata: typed input tensors and the vector's shape.
    let (status, meta) = call("GET", &url("/v2/models/rank"), None);
    assert_eq!(status, 200, "{meta}");
    assert_eq!(
        meta["inputs"],
        json!([
            {"name": "x", "datatype": "FP32", "shape": [-1, 4]},
            {"name": "cat", "datatype": "INT64", "shape": [-1]},
        ]),
        "{meta}"
    );
    assert_eq!(
        meta["outputs"],
        json!([
            {"name": "probs", "datatype": "FP32", "shape": [-1, 3]},
            {"name": "p_fraud", "datatype": "FP32", "shape": [-1]},
        ]),
        "{meta}"
    );

    // 1-row and 17-row requests at once, batched together (20 ms window): each caller gets
    // its own rows.
    let callers: Vec<_> = (0..8)
        .map(|k| {
            let n = if k % 2 == 0 { 1 } else { 17 };
            let target = url("/v1/deployments/rank/predict");
            std::thread::spawn(move || {
                let (x, cat) = rows(n, 100 + k);
                let (status, answer) = call("POST", &target, Some(predict_body(&x, &cat)));
                (x, cat, status, answer)
            })
        })
        .collect();
    for c in callers {
        let (x, cat, status, answer) = c.join().unwrap_or_else(|_| panic!("a caller panicked"));
        assert_eq!(status, 200, "{answer}");
        let want = reference(pt, &x, &cat);
        same_rows(&vectors(&answer, "probs"), &want, "mixed batch");
    }
}

/// Ids outside their range answer 400 and the server keeps answering; a negative id maps to
/// the declared bucket; 2^40 + 1 reaches the model exactly; a tuple's elements are outputs.
fn ids_are_checked_and_exact(url: &dyn Fn(&str) -> String, pt: &Path) {
    // Ids outside 0..6: 400 naming the tensor, the input and the row; the model never sees
    // them, and the server keeps answering.
    let (x, mut cat) = rows(4, 9);
    cat[2] = 6;
    let (status, answer) = call(
        "POST",
        &url("/v1/deployments/rank/predict"),
        Some(predict_body(&x, &cat)),
    );
    assert_eq!(status, 400, "{answer}");
    let e = answer["error"].as_str().unwrap_or_default();
    assert!(
        e.contains("input tensor `cat`, input `checkout.cat`, row 2: id 6 is outside 0..6"),
        "{e}"
    );
    cat[2] = -1;
    let (status, answer) = call(
        "POST",
        &url("/v1/deployments/rank/predict"),
        Some(predict_body(&x, &cat)),
    );
    assert_eq!(status, 400, "{answer}");
    assert!(answer["error"]
        .as_str()
        .unwrap_or_default()
        .contains("id -1 is negative"));
    let (status, answer) = call(
        "POST",
        &url("/v2/models/rank/infer"),
        Some(json!({"inputs": [
            {"name": "x", "shape": [1, 4], "datatype": "FP32", "data": [0.0, 1.0, 2.0, 0.0]},
            {"name": "cat", "shape": [1], "datatype": "INT64", "data": [1_000_000]},
        ]})),
    );
    assert_eq!(status, 400, "{answer}");
    // With `else 0`, the negative id is bucket 0.
    let (status, answer) = call(
        "POST",
        &url("/v1/deployments/rank_bucketed/predict"),
        Some(predict_body(&x, &cat)),
    );
    assert_eq!(status, 200, "{answer}");
    let mut bucketed = cat.clone();
    bucketed[2] = 0;
    let want = reference(pt, &x, &bucketed);
    same_rows(&vectors(&answer, "probs"), &want, "bucketed");
    let (x, cat) = rows(3, 11);
    let (status, answer) = call(
        "POST",
        &url("/v1/deployments/rank/predict"),
        Some(predict_body(&x, &cat)),
    );
    assert_eq!(status, 200, "after the refusals: {answer}");

    // 2^40 + 1 reaches the model exactly (as float32 it would be 2^40: a delta of 0).
    let big = (1i64 << 40) + 1;
    let (status, answer) = call(
        "POST",
        &url("/v1/deployments/ids/predict"),
        Some(
            json!({"request": {"a": [0.5, 0.5], "b": [0, 0], "c": [0, 0], "d": [false, false], "cat": [big, big + 2]}}),
        ),
    );
    assert_eq!(status, 200, "{answer}");
    assert_eq!(scores(&answer, "delta"), vec![1.0, 3.0]);

    // A model that returns a tuple: its elements are the outputs, in order.
    let (status, answer) = call(
        "POST",
        &url("/v1/deployments/pairs/predict"),
        Some(
            json!({"request": {"a": [0.5, -1.0], "b": [3.0, 4.5], "c": [0, 0], "d": [false, true], "cat": [2, 5]}}),
        ),
    );
    assert_eq!(status, 200, "{answer}");
    assert_eq!(scores(&answer, "lo"), vec![2.5, 4.0]);
    assert_eq!(scores(&answer, "hi"), vec![6.0, 9.0]);
}

/// `mlpc score` writes PyTorch's answers from a file, for 1, 4, 17 and 0 rows: `probs` a
/// list column of 3 floats, `p_fraud` a double.
fn scores_are_pytorchs(p: &Path, pt: &Path) {
    // Batch scoring: the same answers, from a file, for 1, 4, 17 and 0 rows.
    let conn = duckdb::Connection::open_in_memory().unwrap_or_else(|e| panic!("{e}"));
    for n in [1, 4, 17, 0] {
        let (x, cat) = rows(n, 5 + n as u64);
        let mut values: Vec<String> = x
            .iter()
            .zip(&cat)
            .map(|(r, c)| {
                format!(
                    "({}, {}, {}, {}, {c}, TIMESTAMP '2026-01-01')",
                    r[0],
                    r[1],
                    r[2] as i64,
                    r[3] == 1.0
                )
            })
            .collect();
        // No rows: a typed row that the filter drops.
        let keep = if n == 0 { "false" } else { "true" };
        if n == 0 {
            values.push("(0.0, 0.0, 0, false, 0, TIMESTAMP '2026-01-01')".into());
        }
        let file = format!("rows{n}.parquet");
        conn.execute_batch(&format!(
            "COPY (SELECT * FROM (VALUES {}) v(a, b, c, d, cat, event_timestamp) WHERE {keep}) TO '{}' (FORMAT parquet)",
            values.join(", "),
            p.join(&file).display()
        ))
        .unwrap_or_else(|e| panic!("{e}"));
        let out = format!("scored{n}.parquet");
        mlpc(
            &["score", ".", "rank", "--entities", &file, "--out", &out],
            p,
        );
        // `probs` is a Parquet list column of 3 floats a row; `p_fraud` a double.
        let mut stmt = conn
            .prepare(&format!(
                "SELECT typeof(probs) || ' of ' || len(probs), probs[1]::DOUBLE, probs[2]::DOUBLE, probs[3]::DOUBLE, p_fraud \
                 FROM read_parquet('{}')",
                p.join(&out).display()
            ))
            .unwrap_or_else(|e| panic!("{e}"));
        let got: Vec<(String, Vec<f64>, f64)> = stmt
            .query_map([], |r| {
                Ok((r.get(0)?, vec![r.get(1)?, r.get(2)?, r.get(3)?], r.get(4)?))
            })
            .and_then(|r| r.collect())
            .unwrap_or_else(|e| panic!("{e}"));
        let want = reference(pt, &x, &cat);
        assert!(got.iter().all(|(t, _, _)| t == "FLOAT[] of 3"), "{got:?}");
        let probs: Vec<Vec<f64>> = got.iter().map(|(_, v, _)| v.clone()).collect();
        same_rows(&probs, &want, &format!("score, {n} rows"));
        for ((_, v, p), w) in got.iter().zip(&want) {
            assert!(
                close(*p, w[1]) && close(*p, v[1]),
                "score p_fraud: {p} vs {w:?}"
            );
        }
    }
}

/// A route on `probs[1] > 0.5`, and a tuple of a vector and a scalar.
fn routes_and_tuples_answer(url: &dyn Fn(&str) -> String, pt: &Path) {
    // A route on `probs[1] > 0.5`: rows above go to `flipped` (the classes reversed), the
    // others keep the router's answer. The rows cross 0.5 both ways.
    let (x, cat) = rows(40, 21);
    let (status, answer) = call(
        "POST",
        &url("/v1/deployments/routed/predict"),
        Some(predict_body(&x, &cat)),
    );
    assert_eq!(status, 200, "{answer}");
    let router = reference(pt, &x, &cat);
    let want: Vec<Vec<f64>> = router
        .iter()
        .map(|r| {
            if r[1] > 0.5 {
                r.iter().rev().copied().collect()
            } else {
                r.clone()
            }
        })
        .collect();
    let above = router.iter().filter(|r| r[1] > 0.5).count();
    assert!(
        above > 0 && above < router.len(),
        "{above} of {} rows above 0.5",
        router.len()
    );
    // Rows within float error of 0.5 could go either way: leave them out.
    let clear: Vec<usize> = (0..router.len())
        .filter(|&i| (router[i][1] - 0.5).abs() > 1e-4)
        .collect();
    let got = vectors(&answer, "probs");
    same_rows(
        &clear.iter().map(|&i| got[i].clone()).collect::<Vec<_>>(),
        &clear.iter().map(|&i| want[i].clone()).collect::<Vec<_>>(),
        "routed",
    );

    // A tuple's elements map to the outputs in order: a [n, 2] vector, then a [n] scalar.
    let (status, answer) = call(
        "POST",
        &url("/v1/deployments/duos/predict"),
        Some(
            json!({"request": {"a": [0.5, -1.0], "b": [3.0, 4.5], "c": [0, 0], "d": [false, true], "cat": [2, 5]}}),
        ),
    );
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        vectors(&answer, "head"),
        vec![vec![1.0, 6.0], vec![-2.0, 9.0]]
    );
    assert_eq!(scores(&answer, "s"), vec![2.5, 4.0]);
}

/// The prediction log (flushed on SIGTERM) keeps a list per row for the vector.
fn the_log_keeps_a_list_per_row(mut server: Server, p: &Path) {
    let conn = duckdb::Connection::open_in_memory().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(server.terminate(), Some(0));
    let mut stmt = conn
        .prepare(&format!(
            "SELECT CAST(json_extract(outputs, '$.head') AS VARCHAR) FROM read_parquet('{}/**/*.parquet') \
             WHERE deployment = 'duos' AND status = 200",
            p.join(".mlp/predictions").display()
        ))
        .unwrap_or_else(|e| panic!("{e}"));
    let logged: Vec<String> = stmt
        .query_map([], |r| r.get(0))
        .and_then(|r| r.collect())
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(logged, vec!["[[1.0,6.0],[-2.0,9.0]]".to_string()]);
}
