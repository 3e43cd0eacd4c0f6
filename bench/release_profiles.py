#!/usr/bin/env python3
"""Does the lighter release profile cost anything at run time? (issue 14)

Starts two `hardshell serve` on loopback, one from each binary (say, one
built with the default release profile, fat LTO and one codegen unit, and
one built with CARGO_PROFILE_RELEASE_LTO=thin
CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16), each with a fresh data directory
and one owner. Alternating rounds so the shared machine's noise falls on
both, it times sequential keep-alive requests: `GET /api/v1/auth/me` (the
authenticated path: bearer lookup, permission check, headers, access log)
and `GET /api/v1/openapi.json` (about 200 KB of JSON: serialisation), and
prints microseconds per request for every round.

Usage: python3 bench/release_profiles.py BIN_A BIN_B [requests per round] [rounds]
Everything runs in a temporary directory on 127.0.0.1; nothing else is touched.
"""
import os
import shutil
import sys
import tempfile

from hs_server import per_request_us, prepare, start, token

BINS = {"A": sys.argv[1], "B": sys.argv[2]}
N = int(sys.argv[3]) if len(sys.argv) > 3 else 2000
ROUNDS = int(sys.argv[4]) if len(sys.argv) > 4 else 5


def main():
    root = tempfile.mkdtemp(prefix="hs-profile-bench-")
    servers = []
    try:
        prepare(root)
        ports = {}
        for name, binary in BINS.items():
            p, port = start(root, name, binary)
            servers.append(p)
            ports[name] = port
        toks = {name: token(port) for name, port in ports.items()}
        for path, n in (("/api/v1/auth/me", N), ("/api/v1/openapi.json", max(N // 10, 20))):
            rounds = {name: [] for name in BINS}
            for _ in range(ROUNDS):
                for name, port in ports.items():
                    rounds[name].append(per_request_us(port, toks[name], n, path)[0])
            for name in BINS:
                r = sorted(rounds[name])
                print(f"{path} {name} ({BINS[name]}): median {r[len(r) // 2]:.0f} us/request; rounds {[round(x) for x in r]}")
    finally:
        for p in servers:
            p.terminate()
            p.wait()
        shutil.rmtree(root, ignore_errors=True)


main()
