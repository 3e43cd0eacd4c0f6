"""Runs schemathesis (not part of CI: `pip install schemathesis`) against a
debug `hardshell serve` with one owner, checking that every status a
route answers is one its OpenAPI operation documents, that no request
gets a 5xx, and that responses match their schemas.

Usage: python3 bench/schemathesis_run.py BINARY [MAX_EXAMPLES]
"""
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
import hs_server  # noqa: E402


def main():
    binary = sys.argv[1]
    examples = sys.argv[2] if len(sys.argv) > 2 else "20"
    with tempfile.TemporaryDirectory() as root:
        hs_server.prepare(root)
        p, port = hs_server.start(root, "st", binary)
        try:
            tok = hs_server.token(port)
            base = f"http://127.0.0.1:{port}"
            cmd = [
                "st", "run", f"{base}/api/v1/openapi.json",
                "--url", base,
                "-H", f"Authorization: Bearer {tok}",
                "--checks", "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
                "--max-examples", examples,
                "--workers", "2",
                "--phases", "examples,coverage,fuzzing",
                # Logging out, revoking sessions and changing or disabling
                # users can end the run's own credentials.
                "--exclude-path-regex", r"/auth/(logout|sessions)|/users/\{id\}$",
            ]
            return subprocess.run(cmd).returncode
        finally:
            p.terminate()
            p.wait()


if __name__ == "__main__":
    sys.exit(main())
