//! `mlpc registry` end to end: register, the same artifact twice, aliases moved by number and
//! by reference, show, list, search by tag, and the refusals a user can run into.

use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};

/// mlpc without a Python venv: the stand-in artifacts below are TorchScript archives in
/// layout only, which PyTorch would refuse to load.
fn mlpc(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mlpc"))
        .args(args)
        .current_dir(dir)
        .env("MLP_VENV", dir.join("no-venv"))
        .output()
        .unwrap_or_else(|e| panic!("{e}"))
}

/// The venv with torch that scripts/bootstrap.sh makes.
fn venv() -> std::path::PathBuf {
    std::env::var_os("MLP_VENV")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| mlp_test_support::root().join(".venv"))
}

#[test]
fn a_model_that_does_not_fit_the_model_block_is_refused() {
    let dir = mlp_test_support::project(mlp_test_support::SHOP);
    let p = dir.path().join("proj");
    // `scorer` declares three inputs and one output.
    let save = |inputs: usize, file: &str| {
        let code = format!(
            "import torch\ntorch.manual_seed(0)\ntorch.jit.save(torch.jit.script(torch.nn.Linear({inputs}, 1)), '{file}')"
        );
        let ok = Command::new(venv().join("bin/python"))
            .args(["-c", &code])
            .current_dir(&p)
            .status()
            .is_ok_and(|s| s.success());
        assert!(
            ok,
            "the venv at {} cannot save a TorchScript model",
            venv().display()
        );
    };
    save(4, "wide.pt");
    save(3, "fits.pt");
    let register = |file: &str| {
        Command::new(env!("CARGO_BIN_EXE_mlpc"))
            .args(["registry", "register", "scorer", "--artifact", file])
            .current_dir(&p)
            .env("MLP_VENV", venv())
            .output()
            .unwrap_or_else(|e| panic!("{e}"))
    };
    let r = register("wide.pt");
    assert_eq!(r.status.code(), Some(1));
    let e = stderr(&r);
    assert!(
        e.contains("does not fit the model block: it fails on a batch of the declared tensors")
            && e.contains("the block declares forward(x: float32[batch, 3]) -> (score: float)")
            && e.contains("the artifact has forward(input: Tensor) -> Tensor"),
        "{e}"
    );
    let r = register("fits.pt");
    assert_eq!(
        stdout(&r),
        "registered scorer version 1\n",
        "{}",
        stderr(&r)
    );
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

/// Bytes laid out as torch.jit.save lays out a module: a zip holding data.pkl and code/.
fn torchscript(tag: &str) -> Vec<u8> {
    let mut b = b"PK\x03\x04".to_vec();
    b.extend_from_slice(format!("archive/data.pkl {tag} archive/code/__torch__.py").as_bytes());
    b
}

#[test]
fn versions_aliases_and_search_from_the_command_line() {
    let dir = mlp_test_support::project(mlp_test_support::SHOP);
    let p = dir.path().join("proj");
    std::fs::write(p.join("a.pt"), torchscript("a")).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(p.join("b.pt"), torchscript("b")).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(p.join("m.json"), r#"{"auc": 0.91}"#).unwrap_or_else(|e| panic!("{e}"));

    let r = mlpc(
        &[
            "registry",
            "register",
            "scorer",
            "--artifact",
            "a.pt",
            "--metrics",
            "m.json",
            "--tag",
            "team=risk",
        ],
        &p,
    );
    assert_eq!(
        stdout(&r),
        "registered scorer version 1\n",
        "{}",
        stderr(&r)
    );
    let r = mlpc(
        &["registry", "register", ".", "scorer", "--artifact", "a.pt"],
        &p,
    );
    assert_eq!(
        stdout(&r),
        "scorer version 1 already has this artifact; nothing registered\n"
    );
    let r = mlpc(
        &[
            "registry",
            "register",
            "scorer",
            "--artifact",
            "b.pt",
            "--tag",
            "team=growth",
        ],
        &p,
    );
    assert_eq!(stdout(&r), "registered scorer version 2\n");

    let r = mlpc(&["registry", "alias", "scorer", "1", "production"], &p);
    assert_eq!(stdout(&r), "scorer@production: version 1\n");
    let r = mlpc(
        &["registry", "alias", ".", "scorer", "latest", "production"],
        &p,
    );
    assert_eq!(stdout(&r), "scorer@production: version 1 -> 2\n");
    let r = mlpc(&["registry", "alias", "scorer", "2", "production"], &p);
    assert_eq!(stdout(&r), "scorer@production already is version 2\n");

    let r = mlpc(
        &["registry", "show", "scorer@production", "--format", "json"],
        &p,
    );
    let v: Value =
        serde_json::from_str(&stdout(&r)).unwrap_or_else(|e| panic!("{e}: {}", stdout(&r)));
    assert_eq!(v["version"], 2);
    assert_eq!(v["aliases"], serde_json::json!(["production"]));
    assert_eq!(v["signature"]["inputs"][0][0], "stats.avg_7d");
    let r = mlpc(&["registry", "show", "scorer@1"], &p);
    let text = stdout(&r);
    assert!(text.starts_with("scorer version 1\n"), "{text}");
    assert!(text.contains("metric        auc = 0.91"), "{text}");
    assert!(text.contains("tag           team = risk"), "{text}");

    let r = mlpc(&["registry", "list"], &p);
    insta::assert_snapshot!(stdout(&r), @r"
    MODEL                VERSIONS  LATEST  aliases
    scorer                      2       2  production=2
    ");
    let r = mlpc(&["registry", "list", "scorer", "--format", "json"], &p);
    let list: Value = serde_json::from_str(&stdout(&r)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(list.as_array().map(Vec::len), Some(2));
    let r = mlpc(
        &[
            "registry",
            "search",
            "--tag",
            "team=risk",
            "--format",
            "json",
        ],
        &p,
    );
    let found: Value = serde_json::from_str(&stdout(&r)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        found
            .as_array()
            .map(|a| a.iter().map(|v| v["version"].clone()).collect::<Vec<_>>()),
        Some(vec![Value::from(1)])
    );
}

#[test]
fn registry_mistakes_get_clear_errors_and_change_nothing() {
    let dir = mlp_test_support::project(mlp_test_support::SHOP);
    let p = dir.path().join("proj");
    std::fs::write(p.join("a.pt"), torchscript("a")).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(p.join("not.pt"), b"just bytes").unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(p.join("bad.json"), r#"{"auc": "high"}"#).unwrap_or_else(|e| panic!("{e}"));
    let fails = |args: &[&str], expect: &str| {
        let r = mlpc(args, &p);
        assert_eq!(r.status.code(), Some(1), "{args:?}: {}", stdout(&r));
        assert!(stderr(&r).contains(expect), "{args:?}: {}", stderr(&r));
    };
    fails(
        &["registry", "register", "nope", "--artifact", "a.pt"],
        "the project declares no model `nope`",
    );
    fails(
        &["registry", "register", "scorer", "--artifact", "not.pt"],
        "is not a TorchScript archive",
    );
    fails(
        &["registry", "register", "scorer", "--artifact", "missing.pt"],
        "missing.pt",
    );
    fails(
        &[
            "registry",
            "register",
            "scorer",
            "--artifact",
            "a.pt",
            "--metrics",
            "bad.json",
        ],
        "metric `auc` must be a number",
    );
    fails(
        &["registry", "show", "scorer"],
        "model `scorer` has no registered version",
    );
    let ok = mlpc(
        &["registry", "register", "scorer", "--artifact", "a.pt"],
        &p,
    );
    assert_eq!(ok.status.code(), Some(0), "{}", stderr(&ok));
    fails(
        &["registry", "alias", "scorer", "1", "latest"],
        "`latest` always means the highest version",
    );
    fails(
        &["registry", "alias", "scorer", "7", "production"],
        "no version or alias `7` (it has versions 1 to 1, latest)",
    );
    fails(
        &["registry", "show", "scorer@staging"],
        "no version or alias `staging`",
    );
    fails(
        &["registry", "search", "--tag", "team"],
        "--tag team: write KEY=VALUE",
    );
    // Nothing of the refused operations was recorded.
    let r = mlpc(&["registry", "list", "scorer", "--format", "json"], &p);
    let list: Value = serde_json::from_str(&stdout(&r)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(list.as_array().map(Vec::len), Some(1));
    assert_eq!(list[0]["aliases"], serde_json::json!([]));
}
