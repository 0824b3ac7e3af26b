#!/usr/bin/env python3
"""Malformed-request barrage against a real `ferry serve`: valid requests of every kind
(API start with ?wait, chunked body, form submit, signed hook, GETs, pipelined pairs),
mutated at random from a fixed seed and sent over fresh sockets on 127.0.0.1.

    python3 tests/integration/test_serve_fuzz.py path/to/ferry [--requests N] [--seed S]

The server must stay up, answer only with well-formed HTTP/1.1 (never a 500: bad input is
the client's error, not the server's), keep serving valid requests afterwards, and exit 0 on
SIGTERM with no sanitizer report in its log (under FERRY_SANITIZE builds). The load is
bounded (N requests, short socket timeouts) and the server is stopped by its PID.
"""

import argparse
import base64
import hashlib
import hmac
import json
import os
import random
import shutil
import socket
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_util import TOKENS, Server, tokens_yaml  # noqa: E402

HOOK_SECRET = b"fuzz-hook-secret-0123456789abcd"

FERRY_YAML = tokens_yaml() + """\
forms:
  ask:
    title: Ask
    workflow: shape
    public: true
    fields:
      - {name: host, type: string, required: true, pattern: "^[a-z0-9-]+$"}
      - {name: severity, type: choice, choices: [low, high], default: low}
      - {name: when, type: datetime}
      - {name: count, type: integer, min: 1, max: 9}
hooks:
  finding:
    secret: "${env:FUZZ_HOOK_SECRET}"
    verify: standard-webhooks
    tolerance: 5m
    action: {start: shape}
"""

WORKFLOW = """\
name: shape
inputs:
  host: {type: string, default: none}
  severity: {type: string, default: low}
  when: {type: string}
  count: {type: integer}
steps:
  - id: shape
    task: transform
    with:
      data: {host: "{{ inputs.host }}", severity: "{{ inputs.severity }}"}
      mappings:
        - {source: host, target: ci, transform: uppercase}
        - {source: severity, target: priority, map: {high: "2", low: "4"}, default: "3"}
outputs:
  ci: "{{ steps.shape.output.ci }}"
"""

# Pieces a mutation splices in: framing, encodings, numbers and escapes parsers trip over.
SPLICES = [b"\r\n", b"\r\n\r\n", b":", b" ", b"Content-Length: 99999999999\r\n",
           b"Content-Length: -1\r\n", b"Transfer-Encoding: chunked\r\n", b"%", b"%zz", b"\x00",
           b"\xff", b"{", b"}", b'"', b"[", b"\\u0000", b"\\ud800", b"?wait=", b"?wait=999h",
           b"?wait=-1s", b"..", b"/../", b"1e999", b"ffffffffffffffff\r\n",
           b"Authorization: Bearer x\r\n", b"Expect: 100-continue\r\n",
           b"Connection: keep-alive\r\n", b"Idempotency-Key: \r\n", b"webhook-id: \r\n"]


class Requests:
    def __init__(self, rng):
        self.rng = rng

    def api_start(self):
        body = json.dumps({"inputs": {"host": "web-01", "severity": "high"}}).encode()
        return (b"POST /api/v1/workflows/shape/executions?wait=1s HTTP/1.1\r\nHost: t\r\n"
                b"Authorization: Bearer " + TOKENS["operator"].encode() + b"\r\n"
                b"Content-Type: application/json\r\nContent-Length: " +
                str(len(body)).encode() + b"\r\n\r\n" + body)

    def chunked_start(self):
        body = json.dumps({"inputs": {"host": "db-02"}}).encode()
        return (b"POST /api/v1/workflows/shape/executions HTTP/1.1\r\nHost: t\r\n"
                b"Authorization: Bearer " + TOKENS["admin"].encode() + b"\r\n"
                b"Transfer-Encoding: chunked\r\n\r\n" + b"%x\r\n" % len(body) + body +
                b"\r\n0\r\n\r\n")

    def form_submit(self):
        body = b"host=web-01&severity=high&when=2027-01-10T22%3A00&count=3"
        return (b"POST /api/v1/forms/ask/submit HTTP/1.1\r\nHost: t\r\n"
                b"Content-Type: application/x-www-form-urlencoded\r\n"
                b"Idempotency-Key: k" + str(self.rng.randrange(40)).encode() + b"\r\n"
                b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)

    def hook(self):
        body = json.dumps({"host": "fw-03", "severity": "low"}).encode()
        msg_id = "msg_%d" % self.rng.randrange(1 << 30)
        ts = str(int(time.time()))
        signed = ("%s.%s." % (msg_id, ts)).encode() + body
        sig = base64.b64encode(hmac.new(HOOK_SECRET, signed, hashlib.sha256).digest()).decode()
        return ("POST /hooks/finding HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                "webhook-id: %s\r\nwebhook-timestamp: %s\r\nwebhook-signature: v1,%s\r\n"
                "Content-Length: %d\r\n\r\n" % (msg_id, ts, sig, len(body))).encode() + body

    def get(self):
        path = self.rng.choice([
            b"/healthz", b"/metrics", b"/api/v1/openapi.json", b"/api/v1/workflows",
            b"/api/v1/workflows/shape", b"/api/v1/executions?limit=5&status=succeeded",
            b"/api/v1/forms", b"/forms/ask", b"/api/v1/forms/ask", b"/api/v1/dlq",
            b"/api/v1/integrations", b"/api/v1/schedules",
            b"/api/v1/executions/01J0000000000000000000000/diff"])
        return (b"GET " + path + b" HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer " +
                TOKENS["viewer"].encode() + b"\r\n\r\n")

    def valid(self):
        return self.rng.choice([self.api_start, self.chunked_start, self.form_submit,
                                self.hook, self.get])()

    def mutated(self):
        raw = self.valid()
        if self.rng.random() < 0.3:
            raw += self.valid()  # pipelined
        b = bytearray(raw)
        for _ in range(self.rng.randint(0, 5)):
            if not b:
                break
            i = self.rng.randrange(len(b))
            op = self.rng.random()
            if op < 0.25:
                del b[i:i + self.rng.randint(1, 30)]
            elif op < 0.55:
                b[i:i] = self.rng.choice(SPLICES)
            elif op < 0.7:
                b[i] = self.rng.randrange(256)
            elif op < 0.85:
                j = self.rng.randrange(len(b))
                b[i:i] = b[j:j + self.rng.randint(1, 200)]
            else:
                del b[i:]  # truncated
        return bytes(b)


def exchange(port, raw, rng, timeout):
    """Sends raw on a fresh connection; -> the bytes answered before close or timeout."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(raw)
        if rng.random() < 0.3:
            s.shutdown(socket.SHUT_WR)
        out = b""
        try:
            while len(out) < (1 << 20):
                chunk = s.recv(65536)
                if not chunk:
                    break
                out += chunk
        except socket.timeout:
            pass
        return out


def status_lines(data):
    """Status codes of the responses in data, in order: each status line, then its headers
    and a Content-Length body skipped ('?' where no well-formed response starts)."""
    codes = []
    at = 0
    while at < len(data):
        if not data.startswith(b"HTTP/1.1 ", at):
            codes.append("?")
            break
        code = data[at + 9:at + 12]
        end = data.find(b"\r\n\r\n", at)
        if not code.isdigit() or data[at + 12:at + 13] != b" " or end < 0:
            codes.append("?" if end >= 0 else code.decode("latin1"))  # cut short by timeout
            break
        codes.append(code.decode())
        length = 0
        for line in data[at:end].split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip() or b"0")
        at = end + 4 + length
    return codes


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("ferry")
    ap.add_argument("--requests", type=int, default=500)
    ap.add_argument("--seed", type=int, default=20261202)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    project = tempfile.mkdtemp(prefix="ferry-fuzz-")
    os.makedirs(os.path.join(project, "workflows"))
    with open(os.path.join(project, "ferry.yaml"), "w") as f:
        f.write(FERRY_YAML)
    with open(os.path.join(project, "workflows", "shape.yaml"), "w") as f:
        f.write(WORKFLOW)
    env = dict(os.environ,
               FUZZ_HOOK_SECRET="whsec_" + base64.b64encode(HOOK_SECRET).decode())
    server = Server(args.ferry, project, os.path.join(project, ".ferry"), ["--quiet"], env=env)
    failures = []
    seen = {}
    try:
        gen = Requests(rng)
        for n in range(args.requests):
            raw = gen.mutated()
            try:
                answer = exchange(server.port, raw, rng, timeout=0.1)
            except OSError as e:
                answer = b""
                if server.proc.poll() is not None:
                    failures.append("request %d: the server exited (%s)" % (n, e))
                    break
            if answer and not answer.startswith(b"HTTP/1.1 "):
                failures.append("request %d: not an HTTP/1.1 answer: %r" % (n, answer[:60]))
            for code in status_lines(answer):
                seen[code] = seen.get(code, 0) + 1
                if code == "?" or code == "500":
                    failures.append("request %d: status %s for %r" % (n, code, raw[:200]))
        # Still serving: each valid request kind works after the barrage.
        clean = Requests(random.Random(1))
        for make, want in ((clean.get, "200"), (clean.api_start, "200"),
                           (clean.form_submit, "202"), (clean.hook, "202")):
            answer = exchange(server.port, make().replace(b"HTTP/1.1\r\n", b"HTTP/1.1\r\n"
                                                          b"Connection: close\r\n", 1),
                              random.Random(0), timeout=10)
            codes = status_lines(answer)
            if codes[:1] != [want]:
                failures.append("after the barrage, %s answered %r" % (make.__name__,
                                                                       answer[:200]))
    finally:
        rc = server.stop()
    log = open(os.path.join(project, "serve.log"), errors="replace").read()
    for line in log.splitlines():
        if "runtime error" in line or "AddressSanitizer" in line or "LeakSanitizer" in line:
            failures.append("sanitizer: " + line)
    if rc != 0:
        failures.append("ferry serve exited %s on SIGTERM" % rc)
    print("statuses:", ", ".join("%s x%d" % kv for kv in sorted(seen.items())))
    if failures:
        print("\n".join(failures[:20]))
        print("FAILED (%d problems; project kept in %s)" % (len(failures), project))
        return 1
    shutil.rmtree(project, ignore_errors=True)
    print("OK: %d mutated requests, the server kept serving" % args.requests)
    return 0


if __name__ == "__main__":
    sys.exit(main())
