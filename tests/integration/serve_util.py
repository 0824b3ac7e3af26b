"""Start and stop `ferry serve` for integration tests: a temporary project, a free port on
127.0.0.1, the process stopped by its PID (SIGTERM, bounded wait, SIGKILL), HTTP helpers."""
import hashlib
import http.client
import json
import os
import signal
import socket
import subprocess
import time

TOKENS = {"viewer": "view-token-0001", "operator": "oper-token-0002", "admin": "admin-token-003"}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tokens_yaml():
    lines = ["auth:", "  tokens:"]
    for role, tok in TOKENS.items():
        lines.append("    - {name: %s, sha256: \"%s\", role: %s}" % (
            role, hashlib.sha256(tok.encode()).hexdigest(), role))
    return "\n".join(lines) + "\n"


class Server:
    def __init__(self, ferry, project, data, extra_args=(), env=None, preexec_fn=None):
        self.port = free_port()
        self.url = "127.0.0.1:%d" % self.port
        self.log = open(os.path.join(str(project), "serve.log"), "ab")
        self.proc = subprocess.Popen(
            [ferry, "serve", "--listen", self.url, "--project", str(project), "--data", str(data),
             *extra_args], stdout=subprocess.DEVNULL, stderr=self.log, env=env,
            preexec_fn=preexec_fn)
        # Ready once it answers: the address is bound before the data folder is opened (so a
        # refused server leaves none behind), and a connection accepted then waits in the
        # backlog until the loop runs, after the folder, its lock and the resumes.
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("ferry serve exited with %s" % self.proc.returncode)
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=0.5)
            try:
                conn.request("GET", "/healthz")
                conn.getresponse().read()
                return
            except (OSError, http.client.HTTPException):
                time.sleep(0.05)
            finally:
                conn.close()
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
