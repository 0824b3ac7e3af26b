#!/usr/bin/env python3
"""Integration tests of `ferry serve`'s REST API core with a real HTTP client: the role
matrix of every endpoint, starting executions (durable 202, Idempotency-Key, ?wait=),
history, metrics, the OpenAPI document, malformed requests, and restarts.

    python3 tests/integration/test_serve.py path/to/ferry [TestName ...]
"""
import hashlib
import base64
import json
import os
import re
import resource
import signal
import socket
import subprocess
import sys
import threading
import time
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import openapi_check as oa  # noqa: E402
import test_engine as te  # noqa: E402
from serve_util import TOKENS, Server, tokens_yaml  # noqa: E402

sys.path.insert(0, str(HERE / "mocks"))
from mockctl import start_mock  # noqa: E402

HELLO = """\
inputs: {name: {type: string, required: true, max_length: 20}}
steps:
  - id: greet
    task: transform
    with:
      data: {n: "{{ inputs.name }}"}
      mappings: [{source: n, target: greeting, transform: uppercase}]
outputs: {greeting: "{{ steps.greet.output.greeting }}"}
"""
SLOW = """\
inputs: {pause: {type: string, default: 2s}}
steps:
  - {id: wait, task: sleep, with: {duration: "{{ inputs.pause }}"}}
  - {id: done, task: log, needs: [wait], with: {message: done}}
"""


class ServeTest(unittest.TestCase):
    # A store smaller than the default 16 GiB: store.map_size reaches `ferry serve`.
    CONFIG = "server: {max_body: 4KiB}\nstore: {map_size: 64MiB}\n"

    def setUp(self):
        self.p = te.Project()
        self.p.write("ferry.yaml", self.CONFIG + tokens_yaml())
        self.p.workflow("hello", HELLO)
        self.p.workflow("slow", SLOW)
        self.s = Server(te.FERRY, self.p.dir, self.p.data)

    def tearDown(self):
        self.s.stop()
        self.p.remove()

    def start(self, wf="hello", inputs=None, query="", headers=None, role="operator"):
        return self.s.json("POST", "/api/v1/workflows/%s/executions%s" % (wf, query),
                           {"inputs": inputs if inputs is not None else {"name": "ada"}},
                           role=role, headers=headers)


class DataFolder(ServeTest):
    def test_a_server_that_cannot_make_its_lock_refuses_to_start(self):
        # It started and answered every start with the lock's error as a 422, as if the
        # client had sent something wrong; `ferry run` in the same folder exits 2.
        self.s.stop()
        locks = self.p.data / "locks"
        for f in locks.iterdir():
            f.unlink()
        locks.rmdir()
        locks.write_text("not a folder")
        serve = subprocess.run(
            [te.FERRY, "serve", "--project", str(self.p.dir), "--data", str(self.p.data),
             "--listen", "127.0.0.1:0"], capture_output=True, text=True, timeout=30)
        self.assertEqual(serve.returncode, 2, serve.stderr)
        self.assertIn("cannot make the lock folder %s" % locks, serve.stderr)
        self.assertNotIn("listening on", serve.stderr)
        run = self.p.ferry("run", "hello", "--input", "name=ada")
        self.assertEqual(run.returncode, 2, run.stderr)

    def test_a_second_server_on_the_folder_is_refused(self):
        # Both served, and each ran every schedule's due times (each run twice). `ferry run`
        # beside a server stays allowed.
        second = subprocess.run(
            [te.FERRY, "serve", "--project", str(self.p.dir), "--data", str(self.p.data),
             "--listen", "127.0.0.1:0"], capture_output=True, text=True, timeout=30)
        self.assertEqual(second.returncode, 2, second.stderr)
        self.assertIn("another ferry serve (pid %d) is serving the data folder" % self.s.proc.pid,
                      second.stderr)
        self.assertNotIn("listening on", second.stderr)
        run = self.p.ferry("run", "hello", "--input", "name=ada")
        self.assertEqual(run.returncode, 0, run.stderr)
        self.assertEqual(self.s.json("GET", "/healthz")[0], 200)


class RoleMatrix(ServeTest):
    # (method, path, minimum role); None = open.
    ENDPOINTS = [
        ("GET", "/healthz", None),
        ("GET", "/api/v1/openapi.json", None),
        ("GET", "/metrics", "viewer"),
        ("GET", "/api/v1/workflows", "viewer"),
        ("GET", "/api/v1/workflows/hello", "viewer"),
        ("POST", "/api/v1/workflows/hello/executions", "operator"),
        ("GET", "/api/v1/executions", "viewer"),
        ("GET", "/api/v1/executions/{id}", "viewer"),
        ("GET", "/api/v1/executions/{id}/diff", "viewer"),
        ("GET", "/api/v1/integrations", "viewer"),
        ("GET", "/api/v1/dlq", "viewer"),
    ]
    ORDER = [None, "viewer", "operator", "admin"]

    def test_each_endpoint_by_each_role(self):
        status, body = self.start(query="?wait=5s")
        exec_id = body["id"]
        for method, path, need in self.ENDPOINTS:
            path = path.replace("{id}", exec_id)
            for role in self.ORDER:
                with self.subTest(method=method, path=path, role=role):
                    payload = {"inputs": {"name": "x"}} if method == "POST" else None
                    status, _, data = self.s.request(method, path, payload, role=role)
                    allowed = need is None or (role is not None and
                                               self.ORDER.index(role) >= self.ORDER.index(need))
                    if allowed:
                        self.assertIn(status, (200, 202), data[:300])
                    else:
                        self.assertEqual(status, 401 if role is None else 403, data[:300])
                        err = json.loads(data)["error"]
                        self.assertIn(err["code"], ("unauthorized", "forbidden"))
        # A token that matches nothing is a 401 naming the token, not the role.
        status, _, data = self.s.request("GET", "/api/v1/workflows",
                                         headers={"Authorization": "Bearer nope"})
        self.assertEqual(status, 401)
        self.assertIn("not valid", json.loads(data)["error"]["message"])
        # Another scheme is told so (it was "the bearer token is not valid" too); one or
        # more spaces may follow the scheme (RFC 9110).
        from serve_util import TOKENS
        for auth, message in (
                ("Token " + TOKENS["viewer"], "the Authorization header's scheme is neither "
                 "Bearer nor Basic (send Authorization: Bearer TOKEN)"),
                ("Basic " + base64.b64encode(TOKENS["viewer"].encode()).decode(),
                 "the Basic credentials are not valid (the password is the token: "
                 "NAME:TOKEN in base64)"),
                # `Bearer $TOKEN` with TOKEN unset: the scheme is right, the token missing.
                ("Bearer ", "the Authorization header holds no credentials after Bearer (an "
                 "empty variable in `Bearer $TOKEN`?)")):
            status, _, data = self.s.request("GET", "/api/v1/workflows",
                                             headers={"Authorization": auth})
            self.assertEqual(status, 401, data)
            self.assertEqual(json.loads(data)["error"]["message"], message)
        status, _, data = self.s.request("GET", "/api/v1/workflows",
                                         headers={"Authorization": "Bearer   " + TOKENS["viewer"]})
        self.assertEqual(status, 200, data)


class ExpectContinue(ServeTest):
    """Expect: 100-continue: a request the server would refuse from its head is refused
    before its body is asked for."""

    def exchange(self, path, headers, body):
        with socket.create_connection(("127.0.0.1", self.s.port), timeout=10) as c:
            head = "POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" % path
            head += "".join("%s: %s\r\n" % h for h in headers)
            c.sendall((head + "Content-Length: %d\r\nExpect: 100-continue\r\n\r\n"
                       % len(body)).encode())
            first = c.recv(65536)
            if not first.startswith(b"HTTP/1.1 100 "):
                return first  # a final answer instead: the body was never asked for
            c.sendall(body)
            got = first
            while b'"id"' not in got:  # the start's answer (202) names the execution
                chunk = c.recv(65536)
                if not chunk:
                    break
                got += chunk
            return got

    def test_refused_before_the_body_or_told_to_continue(self):
        from serve_util import TOKENS
        body = json.dumps({"inputs": {"name": "ada"}}).encode()
        path = "/api/v1/workflows/hello/executions"
        for headers, status in (([], b"401"),
                                ([("Authorization", "Bearer " + TOKENS["viewer"])], b"403"),
                                ([("Authorization", "Bearer nope")], b"401")):
            answer = self.exchange(path, headers, body)
            self.assertTrue(answer.startswith(b"HTTP/1.1 " + status), answer[:200])
            self.assertIn(b"Connection: close", answer)
        answer = self.exchange("/api/v1/nothing-here", [], body)
        self.assertTrue(answer.startswith(b"HTTP/1.1 404"), answer[:200])
        answer = self.exchange(path + "?wiat=5s",
                               [("Authorization", "Bearer " + TOKENS["operator"])], body)
        self.assertTrue(answer.startswith(b"HTTP/1.1 400"), answer[:200])
        self.assertIn(b"unknown query parameter", answer)
        # A bad ?wait= value and an Idempotency-Key no start takes are known from the head
        # too (they got the 100, then the 400 once the body had been sent).
        operator = ("Authorization", "Bearer " + TOKENS["operator"])
        for query, headers, message in (
                ("?wait=soon", [operator], b"wait: expected a duration"),
                ("", [operator, ("Idempotency-Key", "k" * 256)],
                 b"Idempotency-Key is longer than 255 bytes")):
            answer = self.exchange(path + query, headers, body)
            self.assertTrue(answer.startswith(b"HTTP/1.1 400"), answer[:200])
            self.assertIn(message, answer)
        # Allowed: 100 first, then the answer to the whole request.
        answer = self.exchange(path, [("Authorization", "Bearer " + TOKENS["operator"])], body)
        self.assertTrue(answer.startswith(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 202"),
                        answer[:300])
        self.assertIn(b'"id"', answer)


class IntegrationCheck(ServeTest):
    def answering(self, status, headers=(), seen=None):
        """A server on 127.0.0.1 answering every GET with `status` and `headers` (empty
        body), noting each path in `seen`; stopped at the test's end."""
        import http.server
        import threading

        class Answer(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                if seen is not None:
                    seen.append(self.path)
                self.send_response(status)
                for name, value in headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", "0")
                self.end_headers()

        srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Answer)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        self.addCleanup(lambda: (srv.shutdown(), srv.server_close()))
        return srv

    def test_a_redirect_is_not_taken_for_authenticated(self):
        # A base URL answering 302 to a single sign-on page said "authenticated": true.
        srv = self.answering(302, [("Location", "https://sso.example/login")])
        self.s.stop()
        self.p.write("ferry.yaml", self.CONFIG + tokens_yaml() + "integrations:\n  sso:\n"
                     "    type: http\n    base_url: http://127.0.0.1:%d\n"
                     "  locked:\n    type: http\n    base_url: http://127.0.0.1:%d\n"
                     "    auth: {type: bearer, token: \"${env:FERRY_TEST_NEVER_SET_TOKEN}\"}\n"
                     % (srv.server_address[1], srv.server_address[1]))
        self.s = Server(te.FERRY, self.p.dir, self.p.data)
        status, body = self.s.json("POST", "/api/v1/integrations/sso/test", {}, role="admin")
        self.assertEqual(status, 200, body)
        self.assertEqual(body["status"], 302)
        self.assertIsNone(body["authenticated"])
        self.assertEqual(body["location"], "https://sso.example/login")
        # Nothing sent (its secret is not set): not known to be unreachable, and why.
        status, body = self.s.json("POST", "/api/v1/integrations/locked/test", {}, role="admin")
        self.assertEqual(status, 200, body)
        self.assertEqual((body["reachable"], body["attempts"], body["error"]["code"]),
                         (None, 0, "validation"), body)
        self.assertIn("FERRY_TEST_NEVER_SET_TOKEN is not set", body["error"]["message"])
        # Unreachable: the error in the contract's shape, as a dead letter's replay gives it.
        srv.shutdown()
        srv.server_close()
        status, body = self.s.json("POST", "/api/v1/integrations/sso/test", {}, role="admin")
        self.assertEqual(status, 200, body)
        self.assertFalse(body["reachable"])
        self.assertEqual(body["error"]["code"], "unreachable")
        self.assertIn("127.0.0.1", body["error"]["message"])


    def test_an_integration_marked_dry_run_is_not_sent_a_test(self):
        # The test sent through it (an OAuth token fetch too): `dry_run: true` promises
        # nothing is sent, whatever asks.
        seen = []
        srv = self.answering(200, seen=seen)
        self.s.stop()
        self.p.write("ferry.yaml", self.CONFIG + tokens_yaml() + "integrations:\n  quiet:\n"
                     "    type: http\n    base_url: http://127.0.0.1:%d\n    dry_run: true\n"
                     % srv.server_address[1])
        self.s = Server(te.FERRY, self.p.dir, self.p.data)
        status, body = self.s.json("POST", "/api/v1/integrations/quiet/test", {}, role="admin")
        self.assertEqual(status, 200, body)
        self.assertEqual((body["reachable"], body["attempts"]), (None, 0), body)
        self.assertIn("integration 'quiet' has dry_run: true in ferry.yaml: nothing was sent",
                      body["error"]["message"])
        self.assertEqual(seen, [])


class Executions(ServeTest):
    def test_start_is_acknowledged_durably_then_runs(self):
        status, body = self.start()
        self.assertEqual(status, 202, body)
        exec_id = body["id"]
        # The 202 came after the commit: the record is readable at once.
        status, rec = self.s.json("GET", "/api/v1/executions/" + exec_id, role="viewer")
        self.assertEqual(status, 200)
        deadline = time.monotonic() + 10
        while rec["status"] not in ("succeeded", "failed") and time.monotonic() < deadline:
            time.sleep(0.05)
            rec = self.s.json("GET", "/api/v1/executions/" + exec_id, role="viewer")[1]
        self.assertEqual(rec["status"], "succeeded")
        self.assertEqual(rec["outputs"], {"greeting": "ADA"})
        self.assertEqual(rec["trigger"], "api")

    def test_a_large_execution_is_streamed_whole_while_others_are_served(self):
        # Past one piece (256 KiB) the answer is chunked, each piece read from the store once
        # the one before it has left (routes_executions.cpp get_execution).
        n = 3000
        self.p.workflow("wide", """\
inputs: {n: {type: integer}}
steps:
  - id: each
    task: transform
    for_each: "{{ range(inputs.n) | list }}"
    concurrency: 200
    with:
      data: {ci: "server-{{ item }}"}
      mappings: [{source: ci, target: name}]
""")
        status, body = self.start("wide", {"n": n}, query="?wait=60s")
        self.assertEqual(status, 200, body)
        self.assertEqual(body["status"], "succeeded")
        path = "/api/v1/executions/" + body["id"]
        status, headers, data = self.s.request("GET", path, role="viewer", timeout=60)
        self.assertEqual(status, 200)
        self.assertEqual(headers.get("transfer-encoding"), "chunked")
        self.assertNotIn("content-length", headers)
        self.assertGreater(len(data), 4 * 256 * 1024)
        shown = json.loads(data)
        self.assertEqual(shown["status"], "succeeded")
        items = {k: v for k, v in shown["steps"].items() if k.startswith("each[")}
        self.assertEqual(len(items), n)
        for i in (0, 1500, n - 1):
            item = items["each[%d]" % i]
            self.assertEqual(item["output"], {"name": "server-%d" % i})
            self.assertEqual(item["attempts"][0]["output"], item["output"])
        # A small answer still goes out whole, with its length.
        status, small = self.start(query="?wait=10s")
        status, headers, _ = self.s.request("GET", "/api/v1/executions/" + small["id"],
                                            role="viewer")
        self.assertEqual(status, 200)
        self.assertIn("content-length", headers)

        # A client that reads the large answer slowly holds the server up for no one.
        with socket.create_connection(("127.0.0.1", self.s.port), timeout=10) as slow:
            slow.sendall(("GET %s HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer %s\r\n\r\n"
                          % (path, TOKENS["viewer"])).encode())
            first = slow.recv(1024)
            self.assertTrue(first.startswith(b"HTTP/1.1 200"), first[:100])
            started = time.monotonic()
            for _ in range(5):
                self.assertEqual(self.s.request("GET", "/healthz")[0], 200)
            self.assertLess(time.monotonic() - started, 5)
            received = bytearray(first)
            deadline = time.monotonic() + 30
            while not received.endswith(b"\r\n0\r\n\r\n") and time.monotonic() < deadline:
                chunk = slow.recv(65536)
                if not chunk:
                    break
                received += chunk
            self.assertTrue(received.endswith(b"\r\n0\r\n\r\n"), received[-100:])

    def test_a_value_too_large_for_memory_fails_the_execution_and_restarts_are_clean(self):
        # One request with a huge width aborted the server on bad_alloc, left its execution
        # running for good, and every restart aborted again resuming it.
        self.p.workflow("wide", """\
inputs: {w: {type: integer}}
steps:
  - {id: say, task: log, with: {message: "{{ 'x' | indent(inputs.w) }}"}}
""")
        status, body = self.start("wide", {"w": 99999999999}, query="?wait=10s")
        self.assertEqual(status, 200, body)
        self.assertEqual(body["status"], "failed")
        self.assertEqual(body["steps"]["say"]["error"]["kind"], "limit")
        self.assertEqual(self.s.request("GET", "/healthz")[0], 200)
        self.assertEqual(self.s.stop(), 0)
        self.s = Server(te.FERRY, self.p.dir, self.p.data)
        self.assertEqual(self.s.request("GET", "/healthz")[0], 200)
        status, rec = self.s.json("GET", "/api/v1/executions/" + body["id"], role="viewer")
        self.assertEqual(rec["status"], "failed")

    def test_wait_answers_with_the_finished_execution(self):
        status, body = self.start(query="?wait=10s")
        self.assertEqual(status, 200, body)
        self.assertEqual(body["status"], "succeeded")
        self.assertEqual(body["outputs"]["greeting"], "ADA")
        # Built from the records the engine wrote, not read back: the same as the stored ones.
        stored = self.s.json("GET", "/api/v1/executions/" + body["id"], role="viewer")[1]
        for step in stored["steps"].values():
            step.pop("attempts", None)  # the API's view adds them; ?wait= answers leave them out
        self.assertEqual(body, {k: v for k, v in stored.items() if k in body})
        self.assertEqual(set(body["steps"]), set(stored["steps"]))
        # Still running at the limit: 202 with the current status.
        t0 = time.monotonic()
        status, body = self.start("slow", {"pause": "3s"}, query="?wait=300ms")
        self.assertEqual(status, 202, body)
        self.assertEqual(body["status"], "running")
        self.assertLess(time.monotonic() - t0, 2.5)

    def test_pruning_history_while_serving_releases_idempotency_keys(self):
        h = {"Idempotency-Key": "form-44"}
        status, first = self.start(query="?wait=10s", headers=h)
        self.assertEqual((status, first["status"]), (200, "succeeded"), first)
        status, kept = self.start("slow", {"pause": "30s"})
        self.assertEqual(status, 202, kept)
        # `ferry executions prune` in another process, next to the running server.
        p = self.p.ferry("executions", "prune", "--before", "0s")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("pruned 1 execution(s)", p.stdout)
        status, _ = self.s.json("GET", "/api/v1/executions/" + first["id"], role="viewer")
        self.assertEqual(status, 404)
        status, running = self.s.json("GET", "/api/v1/executions/" + kept["id"], role="viewer")
        self.assertEqual((status, running["status"]), (200, "running"))
        # The key's execution is gone: the key starts a new one, and holds it from then on.
        status, again = self.start(headers=h)
        self.assertEqual(status, 202, again)
        self.assertNotEqual(again["id"], first["id"])
        self.assertFalse(again.get("idempotent_replay"))
        status, replay = self.start(headers=h)
        self.assertEqual((status, replay["id"]), (202, again["id"]))
        status, _ = self.s.json("POST", "/api/v1/executions/%s/cancel" % kept["id"], {},
                                role="operator")
        self.assertEqual(status, 202)  # accepted: the sleeping step is stopped

    def test_idempotency_key_gives_the_same_execution(self):
        h = {"Idempotency-Key": "form-42"}
        s1, b1 = self.start(headers=h)
        s2, b2 = self.start(headers=h)
        self.assertEqual(s1, 202)
        self.assertEqual(s2, 202)
        self.assertEqual(b1["id"], b2["id"])
        self.assertTrue(b2.get("idempotent_replay"))
        self.assertEqual((b1["dry_run"], b2["dry_run"]), (False, False))
        s3, b3 = self.start(headers={"Idempotency-Key": "form-43"})
        self.assertNotEqual(b3["id"], b1["id"])
        # The same request written in another key order is the same request...
        s4, b4 = self.start(inputs={"name": "ada"}, headers=h)
        self.assertEqual((s4, b4["id"]), (202, b1["id"]))
        # ...but other inputs under a used key are refused, not silently dropped.
        s5, b5 = self.start(inputs={"name": "grace"}, headers=h)
        self.assertEqual(s5, 422, b5)
        self.assertEqual(b5["error"]["code"], "idempotency_key_reused")
        self.assertIn(b1["id"], b5["error"]["message"])
        s6, b6 = self.s.json("POST", "/api/v1/workflows/hello/executions",
                             {"inputs": {"name": "ada"}, "dry_run": True}, role="operator",
                             headers=h)
        self.assertEqual(s6, 422, b6)
        status, listing = self.s.json("GET", "/api/v1/executions?workflow=hello", role="viewer")
        self.assertEqual(len(listing["executions"]), 2)
        # Bounded in bytes, as the docs say (255), and the answer says bytes.
        s7, b7 = self.start(headers={"Idempotency-Key": "x" * 256})
        self.assertEqual((s7, b7["error"]["message"]),
                         (400, "Idempotency-Key is longer than 255 bytes"))
        # Only a route that takes a key holds it to that (a client adding the header to every
        # request still reads); an empty one is refused everywhere: it read as none.
        status, _ = self.s.json("GET", "/api/v1/executions", role="viewer",
                                headers={"Idempotency-Key": "x" * 256})
        self.assertEqual(status, 200)
        status, _ = self.s.json("GET", "/api/v1/executions", role="viewer",
                                headers={"Idempotency-Key": ""})
        self.assertEqual(status, 400)

    def test_an_execution_a_ferry_run_beside_it_runs_is_no_error(self):
        # Started beside a `ferry run` on the same folder, the server logged its execution at
        # level error ("is being run by another ferry process"): what an alert selects.
        self.s.stop()
        run = subprocess.Popen([te.FERRY, "run", "slow", "--input", "pause=4s", "--quiet",
                                "--project", str(self.p.dir), "--data", str(self.p.data)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.addCleanup(lambda: run.poll() is None and (run.kill(), run.wait(10)))
        for _ in range(100):  # bounded: 5 s
            listed = self.p.ferry("executions", "list", "--json")
            if listed.returncode == 0 and json.loads(listed.stdout):
                break
            time.sleep(0.05)
        self.s = Server(te.FERRY, self.p.dir, self.p.data)
        said = []
        for _ in range(100):  # bounded: 5 s
            lines = [json.loads(l) for l in (self.p.dir / "serve.log").read_text().splitlines()
                     if l.startswith("{")]
            said = [l for l in lines if "another ferry process" in l.get("message", "")]
            if said:
                break
            time.sleep(0.05)
        self.assertEqual([l["level"] for l in said], ["info"], said)
        self.assertIn("it is left to that process", said[0]["message"])
        self.assertEqual(run.wait(timeout=20), 0)

    def test_a_repeat_says_the_execution_it_names_was_a_dry_run(self):
        # A server started with --dry-run runs every start dry, whatever the request asked.
        # A client repeating its request once the server ran live again was told only
        # "succeeded": nothing said its ticket was never sent.
        self.s.stop()
        self.s = Server(te.FERRY, self.p.dir, self.p.data, extra_args=("--dry-run",))
        h = {"Idempotency-Key": "change-7"}
        status, first = self.s.json("POST", "/api/v1/workflows/hello/executions",
                                    {"inputs": {"name": "ada"}, "dry_run": False},
                                    role="operator", headers=h)
        self.assertEqual((status, first["status"], first["dry_run"]), (202, "running", True))
        for _ in range(200):  # bounded: 10 s
            status, rec = self.s.json("GET", "/api/v1/executions/" + first["id"], role="viewer")
            if rec.get("status") == "succeeded":
                break
            time.sleep(0.05)
        self.assertEqual((rec["status"], rec["dry_run"]), ("succeeded", True))
        self.s.stop()
        self.s = Server(te.FERRY, self.p.dir, self.p.data)
        status, again = self.s.json("POST", "/api/v1/workflows/hello/executions",
                                    {"inputs": {"name": "ada"}, "dry_run": False},
                                    role="operator", headers=h)
        self.assertEqual(status, 202, again)
        self.assertEqual(again, {"id": first["id"], "status": "succeeded", "dry_run": True,
                                 "idempotent_replay": True})
    def test_a_retry_whose_workflow_is_gone_is_no_unknown_execution(self):
        # It answered 404 not_found, which a client reads as "no such execution".
        self.p.workflow("gone", "steps:\n  - {id: a, task: log, with: {message: x}}\n")
        status, done = self.start("gone", {}, query="?wait=5s")
        self.assertEqual(status, 200, done)
        (self.p.dir / "workflows" / "gone.yaml").unlink()
        status, answer = self.s.json("POST", "/api/v1/executions/%s/retry" % done["id"], None,
                                     role="operator")
        self.assertEqual(status, 409, answer)
        self.assertIn("ran workflow 'gone', which is no longer in workflows/",
                      answer["error"]["message"])

    def test_a_repeat_is_answered_once_the_execution_is_durable(self):
        # Repeats racing the first request were answered 202 {"status": "pending"} from its
        # claim while still staged: a crash then left them an id that never existed, and the
        # key free for another execution. Each answer now waits for that commit.
        answers = []
        lock = threading.Lock()

        def go():
            got = self.start(headers={"Idempotency-Key": "race-1"})
            with lock:
                answers.append(got)
        threads = [threading.Thread(target=go) for _ in range(12)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        self.assertEqual(len(answers), 12)
        self.assertEqual({status for status, _ in answers}, {202})
        self.assertEqual(len({body["id"] for _, body in answers}), 1)
        self.assertNotIn("pending", [body["status"] for _, body in answers])

    def test_a_repeated_key_under_wait_waits_for_the_execution(self):
        # What a client whose first synchronous call timed out sends: it got 202 "running"
        # at once, as if ?wait= had not been asked.
        h = {"Idempotency-Key": "sync-1"}
        status, first = self.start("slow", {"pause": "1500ms"}, headers=h)
        self.assertEqual(status, 202)
        began = time.monotonic()
        status, again = self.start("slow", {"pause": "1500ms"}, query="?wait=10s", headers=h)
        self.assertEqual(status, 200, again)
        self.assertEqual((again["id"], again["status"]), (first["id"], "succeeded"))
        self.assertGreater(time.monotonic() - began, 0.5)
        self.assertIs(again.get("idempotent_replay"), True)  # as its 202 says it
        status, ended = self.start("slow", {"pause": "1500ms"}, query="?wait=10s", headers=h)
        self.assertEqual((status, ended["id"], ended.get("idempotent_replay")),
                         (200, first["id"], True))
        # Past its wait limit, 202 with the status then, as for a first call.
        h = {"Idempotency-Key": "sync-2"}
        status, first = self.start("slow", {"pause": "3s"}, headers=h)
        status, again = self.start("slow", {"pause": "3s"}, query="?wait=300ms", headers=h)
        self.assertEqual((status, again["id"], again["status"]), (202, first["id"], "running"))
        self.assertIs(again.get("idempotent_replay"), True)

    def test_invalid_inputs_and_unknown_workflows(self):
        status, body = self.start(inputs={})
        self.assertEqual(status, 422)
        self.assertEqual(body["error"]["code"], "invalid_inputs")
        self.assertIn("name", body["error"]["message"])
        status, body = self.start(inputs={"name": "x" * 30})
        self.assertEqual(status, 422)
        # An input posted at the top level is named, not dropped in silence.
        status, body = self.s.json("POST", "/api/v1/workflows/hello/executions", {"name": "ada"},
                                   role="operator")
        self.assertEqual(status, 422, body)
        self.assertIn("unknown field 'name' in the body", body["error"]["message"])
        status, body = self.start("nope")
        self.assertEqual(status, 404)
        # What a name can reach, and no path of the server's.
        self.assertEqual(body["error"]["message"],
                         "no workflow named 'nope' in workflows/ (known: hello, slow)")
        # A path-like name is never read as a file, not even the workflow's own.
        status, body = self.start("hello.yaml")
        self.assertEqual(status, 404)
        self.assertEqual(self.s.json("GET", "/api/v1/workflows/hello.yaml", role="viewer")[0],
                         404)
        status, body = self.s.json("GET", "/api/v1/executions/01ZZZZZZZZZZZZZZZZZZZZZZZZ", role="viewer")
        self.assertEqual(status, 404)

    def test_list_filters_and_cursor(self):
        ids = [self.start(query="?wait=5s")[1]["id"] for _ in range(3)]
        status, page = self.s.json("GET", "/api/v1/executions?limit=2", role="viewer")
        self.assertEqual([e["id"] for e in page["executions"]], ids[::-1][:2])
        self.assertEqual(page["next_cursor"], ids[1])
        status, rest = self.s.json("GET", "/api/v1/executions?limit=2&cursor=" + page["next_cursor"],
                                   role="viewer")
        self.assertEqual([e["id"] for e in rest["executions"]], [ids[0]])
        # An entry is what GET /api/v1/executions/{id} shows of it, without its steps: not
        # the record's bookkeeping (the workflow file's path on the server, its hash, owner).
        status, one = self.s.json("GET", "/api/v1/executions/" + ids[0], role="viewer")
        self.assertEqual(status, 200, one)
        del one["steps"]
        listed = [e for e in self.s.json("GET", "/api/v1/executions", role="viewer")[1]
                  ["executions"] if e["id"] == ids[0]]
        self.assertEqual(listed, [one])
        for hidden in ("file", "definition_hash", "owner", "depth", "inputs_redacted"):
            self.assertNotIn(hidden, listed[0])
        status, none = self.s.json("GET", "/api/v1/executions?status=failed", role="viewer")
        self.assertEqual(none["executions"], [])
        # Time bounds as the CLI takes them: since includes created_at, until excludes it.
        created = one["created_at"]
        listed = lambda q: [e["id"] for e in self.s.json(
            "GET", "/api/v1/executions?" + q, role="viewer")[1]["executions"]]
        self.assertIn(ids[0], listed("since=" + created))
        self.assertNotIn(ids[0], listed("until=" + created))
        self.assertEqual(listed("since=1h&limit=1"), [ids[-1]])
        self.assertEqual(listed("until=2000-01-01"), [])
        for q, message in (("since=1h&until=2h", "since must be before until"),
                           ("since=-1h", "since: an age has no sign"),
                           ("until=soon", "until: expected a date or time")):
            status, doc = self.s.json("GET", "/api/v1/executions?" + q, role="viewer")
            self.assertEqual(status, 400, q)
            self.assertTrue(doc["error"]["message"].startswith(message), doc)
        self.assertEqual(self.s.json("GET", "/api/v1/executions?limit=0", role="viewer")[0], 400)
        # A filter that cannot match anything is a mistake, not an empty page.
        status, doc = self.s.json("GET", "/api/v1/executions?status=done", role="viewer")
        self.assertEqual(status, 400, doc)
        self.assertEqual(doc["error"]["message"], "status must be one of pending, running, "
                         "waiting, succeeded, failed, cancelled; got 'done'")
        # Given but empty (a script's unset variable) filtered nothing: every execution.
        for filter in ("status", "workflow"):
            status, doc = self.s.json("GET", "/api/v1/executions?%s=" % filter, role="viewer")
            self.assertEqual((status, doc["error"]["message"]),
                             (400, "%s is empty: give one or leave it out" % filter))
        status, doc = self.s.json("GET", "/api/v1/executions?cursor=page2", role="viewer")
        self.assertEqual(status, 400, doc)
        self.assertIn("cursor must be an execution id", doc["error"]["message"])
        # Read as one value, a parameter given twice is refused: readers disagree on which
        # counts (the first won, even after an invalid second one).
        status, doc = self.s.json("GET", "/api/v1/executions?limit=1&limit=abc", role="viewer")
        self.assertEqual(status, 400, doc)
        self.assertEqual(doc["error"]["message"], "query parameter 'limit' is given more than once")
        # A parameter the endpoint does not read is refused, not ignored: `?staus=failed`
        # answered every execution as if unfiltered.
        status, doc = self.s.json("GET", "/api/v1/executions?staus=failed", role="viewer")
        self.assertEqual(status, 400, doc)
        self.assertEqual(doc["error"]["message"],
                         "unknown query parameter 'staus' (did you mean 'status'?); it takes "
                         "workflow, status, since, until, limit, cursor")
        status, doc = self.s.json("GET", "/api/v1/workflows?verbose=1", role="viewer")
        self.assertEqual(status, 400, doc)
        self.assertEqual(doc["error"]["message"], "unknown query parameter 'verbose'; "
                                                  "GET /api/v1/workflows takes none")
        # Only to a caller the endpoint would answer.
        status, doc = self.s.json("GET", "/api/v1/workflows?verbose=1")
        self.assertEqual(status, 401, doc)
        # A form's page may be reached by a link that adds its own, even twice (a parameter
        # the route does not read is not checked for repeats: it was refused with 400).
        status, _, _ = self.s.request("GET", "/forms/nope?utm_source=mail", role="viewer")
        self.assertEqual(status, 404)
        status, _, _ = self.s.request("GET", "/forms/nope?utm_source=a&utm_source=b",
                                      role="viewer")
        self.assertEqual(status, 404)
        # An empty segment is no endpoint: a proxy allowing by prefix matches the raw path.
        status, doc = self.s.json("GET", "//api/v1//executions", role="viewer")
        self.assertEqual(status, 404, doc)
        # So is a trailing slash: an exact-path deny of .../cancel let .../cancel/ through.
        status, doc = self.s.json("GET", "/api/v1/executions/", role="viewer")
        self.assertEqual(status, 404, doc)
        # An absolute-form target's path ends its authority; a '/' in the query is no path.
        status, doc = self.s.json("GET", "http://127.0.0.1?z=/api/v1/executions", role="viewer")
        self.assertEqual(status, 404, doc)
        status, doc = self.s.json("GET", "http://127.0.0.1/api/v1/executions?limit=1",
                                  role="viewer")
        self.assertEqual(status, 200, doc)
        # A limit is digits only (strtol took a sign, blanks and what came after a NUL).
        for bad in ("%202", "%2B3", "1%00garbage", "2%0A"):
            status, doc = self.s.json("GET", "/api/v1/executions?limit=" + bad, role="viewer")
            self.assertEqual(status, 400, (bad, doc))


class Retention(ServeTest):
    """store.keep: `ferry serve` prunes what ended longer ago, a page per commit, while it
    serves; what is still running or waiting stays, and so does what is younger."""
    # A short grace: the running execution must not hold the stop for the default 10s.
    CONFIG = "store: {keep: 3s}\nserver: {shutdown_grace: 300ms}\n"

    def start(self, wf="hello", inputs=None, headers=None, query="?wait=10s"):
        return super().start(wf, inputs, query=query, headers=headers)

    def listed(self):
        status, body = self.s.json("GET", "/api/v1/executions?limit=500", role="viewer")
        self.assertEqual(status, 200, body)
        return {e["id"] for e in body["executions"]}

    def test_a_store_filled_to_its_map_is_pruned_at_start_instead_of_stopping_the_server(self):
        # The first prune pass's commit failed with MDB_MAP_FULL and ended the server (exit
        # 3) at every start: pruning, the remedy, took the server down.
        self.s.stop()
        stored = te.fill_store(self.p)
        self.assertGreater(len(stored), 3)
        self.p.write("ferry.yaml", "store: {map_size: 1MiB, keep: 1s}\n"
                     "server: {shutdown_grace: 300ms}\n" + tokens_yaml())
        time.sleep(1.1)  # all of them older than keep
        self.s = Server(te.FERRY, self.p.dir, self.p.data)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and self.listed():
            time.sleep(0.2)
        self.assertEqual(self.listed(), set())
        # The room is back: the server starts executions again.
        status, body = self.start(inputs={"name": "ada"})
        self.assertEqual((status, body["status"]), (200, "succeeded"), body)

    def test_ended_executions_older_than_keep_are_pruned_while_serving(self):
        key = {"Idempotency-Key": "nightly-7"}
        status, keyed = self.start(headers=key)
        self.assertEqual((status, keyed["status"]), (200, "succeeded"), keyed)
        old = {keyed["id"]}
        for name in ("grace", "alan", "edsger"):
            status, body = self.start(inputs={"name": name})
            self.assertEqual((status, body["status"]), (200, "succeeded"), body)
            old.add(body["id"])
        status, running = self.start("slow", {"pause": "60s"}, query="")
        self.assertEqual(status, 202, running)

        # keep is 3s, a pass every second: within a few seconds the ended ones are gone.
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and self.listed() & old:
            time.sleep(0.2)
        listed = self.listed()
        self.assertFalse(listed & old, "still listed after 15s")
        self.assertIn(running["id"], listed)  # running: kept however old
        status, _ = self.s.json("GET", "/api/v1/executions/" + keyed["id"], role="viewer")
        self.assertEqual(status, 404)

        # A new execution is younger than keep: it stays through the next pass (1.2 s of
        # its 3, leaving the machine 1.8 s of slack).
        status, young = self.start(inputs={"name": "barbara"})
        self.assertEqual(status, 200, young)
        time.sleep(1.2)
        self.assertIn(young["id"], self.listed())

        # The key's execution is gone, and so is the claim: the key starts a new execution.
        status, again = self.start(headers=key, query="")
        self.assertEqual(status, 202, again)
        self.assertNotEqual(again["id"], keyed["id"])

        status, _, data = self.s.request("GET", "/metrics", role="viewer")
        pruned = int(re.search(r"\nferry_executions_pruned_total (\d+)\n", data.decode()).group(1))
        self.assertGreaterEqual(pruned, 4)
        self.s.stop()
        lines = [json.loads(l) for l in (self.p.dir / "serve.log").read_text().splitlines()]
        passes = [l for l in lines if l.get("message", "").startswith("pruned ")]
        self.assertTrue(passes, lines[-5:])
        self.assertEqual(sum(l["pruned"] for l in passes), pruned)
        self.assertIn("(store.keep 3s)", passes[0]["message"])
        self.assertIn("pruning executions that ended and were created more than 3s ago, every "
                      "1s (store.keep)", [l.get("message") for l in lines])
        # What the server pruned, the store no longer holds; the running one resumes later.
        self.assertNotIn(keyed["id"], self.p.ferry("executions", "list", "--json").stdout)


class FullStore(ServeTest):
    """A store near its map's end: new executions are refused with 507 (the API and
    schedules alike) while reads go on and nothing stops the server; a prune from another
    process gives room back without a restart."""
    CONFIG = ("server: {max_body: 256KiB}\nstore: {map_size: 2MiB}\n"
              "schedules:\n  - {name: tick, workflow: hello, every: 1s, inputs: {name: tick}}\n")
    BIG = """\
inputs: {blob: {type: string, required: true}}
steps: [{id: l, task: log, with: {message: "{{ inputs.blob | length }}"}}]
"""

    def test_new_executions_are_refused_at_90_percent_and_pruning_gives_room_back(self):
        self.p.workflow("big", self.BIG)
        accepted = []
        refusal = None
        for i in range(200):  # 2 MiB in 32 KiB inputs: refused long before the bound
            status, body = self.start("big", {"blob": "%d-" % i + "x" * 32 * 1024},
                                      query="?wait=10s")
            if status == 507:
                refusal = body
                break
            self.assertEqual((status, body["status"]), (200, "succeeded"), body)
            accepted.append(body["id"])
        self.assertIsNotNone(refusal, "never refused")
        self.assertGreater(len(accepted), 10)
        self.assertEqual(refusal["error"]["code"], "store_full")
        self.assertRegex(refusal["error"]["message"],
                         r"fills \d+\.\d MiB of its 2\.0 MiB map .*store\.keep.*store\.map_size")

        # Full, the server still answers reads, refuses every start the same way, and skips
        # the schedule's runs instead of stopping.
        status, body = self.s.json("GET", "/api/v1/executions/" + accepted[0], role="viewer")
        self.assertEqual((status, body["status"]), (200, "succeeded"))
        status, body = self.start()
        self.assertEqual((status, body["error"]["code"]), (507, "store_full"), body)
        time.sleep(1.5)
        self.assertIsNone(self.s.proc.poll())
        status, _, metrics = self.s.request("GET", "/metrics", role="viewer")
        used = int(re.search(r"\nferry_store_used_bytes (\d+)\n", metrics.decode()).group(1))
        # Refused at 90 %, or on a map this small, once less than 256 KiB is left.
        self.assertGreaterEqual(used, min(2 * 1024 * 1024 * 90 // 100, (2048 - 256) * 1024))
        self.assertIn('ferry_http_requests_total{method="POST",status="507"}', metrics.decode())
        refused = int(re.search(r'\nferry_executions_refused_total\{reason="store_full"\} (\d+)\n',
                                metrics.decode()).group(1))
        self.assertGreaterEqual(refused, 3)  # two starts and at least one schedule run

        # Pruned by another process: the freed pages count as room at the next look.
        pruned = self.p.ferry("executions", "prune", "--before", "0s")
        self.assertEqual(pruned.returncode, 0, pruned.stderr)
        deadline = time.monotonic() + 5
        while True:
            status, body = self.start(query="?wait=10s")
            if status != 507 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        self.assertEqual((status, body["status"]), (200, "succeeded"), body)
        status, _ = self.s.json("GET", "/api/v1/executions/" + accepted[0], role="viewer")
        self.assertEqual(status, 404)
        self.assertEqual(self.s.stop(), 0)
        log = (self.p.dir / "serve.log").read_text()
        self.assertRegex(log, r"schedule tick: due [^ ]+: skipped: the execution history fills")


class GrownMap(ServeTest):
    """store.map_size raised in ferry.yaml while `ferry serve` runs, and a one-off command
    that writes past the server's map: the server adopts the larger map (LMDB's
    MDB_MAP_RESIZED) on its next write or read instead of failing it."""
    CONFIG = "server: {max_body: 256KiB}\nstore: {map_size: 2MiB}\n"

    def grow_past_the_servers_map(self):
        self.p.workflow("big", FullStore.BIG)
        self.p.write("ferry.yaml", "store: {map_size: 8MiB}\n" + tokens_yaml())
        self.p.write("blob.json", json.dumps({"blob": "x" * 1536 * 1024}))
        for _ in range(3):  # 4.5 MiB and more, in few runs: one comes before an 8 s sleep ends
            code, doc, err = self.p.run("big", "--inputs-file", str(self.p.dir / "blob.json"))
            self.assertEqual(code, 0, err)
        self.assertGreater((self.p.data / "data.mdb").stat().st_size, 3 << 20)

    def map_bytes(self):
        status, _, metrics = self.s.request("GET", "/metrics", role="viewer")
        self.assertEqual(status, 200)
        return int(re.search(r"\nferry_store_map_bytes (\d+)\n", metrics.decode()).group(1))

    def test_a_write_first_adopts_the_grown_map(self):
        status, first = self.start(query="?wait=10s")
        self.assertEqual(status, 200, first)
        self.grow_past_the_servers_map()
        status, body = self.start(query="?wait=10s")
        self.assertEqual(status, 200, body)
        self.assertEqual(body["status"], "succeeded")
        self.assertEqual(self.map_bytes(), 8 << 20)
        listed, cursor = [], ""
        for _ in range(5):  # 1.5 MB inputs: pages stop past 4 MiB
            status, body = self.s.json("GET", "/api/v1/executions?limit=100" + cursor,
                                       role="viewer")
            self.assertEqual(status, 200, body)
            listed += body["executions"]
            if body["next_cursor"] is None:
                break
            cursor = "&cursor=" + body["next_cursor"]
        self.assertEqual(len(listed), 5)
        self.assertEqual(self.s.stop(), 0)

    def test_a_running_execution_adopts_the_grown_map_on_its_next_commit(self):
        # Nothing asks the server anything meanwhile: the first to meet the grown map is the
        # commit of the sleep's result, on the store's writer thread.
        # 8 s: growing the map takes three runs of 1.5 MB inputs, ~6 s under ASan.
        status, slow = self.start("slow", {"pause": "8s"})
        self.assertEqual(status, 202, slow)
        started = time.monotonic()
        self.grow_past_the_servers_map()
        self.assertLess(time.monotonic() - started, 8, "grew too slowly to come first")
        time.sleep(max(0, started + 9 - time.monotonic()))
        self.assertIsNone(self.s.proc.poll(), "the server stopped")
        status, body = self.s.json("GET", "/api/v1/executions/" + slow["id"], role="viewer")
        self.assertEqual((status, body["status"]), (200, "succeeded"), body)
        self.assertEqual(self.map_bytes(), 8 << 20)
        self.assertEqual(self.s.stop(), 0)

    def test_a_read_first_adopts_the_grown_map(self):
        self.grow_past_the_servers_map()
        status, body = self.s.json("GET", "/api/v1/executions?limit=100", role="viewer")
        self.assertEqual(status, 200, body)
        self.assertEqual(len(body["executions"]), 3)
        self.assertEqual(self.map_bytes(), 8 << 20)
        status, body = self.start(query="?wait=10s")
        self.assertEqual((status, body["status"]), (200, "succeeded"), body)
        self.assertEqual(self.s.stop(), 0)


class HostileBodies(unittest.TestCase):
    """Bodies that are valid HTTP but poison for a naive JSON path: nesting deep enough to
    exhaust a recursive parser's stack, nesting that could be stored but not read back, and
    bytes that are not UTF-8."""

    def setUp(self):
        self.p = te.Project()
        self.p.write("ferry.yaml", "server: {max_body: 1MiB}\n" + tokens_yaml())
        self.p.workflow("anyin", """\
inputs: {event: {type: object, required: true}}
steps: [{id: l, task: log, with: {message: "{{ inputs.event }}"}}]
""")
        self.s = Server(te.FERRY, self.p.dir, self.p.data)

    def tearDown(self):
        self.s.stop()
        self.p.remove()

    def post(self, body):
        status, _, data = self.s.request("POST", "/api/v1/workflows/anyin/executions?wait=10s",
                                         body, role="operator")
        return status, json.loads(data)

    def test_deep_nesting_is_refused_and_the_server_lives(self):
        deep = '{"inputs": {"event": {"a": ' + "[" * 40000 + "]" * 40000 + "}}}"
        status, doc = self.post(deep)
        self.assertEqual(status, 400, doc)
        self.assertEqual(doc["error"]["code"], "bad_json")
        self.assertEqual(doc["error"]["message"], "the JSON body nests deeper than 256 levels")
        # Deep enough to be stored, too deep for a task or the history to read back.
        status, doc = self.post('{"inputs": {"event": ' + "[" * 230 + "]" * 230 + "}}")
        self.assertEqual(status, 422, doc)
        self.assertEqual(doc["error"]["message"], "input 'event': nested deeper than 200 levels")
        # Within the limit: it runs, and its history reads back.
        event = {"a": json.loads("[" * 150 + "]" * 150)}
        status, doc = self.post(json.dumps({"inputs": {"event": event}}))
        self.assertEqual(status, 200, doc)
        self.assertEqual(doc["status"], "succeeded")
        status, rec = self.s.json("GET", "/api/v1/executions/" + doc["id"], role="viewer")
        self.assertEqual(status, 200)
        self.assertEqual(rec["inputs"]["event"], event)
        self.assertEqual(self.s.json("GET", "/api/v1/executions", role="viewer")[0], 200)

    def test_a_wide_object_is_read_copied_and_stored_in_one_pass(self):
        # 70,000 members. Reading the body, checking the inputs and reading the history back
        # each built a dict by scanning it once per member: O(n^2), a loop blocked for
        # minutes (a 150,000-member hook body: over ten).
        event = {"k%d" % i: i for i in range(70000)}
        body = json.dumps({"inputs": {"event": event}}, separators=(",", ":"))
        self.assertLess(len(body), 1 << 20)
        status, doc = self.post(body)
        self.assertEqual(status, 200, doc)
        self.assertEqual(doc["status"], "succeeded")
        status, rec = self.s.json("GET", "/api/v1/executions/" + doc["id"], role="viewer")
        self.assertEqual(status, 200)
        self.assertEqual(rec["inputs"]["event"], event)
        # The check for a repeated name is one pass too.
        status, doc = self.post('{"inputs": {"event": {%s, "k1": "again"}}}' % body[20:-3])
        self.assertEqual(status, 400, doc)
        self.assertIn('has the key "k1" twice in one object', doc["error"]["message"])

    def test_a_body_that_is_not_utf8_is_refused(self):
        status, doc = self.post(b'{"inputs": {"event": {"name": "a\xff\xfeb"}}}')
        self.assertEqual(status, 400, doc)
        self.assertEqual(doc["error"]["code"], "bad_json")
        self.assertIn("Invalid encoding", doc["error"]["message"])
        self.assertEqual(self.s.json("GET", "/api/v1/executions", role="viewer")[1]["executions"],
                         [])
        # Nor in the request target, which answers and log lines repeat.
        for target in ("/api/v1/workflows/%FF%FE", "/api/v1/executions?status=%C3"):
            status, _, data = self.s.request("GET", target, role="viewer")
            self.assertEqual(status, 400, target)
            self.assertEqual(json.loads(data)["error"]["message"],
                             "the request target is not UTF-8 once percent-decoded")
        log = (self.p.dir / "serve.log").read_bytes()
        self.assertNotIn(b"\xff", log)


class ConnectionSettings(unittest.TestCase):
    """server.max_connections, request_timeout and idle_timeout from ferry.yaml reach the
    running server."""

    def setUp(self):
        self.p = te.Project()
        self.p.write("ferry.yaml", "server: {max_connections: 2, request_timeout: 400ms, "
                                   "idle_timeout: 300ms}\n" + tokens_yaml())
        self.s = Server(te.FERRY, self.p.dir, self.p.data)

    def tearDown(self):
        self.s.stop()
        self.p.remove()

    def connect(self):
        return socket.create_connection(("127.0.0.1", self.s.port), timeout=10)

    def read_all(self, c):
        got = b""
        while True:
            chunk = c.recv(65536)
            if not chunk:
                return got
            got += chunk

    def test_connections_over_the_limit_are_told_so(self):
        held = []
        try:
            # Two served connections hold the two places (the start-up probe's connection
            # may not be closed yet, so a 503 here is retried, a bounded number of times).
            for _ in range(100):
                if len(held) == 2:
                    break
                c = self.connect()
                c.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                if b"200 OK" in c.recv(65536):
                    held.append(c)
                else:
                    c.close()
                    time.sleep(0.05)
            self.assertEqual(len(held), 2)
            c = self.connect()
            c.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            answer = self.read_all(c)  # a clean close after the answer, no reset
            c.close()
            self.assertTrue(answer.startswith(b"HTTP/1.1 503 "), answer)
            self.assertIn(b'"code":"too_many_connections"', answer)
        finally:
            for c in held:
                c.close()
        # The places free up: the metrics count the refusal.
        deadline = time.monotonic() + 5
        while True:
            status, _, body = self.s.request("GET", "/metrics", role="viewer")
            if status == 200 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        self.assertEqual(status, 200)
        refused = re.search(r"^ferry_http_connections_refused_total (\d+)$", body.decode(), re.M)
        self.assertGreaterEqual(int(refused.group(1)), 1)

    def test_a_slow_request_and_an_idle_connection_are_closed_on_time(self):
        slow = self.connect()
        try:
            slow.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # never finishes its head
            t0 = time.monotonic()
            answer = self.read_all(slow)
            self.assertLess(time.monotonic() - t0, 3)  # 400ms here, 10s by default
            self.assertTrue(answer.startswith(b"HTTP/1.1 408 "), answer)
        finally:
            slow.close()
        idle = self.connect()
        try:
            idle.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            t0 = time.monotonic()
            answer = self.read_all(idle)  # then nothing: closed after idle_timeout
            self.assertLess(time.monotonic() - t0, 3)  # 300ms here, 5s by default
            self.assertIn(b"200 OK", answer)
        finally:
            idle.close()

    def test_the_open_file_limit_is_raised_for_max_connections(self):
        def soft_limit(soft, hard):
            return lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))

        def limits_of(server):
            with open("/proc/%d/limits" % server.proc.pid) as f:
                row = [ln for ln in f if ln.startswith("Max open files")][0].split()
            return int(row[3]), int(row[4])

        self.s.stop()
        # max_connections 2 here: 2 + 256 spare descriptors (a hard limit is only lowered).
        hard = min(4096, resource.getrlimit(resource.RLIMIT_NOFILE)[1])
        self.assertGreaterEqual(hard, 600, "this test needs a hard open-file limit of 600")
        self.s = Server(te.FERRY, self.p.dir, self.p.data, preexec_fn=soft_limit(100, hard))
        self.assertEqual(limits_of(self.s), (258, hard))
        self.s.stop()
        self.p.write("ferry.yaml", "server: {max_connections: 1024}\n")
        self.s = Server(te.FERRY, self.p.dir, self.p.data, preexec_fn=soft_limit(100, 600))
        self.assertEqual(limits_of(self.s), (600, 600))  # as far as the hard limit goes
        self.assertEqual(self.s.json("GET", "/healthz")[0], 200)
        self.s.stop()
        lines = [json.loads(ln) for ln in (self.p.dir / "serve.log").read_text().splitlines()
                 if ln.startswith("{")]
        warned = [ln for ln in lines if ln.get("level") == "warn" and
                  "open-file limit (600)" in ln.get("message", "")]
        self.assertEqual(len(warned), 1, lines)
        self.assertIn("below server.max_connections + 256 (1280)", warned[0]["message"])

    def test_bad_values_name_the_field(self):
        self.p.write("ferry.yaml", "server:\n  max_connections: 0\n  request_timeout: 0s\n"
                                   "  idle_timeout: later\n")
        proc = subprocess.run([te.FERRY, "validate", "--project", self.p.dir, "--data",
                               self.p.data], capture_output=True, text=True, timeout=30)
        self.assertEqual(proc.returncode, 2, proc.stdout + proc.stderr)
        self.assertIn("ferry.yaml:2:20: server.max_connections must be between 1 and 1000000, "
                      "got 0", proc.stdout)
        self.assertIn("ferry.yaml:3:20: server.request_timeout must be more than 0", proc.stdout)
        self.assertIn("ferry.yaml:4:17: server.idle_timeout: expected a duration", proc.stdout)


class WaitAnswersAreScrubbed(unittest.TestCase):
    """The ?wait= answer is built from the records the engine keeps as it writes them; the
    store scrubs what it writes, so the answer must be scrubbed as it is built."""
    SECRET = "wait-answer-secret-7f3a2c"

    def setUp(self):
        self.p = te.Project()
        self.mock = start_mock()  # the mock ServiceNow: any bearer token will do
        self.p.write("ferry.yaml", tokens_yaml() + """\
integrations:
  target:
    type: http
    base_url: %s
    auth: {type: bearer, token: "${env:WAIT_TOKEN}"}
""" % self.mock.url)
        # The call resolves (and so registers) the secret; the lua step lets it slip into
        # its input, its output and the execution's outputs.
        self.p.workflow("echo", """\
steps:
  - id: call
    task: http.request
    integration: target
    with: {method: GET, path: /api/now/table/incident, fail_on_status: false}
  - id: echo
    task: lua
    needs: [call]
    with: {script: "return {header = 'Bearer %s'}"}
outputs: {header: "{{ steps.echo.output.header }}"}
""" % self.SECRET)
        self.s = Server(te.FERRY, self.p.dir, self.p.data,
                        env=dict(os.environ, WAIT_TOKEN=self.SECRET))

    def tearDown(self):
        self.s.stop()
        self.mock.stop()
        self.p.remove()

    def test_the_answer_and_the_history_hold_no_secret(self):
        status, _, raw = self.s.request("POST", "/api/v1/workflows/echo/executions?wait=10s",
                                        {"inputs": {}}, role="operator")
        self.assertEqual(status, 200, raw)
        text = raw.decode() if isinstance(raw, bytes) else raw
        doc = json.loads(text)
        self.assertEqual(doc["status"], "succeeded", doc)
        self.assertNotIn(self.SECRET, text)
        self.assertEqual(doc["outputs"]["header"], "Bearer [REDACTED]")
        self.assertEqual(doc["steps"]["echo"]["output"]["header"], "Bearer [REDACTED]")
        status, _, shown = self.s.request("GET", "/api/v1/executions/" + doc["id"],
                                          role="viewer")
        self.assertEqual(status, 200)
        shown = shown.decode() if isinstance(shown, bytes) else shown
        self.assertNotIn(self.SECRET, shown)
        self.assertIn("[REDACTED]", shown)

    def test_a_secret_sent_in_a_path_or_a_key_is_not_repeated(self):
        # A client that pastes a token where a name or an id goes: the error answer and the
        # access log name what was asked, without the secret (anyone who can reach /hooks/
        # could otherwise write a secret into the server's log).
        asked = [("POST", "/hooks/" + self.SECRET, {}, None),
                 ("POST", "/api/v1/workflows/%s/executions" % self.SECRET, {"inputs": {}},
                  "operator"),
                 ("GET", "/api/v1/executions/" + self.SECRET, None, "viewer"),
                 ("GET", "/api/v1/executions?status=" + self.SECRET, None, "viewer")]
        for method, path, body, role in asked:
            status, _, raw = self.s.request(method, path, body, role=role)
            text = raw.decode() if isinstance(raw, bytes) else raw
            self.assertIn(status, (400, 404), (path, text))
            self.assertNotIn(self.SECRET, text)
            self.assertIn("[REDACTED]", json.loads(text)["error"]["message"], (path, text))
        self.s.stop()  # flushes and closes the log
        log = (self.p.dir / "serve.log").read_text()
        access = [json.loads(l) for l in log.splitlines() if '"access"' in l]
        access = [a for a in access if a["path"] != "/healthz"]  # the start's readiness check
        self.assertEqual(len(access), len(asked), log)
        self.assertNotIn(self.SECRET, log)
        self.assertIn("/hooks/[REDACTED]", [a["path"] for a in access])


    def test_a_decisions_answer_repeats_its_comment_as_stored(self):
        self.p.workflow("gate", "steps:\n  - {id: ok, task: approval, with: {message: Go}}\n")
        status, body = self.s.json("POST", "/api/v1/workflows/gate/executions", {"inputs": {}},
                                   role="operator")
        self.assertEqual(status, 202, body)
        exec_id = body["id"]
        deadline = time.monotonic() + 10
        while (self.s.json("GET", "/api/v1/executions/" + exec_id, role="viewer")[1]["status"]
               != "waiting" and time.monotonic() < deadline):
            time.sleep(0.05)
        status, raw = self.s.json("POST", "/api/v1/executions/%s/steps/ok/approve" % exec_id,
                                  {"comment": "ok " + self.SECRET}, role="operator")
        self.assertEqual(status, 200, raw)
        self.assertEqual(raw["comment"], "ok [REDACTED]")


class RotatedSecretFiles(unittest.TestCase):
    """A `${file:}` secret rewritten while the server runs is redacted from the records
    before any request sends it (an input or another system's answer may carry it first),
    and the value it replaced stays redacted."""
    OLD = "rotated-secret-old-4b1e9d"
    NEW = "rotated-secret-new-8c2f7a"

    def setUp(self):
        self.p = te.Project()
        self.secret = self.p.dir / "token.txt"
        self.secret.write_text(self.OLD + "\n")
        self.p.write("ferry.yaml", tokens_yaml() + """\
integrations:
  target:
    type: http
    base_url: http://127.0.0.1:9
    auth: {type: bearer, token: "${file:%s}"}
""" % self.secret)
        self.p.workflow("echo", """\
inputs:
  text: {type: string}
steps:
  - id: echo
    task: lua
    with: {input: "{{ inputs.text }}", script: "return {said = input}"}
outputs: {said: "{{ steps.echo.output.said }}"}
""")
        self.s = Server(te.FERRY, self.p.dir, self.p.data)

    def tearDown(self):
        self.s.stop()
        self.p.remove()

    def echo(self, text):
        status, _, raw = self.s.request("POST", "/api/v1/workflows/echo/executions?wait=10s",
                                        {"inputs": {"text": text}}, role="operator")
        self.assertEqual(status, 200, raw)
        return raw.decode() if isinstance(raw, bytes) else raw

    def test_a_rewritten_secret_file_is_redacted_before_its_first_request(self):
        self.assertIn('"said":"[REDACTED]"', self.echo(self.OLD))
        self.assertIn(self.NEW, self.echo(self.NEW))  # not a secret yet
        self.secret.write_text(self.NEW + "\n")
        deadline = time.monotonic() + 10
        while self.NEW in self.echo(self.NEW) and time.monotonic() < deadline:
            time.sleep(0.2)  # read again every second
        answer = self.echo(self.NEW)
        self.assertNotIn(self.NEW, answer)
        self.assertIn('"said":"[REDACTED]"', answer)
        self.assertIn('"said":"[REDACTED]"', self.echo(self.OLD))


class Logs(ServeTest):
    def test_json_logs_correlate_requests_and_executions(self):
        status, doc = self.start(query="?wait=10s")
        self.assertEqual(status, 200, doc)
        exec_id = doc["id"]
        status, _, _ = self.s.request("GET", "/api/v1/executions/" + exec_id, role="viewer")
        self.assertEqual(status, 200)
        self.s.stop()  # flushes and closes the log
        lines = [json.loads(l) for l in (self.p.dir / "serve.log").read_text().splitlines()]
        access = [l for l in lines if l.get("log") == "access" and l["method"] == "POST"]
        self.assertEqual(len(access), 1, lines)
        self.assertEqual(access[0]["execution_id"], exec_id)
        # Who asked, and about which execution: what an audit of decisions needs.
        self.assertEqual(access[0]["token"], "operator")
        read = [l for l in lines if l.get("log") == "access" and l["method"] == "GET" and
                l["path"] != "/healthz"]
        self.assertEqual([(l["token"], l["execution_id"]) for l in read],
                         [("viewer", exec_id)], lines)
        events = [l for l in lines if l.get("log") == "event" and l["execution_id"] == exec_id]
        self.assertEqual([e["event"] for e in events],
                         ["execution.started", "step.started", "step.finished",
                          "execution.finished"])
        self.assertEqual(events[2]["step"], "greet")
        self.assertEqual(events[-1]["status"], "succeeded")
        self.assertEqual(events[-1]["level"], "info")
        # The execution names the request that started it.
        self.assertEqual(doc["trigger_info"]["request_id"], access[0]["request_id"])

    def test_a_decision_through_a_resume_hook_names_its_execution(self):
        # Its access line had no execution_id, where the API's decisions' have it: an audit
        # selecting by execution missed the hook's decisions.
        self.s.stop()
        self.p.write("ferry.yaml", self.CONFIG + tokens_yaml() +
                     "hooks:\n  decide:\n    verify: none\n    action: {resume: approval}\n")
        self.p.workflow("gate", "steps:\n  - {id: cab, task: approval, with: {message: go}}\n")
        self.s = Server(te.FERRY, self.p.dir, self.p.data)
        status, doc = self.start("gate", {})
        self.assertEqual(status, 202, doc)
        for _ in range(100):  # bounded: 5 s until it waits
            if self.s.json("GET", "/api/v1/executions/" + doc["id"],
                           role="viewer")[1]["status"] == "waiting":
                break
            time.sleep(0.05)
        status, answer = self.s.json("POST", "/hooks/decide",
                                     {"execution_id": doc["id"], "step": "cab",
                                      "decision": "approved", "comment": "ok by CAB"})
        self.assertEqual((status, answer["comment"]), (200, "ok by CAB"), answer)
        self.s.stop()
        lines = [json.loads(l) for l in (self.p.dir / "serve.log").read_text().splitlines()]
        decided = [l for l in lines if l.get("log") == "access" and l["path"] == "/hooks/decide"]
        self.assertEqual([l.get("execution_id") for l in decided], [doc["id"]], decided)

    def test_a_cancel_is_logged_as_a_warning_a_failure_as_an_error(self):
        # Every operator's cancel was logged at level error: what the alert filter pages on.
        status, kept = self.start("slow", {"pause": "30s"})
        self.assertEqual(status, 202, kept)
        status, _ = self.s.json("POST", "/api/v1/executions/%s/cancel" % kept["id"], {},
                                role="operator")
        self.assertEqual(status, 202)
        status, failed = self.start("slow", {"pause": "soon"}, query="?wait=10s")
        self.assertEqual((status, failed["status"]), (200, "failed"), failed)
        for _ in range(100):  # bounded: 5 s, until the cancel has ended it
            status, shown = self.s.json("GET", "/api/v1/executions/" + kept["id"], role="viewer")
            if shown["status"] == "cancelled":
                break
            time.sleep(0.05)
        self.s.stop()
        lines = [json.loads(l) for l in (self.p.dir / "serve.log").read_text().splitlines()]
        ends = {l["execution_id"]: l["level"] for l in lines
                if l.get("log") == "event" and l["event"] == "execution.finished"}
        self.assertEqual((ends[kept["id"]], ends[failed["id"]]), ("warn", "error"), ends)


class StderrIsJsonLines(unittest.TestCase):
    """Everything `ferry serve` writes on stderr, from its start to its stop, is a JSON line:
    a log reader needs no way to skip plain text."""

    def test_every_line_of_a_run_parses_as_json(self):
        p = te.Project()
        try:
            p.write("ferry.yaml", tokens_yaml() +
                    "  # a digest that does not resolve: the token is disabled, with a warning\n"
                    "    - {name: gone, sha256: \"${env:FERRY_TEST_NEVER_SET_DIGEST}\", "
                    "role: viewer}\n"
                    "hooks:\n"
                    "  unset:\n"
                    "    secret: \"${env:FERRY_TEST_NEVER_SET_SECRET}\"\n"
                    "    verify: hmac-sha256\n"
                    "    header: X-Signature\n"
                    "    action: {start: hello}\n")
            p.workflow("hello", HELLO)
            # An on_failure hook that fails: the engine's notice is a server line too.
            p.write("tasks/hooks/boom.lua", 'return function(ctx, event) error("hook boom") end\n')
            p.workflow("breaks", "steps: [{id: a, task: fail, with: {message: no}}]\n"
                                 "hooks: {on_failure: hooks/boom.lua}\n")
            # A task file that prints as it loads, before the server's log exists.
            p.write("tasks/chatty.lua", 'print("chatty loaded")\nferry.log.warn("chatty warns")\n'
                    'return {name = "custom.chatty", run = function() return {} end}\n')
            s = Server(te.FERRY, p.dir, p.data)
            try:
                status, doc = s.json("POST", "/api/v1/workflows/hello/executions?wait=10s",
                                     {"inputs": {"name": "ada"}}, role="operator")
                self.assertEqual(status, 200, doc)
                status, broken = s.json("POST", "/api/v1/workflows/breaks/executions?wait=10s",
                                        {"inputs": {}}, role="operator")
                self.assertEqual((status, broken["status"]), (200, "failed"), broken)
                status, _, _ = s.request("POST", "/hooks/unset", {"x": 1},
                                         headers={"X-Signature": "sha256=00"})
                self.assertEqual(status, 500)
            finally:
                self.assertEqual(s.stop(), 0)
            text = (p.dir / "serve.log").read_text()
            lines = []
            for number, line in enumerate(text.splitlines(), 1):
                try:
                    lines.append(json.loads(line))
                except ValueError:
                    self.fail("serve.log:%d is not JSON: %r" % (number, line))
            server = [l for l in lines if l["log"] == "server"]
            for l in server:
                self.assertIn(l["level"], ("info", "warn", "error"), l)
                self.assertTrue(l["at"].endswith("Z"), l)
            messages = [l["message"] for l in server]
            self.assertTrue(any("token 'gone' is disabled" in m for m in messages), messages)
            listening = [l for l in server if l["message"].startswith("listening on ")]
            self.assertEqual(len(listening), 1, messages)
            self.assertEqual(listening[0]["url"], "http://" + s.url)
            self.assertIn("listening on http://%s " % s.url, listening[0]["message"])
            hook = [l for l in server if l.get("hook") == "unset"]
            self.assertEqual(len(hook), 1, messages)
            self.assertEqual(hook[0]["level"], "error")
            self.assertIn("FERRY_TEST_NEVER_SET_SECRET", hook[0]["message"])
            chatty = [(l["level"], l["message"], l.get("source")) for l in server
                      if l["message"].startswith("chatty")]
            self.assertEqual(chatty, [("info", "chatty loaded", "lua"),
                                      ("warn", "chatty warns", "lua")])
            notice = [l for l in server if "on_failure hook failed" in l["message"]]
            self.assertEqual(len(notice), 1, messages)
            self.assertEqual((notice[0]["level"], notice[0]["execution_id"]),
                             ("error", broken["id"]))
            self.assertIn("hook boom", notice[0]["message"])
            self.assertEqual([l["message"] for l in server[-2:]],
                             ["shutting down (0 execution(s) running, 0 waiting for a decision)",
                              "stopped (0 execution(s) left to resume at next start: 0 cut "
                              "short by the grace, 0 waiting for a decision)"])
            self.assertEqual(server[-1]["executions_left"], 0)
            # Which binary, project and store this server is.
            self.assertRegex(listening[0]["message"],
                             r"\(ferry \d+\.\d+\.\d+, commit ([0-9a-f]{12}(-dirty)?|unknown), "
                             r"project .+, data .+\)$")
            self.assertTrue(listening[0]["data"])
            self.assertEqual(listening[0]["commit"], listening[0]["message"].split(", ")[1][7:])
            kinds = {l["log"] for l in lines}
            self.assertEqual(kinds, {"server", "access", "event"})
        finally:
            p.remove()

    def test_a_bad_listen_address_is_refused_before_anything_starts(self):
        # A usage error (exit 2, plain text like every CLI usage error), found before the
        # project opens: no JSON line comes before it.
        p = te.Project()
        try:
            p.workflow("hello", HELLO)
            for value in ("8080", "127.0.0.1:99999", "127.0.0.1:"):
                proc = subprocess.run([te.FERRY, "serve", "--listen", value, "--project", p.dir,
                                       "--data", p.data], capture_output=True, text=True,
                                      timeout=30)
                self.assertEqual(proc.returncode, 2, proc.stderr)
                self.assertTrue(proc.stderr.startswith(
                    "ferry serve: --listen must be HOST:PORT, got '%s'" % value), proc.stderr)
                self.assertNotIn("{", proc.stderr)
        finally:
            p.remove()

    def test_a_port_in_use_is_refused_without_making_the_data_folder(self):
        p = te.Project()
        taken = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            p.workflow("hello", HELLO)
            taken.bind(("127.0.0.1", 0))
            taken.listen(1)
            address = "127.0.0.1:%d" % taken.getsockname()[1]
            data = Path(p.data) / "never"
            proc = subprocess.run([te.FERRY, "serve", "--listen", address, "--project", p.dir,
                                   "--data", str(data)], capture_output=True, text=True,
                                  timeout=30)
            self.assertEqual(proc.returncode, 2, proc.stderr)
            error = [json.loads(l) for l in proc.stderr.splitlines() if '"error"' in l]
            self.assertEqual(len(error), 1, proc.stderr)
            self.assertIn("address", error[0]["message"])
            self.assertEqual(error[0]["listen"], address)
            self.assertFalse(data.exists(), "a refused server made its data folder")
            self.assertNotIn("listening on", proc.stderr)
        finally:
            taken.close()
            p.remove()

    def test_quiet_keeps_the_server_lines_only(self):
        p = te.Project()
        try:
            p.write("ferry.yaml", tokens_yaml())
            p.workflow("hello", HELLO)
            s = Server(te.FERRY, p.dir, p.data, extra_args=("--quiet",))
            try:
                status, _ = s.json("POST", "/api/v1/workflows/hello/executions?wait=10s",
                                   {"inputs": {"name": "ada"}}, role="operator")
                self.assertEqual(status, 200)
            finally:
                self.assertEqual(s.stop(), 0)
            lines = [json.loads(l) for l in (p.dir / "serve.log").read_text().splitlines()]
            self.assertEqual({l["log"] for l in lines}, {"server"})
            self.assertTrue(lines[0]["message"].startswith("listening on http://"), lines)
            self.assertTrue(lines[-1]["message"].startswith("stopped"), lines)
        finally:
            p.remove()


class Malformed(ServeTest):
    def raw(self, data, read_timeout=5):
        with socket.create_connection(("127.0.0.1", self.s.port), timeout=read_timeout) as c:
            c.sendall(data)
            c.shutdown(socket.SHUT_WR)
            chunks = []
            while True:
                try:
                    b = c.recv(65536)
                except socket.timeout:
                    break
                if not b:
                    break
                chunks.append(b)
            return b"".join(chunks)

    def test_bad_json_oversized_truncated_and_garbage(self):
        status, _, data = self.s.request("POST", "/api/v1/workflows/hello/executions", "{bad",
                                         role="operator")
        self.assertEqual(status, 400)
        self.assertEqual(json.loads(data)["error"]["code"], "bad_json")
        status, _, data = self.s.request("POST", "/api/v1/workflows/hello/executions",
                                         "{" + " " * 5000 + "}", role="operator")
        self.assertEqual(status, 413)
        truncated = (b"POST /api/v1/workflows/hello/executions HTTP/1.1\r\nHost: x\r\n"
                     b"Content-Length: 100\r\n\r\n{\"inputs\"")
        self.assertIn(b"400", self.raw(truncated).split(b"\r\n")[0])
        self.assertIn(b"400", self.raw(b"\x00\x01garbage\r\n\r\n").split(b"\r\n")[0])
        # A key twice in one object: readers disagree on which wins, so neither does.
        status, _, data = self.s.request(
            "POST", "/api/v1/workflows/hello/executions",
            '{"inputs": {"name": "x"}, "inputs": {"name": "y"}}', role="operator")
        self.assertEqual(status, 400, data)
        self.assertIn('the key "inputs" twice', json.loads(data)["error"]["message"])
        status, _, data = self.s.request(
            "POST", "/api/v1/workflows/hello/executions",
            '{"inputs": {"name": "x", "name": "y"}}', role="operator")
        self.assertEqual(status, 400, data)
        # Endpoints with a small body say what they take, and refuse what is not JSON.
        exec_id = self.start(query="?wait=5s")[1]["id"]
        for path, body, code in (
                ("/api/v1/executions/%s/retry" % exec_id, "garbage", 400),
                ("/api/v1/executions/%s/retry" % exec_id, '{"inputs": {"name": "z"}}', 422),
                ("/api/v1/executions/%s/cancel" % exec_id, '{"why": "x"}', 422),
                ("/api/v1/executions/%s/steps/greet/approve" % exec_id,
                 '{"comment": "ok", "extra": 1}', 422),
                # These read no body, and sent a delivery or a probe whatever it held.
                ("/api/v1/dlq/01ARZ3NDEKTSV4RRFFQ69G5FAV/replay", "garbage", 400),
                ("/api/v1/integrations/none/test", '{"x": 1}', 422)):
            with self.subTest(path=path, body=body):
                status, _, data = self.s.request("POST", path, body, role="admin")
                self.assertEqual(status, code, data)
                if code == 422:
                    self.assertIn("unknown field", json.loads(data)["error"]["message"])
        # A retry is answered like a start: ?wait= waits for its end.
        status, again = self.s.json("POST", "/api/v1/executions/%s/retry?wait=5s" % exec_id,
                                    None, role="operator")
        self.assertEqual(status, 200, again)
        self.assertEqual(again["status"], "succeeded")
        self.assertEqual(again["trigger_info"]["retry_of"], exec_id)
        # The server keeps serving others.
        self.assertEqual(self.s.json("GET", "/healthz")[0], 200)

    def test_pipelined_large_answers_all_arrive_whole(self):
        # The second large answer was written behind the first while it still filled the
        # socket's queue, past the 8 MiB meant for stalled event streams: the connection was
        # reset 3-5 MB into the first answer, though the client read at full speed.
        self.p.workflow("wide", """\
inputs: {n: {type: integer}}
steps: [{id: s, task: log, with: {message: "{{ inputs.n }}"}}]
outputs: {blob: "{{ 'x' * 1000000 }}"}
""")
        for n in range(10):
            status, body = self.start("wide", {"n": n}, query="?wait=10s")
            self.assertEqual(status, 200, body)
        path = "/api/v1/executions?workflow=wide&limit=10"
        request = ("GET %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n"
                   % (path, TOKENS["viewer"])).encode()
        c = socket.create_connection(("127.0.0.1", self.s.port), timeout=30)
        try:
            c.sendall(request * 3)
            data = bytearray()
            deadline = time.monotonic() + 60
            answers = 0
            while answers < 3 and time.monotonic() < deadline:
                chunk = c.recv(1 << 20)
                if not chunk:
                    break
                data += chunk
                # Count whole answers: head, then Content-Length bytes of body.
                answers, at = 0, 0
                while True:
                    head_end = data.find(b"\r\n\r\n", at)
                    if head_end < 0:
                        break
                    length = int(re.search(rb"content-length: (\d+)",
                                           bytes(data[at:head_end]).lower()).group(1))
                    if len(data) < head_end + 4 + length:
                        break
                    answers += 1
                    at = head_end + 4 + length
            self.assertEqual(answers, 3, "%d bytes received" % len(data))
            self.assertGreater(len(data), 3 * 4 * 1000000)  # pages stop past 4 MiB
        finally:
            c.close()
        # The 10 MB of entries come in pages cut past 4 MiB, each pointing at the next.
        seen, cursor = [], None
        for _ in range(10):
            status, page = self.s.json(
                "GET", path + ("&cursor=" + cursor if cursor else ""), role="viewer")
            self.assertEqual(status, 200, page)
            self.assertLess(len(page["executions"]), 10)
            seen += [e["id"] for e in page["executions"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        self.assertEqual(len(set(seen)), 10)

    def test_a_slow_client_does_not_block_others(self):
        c = socket.create_connection(("127.0.0.1", self.s.port), timeout=15)
        try:
            c.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # never finishes its head
            t0 = time.monotonic()
            self.assertEqual(self.s.json("GET", "/healthz")[0], 200)
            self.assertLess(time.monotonic() - t0, 2)
        finally:
            c.close()

    def test_unknown_paths_and_methods(self):
        self.assertEqual(self.s.json("GET", "/api/v1/nothing")[0], 404)
        status, body = self.s.json("DELETE", "/api/v1/workflows", role="admin")
        self.assertEqual(status, 405)
        self.assertEqual(body["error"]["code"], "method_not_allowed")
        # RFC 9110: a 405 names the methods the resource has.
        status, headers, _ = self.s.request("PUT", "/api/v1/workflows/hello/executions",
                                            role="admin")
        self.assertEqual((status, headers.get("allow")), (405, "POST"))
        status, headers, _ = self.s.request("DELETE", "/api/v1/workflows", role="admin")
        self.assertEqual((status, headers.get("allow")), (405, "GET, HEAD"))


class OpenApiAndMetrics(ServeTest):
    def test_answers_hold_to_the_schemas_the_document_gives(self):
        # An SDK generated from openapi.json types what it reads by these schemas.
        _, doc = self.s.json("GET", "/api/v1/openapi.json")

        def check(method, path, documented, status_wanted, body=None, role="admin"):
            status, answer = self.s.json(method, path, body, role=role)
            self.assertEqual(status, status_wanted, answer)
            schema = oa.answer_schema(doc, documented, method.lower(), status)
            self.assertIsNotNone(schema, (documented, status))
            self.assertEqual(oa.problems(schema, answer, doc), [], (path, answer))
            return answer
        done = check("POST", "/api/v1/workflows/hello/executions?wait=5s",
                     "/api/v1/workflows/{name}/executions", 200, {"inputs": {"name": "ada"}})
        accepted = check("POST", "/api/v1/workflows/hello/executions",
                         "/api/v1/workflows/{name}/executions", 202, {"inputs": {"name": "b"}})
        check("GET", "/api/v1/executions/" + done["id"], "/api/v1/executions/{id}", 200)
        check("GET", "/api/v1/executions?limit=5", "/api/v1/executions", 200)
        check("GET", "/api/v1/executions/%s/diff" % done["id"], "/api/v1/executions/{id}/diff",
              200)
        check("POST", "/api/v1/executions/%s/retry?wait=5s" % done["id"],
              "/api/v1/executions/{id}/retry", 200)
        check("GET", "/api/v1/workflows", "/api/v1/workflows", 200)
        check("GET", "/api/v1/workflows/hello", "/api/v1/workflows/{name}", 200)
        check("GET", "/api/v1/integrations", "/api/v1/integrations", 200)
        check("GET", "/api/v1/dlq", "/api/v1/dlq", 200)
        check("GET", "/api/v1/schedules", "/api/v1/schedules", 200)
        check("GET", "/api/v1/forms", "/api/v1/forms", 200)
        check("GET", "/healthz", "/healthz", 200)
        check("GET", "/api/v1/executions/nope", "/api/v1/executions/{id}", 404)
        self.assertTrue(accepted["id"])
        # The checker finds what does not hold (a test of the test).
        self.assertTrue(oa.problems(oa.answer_schema(doc, "/api/v1/executions/{id}", "get", 200),
                                    {"id": 1, "steps": {"a": {"key": "a"}}}, doc))

    def test_openapi_describes_every_route_accurately(self):
        status, doc = self.s.json("GET", "/api/v1/openapi.json")
        self.assertEqual(status, 200)
        self.assertEqual(doc["openapi"][:2], "3.")
        paths = doc["paths"]
        for method, path, need in RoleMatrix.ENDPOINTS:
            self.assertIn(method.lower(), paths.get(path.replace("hello", "{name}"), {}), path)
            op = paths[path.replace("hello", "{name}")][method.lower()]
            # The role the test matrix enforces is the one documented.
            self.assertEqual(op["x-ferry-role"], need or "none", (method, path))
        # What each answers, as the endpoints really do (statuses, media types).
        def answers(path, method="get"):
            return paths[path][method]["responses"]
        approve = answers("/api/v1/executions/{id}/steps/{step}/approve", "post")
        self.assertEqual(sorted(k for k in approve if k != "default"),
                         ["200", "400", "401", "403", "404", "409", "422"])
        self.assertIn("decision", approve["200"]["content"]["application/json"]["schema"]
                      ["properties"])
        cancel = answers("/api/v1/executions/{id}/cancel", "post")
        self.assertEqual(sorted(k for k in cancel if k != "default"),
                         ["202", "400", "401", "403", "404", "409", "422"])
        start = answers("/api/v1/workflows/{name}/executions", "post")
        self.assertEqual(sorted(k for k in start if k != "default"),
                         ["200", "202", "400", "401", "403", "404", "413", "422", "503", "507"])
        self.assertEqual(oa.resolve(start["202"]["content"]["application/json"]["schema"],
                                    doc)["required"], ["id", "status", "dry_run"])
        # Identifiers an SDK generator can name methods after, each once.
        ids = [op["operationId"] for item in paths.values() for op in item.values()]
        self.assertEqual(len(ids), len(set(ids)))
        for op_id in ids:
            self.assertRegex(op_id, r"^[a-z]+[A-Za-z0-9]*$")
        self.assertIn("postApiV1WorkflowsByNameExecutions", ids)
        limit = [p for p in paths["/api/v1/executions"]["get"]["parameters"]
                 if p["name"] == "limit"][0]
        self.assertEqual((limit["schema"]["minimum"], limit["schema"]["maximum"]), (1, 1000))
        events = answers("/api/v1/executions/{id}/events")
        self.assertIn("text/event-stream", events["200"]["content"])
        self.assertIn("204", events)
        self.assertIn("text/plain; version=0.0.4", answers("/metrics")["200"]["content"])
        self.assertIn("502", answers("/api/v1/dlq/{id}/replay", "post"))
        self.assertIn("application/x-www-form-urlencoded",
                      paths["/api/v1/forms/{name}/submit"]["post"]["requestBody"]["content"])
        self.assertIn("415", answers("/api/v1/forms/{name}/submit", "post"))
        self.assertIn("X-Signature",
                      [p["name"] for p in paths["/hooks/{name}"]["post"]["parameters"]])
        self.assertIn("409", answers("/hooks/{name}", "post"))
        # A form's role depends on the form: open route, and a note saying how.
        submit = paths["/api/v1/forms/{name}/submit"]["post"]
        self.assertEqual(submit["x-ferry-role-note"], "none for a public form, else operator")
        self.assertEqual(submit["security"], [{}, {"bearer": []}])
        # Every documented operation answers something other than 404/405.
        for path, item in paths.items():
            for method in item:
                if path == "/api/v1/events":
                    continue  # an endless stream: test_serve_events.py covers it
                concrete = path.replace("{name}", "hello").replace("{id}", "x")
                status, _, _ = self.s.request(method.upper(), concrete, {} if method == "post" else None,
                                              role="admin")
                self.assertNotIn(status, (404, 405) if "{" not in path else (405,),
                                 "%s %s" % (method, path))
                self.assertTrue(item[method]["responses"])
                if path.startswith("/api/v1/"):
                    # An unknown query parameter is a 400 everywhere, and each says so.
                    status, _, body = self.s.request(
                        method.upper(), concrete + "?nosuch=1",
                        {} if method == "post" else None, role="admin")
                    self.assertEqual(status, 400, "%s %s?nosuch=1: %s" % (method, path, body[:200]))
                    self.assertIn("400", item[method]["responses"], "%s %s" % (method, path))
        # A hook whose secret cannot be read answers 500 secret_unavailable.
        self.assertIn("500", answers("/hooks/{name}", "post"))
        # Every documented query parameter is read: a bad value of it is refused (400).
        bad_values = {"limit": "0", "wait": "soon", "status": "done", "cursor": "page2"}
        documented = set()
        for path, item in paths.items():
            for method, op in item.items():
                for param in op["parameters"]:
                    self.assertIn(param["in"], ("path", "query", "header"), param)
                    if param["in"] != "query" or param["name"] not in bad_values:
                        continue
                    concrete = path.replace("{name}", "hello").replace("{id}", "x")
                    status, _, body = self.s.request(
                        method.upper(), "%s?%s=%s" % (concrete, param["name"],
                                                      bad_values[param["name"]]),
                        {} if method == "post" else None, role="admin")
                    if status == 404 and "{name}" in path and "workflows" not in path:
                        continue  # this project has no form or hook 'hello'
                    documented.add(param["name"])
                    self.assertEqual(status, 400, "%s %s ?%s: %s" % (method, path, param["name"],
                                                                     body[:200]))
        self.assertEqual(documented, set(bad_values))
        start = paths["/api/v1/workflows/{name}/executions"]["post"]
        self.assertEqual(sorted(start["requestBody"]["content"]["application/json"]["schema"]
                                ["properties"]), ["dry_run", "inputs"])
        self.assertIn("Idempotency-Key", [p["name"] for p in start["parameters"]])

    def test_metrics_in_prometheus_text_format(self):
        self.start(query="?wait=5s")
        # A real step whose output happens to say "dry_run": true previewed nothing.
        self.p.workflow("looks-like-a-preview",
                        "steps:\n  - {id: l, task: lua, with: {script: \"return {dry_run = true}\"}}\n")
        status, body = self.start("looks-like-a-preview", {}, "?wait=5s")
        self.assertEqual((status, body["status"]), (200, "succeeded"), body)
        status, headers, data = self.s.request("GET", "/metrics", role="viewer")
        self.assertEqual(status, 200)
        self.assertTrue(headers["content-type"].startswith("text/plain"))
        text = data.decode()
        self.assertIn('ferry_executions_total{workflow="hello",status="succeeded"} 1', text)
        self.assertIn("itsm_ticket_creation_total", text)
        self.assertIn("ferry_dlq_size 0", text)
        self.assertIn("\nitsm_dry_run_total 0\n", text)
        # How full the store is: what an alert compares before writes start failing.
        self.assertIn("\nferry_store_map_bytes 67108864\n", text)
        used = int(re.search(r"\nferry_store_file_bytes (\d+)\n", text).group(1))
        self.assertTrue(4096 < used < 64 << 20, used)
        # This scrape's own connection is open; nothing was refused.
        self.assertRegex(text, r"\nferry_http_connections_open [1-9]\d*\n")
        self.assertIn("\nferry_http_connections_refused_total 0\n", text)
        # Every sample line belongs to a declared metric (what promtool checks first).
        declared = {l.split()[2] for l in text.splitlines() if l.startswith("# TYPE")}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                name = line.split("{")[0].split(" ")[0]
                base = name
                for suffix in ("_bucket", "_sum", "_count"):
                    if name.endswith(suffix) and name[: -len(suffix)] in declared:
                        base = name[: -len(suffix)]
                self.assertIn(base, declared, line)
        # promtool (Debian's prometheus package; the test command installs it) agrees.
        import shutil
        import subprocess
        promtool = shutil.which("promtool")
        self.assertIsNotNone(promtool, "promtool is missing: scripts/install-deps.sh --test")
        check = subprocess.run([promtool, "check", "metrics"], input=data, capture_output=True,
                               timeout=30)
        self.assertEqual(check.returncode, 0, check.stdout + check.stderr)


APPROVAL = """\
inputs: {timeout: {type: string, default: ""}}
steps:
  - id: approve
    task: approval
    with: {message: "Deploy the firewall change?", timeout: "{{ inputs.timeout }}",
           on_timeout: reject, approvers: [operator, admin]}
  - id: apply
    task: log
    when: "{{ steps.approve.output.decision == 'approved' }}"
    with: {message: applied}
"""
ESCALATE = """\
steps:
  - id: approve
    task: approval
    with: {message: "Approve?", timeout: 500ms, on_timeout: escalate}
  - id: escalate
    task: log
    with: {message: "paging the on-call manager"}
"""


class Approvals(unittest.TestCase):
    def setUp(self):
        self.p = te.Project()
        self.p.write("ferry.yaml", tokens_yaml())
        self.p.workflow("change", APPROVAL)
        self.p.workflow("escalating", ESCALATE)
        self.s = Server(te.FERRY, self.p.dir, self.p.data)

    def tearDown(self):
        self.s.stop()
        self.p.remove()

    def execution(self, exec_id):
        return self.s.json("GET", "/api/v1/executions/" + exec_id, role="viewer")[1]

    def wait_status(self, exec_id, wanted, timeout=10):
        deadline = time.monotonic() + timeout
        rec = self.execution(exec_id)
        while rec["status"] not in wanted and time.monotonic() < deadline:
            time.sleep(0.05)
            rec = self.execution(exec_id)
        return rec

    def start(self, wf="change", inputs=None):
        status, body = self.s.json("POST", "/api/v1/workflows/%s/executions" % wf,
                                   {"inputs": inputs or {}}, role="operator")
        self.assertEqual(status, 202, body)
        return body["id"]

    def test_a_synchronous_start_answers_once_the_execution_waits_for_a_decision(self):
        # Only a person goes on from an approval: the caller held for the whole ?wait= (a
        # form's requester was answered at once; the API and hooks now are too), as is a
        # repeat of the request with its Idempotency-Key.
        for headers in ({}, {"Idempotency-Key": "sync-approval-1"},
                        {"Idempotency-Key": "sync-approval-1"}):
            t0 = time.monotonic()
            status, body = self.s.json("POST", "/api/v1/workflows/change/executions?wait=20s",
                                       {"inputs": {}}, role="operator", headers=headers,
                                       timeout=30)
            self.assertEqual((status, body["status"]), (202, "waiting"), body)
            self.assertLess(time.monotonic() - t0, 10)

    def test_an_approval_ferry_run_left_waiting_times_out_under_a_running_server(self):
        # Taken up only at the server's next start or by a decision: its escalation did
        # not run while the server stayed up, however long past the deadline.
        run = self.p.ferry("run", "escalating", "--quiet")
        self.assertEqual(run.returncode, 0, run.stderr)
        exec_id = json.loads(run.stdout)["id"]
        rec = self.wait_status(exec_id, ("succeeded", "failed"), timeout=20)
        self.assertEqual(rec["status"], "succeeded", rec)
        self.assertEqual(rec["steps"]["approve"]["error"]["kind"], "timeout")
        self.assertEqual(rec["steps"]["escalate"]["status"], "succeeded")

    def test_the_command_line_refuses_to_cancel_what_the_server_holds(self):
        exec_id = self.start()
        self.assertEqual(self.wait_status(exec_id, ("waiting",))["status"], "waiting")
        p = self.p.ferry("executions", "cancel", exec_id)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("another ferry process that is still running holds it, waiting for a "
                      "decision (ferry serve: cancel it through its API", p.stderr)
        self.assertEqual(self.execution(exec_id)["status"], "waiting")

    def test_metrics_count_the_executions_waiting_for_a_decision(self):
        # What an alert on decisions left waiting (or a backlog) keys on; and the version.
        def gauges():
            status, _, data = self.s.request("GET", "/metrics", role="viewer")
            self.assertEqual(status, 200)
            text = data.decode()
            found = dict(re.findall(r'\nferry_executions_active\{state="(\w+)"\} (\d+)', text))
            return found, text
        found, text = gauges()
        self.assertEqual(found, {"running": "0", "waiting": "0"})
        # The commit tells two builds of one version apart.
        self.assertRegex(text, r'\nferry_build_info\{version="\d+\.\d+\.\d+",'
                               r'commit="([0-9a-f]{12}(-dirty)?|unknown)"\} 1\n')
        exec_id = self.start()
        self.assertEqual(self.wait_status(exec_id, ("waiting",))["status"], "waiting")
        self.assertEqual(gauges()[0], {"running": "0", "waiting": "1"})

    def test_a_decision_sent_right_after_a_restart_is_not_lost(self):
        # The decision reaches the new process before anything else: the resumed approval
        # must already be waiting for it (it was "no step 'approve'", 404, for a moment).
        exec_id = self.start()
        self.assertEqual(self.wait_status(exec_id, ("waiting",))["status"], "waiting")
        self.s.stop()
        self.s = Server(te.FERRY, self.p.dir, self.p.data)
        status, body = self.s.json("POST", "/api/v1/executions/%s/steps/approve/approve" % exec_id,
                                   {"comment": "at once"}, role="operator")
        self.assertEqual(status, 200, body)
        self.assertEqual(self.wait_status(exec_id, ("succeeded", "failed"))["status"], "succeeded")

    def test_a_step_beside_a_waiting_approval_keeps_the_execution_running(self):
        # Waiting means nothing is left but decisions: while a step still runs beside the
        # approval, the execution is running, a shutdown waits for that step (it was cut
        # and run again after the restart: a second POST), and then it waits.
        self.p.workflow("beside", """\
steps:
  - {id: approve, task: approval, with: {message: "Go?"}}
  - {id: work, task: lua, with: {script: "ferry.sleep('1200ms') return 'done'"}}
""")
        exec_id = self.start("beside")
        deadline = time.monotonic() + 10
        while (self.execution(exec_id)["steps"].get("approve", {}).get("status") != "waiting"
               and time.monotonic() < deadline):
            time.sleep(0.05)
        rec = self.execution(exec_id)
        self.assertEqual((rec["status"], rec["steps"]["work"]["status"]), ("running", "running"))
        listed = self.s.json("GET", "/api/v1/executions?status=waiting", role="viewer")[1]
        self.assertNotIn(exec_id, [e["id"] for e in listed["executions"]])
        t0 = time.monotonic()
        self.s.stop()
        self.assertGreater(time.monotonic() - t0, 0.5, "the shutdown did not wait for 'work'")
        self.s = Server(te.FERRY, self.p.dir, self.p.data)
        rec = self.wait_status(exec_id, ("waiting",))
        self.assertEqual(rec["status"], "waiting")
        self.assertEqual([a["status"] for a in rec["steps"]["work"]["attempts"]], ["succeeded"])
        listed = self.s.json("GET", "/api/v1/executions?status=waiting", role="viewer")[1]
        self.assertIn(exec_id, [e["id"] for e in listed["executions"]])

    def test_approval_parks_durably_and_survives_a_restart(self):
        exec_id = self.start()
        rec = self.wait_status(exec_id, ("waiting",))
        self.assertEqual(rec["status"], "waiting")
        self.assertEqual(rec["steps"]["approve"]["status"], "waiting")
        self.s.stop()
        self.s = Server(te.FERRY, self.p.dir, self.p.data)
        self.assertEqual(self.wait_status(exec_id, ("waiting",))["status"], "waiting")
        # A viewer may not decide; an operator may.
        status, _ = self.s.json("POST", "/api/v1/executions/%s/steps/approve/approve" % exec_id,
                                {"comment": "x"}, role="viewer")
        self.assertEqual(status, 403)
        status, body = self.s.json("POST", "/api/v1/executions/%s/steps/approve/approve" % exec_id,
                                   {"comment": "window agreed with the NOC"}, role="operator")
        self.assertEqual(status, 200, body)
        rec = self.wait_status(exec_id, ("succeeded", "failed"))
        self.assertEqual(rec["status"], "succeeded")
        out = rec["steps"]["approve"]["output"]
        self.assertEqual((out["decision"], out["by"], out["comment"]),
                         ("approved", "operator", "window agreed with the NOC"))
        self.assertNotIn("via", out)  # the token's own decision
        self.assertTrue(out["at"])
        self.assertEqual(rec["steps"]["apply"]["status"], "succeeded")
        # The restart resumed the wait itself, not a new attempt of it.
        self.assertEqual(rec["steps"]["approve"]["attempt"], 1)
        self.assertEqual([a["status"] for a in rec["steps"]["approve"]["attempts"]],
                         ["succeeded"])
        # Deciding twice is a conflict.
        status, _ = self.s.json("POST", "/api/v1/executions/%s/steps/approve/reject" % exec_id,
                                {}, role="operator")
        self.assertEqual(status, 409)

    def test_a_decision_on_a_decided_step_says_how_it_was_decided(self):
        # The execution still waits on another step: the 409 said "(status succeeded)".
        self.p.workflow("two", "steps:\n  - {id: cab, task: approval, with: {message: a}}\n"
                               "  - {id: second, task: approval, with: {message: b}}\n")
        exec_id = self.start("two")
        self.wait_status(exec_id, ("waiting",))
        status, body = self.s.json("POST", "/api/v1/executions/%s/steps/cab/approve" % exec_id,
                                   {}, role="operator")
        self.assertEqual(status, 200, body)
        status, body = self.s.json("POST", "/api/v1/executions/%s/steps/cab/reject" % exec_id,
                                   {}, role="operator")
        self.assertEqual(status, 409, body)
        self.assertRegex(body["error"]["message"], r"^step 'cab' is not waiting for approval: it "
                                                   r"was approved by 'operator' at \d{4}-")

    def test_the_command_line_leaves_what_the_server_holds_to_its_api(self):
        exec_id = self.start()
        self.wait_status(exec_id, ("waiting",))
        p = self.p.ferry("executions", "approve", exec_id, "approve", "--as", "operator")
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("waits in another ferry process that is still running: decide through "
                      "that process (its API)", p.stderr)
        self.assertEqual(self.wait_status(exec_id, ("waiting",))["status"], "waiting")

    def test_reject_and_timeouts(self):
        exec_id = self.start()
        self.wait_status(exec_id, ("waiting",))
        status, _ = self.s.json("POST", "/api/v1/executions/%s/steps/approve/reject" % exec_id,
                                {"comment": "not now"}, role="admin")
        self.assertEqual(status, 200)
        rec = self.wait_status(exec_id, ("succeeded", "failed"))
        self.assertEqual(rec["steps"]["approve"]["output"]["decision"], "rejected")
        self.assertEqual(rec["steps"]["apply"]["status"], "skipped")
        # Ended: its own step is not waiting (409); a step it never had is unknown (404).
        for step, want in (("approve", 409), ("nope", 404)):
            status, _ = self.s.json("POST", "/api/v1/executions/%s/steps/%s/approve"
                                    % (exec_id, step), {}, role="operator")
            self.assertEqual(status, want, step)
        # No decision in time: rejected by the timeout.
        exec_id = self.start(inputs={"timeout": "400ms"})
        rec = self.wait_status(exec_id, ("succeeded", "failed"))
        self.assertEqual(rec["steps"]["approve"]["output"]["by"], "timeout")
        self.assertEqual(rec["steps"]["approve"]["output"]["decision"], "rejected")
        # Or escalated to another step.
        exec_id = self.start("escalating")
        rec = self.wait_status(exec_id, ("succeeded", "failed"))
        self.assertEqual(rec["steps"]["approve"]["status"], "failed")
        self.assertEqual(rec["steps"]["approve"]["error"]["kind"], "timeout")
        self.assertEqual(rec["steps"]["escalate"]["status"], "succeeded")

    def test_a_timeout_that_passed_while_no_server_ran_is_applied_at_start(self):
        # `ferry run` parks the approval and returns; the deadline passes with no process
        # alive; the next server applies it as soon as it resumes the execution.
        self.s.stop()
        run = self.p.ferry("run", "escalating")
        self.assertEqual(run.returncode, 0, run.stderr)
        exec_id = json.loads(run.stdout)["id"]
        self.assertEqual(json.loads(run.stdout)["status"], "waiting")
        rejected = self.p.ferry("run", "change", "--input", "timeout=300ms")
        self.assertEqual(rejected.returncode, 0, rejected.stderr)
        time.sleep(0.7)  # past the 500ms deadline
        restart = time.time()
        self.s = Server(te.FERRY, self.p.dir, self.p.data)
        # The rejection is dated at its deadline, not at the restart that applied it.
        out = self.wait_status(json.loads(rejected.stdout)["id"],
                               ("succeeded", "failed"))["steps"]["approve"]["output"]
        self.assertEqual((out["decision"], out["by"]), ("rejected", "timeout"))
        self.assertLess(te.parse_time(out["at"]), restart)
        rec = self.wait_status(exec_id, ("succeeded", "failed"))
        self.assertEqual(rec["steps"]["approve"]["error"]["kind"], "timeout")
        self.assertGreaterEqual(rec["steps"]["approve"]["duration_ms"], 500)
        self.assertEqual(rec["steps"]["escalate"]["status"], "succeeded")

    def test_a_parent_waits_with_its_sub_workflow(self):
        # Down to a child's decision, the parent waits too: listed as waiting, `ferry run`
        # reports it waiting (exit 0), and it runs on once the child is decided.
        self.p.workflow("gate", "steps:\n  - {id: approve, task: approval, with: {message: go}}\n")
        self.p.workflow("outer", "steps:\n  - {id: sub, task: workflow, with: {name: gate}}\n"
                                 "  - {id: after, task: log, needs: [sub], with: {message: done}}\n")
        exec_id = self.start("outer")
        rec = self.wait_status(exec_id, ("waiting",))
        self.assertEqual(rec["status"], "waiting")
        listed = self.s.json("GET", "/api/v1/executions?status=waiting&workflow=outer",
                             role="viewer")[1]["executions"]
        self.assertEqual([e["id"] for e in listed], [exec_id])
        child = self.s.json("GET", "/api/v1/executions?workflow=gate", role="viewer")[1][
            "executions"][0]["id"]
        status, body = self.s.json("POST", "/api/v1/executions/%s/steps/approve/approve" % child,
                                   {}, role="operator")
        self.assertEqual(status, 200, body)
        rec = self.wait_status(exec_id, ("succeeded", "failed"))
        self.assertEqual((rec["status"], rec["steps"]["after"]["status"]), ("succeeded", "succeeded"))
        self.s.stop()
        run = self.p.ferry("run", "outer")
        self.assertEqual(run.returncode, 0, run.stderr)
        self.assertEqual(json.loads(run.stdout)["status"], "waiting")
        self.assertIn("is waiting for an approval", run.stderr)
        self.s = Server(te.FERRY, self.p.dir, self.p.data)

    def test_an_approval_a_finished_ferry_run_parked_is_decided_at_once(self):
        # `ferry run` exits once only decisions are left; the decision was refused (409)
        # until the server's next start resumed the execution. It is adopted now.
        run = self.p.ferry("run", "change", "--input", "timeout=1h")
        self.assertEqual(run.returncode, 0, run.stderr)
        exec_id = json.loads(run.stdout)["id"]
        status, body = self.s.json("POST", "/api/v1/executions/%s/steps/approve/approve" % exec_id,
                                   {"comment": "ok"}, role="operator")
        self.assertEqual(status, 200, body)
        rec = self.wait_status(exec_id, ("succeeded", "failed"))
        self.assertEqual(rec["status"], "succeeded", rec)
        self.assertEqual(rec["steps"]["apply"]["status"], "succeeded")
        # A cancel is taken at once too.
        run = self.p.ferry("run", "change", "--input", "timeout=1h")
        other = json.loads(run.stdout)["id"]
        status, body = self.s.json("POST", "/api/v1/executions/%s/cancel" % other,
                                   {"reason": "not today"}, role="operator")
        self.assertEqual(status, 202, body)
        self.assertEqual(self.wait_status(other, ("cancelled",))["status"], "cancelled")

    def test_a_decision_after_the_timeout_of_what_ferry_run_parked_is_refused(self):
        # Adopted at the decision, past its deadline: the timeout decides, as at a start.
        run = self.p.ferry("run", "change", "--input", "timeout=1s")
        self.assertEqual(run.returncode, 0, run.stderr)
        exec_id = json.loads(run.stdout)["id"]
        time.sleep(1.3)
        status, body = self.s.json("POST", "/api/v1/executions/%s/steps/approve/approve" % exec_id,
                                   {"comment": "late"}, role="operator")
        self.assertEqual(status, 409, body)
        self.assertIn("its timeout passed at", body["error"]["message"])
        rec = self.wait_status(exec_id, ("succeeded", "failed"))
        out = rec["steps"]["approve"]["output"]
        self.assertEqual((out["decision"], out["by"]), ("rejected", "timeout"))

    def test_a_sub_workflow_approval_a_finished_ferry_run_parked_is_decided_at_once(self):
        self.p.workflow("outer", """\
steps:
  - {id: sub, task: workflow, with: {name: change, inputs: {timeout: 1h}}}
  - {id: after, task: log, needs: sub, with: {message: "{{ steps.sub.output }}"}}
""")
        run = self.p.ferry("run", "outer")
        self.assertEqual(run.returncode, 0, run.stderr)
        parent = json.loads(run.stdout)["id"]
        status, listed = self.s.json("GET", "/api/v1/executions?workflow=change", role="viewer")
        [child] = [e["id"] for e in listed["executions"]]
        status, body = self.s.json("POST", "/api/v1/executions/%s/steps/approve/approve" % child,
                                   {}, role="operator")
        self.assertEqual(status, 200, body)
        self.assertEqual(self.wait_status(parent, ("succeeded", "failed"))["status"], "succeeded")

    def test_a_for_each_approval_is_decided_item_by_item(self):
        self.p.workflow("each", """\
steps:
  - id: approve
    for_each: ["fw-1", "fw-2"]
    task: approval
    with: {message: "Change {{ item }}?"}
""")
        exec_id = self.start("each")
        self.assertEqual(self.wait_status(exec_id, ("waiting",))["status"], "waiting")
        # The step's own id names the items that wait, rather than "not started".
        status, body = self.s.json("POST", "/api/v1/executions/%s/steps/approve/approve" % exec_id,
                                   {}, role="operator")
        self.assertEqual(status, 409, body)
        self.assertEqual(body["error"]["message"],
                         "step 'approve' runs for each item: decide its items one by one "
                         "(waiting: approve[0], approve[1])")
        # An item the step did not make is no step (it said 409 "not started" while the
        # execution ran, and 404 once it ended).
        for key in ("approve[9]", "approve[-1]", "approve[00]"):
            status, body = self.s.json(
                "POST", "/api/v1/executions/%s/steps/%s/approve" % (exec_id, key), {},
                role="operator")
            self.assertEqual(status, 404, body)
            self.assertEqual(body["error"]["message"],
                             "execution %s has no step '%s'" % (exec_id, key))
        for key, decision in (("approve%5B0%5D", "approve"), ("approve[1]", "reject")):
            status, body = self.s.json(
                "POST", "/api/v1/executions/%s/steps/%s/%s" % (exec_id, key, decision), {},
                role="operator")
            self.assertEqual(status, 200, body)
        rec = self.wait_status(exec_id, ("succeeded", "failed"))
        self.assertEqual(rec["steps"]["approve[0]"]["output"]["decision"], "approved")
        self.assertEqual(rec["steps"]["approve[1]"]["output"]["decision"], "rejected")

    def test_cancel_ends_a_waiting_approval_for_good(self):
        exec_id = self.start(inputs={"timeout": "1h"})
        self.assertEqual(self.wait_status(exec_id, ("waiting",))["status"], "waiting")
        status, body = self.s.json("POST", "/api/v1/executions/%s/cancel" % exec_id,
                                   {"reason": 5}, role="operator")
        self.assertEqual(status, 422, body)
        self.assertEqual(body["error"]["message"], "'reason' must be a string")
        # A step that exists but has not started is not waiting: a conflict, not a 404.
        status, _ = self.s.json("POST", "/api/v1/executions/%s/steps/apply/approve" % exec_id,
                                {}, role="operator")
        self.assertEqual(status, 409)
        status, body = self.s.json("POST", "/api/v1/executions/%s/cancel" % exec_id,
                                   {"reason": "change window closed"}, role="operator")
        self.assertEqual(status, 202, body)
        rec = self.wait_status(exec_id, ("cancelled",))
        self.assertEqual(rec["status"], "cancelled")
        self.assertEqual(rec["steps"]["approve"]["status"], "cancelled")
        self.assertEqual(rec["error"]["message"], "change window closed (cancelled by operator)")
        # A decision after the cancel is refused, and a restart does not bring the wait back.
        status, _ = self.s.json("POST", "/api/v1/executions/%s/steps/approve/approve" % exec_id,
                                {}, role="operator")
        self.assertEqual(status, 409)
        self.s.stop()
        self.s = Server(te.FERRY, self.p.dir, self.p.data)
        time.sleep(0.3)
        self.assertEqual(self.execution(exec_id)["status"], "cancelled")

    def test_unknown_step_and_dry_run(self):
        exec_id = self.start()
        self.wait_status(exec_id, ("waiting",))
        status, _ = self.s.json("POST", "/api/v1/executions/%s/steps/nope/approve" % exec_id,
                                {}, role="operator")
        self.assertEqual(status, 404)
        status, body = self.s.json("POST", "/api/v1/workflows/change/executions?wait=5s",
                                   {"inputs": {}, "dry_run": True}, role="operator")
        self.assertEqual(status, 200, body)
        self.assertEqual(body["steps"]["approve"]["output"]["by"], "dry_run")


class BundledProject(unittest.TestCase):
    """The README's main job: `ferry serve --dry-run` on the repository's own ferry.yaml and
    workflows (copied, so the server writes nothing into the repository)."""

    TOKEN = "quickstart-token-for-tests-0123"

    def setUp(self):
        import shutil
        self.p = te.Project()
        repo = HERE.parent.parent
        shutil.copy(repo / "ferry.yaml", self.p.dir / "ferry.yaml")
        shutil.rmtree(self.p.dir / "workflows")
        shutil.copytree(repo / "workflows", self.p.dir / "workflows")
        self.servers = []

    def tearDown(self):
        for s in self.servers:
            s.stop()
        self.p.remove()

    def serve(self, env_extra):
        import os
        env = {k: v for k, v in os.environ.items()
               if k not in ("FERRY_QUICKSTART_TOKEN_SHA256", "SERVICENOW_PASSWORD")}
        env.update(env_extra)
        s = Server(te.FERRY, self.p.dir, self.p.data, extra_args=("--dry-run",), env=env)
        self.servers.append(s)
        return s

    def test_form_to_change_request_in_dry_run(self):
        import hashlib
        digest = hashlib.sha256(self.TOKEN.encode()).hexdigest()
        s = self.serve({"FERRY_QUICKSTART_TOKEN_SHA256": digest})
        fields = json.loads((self.p.dir / "workflows/samples/change-request.json").read_text())
        status, doc = s.json("POST", "/api/v1/forms/change-request/submit?wait=10s", fields)
        self.assertEqual(status, 200, doc)
        self.assertEqual(doc["status"], "succeeded", doc)
        self.assertTrue(doc["dry_run"])
        # The requester (no token) learns the outcome, not the execution's steps.
        self.assertNotIn("steps", doc)
        h = {"Authorization": "Bearer " + self.TOKEN}
        status, doc = s.json("GET", "/api/v1/executions/" + doc["id"], headers=h)
        self.assertEqual(status, 200, doc)
        req = doc["steps"]["change"]["output"]["request"]
        self.assertEqual(req["method"], "POST")
        self.assertTrue(req["url"].endswith("/api/now/table/change_request"))
        self.assertEqual(req["body"]["risk"], "3")
        self.assertEqual(req["body"]["start_date"], "2024-06-01 22:00:00")  # the form normalised it
        # A window given with an offset is the same instant in ServiceNow's UTC form (it was
        # sent as "2024-06-02 00:00:00+02:00").
        status, doc = s.json("POST", "/api/v1/forms/change-request/submit?wait=10s",
                             dict(fields, window_start="2024-06-02T00:00:00+02:00"), headers=h)
        self.assertEqual(status, 200, doc)
        body = doc["steps"]["change"]["output"]["request"]["body"]
        self.assertEqual(body["start_date"], "2024-06-01 22:00:00")
        self.assertIn("## Backout plan", req["body"]["description"])
        self.assertEqual(req["headers"]["Authorization"], "[REDACTED]")
        # The token whose digest came from the environment works; a wrong one does not.
        status, listed = s.json("GET", "/api/v1/executions", headers=h)
        self.assertEqual(status, 200)
        self.assertEqual([e["workflow"] for e in listed["executions"]], ["change-request"] * 2)
        status, _ = s.json("GET", "/api/v1/executions", headers={"Authorization": "Bearer nope"})
        self.assertEqual(status, 401)
        # An API start is a dry run too, whatever the request says.
        rca = json.loads((self.p.dir / "workflows/samples/rca-request.json").read_text())
        rca["dry_run"] = False
        status, doc = s.json("POST", "/api/v1/workflows/rca-to-ticket/executions?wait=10s",
                             rca, headers=h)
        self.assertEqual(status, 200, doc)
        self.assertEqual(doc["status"], "succeeded", doc)
        self.assertTrue(doc["dry_run"])
        self.assertTrue(doc["steps"]["incident"]["output"]["dry_run"])

    def test_a_token_whose_digest_is_missing_is_disabled_not_fatal(self):
        s = self.serve({})
        status, _ = s.json("GET", "/api/v1/executions",
                           headers={"Authorization": "Bearer " + self.TOKEN})
        self.assertEqual(status, 401)
        status, _ = s.json("GET", "/healthz")
        self.assertEqual(status, 200)
        log = (self.p.dir / "serve.log").read_text()
        self.assertIn("token 'quickstart' is disabled", log)
        self.assertIn("FERRY_QUICKSTART_TOKEN_SHA256", log)


class Restart(unittest.TestCase):
    def assert_resumable(self, p, exec_id):
        """The next start finds the execution durable and not finished (it resumes it)."""
        s = Server(te.FERRY, p.dir, p.data)
        try:
            status, rec = s.json("GET", "/api/v1/executions/" + exec_id, role="viewer")
            self.assertEqual(status, 200)
            self.assertIn(rec["status"], ("running", "pending"))
        finally:
            s.stop(sig=signal.SIGKILL)

    def test_sigterm_then_restart_resumes_the_running_execution(self):
        p = te.Project()
        try:
            p.write("ferry.yaml", tokens_yaml())
            p.workflow("slow", SLOW)
            s = Server(te.FERRY, p.dir, p.data, extra_args=())
            status, body = s.json("POST", "/api/v1/workflows/slow/executions",
                                  {"inputs": {"pause": "1500ms"}}, role="operator")
            self.assertEqual(status, 202)
            exec_id = body["id"]
            # SIGTERM waits for running executions (bounded); this one finishes in time.
            self.assertEqual(s.stop(), 0)
            s = Server(te.FERRY, p.dir, p.data)
            try:
                status, rec = s.json("GET", "/api/v1/executions/" + exec_id, role="viewer")
                self.assertEqual(rec["status"], "succeeded")
            finally:
                s.stop()
            # kill -9 in the middle: the next start resumes it.
            s = Server(te.FERRY, p.dir, p.data)
            status, body = s.json("POST", "/api/v1/workflows/slow/executions",
                                  {"inputs": {"pause": "1s"}}, role="operator")
            exec_id = body["id"]
            before = s.json("GET", "/api/v1/executions/" + exec_id, role="viewer")[1]
            self.assertRegex(before["trigger_info"]["request_id"], r"^[0-9A-Z]{26}$")
            s.stop(sig=signal.SIGKILL)
            s = Server(te.FERRY, p.dir, p.data)
            try:
                deadline = time.monotonic() + 10
                rec = {}
                while time.monotonic() < deadline:
                    rec = s.json("GET", "/api/v1/executions/" + exec_id, role="viewer")[1]
                    if rec["status"] == "succeeded":
                        break
                    time.sleep(0.1)
                self.assertEqual(rec["status"], "succeeded")
                self.assertEqual(rec["steps"]["done"]["status"], "succeeded")
                # What started it survives the resume (the request id logs are correlated
                # by): the resumed run rewrote its record without it.
                self.assertEqual(rec["trigger"], "api")
                self.assertEqual(rec["trigger_info"], before["trigger_info"])
            finally:
                s.stop()
        finally:
            p.remove()

    def test_sigterm_past_the_grace_exits_promptly_and_the_execution_stays(self):
        # After server.shutdown_grace (200ms here, 10s by default) the server exits 0 with
        # the execution in flight, its before_step hook still sleeping; the execution stays
        # durable for the next start. (Destroying an App with a hook running is covered by
        # tests/unit/core/app_test.cpp: serve exits without unwinding the engine.)
        p = te.Project()
        try:
            p.write("ferry.yaml", "server: {shutdown_grace: 200ms}\n" + tokens_yaml())
            p.write("tasks/hooks/slow.lua",
                    "return function(ctx, event)\n  ferry.sleep('30s')\n  return event\nend\n")
            p.workflow("hooked", "hooks: {before_step: hooks/slow.lua}\n"
                                 "steps:\n  - {id: a, task: log, with: {message: hi}}\n")
            s = Server(te.FERRY, p.dir, p.data)
            status, body = s.json("POST", "/api/v1/workflows/hooked/executions", {},
                                  role="operator")
            self.assertEqual(status, 202)
            time.sleep(0.5)  # the hook is parked in ferry.sleep by now
            started = time.monotonic()
            self.assertEqual(s.stop(), 0, Path(p.dir, "serve.log").read_text(errors="replace"))
            self.assertLess(time.monotonic() - started, 8)
            # Still durable: the next start resumes it (the hook runs again, so only the
            # record's status is checked, not completion).
            self.assert_resumable(p, body["id"])
        finally:
            p.remove()

    def test_an_execution_whose_ferry_run_was_killed_can_be_cancelled(self):
        # Answered 409 "is not running here" though nothing ran it: the only ways out were
        # `ferry resume` or a restart, both running the steps the operator wants stopped.
        p = te.Project()
        try:
            p.write("ferry.yaml", tokens_yaml())
            p.workflow("slow", SLOW)
            s = Server(te.FERRY, p.dir, p.data)
            try:
                run = subprocess.Popen(
                    [te.FERRY, "run", "slow", "--input", "pause=60s", "--project", str(p.dir),
                     "--data", str(p.data)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                exec_id = None
                deadline = time.monotonic() + 10
                while exec_id is None and time.monotonic() < deadline:
                    listing = s.json("GET", "/api/v1/executions?workflow=slow", role="viewer")[1]
                    running = [e for e in listing["executions"] if e["status"] == "running"]
                    exec_id = running[0]["id"] if running else None
                    time.sleep(0.05)
                self.assertIsNotNone(exec_id)
                time.sleep(0.3)
                # While its ferry run lives, it is that process's.
                status, body = s.json("POST", "/api/v1/executions/%s/cancel" % exec_id,
                                      {"reason": "stop it"}, role="operator")
                self.assertEqual(status, 409, body)
                self.assertIn("another ferry process that is still running runs it",
                              body["error"]["message"])
                run.kill()
                run.wait(5)
                run.stderr.close()
                status, body = s.json("POST", "/api/v1/executions/%s/cancel" % exec_id,
                                      {"reason": "stop it"}, role="operator")
                self.assertEqual(status, 202, body)
                rec = {}
                deadline = time.monotonic() + 10
                while time.monotonic() < deadline:
                    rec = s.json("GET", "/api/v1/executions/" + exec_id, role="viewer")[1]
                    if rec["status"] != "running":
                        break
                    time.sleep(0.05)
                self.assertEqual(rec["status"], "cancelled", rec)
                self.assertEqual(rec["error"]["message"], "stop it (cancelled by operator)")
                # Nothing left ran: the sleep ended cancelled, its dependent never started.
                self.assertEqual(rec["steps"]["wait"]["status"], "cancelled", rec["steps"])
                self.assertNotEqual(rec["steps"].get("done", {}).get("status"), "succeeded")

                # With a sub-workflow recorded running, neither is taken over: adopting the
                # child resumed (and ran) the parent, and a parent cancelled alone left its
                # child running for good. Refused, saying why, and nothing runs.
                p.workflow("nap", "steps:\n  - {id: z, task: sleep, with: {duration: 60s}}\n")
                p.workflow("outer", "steps:\n  - {id: kid, task: workflow, with: {name: nap}}\n")
                run = subprocess.Popen(
                    [te.FERRY, "run", "outer", "--project", str(p.dir), "--data", str(p.data)],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                ids = {}
                deadline = time.monotonic() + 10
                while len(ids) < 2 and time.monotonic() < deadline:
                    listing = s.json("GET", "/api/v1/executions?status=running", role="viewer")[1]
                    ids = {e["workflow"]: e["id"] for e in listing["executions"]}
                    time.sleep(0.05)
                self.assertEqual(sorted(ids), ["nap", "outer"])
                time.sleep(0.3)
                run.kill()
                run.wait(5)
                for wf, why in (("nap", "it is a sub-workflow of execution " + ids["outer"]),
                                ("outer", "its sub-workflow execution %s is still recorded "
                                          "running" % ids["nap"])):
                    status, body = s.json("POST", "/api/v1/executions/%s/cancel" % ids[wf],
                                          {"reason": "stop"}, role="operator")
                    self.assertEqual(status, 409, body)
                    self.assertIn(why, body["error"]["message"])
                time.sleep(0.3)
                events = [json.loads(l) for l in
                          Path(p.dir, "serve.log").read_text(errors="replace").splitlines()
                          if l.startswith("{") and '"log":"event"' in l]
                self.assertEqual([e for e in events if e["execution_id"] in ids.values()], [])
                for wf in ("nap", "outer"):
                    rec = s.json("GET", "/api/v1/executions/" + ids[wf], role="viewer")[1]
                    self.assertEqual(rec["status"], "running")
            finally:
                s.stop()
        finally:
            p.remove()

    def test_a_clean_stop_leaves_no_process_lock_behind(self):
        # Each start left its locks/process-TOKEN file: one more per restart, for ever.
        p = te.Project()
        try:
            p.write("ferry.yaml", tokens_yaml())
            p.workflow("slow", SLOW)
            for _ in range(3):
                s = Server(te.FERRY, p.dir, p.data)
                self.assertEqual(s.json("POST", "/api/v1/workflows/slow/executions",
                                        {"inputs": {"pause": "10ms"}}, role="operator")[0], 202)
                self.assertEqual(s.stop(), 0)
            left = [f for f in os.listdir(p.data / "locks") if f.startswith("process-")]
            self.assertEqual(left, [])
        finally:
            p.remove()

    def test_a_second_signal_stops_at_once_and_exits_cleanly(self):
        # Ctrl-C twice (or `kill` twice) killed the process by the default action (exit
        # 143/130): no `stopped` line, the last log lines lost. It cuts the drain short now.
        p = te.Project()
        try:
            p.write("ferry.yaml", "server: {shutdown_grace: 30s}\n" + tokens_yaml())
            p.workflow("slow", SLOW)
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                s = Server(te.FERRY, p.dir, p.data)
                status, body = s.json("POST", "/api/v1/workflows/slow/executions",
                                      {"inputs": {"pause": "20s"}}, role="operator")
                self.assertEqual(status, 202)
                started = time.monotonic()
                os.kill(s.proc.pid, sig)
                time.sleep(0.3)
                self.assertIsNone(s.proc.poll())  # draining: the grace is 30s
                self.assertEqual(s.stop(sig=sig), 0)
                self.assertLess(time.monotonic() - started, 8)
                log = Path(p.dir, "serve.log").read_text(errors="replace").splitlines()
                self.assertIn("second signal: stopping now", log[-2])
                # The first one named: SIGHUP (a closed terminal, a habit of "reload") too
                # drains and stops as SIGTERM does; its default action killed the process.
                first = json.loads(log[-3])
                self.assertTrue(first["message"].startswith("shutting down ("), log)
                self.assertEqual(first["signal"], sig.name)
                self.assertEqual(json.loads(log[-1])["executions_waiting"], 0)
                self.assertRegex(log[-1], r"stopped \(\d+ execution\(s\) left to resume at next start: \d+ cut short by a second signal")
                self.assert_resumable(p, body["id"])
        finally:
            p.remove()

    def test_sigterm_answers_waiting_callers_and_keeps_to_the_grace(self):
        # A ?wait= caller gets 202 with the status at once (the execution is durable and
        # resumes at the next start), and the process exits within server.shutdown_grace,
        # not after the server's own drain plus the grace.
        p = te.Project()
        try:
            p.write("ferry.yaml", "server: {shutdown_grace: 1s}\n" + tokens_yaml())
            p.workflow("slow", SLOW)
            s = Server(te.FERRY, p.dir, p.data)
            answer = {}

            def wait_call():
                answer["r"] = s.json("POST", "/api/v1/workflows/slow/executions?wait=30s",
                                     {"inputs": {"pause": "20s"}}, role="operator")
            caller = threading.Thread(target=wait_call)
            caller.start()
            time.sleep(0.7)  # the execution is parked in its 20 s step
            started = time.monotonic()
            self.assertEqual(s.stop(), 0, Path(p.dir, "serve.log").read_text(errors="replace"))
            took = time.monotonic() - started
            caller.join(10)
            self.assertLess(took, 4.0)
            status, body = answer["r"]
            self.assertEqual(status, 202, body)
            self.assertEqual(body["status"], "running")
            self.assert_resumable(p, body["id"])
        finally:
            p.remove()

    def test_a_data_folder_moved_under_a_running_server_keeps_its_locks(self):
        # The server's process lock is made in the folder it opened, wherever that folder
        # is now: a resume of the moved folder must see the server as the live owner.
        p = te.Project()
        try:
            p.write("ferry.yaml", tokens_yaml())
            p.workflow("slow", SLOW)
            s = Server(te.FERRY, p.dir, p.data)
            moved = p.dir / "moved-data"
            os.rename(p.data, moved)
            status, body = s.json("POST", "/api/v1/workflows/slow/executions",
                                  {"inputs": {"pause": "2s"}}, role="operator")
            self.assertEqual(status, 202, body)
            r = p.ferry("resume", "--data", str(moved), data=False)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("being run by another ferry process (skipped)", r.stderr)
            self.assertFalse(p.data.exists(), "a lock was made at the old path")
            deadline = time.monotonic() + 15
            rec = {}
            while time.monotonic() < deadline:
                rec = s.json("GET", "/api/v1/executions/" + body["id"], role="viewer")[1]
                if rec.get("status") == "succeeded":
                    break
                time.sleep(0.1)
            self.assertEqual(rec["status"], "succeeded", rec)
            self.assertEqual(rec["steps"]["wait"]["attempt"], 1)  # ran once, not twice
            s.stop()
        finally:
            p.remove()

    def test_a_bad_shutdown_grace_is_refused_naming_the_field(self):
        p = te.Project()
        try:
            p.write("ferry.yaml", "server: {shutdown_grace: soon}\n")
            proc = subprocess.run([te.FERRY, "serve", "--project", p.dir, "--data", p.data,
                                   "--listen", "127.0.0.1:0"],
                                  capture_output=True, text=True, timeout=30)
            self.assertNotEqual(proc.returncode, 0)
            self.assertIn("server.shutdown_grace", proc.stderr)
            self.assertIn("soon", proc.stderr)
        finally:
            p.remove()

    def test_a_token_digest_given_twice_stops_the_server(self):
        # Through a reference the digest is known only once resolved: the server took the
        # first entry's role for it, silently (an entry added to demote a token did not).
        p = te.Project()
        try:
            viewer_digest = hashlib.sha256(TOKENS["viewer"].encode()).hexdigest()
            p.write("ferry.yaml", tokens_yaml() +
                    "    - {name: again, sha256: \"${env:FERRY_TEST_DIGEST}\", role: admin}\n")
            proc = subprocess.run([te.FERRY, "serve", "--project", p.dir, "--data", p.data,
                                   "--listen", "127.0.0.1:0"],
                                  capture_output=True, text=True, timeout=30,
                                  env=dict(os.environ, FERRY_TEST_DIGEST=viewer_digest.upper()))
            self.assertEqual(proc.returncode, 2, proc.stderr)
            self.assertIn("auth.tokens: 'again' has the same sha256 as 'viewer'", proc.stderr)
        finally:
            p.remove()

    def test_validate_reports_bad_server_settings_at_their_place(self):
        # Checked when ferry.yaml loads, so `ferry validate` finds them before a deploy
        # does (serve refuses to start with the same lines).
        p = te.Project()
        try:
            p.write("ferry.yaml", "server:\n  listen: localhost\n  max_body: lots\n"
                                  "  shutdown_grace: soon\n")
            proc = subprocess.run([te.FERRY, "validate", "--project", p.dir, "--data", p.data],
                                  capture_output=True, text=True, timeout=30)
            self.assertEqual(proc.returncode, 2, proc.stdout + proc.stderr)
            self.assertIn("ferry.yaml:2:11: server.listen must be HOST:PORT with a port up to "
                          "65535, got 'localhost'", proc.stdout)
            self.assertIn("ferry.yaml:3:13: server.max_body: expected a size like 1MiB",
                          proc.stdout)
            self.assertIn("ferry.yaml:4:19: server.shutdown_grace: expected a duration",
                          proc.stdout)
            served = subprocess.run([te.FERRY, "serve", "--project", p.dir, "--data", p.data,
                                     "--listen", "127.0.0.1:0"],
                                    capture_output=True, text=True, timeout=30)
            self.assertNotEqual(served.returncode, 0)
            self.assertIn("ferry.yaml:3:13: server.max_body", served.stderr)
        finally:
            p.remove()


if __name__ == "__main__":
    sys.exit(te.run_tests(sys.modules[__name__], sys.argv))
