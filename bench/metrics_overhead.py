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
import os
import shutil
import sys
import tempfile

from hs_server import per_request_us, prepare, start, token

BIN = sys.argv[1] if len(sys.argv) > 1 else "target/release/hardshell"
N = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
ROUNDS = int(sys.argv[3]) if len(sys.argv) > 3 else 5


def main():
    root = tempfile.mkdtemp(prefix="hs-metrics-bench-")
    servers = []
    try:
        prepare(root)
        off = start(root, "off", BIN)
        servers.append(off[0])
        on = start(root, "on", BIN, "\n[metrics]\nenabled = true\n")
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
