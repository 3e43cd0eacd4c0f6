#!/usr/bin/env python3
"""What turning `/metrics` on costs a request (issue 22).

Starts two `hardshell serve` on loopback, each with a fresh data directory
and one owner, one with `[metrics] enabled = true`. Sends N sequential
keep-alive `GET /api/v1/auth/me` with the owner's bearer token to each,
alternating rounds so the shared machine's noise falls on both, and prints
microseconds per request for every round; then times `GET /metrics` and
prints its size.

Usage: python3 bench/metrics_overhead.py [path/to/hardshell] [requests per round] [rounds]
Everything runs in a temporary directory on 127.0.0.1; nothing else is touched.
"""
import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

BIN = sys.argv[1] if len(sys.argv) > 1 else "target/release/hardshell"
N = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
ROUNDS = int(sys.argv[3]) if len(sys.argv) > 3 else 5
PASSWORD = "olga-violet-harbour-42"


def start(root, name, metrics):
    d = os.path.join(root, name)
    os.makedirs(d)
    env = dict(os.environ)
    env.update(
        HARDSHELL_HOME=os.path.join(d, "data"),
        HARDSHELL_MACHINE_KEY_FILE=os.path.join(d, "machine.key"),
        HARDSHELL_MACHINE_ID_FILE=os.path.join(root, "machine-id"),
        HARDSHELL_LOG="warn",
    )
    pp = os.path.join(root, "passphrase")
    subprocess.run([BIN, "init", "--passphrase-file", pp], env=env, check=True, capture_output=True)
    subprocess.run(
        [BIN, "users", "add", "olga", "--role", "owner", "--password-stdin", "--passphrase-file", pp],
        env=env, input=(PASSWORD + "\n").encode(), check=True, capture_output=True,
    )
    if metrics:
        with open(os.path.join(d, "data", "config.toml"), "a") as f:
            f.write("\n[metrics]\nenabled = true\n")
    p = subprocess.Popen(
        [BIN, "serve", "--bind", "127.0.0.1:0", "--passphrase-file", pp],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    for line in p.stdout:
        m = re.search(r"listening on http://127\.0\.0\.1:(\d+)", line)
        if m:
            return p, int(m.group(1))
    raise SystemExit(f"{name}: the server did not start")


def token(port):
    c = http.client.HTTPConnection("127.0.0.1", port)
    body = json.dumps({"grant_type": "password", "username": "olga", "password": PASSWORD})
    c.request("POST", "/api/v1/auth/token", body, {"content-type": "application/json"})
    return json.loads(c.getresponse().read())["access_token"]


def per_request_us(port, tok, n, path="/api/v1/auth/me"):
    c = http.client.HTTPConnection("127.0.0.1", port)
    headers = {"authorization": "Bearer " + tok}
    t = time.perf_counter()
    for _ in range(n):
        c.request("GET", path, headers=headers)
        body = c.getresponse().read()
    return (time.perf_counter() - t) / n * 1e6, len(body)


def main():
    root = tempfile.mkdtemp(prefix="hs-metrics-bench-")
    servers = []
    try:
        with open(os.path.join(root, "machine-id"), "w") as f:
            f.write("0123456789abcdef0123456789abcdef\n")
        with open(os.path.join(root, "passphrase"), "w") as f:
            f.write("correct horse battery staple 42\n")
        off = start(root, "off", False)
        servers.append(off[0])
        on = start(root, "on", True)
        servers.append(on[0])
        toks = {"off": token(off[1]), "on": token(on[1])}
        rounds = {"off": [], "on": []}
        for _ in range(ROUNDS):
            for name, (_, port) in (("off", off), ("on", on)):
                rounds[name].append(per_request_us(port, toks[name], N)[0])
        for name in ("off", "on"):
            r = sorted(rounds[name])
            print(f"metrics {name:>3}: median {r[len(r) // 2]:.0f} us/request; rounds {[round(x) for x in r]}")
        us, size = per_request_us(on[1], toks["on"], 200, "/metrics")
        print(f"GET /metrics: {us:.0f} us, {size} bytes")
    finally:
        for p in servers:
            p.terminate()
            p.wait()
        shutil.rmtree(root, ignore_errors=True)


main()
