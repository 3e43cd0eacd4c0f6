#!/usr/bin/env python3
"""Memory while uploads arrive (issue 17: "uploads are held in memory").

Starts `hardshell serve` on loopback with a fresh data directory and four
members, then sends N parallel `POST /api/v1/uploads` of SIZE MiB of text
each (two per member, each with its own content), retrying any 429 after its
Retry-After until every upload is stored, and samples the server's resident
memory the whole time. Reports: idle RSS before, the peak RSS during the
uploads (VmHWM and the highest sample), the answers by status, and the idle
RSS a few seconds after.

Usage: python3 bench/upload_memory.py [path/to/hardshell] [parallel] [MiB]

Each body is sent at full loopback speed. Everything runs in a temporary
directory on 127.0.0.1; nothing else is touched.
"""
import base64
import collections
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
N = int(sys.argv[2]) if len(sys.argv) > 2 else 8
MIB = int(sys.argv[3]) if len(sys.argv) > 3 else 20
USERS = 4
BOUNDARY = "hs-bench-upload-boundary"


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


def text(size):
    """`size` bytes of printable text with a newline every 76 characters."""
    raw = base64.encodebytes(os.urandom(size * 3 // 4 + 64))
    return raw[:size - 1] + b"\n"


def body(i):
    head = (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename=\"bench-{i}.txt\"\r\nContent-Type: text/plain\r\n\r\n").encode()
    return head + text(MIB * 1024 * 1024) + f"\r\n--{BOUNDARY}--\r\n".encode()


def main():
    tmp = tempfile.mkdtemp(prefix="hs-upload-mem-")
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
        for u in range(USERS):
            subprocess.run([BIN, "users", "add", f"member{u}", "--role", "member",
                            "--password-stdin", "--passphrase-file", pf], env=env,
                           check=True, input=b"benchmark-member-password-1\n",
                           stdout=subprocess.DEVNULL)
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
        tokens = []
        for u in range(USERS):
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            c.request("POST", "/api/v1/auth/token", json.dumps({
                "grant_type": "password", "username": f"member{u}",
                "password": "benchmark-member-password-1"}),
                {"Content-Type": "application/json"})
            r = c.getresponse()
            tokens.append(json.loads(r.read())["access_token"])
        bodies = [body(i) for i in range(N)]
        time.sleep(3)
        idle_before = rss_kib(server.pid)

        samples = []
        stop = threading.Event()

        def sample():
            while not stop.is_set():
                try:
                    samples.append(rss_kib(server.pid))
                except OSError:
                    return
                time.sleep(0.01)

        statuses = collections.Counter()
        lock = threading.Lock()
        go = threading.Event()

        def upload(i):
            go.wait()
            while True:
                try:
                    c = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
                    c.request("POST", "/api/v1/uploads", bodies[i], {
                        "Authorization": f"Bearer {tokens[i % USERS]}",
                        "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"})
                    r = c.getresponse()
                    s = r.status
                    retry = r.getheader("Retry-After")
                    r.read()
                except (BrokenPipeError, ConnectionResetError) as e:
                    # Refused (429) before the body was sent: the server
                    # closed the connection under the client.
                    s, retry = type(e).__name__, None
                except OSError as e:
                    s, retry = type(e).__name__, None
                with lock:
                    statuses[s] += 1
                if s not in (429, "BrokenPipeError", "ConnectionResetError"):
                    return
                time.sleep(float(retry or 1) * 0.2)

        sampler = threading.Thread(target=sample)
        sampler.start()
        threads = [threading.Thread(target=upload, args=(i,)) for i in range(N)]
        for t in threads:
            t.start()
        t0 = time.perf_counter()
        go.set()
        for t in threads:
            t.join()
        secs = time.perf_counter() - t0
        time.sleep(5)
        stop.set()
        sampler.join()
        idle_after = rss_kib(server.pid)
        hwm = rss_kib(server.pid, "VmHWM")
        server.terminate()
        server.wait(timeout=30)
        mib = lambda k: k / 1024
        print(f"{N} parallel uploads of {MIB} MiB ({USERS} members) in {secs:.2f} s; "
              f"answers: {dict(statuses)}")
        print(f"idle RSS before: {mib(idle_before):.1f} MiB")
        print(f"peak RSS during: {mib(max(samples or [0])):.1f} MiB (sampled), "
              f"VmHWM {mib(hwm):.1f} MiB, so +{mib(hwm - idle_before):.1f} MiB")
        print(f"idle RSS 5 s after: {mib(idle_after):.1f} MiB")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
