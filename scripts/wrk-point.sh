#!/usr/bin/env bash
# One closed-loop point with wrk (one load thread, CONNS keep-alive connections) posting BODY
# to URL for SECONDS; prints one JSON line: throughput, p50 and p99 in ms, non-2xx answers,
# socket errors. wrk costs the shared cores less than mlp-load (about 35 us of CPU per request).
# Usage: scripts/wrk-point.sh URL BODY CONNS SECONDS
url="$1"; body="$2"; conns="$3"; secs="$4"
lua="$(mktemp --suffix=.lua)"
python3 - "$body" > "$lua" <<'PY'
import json, sys
b = sys.argv[1]
print('wrk.method = "POST"')
print('wrk.headers["Content-Type"] = "application/json"')
print('wrk.body = ' + json.dumps(b))
PY
out="$(wrk -t1 -c"$conns" -d"${secs}s" --latency -s "$lua" "$url" 2>&1)"
rm -f "$lua"
python3 - "$out" <<'PY'
import re, sys
o = sys.argv[1]
def ms(v):
    m = re.match(r"([\d.]+)(us|ms|s)", v)
    x = float(m.group(1)); u = m.group(2)
    return x / 1000 if u == "us" else x * 1000 if u == "s" else x
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", o).group(1))
p50 = ms(re.search(r"^\s+50%\s+(\S+)", o, re.M).group(1))
p99 = ms(re.search(r"^\s+99%\s+(\S+)", o, re.M).group(1))
err = re.search(r"Non-2xx or 3xx responses: (\d+)", o)
sock = re.search(r"Socket errors: (.*)", o)
print(f'{{"throughput_per_s": {rps:.0f}, "p50_ms": {p50:.2f}, "p99_ms": {p99:.2f}, "non_2xx": {err.group(1) if err else 0}, "socket_errors": "{sock.group(1) if sock else ""}"}}')
PY
