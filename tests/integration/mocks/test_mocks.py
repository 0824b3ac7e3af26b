#!/usr/bin/env python3
"""Self-test of the mock vendor servers (itsm_mock.py, mockctl.py, standard_webhooks.py).

    cd tests/integration/mocks && python3 -m unittest test_mocks -v

Control endpoints, HTTP/1.1 details, faults, TLS/mTLS and process handling are tested here;
the vendor routes in mocktests_servicenow.py, mocktests_jira.py and mocktests_events.py,
whose test classes are imported below so that this one module runs everything. Every mock
is a child process stopped by its PID. Standard library and the openssl CLI only.
"""

import http.client
import json
import os
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import mock_core                                                   # noqa: E402
from mockctl import MockError, make_certs, start_mock              # noqa: E402
from mocktest_util import MockCase                                  # noqa: E402
from mocktests_events import (SplunkTest, StandardWebhooksTest,     # noqa: E402,F401
                              WebhookReceiverTest)
from mocktests_jira import ADFTest, JiraTest                        # noqa: E402,F401
from mocktests_servicenow import (AuthKindsTest, OAuthTest,         # noqa: E402,F401
                                  ServiceNowTest)

TABLE = "/api/now/table/incident"
LOST = (http.client.RemoteDisconnected, ConnectionError, ssl.SSLError)


class ControlTest(MockCase):
    def test_request_log(self):
        self.call("POST", TABLE + "?a=1&b=x", {"short_description": "x"},
                  headers={"X-Ferry-Trace": "t1"})
        self.mock.state()                                     # control calls are not logged
        self.call("GET", "/nowhere")
        log = self.mock.requests()
        self.assertEqual([(e["method"], e["path"], e["status"]) for e in log],
                         [("POST", TABLE, 201), ("GET", "/nowhere", 404)])
        first = log[0]
        self.assertEqual(first["query"], {"a": "1", "b": "x"})
        self.assertEqual(first["headers"]["x-ferry-trace"], "t1")
        self.assertTrue(all(k == k.lower() for k in first["headers"]))
        self.assertEqual(json.loads(first["body"]), {"short_description": "x"})
        self.assertLessEqual(abs(first["t"] - time.time()), 60)
        self.assertEqual(len(self.mock.requests(path="/api/now", method="post")), 1)

    def test_reset(self):
        self.call("POST", TABLE, {"short_description": "x"})
        self.mock.fault(path="/x", status=500)
        self.mock.reset()
        self.assertEqual(self.mock.requests(), [])
        self.assertEqual(self.mock.faults(), [])
        self.assertEqual(self.mock.state(), {"servicenow": {}, "jira": {"issues": []},
                                             "splunk": [], "webhooks": [], "siem": []})
        rec = self.json_of(self.call("POST", TABLE, {}), 201)["result"]
        self.assertEqual(rec["number"], "INC0010001")            # counters restart too

    def test_config_and_bad_control_calls(self):
        cfg = self.mock.config(webhook_status=202, splunk_indexes=["main"])
        self.assertEqual((cfg["webhook_status"], cfg["splunk_indexes"]), (202, ["main"]))
        for bad in ({"nope": 1}, {"auth": {"type": "basic"}}, {"webhook_secrets": ["!!"]},
                    {"webhook_status": "500"}):
            with self.assertRaises(MockError, msg=bad):
                self.mock.config(**bad)
        for bad in ({"status": 99}, {"path": "/x"}, {"action": "explode"},
                    {"status": 500, "action": "drop"}, {"status": 500, "colour": 1},
                    {"delay_ms": 10 ** 9}, {"status": 500, "times": 0}):
            with self.assertRaises(MockError, msg=bad):
                self.mock.fault(**bad)
        r = self.call("GET", "/_mock/nothing")
        self.assertStatus(r, 404)
        self.assertStatus(self.call("DELETE", "/_mock/state"), 405)


class HTTPTest(MockCase):
    def test_keep_alive_and_content_length(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.mock.port, timeout=5)
        try:
            conn.request("GET", "/services/collector/health")
            r = conn.getresponse()
            r.read()
            sock = conn.sock
            self.assertEqual(r.getheader("Content-Length"), str(len(b'{"text": "HEC is '
                                                                    b'healthy", "code": 17}')))
            conn.request("POST", TABLE, body=b'{"short_description": "k"}',
                         headers={"Content-Type": "application/json"})
            r = conn.getresponse()
            body = r.read()
            self.assertEqual((r.status, int(r.getheader("Content-Length"))), (201, len(body)))
            self.assertIs(conn.sock, sock)                     # same connection reused
        finally:
            conn.close()

    def test_chunked_request_body(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.mock.port, timeout=5)
        try:
            chunks = iter([b'{"short_description": ', b'"chunked", "urgency": ', b'"2"}'])
            conn.request("POST", TABLE, body=chunks, encode_chunked=True,
                         headers={"Content-Type": "application/json"})
            r = conn.getresponse()
            rec = json.loads(r.read())["result"]
            self.assertEqual((r.status, rec["short_description"]), (201, "chunked"))
        finally:
            conn.close()
        log = self.mock.requests()[0]
        self.assertEqual(log["headers"]["transfer-encoding"], "chunked")

    def test_body_limit(self):
        with socket.create_connection(("127.0.0.1", self.mock.port), timeout=5) as s:
            s.sendall(b"POST /siem/events HTTP/1.1\r\nHost: x\r\nContent-Type: "
                      b"application/json\r\nContent-Length: %d\r\n\r\n" % (mock_core.MAX_BODY + 1))
            reply = s.recv(4096)
        self.assertTrue(reply.startswith(b"HTTP/1.1 413 "), reply)
        self.assertIn(b"Connection: close", reply)

    def test_odd_targets_and_bodies(self):
        self.assertStatus(self.call("GET", "//api/now/table/incident"), 200)  # "//" -> "/"
        self.assertStatus(self.call("POST", "/siem/events", body="[" * 100_000), 400)
        self.assertStatus(self.call("GET", TABLE + "#frag"), 200)


class FaultTest(MockCase):
    def test_status_fault(self):
        self.mock.fault(method="POST", path="/api/now/table/inc", status=503,
                        headers={"Retry-After": "1"}, body={"custom": True})
        r = self.call("POST", TABLE, {"short_description": "x"})
        self.assertEqual(self.json_of(r, 503), {"custom": True})
        self.assertEqual(r.headers["retry-after"], "1")
        self.assertStatus(self.call("POST", TABLE, {"short_description": "x"}), 201)  # times=1
        self.assertEqual(len(self.mock.state()["servicenow"]["incident"]), 1)

    def test_vendor_default_bodies(self):
        self.mock.fault(path=TABLE, status=429, headers={"Retry-After": "2"})
        self.mock.fault(path="/rest/api/3/", status=503)
        self.mock.fault(path="/services/collector", status=503)
        self.mock.fault(path="/oauth_token.do", status=500)
        r = self.call("GET", TABLE)
        self.assertEqual(self.json_of(r, 429)["error"]["message"], "Rate limit exceeded")
        self.assertEqual((r.headers["retry-after"], r.headers["x-ratelimit-limit"]),
                         ("2", "100"))
        self.assertEqual(self.json_of(self.call("GET", "/rest/api/3/priority"), 503),
                         {"errorMessages": ["Service Unavailable"], "errors": {}})
        self.assertEqual(self.json_of(self.call("POST", "/services/collector", {"event": "x"}),
                                      503), {"text": "Server is busy", "code": 9})
        self.assertEqual(self.json_of(self.call("POST", "/oauth_token.do"), 500)["error"],
                         "server_error")
        # The notes: both vendors' 429s carry Retry-After; null leaves it out.
        self.mock.fault(path=TABLE, status=429)
        self.mock.fault(path="/rest/api/3/", status=429)
        self.mock.fault(path=TABLE, status=429, headers={"Retry-After": None})
        r = self.call("GET", TABLE)
        self.assertTrue(1 <= int(r.headers["retry-after"]) <= 3600)
        r = self.call("GET", "/rest/api/3/priority")
        self.assertEqual(self.json_of(r, 429)["errorMessages"], ["Rate limit exceeded."])
        self.assertEqual(r.headers["retry-after"], "1")
        self.assertRegex(r.headers["x-ratelimit-reset"], r"^\d{4}-\d\d-\d\dT\d\d:\d\dZ$")
        r = self.call("GET", TABLE)
        self.assertEqual(r.status, 429)
        self.assertNotIn("retry-after", r.headers)

    def test_matching_times_and_queue(self):
        self.mock.fault(method="GET", path="/api/now/", status=500, times=2)
        self.mock.fault(method="GET", path="/api/now/", status=502, body=None)
        self.assertStatus(self.call("POST", TABLE, {}), 201)       # method does not match
        self.assertStatus(self.call("GET", TABLE), 500)
        self.assertStatus(self.call("GET", TABLE), 500)
        r = self.assertStatus(self.call("GET", TABLE), 502)
        self.assertEqual(r.body, b"")
        self.assertStatus(self.call("GET", TABLE), 200)
        self.mock.fault(path="/webhook/", status=204)
        self.assertEqual(self.call("POST", "/webhook/x", {"a": 1}).body, b"")
        self.assertEqual(self.mock.faults(), [])

    def test_drop(self):
        self.mock.fault(method="POST", path=TABLE, action="drop")
        with self.assertRaises(LOST):
            self.call("POST", TABLE, {"short_description": "lost"})
        self.assertEqual(self.mock.state()["servicenow"], {})
        self.assertTrue(self.mock.requests()[0]["dropped"])

    def test_drop_after_create(self):
        self.mock.fault(method="POST", path="/rest/api/3/issue", action="drop_after_create")
        with self.assertRaises(LOST):
            self.call("POST", "/rest/api/3/issue", {"fields": {
                "project": {"key": "OPS"}, "issuetype": {"name": "Task"}, "summary": "s"}})
        self.assertEqual([i["key"] for i in self.mock.state()["jira"]["issues"]], ["OPS-1"])
        entry = self.mock.requests()[0]
        self.assertEqual((entry["dropped"], entry["status"]), (True, None))
        self.mock.fault(path=TABLE, action="drop_after_create")
        with self.assertRaises(LOST):
            self.call("POST", TABLE, {"short_description": "created anyway"})
        self.assertEqual(self.mock.state()["servicenow"]["incident"][0]["short_description"],
                         "created anyway")

    def test_delay(self):
        self.mock.fault(path="/siem/", delay_ms=300)
        start = time.monotonic()
        self.assertStatus(self.call("POST", "/siem/events", {"a": 1}), 200)
        self.assertGreaterEqual(time.monotonic() - start, 0.3)
        self.mock.fault(path="/siem/", delay_ms=100, action="drop")
        with self.assertRaises(LOST):
            self.call("POST", "/siem/events", {"a": 2})
        self.assertEqual(self.mock.state()["siem"], [{"a": 1}])


class TLSTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="ferry-mock-certs-")
        cls.certs = make_certs(cls.tmp.name)
        cls.https = start_mock(tls=cls.certs)
        cls.mtls = start_mock(tls=dict(cls.certs, mtls=True))

    @classmethod
    def tearDownClass(cls):
        for mock in (cls.https, cls.mtls):
            mock.stop()
        cls.tmp.cleanup()

    def get(self, mock, cert=None, key=None):
        ctx = ssl.create_default_context(cafile=self.certs["ca"])
        if cert:
            ctx.load_cert_chain(cert, key)
        with urllib.request.urlopen(mock.url + "/services/collector/health", context=ctx,
                                    timeout=5) as r:
            return r.status

    def test_https(self):
        self.assertTrue(self.https.url.startswith("https://127.0.0.1:"))
        self.assertEqual(self.get(self.https), 200)
        rec = self.https.call("POST", TABLE, json_body={"short_description": "tls"}).json()
        self.assertTrue(rec["result"]["assignment_group"] == "")
        self.assertIn("/sys_user/", rec["result"]["opened_by"]["link"])
        self.assertTrue(rec["result"]["opened_by"]["link"].startswith("https://"))
        with self.assertRaises(urllib.error.URLError):     # not trusted without the CA
            urllib.request.urlopen(self.https.url + "/services/collector/health", timeout=5,
                                   context=ssl.create_default_context())

    def test_mtls_accepts_client_cert(self):
        self.mtls.reset()
        self.assertEqual(self.get(self.mtls, self.certs["client_cert"],
                                  self.certs["client_key"]), 200)
        self.assertEqual(self.mtls.requests()[0]["client_cert"], "ferry-client")

    def test_mtls_refuses_others(self):
        self.mtls.reset()
        for cert, key in ((None, None), (self.certs["other_client_cert"],
                                         self.certs["other_client_key"])):
            with self.assertRaises((OSError, http.client.HTTPException), msg=cert):
                self.get(self.mtls, cert, key)
        self.assertEqual(self.mtls.requests(), [])


class ProcessTest(unittest.TestCase):
    def test_start_stop_by_pid(self):
        with start_mock() as mock:
            pid = mock.pid
            self.assertTrue(mock.alive())
            self.assertEqual(mock.call("GET", "/services/collector/health").status, 200)
        self.assertFalse(mock.alive())
        self.assertEqual(mock.proc.returncode, 0)                 # clean exit on SIGTERM
        with self.assertRaises(ProcessLookupError):
            os.kill(pid, 0)
        self.assertEqual(mock.stop(), 0)                          # idempotent

    def test_bad_config_fails_fast(self):
        with self.assertRaises(MockError) as cm:
            start_mock({"no_such_key": 1})
        self.assertIn("no_such_key", str(cm.exception))

    def test_cli_ready_line(self):
        proc = subprocess.Popen([sys.executable, os.path.join(HERE, "itsm_mock.py"),
                                 "--port", "0"], stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL)
        try:
            line = json.loads(proc.stdout.readline())
            self.assertEqual(list(line), ["port"])
            with socket.create_connection(("127.0.0.1", line["port"]), timeout=5):
                pass
        finally:
            proc.terminate()                                      # SIGTERM to this PID
            self.assertEqual(proc.wait(timeout=5), 0)
            proc.stdout.close()


if __name__ == "__main__":
    unittest.main()
