//! Schedules: which `cron(...)` ticks of which pipelines are due, and the loop that runs them
//! (`mlpc scheduler` in the foreground; the server mounts the same loop).
//!
//! The last tick handled per pipeline is kept in `.mlp/runs.sqlite`, so that after downtime
//! the declared catch-up policy decides what happens to the ticks missed meanwhile:
//! - `none` (the default): missed ticks are skipped; only a tick seen on time (within a
//!   minute) runs;
//! - `latest`: one run, for the most recent missed tick;
//! - `all`: a run for every missed tick, oldest first, at most [`MAX_CATCH_UP`] of them (a
//!   year of downtime under an hourly schedule must not flood the machine).
//!
//! A pipeline seen for the first time (or whose schedule changed) starts from now: nothing
//! before it is "missed". Scheduled runs of one pipeline run one after another.

use crate::history::History;
use crate::RunError;
use chrono::{DateTime, TimeZone, Utc};
use mlp_ir::{Plan, Spec};
use rusqlite::params;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

/// How late a tick may be seen and still count as on time under `catchup = none`.
pub const ON_TIME: Duration = Duration::from_secs(60);

/// The most missed ticks `catchup = all` runs after downtime (the most recent ones).
pub const MAX_CATCH_UP: usize = 100;

/// What to do with ticks missed while the scheduler was down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CatchUp {
    /// Skip them.
    None,
    /// Run once, for the most recent.
    Latest,
    /// Run each of them.
    All,
}

impl CatchUp {
    /// From the plan's `catchup` text (`none` for anything else).
    pub fn parse(s: &str) -> CatchUp {
        match s {
            "latest" => CatchUp::Latest,
            "all" => CatchUp::All,
            _ => CatchUp::None,
        }
    }
}

/// A parsed five-field cron expression.
pub fn parse_cron(text: &str) -> Result<cron::Schedule, RunError> {
    let full = mlp_ir::cron::to_seven_fields(text)
        .ok_or_else(|| RunError::Spec(format!("invalid cron schedule `{text}`")))?;
    cron::Schedule::from_str(&full)
        .map_err(|e| RunError::Spec(format!("invalid cron schedule `{text}`: {e}")))
}

/// The ticks due at `now` for a schedule whose last handled tick is `last`.
pub fn due(
    schedule: &cron::Schedule,
    catchup: CatchUp,
    last: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Vec<DateTime<Utc>> {
    // Bounded: the iterator walks every missed tick, and only the last ones are kept.
    let mut ticks: std::collections::VecDeque<DateTime<Utc>> = std::collections::VecDeque::new();
    for t in schedule.after(&last).take_while(|t| *t <= now) {
        ticks.push_back(t);
        if ticks.len() > MAX_CATCH_UP {
            ticks.pop_front();
        }
    }
    match catchup {
        CatchUp::All => ticks.into_iter().collect(),
        CatchUp::Latest => ticks.back().copied().into_iter().collect(),
        CatchUp::None => ticks
            .back()
            .copied()
            .filter(|t| (now - *t).to_std().is_ok_and(|late| late < ON_TIME))
            .into_iter()
            .collect(),
    }
}

/// A due run: the pipeline and the tick it is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Due {
    /// The pipeline.
    pub pipeline: String,
    /// The tick.
    pub at: DateTime<Utc>,
}

/// A scheduled pipeline, as `mlpc schedules` lists it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ScheduleInfo {
    /// The pipeline.
    pub pipeline: String,
    /// The cron expression as written.
    pub cron: String,
    /// `none`, `latest` or `all`.
    pub catchup: String,
    /// The last tick handled, RFC 3339.
    pub last: Option<String>,
    /// The next tick, RFC 3339.
    pub next: Option<String>,
}

fn scheduled(plan: &Plan) -> Vec<(String, String, CatchUp, String)> {
    plan.resources()
        .filter_map(|r| match &r.spec {
            Spec::Pipeline {
                schedule: Some(s),
                catchup,
                ..
            } => Some((
                r.name.clone(),
                s.clone(),
                CatchUp::parse(catchup),
                catchup.clone(),
            )),
            _ => None,
        })
        .collect()
}

/// The recorded last tick of `pipeline`. Out of range, it is an error: read as 1970, it
/// would have `catchup = all` run every tick since.
fn from_us(pipeline: &str, us: i64) -> Result<DateTime<Utc>, RunError> {
    Utc.timestamp_micros(us).single().ok_or_else(|| {
        RunError::History(format!(
            "the last tick of pipeline `{pipeline}` ({us} microseconds after 1970) is not a valid time"
        ))
    })
}

/// The schedules of one project.
pub struct Scheduler {
    project_dir: PathBuf,
}

impl Scheduler {
    /// The scheduler of the project in `project_dir`.
    pub fn new(project_dir: &Path) -> Scheduler {
        Scheduler {
            project_dir: project_dir.to_path_buf(),
        }
    }

    fn last(&self, h: &History, pipeline: &str, cron: &str) -> Result<Option<i64>, RunError> {
        h.with_conn::<i64>(|c| {
            c.query_row(
                "SELECT last_tick_us FROM schedules WHERE pipeline = ?1 AND cron = ?2",
                params![pipeline, cron],
                |r| r.get(0),
            )
        })
    }

    fn set_last(&self, h: &History, pipeline: &str, cron: &str, at: i64) -> Result<(), RunError> {
        h.with_conn::<usize>(|c| {
            c.execute(
                "INSERT INTO schedules VALUES (?1, ?2, ?3) ON CONFLICT (pipeline) DO UPDATE SET cron = excluded.cron, last_tick_us = excluded.last_tick_us",
                params![pipeline, cron, at],
            )
        })
        .map(|_| ())
    }

    /// The runs due at `now` for every scheduled pipeline of `plan`, recorded as handled (a
    /// tick is handed out once). Pipelines seen for the first time start from `now`.
    pub fn due_now(&self, plan: &Plan, now: DateTime<Utc>) -> Result<Vec<Due>, RunError> {
        let h = History::open(&self.project_dir)?;
        let mut out = Vec::new();
        for (pipeline, text, catchup, _) in scheduled(plan) {
            let schedule = parse_cron(&text)?;
            match self.last(&h, &pipeline, &text)? {
                None => self.set_last(&h, &pipeline, &text, now.timestamp_micros())?,
                Some(last) => {
                    let last = from_us(&pipeline, last)?;
                    let ticks = due(&schedule, catchup, last, now);
                    // Everything up to now is handled, run or skipped.
                    let latest = schedule.after(&last).take_while(|t| *t <= now).last();
                    if let Some(t) = latest {
                        self.set_last(&h, &pipeline, &text, t.timestamp_micros())?;
                    }
                    out.extend(ticks.into_iter().map(|at| Due {
                        pipeline: pipeline.clone(),
                        at,
                    }));
                }
            }
        }
        Ok(out)
    }

    /// The scheduled pipelines with their last and next ticks.
    pub fn list(&self, plan: &Plan, now: DateTime<Utc>) -> Result<Vec<ScheduleInfo>, RunError> {
        let h = History::open(&self.project_dir)?;
        scheduled(plan)
            .into_iter()
            .map(|(pipeline, text, _, catchup)| {
                let schedule = parse_cron(&text)?;
                let last = self
                    .last(&h, &pipeline, &text)?
                    .map(|us| from_us(&pipeline, us))
                    .transpose()?;
                Ok(ScheduleInfo {
                    next: schedule.after(&now).next().map(|t| t.to_rfc3339()),
                    last: last.map(|t| t.to_rfc3339()),
                    pipeline,
                    cron: text,
                    catchup,
                })
            })
            .collect()
    }

    /// The earliest next tick of any scheduled pipeline after `now`.
    pub fn next_tick(&self, plan: &Plan, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        scheduled(plan)
            .iter()
            .filter_map(|(_, text, _, _)| parse_cron(text).ok()?.after(&now).next())
            .min()
    }
}

/// Runs the scheduler until `stop` says so: reloads the plan with `load_plan` at every tick,
/// and starts the due runs (one after another per pipeline, each on its own thread, with
/// `MLP_SCHEDULED_AT` set to the tick). Returns when `stop` receives or is dropped.
pub fn run_scheduler(
    project_dir: &Path,
    load_plan: &dyn Fn() -> Option<Plan>,
    stop: &std::sync::mpsc::Receiver<()>,
    echo: bool,
) -> Result<(), RunError> {
    let scheduler = Scheduler::new(project_dir);
    let mut queues: std::collections::BTreeMap<String, std::sync::mpsc::Sender<(Plan, Due)>> =
        std::collections::BTreeMap::new();
    let mut workers = Vec::new();
    loop {
        if let Some(plan) = load_plan() {
            for d in scheduler.due_now(&plan, Utc::now())? {
                let queue = queues.entry(d.pipeline.clone()).or_insert_with(|| {
                    let (tx, rx) = std::sync::mpsc::channel::<(Plan, Due)>();
                    let dir = project_dir.to_path_buf();
                    workers.push(std::thread::spawn(move || {
                        for (plan, due) in rx {
                            let opts = crate::RunOptions {
                                pipeline: due.pipeline.clone(),
                                from: None,
                                force: false,
                                params: Default::default(),
                                concurrency: 4,
                                echo,
                                trigger: "schedule".into(),
                                venv: None,
                                scheduled_at: Some(due.at.to_rfc3339()),
                            };
                            match crate::run_pipeline(&plan, &dir, &opts) {
                                Ok(r) => eprintln!(
                                    "scheduler: {} at {}: run {} {}",
                                    due.pipeline,
                                    due.at.to_rfc3339(),
                                    r.run_id,
                                    r.status
                                ),
                                Err(e) => eprintln!(
                                    "scheduler: {} at {}: {e}",
                                    due.pipeline,
                                    due.at.to_rfc3339()
                                ),
                            }
                        }
                    }));
                    tx
                });
                // The worker ends only by panicking; then say so, and start a new one next time.
                if let Err(lost) = queue.send((plan.clone(), d)) {
                    let (_, d) = lost.0;
                    eprintln!(
                        "scheduler: {} at {}: not started: the pipeline's worker thread has stopped",
                        d.pipeline,
                        d.at.to_rfc3339()
                    );
                    queues.remove(&d.pipeline);
                }
            }
        }
        // Wake at the next second boundary (a tick is never more than a second late), or when
        // told to stop.
        let wait = Duration::from_millis(1000 - u64::from(Utc::now().timestamp_subsec_millis()));
        match stop.recv_timeout(wait) {
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => continue,
            _ => break,
        }
    }
    drop(queues);
    for w in workers {
        // A worker that panicked has been reported by the panic hook; the rest finished.
        w.join().ok();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .map(|d| d.with_timezone(&Utc))
            .unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn every_minute() -> cron::Schedule {
        parse_cron("* * * * *").unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn missed_ticks_follow_the_catch_up_policy() {
        let s = every_minute();
        let last = t("2026-11-26T10:01:00Z");
        // Down from 10:01 to 10:05:10: ticks 10:02 to 10:05 were missed; 10:05 is on time.
        let now = t("2026-11-26T10:05:10Z");
        assert_eq!(
            due(&s, CatchUp::None, last, now),
            vec![t("2026-11-26T10:05:00Z")]
        );
        assert_eq!(
            due(&s, CatchUp::Latest, last, now),
            vec![t("2026-11-26T10:05:00Z")]
        );
        assert_eq!(
            due(&s, CatchUp::All, last, now),
            ["10:02", "10:03", "10:04", "10:05"]
                .map(|m| t(&format!("2026-11-26T{m}:00Z")))
                .to_vec()
        );
        // An hourly tick seen 90 s late is no longer on time: `none` skips it.
        let hourly = parse_cron("0 * * * *").unwrap_or_else(|e| panic!("{e}"));
        let late = t("2026-11-26T11:01:30Z");
        let from = t("2026-11-26T10:00:00Z");
        assert_eq!(
            due(&hourly, CatchUp::None, from, late),
            Vec::<DateTime<Utc>>::new()
        );
        assert_eq!(
            due(&hourly, CatchUp::Latest, from, late),
            vec![t("2026-11-26T11:00:00Z")]
        );
        // Nothing new since the last tick: nothing due.
        assert!(due(&s, CatchUp::All, last, t("2026-11-26T10:01:59Z")).is_empty());
    }

    #[test]
    fn catching_up_a_long_downtime_is_bounded() {
        let s = every_minute();
        let ticks = due(
            &s,
            CatchUp::All,
            t("2026-11-01T00:00:00Z"),
            t("2026-11-26T00:00:00Z"),
        );
        assert_eq!(ticks.len(), MAX_CATCH_UP);
        assert_eq!(ticks.last().copied(), Some(t("2026-11-26T00:00:00Z")));
    }

    #[test]
    fn weekday_schedules_use_crontab_day_numbers() {
        let s = parse_cron("0 2 * * 1-5").unwrap_or_else(|e| panic!("{e}"));
        // 2026-11-27 is a Friday: the next runs are Friday, then Monday.
        let next: Vec<_> = s.after(&t("2026-11-26T03:00:00Z")).take(2).collect();
        assert_eq!(
            next,
            vec![t("2026-11-27T02:00:00Z"), t("2026-11-30T02:00:00Z")]
        );
    }

    #[test]
    fn the_scheduler_hands_out_each_tick_once_and_starts_new_pipelines_from_now() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let src = "project p {}\n\npipeline nightly {\n  schedule = cron(\"0 2 * * *\")\n  catchup  = all\n\n  step a {\n    run = \"true\"\n  }\n}\n\npipeline hourly {\n  schedule = cron(\"0 * * * *\")\n\n  step a {\n    run = \"true\"\n  }\n}\n";
        std::fs::write(dir.path().join("p.mlp"), src).unwrap_or_else(|e| panic!("{e}"));
        let checked = mlp_driver::check_dir(dir.path(), None);
        let plan = checked
            .plan
            .unwrap_or_else(|| panic!("{:?}", checked.diagnostics));
        let sched = Scheduler::new(dir.path());
        // First sight: nothing is missed.
        assert!(sched
            .due_now(&plan, t("2026-11-26T10:30:00Z"))
            .unwrap_or_default()
            .is_empty());
        // The hourly tick at 11:00, seen on time, runs once.
        let due11 = sched
            .due_now(&plan, t("2026-11-26T11:00:00.5Z"))
            .unwrap_or_default();
        assert_eq!(
            due11,
            vec![Due {
                pipeline: "hourly".into(),
                at: t("2026-11-26T11:00:00Z")
            }]
        );
        assert!(sched
            .due_now(&plan, t("2026-11-26T11:00:01Z"))
            .unwrap_or_default()
            .is_empty());
        // Down for two days: the nightly pipeline catches up both nights, the hourly one
        // (catchup none) skips what it missed.
        let after = sched
            .due_now(&plan, t("2026-11-28T10:20:00Z"))
            .unwrap_or_default();
        assert_eq!(
            after,
            vec![
                Due {
                    pipeline: "nightly".into(),
                    at: t("2026-11-27T02:00:00Z")
                },
                Due {
                    pipeline: "nightly".into(),
                    at: t("2026-11-28T02:00:00Z")
                },
            ]
        );
        let list = sched
            .list(&plan, t("2026-11-28T10:20:00Z"))
            .unwrap_or_default();
        let hourly = list.iter().find(|s| s.pipeline == "hourly").cloned();
        assert_eq!(
            hourly.and_then(|h| h.next),
            Some("2026-11-28T11:00:00+00:00".to_string())
        );
        assert_eq!(
            sched.next_tick(&plan, t("2026-11-28T10:20:00Z")),
            Some(t("2026-11-28T11:00:00Z"))
        );
    }
}
