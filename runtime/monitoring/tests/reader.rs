//! A long-lived [`Reader`] against the log it reads, computed here independently: as files
//! appear (late rows, overlapping files, several deployments, batch rows, nulls, keys not
//! logged, errors, unsampled requests, a file rewritten in place), each sliding window it
//! gives equals the records of that window, and it reads each file once.

use mlp_ir::Type;
use mlp_monitoring::monitor::window::{ColumnRef, Span, Values};
use mlp_monitoring::monitor::Reader;
use proptest::prelude::*;
use std::collections::HashMap;
use std::path::Path;

const S: i64 = 1_000_000;

#[derive(Debug, Clone)]
struct Rec {
    id: String,
    t: i64,
    deployment: &'static str,
    version: &'static str,
    status: u16,
    sampled: bool,
    latency: Option<f64>,
    /// `None`: the payload has no `x` key.
    x: Option<Vec<Option<f64>>>,
}

/// A seeded generator (xorshift64*), so that proptest only picks seeds and shapes.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

fn gen_file(rng: &mut Rng, f: usize, base: i64, n: usize) -> Vec<Rec> {
    (0..n)
        .map(|k| {
            let rows = 1 + rng.below(3) as usize;
            let x = (rng.below(8) != 0).then(|| {
                (0..rows)
                    .map(|_| (rng.below(5) != 0).then(|| rng.below(1000) as f64 / 10.0))
                    .collect()
            });
            Rec {
                id: format!("r{f}-{k}"),
                t: base + rng.below(3 * S as u64) as i64,
                deployment: if rng.below(5) == 0 { "other" } else { "d" },
                version: ["m@1", "m@2", ""][rng.below(3) as usize],
                status: [200, 200, 200, 200, 400, 503][rng.below(6) as usize],
                sampled: rng.below(4) != 0,
                latency: (rng.below(10) != 0).then(|| rng.below(5000) as f64 / 100.0),
                x,
            }
        })
        .collect()
}

fn sql_f(v: Option<f64>) -> String {
    v.map_or("null".into(), |x| format!("{x:?}"))
}

/// Writes `recs` as one log file named after its first record (an empty file gets `base`).
fn write_file(dir: &Path, recs: &[Rec], base: i64, seq: usize) -> std::path::PathBuf {
    let first = recs.iter().map(|r| r.t).min().unwrap_or(base);
    let path = dir.join(format!("part-{first}-7-{seq:06}.parquet"));
    let values: Vec<String> = recs
        .iter()
        .map(|r| {
            let rows = r.x.as_ref().map_or(1, Vec::len);
            let payload = |json: String| {
                if r.sampled && r.status == 200 {
                    format!("'{json}'::JSON")
                } else {
                    "NULL::JSON".into()
                }
            };
            let request = match &r.x {
                Some(xs) => payload(format!(
                    "{{\"x\":[{}]}}",
                    xs.iter().map(|x| sql_f(*x)).collect::<Vec<_>>().join(",")
                )),
                None => payload("{\"y\":[1]}".into()),
            };
            format!(
                "('{}', make_timestamp({}::BIGINT), '{}', '{}', {}::USMALLINT, {}::UINTEGER, {}, {}, {}::DOUBLE)",
                r.id,
                r.t,
                r.deployment,
                r.version,
                r.status,
                rows,
                r.sampled,
                request,
                r.latency.map_or("NULL".into(), |l| format!("{l:?}"))
            )
        })
        .collect();
    let conn = duckdb::Connection::open_in_memory().unwrap_or_else(|e| panic!("{e}"));
    let select = if values.is_empty() {
        "SELECT 'x' AS request_id, make_timestamp(0::BIGINT) AS time, 'none' AS deployment, '' AS model_version, 200::USMALLINT AS status, 1::UINTEGER AS rows, true AS sampled, NULL::JSON AS request, 1.0::DOUBLE AS latency_ms WHERE false".to_string()
    } else {
        format!(
            "SELECT * FROM (VALUES {}) t(request_id, time, deployment, model_version, status, rows, sampled, request, latency_ms)",
            values.join(", ")
        )
    };
    conn.execute_batch(&format!(
        "COPY ({select}) TO '{}' (FORMAT parquet)",
        path.display()
    ))
    .unwrap_or_else(|e| panic!("{e}"));
    path
}

/// What the window `span` of `recs` holds for deployment `d`, computed from the records.
#[derive(Debug, PartialEq)]
struct Expected {
    latency_bits: Vec<u64>,
    failed: usize,
    rows: u64,
    version: Option<String>,
    xs: Vec<(String, i64, Option<u64>)>,
    logged: bool,
}

fn expected(recs: &[&Rec], span: Span) -> Expected {
    let inside: Vec<&&Rec> = recs
        .iter()
        .filter(|r| r.deployment == "d" && r.t >= span.start_us && r.t < span.end_us)
        .collect();
    let mut latency_bits: Vec<u64> = inside
        .iter()
        .map(|r| r.latency.unwrap_or(f64::NAN).to_bits())
        .collect();
    latency_bits.sort_unstable();
    let mut counts: HashMap<&str, u64> = HashMap::new();
    let mut rows = 0;
    for r in inside.iter().filter(|r| r.status == 200) {
        rows += r.x.as_ref().map_or(1, Vec::len) as u64;
        if !r.version.is_empty() {
            *counts.entry(r.version).or_default() += 1;
        }
    }
    let most = counts.values().copied().max();
    let version = counts
        .iter()
        .filter(|(_, n)| Some(**n) == most)
        .map(|(v, _)| v.to_string())
        .min();
    let kept: Vec<&&&Rec> = inside
        .iter()
        .filter(|r| r.sampled && r.status == 200)
        .collect();
    let mut xs = Vec::new();
    for r in &kept {
        match &r.x {
            Some(v) => {
                for (i, x) in v.iter().enumerate() {
                    xs.push((r.id.clone(), i as i64, x.map(f64::to_bits)));
                }
            }
            None => xs.push((r.id.clone(), 0, None)),
        }
    }
    xs.sort();
    Expected {
        latency_bits,
        failed: inside.iter().filter(|r| r.status >= 500).count(),
        rows,
        version,
        xs,
        logged: kept.iter().any(|r| r.x.is_some()),
    }
}

fn got(reader: &mut Reader, dir: &Path, span: Span) -> Expected {
    let x = ColumnRef::Request {
        request: "checkout".into(),
        field: "x".into(),
    };
    let (req, rows) = reader
        .window(dir, "d", span, &[(x, Type::Float)], true)
        .unwrap_or_else(|e| panic!("{e}"));
    let mut latency_bits: Vec<u64> = req.latency_ms.iter().map(|l| l.to_bits()).collect();
    latency_bits.sort_unstable();
    let Values::Numeric(vals) = &rows.columns[0] else {
        panic!("x is numeric")
    };
    let mut xs: Vec<(String, i64, Option<u64>)> = (0..rows.row.len())
        .map(|i| {
            (
                rows.request_id[i].clone(),
                rows.row[i],
                vals[i].map(f64::to_bits),
            )
        })
        .collect();
    xs.sort();
    Expected {
        latency_bits,
        failed: req.failed.iter().filter(|f| **f).count(),
        rows: req.rows,
        version: req.model_version,
        xs,
        logged: rows.logged[0],
    }
}

fn check(seed: u64, files: usize, per_file: usize, window_s: i64) {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let log = tmp.path().join(".mlp/predictions");
    std::fs::create_dir_all(&log).unwrap_or_else(|e| panic!("{e}"));
    let mut rng = Rng(seed | 1);
    let t0 = 1_800_000_000 * S;
    let mut all: Vec<Vec<Rec>> = Vec::new();
    let mut reader = Reader::new(1).unwrap_or_else(|e| panic!("{e}"));
    let mut base = t0;
    let mut written = 0u64;
    for f in 0..files {
        // Files a second or so apart, each spanning up to 3 s: they overlap (late rows).
        base += rng.below(2 * S as u64) as i64;
        let n = if rng.below(6) == 0 {
            0
        } else {
            1 + rng.below(per_file as u64) as usize
        };
        let recs = gen_file(&mut rng, f, base, n);
        write_file(&log, &recs, base, f);
        written += 1;
        all.push(recs);
        // Now and then, a file already read is rewritten in place with other records.
        if f >= 2 && rng.below(5) == 0 {
            let g = f - 1 - rng.below(2) as usize;
            let old = file_path(&log, g);
            // The same name: the same first time.
            let first: i64 = old
                .file_name()
                .and_then(|n| {
                    n.to_str()?
                        .strip_prefix("part-")?
                        .split('-')
                        .next()?
                        .parse()
                        .ok()
                })
                .unwrap_or_else(|| panic!("{}", old.display()));
            let mut recs = gen_file(&mut rng, 1000 + f, first, 1 + per_file);
            recs[0].t = first;
            std::fs::remove_file(&old).unwrap_or_else(|e| panic!("{e}"));
            let new = write_file(&log, &recs, first, g);
            assert_eq!(old, new);
            written += 1;
            all[g] = recs;
        }
        let end = base + 3 * S;
        let span = Span {
            start_us: end - window_s * S,
            end_us: end,
        };
        let flat: Vec<&Rec> = all.iter().flatten().collect();
        assert_eq!(
            got(&mut reader, tmp.path(), span),
            expected(&flat, span),
            "seed {seed}, after file {f}, window {window_s} s"
        );
    }
    // Each file was read once, and again only when rewritten (a file near two windows is
    // never read twice), except files dropped for being unused.
    assert!(
        reader.log_files_read() <= written,
        "{} files read for {written} written",
        reader.log_files_read()
    );
    // A fresh reader agrees with the long-lived one over the whole log.
    let span = Span {
        start_us: t0,
        end_us: base + 4 * S,
    };
    let mut fresh = Reader::new(1).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        got(&mut fresh, tmp.path(), span),
        got(&mut reader, tmp.path(), span)
    );
}

/// The path of log file `seq`.
fn file_path(dir: &Path, seq: usize) -> std::path::PathBuf {
    let suffix = format!("-7-{seq:06}.parquet");
    std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{e}"))
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.to_string_lossy().ends_with(&suffix))
        .unwrap_or_else(|| panic!("no file {seq}"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    #[test]
    fn a_long_lived_reader_gives_each_window_of_the_log(
        seed in any::<u64>(),
        files in 3usize..14,
        per_file in 1usize..40,
        window_s in 1i64..30,
    ) {
        check(seed, files, per_file, window_s);
    }
}

/// A reader asked for the same window again reads no file; a new file is the only one read.
#[test]
fn only_new_files_are_read() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let log = tmp.path().join(".mlp/predictions");
    std::fs::create_dir_all(&log).unwrap_or_else(|e| panic!("{e}"));
    let mut rng = Rng(42);
    let t0 = 1_800_000_000 * S;
    for f in 0..5 {
        let recs = gen_file(&mut rng, f, t0 + f as i64 * S, 20);
        write_file(&log, &recs, t0, f);
    }
    let span = Span {
        start_us: t0,
        end_us: t0 + 10 * S,
    };
    let mut reader = Reader::new(1).unwrap_or_else(|e| panic!("{e}"));
    let a = got(&mut reader, tmp.path(), span);
    assert_eq!(reader.log_files_read(), 5);
    let b = got(&mut reader, tmp.path(), span);
    assert_eq!(reader.log_files_read(), 5);
    assert_eq!(a, b);
    let recs = gen_file(&mut rng, 5, t0 + 5 * S, 20);
    write_file(&log, &recs, t0, 5);
    got(&mut reader, tmp.path(), span);
    assert_eq!(reader.log_files_read(), 6);
    assert_eq!(reader.kept_log_files(), 6);
}
