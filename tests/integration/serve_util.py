"""Start and stop `ferry serve` for integration tests: a temporary project, a free port on
127.0.0.1, the process stopped by its PID (SIGTERM, bounded wait, SIGKILL), HTTP helpers."""
import hashlib
import http.client
import json
import os
import signal
import subprocess
import time

TOKENS = {"viewer": "view-token-0001", "operator": "oper-token-0002", "admin": "admin-token-003"}


def tokens_yaml():
    lines = ["auth:", "  tokens:"]
    for role, tok in TOKENS.items():
        lines.append("    - {name: %s, sha256: \"%s\", role: %s}" % (
            role, hashlib.sha256(tok.encode()).hexdigest(), role))
    return "\n".join(lines) + "\n"


def listening_url(log_text):
    """The URL of the `listening on` line in a server's log text, or None."""
    for line in log_text.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("log") == "server" and str(entry.get("message", "")).startswith(
                "listening on "):
            return entry["url"]
    return None


class Server:
    def __init__(self, ferry, project, data, extra_args=(), env=None, preexec_fn=None):
        # Port 0: the kernel picks the port at ferry's own bind, and the `listening on` line
        # names it. A port picked here and bound by ferry later (free_port) could be taken
        # in between by any other bind(0) on the host (ctest -j2 runs another test beside).
        log_path = os.path.join(str(project), "serve.log")
        self.log = open(log_path, "ab")
        start = self.log.tell()
        self.proc = subprocess.Popen(
            [ferry, "serve", "--listen", "127.0.0.1:0", "--project", str(project), "--data",
             str(data), *extra_args], stdout=subprocess.DEVNULL, stderr=self.log, env=env,
            preexec_fn=preexec_fn)
        # Ready at its `listening on` line (docs/operations.md: written once it answers).
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with open(log_path, "rb") as f:
                f.seek(start)
                url = listening_url(f.read().decode("utf-8", "replace"))
            if url:
                self.url = url.split("://", 1)[1]
                self.port = int(self.url.rsplit(":", 1)[1])
                return
            if self.proc.poll() is not None:
                raise RuntimeError("ferry serve exited with %s" % self.proc.returncode)
            time.sleep(0.02)
        self.stop()
        raise RuntimeError("ferry serve did not start listening")

    def request(self, method, path, body=None, headers=None, role=None, timeout=15):
        h = dict(headers or {})
        if role:
            h["Authorization"] = "Bearer " + TOKENS[role]
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
            h.setdefault("Content-Type", "application/json")
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=h)
            r = conn.getresponse()
            data = r.read()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, data
        finally:
            conn.close()

    def json(self, method, path, body=None, role=None, headers=None, timeout=15):
        status, headers, data = self.request(method, path, body, headers, role, timeout)
        return status, (json.loads(data) if data else None)

    def stop(self, sig=signal.SIGTERM, timeout=15):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        self.log.close()
        return self.proc.returncode
