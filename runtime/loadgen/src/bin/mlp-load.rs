//! `mlp-load`: the serving benchmarks' load generator (`mlp_loadgen`) on the command
//! line. N clients, each on its own keep-alive connection, POST a JSON body for a fixed time
//! (the same one, or the lines of a file in turn, so that traffic has real rows' variety),
//! closed loop (`--rate 0`) or open loop at a fixed total rate. Prints one JSON object:
//! requests, errors, throughput, p50/p90/p99/p99.9/max in ms.
//!
//! `mlp-load --url URL (--body JSON | --bodies FILE) [--clients 32] [--seconds 10] [--rate 0]
//! [--warmup 2]`: with `--bodies`, one JSON body a line; the requests take the lines in turn
//! (the n-th request of the whole run, counted over the clients, the line n modulo their
//! number), so each client sends the same sequence of bodies in every run.

use mlp_loadgen::{run, LoadSpec};

fn parse() -> Result<LoadSpec, String> {
    let mut a = LoadSpec {
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

fn main() {
    let a = match parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("mlp-load: {e}");
            std::process::exit(1);
        }
    };
    let r = run(&a);
    let round = |x: f64| (x * 1000.0).round() / 1000.0;
    println!(
        "{}",
        serde_json::json!({
            "clients": a.clients,
            "rate": if a.rate > 0.0 { serde_json::json!(a.rate) } else { serde_json::json!("closed loop") },
            "seconds": a.seconds,
            "requests": r.requests(),
            "errors": r.errors,
            "throughput_per_s": round(r.throughput()),
            "p50_ms": round(r.quantile_ms(0.5)),
            "p90_ms": round(r.quantile_ms(0.9)),
            "p99_ms": round(r.quantile_ms(0.99)),
            "p999_ms": round(r.quantile_ms(0.999)),
            "max_ms": round(r.latencies_ms.last().copied().unwrap_or(f64::NAN)),
        })
    );
}
