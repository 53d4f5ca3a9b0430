//! The monitor loop: `mlpc serve` evaluates the applied plan's monitors on their `every`
//! schedule, in the background, and keeps their checks' values and alert states on
//! `/metrics`.
//!
//! One dedicated OS thread (`mlp-monitors`), never an HTTP worker nor the runtime the
//! workers share: an evaluation (DuckDB reads of the prediction log, SQLite writes of the
//! history, webhooks with retries) blocks for as long as it takes without delaying a
//! request. The thread runs at the lowest priority (nice 19; on Linux the nice value is per
//! thread), and evaluations run in one long-lived child, `mlpc monitor worker`, started from
//! it so that it inherits that priority, sharing no memory, allocator or kernel lock with
//! the server (in one process, a starved low-priority thread holding one of those held up
//! requests: see `docs/benchmarks.md`). The child runs under `SCHED_IDLE` (through
//! util-linux's `chrt` where the machine has it), which gives it a core only when no other
//! thread wants one. It keeps what it read between evaluations, so each reads only the log
//! files written since the last one (a new file a second), not the whole window again. A
//! child that exits is started again at the next evaluation. Without an `mlpc` to start,
//! evaluations run in the thread, with one DuckDB thread and the same keeping. Evaluations
//! run one at a time, in the order they fall due.
//!
//! The schedule is Prometheus': a monitor with period `every` is evaluated over the windows
//! ending at the multiples of `every` since the epoch, each 1.5 s after its end (once the
//! prediction log has written its records), so the first evaluation comes at most one
//! period (and 1.5 s) after the server starts, and a restart never evaluates a window
//! twice. An evaluation that overruns the next times skips them (the next one is the first
//! multiple after it finished). The thread looks at the served plan at least once a second,
//! so an apply that adds, removes or changes a monitor is followed without a restart; with
//! no monitor in the plan it only looks. A failed evaluation is said on stderr and counted,
//! and the loop goes on. A stop kills the child (an evaluation in progress with it), and is
//! seen at once while the loop waits.

use crate::metrics::Metrics;
use crate::server::State;
use mlp_ir::{Plan, Spec};
use mlp_monitoring::monitor::worker::{Reply, Request};
use mlp_monitoring::monitor::{self, History};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Weak};
use std::time::Duration;

/// The longest wait between two looks at the served plan.
const LOOK: Duration = Duration::from_secs(1);

/// How long after its end a window is evaluated: the prediction log writes a record within
/// a second ([`crate::predlog::FLUSH_EVERY`]), so by then the window's records are in files.
const SETTLE_US: i64 = 1_500_000;

/// How long a stop waits for an evaluation in progress before leaving it to the process's
/// exit (the history is SQLite: a write cut short is rolled back).
const STOP_WAIT: Duration = Duration::from_secs(5);

/// When a monitor with period `every_us` is evaluated next after `now_us`: the first multiple
/// of the period since the epoch after it.
pub fn next_due(now_us: i64, every_us: i64) -> i64 {
    let every = every_us.max(1);
    now_us
        .div_euclid(every)
        .saturating_add(1)
        .saturating_mul(every)
}

/// One monitor's place in the schedule.
#[derive(Debug, Clone, PartialEq)]
struct Slot {
    every_us: i64,
    next_us: i64,
    /// Its checks as written (the `check` label of its series).
    checks: Vec<String>,
}

/// What left the plan: monitors, and checks (monitor, check) whose series must go.
#[derive(Debug, Default, PartialEq)]
pub struct Gone {
    /// Monitors no longer in the plan.
    pub monitors: Vec<String>,
    /// Checks no longer in the plan.
    pub checks: Vec<(String, String)>,
}

/// The monitors of the served plan and when each is evaluated next.
#[derive(Debug, Default)]
pub struct Schedule {
    slots: BTreeMap<String, Slot>,
}

impl Schedule {
    /// Follows `plan` at `now_us`: a new monitor, or one whose period changed, is next
    /// evaluated at the first multiple of its period after `now_us`; the others keep their
    /// time. Says what left the plan.
    pub fn follow(&mut self, plan: &Plan, now_us: i64) -> Gone {
        let mut next: BTreeMap<String, Slot> = BTreeMap::new();
        for r in plan.resources() {
            let Spec::Monitor {
                every_ms, checks, ..
            } = &r.spec
            else {
                continue;
            };
            let every_us = i64::try_from(*every_ms)
                .unwrap_or(i64::MAX / 1000)
                .max(1)
                .saturating_mul(1000);
            let next_us = match self.slots.get(&r.name) {
                Some(s) if s.every_us == every_us => s.next_us,
                _ => next_due(now_us, every_us),
            };
            let checks = checks.iter().map(|c| c.text.clone()).collect();
            next.insert(
                r.name.clone(),
                Slot {
                    every_us,
                    next_us,
                    checks,
                },
            );
        }
        let mut gone = Gone::default();
        for (name, old) in &self.slots {
            let kept = next
                .get(name)
                .map(|s| s.checks.as_slice())
                .unwrap_or_default();
            if !next.contains_key(name) {
                gone.monitors.push(name.clone());
            }
            for c in &old.checks {
                if !kept.contains(c) {
                    gone.checks.push((name.clone(), c.clone()));
                }
            }
        }
        self.slots = next;
        gone
    }

    /// Whether the plan has no monitor.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// The monitor due first and its time (the earliest name on a tie).
    pub fn first(&self) -> Option<(String, i64)> {
        self.slots
            .iter()
            .min_by_key(|(name, s)| (s.next_us, name.as_str()))
            .map(|(name, s)| (name.clone(), s.next_us))
    }

    /// Marks `name` evaluated, finished at `now_us`: its next time is the first multiple of
    /// its period after that (times it overran are skipped).
    pub fn done(&mut self, name: &str, now_us: i64) {
        if let Some(s) = self.slots.get_mut(name) {
            s.next_us = next_due(now_us.max(s.next_us), s.every_us);
        }
    }

    /// Whether `check` is a check of monitor `name`.
    fn has(&self, name: &str, check: &str) -> bool {
        self.slots
            .get(name)
            .is_some_and(|s| s.checks.iter().any(|c| c == check))
    }
}

/// Where evaluations run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Evaluator {
    /// In a long-lived child process, `MLPC monitor worker DIR` (the `mlpc` beside the
    /// serving binary), started from the loop's thread so that it inherits its lowest
    /// priority: the evaluation shares no memory, allocator or kernel locks with the server,
    /// so a starved evaluation cannot hold up a request (priority inversion), and a stop
    /// kills it.
    Child(PathBuf),
    /// In the loop's thread (when there is no `mlpc` to start).
    InProcess,
}

/// What the loop's thread waits for: a stop, or a line from the worker (one channel, so that
/// it waits without polling).
enum Event {
    /// Stop now.
    Stop,
    /// A reply line from worker number `.0`.
    Reply(u64, String),
    /// Worker number `.0` closed its output (it ended).
    Ended(u64),
}

/// The running loop, stopped by [`MonitorLoop::stop`] or when dropped.
pub struct MonitorLoop {
    stop: Option<mpsc::Sender<Event>>,
    /// Disconnected once the thread ended.
    ended: mpsc::Receiver<()>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl MonitorLoop {
    /// Starts the loop over the plan `state` serves (held weakly: the server's end ends it),
    /// evaluating as `how` says and keeping the checks' series in `metrics`.
    pub fn start(
        project_dir: PathBuf,
        state: Weak<State>,
        metrics: Arc<Metrics>,
        how: Evaluator,
    ) -> std::io::Result<MonitorLoop> {
        let (stop, events) = mpsc::channel();
        let replies = stop.clone();
        let (ended_tx, ended) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("mlp-monitors".into())
            .spawn(move || {
                // Dropped when the thread ends, however it ends.
                let _ended = ended_tx;
                lower_priority();
                let plan = || state.upgrade().map(|s| s.now().plan.clone());
                let ctx = Ctx {
                    dir: &project_dir,
                    metrics: &metrics,
                    how: &how,
                    events: &events,
                    replies,
                    stopping: std::cell::Cell::new(false),
                };
                run(&ctx, &plan);
            })?;
        Ok(MonitorLoop {
            stop: Some(stop),
            ended,
            thread: Some(thread),
        })
    }

    /// Asks the loop to stop: an evaluation in the worker is killed, one in the thread
    /// finishes first.
    pub fn signal(&mut self) {
        if let Some(stop) = self.stop.take() {
            // Gone only when the thread already ended.
            stop.send(Event::Stop).ok();
        }
    }

    /// Stops the loop, waiting at most a few seconds for an evaluation in progress.
    pub fn stop(mut self) {
        self.signal();
        match self.ended.recv_timeout(STOP_WAIT) {
            Err(RecvTimeoutError::Timeout) => {
                eprintln!(
                    "serve: a monitor evaluation is still running after {}s; not waiting for it",
                    STOP_WAIT.as_secs()
                );
            }
            _ => {
                if self.thread.take().is_some_and(|t| t.join().is_err()) {
                    eprintln!("serve: the monitor loop panicked");
                }
            }
        }
    }
}

/// The lowest priority for the calling thread, nice 19 (the nice value is per thread on
/// Linux; elsewhere this may lower the whole process, so it is not done).
fn lower_priority() {
    #[cfg(target_os = "linux")]
    if let Err(e) = rustix::process::setpriority_process(Some(rustix::thread::gettid()), 19) {
        eprintln!("serve: the monitor loop runs at normal priority: {e}");
    }
}

/// What the loop works with.
struct Ctx<'a> {
    dir: &'a Path,
    metrics: &'a Metrics,
    how: &'a Evaluator,
    /// A stop, and the workers' lines.
    events: &'a mpsc::Receiver<Event>,
    /// Where a worker's output thread sends its lines.
    replies: mpsc::Sender<Event>,
    /// Whether a stop was taken from `events`.
    stopping: std::cell::Cell<bool>,
}

impl Ctx<'_> {
    /// Whether the loop must stop (a stop sent, or the server gone); lines of workers no
    /// longer asked anything are dropped.
    fn stopped(&self) -> bool {
        loop {
            if self.stopping.get() {
                return true;
            }
            match self.events.try_recv() {
                Ok(Event::Stop) | Err(mpsc::TryRecvError::Disconnected) => {
                    self.stopping.set(true);
                }
                Ok(_) => {}
                Err(mpsc::TryRecvError::Empty) => return false,
            }
        }
    }

    /// Waits at most `wait`: whether the loop must stop.
    fn stop_within(&self, wait: Duration) -> bool {
        let until = std::time::Instant::now() + wait;
        loop {
            if self.stopping.get() {
                return true;
            }
            let left = until.saturating_duration_since(std::time::Instant::now());
            match self.events.recv_timeout(left) {
                Ok(Event::Stop) | Err(RecvTimeoutError::Disconnected) => {
                    self.stopping.set(true);
                }
                Ok(_) => {}
                Err(RecvTimeoutError::Timeout) => return false,
            }
        }
    }
}

/// What evaluations keep between them: the child worker, or the in-process reader.
#[derive(Default)]
struct Kept {
    worker: Option<Worker>,
    /// Workers started so far (the current one's number).
    started: u64,
    reader: Option<monitor::Reader>,
}

/// The loop: follows the served plan (`None` once the server is gone), evaluates what is
/// due, waits for the next time or a second, until told to stop.
fn run(ctx: &Ctx<'_>, plan: &dyn Fn() -> Option<Arc<Plan>>) {
    let (dir, metrics) = (ctx.dir, ctx.metrics);
    let mut schedule = Schedule::default();
    let mut kept = Kept::default();
    let mut restored = false;
    loop {
        let Some(plan) = plan() else {
            return;
        };
        let gone = schedule.follow(&plan, monitor::now_us());
        for (m, c) in &gone.checks {
            metrics.forget_monitor_check(m, c);
        }
        for m in &gone.monitors {
            metrics.forget_monitor(m);
        }
        if !restored && !schedule.is_empty() {
            restore(dir, &schedule, metrics);
            restored = true;
        }
        // The latest window end whose records are all written.
        let settled = || monitor::now_us().saturating_sub(SETTLE_US);
        while let Some((name, at_us)) = schedule.first().filter(|(_, at)| *at <= settled()) {
            evaluate(ctx, &mut kept, &plan, &name, at_us);
            schedule.done(&name, settled());
            if ctx.stopped() {
                return;
            }
        }
        drop(plan);
        let wait = schedule.first().map_or(LOOK, |(_, at)| {
            let left = u64::try_from(at.saturating_sub(settled())).unwrap_or(0);
            Duration::from_micros(left).min(LOOK)
        });
        if ctx.stop_within(wait) {
            return;
        }
    }
}

/// Evaluates monitor `name` over the window ending at `at_us` and puts its checks on
/// `/metrics`; a failure is said and counted, never raised.
fn evaluate(ctx: &Ctx<'_>, kept: &mut Kept, plan: &Plan, name: &str, at_us: i64) {
    let run = match ctx.how {
        Evaluator::Child(mlpc) => match in_worker(ctx, kept, mlpc, name, at_us) {
            Ok(Some(run)) => Ok(run),
            // Stopped while it ran: nothing to count.
            Ok(None) => return,
            Err(e) => Err(e),
        },
        Evaluator::InProcess => in_process(ctx, kept, plan, name, at_us),
    };
    let metrics = ctx.metrics;
    match run {
        Ok(run) => {
            metrics.monitor_evaluated(name, true);
            for c in &run.checks {
                metrics.monitor_check(name, &c.result.check, c.result.value, c.alert.name());
            }
        }
        Err(e) => {
            metrics.monitor_evaluated(name, false);
            eprintln!(
                "serve: monitor {name} at {}: not evaluated: {e}",
                monitor::alert::rfc3339(at_us)
            );
        }
    }
}

/// `chrt` (util-linux), which starts a program under another scheduling policy, when it is
/// there and may set `SCHED_IDLE` here (tried once with `true`; some containers forbid it).
fn chrt() -> Option<std::path::PathBuf> {
    static CHRT: std::sync::OnceLock<Option<std::path::PathBuf>> = std::sync::OnceLock::new();
    CHRT.get_or_init(|| {
        ["/usr/bin/chrt", "/bin/chrt"]
            .map(std::path::PathBuf::from)
            .into_iter()
            .find(|p| p.is_file())
            .filter(|p| {
                Command::new(p)
                    .args(["--idle", "0", "true"])
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .is_ok_and(|s| s.success())
            })
    })
    .clone()
}

/// Evaluates monitor `name` at `at_us` in the loop's thread, with the reader it keeps.
fn in_process(
    ctx: &Ctx<'_>,
    kept: &mut Kept,
    plan: &Plan,
    name: &str,
    at_us: i64,
) -> Result<monitor::MonitorRun, String> {
    if kept.reader.is_none() {
        kept.reader = Some(monitor::Reader::new(1).map_err(|e| e.to_string())?);
    }
    let Some(reader) = kept.reader.as_mut() else {
        return Err("no reader".into());
    };
    let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        monitor::run_monitor(reader, plan, ctx.dir, name, at_us)
    }));
    match run {
        Ok(r) => r.map_err(|e| e.to_string()),
        Err(_) => {
            // What it kept may be half-updated: start again.
            kept.reader = None;
            Err("the evaluation panicked".to_string())
        }
    }
}

/// Evaluates monitor `name` at `at_us` in the kept worker, started first when there is none
/// (or the last one ended): its run, `None` when the loop was stopped meanwhile (and the
/// worker killed), or why not.
fn in_worker(
    ctx: &Ctx<'_>,
    kept: &mut Kept,
    mlpc: &Path,
    name: &str,
    at_us: i64,
) -> Result<Option<monitor::MonitorRun>, String> {
    if kept.worker.is_none() {
        kept.started += 1;
        kept.worker = Some(Worker::start(mlpc, ctx.dir, kept.started, &ctx.replies)?);
    }
    let Some(worker) = kept.worker.as_mut() else {
        return Err("no worker".into());
    };
    match worker.ask(ctx, name, at_us) {
        Ok(Some(Reply::Run(run))) => Ok(Some(*run)),
        Ok(Some(Reply::Error(e))) => Err(e),
        Ok(None) => {
            kept.worker = None;
            Ok(None)
        }
        Err(e) => {
            // Ended or unreadable: the next evaluation starts another.
            kept.worker = None;
            Err(e)
        }
    }
}

/// A running `mlpc monitor worker`: requests go to its stdin, replies come back a line each
/// through a thread reading its stdout, as events of the loop's channel. Dropping it closes
/// its stdin and kills it.
struct Worker {
    child: Child,
    stdin: Option<ChildStdin>,
    /// Its number, on its events.
    number: u64,
}

impl Worker {
    /// Starts `mlpc monitor worker DIR`, under `SCHED_IDLE` where `chrt` can set it (the
    /// child gets a core only when no serving thread wants one; nice 19 alone still takes a
    /// slice of a busy core). Its stderr (alert log lines, errors) is the server's.
    fn start(
        mlpc: &Path,
        dir: &Path,
        number: u64,
        events: &mpsc::Sender<Event>,
    ) -> Result<Worker, String> {
        let mut command = match chrt() {
            Some(chrt) => {
                let mut c = Command::new(chrt);
                c.args(["--idle", "0"]).arg(mlpc);
                c
            }
            None => Command::new(mlpc),
        };
        let mut child = command
            .args(["monitor", "worker"])
            .arg(dir)
            // No transparent huge pages for its allocations: faulting them in can make the
            // kernel compact memory, migrating the server's pages, from a process that runs
            // only when nothing else wants a core (stalls of tens of ms in requests).
            .env("MIMALLOC_ALLOW_THP", "0")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("cannot start `{}`: {e}", mlpc.display()))?;
        let stdin = child.stdin.take();
        let out = child.stdout.take();
        let tx = events.clone();
        std::thread::Builder::new()
            .name("mlp-monitor-replies".into())
            .spawn(move || {
                if let Some(out) = out {
                    for line in BufReader::new(out).lines() {
                        let Ok(line) = line else { break };
                        if tx.send(Event::Reply(number, line)).is_err() {
                            return;
                        }
                    }
                }
                // The loop may be gone already.
                tx.send(Event::Ended(number)).ok();
            })
            .map_err(|e| format!("cannot read the evaluator's output: {e}"))?;
        Ok(Worker {
            child,
            stdin,
            number,
        })
    }

    /// Sends one request and waits for its reply, watching for a stop: the reply, `None`
    /// when stopped, or an error when the worker ended or answered something else.
    fn ask(&mut self, ctx: &Ctx<'_>, name: &str, at_us: i64) -> Result<Option<Reply>, String> {
        let req = Request {
            monitor: name.to_string(),
            at_us,
        };
        let line = serde_json::to_string(&req).map_err(|e| e.to_string())? + "\n";
        let sent = self
            .stdin
            .as_mut()
            .map(|s| s.write_all(line.as_bytes()).and_then(|()| s.flush()));
        if !matches!(sent, Some(Ok(()))) {
            return Err(format!("the evaluator is gone ({})", self.ended()));
        }
        loop {
            match ctx.events.recv() {
                Ok(Event::Reply(n, text)) if n == self.number => {
                    return serde_json::from_str::<Reply>(&text)
                        .map(Some)
                        .map_err(|e| format!("the evaluator answered `{text}`: {e}"));
                }
                Ok(Event::Ended(n)) if n == self.number => {
                    return Err(format!("the evaluator ended ({})", self.ended()));
                }
                Ok(Event::Stop) | Err(_) => {
                    ctx.stopping.set(true);
                    return Ok(None);
                }
                // A line of a worker that was replaced.
                Ok(_) => {}
            }
        }
    }

    /// How the child ended, once it has.
    fn ended(&mut self) -> String {
        match self.child.wait() {
            Ok(status) => status.to_string(),
            Err(e) => e.to_string(),
        }
    }
}

impl Drop for MonitorLoop {
    fn drop(&mut self) {
        self.signal();
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        // End of input ends a worker between evaluations; the kill ends one in the middle
        // of one (the history is SQLite: a write cut short is rolled back).
        self.stdin.take();
        if let Err(e) = self.child.kill().and_then(|()| self.child.wait().map(drop)) {
            eprintln!("serve: cannot stop the monitor evaluator: {e}");
        }
    }
}

/// Puts the stored alert states of the plan's checks on `/metrics` until they are
/// evaluated again, so that a restart does not blank them for a period.
fn restore(dir: &Path, schedule: &Schedule, metrics: &Metrics) {
    match History::open(dir).and_then(|h| h.alerts(None)) {
        Ok(alerts) => {
            for a in alerts.iter().filter(|a| schedule.has(&a.monitor, &a.check)) {
                metrics.monitor_check(&a.monitor, &a.check, a.value, a.state.name());
            }
        }
        Err(e) => eprintln!("serve: the monitors' stored alert states: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1_000_000;

    #[test]
    fn evaluations_fall_on_multiples_of_the_period() {
        assert_eq!(next_due(0, 10 * S), 10 * S);
        assert_eq!(next_due(3 * S, 10 * S), 10 * S);
        // Exactly on a time: that one is done (or being done); the next.
        assert_eq!(next_due(10 * S, 10 * S), 20 * S);
        assert_eq!(next_due(-1, 10 * S), 0);
        assert_eq!(next_due(5, 0), 6);
        assert_eq!(next_due(i64::MAX - 1, 10 * S), i64::MAX);
    }

    fn plan(monitors: &[(&str, u64, &[&str])]) -> Plan {
        let mut plan = Plan::new("p", None);
        for (name, every_ms, checks) in monitors {
            let spec = Spec::Monitor {
                on: "d".into(),
                every_ms: *every_ms,
                window_ms: 1000,
                baseline: mlp_ir::Baseline::Training,
                labels: None,
                checks: checks
                    .iter()
                    .map(|t| mlp_ir::Check {
                        text: (*t).to_string(),
                        expr: mlp_ir::IrExpr::Literal {
                            value: mlp_ir::Literal::Bool(true),
                        },
                    })
                    .collect(),
                alerts: Vec::new(),
                for_evaluations: 1,
            };
            plan.add(mlp_ir::Resource::new(
                format!("monitor.{name}"),
                (*name).to_string(),
                spec,
                String::new(),
                mlp_ir::Origin::default(),
            ));
        }
        plan
    }

    #[test]
    fn the_schedule_follows_the_plan_and_skips_overrun_times() {
        let mut s = Schedule::default();
        let gone = s.follow(
            &plan(&[("a", 1000, &["x < 1"]), ("b", 3000, &["y < 1"])]),
            500_000,
        );
        assert_eq!(gone, Gone::default());
        assert_eq!(s.first(), Some(("a".to_string(), S)));
        s.done("a", S + 10);
        assert_eq!(s.first(), Some(("a".to_string(), 2 * S)));
        // An evaluation that took 2.5 periods skips the times it overran.
        s.done("a", 4 * S + 500_000);
        assert_eq!(s.first(), Some(("b".to_string(), 3 * S)));
        s.done("b", 3 * S + 1);
        assert_eq!(s.first(), Some(("a".to_string(), 5 * S)));
        // Unchanged monitors keep their time; a changed period starts again; a removed
        // monitor and a changed check are gone.
        let gone = s.follow(
            &plan(&[("a", 1000, &["x < 2"]), ("c", 2000, &[])]),
            5 * S + 1,
        );
        assert_eq!(
            gone,
            Gone {
                monitors: vec!["b".into()],
                checks: vec![("a".into(), "x < 1".into()), ("b".into(), "y < 1".into())],
            }
        );
        assert_eq!(s.first(), Some(("a".to_string(), 5 * S)));
        let gone = s.follow(
            &plan(&[("a", 500, &["x < 2"]), ("c", 2000, &[])]),
            5 * S + 1,
        );
        assert_eq!(gone, Gone::default());
        assert_eq!(s.first(), Some(("a".to_string(), 5 * S + 500_000)));
        assert!(s.has("a", "x < 2") && !s.has("a", "x < 1"));
        s.follow(&plan(&[]), 6 * S);
        assert!(s.is_empty() && s.first().is_none());
    }
}
