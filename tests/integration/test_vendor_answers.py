#!/usr/bin/env python3
"""Integration tests of what vendors answer that the faithful mocks never do: compressed
bodies, Latin-1 error pages and headers, byte order marks, bodies of the wrong shape, login
pages answered with 200, redirects, OAuth2 token answers out of the ordinary. They run the
real `ferry` binary against small raw servers (127.0.0.1 only, stopped at the end) or the
mock vendor servers in mocks/.

    python3 tests/integration/test_vendor_answers.py path/to/ferry [TestName ...]
"""
import gzip
import http.server
import json
import sys
import threading
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE / "mocks"))

import test_engine as te  # noqa: E402
from test_integrations import IntegrationTest, integration_yaml, SN_USER  # noqa: E402
from test_tasks import TaskTest  # noqa: E402

CREATE_SN = """\
steps:
  - id: c
    task: ticket.create
    integration: sn
    with: {table: incident, fields: {short_description: disk full}}
"""
CREATE_JIRA = """\
steps:
  - id: c
    task: ticket.create
    integration: jira
    with: {summary: disk full}
"""
SN_RECORD = {"sys_id": "0123456789abcdef0123456789abcdef", "number": "INC0010001",
             "state": "1", "short_description": "disk full"}


class RawVendor:
    """Answers each request with the next of `answers` (the last one repeats), or with what
    `answers(method, path)` returns when it is a function: (status, headers {name: str},
    body bytes). Header values are sent as Latin-1, as http.server does. Records each
    request as (method, path, headers)."""

    def __init__(self, answers):
        self.answers = answers if callable(answers) else list(answers)
        self.requests = []
        vendor = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def answer(self):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                vendor.requests.append((self.command, self.path,
                                        {k.lower(): v for k, v in self.headers.items()}))
                status, headers, body = vendor.next_answer(self.command, self.path)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            do_GET = do_POST = do_PUT = do_PATCH = answer

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]

    def next_answer(self, method, path):
        if callable(self.answers):
            return self.answers(method, path)
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


def json_answer(status, obj, **headers):
    return (status, {"Content-Type": "application/json", **headers}, json.dumps(obj).encode())


class VendorAnswers(IntegrationTest):
    def vendor(self, *answers):
        v = RawVendor(answers)
        self.addCleanup(v.stop)
        return v

    def sn(self, url, extra=""):
        self.p.write("ferry.yaml", integration_yaml(
            url, "retry: {max_attempts: 1}\n"
                 "auth: {type: basic, username: %s, password: \"${env:SN_PASSWORD}\"}\n%s"
                 % (SN_USER, extra), name="sn"))
        self.p.workflow("c", CREATE_SN)

    def jira(self, url):
        self.p.write("ferry.yaml", integration_yaml(
            url, "project_key: OPS\nretry: {max_attempts: 1}", name="jira", type_="jira"))
        self.p.workflow("c", CREATE_JIRA)

    def error_of(self, doc, step="c"):
        return doc["steps"][step]["error"]

    def test_an_answer_compressed_unasked_is_named_not_decoded(self):
        # Decoding (libcurl's) refused a coding it did not know: a 201 the vendor had acted
        # on became a network error. Nothing is asked for or decoded; the error says why.
        body = gzip.compress(json.dumps({"result": SN_RECORD}).encode())
        v = self.vendor((201, {"Content-Type": "application/json", "Content-Encoding": "gzip"},
                         body))
        self.sn(v.url)
        rc, doc, err = self.run_wf("c")
        self.assertEqual(rc, 1, err)
        self.assertIn("the answer (HTTP 201, application/json, Content-Encoding gzip (sent "
                      "unasked: Ferry decodes none)) has no JSON 'result'",
                      self.error_of(doc)["message"])
        self.assertNotIn("accept-encoding", v.requests[0][2])
        # A server's mislabelled coding on a plain body is read as it is.
        v = self.vendor((201, {"Content-Type": "application/json", "Content-Encoding": "UTF-8"},
                         json.dumps({"result": SN_RECORD}).encode()))
        self.sn(v.url)
        rc, doc, err = self.run_wf("c")
        self.assertEqual(rc, 0, err)
        self.assertEqual(doc["steps"]["c"]["output"]["number"], "INC0010001")

    def test_a_latin1_error_page_from_a_webhook_receiver_is_dead_lettered(self):
        # The quoted body went into ctx.dead_letter as it was, which takes only UTF-8: the
        # step failed and the event was in no dead-letter queue.
        page = "Service non disponible - réessayer".encode("latin-1")
        v = self.vendor((503, {"Content-Type": "text/plain; charset=iso-8859-1"}, page))
        self.p.write("ferry.yaml", "integrations:\n  hook:\n    type: webhook\n"
                                   "    url: %s/in\n    retry: {max_attempts: 1}\n" % v.url)
        self.p.workflow("e", "steps:\n  - {id: e, task: webhook.emit, integration: hook, "
                             "with: {type: ticket.created, data: {n: 1}}}\n")
        rc, doc, err = self.run_wf("e")
        self.assertEqual(rc, 0, err)
        out = doc["steps"]["e"]["output"]
        self.assertEqual(out["status"], "dead_lettered")
        self.assertEqual(out["error"], "HTTP 503: Service non disponible - r\ufffdessayer")
        letters = json.loads(self.ferry("dlq", "list", "--json").stdout)
        self.assertEqual(len(letters), 1)
        self.assertIn("r\ufffdessayer", json.dumps(letters, ensure_ascii=False))

    def test_a_secret_echoed_by_a_siem_collector_is_not_kept_in_part(self):
        # siem.send (http) cut the body at 300 bytes before redaction: 14 of the token's 19
        # characters were kept in the step's error.
        token = "tok-0123456789abcdef"
        v = self.vendor((400, {"Content-Type": "text/plain"},
                         b"x" * 285 + b"token=" + token.encode() + b" rejected"))
        self.p.write("ferry.yaml", integration_yaml(
            v.url, "retry: {max_attempts: 1}\nauth: {type: bearer, token: \"${env:TOKEN}\"}",
            name="siem", type_="http"))
        self.p.workflow("s", "steps:\n  - {id: s, task: siem.send, integration: siem, "
                             "with: {event: {a: 1}}}\n")
        p = self.ferry("run", "s")
        self.assertEqual(p.returncode, 1, p.stderr)
        shown = self.ferry("executions", "show", json.loads(p.stdout)["id"], "--json").stdout
        for text in (p.stdout, p.stderr, shown):
            self.assertNotIn(token[:8], text)
        self.assertIn("the collector answered HTTP 400: xxx",
                      self.error_of(json.loads(p.stdout), "s")["message"])

    def test_a_latin1_header_in_an_answer_is_kept_with_replacement_characters(self):
        v = self.vendor((200, {"Content-Type": "application/json",
                               "Content-Disposition": 'attachment; filename="résumé.json"'},
                         b"{}"))
        self.p.write("ferry.yaml", integration_yaml(v.url, "", name="api", type_="http"))
        self.p.workflow("g", "steps:\n  - {id: g, task: http.request, integration: api, "
                             "with: {method: GET, path: /x}}\n")
        rc, doc, err = self.run_wf("g")
        self.assertEqual(rc, 0, err)
        self.assertEqual(doc["steps"]["g"]["output"]["headers"]["content-disposition"],
                         'attachment; filename="r\ufffdsum\ufffd.json"')

    def test_json_after_a_byte_order_mark_is_read(self):
        body = b"\xef\xbb\xbf" + json.dumps({"id": "10001", "key": "OPS-7"}).encode()
        v = self.vendor((201, {"Content-Type": "application/json"}, body))
        self.jira(v.url)
        rc, doc, err = self.run_wf("c")
        self.assertEqual(rc, 0, err)
        self.assertEqual(doc["steps"]["c"]["output"]["key"], "OPS-7")

    def test_a_jira_key_that_is_no_string_is_a_vendor_error(self):
        v = self.vendor(json_answer(201, {"id": "10001", "key": {"k": 1}}))
        self.jira(v.url)
        rc, doc, err = self.run_wf("c")
        self.assertEqual(rc, 1, err)
        e = self.error_of(doc)
        self.assertEqual(e["kind"], "http_5xx")
        self.assertIn("Jira: the create answer (HTTP 201, application/json: "
                      "'{\"id\": \"10001\", \"key\": {\"k\": 1}}') has no issue key", e["message"])

    def test_a_servicenow_result_that_is_no_record_is_a_vendor_error(self):
        # {"result": []} to a create made a succeeded step with a null id.
        for result, said in (([], "'[]'"), ("ok", "'ok'"), ({"number": "INC1"}, None)):
            v = self.vendor(json_answer(201, {"result": result}))
            self.sn(v.url)
            rc, doc, err = self.run_wf("c")
            self.assertEqual(rc, 1, err)
            e = self.error_of(doc)
            self.assertEqual(e["kind"], "http_5xx")
            self.assertIn("the answer's 'result' is not a record with a sys_id", e["message"])
            if said:
                self.assertTrue(e["message"].endswith(said), e["message"])

    def test_a_login_page_answered_with_200_is_quoted(self):
        page = b"<html><title>Instance hibernating</title></html>"
        v = self.vendor((200, {"Content-Type": "text/html; charset=utf-8"}, page))
        self.sn(v.url)
        rc, doc, err = self.run_wf("c")
        self.assertEqual(rc, 1, err)
        self.assertIn("the answer (HTTP 200, text/html; charset=utf-8: '<html><title>Instance "
                      "hibernating</title></html>') has no JSON 'result'",
                      self.error_of(doc)["message"])

    def test_a_redirect_names_where_it_points(self):
        v = self.vendor((301, {"Location": "https://dev1234.service-now.com/api/now/table/"
                                           "incident", "Content-Type": "text/html"},
                         b"<html>Moved</html>"))
        self.sn(v.url)
        rc, doc, err = self.run_wf("c")
        self.assertEqual(rc, 1, err)
        self.assertIn("HTTP 301, Location https://dev1234.service-now.com/api/now/table/incident",
                      self.error_of(doc)["message"])

    def test_a_lookup_answer_that_is_no_list_does_not_create_again(self):
        # After a create whose outcome is unknown (503), the lookup by correlation id was
        # answered {"result": null}: taken for "not created", the create went out again.
        # An empty object ({}) reads as an empty table in Lua: it is no list either.
        for result in (None, {}):
            v = self.vendor(json_answer(503, {"error": {"message": "busy"}}),
                            json_answer(200, {"result": result}))
            self.sn(v.url)
            rc, doc, err = self.run_wf("c")
            self.assertEqual(rc, 1, err)
            self.assertEqual([m for m, _, _ in v.requests].count("POST"), 1, v.requests)
            self.assertIn("the answer's 'result' is not a list of records",
                          self.error_of(doc)["message"])


class JiraWrites(TaskTest):
    """Jira's writes held to what ServiceNow's are: an answer that is not Jira's is no write
    done, a transition whose answer failed or was lost is checked and sent again, and the
    diff shows comments and a transition's fields."""
    LOGIN_PAGE = {"status": 200, "headers": {"Content-Type": "text/html"},
                  "body": "<html><body>Please log in</body></html>"}

    def workflow(self, tail):
        self.p.workflow("j", """\
steps:
  - {id: create, task: ticket.create, integration: jira, with: {summary: "parity"}}
""" + tail)

    def test_a_login_page_is_no_edit_and_no_comment(self):
        for name, with_, method, path in (
                ("edit", '{key: "{{ steps.create.output.key }}", summary: moved}', "PUT",
                 "/rest/api/3/issue/OPS-1"),
                ("comment", '{key: "{{ steps.create.output.key }}", comment: hello}', "POST",
                 "/rest/api/3/issue/OPS-1/comment")):
            with self.subTest(name):
                self.m.reset()
                self.workflow("  - {id: w, task: ticket.update, integration: jira, needs: [create], "
                              "with: %s}\n" % with_)
                self.m.fault(method=method, path=path, times=1, **self.LOGIN_PAGE)
                rc, doc, err = self.run_wf("j")
                self.assertEqual(rc, 1, err)
                error = doc["steps"]["w"]["error"]
                self.assertEqual(error["kind"], "http_5xx", error)
                self.assertIn("is not Jira's (204, or a JSON object)", error["message"])

    def test_a_transition_answered_badly_is_checked_and_sent_again(self):
        # A login page (not processed) and a 500: ServiceNow's PATCH was sent again and
        # succeeded, Jira's passed as done (the login page) or failed (the 500).
        for fault in (self.LOGIN_PAGE, {"status": 500}):
            with self.subTest(fault=fault["status"]):
                self.m.reset()
                self.workflow("  - {id: move, task: ticket.transition, integration: jira, "
                              "needs: [create], with: {key: \"{{ steps.create.output.key }}\", "
                              "to: in_progress}}\n")
                self.m.fault(method="POST", path="/rest/api/3/issue/OPS-1/transitions", times=1,
                             **fault)
                rc, doc, err = self.run_wf("j")
                self.assertEqual(rc, 0, err + json.dumps(doc.get("steps", {}).get("move")))
                self.assertEqual(doc["steps"]["move"]["output"]["status"], "In Progress")
                posts = self.m.requests(path="/rest/api/3/issue/OPS-1/transitions",
                                        method="POST")
                self.assertEqual(len(posts), 2)

    def test_the_diff_shows_a_comment_and_a_transitions_fields(self):
        self.workflow("""\
  - {id: note, task: ticket.update, integration: jira, needs: [create], with: {key: "{{ steps.create.output.key }}", comment: "looking at it"}}
  - {id: move, task: ticket.transition, integration: jira, needs: [note], with: {key: "{{ steps.create.output.key }}", to: "In Progress ", fields: {summary: "parity (moved)"}, comment: fixed}}
""")
        rc, doc, err = self.run_wf("j")
        self.assertEqual(rc, 0, err + json.dumps(doc.get("steps", {}).get("move")))
        diff = self.ferry("executions", "diff", doc["id"])
        self.assertEqual(diff.returncode, 0, diff.stderr)
        self.assertIn('(step note, ', diff.stdout)
        note, move = diff.stdout.split("(step note, ")[1].split("(step move, ")
        self.assertRegex(note, r'add +/comment "looking at it"')
        self.assertRegex(move, r'replace +/summary "parity \(moved\)"')
        self.assertRegex(move, r'replace +/status "In Progress"')
        self.assertRegex(move, r'add +/comment "fixed"')


class ServiceNowNotes(TaskTest):
    def test_a_note_whose_answer_was_lost_is_looked_for_as_it_lands(self):
        # The record was read back once, at once, and the step failed saying "the record is
        # unchanged" while the note landed a moment later (an operator adding it by hand
        # made a duplicate). Jira's comments were already looked for as they settle.
        self.sn_timeout("1s")
        self.p.workflow("n", """\
steps:
  - {id: create, task: ticket.create, integration: sn, with: {table: incident, fields: {short_description: notes}}}
  - {id: note, task: ticket.update, integration: sn, needs: [create], with: {table: incident, id: "{{ steps.create.output.id }}", work_note: "looked at it"}}
""")
        self.m.fault(method="PATCH", path="/api/now/table/incident/", delay_ms=1800, times=1)
        rc, doc, err = self.run_wf("n")
        self.assertEqual(rc, 0, err + json.dumps(doc.get("steps", {}).get("note")))
        patches = self.m.requests(path="/api/now/table/incident/", method="PATCH")
        self.assertEqual(len(patches), 1, "the note is not sent twice")


class TokenAnswers(IntegrationTest):
    """OAuth2 token endpoints answering out of the ordinary."""

    def oauth_integration(self, url):
        """Integration `target` on url, its token from url/oauth_token.do."""
        self.p.write("ferry.yaml", integration_yaml(
            url, "retry: {max_attempts: 1}\nauth:\n  type: oauth2\n  client_id: ferry\n"
                 "  client_secret: \"${env:CLIENT_SECRET}\"\n  token_url: %s/oauth_token.do"
                 % url, name="target"))

    def token_vendor(self, token_answer):
        api = json_answer(200, {"result": []})
        v = RawVendor(lambda method, path: token_answer if path.startswith("/oauth") else api)
        self.addCleanup(v.stop)
        self.oauth_integration(v.url)
        self.p.workflow("two", "steps:\n"
                        "  - {id: a, task: http.request, integration: target, with: {path: /x}}\n"
                        "  - {id: b, task: http.request, integration: target, with: {path: /y},"
                        " needs: a}\n")
        return v

    def token_fetches(self, v):
        return sum(1 for _, path, _ in v.requests if path.startswith("/oauth"))

    def test_a_huge_or_textual_expires_in_keeps_the_token(self):
        # 1e17 seconds overflowed into "expired": a token fetch before every request.
        for expires_in in (1e17, 1e300, "3599", "nan", "0x10"):
            v = self.token_vendor(json_answer(200, {"access_token": "abc-token-123",
                                                    "token_type": "Bearer",
                                                    "expires_in": expires_in}))
            rc, doc, err = self.run_wf("two")
            self.assertEqual(rc, 0, err)
            self.assertEqual(self.token_fetches(v), 1, (expires_in, v.requests))

    def test_an_empty_access_token_is_a_token_error(self):
        v = self.token_vendor(json_answer(200, {"access_token": "", "expires_in": 300}))
        rc, doc, err = self.run_wf("two")
        self.assertEqual(rc, 1, err)
        self.assertIn("OAuth2 token request to", self.error_of_a(doc))
        self.assertIn("HTTP 200: the answer's access_token is empty", self.error_of_a(doc))
        self.assertFalse(any(p == "/x" for _, p, _ in v.requests))

    def test_tokens_a_run_saw_stay_redacted_after_rotations(self):
        # The token before last was retired from redaction: two 401s (two fetches) later,
        # a step's log quoting the first call's echo showed it in clear.
        fetched = []

        def answer(method, path):
            if path.startswith("/oauth"):
                fetched.append("rotating-token-%d-a8f3kq" % len(fetched))
                return json_answer(200, {"access_token": fetched[-1], "expires_in": 3600})
            if path.startswith("/echo"):
                return json_answer(200, {"seen": v.requests[-1][2].get("authorization")})
            return json_answer(401, {"error": "expired"})
        v = RawVendor(answer)
        self.addCleanup(v.stop)
        self.oauth_integration(v.url)
        self.p.workflow("rot", "steps:\n"
                        "  - {id: a, task: http.request, integration: target, with: {path: /echo}}\n"
                        "  - {id: b, task: http.request, integration: target, needs: a, "
                        "with: {path: /x, fail_on_status: false}}\n"
                        "  - {id: c, task: http.request, integration: target, needs: b, "
                        "with: {path: /y, fail_on_status: false}}\n"
                        "  - {id: d, task: log, needs: c, with: {message: "
                        "\"saw {{ steps.a.output.json.seen }}\"}}\n"
                        "outputs: {seen: \"{{ steps.a.output.json.seen }}\"}\n")
        p = self.ferry("run", "rot")
        self.assertGreaterEqual(len(fetched), 3, p.stderr)
        shown = self.ferry("executions", "show", json.loads(p.stdout)["id"], "--json").stdout
        for text in (p.stdout, p.stderr, shown):
            self.assertNotIn("rotating-token-0", text)

    def error_of_a(self, doc):
        return doc["steps"]["a"]["error"]["message"]


if __name__ == "__main__":
    sys.exit(te.run_tests(sys.modules[__name__], sys.argv))
