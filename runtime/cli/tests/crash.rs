//! Safety of `mlpc apply`: killed with SIGKILL at several points, the next apply converges
//! to the state an uninterrupted apply reaches; and two applies racing on one project never
//! interleave (the second fails clearly, or waits for the lock and then finds nothing to do).
//! Failures are injected with `MLP_FAILPOINT` (runtime/state/src/failpoint.rs).

use mlp_test_support::{project, write, SHOP as BASE};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Stdio};

/// Creates, updates and deletes at once: a new feature, a new TTL, a removed feature.
fn edited() -> String {
    BASE.replace("ttl    = 2d", "ttl    = 3d").replace(
        "  max_7d: float = max(amount) over 7d\n",
        "  min_7d: float = min(amount) over 7d\n  sum_7d: float = sum(amount) over 7d\n",
    )
}

fn mlpc(dir: &Path, args: &[&str], failpoint: Option<&str>) -> std::process::Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mlpc"));
    cmd.args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null());
    match failpoint {
        Some(f) => cmd.env("MLP_FAILPOINT", f),
        None => cmd.env_remove("MLP_FAILPOINT"),
    };
    cmd.output().unwrap_or_else(|e| panic!("mlpc: {e}"))
}

fn apply_ok(dir: &Path) {
    let out = mlpc(dir, &["apply", "proj", "--auto-approve"], None);
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// What must be equal between an interrupted-then-completed apply and an uninterrupted one:
/// the serial, every resource's kind, hash, version and spec, and the lineage edges.
type Fingerprint = (
    i64,
    Vec<(String, String, String, i64, String)>,
    Vec<(String, String, String)>,
);

fn state(dir: &Path) -> Fingerprint {
    let s = mlp_state::Catalog::read_snapshot(&dir.join("proj")).unwrap_or_else(|e| panic!("{e}"));
    let res = s
        .resources
        .values()
        .map(|r| {
            (
                r.id.clone(),
                r.kind.clone(),
                r.hash.clone(),
                r.version,
                r.spec.to_string(),
            )
        })
        .collect();
    (s.serial, res, s.edges)
}

const POINTS: [&str; 4] = [
    "apply.locked",
    "apply.components",
    "record.mid",
    "record.committed",
];

#[test]
fn killed_applies_converge_to_the_uninterrupted_state() {
    // Reference: the first apply of BASE, then the edit, without interruption.
    let reference = project(BASE);
    apply_ok(reference.path());
    let after_first = state(reference.path());
    write(reference.path(), &edited());
    apply_ok(reference.path());
    let after_edit = state(reference.path());
    assert_eq!(after_edit.0, 2);

    for point in POINTS {
        // The first apply killed, then run again.
        let dir = project(BASE);
        let out = mlpc(
            dir.path(),
            &["apply", "proj", "--auto-approve"],
            Some(&format!("{point}=kill")),
        );
        assert!(
            matches!(out.status.signal(), Some(9 | 6)),
            "{point}: not killed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        apply_ok(dir.path());
        assert_eq!(
            state(dir.path()),
            after_first,
            "first apply killed at {point}"
        );
        // An apply of the edit killed, then run again.
        write(dir.path(), &edited());
        let out = mlpc(
            dir.path(),
            &["apply", "proj", "--auto-approve"],
            Some(&format!("{point}=kill")),
        );
        assert!(
            matches!(out.status.signal(), Some(9 | 6)),
            "{point}: not killed"
        );
        apply_ok(dir.path());
        assert_eq!(state(dir.path()), after_edit, "edit killed at {point}");
        let plan = mlpc(dir.path(), &["plan", "proj", "--detailed-exitcode"], None);
        assert_eq!(
            plan.status.code(),
            Some(0),
            "{point}: changes left after recovery"
        );
    }
}

#[test]
fn two_applies_never_interleave() {
    let dir = project(BASE);
    // A takes the lock and pauses there, holding it.
    let mut a = Command::new(env!("CARGO_BIN_EXE_mlpc"))
        .args(["apply", "proj", "--auto-approve"])
        .current_dir(dir.path())
        .env("MLP_FAILPOINT", "apply.locked=pause")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    let mut stderr = BufReader::new(a.stderr.take().unwrap_or_else(|| panic!("no stderr")));
    let mut line = String::new();
    while !line.contains("paused at apply.locked") {
        line.clear();
        if stderr.read_line(&mut line).unwrap_or(0) == 0 {
            panic!("A ended before taking the lock");
        }
    }
    // B does not wait: it fails at once with a clear message and changes nothing.
    let b = mlpc(dir.path(), &["apply", "proj", "--auto-approve"], None);
    assert_eq!(b.status.code(), Some(1));
    let err = String::from_utf8_lossy(&b.stderr);
    assert!(err.contains("another `mlpc apply` is running"), "{err}");
    // A plan meanwhile says why it cannot read the state (DuckDB has one writer).
    let p = mlpc(dir.path(), &["plan", "proj"], None);
    assert_eq!(p.status.code(), Some(1));
    let err = String::from_utf8_lossy(&p.stderr);
    assert!(err.contains("an `mlpc apply` is running"), "{err}");
    // C waits for the lock; A is released; A applies, then C finds nothing to do.
    let c = Command::new(env!("CARGO_BIN_EXE_mlpc"))
        .args(["apply", "proj", "--auto-approve", "--lock-timeout", "60s"])
        .current_dir(dir.path())
        .env_remove("MLP_FAILPOINT")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    if let Some(mut stdin) = a.stdin.take() {
        let _ = stdin.write_all(b"\n");
    }
    let a = a.wait().unwrap_or_else(|e| panic!("{e}"));
    assert!(a.success(), "A failed");
    let c = c.wait_with_output().unwrap_or_else(|e| panic!("{e}"));
    assert!(
        c.status.success(),
        "C failed: {}",
        String::from_utf8_lossy(&c.stderr)
    );
    assert!(
        String::from_utf8_lossy(&c.stdout).contains("No changes"),
        "{}",
        String::from_utf8_lossy(&c.stdout)
    );
    assert_eq!(state(dir.path()).0, 1, "exactly one apply recorded");
}
