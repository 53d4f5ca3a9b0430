//! `mlp-load`: a bounded HTTP load generator for the serving benchmarks. N clients, each on
//! its own keep-alive connection, POST a JSON body for a fixed time (the same one, or the
//! lines of a file in turn, so that traffic has real rows' variety), either as fast
//! as answers come back (closed loop, `--rate 0`) or at a fixed total rate (open loop, with
//! latency measured from the scheduled send time so that a stalled server is not hidden).
//! Prints one JSON object: requests, errors, throughput, p50/p90/p99/p99.9/max in ms.
//!
//! `mlp-load --url URL (--body JSON | --bodies FILE) [--clients 32] [--seconds 10] [--rate 0]
//! [--warmup 2]`: with `--bodies`, one JSON body a line; the requests take the lines in turn
//! (the n-th request of the whole run, counted over the clients, the line n modulo their
//! number), so each client sends the same sequence of bodies in every run.

use std::time::{Duration, Instant};

struct Args {
    url: String,
    /// The bodies sent in turn (one with `--body`).
    bodies: Vec<String>,
    clients: usize,
    seconds: f64,
    rate: f64,
    warmup: f64,
}

fn parse() -> Result<Args, String> {
    let mut a = Args {
        url: String::new(),
        bodies: Vec::new(),
        clients: 32,
        seconds: 10.0,
        rate: 0.0,
        warmup: 2.0,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let v = it.next().ok_or_else(|| format!("{k} needs a value"))?;
        let num = |v: &str| {
            v.parse::<f64>()
                .map_err(|_| format!("{k}: `{v}` is not a number"))
        };
        match k.as_str() {
            "--url" => a.url = v,
            "--body" => a.bodies = vec![v],
            "--bodies" => a.bodies = read_bodies(&v)?,
            "--clients" => a.clients = num(&v)? as usize,
            "--seconds" => a.seconds = num(&v)?,
            "--rate" => a.rate = num(&v)?,
            "--warmup" => a.warmup = num(&v)?,
            other => return Err(format!("unknown option {other}")),
        }
    }
    if a.url.is_empty() || a.bodies.is_empty() {
        return Err("usage: mlp-load --url URL (--body JSON | --bodies FILE) [--clients 32] [--seconds 10] [--rate 0] [--warmup 2]".into());
    }
    Ok(a)
}

/// The non-empty lines of `path`, each a JSON body.
fn read_bodies(path: &str) -> Result<Vec<String>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("--bodies {path}: {e}"))?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        serde_json::from_str::<serde_json::Value>(line)
            .map_err(|e| format!("--bodies {path}, line {}: not JSON: {e}", i + 1))?;
        out.push(line.to_string());
    }
    if out.is_empty() {
        return Err(format!("--bodies {path}: no body in it"));
    }
    Ok(out)
}

/// One client: latencies (ms) of the requests sent after the warm-up, and the errors.
fn client(a: &Args, index: usize, start: Instant) -> (Vec<f64>, u64) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_idle_connections_per_host(1)
        .build()
        .into();
    let measure_from = start + Duration::from_secs_f64(a.warmup);
    let end = measure_from + Duration::from_secs_f64(a.seconds);
    let interval = (a.rate > 0.0).then(|| Duration::from_secs_f64(a.clients as f64 / a.rate));
    // Open loop: clients are spread evenly over one interval.
    let mut next = start
        + interval.map_or(Duration::ZERO, |i| {
            i.mul_f64(index as f64 / a.clients as f64)
        });
    let mut lat = Vec::new();
    let mut errors = 0;
    // This client's requests are numbers index, index + clients, ... of the run.
    let mut n = index;
    loop {
        let now = Instant::now();
        if now >= end {
            break;
        }
        let sent = match interval {
            Some(i) => {
                if next > now {
                    std::thread::sleep(next - now);
                }
                let s = next;
                next += i;
                s
            }
            None => now,
        };
        let body = &a.bodies[n % a.bodies.len()];
        n += a.clients;
        let r = agent
            .post(&a.url)
            .header("content-type", "application/json")
            .send(body.as_str());
        let ok = match r {
            Ok(mut resp) => {
                // A body cut short counts as an error, like a status other than 200.
                let read = resp.body_mut().read_to_vec().is_ok();
                read && resp.status().as_u16() == 200
            }
            Err(_) => false,
        };
        let done = Instant::now();
        if sent >= measure_from && done <= end {
            lat.push((done - sent).as_secs_f64() * 1000.0);
            if !ok {
                errors += 1;
            }
        }
    }
    (lat, errors)
}

fn main() {
    let a = match parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("mlp-load: {e}");
            std::process::exit(1);
        }
    };
    let start = Instant::now();
    let results: Vec<(Vec<f64>, u64)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..a.clients)
            .map(|i| {
                let a = &a;
                s.spawn(move || client(a, i, start))
            })
            .collect();
        handles.into_iter().filter_map(|h| h.join().ok()).collect()
    });
    let mut lat: Vec<f64> = results
        .iter()
        .flat_map(|(l, _)| l.iter().copied())
        .collect();
    let errors: u64 = results.iter().map(|(_, e)| e).sum();
    lat.sort_by(f64::total_cmp);
    let q = |f: f64| {
        if lat.is_empty() {
            f64::NAN
        } else {
            lat[((lat.len() as f64 * f) as usize).min(lat.len() - 1)]
        }
    };
    let round = |x: f64| (x * 1000.0).round() / 1000.0;
    println!(
        "{}",
        serde_json::json!({
            "clients": a.clients,
            "rate": if a.rate > 0.0 { serde_json::json!(a.rate) } else { serde_json::json!("closed loop") },
            "seconds": a.seconds,
            "requests": lat.len(),
            "errors": errors,
            "throughput_per_s": round(lat.len() as f64 / a.seconds),
            "p50_ms": round(q(0.5)),
            "p90_ms": round(q(0.9)),
            "p99_ms": round(q(0.99)),
            "p999_ms": round(q(0.999)),
            "max_ms": round(lat.last().copied().unwrap_or(f64::NAN)),
        })
    );
}
