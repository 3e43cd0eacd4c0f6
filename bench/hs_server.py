"""Shared by the server benchmarks: start a `hardshell serve` with one
owner in a temporary directory, get a bearer token, time sequential
keep-alive GETs. The passphrase file and machine id live in `root`.
"""
import http.client
import json
import os
import re
import subprocess
import time

PASSWORD = "olga-violet-harbour-42"


def prepare(root):
    """Writes the machine id and passphrase file every server under `root` uses."""
    with open(os.path.join(root, "machine-id"), "w") as f:
        f.write("0123456789abcdef0123456789abcdef\n")
    with open(os.path.join(root, "passphrase"), "w") as f:
        f.write("correct horse battery staple 42\n")


def start(root, name, binary, config=""):
    """Inits a data directory with owner olga, appends `config` to its
    config.toml, serves it on 127.0.0.1; returns (process, port)."""
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
    subprocess.run([binary, "init", "--passphrase-file", pp], env=env, check=True, capture_output=True)
    subprocess.run(
        [binary, "users", "add", "olga", "--role", "owner", "--password-stdin", "--passphrase-file", pp],
        env=env, input=(PASSWORD + "\n").encode(), check=True, capture_output=True,
    )
    if config:
        with open(os.path.join(d, "data", "config.toml"), "a") as f:
            f.write(config)
    p = subprocess.Popen(
        [binary, "serve", "--bind", "127.0.0.1:0", "--passphrase-file", pp],
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
