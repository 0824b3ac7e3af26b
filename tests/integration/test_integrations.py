#!/usr/bin/env python3
"""Integration tests of ferry.yaml integrations: they run the real `ferry` binary against the
mock vendor servers in mocks/ (127.0.0.1 only, each stopped by its PID).

    python3 tests/integration/test_integrations.py path/to/ferry [TestName ...]

Covers the request layer every built-in task uses (ctx.http through an integration): each
auth kind (incl. OAuth2 refresh and mutual TLS), retries with backoff and Retry-After, no
retry on 4xx or on an ambiguous POST, the circuit breaker, the rate limit, dry-run previews,
redaction of secrets, and ferry.yaml validation. Ticket, webhook and SIEM tasks are tested
in test_tasks.py.
"""
import json
import os
import re
import sys
import tempfile
import time
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE / "mocks"))

import test_engine as te  # noqa: E402  (Project, LineResult)
from mockctl import make_certs, start_mock  # noqa: E402

SN_USER, SN_PASSWORD = "svc_ferry", "correct-horse-battery-42"
GET_WF = """\
steps:
  - id: call
    task: http.request
    integration: target
    with: {method: GET, path: /api/now/table/incident}
"""


def fan_wf(items):
    """GET_WF's request, once per item of a for_each over the YAML list `items`."""
    return GET_WF.replace("    integration: target\n",
                          "    integration: target\n    for_each: %s\n" % items)


def integration_yaml(url, body, name="target", type_="servicenow"):
    lines = ["integrations:", "  %s:" % name, "    type: %s" % type_,
             "    base_url: %s" % url]
    lines += ["    " + l for l in body.strip("\n").splitlines()]
    return "\n".join(lines) + "\n"


class IntegrationTest(unittest.TestCase):
    def setUp(self):
        self.p = te.Project()
        self.mocks = []
        self.env = dict(os.environ, SN_PASSWORD=SN_PASSWORD, TOKEN="tok-0123456789abcdef",
                        CLIENT_SECRET="client-secret-xyz-987", API_KEY="key-5551234567")

    def tearDown(self):
        for m in self.mocks:
            m.stop()
        self.p.remove()

    def mock(self, config=None, tls=None):
        m = start_mock(config, tls=tls)
        self.mocks.append(m)
        return m

    def configure(self, url, body, **kw):
        self.p.write("ferry.yaml", integration_yaml(url, body, **kw))

    def ferry(self, *args, env=None, timeout=te.TIMEOUT):
        import subprocess
        cmd = [te.FERRY, *args, "--project", str(self.p.dir), "--data", str(self.p.data)]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                              cwd=str(self.p.dir), env=env or self.env)

    def run_wf(self, name, *args, env=None, timeout=te.TIMEOUT):
        p = self.ferry("run", name, "--quiet", *args, env=env, timeout=timeout)
        doc = json.loads(p.stdout) if p.stdout.strip() else None
        return p.returncode, doc, p.stderr

    def attempts(self, exec_id, step):
        shown = json.loads(self.ferry("executions", "show", exec_id, "--json").stdout)
        st = shown["steps"][step]
        return st.get("attempts", [])

    def http_records(self, exec_id, step):
        out = []
        for a in self.attempts(exec_id, step):
            out += a.get("http", [])
        return out


# --------------------------------------------------------------------------- auth


class Auth(IntegrationTest):
    CASES = {
        "basic": ({"type": "basic", "username": SN_USER, "password": SN_PASSWORD},
                  "auth: {type: basic, username: %s, password: \"${env:SN_PASSWORD}\"}" % SN_USER),
        "bearer": ({"type": "bearer", "token": "tok-0123456789abcdef"},
                   "auth: {type: bearer, token: \"${env:TOKEN}\"}"),
        "api_key": ({"type": "api_key", "header": "X-Api-Key", "value": "key-5551234567"},
                    "auth: {type: api_key, header: X-Api-Key, value: \"${env:API_KEY}\"}"),
        "splunk": ({"type": "splunk", "token": "tok-0123456789abcdef"},
                   "auth: {type: splunk, token: \"${env:TOKEN}\"}"),
    }

    def test_each_static_auth_kind(self):
        self.p.workflow("get", GET_WF)
        for kind, (server_auth, yaml_auth) in self.CASES.items():
            with self.subTest(kind=kind):
                m = self.mock({"auth": server_auth})
                self.configure(m.url, yaml_auth)
                rc, doc, err = self.run_wf("get")
                self.assertEqual(rc, 0, err + json.dumps(doc))
                self.assertEqual(doc["steps"]["call"]["output"]["status"], 200)
                # A wrong secret is a 401: a final answer, not retried.
                env = dict(self.env, SN_PASSWORD="wrong-password", TOKEN="wrong-token-000",
                           API_KEY="wrong-key-000")
                before = len(m.requests())
                rc, doc, err = self.run_wf("get", env=env)
                self.assertEqual(rc, 1)
                self.assertEqual(doc["steps"]["call"]["error"]["kind"], "http_4xx")
                self.assertIn("401", doc["steps"]["call"]["error"]["message"])
                self.assertEqual(len(m.requests()) - before, 1)

    def test_missing_secret_names_the_reference_not_a_value(self):
        m = self.mock({"auth": self.CASES["basic"][0]})
        self.configure(m.url, self.CASES["basic"][1])
        self.p.workflow("get", GET_WF)
        env = {k: v for k, v in self.env.items() if k != "SN_PASSWORD"}
        rc, doc, err = self.run_wf("get", env=env)
        self.assertEqual(rc, 1)
        msg = doc["steps"]["call"]["error"]["message"]
        self.assertIn("${env:SN_PASSWORD}", msg)
        self.assertIn("not set", msg)
        self.assertEqual(m.requests(), [])

    def test_secret_from_a_file(self):
        m = self.mock({"auth": {"type": "bearer", "token": "file-token-42424242"}})
        secret = self.p.write("secrets/token", "file-token-42424242\n")
        self.configure(m.url, "auth: {type: bearer, token: \"${file:%s}\"}" % secret)
        self.p.workflow("get", GET_WF)
        rc, doc, err = self.run_wf("get")
        self.assertEqual(rc, 0, err)

    def test_oauth2_token_cached_and_refreshed_once_on_401(self):
        m = self.mock({"auth": {"type": "oauth2", "client_id": "ferry",
                                "client_secret": "client-secret-xyz-987", "expires_in": 1799}})
        self.configure(m.url, """\
auth:
  type: oauth2
  token_url: /oauth_token.do
  client_id: ferry
  client_secret: "${env:CLIENT_SECRET}"
""")
        # Three calls in one execution: one token serves them all; a revoked token is
        # refreshed once and the call succeeds.
        self.p.write("tasks/custom/three.lua", """\
return {
  name = "custom.three",
  run = function(ctx, input)
    local statuses = {}
    for i = 1, 3 do
      if i == 3 then ctx.http { method = "POST", url = input.revoke, retry = false } end
      local res, err = ctx.http { method = "GET", path = "/api/now/table/incident" }
      if not res then error(err, 0) end
      statuses[i] = res.status
    end
    return { statuses = statuses }
  end,
}
""")
        self.p.workflow("three", """\
steps:
  - id: calls
    task: custom.three
    integration: target
    with: {revoke: "%s/_mock/revoke_tokens"}
""" % m.url)
        rc, doc, err = self.run_wf("three")
        self.assertEqual(rc, 0, err + json.dumps(doc))
        self.assertEqual(doc["steps"]["calls"]["output"]["statuses"], [200, 200, 200])
        tokens = [r for r in m.requests() if r["path"] == "/oauth_token.do"]
        self.assertEqual(len(tokens), 2, "one fetch, one refresh after the revocation")
        self.assertEqual(tokens[0]["headers"]["content-type"], "application/x-www-form-urlencoded")
        self.assertIn("grant_type=client_credentials", tokens[0]["body"])
        gets = [r for r in m.requests() if r["path"] == "/api/now/table/incident"]
        self.assertEqual([r.get("status") for r in gets], [200, 200, 401, 200])
        # Neither the client secret nor a token reaches the history.
        dump = self.ferry("executions", "export").stdout
        self.assertNotIn("client-secret-xyz-987", dump)
        for r in gets:
            token = r["headers"].get("authorization", "").replace("Bearer ", "")
            self.assertTrue(token)
            self.assertNotIn(token, dump)

    def test_a_401_wave_refreshes_the_oauth2_token_once(self):
        # Every request in flight with the revoked token refreshed it once more (20
        # requests: 16 fetches), and an identity provider that keeps only the newest token
        # valid then refused most of the resends.
        m = self.oauth_mock_with_retries()
        self.p.workflow("fan", fan_wf("[1, 2, 3, 4, 5, 6, 7, 8]"))
        m.fault(method="GET", path="/api/now/table/incident", status=401, delay_ms=300, times=8)
        rc, doc, err = self.run_wf("fan")
        self.assertEqual(rc, 0, err + json.dumps(doc)[:2000])
        self.assertEqual(len(m.requests(path="/oauth_token.do")), 2,
                         "one fetch, one refresh for the whole wave")
        self.assertEqual(len(m.requests(path="/api/now/table/incident")), 16)

    def test_a_token_that_is_not_a_bearer_token_is_not_sent_as_one(self):
        # A DPoP or MAC token went out as "Bearer" (RFC 6749 7.1: a client must not use a
        # token type it does not understand), and the API's 401 fetched again.
        m = self.oauth_mock_with_retries()
        self.p.workflow("get", GET_WF)
        m.fault(method="POST", path="/oauth_token.do", status=200, times=1,
                headers={"Content-Type": "application/json"},
                body=json.dumps({"access_token": "dpop-bound-token-1234", "token_type": "DPoP",
                                 "expires_in": 300}))
        rc, doc, err = self.run_wf("get")
        self.assertEqual(rc, 1, err)
        error = doc["steps"]["call"]["error"]
        self.assertIn("OAuth2 token request to", error["message"])
        self.assertIn("token_type 'DPoP' is not Bearer (Ferry sends bearer tokens only)",
                      error["message"])
        self.assertEqual(m.requests(path="/api/now/table/incident"), [])
        # "bearer" in any case is one.
        m.fault(method="POST", path="/oauth_token.do", status=200, times=1,
                headers={"Content-Type": "application/json"},
                body=json.dumps({"access_token": "lower-case-type-token", "token_type": "bearer",
                                 "expires_in": 300}))
        rc, doc, err = self.run_wf("get")
        api = m.requests(path="/api/now/table/incident")
        self.assertEqual(api[0]["headers"]["authorization"], "Bearer lower-case-type-token")

    def test_oauth2_bad_client_secret_is_a_clear_error(self):
        m = self.mock({"auth": {"type": "oauth2", "client_id": "ferry",
                                "client_secret": "client-secret-xyz-987"}})
        self.configure(m.url, """\
auth: {type: oauth2, token_url: /oauth_token.do, client_id: ferry, client_secret: "${env:CLIENT_SECRET}"}
""")
        self.p.workflow("get", GET_WF)
        rc, doc, err = self.run_wf("get", env=dict(self.env, CLIENT_SECRET="nope-nope-nope"))
        self.assertEqual(rc, 1)
        msg = doc["steps"]["call"]["error"]["message"]
        self.assertIn("OAuth2 token request", msg)
        self.assertIn("401", msg)
        self.assertNotIn("nope-nope-nope", json.dumps(doc))

    def oauth_mock_with_retries(self):
        """A mock that hands out OAuth2 tokens, and the integration on it with 3 attempts."""
        m = self.mock({"auth": {"type": "oauth2", "client_id": "ferry",
                                "client_secret": "client-secret-xyz-987"}})
        self.configure(m.url, """\
auth: {type: oauth2, token_url: /oauth_token.do, client_id: ferry, client_secret: "${env:CLIENT_SECRET}"}
retry: {max_attempts: 3, initial_delay: 100ms}
""")
        return m

    def test_a_token_endpoint_that_is_busy_for_a_moment_is_asked_again(self):
        # One 503 from the token endpoint failed the step at once: a token request is safe
        # to repeat and nothing had reached the API yet, so the retry policy applies.
        m = self.oauth_mock_with_retries()
        self.p.workflow("get", GET_WF)
        m.fault(method="POST", path="/oauth_token.do", status=503, headers={"Retry-After": "1"})
        t0 = time.monotonic()
        rc, doc, err = self.run_wf("get")
        self.assertEqual(rc, 0, err + json.dumps(doc))
        self.assertGreaterEqual(time.monotonic() - t0, 0.95)  # its Retry-After
        self.assertEqual(len(m.requests(path="/oauth_token.do")), 2)
        # A token endpoint down for good still fails, after the policy's attempts.
        m.revoke_tokens()
        m.fault(method="POST", path="/oauth_token.do", status=500, times=5)
        rc, doc, err = self.run_wf("get")
        self.assertEqual(rc, 1)
        self.assertIn("OAuth2 token request", doc["steps"]["call"]["error"]["message"])
        self.assertEqual(len(m.requests(path="/oauth_token.do")), 2 + 3)

    def test_one_failed_token_fetch_is_one_breaker_failure_however_many_wait(self):
        # Five requests waiting for one token fetch counted its 503 five times, opening the
        # breaker (5 failures) before the token retry could run.
        m = self.oauth_mock_with_retries()
        self.p.workflow("fan", fan_wf("[1, 2, 3, 4, 5]"))
        m.fault(method="POST", path="/oauth_token.do", status=503, headers={"Retry-After": "1"})
        rc, doc, err = self.run_wf("fan")
        self.assertEqual(rc, 0, err + json.dumps(doc)[:2000])
        self.assertEqual(len(m.requests(path="/oauth_token.do")), 2)
        self.assertEqual(len(m.requests(path="/api/now/table/incident")), 5)

    def test_mutual_tls(self):
        certs = make_certs(str(self.p.dir / "pki"))
        m = self.mock(tls=dict(certs, mtls=True))
        self.p.workflow("get", GET_WF)
        self.configure(m.url, "tls: {ca_file: %s, client_cert: %s, client_key: %s}" % (
            certs["ca"], certs["client_cert"], certs["client_key"]))
        rc, doc, err = self.run_wf("get")
        self.assertEqual(rc, 0, err + json.dumps(doc))
        # A certificate from another CA is refused in the handshake: a network error.
        self.configure(m.url, "tls: {ca_file: %s, client_cert: %s, client_key: %s}\n"
                              "retry: {max_attempts: 1}" % (
            certs["ca"], certs["other_client_cert"], certs["other_client_key"]))
        rc, doc, err = self.run_wf("get")
        self.assertEqual(rc, 1)
        self.assertEqual(doc["steps"]["call"]["error"]["kind"], "network")
        # A key that is not the certificate's: libcurl's words named neither.
        self.configure(m.url, "tls: {ca_file: %s, client_cert: %s, client_key: %s}\n"
                              "retry: {max_attempts: 1}" % (
            certs["ca"], certs["client_cert"], certs["other_client_key"]))
        rc, doc, err = self.run_wf("get")
        self.assertEqual(rc, 1)
        self.assertEqual(doc["steps"]["call"]["error"]["kind"], "validation")
        self.assertIn("(is it the key of the client certificate %s, unencrypted PEM?)"
                      % certs["client_cert"], doc["steps"]["call"]["error"]["message"])
        # No client certificate at all: libcurl's words ("getpeername() failed", a receive
        # failure) read as a network problem; the message points at tls.client_cert.
        self.configure(m.url, "tls: {ca_file: %s}\nretry: {max_attempts: 1}" % certs["ca"])
        rc, doc, err = self.run_wf("get")
        self.assertEqual(rc, 1)
        self.assertEqual(doc["steps"]["call"]["error"]["kind"], "network")
        message = doc["steps"]["call"]["error"]["message"]
        self.assertIn("(none was sent: if the server requires a client certificate, it "
                      "ends the connection so; see the integration's tls.client_cert)", message)
        # Without the custom CA the server is not trusted (verification is on by default).
        self.configure(m.url, "retry: {max_attempts: 1}")
        rc, doc, err = self.run_wf("get")
        self.assertEqual(rc, 1)
        self.assertEqual(doc["steps"]["call"]["error"]["kind"], "network")

    def test_an_encrypted_client_key_fails_the_request_without_asking_for_a_passphrase(self):
        # OpenSSL asked for the passphrase on the terminal, or read stdin when there was
        # none: `ferry run` (and a whole `ferry serve`) stopped there, deaf to SIGTERM.
        import subprocess
        certs = make_certs(str(self.p.dir / "pki"))
        m = self.mock(tls=dict(certs, mtls=True))
        encrypted = str(self.p.dir / "pki" / "client-enc.key")
        subprocess.run(["openssl", "pkey", "-in", certs["client_key"], "-aes256", "-passout",
                        "pass:not-given", "-out", encrypted], check=True, capture_output=True)
        self.p.workflow("get", GET_WF)
        self.configure(m.url, "tls: {ca_file: %s, client_cert: %s, client_key: %s}\n"
                              "retry: {max_attempts: 1}" % (certs["ca"], certs["client_cert"],
                                                             encrypted))
        cmd = [te.FERRY, "run", "get", "--quiet", "--project", str(self.p.dir),
               "--data", str(self.p.data)]
        # stdin an open pipe and no terminal: what a supervisor or `docker run -i` gives.
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, cwd=str(self.p.dir),
                                env=self.env, start_new_session=True)
        try:
            out, err = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            self.fail("ferry run waited for a passphrase")
        self.assertEqual(proc.returncode, 1, err)
        error = json.loads(out)["steps"]["call"]["error"]
        self.assertEqual(error["kind"], "validation")
        self.assertIn("unencrypted PEM?", error["message"])
        self.assertNotIn("pass phrase", err.lower())

    def test_unusable_tls_files_fail_validate_and_warn_elsewhere(self):
        # A missing or non-PEM TLS file failed every request as a network error after
        # validate said the project was fine. validate now fails on it at its place; run
        # (a dry run needs no TLS file) and the read-only commands only warn.
        certs = make_certs(str(self.p.dir / "pki"))
        m = self.mock(tls=dict(certs, mtls=True))
        self.p.workflow("get", GET_WF)
        missing = str(self.p.dir / "pki" / "gone.pem")
        self.configure(m.url, "tls: {ca_file: %s, client_cert: %s, client_key: %s}" % (
            certs["ca"], missing, certs["ca"].replace("ca", "nope")))
        v = self.ferry("validate")
        self.assertEqual(v.returncode, 2, v.stdout + v.stderr)
        self.assertRegex(v.stdout, r"ferry\.yaml:\d+:\d+: tls\.client_cert: cannot read '%s': "
                                   r"No such file or directory" % re.escape(missing))
        self.assertIn("tls.client_key: cannot read", v.stdout)
        rc, doc, err = self.run_wf("get", "--dry-run")
        self.assertEqual(rc, 0, err)
        self.assertTrue(doc["steps"]["call"]["output"]["dry_run"])
        self.assertRegex(err, r"warning: .*ferry\.yaml:\d+:\d+: tls\.client_cert: cannot read")
        listed = self.ferry("executions", "list")
        self.assertEqual(listed.returncode, 0, listed.stderr)


# --------------------------------------------------------------------------- retries


class Retries(IntegrationTest):
    def setUp(self):
        super().setUp()
        self.m = self.mock()
        self.configure(self.m.url, "retry: {max_attempts: 3, initial_delay: 200ms}")

    def test_5xx_retried_with_backoff_then_success(self):
        self.p.workflow("get", GET_WF)
        self.m.fault(method="GET", path="/api/now/table/incident", status=503, times=2)
        t0 = time.monotonic()
        rc, doc, err = self.run_wf("get")
        elapsed = time.monotonic() - t0
        self.assertEqual(rc, 0, err + json.dumps(doc))
        self.assertEqual(doc["steps"]["call"]["output"]["attempts"], 3)
        # 200ms then 400ms, +-20% jitter.
        self.assertGreaterEqual(elapsed, 0.45)
        records = self.http_records(doc["id"], "call")
        self.assertEqual([r["status"] for r in records], [503, 503, 200])
        self.assertIn("retry_in_ms", records[0])
        self.assertGreaterEqual(records[1]["retry_in_ms"], 320)

    def test_an_attempt_without_an_answer_says_how_long_it_took(self):
        # A timeout's or a lost connection's record had no duration_ms, which is what an
        # operator looks at first.
        self.configure(self.m.url, "retry: {max_attempts: 2, initial_delay: 10ms}\n"
                                   "timeout: 300ms")
        self.p.workflow("get", GET_WF)
        self.m.fault(method="GET", path="/api/now/table/incident", delay_ms=1500, times=2)
        rc, doc, err = self.run_wf("get")
        self.assertEqual(rc, 1, err + json.dumps(doc))
        records = self.http_records(doc["id"], "call")
        self.assertEqual([r["error"]["kind"] for r in records], ["timeout", "timeout"])
        for r in records:
            self.assertGreaterEqual(r["duration_ms"], 250, r)
            self.assertLess(r["duration_ms"], 1400, r)
        self.assertIn("retry_in_ms", records[0])
        self.assertNotIn("retry_in_ms", records[1])

    def test_a_step_timeout_keeps_the_attempts_it_cut_short_on_record(self):
        # The records of a step ended mid-request (its timeout, a cancel) were dropped, the
        # answered 503s with the one in flight: the history said nothing was sent, though a
        # create cut short may have made its ticket.
        self.p.workflow("get", GET_WF.replace("    integration: target\n",
                                              "    integration: target\n    timeout: 2s\n"))
        self.m.fault(method="GET", path="/api/now/table/incident", status=503, times=2)
        self.m.fault(method="GET", path="/api/now/table/incident", delay_ms=6000, times=1)
        rc, doc, err = self.run_wf("get")
        self.assertEqual(rc, 1, err)
        self.assertEqual(doc["steps"]["call"]["error"]["kind"], "timeout")
        records = self.http_records(doc["id"], "call")
        self.assertEqual([r.get("status") for r in records], [503, 503, None])
        self.assertEqual(records[2]["method"], "GET")
        self.assertEqual(records[2]["error"]["kind"], "cancelled")
        self.assertIn("whether the request reached the service is not known",
                      records[2]["error"]["message"])
        self.assertEqual(len(self.m.requests(path="/api/now/table/incident")), 3)

    def test_retries_give_up_after_max_attempts(self):
        self.p.workflow("get", GET_WF)
        self.m.fault(method="GET", path="/api/now/table/incident", status=500, times=5)
        rc, doc, err = self.run_wf("get")
        self.assertEqual(rc, 1)
        self.assertIn("after 3 attempts", doc["steps"]["call"]["error"]["message"])
        self.assertEqual(len(self.m.requests(path="/api/now/table/incident")), 3)

    def test_429_honours_retry_after_seconds_and_http_date(self):
        self.p.workflow("get", GET_WF)
        self.m.fault(method="GET", path="/api/now/table/incident", status=429,
                     headers={"Retry-After": "1"})
        t0 = time.monotonic()
        rc, doc, err = self.run_wf("get")
        self.assertEqual(rc, 0, err)
        self.assertGreaterEqual(time.monotonic() - t0, 0.95)
        # 8 s ahead: the date has whole seconds, and a loaded host can take seconds to start
        # ferry and reach the 429 (4 s was not enough for a sanitizer build running beside
        # the rest of the suite: the date had passed, so there was nothing to wait for).
        date = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 8))
        self.m.fault(method="GET", path="/api/now/table/incident", status=429,
                     headers={"Retry-After": date})
        t0 = time.monotonic()
        rc, doc, err = self.run_wf("get")
        self.assertEqual(rc, 0, err)
        self.assertGreaterEqual(time.monotonic() - t0, 0.9)
        records = self.http_records(doc["id"], "call")
        self.assertEqual(records[0]["status"], 429)
        self.assertGreater(records[0]["retry_in_ms"], 500)

    def test_retry_after_on_502_and_504_is_honoured(self):
        # Gateways that shed load say when to come back too (Standard Webhooks and RFC 9110
        # allow Retry-After on any status): before, only 429 and 503 were read.
        self.p.workflow("get", GET_WF)
        self.m.fault(method="GET", path="/api/now/table/incident", status=502,
                     headers={"Retry-After": "1"})
        self.m.fault(method="GET", path="/api/now/table/incident", status=504,
                     headers={"Retry-After": "1"})
        t0 = time.monotonic()
        rc, doc, err = self.run_wf("get")
        self.assertEqual(rc, 0, err + json.dumps(doc))
        self.assertGreaterEqual(time.monotonic() - t0, 1.95)  # the backoff alone: 0.2 + 0.4
        records = self.http_records(doc["id"], "call")
        self.assertEqual([r["status"] for r in records], [502, 504, 200])
        # Never earlier than asked, spread upward by at most 20 %.
        for r in records[:2]:
            self.assertGreaterEqual(r["retry_in_ms"], 1000)
            self.assertLessEqual(r["retry_in_ms"], 1200)

    def test_a_step_retry_waits_for_the_last_answers_retry_after(self):
        # The integration waits at most retry.max_retry_after inside the task; a longer wait
        # fails the attempt, and the step's retry ran it again after its own 50 ms.
        self.configure(self.m.url, "retry: {max_attempts: 1, max_retry_after: 1s}")
        self.p.workflow("get", """\
steps:
  - id: call
    task: http.request
    integration: target
    retry: {max_attempts: 2, initial_delay: 50ms, max_delay: 50ms}
    with: {method: GET, path: /api/now/table/incident}
""")
        self.m.fault(method="GET", path="/api/now/table/incident", status=503, times=1,
                     headers={"Retry-After": "2"})
        t0 = time.monotonic()
        rc, doc, err = self.run_wf("get")
        self.assertEqual(rc, 0, err + json.dumps(doc))
        self.assertGreaterEqual(time.monotonic() - t0, 1.9)
        times = [r["t"] for r in self.m.requests(path="/api/now/table/incident")]
        self.assertEqual(len(times), 2)
        self.assertGreaterEqual(times[1] - times[0], 1.9)
        self.assertEqual(doc["steps"]["call"]["attempt"], 2)

    def test_a_retry_after_as_a_date_reads_in_seconds_in_errors(self):
        # A 429 whose wait is longer than max_retry_after ends the retries; the message says
        # how long, not "Retry-After Sat, 05 Dec 2026 00:13:19 GMT s".
        self.p.workflow("t", """\
steps:
  - id: create
    task: ticket.create
    integration: target
    with: {fields: {short_description: "x"}}
""")
        date = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 600))
        self.m.fault(method="POST", path="/api/now/table/incident", status=429,
                     headers={"Retry-After": date})
        rc, doc, err = self.run_wf("t")
        self.assertEqual(rc, 1)
        msg = doc["steps"]["create"]["error"]["message"]
        self.assertRegex(msg, r"\(rate limited; Retry-After (59[0-9]|600) s\)")
        self.assertNotIn("GMT", msg)

    def test_no_retry_on_400(self):
        self.p.workflow("get", GET_WF)
        self.m.fault(method="GET", path="/api/now/table/incident", status=400,
                     body={"error": {"message": "bad", "detail": "x"}, "status": "failure"})
        rc, doc, err = self.run_wf("get")
        self.assertEqual(rc, 1)
        self.assertEqual(doc["steps"]["call"]["error"]["kind"], "http_4xx")
        self.assertEqual(len(self.m.requests(path="/api/now/table/incident")), 1)

    def test_post_is_not_repeated_after_an_ambiguous_failure(self):
        self.p.workflow("post", """\
steps:
  - id: call
    task: http.request
    integration: target
    with: {method: POST, path: /api/now/table/incident, json: {short_description: x}}
""")
        self.m.fault(method="POST", path="/api/now/table/incident", status=502, times=3)
        rc, doc, err = self.run_wf("post")
        self.assertEqual(rc, 1)
        self.assertEqual(len(self.m.requests(path="/api/now/table/incident")), 1)
        self.m.clear_faults()
        # A 429 means the server did nothing: even a POST is retried.
        self.m.fault(method="POST", path="/api/now/table/incident", status=429,
                     headers={"Retry-After": "0"})
        rc, doc, err = self.run_wf("post")
        self.assertEqual(rc, 0, err)
        self.assertEqual(doc["steps"]["call"]["output"]["status"], 201)

    def test_connection_refused_is_retried_then_a_network_error(self):
        self.configure("http://127.0.0.1:9", "retry: {max_attempts: 2, initial_delay: 50ms}")
        self.p.workflow("get", GET_WF)
        rc, doc, err = self.run_wf("get")
        self.assertEqual(rc, 1)
        self.assertEqual(doc["steps"]["call"]["error"]["kind"], "network")
        self.assertEqual(len(self.http_records(doc["id"], "call")), 2)


# --------------------------------------------------------------------------- breaker, rate


class Policies(IntegrationTest):
    def test_circuit_breaker_opens_then_probes(self):
        m = self.mock()
        self.configure(m.url, "retry: {max_attempts: 1}\n"
                              "circuit_breaker: {failures: 2, reset_after: 1s}")
        self.p.write("tasks/custom/calls.lua", """\
return {
  name = "custom.calls",
  run = function(ctx, input)
    local out = {}
    for i = 1, input.n do
      if input.pause_before and i == input.pause_before then ferry.sleep("1100ms") end
      local res, err = ctx.http { method = "GET", path = "/api/now/table/incident" }
      out[i] = res and res.status or err.kind
    end
    return { results = out }
  end,
}
""")
        self.p.workflow("calls", """\
inputs: {n: {type: integer}, pause_before: {type: integer, default: 0}}
steps:
  - id: calls
    task: custom.calls
    integration: target
    with: {n: "{{ inputs.n }}", pause_before: "{{ inputs.pause_before }}"}
""")
        m.fault(method="GET", path="/api/now/table/incident", status=503, times=2)
        rc, doc, err = self.run_wf("calls", "--input", "n=4", "--input", "pause_before=4")
        self.assertEqual(rc, 0, err + json.dumps(doc))
        results = doc["steps"]["calls"]["output"]["results"]
        # Two failures open it; the third call is refused without a request; after
        # reset_after a probe goes through and closes it.
        self.assertEqual(results, [503, 503, "circuit_open", 200])
        self.assertEqual(len(m.requests(path="/api/now/table/incident")), 3)

    def test_an_open_breaker_refuses_at_once_under_a_rate_limit(self):
        # Each refused call waited 5 s for a rate-limit token (and spent it) before the open
        # breaker refused it: failing fast was not fast.
        m = self.mock()
        self.configure(m.url, "retry: {max_attempts: 1}\n"
                              "rate_limit: {per_second: 0.2, burst: 1}\n"
                              "circuit_breaker: {failures: 1, reset_after: 30s}")
        self.p.write("tasks/custom/timed.lua", """\
return {
  name = "custom.timed",
  run = function(ctx, input)
    local out = {}
    for i = 1, 3 do
      local t0 = ferry.time.now_ms()
      local res, err = ctx.http { method = "GET", path = "/api/now/table/incident" }
      out[i] = { result = res and res.status or err.kind, ms = ferry.time.now_ms() - t0 }
    end
    return { calls = out }
  end,
}
""")
        self.p.workflow("timed", "steps:\n  - {id: t, task: custom.timed, integration: target}\n")
        m.fault(method="GET", path="/api/now/table/incident", status=503, times=1)
        rc, doc, err = self.run_wf("timed")
        self.assertEqual(rc, 0, err + json.dumps(doc))
        calls = doc["steps"]["t"]["output"]["calls"]
        self.assertEqual([c["result"] for c in calls], [503, "circuit_open", "circuit_open"])
        self.assertLess(max(c["ms"] for c in calls[1:]), 1000, calls)

    def test_breaker_opening_between_retries_gives_the_last_answer(self):
        # max_attempts 4 but the breaker opens after 2 failures: the request's own retries
        # stop, and the caller gets the vendor's last 503, not an error that hides it.
        m = self.mock()
        self.configure(m.url, "retry: {max_attempts: 4, initial_delay: 10ms, max_delay: 20ms}\n"
                              "circuit_breaker: {failures: 2, reset_after: 30s}")
        self.p.workflow("once", """\
steps:
  - id: call
    task: http.request
    integration: target
    with: {method: GET, path: /api/now/table/incident, fail_on_status: false}
""")
        m.fault(method="GET", path="/api/now/table/incident", status=503, times=4)
        rc, doc, err = self.run_wf("once")
        self.assertEqual(rc, 0, err + json.dumps(doc))
        self.assertEqual(doc["steps"]["call"]["output"]["status"], 503)
        self.assertEqual(len(m.requests(path="/api/now/table/incident")), 2)

    def test_rate_limit_spaces_requests(self):
        m = self.mock()
        self.configure(m.url, "rate_limit: {per_second: 5, burst: 1}")
        self.p.workflow("fan", """\
steps:
  - id: call
    task: http.request
    integration: target
    for_each: "{{ range(6) | list }}"
    concurrency: 6
    with: {method: GET, path: /api/now/table/incident}
""")
        t0 = time.monotonic()
        rc, doc, err = self.run_wf("fan")
        elapsed = time.monotonic() - t0
        self.assertEqual(rc, 0, err)
        times = sorted(r["t"] for r in m.requests(path="/api/now/table/incident"))
        self.assertEqual(len(times), 6)
        # One token at once, then one every 200 ms: the six span at least ~1 s.
        self.assertGreaterEqual(times[-1] - times[0], 0.9)
        self.assertLess(elapsed, 10)


# --------------------------------------------------------------------------- dry run, secrets


class DryRunAndSecrets(IntegrationTest):
    def test_dry_run_per_integration_sends_nothing(self):
        m = self.mock()
        self.configure(m.url, "dry_run: true\n"
                              "auth: {type: basic, username: u, password: \"${env:SN_PASSWORD}\"}")
        self.p.workflow("post", """\
steps:
  - id: call
    task: http.request
    integration: target
    with: {method: POST, path: /api/now/table/incident, query: {sysparm_display_value: "true"},
           json: {short_description: "disk full"}}
""")
        env = {k: v for k, v in self.env.items() if k != "SN_PASSWORD"}  # no credentials
        rc, doc, err = self.run_wf("post", env=env)
        self.assertEqual(rc, 0, err)
        out = doc["steps"]["call"]["output"]
        self.assertTrue(out["dry_run"])
        req = out["request"]
        self.assertEqual(req["method"], "POST")
        self.assertEqual(req["url"], m.url + "/api/now/table/incident?sysparm_display_value=true")
        self.assertEqual(req["headers"]["Authorization"], "[REDACTED]")
        self.assertEqual(req["body"], {"short_description": "disk full"})
        self.assertEqual(m.requests(), [])
        # Stored as it was shown.
        shown = json.loads(self.ferry("executions", "show", doc["id"], "--json").stdout)
        self.assertEqual(shown["steps"]["call"]["output"], out)

    def test_dry_run_per_step_and_per_execution(self):
        m = self.mock()
        self.configure(m.url, "")
        self.p.workflow("two", """\
steps:
  - id: preview
    task: http.request
    integration: target
    dry_run: true
    with: {method: POST, path: /api/now/table/incident, json: {a: 1}}
  - id: live
    task: http.request
    integration: target
    with: {method: GET, path: /api/now/table/incident}
""")
        rc, doc, err = self.run_wf("two")
        self.assertEqual(rc, 0, err)
        self.assertTrue(doc["steps"]["preview"]["output"]["dry_run"])
        self.assertEqual(doc["steps"]["live"]["output"]["status"], 200)
        self.assertEqual([r["method"] for r in m.requests()], ["GET"])
        rc, doc, err = self.run_wf("two", "--dry-run")
        self.assertTrue(doc["steps"]["live"]["output"]["dry_run"])
        self.assertEqual(len(m.requests()), 1)

    def test_a_dry_run_refuses_what_the_send_would(self):
        # The preview showed, as succeeded, a request the real send refuses (a line break in
        # a header or path); and a header that frames the request (Content-Length) went
        # out as given, leaving the rest of the body read as a second request.
        m = self.mock()
        self.configure(m.url, "")
        for with_, why in (('{path: /x, headers: {X-Note: "v\\r\\nX-Injected: 1"}}',
                            "the value of header 'X-Note' contains a line break or NUL"),
                           ('{path: "/x\\r\\nX-Inj: 1"}', "URL contains a space or a control"),
                           ('{method: POST, path: /x, body: "AAAAGET /s HTTP/1.1", '
                            'headers: {Content-Length: "4"}}',
                            "header 'Content-Length' is set by the HTTP client"),
                           ('{path: /x, headers: {Connection: close}}',
                            "header 'Connection' is set by the HTTP client")):
            self.p.workflow("bad", "steps:\n  - {id: s, task: http.request, integration: "
                                   "target, with: %s}\n" % with_)
            for args in (("--dry-run",), ()):
                rc, doc, err = self.run_wf("bad", *args)
                self.assertEqual(rc, 1, (with_, args, err))
                self.assertIn(why, doc["steps"]["s"]["error"]["message"], (with_, args))
        self.assertEqual(m.requests(), [])

    def test_a_request_naming_another_host_gets_no_credentials(self):
        # A Host passed on from a caller took the integration's credentials to another
        # virtual host at the same address; one naming the URL's own host keeps them.
        m = self.mock({"auth": {"type": "basic", "username": SN_USER, "password": SN_PASSWORD}})
        self.configure(m.url, "auth: {type: basic, username: %s, password: \"${env:SN_PASSWORD}\"}"
                       % SN_USER)
        own = m.url.split("://", 1)[1].rstrip("/")
        self.p.workflow("vh", """\
inputs:
  host: {type: string}
steps:
  - {id: s, task: http.request, integration: target, with: {path: /api/now/table/incident, headers: {Host: "{{ inputs.host }}"}}}
""")
        self.run_wf("vh", "--input", "host=other.example")
        self.run_wf("vh", "--input", "host=" + own.upper())
        seen = [r["headers"].get("authorization") for r in m.requests()]
        self.assertEqual(len(seen), 2, seen)
        self.assertIsNone(seen[0])
        self.assertTrue(seen[1].startswith("Basic "), seen)

    def test_secrets_never_reach_history_or_logs(self):
        m = self.mock({"auth": {"type": "basic", "username": SN_USER, "password": SN_PASSWORD}})
        self.configure(m.url, "retry: {max_attempts: 2, initial_delay: 10ms}\n"
                              "auth: {type: basic, username: %s, password: \"${env:SN_PASSWORD}\"}"
                       % SN_USER)
        # A task that echoes what the server saw (the mock answers 500 with the request's
        # headers) and raises an error quoting it.
        m.fault(method="GET", path="/api/now/table/incident", status=500, times=2,
                body={"error": {"message": "echo", "detail": "Basic " + "x"}})
        self.p.workflow("get", GET_WF)
        rc, doc, err = self.run_wf("get")
        self.assertEqual(rc, 1)
        import base64
        b64 = base64.b64encode(("%s:%s" % (SN_USER, SN_PASSWORD)).encode()).decode()
        records = self.http_records(doc["id"], "call")
        self.assertEqual(len(records), 2)
        self.assertEqual(records[0]["request"]["headers"]["Authorization"], "[REDACTED]")
        everything = (self.ferry("executions", "export").stdout + err +
                      self.ferry("executions", "show", doc["id"], "--json").stdout)
        self.assertNotIn(SN_PASSWORD, everything)
        self.assertNotIn(b64, everything)
        # What the server received did carry the credentials.
        self.assertEqual(m.requests()[0]["headers"]["authorization"], "Basic " + b64)


    def test_a_dry_run_redacts_the_secrets_a_live_run_would(self):
        # Nothing is sent, but a secret that resolves is still one: a step that meets it
        # (here an input carrying the token, and the basic pair's encoding) is redacted as
        # in a live run.
        m = self.mock()
        self.configure(m.url, "auth: {type: basic, username: %s, password: \"${env:SN_PASSWORD}\"}"
                       % SN_USER)
        import base64
        b64 = base64.b64encode(("%s:%s" % (SN_USER, SN_PASSWORD)).encode()).decode()
        self.p.workflow("leaky", """\
inputs: {note: {type: string, required: true}}
steps:
  - id: call
    task: http.request
    integration: target
    with: {method: POST, path: /api/now/table/incident, json: {n: 1}}
  - id: echo
    task: lua
    needs: [call]
    with:
      input: {note: "{{ inputs.note }}"}
      script: "return {said = input.note}"
""")
        rc, doc, err = self.run_wf("leaky", "--dry-run", "--input",
                                   "note=pw %s and basic %s" % (SN_PASSWORD, b64))
        self.assertEqual(rc, 0, err)
        self.assertTrue(doc["steps"]["call"]["output"]["dry_run"])
        self.assertEqual(doc["steps"]["echo"]["output"]["said"],
                         "pw [REDACTED] and basic [REDACTED]")
        everything = (self.ferry("executions", "export").stdout + err +
                      self.ferry("executions", "show", doc["id"], "--json").stdout)
        self.assertNotIn(SN_PASSWORD, everything)
        self.assertNotIn(b64, everything)
        self.assertEqual(m.requests(), [])

    def test_a_preview_does_not_tell_a_task_which_texts_are_secrets(self):
        # Previews came back to Lua through the Redactor: a task put a guess in the body and
        # saw whether it changed ("prefix..." one character at a time), and so read every
        # secret of ferry.yaml. Only what the integration adds is redacted now.
        m = self.mock()
        self.configure(m.url, "auth: {type: basic, username: %s, password: \"${env:SN_PASSWORD}\"}"
                       % SN_USER)
        guesses = {"whole": SN_PASSWORD, "prefix": SN_PASSWORD[:5] + "...", "plain": "hello"}
        lua_guesses = ", ".join('%s = "%s"' % (k, v) for k, v in guesses.items())
        self.p.workflow("peek", """\
steps:
  - id: peek
    task: lua
    integration: target
    dry_run: true
    with:
      script: |
        local guesses = {%s}
        local out = {}
        for name, guess in pairs(guesses) do
          local p = ferry.http.request{integration = "target", method = "POST", url = "/x",
                                       body = guess, preview = true}
          local ok, err = pcall(ctx.http, {method = "POST", path = "/x", body = guess})
          out[name] = {preview = p.body == guess, dry_run = not ok and err.data.body == guess,
                       auth = p.headers.Authorization}
        end
        return out
""" % lua_guesses)
        rc, doc, err = self.run_wf("peek")
        self.assertEqual(rc, 0, err + json.dumps(doc)[:3000])
        out = doc["steps"]["peek"]["output"]
        for name in guesses:
            with self.subTest(guess=name):
                self.assertEqual(out[name], {"preview": True, "dry_run": True,
                                             "auth": "[REDACTED]"})
        self.assertEqual(m.requests(), [])
        # Nor the error of a request that failed: its message quoted the task's path back
        # through the Redactor.
        self.configure("http://127.0.0.1:9", "auth: {type: basic, username: %s, password: "
                       "\"${env:SN_PASSWORD}\"}" % SN_USER)
        self.p.workflow("peek", """\
steps:
  - id: peek
    task: lua
    with:
      script: |
        local guesses = {%s}
        local out = {}
        for name, guess in pairs(guesses) do
          local res, err = ferry.http.request{integration = "target",
                                              url = "http://127.0.0.1:9/" .. guess, retry = false}
          out[name] = res == nil and string.find(err.message, guess, 1, true) ~= nil
        end
        return out
""" % lua_guesses)
        rc, doc, err = self.run_wf("peek")
        self.assertEqual(rc, 0, err + json.dumps(doc)[:3000])
        self.assertEqual(doc["steps"]["peek"]["output"], {name: True for name in guesses})

    def test_an_integration_marked_dry_run_sends_nothing_whoever_names_it(self):
        # A task naming the integration (ferry.http.request{integration = ...}, or ctx.http
        # from a step without one) sent live, credentials and all, through an integration
        # ferry.yaml marks `dry_run: true`; ctx.http on a step with another integration
        # dropped the name and sent through the step's.
        m = self.mock()
        self.p.write("ferry.yaml", integration_yaml(m.url, "dry_run: true\nauth: {type: bearer, "
                                   "token: \"${env:TOKEN}\"}") +
                     integration_yaml(m.url, "auth: {type: bearer, token: \"${env:API_KEY}\"}",
                                      name="live").replace("integrations:\n", ""))
        self.p.workflow("named", """\
steps:
  - id: plain
    task: lua
    with:
      script: |
        local res, err = ferry.http.request{integration = "target", method = "POST",
                                            url = "/api/now/table/incident", json = {a = 1}}
        local sent, refused = ctx.http{integration = "target", method = "POST",
                                       path = "/api/now/table/incident"}
        return {res = res == nil, kind = err.kind, message = err.message,
                url = err.data.url, auth = err.data.headers.Authorization,
                ctx_kind = sent == nil and refused.kind or "sent"}
  - id: other
    task: lua
    integration: live
    on_error: continue
    with:
      script: |
        return ctx.http{integration = "target", method = "POST", path = "/x"}
""")
        rc, doc, err = self.run_wf("named")
        self.assertEqual(rc, 0, err + json.dumps(doc)[:2000])
        out = doc["steps"]["plain"]["output"]
        self.assertEqual(out, {"res": True, "kind": "dry_run", "message": "integration 'target' "
                               "has dry_run: true in ferry.yaml: nothing was sent",
                               "url": m.url + "/api/now/table/incident", "auth": "[REDACTED]",
                               "ctx_kind": "dry_run"})
        other = doc["steps"]["other"]
        self.assertEqual(other["status"], "failed")
        self.assertIn("ctx.http: the request names integration 'target', but the step's is "
                      "'live'", other["error"]["message"])
        self.assertEqual(m.requests(), [])
        self.assertNotIn("tok-0123456789abcdef", json.dumps(doc))

    def test_a_password_in_a_request_url_is_not_stored(self):
        # The attempt's record and the dry-run previews kept `admin:hunter2pass@` in clear
        # (error messages already left it out); the URL may come from an input.
        m = self.mock()
        self.configure(m.url, "auth: {type: bearer, token: \"${env:TOKEN}\"}")
        host = m.url.split("://", 1)[1]
        self.p.workflow("creds", """\
inputs: {url: {type: string}}
steps:
  - id: through
    task: lua
    integration: target
    with:
      input: {url: "{{ inputs.url }}"}
      script: return ctx.http{url = input.url}.status
  - id: plain
    task: lua
    dry_run: true
    with:
      input: {url: "{{ inputs.url }}"}
      script: return ctx.http{url = input.url, query = {a = 1}}
  - id: refused
    task: http.request
    on_error: continue
    with: {url: "{{ inputs.url }}/nosuch"}
""")
        url = "http://admin:hunter2pass@%s/api/now/table/incident" % host
        rc, doc, err = self.run_wf("creds", "--input", "url=" + url)
        self.assertEqual(rc, 0, err + json.dumps(doc)[:2000])
        records = self.http_records(doc["id"], "through")
        self.assertEqual([r["url"] for r in records],
                         ["http://admin:[REDACTED]@%s/api/now/table/incident" % host])
        self.assertEqual(doc["steps"]["plain"]["output"]["request"]["url"],
                         "http://admin:[REDACTED]@%s/api/now/table/incident?a=1" % host)
        # Nor in the message of the http.request task's failure.
        self.assertIn("(from http://admin:[REDACTED]@%s/api/now" % host,
                      doc["steps"]["refused"]["error"]["message"])
        # What was given stays as given (the inputs are the workflow's own data).
        self.assertEqual(doc["inputs"]["url"], url)

    def test_an_absolute_url_is_absolute_in_any_case_of_its_scheme(self):
        # `HTTP://host/x` was taken for a relative path: sent to base_url + "/HTTP://...".
        m = self.mock()
        self.configure(m.url, "auth: {type: bearer, token: \"${env:TOKEN}\"}")
        upper = "HTTP://" + m.url.split("://", 1)[1] + "/api/now/table/incident"
        self.p.workflow("upper", """\
inputs: {url: {type: string}}
steps:
  - id: get
    task: lua
    integration: target
    with:
      input: {url: "{{ inputs.url }}"}
      script: return ctx.http{url = input.url}.status
""")
        rc, doc, err = self.run_wf("upper", "--input", "url=" + upper)
        self.assertEqual(rc, 0, err + json.dumps(doc)[:2000])
        self.assertEqual([r["path"] for r in m.requests()], ["/api/now/table/incident"])

    def test_a_secret_is_redacted_before_its_integration_is_first_used(self):
        # Secrets were learnt at an integration's first request: a value recorded before it
        # (here by an execution that never uses the integration) was stored in clear.
        m = self.mock()
        self.configure(m.url, "auth: {type: basic, username: %s, password: \"${env:SN_PASSWORD}\"}"
                       % SN_USER)
        self.p.workflow("early", """\
inputs: {note: {type: string, required: true}}
steps:
  - {id: first, task: log, with: {message: "note is {{ inputs.note }}"}}
""")
        rc, doc, err = self.run_wf("early", "--input", "note=" + SN_PASSWORD)
        self.assertEqual(rc, 0, err)
        everything = (self.ferry("executions", "export").stdout + err +
                      self.ferry("executions", "show", doc["id"], "--json").stdout)
        self.assertIn("note is [REDACTED]", everything)
        self.assertNotIn(SN_PASSWORD, everything)

    def test_a_session_cookie_in_an_answer_is_not_kept_in_the_output(self):
        # The attempt record redacted Set-Cookie; the step's output kept it in clear.
        m = self.mock()
        self.configure(m.url, "retry: {max_attempts: 1}")
        self.p.workflow("get", GET_WF)
        m.fault(method="GET", path="/api/now/table/incident", status=200,
                headers={"Set-Cookie": "JSESSIONID=sessionsecret99"}, body={"result": []})
        rc, doc, err = self.run_wf("get")
        self.assertEqual(rc, 0, err)
        headers = {k.lower(): v for k, v in doc["steps"]["call"]["output"]["headers"].items()}
        self.assertEqual(headers["set-cookie"], "[REDACTED]")
        self.assertNotIn("sessionsecret99",
                         self.ferry("executions", "show", doc["id"], "--json").stdout)

    def test_secrets_that_need_escaping_or_look_like_json_keep_history_readable(self):
        # A secret with a quote and a backslash appears escaped in JSON text; one spelled
        # "null" or "false" is also a JSON literal. Redaction must find the first and must
        # not break a record over the second (every later read of the history failed).
        m = self.mock()
        self.configure(m.url, "auth: {type: bearer, token: \"${env:TOK}\"}")
        self.p.workflow("echo", GET_WF + """\
  - id: echo
    task: lua
    needs: [call]
    with: {script: "return {header = 'Bearer ' .. [[s3cr\\"et\\\\pa55]], ok = false}"}
""")
        for secret in ('s3cr"et\\pa55', "null", "false"):
            with self.subTest(secret=secret):
                rc, doc, err = self.run_wf("echo", env=dict(self.env, TOK=secret))
                self.assertEqual(rc, 0, err)
                self.assertEqual(doc["status"], "succeeded")
                shown = self.ferry("executions", "show", doc["id"], "--json")
                self.assertEqual(shown.returncode, 0, shown.stderr)
                listed = self.ferry("executions", "list")
                self.assertEqual(listed.returncode, 0, listed.stderr)
                if secret.startswith("s3cr"):
                    self.assertEqual(doc["steps"]["echo"]["output"]["header"], "Bearer [REDACTED]")
                    for text in (shown.stdout, self.ferry("executions", "export").stdout):
                        self.assertNotIn("s3cr", text)
                else:
                    self.assertIs(doc["steps"]["echo"]["output"]["ok"], False)
                    self.assertIsNone(json.loads(shown.stdout)["error"])


    def test_the_command_lines_messages_do_not_repeat_a_secret(self):
        # A refused --input quoted the value ("expected an integer, got '...'") into the CI
        # log that ran the command; the API's answer to the same mistake is redacted.
        m = self.mock()
        self.configure(m.url, "auth: {type: basic, username: %s, password: \"${env:SN_PASSWORD}\"}"
                       % SN_USER)
        self.p.workflow("typed", """\
inputs: {n: {type: integer, required: true}, level: {type: string, enum: [low, high]}}
steps:
  - {id: first, task: log, with: {message: "{{ inputs.n }}"}}
""")
        for args in (["--input", "n=" + SN_PASSWORD], ["--input", "n=1", "--input",
                                                       "level=" + SN_PASSWORD],
                     ["--input", SN_PASSWORD + "=1"]):
            with self.subTest(args=args):
                rc, doc, err = self.run_wf("typed", *args)
                self.assertEqual(rc, 2, err)
                self.assertNotIn(SN_PASSWORD, err)
                self.assertIn("[REDACTED]", err)
        # A NUL cut the message short there, and an escape sequence reached the terminal.
        self.p.write("odd.json", json.dumps({"n": 1, "level": "a\u0000b\u001b[2J"}))
        rc, doc, err = self.run_wf("typed", "--inputs-file", str(self.p.dir / "odd.json"))
        self.assertEqual(rc, 2, err)
        self.assertIn("ferry run: input 'level': must be one of 'low', 'high'; got 'a\\x00b\\x1B[2J'", err)
        self.assertNotIn("\x1b", err)
        p = self.ferry("run", SN_PASSWORD)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertNotIn(SN_PASSWORD, p.stderr)
        self.assertIn("no workflow named '[REDACTED]'", p.stderr)


class VendorBytes(IntegrationTest):
    """What a vendor answers is data: bytes that are not UTF-8 or that drive a terminal."""

    def serve_raw(self, status, content_type, body):
        import http.server
        import threading

        class Answer(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def answer(self):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            do_GET = do_POST = do_PUT = answer

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Answer)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        self.addCleanup(lambda: (server.shutdown(), server.server_close(), thread.join(5)))
        return "http://127.0.0.1:%d" % server.server_address[1]

    def test_an_answer_that_is_not_utf8_is_kept_with_replacement_characters(self):
        url = self.serve_raw(201, "application/json", b'{"id":"10000","key":"OPS-1\xc3("}')
        self.p.write("ferry.yaml", integration_yaml(url, "project_key: OPS", name="jira", type_="jira"))
        self.p.workflow("c", "steps:\n  - {id: c, task: ticket.create, integration: jira, "
                             "with: {summary: hello}}\n")
        p = self.ferry("run", "c", "--quiet")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        doc = json.loads(p.stdout)  # valid JSON, or this raises
        self.assertEqual(doc["steps"]["c"]["output"]["key"], "OPS-1\ufffd(")
        shown = self.ferry("executions", "show", doc["id"], "--json")
        self.assertIn("OPS-1\ufffd(", json.loads(shown.stdout)["steps"]["c"]["logs"][-1]["message"])

    def test_terminal_escapes_in_an_answer_are_shown_not_obeyed(self):
        url = self.serve_raw(400, "text/plain", b"\x1b[2J\x1b[32mALL GOOD\x1b[0m\x1b]0;pwned\x07")
        self.configure(url, "")
        self.p.workflow("get", GET_WF)
        p = self.ferry("run", "get")
        self.assertEqual(p.returncode, 1)
        self.assertNotIn("\x1b", p.stderr)
        self.assertIn("\\x1B[2J", p.stderr)
        exec_id = json.loads(p.stdout)["id"]
        shown = self.ferry("executions", "show", exec_id)
        self.assertNotIn("\x1b", shown.stdout)
        self.assertNotIn("\x07", shown.stdout)
        self.assertIn("ALL GOOD", shown.stdout)

    def test_a_secret_cut_by_a_size_cap_is_not_kept_in_part(self):
        # Texts were cut before they were redacted, and redaction finds secrets whole: a
        # vendor page echoing the password across the 200-character quote of an error kept
        # its first part, and so did the attempt record's 4 KiB cap.
        pw = SN_PASSWORD.encode()
        body = b"x" * 185 + pw + b"y" * (4090 - 185 - len(pw)) + pw + b"z" * 100
        url = self.serve_raw(400, "text/plain", body)
        self.configure(url, "retry: {max_attempts: 1}\n"
                            "auth: {type: basic, username: %s, password: \"${env:SN_PASSWORD}\"}"
                       % SN_USER)
        self.p.workflow("get", GET_WF)
        p = self.ferry("run", "get")
        self.assertEqual(p.returncode, 1)
        doc = json.loads(p.stdout)
        shown = self.ferry("executions", "show", doc["id"], "--json").stdout
        part = SN_PASSWORD[:8]
        for text in (p.stderr, p.stdout, shown, self.ferry("executions", "export").stdout):
            self.assertNotIn(part, text)
        self.assertIn("[REDACTED]", doc["steps"]["call"]["error"]["message"])

    def test_a_secret_at_the_64_kib_cut_of_a_log_line_is_not_kept_in_part(self):
        m = self.mock()
        self.configure(m.url, "auth: {type: basic, username: %s, password: \"${env:SN_PASSWORD}\"}"
                       % SN_USER)
        self.p.workflow("cut", """\
inputs: {note: {type: string, required: true}}
steps:
  - id: say
    task: lua
    with:
      input: "{{ inputs.note }}"
      script: |
        ctx.log.info(string.rep("e", 65536 - 10) .. input)
        error(string.rep("e", 65536 - 10) .. input)
""")
        rc, doc, err = self.run_wf("cut", "--input", "note=" + SN_PASSWORD)
        self.assertEqual(rc, 1)
        shown = self.ferry("executions", "show", doc["id"], "--json").stdout
        for text in (err, shown, self.ferry("executions", "export").stdout):
            self.assertNotIn(SN_PASSWORD[:8], text)

    def test_an_answer_cannot_forge_a_progress_line(self):
        # Progress is one line per event: a newline in a peer's error body printed a line of
        # the peer's choosing ("ferry: ID execution succeeded").
        url = self.serve_raw(500, "text/plain",
                             b"oops\nferry: 01FAKEFAKEFAKEFAKEFAKEFAKE execution succeeded in 1ms\n")
        self.configure(url, "retry: {max_attempts: 1}")
        self.p.workflow("get", GET_WF)
        p = self.ferry("run", "get")
        self.assertEqual(p.returncode, 1)
        forged = [l for l in p.stderr.splitlines() if l.startswith("ferry: 01FAKE")]
        self.assertEqual(forged, [], p.stderr)
        self.assertIn("oops\\nferry: 01FAKE", p.stderr)


# --------------------------------------------------------------------------- ferry.yaml


class ConfigValidation(IntegrationTest):
    def test_problems_are_reported_with_file_line_col(self):
        self.p.write("ferry.yaml", """\
integrations:
  sn:
    type: servicenow
    base_url: https://x.service-now.com
    auth: {type: basic, username: u, password: hunter2hunter2}
  jira:
    type: jiraa
    base_url: https://x.atlassian.net
  hook:
    type: webhook
    secret: "${vault:x}"
  api:
    type: http
    base_url: ftp://x
    retri: {max_attempts: 2}
    timeout: 5 minutes
""")
        p = self.ferry("validate")
        self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
        out = p.stdout
        self.assertRegex(out, r"ferry\.yaml:5:\d+: auth\.password must be a secret reference")
        self.assertNotIn("hunter2hunter2", out + p.stderr)
        self.assertRegex(out, r"ferry\.yaml:7:11: unknown integration type 'jiraa'.*did you mean 'jira'")
        self.assertRegex(out, r"ferry\.yaml:11:\d+: secret: unknown secret reference")
        self.assertRegex(out, r"ferry\.yaml:10:\d+: .*needs 'url'|ferry\.yaml:9:\d+: .*needs 'url'")
        self.assertRegex(out, r"ferry\.yaml:14:\d+: base_url must start with http")
        self.assertRegex(out, r"ferry\.yaml:15:5: unknown key 'retri'.*did you mean 'retry'")
        self.assertRegex(out, r"ferry\.yaml:16:\d+: timeout: ")
        # A run refuses to start on a broken ferry.yaml.
        self.p.workflow("get", GET_WF)
        r = self.ferry("run", "get")
        self.assertEqual(r.returncode, 2)
        self.assertIn("ferry.yaml:5:", r.stderr)

    def test_values_that_would_misbehave_at_run_time_are_refused(self):
        self.p.write("ferry.yaml", """\
integrations:
  api:
    type: http
    base_url: "http://svc:hunter2secret@127.0.0.1:9"
    retry: {max_attempts: 99999999999}
    timeout: 0s
    rate_limit: {per_second: .nan}
  key:
    type: http
    base_url: http://127.0.0.1:9
    retry: {max_attempts: 2.5}
    auth: {type: api_key, header: "X Api Key", value: "${env:API_KEY}"}
  host:
    type: http
    base_url: http://127.0.0.1:9
    auth: {type: api_key, header: Host, value: "${env:API_KEY}"}
  blank:
    type: http
    base_url: http://127.0.0.1:9
    auth: {type: bearer, token: ""}
  nowhere:
    type: http
    base_url: ""
""")
        p = self.ferry("validate")
        self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
        out = p.stdout
        self.assertRegex(out, r"ferry\.yaml:4:\d+: base_url must not carry credentials")
        self.assertNotIn("hunter2secret", out + p.stderr)
        self.assertRegex(out, r"ferry\.yaml:5:\d+: retry\.max_attempts must be between 1 and 100")
        self.assertRegex(out, r"ferry\.yaml:6:\d+: timeout must be longer than 0")
        self.assertRegex(out, r"ferry\.yaml:7:\d+: rate_limit\.per_second must be a finite number")
        self.assertRegex(out, r"ferry\.yaml:11:\d+: retry\.max_attempts must be a whole number")
        self.assertRegex(out, r"ferry\.yaml:12:\d+: auth\.header must be an HTTP header name")
        self.assertRegex(out, r"ferry\.yaml:16:\d+: auth\.header: 'Host' is not a header")
        # An empty secret is no secret (a hook verified with one took any signature).
        self.assertRegex(out, r"ferry\.yaml:20:\d+: auth\.token must be a secret reference "
                              r"\(\$\{env:NAME\} or \$\{file:PATH\}\), not empty")
        # "" passed every check of a value's form, and failed each run.
        self.assertRegex(out, r"ferry\.yaml:23:\d+: base_url must not be empty")

    def test_an_unreadable_ferry_yaml_stops_every_command(self):
        (self.p.dir / "ferry.yaml").mkdir()
        self.p.workflow("get", GET_WF)
        for args in (("run", "get"), ("tasks", "list"), ("dlq", "list"), ("validate",)):
            with self.subTest(args=args):
                p = self.ferry(*args)
                self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
                self.assertIn("ferry.yaml", p.stdout + p.stderr)
                self.assertIn("cannot read", p.stdout + p.stderr)
        (self.p.dir / "ferry.yaml").rmdir()
        os.symlink("ferry.yaml", str(self.p.dir / "ferry.yaml"))  # a loop
        p = self.ferry("validate")
        self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
        self.assertIn("cannot read", p.stdout)

    def test_a_credential_read_as_a_yaml_alias_is_not_printed(self):
        # An unquoted value starting with * is an alias to YAML: yaml-cpp's message named it,
        # and in ferry.yaml that is most often a password.
        self.p.write("ferry.yaml", """\
integrations:
  sn:
    type: servicenow
    base_url: https://x.service-now.com
    auth: {type: basic, username: u, password: *Hunter2-alias-77}
""")
        for cmd in (["validate"], ["run", "anything"]):
            p = self.ferry(*cmd)
            self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
            out = p.stdout + p.stderr
            self.assertNotIn("Hunter2-alias-77", out)
            self.assertRegex(out, r"ferry\.yaml:5:\d+: YAML syntax error: the referenced anchor "
                                  r"is not defined \(a value that starts with \* is an alias: "
                                  r"quote a text that does\)")

    def test_a_secret_with_a_line_break_is_named_not_shown(self):
        m = self.mock()
        self.configure(m.url, "auth: {type: bearer, token: \"${env:TOKEN}\"}")
        self.p.workflow("get", GET_WF)
        rc, doc, err = self.run_wf("get", env=dict(self.env, TOKEN="tok-1234567890\n"))
        self.assertEqual(rc, 1)
        message = doc["steps"]["call"]["error"]["message"]
        self.assertIn("${env:TOKEN} contains a line break", message)
        self.assertNotIn("tok-1234567890", message + err)
        self.assertEqual(m.requests(), [])

    def test_workflow_names_an_unknown_integration(self):
        self.configure("https://x.service-now.com", "")
        self.p.workflow("get", GET_WF.replace("integration: target", "integration: targte"))
        p = self.ferry("validate")
        self.assertEqual(p.returncode, 2)
        self.assertRegex(p.stdout, r"workflows/get\.yaml:4:18: unknown integration 'targte'.*"
                                   r"did you mean 'target'")


    def test_a_broken_ferry_yaml_does_not_make_every_integration_unknown(self):
        # One syntax error read as a file defining nothing: each step naming an integration
        # was reported unknown ("ferry.yaml defines none"), burying the real problem.
        self.configure("https://x.service-now.com", "")
        self.p.workflow("get", GET_WF)
        self.p.write("ferry.yaml", (self.p.dir / "ferry.yaml").read_text() + "server: {listen: [x}\n")
        p = self.ferry("validate")
        self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
        self.assertIn("YAML syntax error", p.stdout)
        self.assertNotIn("unknown integration", p.stdout)
        self.assertEqual(len(p.stdout.splitlines()), 1, p.stdout)
        # Read whole with another problem: the names are still checked.
        self.configure("https://x.service-now.com", "bogus_key: 1")
        self.p.workflow("get", GET_WF.replace("integration: target", "integration: targte"))
        p = self.ferry("validate")
        self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
        self.assertIn("bogus_key", p.stdout)
        self.assertIn("unknown integration 'targte'", p.stdout)


class IntegrationTypes(IntegrationTest):
    def test_tasks_need_an_integration_of_their_type(self):
        self.p.write("ferry.yaml", """\
integrations:
  sn: {type: servicenow, base_url: "https://x.service-now.com"}
  hec: {type: splunk_hec, base_url: "https://splunk:8088"}
  hook: {type: webhook, url: "https://siem.example/in"}
""")
        self.p.workflow("none", "steps:\n  - id: t\n    task: ticket.create\n"
                                "    with: {fields: {short_description: x}}\n")
        self.p.workflow("wrong", "steps:\n  - id: t\n    task: ticket.create\n"
                                 "    integration: hec\n    with: {fields: {short_description: x}}\n")
        self.p.workflow("fits", "steps:\n  - id: s\n    task: siem.send\n"
                                "    integration: hook\n    with: {event: {a: 1}}\n")
        p = self.ferry("validate")
        self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
        self.assertRegex(p.stdout, r"workflows/none\.yaml:3:11: task 'ticket\.create' "
                                   r"\(provider servicenow\)? ?needs `integration:` naming a "
                                   r"servicenow integration|workflows/none\.yaml:3:11: task "
                                   r"'ticket\.create' needs `integration:`")
        self.assertRegex(p.stdout, r"workflows/wrong\.yaml:4:18: task 'ticket\.create'.* works "
                                   r"with servicenow integrations; 'hec' is of type splunk_hec")
        # siem.send with a webhook integration is the http provider (it declares webhook).
        self.assertNotIn("fits.yaml", p.stdout)
        rc, doc, err = self.run_wf("fits", "--dry-run")
        self.assertEqual(rc, 0, err)
        self.assertEqual(doc["steps"]["s"]["provider"], "http")


if __name__ == "__main__":
    sys.exit(te.run_tests(sys.modules[__name__], sys.argv))
