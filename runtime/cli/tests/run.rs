//! `mlpc run`, `runs` and `logs` end to end: a diamond DAG with a retried flaky step, failing
//! and timed-out steps, the cache and what it says about re-runs, and runs stopped by SIGINT
//! and SIGKILL that leave no half-written artifact behind and resume from the cache.

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const PIPELINES: &str = r#"project pt {
  lineage = file("lineage.jsonl")
}

pipeline diamond {
  retry_delay = 50ms

  n: int = 3

  step a {
    run  = "sh a.sh ${params.n} > ${out}/a.txt"
    code = ["a.sh"]
  }

  step b {
    after = [a]
    run   = "cat ${a.output}/a.txt > ${out}/b.txt && echo b >> ${out}/b.txt"
  }

  step c {
    after = [a]
    run   = "tr a-z A-Z < ${a.output}/a.txt > ${out}/c.txt"
  }

  step d {
    after = [b, c]
    run   = "cat ${b.output}/b.txt ${c.output}/c.txt > ${out}/d.txt"
  }

  step flaky {
    retries = 2
    run     = "echo attempt; test -f flaky.once || { touch flaky.once; echo not yet >&2; exit 3; }; echo ok > ${out}/f.txt"
  }
}

pipeline troubles {
  step fine {
    run = "echo fine > ${out}/fine.txt"
  }

  step slow {
    timeout = 1s
    run     = "echo $$ > slow.pid; exec sleep 60"
  }

  step broken {
    run = "echo oops >&2; exit 7"
  }

  step after_broken {
    after = [broken]
    run   = "echo never > ${out}/x.txt"
  }
}

pipeline stoppable {
  wait: int = 60

  step first {
    run = "echo first > ${out}/first.txt"
  }

  step long {
    after = [first]
    run   = "echo partial > ${out}/part.txt; echo $$ > long.pid; echo started; exec sleep ${params.wait}"
  }
}
"#;

fn mlpc() -> Command {
    Command::new(env!("CARGO_BIN_EXE_mlpc"))
}

fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(dir.path().join("p.mlp"), PIPELINES).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(dir.path().join("a.sh"), "echo a-$1\n").unwrap_or_else(|e| panic!("{e}"));
    dir
}

/// Runs a pipeline with `--format json`; returns the exit code and the run record.
fn run(dir: &Path, pipeline: &str, extra: &[&str]) -> (i32, Value) {
    let out = mlpc()
        .arg("run")
        .arg(dir)
        .arg(pipeline)
        .args(["--format", "json"])
        .args(extra)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let text = String::from_utf8_lossy(&out.stdout);
    let record = serde_json::from_str(&text).unwrap_or_else(|e| {
        panic!(
            "{e}: stdout {text}\nstderr {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap_or(-1), record)
}

/// `step -> (status, reason)` of a run record.
fn steps(record: &Value) -> Vec<(String, String, String)> {
    record["steps"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|s| {
                    (
                        s["step"].as_str().unwrap_or_default().to_string(),
                        s["status"].as_str().unwrap_or_default().to_string(),
                        s["reason"].as_str().unwrap_or_default().to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn step<'a>(record: &'a Value, name: &str) -> &'a Value {
    record["steps"]
        .as_array()
        .and_then(|a| a.iter().find(|s| s["step"] == name))
        .unwrap_or_else(|| panic!("no step {name} in {record}"))
}

fn statuses(record: &Value) -> Vec<(String, String)> {
    steps(record)
        .into_iter()
        .map(|(s, st, _)| (s, st))
        .collect()
}

fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
    p.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

fn output_file(dir: &Path, record: &Value, name: &str, file: &str) -> String {
    let hash = step(record, name)["output"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    std::fs::read_to_string(dir.join(".mlp/store").join(hash).join(file)).unwrap_or_default()
}

/// Every output in the store is complete: its content hashes to its name.
fn assert_store_is_whole(dir: &Path) -> Vec<PathBuf> {
    let store = dir.join(".mlp/store");
    let mut entries = Vec::new();
    let rd = std::fs::read_dir(&store).unwrap_or_else(|e| panic!("{}: {e}", store.display()));
    for e in rd {
        let e = e.unwrap_or_else(|e| panic!("{}: {e}", store.display()));
        let name = e.file_name().to_string_lossy().to_string();
        let hash = mlp_pipelines::store::tree_hash(&e.path())
            .unwrap_or_else(|err| panic!("store entry {name}: {err}"));
        assert_eq!(hash, name, "store entry {name} does not hash to its name");
        entries.push(e.path());
    }
    entries
}

#[test]
fn a_diamond_runs_once_then_comes_from_the_cache_and_reruns_exactly_what_changed() {
    let dir = project();
    let p = dir.path();
    let first = the_diamond_runs_and_the_flaky_step_passes_on_its_retry(p);
    each_step_is_a_lineage_job_whose_parent_is_the_run(p, &first);
    nothing_changed_so_nothing_runs(p, &first);
    a_changed_code_file_reruns_its_step_and_what_follows(p);
    let fourth = a_parameter_only_reaches_the_steps_that_use_it(p);
    let forced = from_and_force_rerun_what_they_name(p);

    // Two runs on the same inputs give the same artifacts.
    assert_eq!(step(&forced, "d")["output"], step(&fourth, "d")["output"]);
    assert!(!assert_store_is_whole(p).is_empty(), "the store is empty");

    the_history_lists_every_run_newest_first(p, &first, &forced);
}

/// The first run runs every step; the flaky step failed once, then passed on its retry, and
/// its log says so. Returns the run record.
fn the_diamond_runs_and_the_flaky_step_passes_on_its_retry(p: &Path) -> Value {
    let (code, first) = run(p, "diamond", &[]);
    assert_eq!(code, 0, "{first}");
    assert_eq!(first["status"], "succeeded");
    assert_eq!(
        statuses(&first),
        pairs(&[
            ("a", "succeeded"),
            ("b", "succeeded"),
            ("c", "succeeded"),
            ("d", "succeeded"),
            ("flaky", "succeeded")
        ])
    );
    // The flaky step failed once, then passed on its retry.
    assert_eq!(step(&first, "flaky")["attempts"], 2);
    assert_eq!(output_file(p, &first, "d", "d.txt"), "a-3\nb\nA-3\n");
    let log = mlpc()
        .args(["logs"])
        .arg(p)
        .arg(first["run_id"].as_str().unwrap_or_default())
        .arg("flaky")
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let log = String::from_utf8_lossy(&log.stdout);
    assert!(
        log.contains("attempt 1 of 3") && log.contains("not yet") && log.contains("attempt 2 of 3"),
        "{log}"
    );
    assert!(
        log.contains("attempt 1 failed (the command exited with code 3); retrying in 50ms"),
        "{log}"
    );
    first
}

/// OpenLineage: the run, then each step as a job whose parent is the run.
fn each_step_is_a_lineage_job_whose_parent_is_the_run(p: &Path, first: &Value) {
    let events: Vec<Value> = std::fs::read_to_string(p.join("lineage.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let kinds: Vec<(String, String)> = events
        .iter()
        .map(|e| {
            (
                e["eventType"].as_str().unwrap_or_default().to_string(),
                e["job"]["name"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    assert_eq!(kinds.len(), 7, "{kinds:?}");
    assert_eq!(
        kinds[0],
        ("START".to_string(), "pipeline.diamond".to_string())
    );
    assert_eq!(
        kinds[6],
        ("COMPLETE".to_string(), "pipeline.diamond".to_string())
    );
    let run_uuid = events[0]["run"]["runId"].as_str().unwrap_or_default();
    assert_eq!(run_uuid.len(), 36, "{run_uuid}");
    let d = events
        .iter()
        .find(|e| e["job"]["name"] == "pipeline.diamond.d")
        .unwrap_or_else(|| panic!("no event for d"));
    assert_eq!(d["eventType"], "COMPLETE");
    assert_eq!(d["run"]["facets"]["parent"]["run"]["runId"], run_uuid);
    let inputs: Vec<&str> = d["inputs"]
        .as_array()
        .map(|a| a.iter().filter_map(|i| i["name"].as_str()).collect())
        .unwrap_or_default();
    let store = |s: &str| {
        format!(
            "store/{}",
            step(first, s)["output"].as_str().unwrap_or_default()
        )
    };
    assert_eq!(inputs, [store("b"), store("c")]);
    assert_eq!(d["outputs"][0]["name"], store("d").as_str());
}

/// Nothing changed: nothing runs.
fn nothing_changed_so_nothing_runs(p: &Path, first: &Value) {
    let (code, second) = run(p, "diamond", &[]);
    assert_eq!(code, 0);
    for (name, status, reason) in steps(&second) {
        assert_eq!(status, "cached", "{name}: {reason}");
        assert!(
            reason.contains(first["run_id"].as_str().unwrap_or("?")),
            "{reason}"
        );
    }
}

/// A changed code file re-runs its step and what follows, and says why.
fn a_changed_code_file_reruns_its_step_and_what_follows(p: &Path) {
    std::fs::write(p.join("a.sh"), "echo a2-$1\n").unwrap_or_else(|e| panic!("{e}"));
    let (_, third) = run(p, "diamond", &[]);
    let s = steps(&third);
    assert_eq!(
        s.iter()
            .map(|(n, st, _)| (n.as_str(), st.as_str()))
            .collect::<Vec<_>>(),
        [
            ("a", "succeeded"),
            ("b", "succeeded"),
            ("c", "succeeded"),
            ("d", "succeeded"),
            ("flaky", "cached")
        ]
    );
    assert_eq!(s[0].2, "ran: code file `a.sh` changed");
    assert_eq!(s[1].2, "ran: the output of step `a` changed");
    assert_eq!(
        s[3].2,
        "ran: the output of step `b` changed; the output of step `c` changed"
    );
    assert_eq!(output_file(p, &third, "d", "d.txt"), "a2-3\nb\nA2-3\n");
}

/// A parameter only reaches the steps that use it (and what they feed). Returns the run
/// record.
fn a_parameter_only_reaches_the_steps_that_use_it(p: &Path) -> Value {
    let (_, fourth) = run(p, "diamond", &["--param", "n=4"]);
    assert_eq!(step(&fourth, "a")["reason"], "ran: parameter `n` changed");
    assert_eq!(step(&fourth, "flaky")["status"], "cached");
    fourth
}

/// --from re-runs a step and what follows; --force re-runs everything. Returns the forced
/// run's record.
fn from_and_force_rerun_what_they_name(p: &Path) -> Value {
    let (_, from) = run(p, "diamond", &["--param", "n=4", "--from", "c"]);
    assert_eq!(
        statuses(&from),
        pairs(&[
            ("a", "cached"),
            ("b", "cached"),
            ("c", "succeeded"),
            ("d", "succeeded"),
            ("flaky", "cached")
        ])
    );
    assert_eq!(step(&from, "c")["reason"], "ran: --from c");
    let (_, forced) = run(p, "diamond", &["--param", "n=4", "--force"]);
    assert!(steps(&forced)
        .iter()
        .all(|(_, st, r)| st == "succeeded" && r == "ran: --force"));
    forced
}

/// The history lists every run, newest first.
fn the_history_lists_every_run_newest_first(p: &Path, first: &Value, forced: &Value) {
    let runs = mlpc()
        .args(["runs", "--format", "json"])
        .arg(p)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let runs: Value = serde_json::from_slice(&runs.stdout).unwrap_or_else(|e| panic!("{e}"));
    let ids: Vec<&str> = runs
        .as_array()
        .map(|a| a.iter().filter_map(|r| r["run_id"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(ids.len(), 6);
    assert_eq!(ids[0], forced["run_id"].as_str().unwrap_or("?"));
    assert_eq!(ids[5], first["run_id"].as_str().unwrap_or("?"));
}

#[test]
fn a_failed_step_stops_what_depends_on_it_and_the_rest_finishes() {
    let dir = project();
    let p = dir.path();
    let (code, r) = run(p, "troubles", &[]);
    assert_eq!(code, 1);
    assert_eq!(r["status"], "failed");
    assert_eq!(
        statuses(&r),
        pairs(&[
            ("fine", "succeeded"),
            ("slow", "failed"),
            ("broken", "failed"),
            ("after_broken", "skipped")
        ])
    );
    assert_eq!(step(&r, "slow")["error"], "timed out after 1s");
    assert_eq!(step(&r, "broken")["exit_code"], 7);
    assert_eq!(
        step(&r, "broken")["error"],
        "the command exited with code 7"
    );
    assert_eq!(
        step(&r, "after_broken")["reason"],
        "`broken` did not succeed"
    );
    assert!(r["error"]
        .as_str()
        .unwrap_or_default()
        .contains("`slow` (timed out after 1s)"));
    // The timed-out command was stopped, not left running.
    let pid = std::fs::read_to_string(p.join("slow.pid")).unwrap_or_default();
    assert!(!pid.trim().is_empty());
    assert!(
        !Path::new(&format!("/proc/{}", pid.trim())).exists(),
        "the timed-out step still runs"
    );
    // Its log says so; the failed step's stderr is in its log.
    let logs = mlpc()
        .args(["logs"])
        .arg(p)
        .arg("last")
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let logs = String::from_utf8_lossy(&logs.stdout);
    assert!(
        logs.contains("[slow] mlp: stopped after the time limit of 1s"),
        "{logs}"
    );
    assert!(logs.contains("[broken] oops"), "{logs}");
    assert!(
        logs.contains("[after_broken] (no log in this run; skipped: `broken` did not succeed)"),
        "{logs}"
    );
    // Only the step that succeeded left an output.
    assert_eq!(assert_store_is_whole(p).len(), 1);
}

/// Starts `stoppable`, waits until its long step has written half its output and started
/// sleeping, and hands back the running mlpc.
fn start_stoppable(p: &Path) -> (std::process::Child, String) {
    let mut child = mlpc()
        .arg("run")
        .arg(p)
        .arg("stoppable")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    let stdout = child.stdout.take().unwrap_or_else(|| panic!("no stdout"));
    let mut lines = BufReader::new(stdout).lines();
    // The step prints `started` once its partial output is written: that line is the signal.
    for line in lines.by_ref() {
        if line.unwrap_or_default().contains("[long] started") {
            break;
        }
    }
    let pid = std::fs::read_to_string(p.join("long.pid"))
        .unwrap_or_default()
        .trim()
        .to_string();
    // Keep draining so that the runner never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (child, pid)
}

fn kill(pid: u32, signal: &str) {
    let ok = Command::new("kill")
        .args([signal, &pid.to_string()])
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "kill {signal} {pid}");
}

#[test]
fn ctrl_c_cancels_the_run_stops_its_steps_and_the_next_run_resumes_from_the_cache() {
    let dir = project();
    let p = dir.path();
    let (mut child, step_pid) = start_stoppable(p);
    kill(child.id(), "-INT");
    let status = child.wait().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(status.code(), Some(130));
    assert!(
        !Path::new(&format!("/proc/{step_pid}")).exists(),
        "the step's process survived Ctrl-C"
    );
    let runs = mlpc()
        .args(["runs", "--format", "json"])
        .arg(p)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let runs: Value = serde_json::from_slice(&runs.stdout).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(runs[0]["status"], "cancelled");
    assert_eq!(
        statuses(&runs[0]),
        pairs(&[("first", "succeeded"), ("long", "cancelled")])
    );
    // Only `first` reached the store; the half-written output did not.
    assert_eq!(assert_store_is_whole(p).len(), 1);

    let (code, next) = run(p, "stoppable", &["--param", "wait=0"]);
    assert_eq!(code, 0, "{next}");
    assert_eq!(
        statuses(&next),
        pairs(&[("first", "cached"), ("long", "succeeded")])
    );
    assert_eq!(output_file(p, &next, "long", "part.txt"), "partial\n");
    // Nothing of the cancelled run is left in the temporary folders.
    let tmp = p.join(".mlp/tmp/stoppable");
    let left: Vec<_> = std::fs::read_dir(&tmp)
        .map(|rd| rd.flatten().collect())
        .unwrap_or_default();
    assert!(left.len() <= 1, "{left:?}");
}

#[test]
fn a_killed_run_is_recorded_as_interrupted_leaves_no_partial_output_and_resumes() {
    let dir = project();
    let p = dir.path();
    let (mut child, step_pid) = start_stoppable(p);
    kill(child.id(), "-KILL");
    let _ = child.wait();
    // SIGKILL gives mlpc no chance to stop the step's processes (docs/pipelines.md says so).
    if let Ok(pid) = step_pid.parse::<u32>() {
        let _ = Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status();
    }
    let runs = mlpc()
        .args(["runs", "--format", "json"])
        .arg(p)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let runs: Value = serde_json::from_slice(&runs.stdout).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(runs[0]["status"], "interrupted");
    assert_eq!(assert_store_is_whole(p).len(), 1);
    let killed = runs[0]["run_id"].as_str().unwrap_or_default().to_string();

    let (code, next) = run(p, "stoppable", &["--param", "wait=0"]);
    assert_eq!(code, 0, "{next}");
    assert_eq!(
        statuses(&next),
        pairs(&[("first", "cached"), ("long", "succeeded")])
    );
    // The killed run's leftovers are gone, and its record says how it ended.
    assert!(!p.join(".mlp/tmp/stoppable").join(&killed).exists());
    let old = mlpc()
        .args(["runs", "--format", "json"])
        .arg(p)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let old: Value = serde_json::from_slice(&old.stdout).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(old[1]["run_id"], killed.as_str());
    assert_eq!(old[1]["status"], "interrupted");
    assert_eq!(
        statuses(&old[1]),
        pairs(&[("first", "succeeded"), ("long", "interrupted")])
    );
}

#[test]
fn bad_runs_are_refused_with_a_clear_message() {
    let dir = project();
    let p = dir.path();
    let err = |args: &[&str]| {
        let out = mlpc()
            .arg("run")
            .arg(p)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        String::from_utf8_lossy(&out.stderr).to_string()
    };
    assert!(err(&["nope"])
        .contains("no pipeline `nope` in the project (it has `diamond`, `stoppable`, `troubles`)"));
    assert!(err(&["diamond", "--from", "zz"])
        .contains("pipeline `diamond` has no step `zz` (steps: a, b, c, d, flaky)"));
    assert!(err(&["diamond", "--param", "n=x"]).contains("--param n=x: `n` is an integer"));
    assert!(err(&["diamond", "--param", "m=1"])
        .contains("pipeline `diamond` has no parameter `m` (it declares `n`)"));
    assert!(err(&["diamond", "--param", "n"]).contains("--param n: write NAME=VALUE"));
    // A missing code file fails its step (and what follows), naming the file.
    std::fs::remove_file(p.join("a.sh")).unwrap_or_else(|e| panic!("{e}"));
    let (code, r) = run(p, "diamond", &[]);
    assert_eq!(code, 1);
    assert!(step(&r, "a")["error"]
        .as_str()
        .unwrap_or_default()
        .contains("code file `a.sh` does not exist"));
    assert_eq!(step(&r, "d")["status"], "skipped");
}
