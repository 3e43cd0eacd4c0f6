#!/usr/bin/env python3
"""Memory under a login flood (issue: hardening from the outside audit).

Starts `hardshell serve` on loopback with a fresh data directory and one
owner, then fires N concurrent `POST /api/v1/auth/login` for unknown users
(each would cost an Argon2id verify at 64 MiB), and samples the server's
resident memory the whole time. Reports: idle RSS before, the peak RSS during
the flood (VmHWM and the highest sample), the answers by status, and the idle
RSS a few seconds after. Goal: peak under 150 MB, and idle back within 20 %
of where it started.

Usage: python3 bench/login_flood.py [path/to/hardshell] [concurrent] [one-ip|many-ips]

`one-ip` (the default) sends every attempt from 127.0.0.1, so the lockout
answers all but five; `many-ips` puts the server behind a trusted proxy
(127.0.0.1) and gives each attempt its own X-Forwarded-For address, so every
attempt reaches the password check and only the hashing bound holds.
Everything runs in a temporary directory on 127.0.0.1; nothing else is touched.
"""
import collections
import re
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

BIN = sys.argv[1] if len(sys.argv) > 1 else "target/release/hardshell"
N = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
MANY_IPS = len(sys.argv) > 3 and sys.argv[3] == "many-ips"
SETTLE_SECS = 8


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def rss_kib(pid, field="VmRSS"):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def main():
    tmp = tempfile.mkdtemp(prefix="hs-login-flood-")
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith("HARDSHELL_")}
        env["HARDSHELL_HOME"] = os.path.join(tmp, "data")
        env["HARDSHELL_MACHINE_KEY_FILE"] = os.path.join(tmp, "machine", "machine.key")
        env["HARDSHELL_LOG"] = "error"
        pf = os.path.join(tmp, "passphrase")
        with open(pf, "w") as f:
            f.write("a long enough benchmark passphrase\n")
        subprocess.run([BIN, "init", "--passphrase-file", pf], env=env, check=True,
                       stdout=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        subprocess.run([BIN, "users", "add", "owner", "--role", "owner", "--password-stdin",
                        "--passphrase-file", pf], env=env, check=True,
                       input=b"benchmark-owner-password-1\n", stdout=subprocess.DEVNULL)
        if MANY_IPS:
            cfg = os.path.join(tmp, "data", "config.toml")
            with open(cfg) as f:
                text = f.read()
            text = text.replace("allowed_origins = []",
                                "allowed_origins = []\ntrusted_proxies = [\"127.0.0.1\"]")
            with open(cfg, "w") as f:
                f.write(text)
        port = free_port()
        server = subprocess.Popen([BIN, "serve", "--bind", f"127.0.0.1:{port}",
                                   "--passphrase-file", pf], env=env,
                                  stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        for _ in range(600):
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=0.5)
                c.request("GET", "/healthz")
                if c.getresponse().status == 200:
                    break
            except OSError:
                time.sleep(0.05)
        # `serve` gives back its start-up pages 5 s after listening and
        # trims the heap every 5 s: measure both sides after that.
        time.sleep(SETTLE_SECS)
        idle_before = rss_kib(server.pid)
        split_before = (rss_kib(server.pid, "RssAnon"), rss_kib(server.pid, "RssFile"))

        samples = []
        stop = threading.Event()

        def sample():
            while not stop.is_set():
                try:
                    samples.append(rss_kib(server.pid))
                except OSError:
                    return
                time.sleep(0.02)

        statuses = collections.Counter()
        lock = threading.Lock()
        go = threading.Event()

        def login(i):
            go.wait()
            body = json.dumps({"username": f"nobody{i}", "password": "wrong-password-123"})
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                headers = {"Content-Type": "application/json"}
                if MANY_IPS:
                    headers["X-Forwarded-For"] = f"198.18.{i // 250}.{i % 250 + 1}"
                c.request("POST", "/api/v1/auth/login", body, headers)
                s = c.getresponse().status
            except OSError as e:
                s = type(e).__name__
            with lock:
                statuses[s] += 1

        sampler = threading.Thread(target=sample)
        sampler.start()
        threads = [threading.Thread(target=login, args=(i,)) for i in range(N)]
        for t in threads:
            t.start()
        t0 = time.perf_counter()
        go.set()
        for t in threads:
            t.join()
        flood_secs = time.perf_counter() - t0
        time.sleep(SETTLE_SECS)
        stop.set()
        sampler.join()
        idle_after = rss_kib(server.pid)
        split_after = (rss_kib(server.pid, "RssAnon"), rss_kib(server.pid, "RssFile"))
        hwm = rss_kib(server.pid, "VmHWM")
        if os.environ.get("FLOOD_SMAPS"):
            # Where the resident memory is: the largest mappings.
            maps, cur = [], None
            with open(f"/proc/{server.pid}/smaps") as f:
                for line in f:
                    if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
                        cur = line.split()
                    elif line.startswith("Rss:") and cur:
                        maps.append((int(line.split()[1]), " ".join(cur[5:]) or "[anon]", cur[0]))
            for kib, name, rng in sorted(maps, reverse=True)[:8]:
                print(f"  {kib / 1024:7.1f} MiB  {name}  {rng}")
        server.terminate()
        server.wait(timeout=30)
        mib = lambda k: k / 1024
        print(f"mode: {'many-ips' if MANY_IPS else 'one-ip'}")
        print(f"concurrent logins: {N} in {flood_secs:.2f} s; answers: {dict(statuses)}")
        print(f"idle RSS before: {mib(idle_before):.1f} MiB")
        print(f"peak RSS during: {mib(max(samples or [0])):.1f} MiB (sampled), VmHWM {mib(hwm):.1f} MiB")
        print(f"idle RSS {SETTLE_SECS} s after: {mib(idle_after):.1f} MiB "
              f"({100 * (idle_after - idle_before) / max(idle_before, 1):+.0f} %)")
        for label, (anon, file) in (("before", split_before), ("after", split_after)):
            print(f"  {label}: anonymous {mib(anon):.1f} MiB, the binary's pages {mib(file):.1f} MiB")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
