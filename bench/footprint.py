#!/usr/bin/env python3
"""Footprint benchmark for the release binary.

Measures, on this machine:
  - release binary size;
  - time from launching `hardshell serve` to the first 200 from /healthz,
    for a sealed data directory and for a passphrase-file one (median and
    max of N runs; the vault's Argon2id at 64 MiB is part of it);
  - idle resident memory (VmRSS, split into anonymous and file-backed
    pages, and VmHWM = peak) 3 s and 10 s after start-up with the vault
    unlocked and the database open (`serve` releases start-up's pages 5 s
    after it listens).

Usage: python3 bench/footprint.py [path/to/hardshell] [runs]
Everything runs in a temporary directory on loopback; nothing else is touched.
"""
import http.client
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

BIN = sys.argv[1] if len(sys.argv) > 1 else "target/release/hardshell"
RUNS = int(sys.argv[2]) if len(sys.argv) > 2 else 10


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def env_for(tmp):
    env = {k: v for k, v in os.environ.items() if not k.startswith("HARDSHELL_")}
    env["HARDSHELL_HOME"] = os.path.join(tmp, "data")
    env["HARDSHELL_MACHINE_KEY_FILE"] = os.path.join(tmp, "machine", "machine.key")
    env["HARDSHELL_LOG"] = "warn"
    return env


def healthz_ok(port):
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=0.5)
        c.request("GET", "/healthz")
        ok = c.getresponse().status == 200
        c.close()
        return ok
    except OSError:
        return False


def launch(env, extra, port):
    t0 = time.perf_counter()
    p = subprocess.Popen([BIN, "serve", "--bind", f"127.0.0.1:{port}"] + extra,
                         env=env, stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while not healthz_ok(port):
        if p.poll() is not None:
            raise RuntimeError("server exited")
        time.sleep(0.002)
    return p, (time.perf_counter() - t0) * 1000.0


def stop(p):
    p.terminate()
    p.wait(timeout=30)


def rss_kib(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(("VmRSS", "VmHWM", "RssAnon", "RssFile")):
                k, v = line.split(":")
                out[k] = int(v.split()[0])
    return out


def measure(mode):
    tmp = tempfile.mkdtemp(prefix="hs-bench-")
    try:
        env = env_for(tmp)
        extra = []
        if mode == "sealed":
            subprocess.run([BIN, "init", "--sealed"], env=env, check=True,
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        else:
            pf = os.path.join(tmp, "pass")
            with open(pf, "w") as f:
                f.write("benchmark passphrase 123\n")
            os.chmod(pf, 0o600)
            subprocess.run([BIN, "init", "--passphrase-file", pf], env=env, check=True,
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
            extra = ["--passphrase-file", pf]
        times = []
        rss = None
        for i in range(RUNS):
            port = free_port()
            p, ms = launch(env, extra, port)
            times.append(ms)
            if i == RUNS - 1:
                # 3 s: what earlier figures used. 10 s: after `serve` has
                # released start-up's pages (5 s after listening).
                time.sleep(3)
                rss = {"3": rss_kib(p.pid)}
                time.sleep(7)
                rss["10"] = rss_kib(p.pid)
            stop(p)
        return times, rss
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    size = os.path.getsize(BIN)
    print(f"binary: {BIN}  size: {size / 1e6:.2f} MB ({size} bytes)")
    for mode in ("sealed", "passphrase-file"):
        times, rss = measure(mode)
        print(f"{mode:16} launch->first /healthz 200: median {statistics.median(times):.0f} ms, "
              f"min {min(times):.0f} ms, max {max(times):.0f} ms over {len(times)} runs")
        for at, r in rss.items():
            print(f"{mode:16} idle RSS after {at:>2} s: {r['VmRSS'] / 1024:.1f} MiB "
                  f"(anonymous {r['RssAnon'] / 1024:.1f}, file-backed {r['RssFile'] / 1024:.1f}; "
                  f"peak {r['VmHWM'] / 1024:.1f} MiB)")


if __name__ == "__main__":
    main()
