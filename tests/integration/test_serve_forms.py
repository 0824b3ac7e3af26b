#!/usr/bin/env python3
"""Integration tests of request forms and inbound hooks: they run the real `ferry serve`.

    python3 tests/integration/test_serve_forms.py path/to/ferry [TestName ...]

One throw-away project (ferry.yaml with forms:, hooks: and tokens; a few workflows) and one
`ferry serve --listen 127.0.0.1:PORT` for the whole module, stopped by PID with SIGTERM.
Python 3 standard library only.
"""

import base64
import hashlib
import hmac
from html import unescape as html_unescape
import http.client
import json
import os
import re
import socket
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from serve_util import Server, listening_url, tokens_yaml  # noqa: E402
import openapi_check as oa  # noqa: E402

FERRY = None
SERVER = None  # the running ferry serve: {"proc", "base", "dir"}

OPERATOR = "op-token-1234"
VIEWER = "view-token-1234"
SW_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
GH_SECRET = "gh-s3cret"

FERRY_YAML = """\
server: {max_body: 4MiB}  # room for the wide submissions below
auth:
  tokens:
    - {name: portal, sha256: "%s", role: operator}
    - {name: dash, sha256: "%s", role: viewer}
forms:
  change-request:
    title: Request a network change
    description: Opens a change for the network team
    workflow: change-request
    fields:
      - {name: device, label: Device, type: string, required: true, pattern: "^[a-z0-9-]+$"}
      - {name: window, label: Change window, type: datetime, required: true}
      - {name: risk, label: Risk, type: choice, choices: [low, medium, high], default: low}
      - {name: hosts, label: Hosts, type: integer, min: 1, max: 10, help: How many hosts}
      - {name: teams, label: Teams, type: multi-choice, choices: [net, sec]}
      - {name: urgent, label: Urgent, type: boolean}
      - {name: notes, label: Notes, type: text}
      - {name: owner, label: Owner, type: email}
  feedback:
    title: Feedback
    workflow: feedback
    public: true
    fields:
      - {name: message, label: Message, type: text, required: true}
  short-note:
    title: Short note
    workflow: short-note
    public: true
    fields:
      - {name: message, label: Message, type: text, required: true, max_length: 40}
  broken-form:
    title: Broken
    workflow: broken
    public: true
    fields:
      - {name: why, label: Why, type: string}
  gated-form:
    title: Gated
    workflow: gated
    public: true
    wait: 1m
  review:
    title: Review
    workflow: review
    public: true
    fields:
      - {name: city, label: City, type: string, pattern: "^[^\u00e4]{1,6}$"}
      - {name: accept, label: I accept, type: boolean, required: true}
      - {name: teams, label: Teams, type: multi-choice, choices: [net, sec], default: [net, sec]}
      - {name: size, label: Size, type: integer, min: 1.5, max: 9.5}
      - {name: ratio, label: Ratio, type: number, min: 0.1, default: 0.1}
      - {name: at, label: At, type: datetime, default: "2026-03-01T10:00:00+01:00"}
      - {name: level, label: Level, type: string}
      - {name: summary, label: Summary, type: text, pattern: "^([A-Za-z0-9 ,.-]{1,200}\\n?){1,100}$"}
hooks:
  sn:
    secret: "${env:FORMS_TEST_SW_SECRET}"
    verify: standard-webhooks
    tolerance: 5m
    action: {start: incident, input: event}
  gh:
    secret: "${env:FORMS_TEST_GH_SECRET}"
    verify: hmac-sha256
    header: X-Hub-Signature-256
    action: {start: deploy}
  gh-once:
    secret: "${env:FORMS_TEST_GH_SECRET}"
    verify: hmac-sha256
    header: X-Hub-Signature-256
    replay_window: 2s
    action: {start: deploy}
  unset:
    secret: "${env:FORMS_TEST_NEVER_SET_SECRET}"
    verify: hmac-sha256
    header: X-Hub-Signature-256
    action: {start: deploy}
  rotating:
    secrets: ["${env:FORMS_TEST_NEVER_SET_OLD_SECRET}", "${env:FORMS_TEST_SW_SECRET}"]
    verify: standard-webhooks
    action: {start: incident, input: event}
  pulse:
    secret: "${env:FORMS_TEST_SW_SECRET}"
    verify: standard-webhooks
    action: {start: pulse, input: event}
  malformed:
    secret: "${env:FORMS_TEST_MALFORMED_SECRET}"
    verify: standard-webhooks
    action: {start: incident, input: event}
  open:
    verify: none
    action: {start: deploy}
  sn-short:
    secret: "${env:FORMS_TEST_SW_SECRET}"
    verify: standard-webhooks
    tolerance: 1s
    action: {start: incident, input: event}
  approvals:
    verify: none
    action: {resume: approval}
  cab-approvals:
    verify: none
    action: {resume: approval, workflows: [cab-gated]}
""" % (hashlib.sha256(OPERATOR.encode()).hexdigest(), hashlib.sha256(VIEWER.encode()).hexdigest())

WORKFLOWS = {
    "gated": """\
name: gated
steps:
  - {id: approve, task: approval, with: {message: "Go?"}}
""",
    "cab-gated": """\
name: cab-gated
steps:
  - {id: approve, task: approval, with: {message: "Go?", approvers: [cab]}}
""",
    "change-request": """\
name: change-request
inputs:
  device: {type: string, required: true}
  window: {type: string, required: true}
  risk: {type: string}
  hosts: {type: integer}
  teams: {type: array}
  urgent: {type: boolean}
  notes: {type: string}
  owner: {type: string}
steps:
  - {id: note, task: log, with: {message: "change {{ inputs.device }}"}}
outputs:
  device: "{{ inputs.device }}"
  window: "{{ inputs.window }}"
""",
    "review": """\
name: review
inputs:
  city: {type: string}
  accept: {type: boolean}
  teams: {type: array}
  size: {type: integer}
  ratio: {type: number}
  at: {type: string}
  level: {type: string, enum: [aa, bb]}
  summary: {type: string}
steps:
  - {id: note, task: log, with: {message: "review"}}
outputs:
  got: "{{ inputs }}"
""",
    "short-note": """\
name: short-note
inputs:
  message: {type: string, required: true}
steps:
  - {id: note, task: log, with: {message: "{{ inputs.message }}"}}
outputs:
  message: "{{ inputs.message }}"
""",
    "broken": """\
name: broken
inputs:
  why: {type: string}
steps:
  - {id: boom, task: fail, with: {message: "failed on purpose"}}
""",
    "feedback": """\
name: feedback
inputs:
  message: {type: string, required: true}
steps:
  - {id: note, task: log, with: {message: "{{ inputs.message }}"}}
""",
    "pulse": """\
name: pulse
inputs:
  event: {type: object}
steps:
  - {id: note, task: log, with: {message: pulse}}
""",
    "incident": """\
name: incident
inputs:
  event: {type: object, required: true}
steps:
  - {id: note, task: log, with: {message: "{{ inputs.event.type }}"}}
outputs:
  type: "{{ inputs.event.type }}"
""",
    "deploy": """\
name: deploy
inputs:
  ref: {type: string, required: true}
steps:
  - {id: note, task: log, with: {message: "{{ inputs.ref }}"}}
outputs:
  ref: "{{ inputs.ref }}"
""",
}


def start_server():
    d = Path(tempfile.mkdtemp(prefix="ferry-forms-"))
    (d / "workflows").mkdir()
    (d / "ferry.yaml").write_text(FERRY_YAML)
    for name, text in WORKFLOWS.items():
        (d / "workflows" / (name + ".yaml")).write_text(text)
    env = dict(os.environ, FORMS_TEST_SW_SECRET=SW_SECRET, FORMS_TEST_GH_SECRET=GH_SECRET,
               FORMS_TEST_MALFORMED_SECRET="whsec_!!not*base64")
    log = open(d / "serve.log", "w")
    # Port 0, read back from the `listening on` line (written once it answers): a port
    # picked here and bound later could be taken in between by another test's bind.
    proc = subprocess.Popen([FERRY, "serve", "--listen", "127.0.0.1:0", "--project",
                             str(d), "--data", str(d / ".ferry"), "--quiet"],
                            stdout=log, stderr=log, env=env, cwd=str(d))
    base = None
    deadline = time.monotonic() + 20
    while base is None and time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("ferry serve exited: " + (d / "serve.log").read_text())
        base = listening_url((d / "serve.log").read_text())
        if base is None:
            time.sleep(0.05)
    if base is None:
        raise RuntimeError("ferry serve did not start: " + (d / "serve.log").read_text())
    return {"proc": proc, "base": base, "dir": d, "log": log}


def stop_server(s):
    s["proc"].send_signal(signal.SIGTERM)
    try:
        s["proc"].wait(timeout=15)
    except subprocess.TimeoutExpired:
        s["proc"].kill()
        s["proc"].wait(timeout=5)
    s["log"].close()
    shutil.rmtree(s["dir"], ignore_errors=True)


def request(method, path, body=None, headers=None, token=None, timeout=30):
    """-> (status, headers dict (lower-case), body text)."""
    h = dict(headers or {})
    if token:
        h["Authorization"] = "Bearer " + token
    if isinstance(body, (dict, list)):
        body = json.dumps(body).encode()
        h.setdefault("Content-Type", "application/json")
    elif isinstance(body, str):
        body = body.encode()
    req = urllib.request.Request(SERVER["base"] + path, data=body, method=method, headers=h)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, {k.lower(): v for k, v in r.headers.items()}, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read().decode()


def wait_waiting(exec_id):
    """The execution's record once it waits for a decision (or after 10 s)."""
    deadline = time.monotonic() + 10
    while True:
        doc = json.loads(request("GET", "/api/v1/executions/" + exec_id, token=VIEWER)[2])
        if doc["status"] == "waiting" or time.monotonic() > deadline:
            return doc
        time.sleep(0.05)


def wait_execution(exec_id, token=VIEWER):
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        status, _, body = request("GET", "/api/v1/executions/" + exec_id, token=token)
        doc = json.loads(body)
        if status == 200 and doc["status"] in ("succeeded", "failed", "cancelled"):
            return doc
        time.sleep(0.1)
    raise AssertionError("execution %s did not finish" % exec_id)


def server_log():
    """The shared server's JSON log lines so far."""
    return [json.loads(l) for l in (SERVER["dir"] / "serve.log").read_text().splitlines()
            if l.startswith("{")]


def hook_warnings(hook):
    """The server's warnings about `hook` (its start's, for a secret)."""
    return [l["message"] for l in server_log()
            if l.get("level") == "warn" and l["message"].startswith("hook '%s': " % hook)]


def sw_headers(body, msg_id, ts=None, secret=SW_SECRET):
    ts = str(int(time.time()) if ts is None else ts)
    key = base64.b64decode(secret[len("whsec_"):])
    # Header values go out as latin-1 (http.client): the id is signed as the bytes sent.
    sig = base64.b64encode(hmac.new(key, ("%s.%s." % (msg_id, ts)).encode("latin-1") + body,
                                    hashlib.sha256).digest()).decode()
    return {"webhook-id": msg_id, "webhook-timestamp": ts, "webhook-signature": "v1," + sig,
            "Content-Type": "application/json"}


class Forms(unittest.TestCase):
    def test_list_shows_public_forms_to_everyone_and_all_to_viewers(self):
        status, _, body = request("GET", "/api/v1/forms")
        self.assertEqual(status, 200)
        public = ["feedback", "short-note", "broken-form", "gated-form", "review"]
        self.assertEqual([f["name"] for f in json.loads(body)["forms"]], public)
        status, _, body = request("GET", "/api/v1/forms", token=VIEWER)
        forms = json.loads(body)["forms"]
        self.assertEqual([f["name"] for f in forms], ["change-request"] + public)
        self.assertEqual(forms[0]["title"], "Request a network change")
        self.assertFalse(forms[0]["public"])

    def test_schema(self):
        status, headers, body = request("GET", "/api/v1/forms/change-request", token=VIEWER)
        self.assertEqual(status, 200, body)
        s = json.loads(body)
        self.assertEqual(s["$schema"], "https://json-schema.org/draft/2020-12/schema")
        self.assertEqual(s["required"], ["device", "window"])
        self.assertEqual(s["properties"]["window"]["format"], "date-time")
        self.assertEqual(s["properties"]["risk"]["enum"], ["low", "medium", "high"])
        self.assertEqual(s["properties"]["risk"]["default"], "low")
        self.assertEqual(s["properties"]["hosts"]["maximum"], 10)
        self.assertEqual(s["properties"]["owner"]["format"], "email")
        self.assertEqual(s["properties"]["device"]["pattern"], "^[a-z0-9-]+$")
        self.assertEqual(request("GET", "/api/v1/forms/change-request")[0], 401)
        self.assertEqual(request("GET", "/api/v1/forms/feedback")[0], 200)
        self.assertEqual(request("GET", "/api/v1/forms/nope", token=VIEWER)[0], 404)

    def test_html_page(self):
        status, headers, body = request("GET", "/forms/feedback")
        self.assertEqual(status, 200)
        self.assertTrue(headers["content-type"].startswith("text/html"))
        self.assertIn('<label for="f-message">Message', body)
        self.assertIn('<textarea rows="5" id="f-message" name="message" required', body)
        self.assertIn('action="/api/v1/forms/feedback/submit?wait=10s"', body)
        status, _, body = request("GET", "/forms/change-request", token=VIEWER)
        self.assertEqual(status, 200)
        for needle in ('type="datetime-local"', 'type="email"', 'type="checkbox"',
                       'multiple>', '<select id="f-risk"', 'type="number"',
                       '<label for="f-device">Device'):
            self.assertIn(needle, body)
        self.assertEqual(request("GET", "/forms/change-request")[0], 401)

    def test_submit_json(self):
        status, headers, body = request(
            "POST", "/api/v1/forms/change-request/submit",
            {"device": "sw-1", "window": "2026-03-01T22:00", "hosts": "4", "teams": ["net"]},
            token=OPERATOR)
        self.assertEqual(status, 202, body)
        doc = wait_execution(json.loads(body)["id"])
        self.assertEqual(doc["status"], "succeeded", doc)
        self.assertEqual(doc["inputs"]["hosts"], 4)
        self.assertEqual(doc["inputs"]["risk"], "low")
        self.assertEqual(doc["inputs"]["window"], "2026-03-01T22:00:00Z")
        self.assertEqual(doc.get("trigger"), "form")
        self.assertEqual(doc["trigger_info"]["form"], "change-request")

    def test_submit_urlencoded_and_html_answer(self):
        form = urllib.parse.urlencode([("device", "sw-2"), ("window", "2026-03-01T22:00"),
                                       ("teams", "net"), ("teams", "sec"), ("urgent", "true"),
                                       ("hosts", "")])
        status, headers, body = request(
            "POST", "/api/v1/forms/change-request/submit", form, token=OPERATOR,
            headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual(status, 202, body)
        doc = wait_execution(json.loads(body)["id"])
        self.assertEqual(doc["inputs"]["teams"], ["net", "sec"])
        self.assertIs(doc["inputs"]["urgent"], True)
        self.assertNotIn("hosts", doc["inputs"])
        # A browser (Accept: text/html) gets a page linking to the execution.
        status, headers, body = request(
            "POST", "/api/v1/forms/feedback/submit", "message=Nice+%3Cwork%3E",
            headers={"Content-Type": "application/x-www-form-urlencoded",
                     "Accept": "text/html,application/xhtml+xml"})
        self.assertEqual(status, 202, body)
        self.assertTrue(headers["content-type"].startswith("text/html"))
        self.assertIn('href="/api/v1/executions/', body)
        # multipart/form-data is not a JSON syntax error but a media type not taken.
        status, headers, body = request(
            "POST", "/api/v1/forms/feedback/submit",
            "--b\r\nContent-Disposition: form-data; name=\"message\"\r\n\r\nhi\r\n--b--\r\n",
            headers={"Content-Type": "multipart/form-data; boundary=b"})
        self.assertEqual(status, 415, body)
        self.assertEqual(json.loads(body)["error"]["code"], "unsupported_media_type")
        # JSON labelled urlencoded (what `curl -d '{...}'` sends) was a 422 whose one
        # unknown field was the whole text: told what happened instead.
        status, headers, body = request(
            "POST", "/api/v1/forms/feedback/submit", '{"message": "hi"}',
            headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual(status, 415, body)
        self.assertIn("the body is JSON, but its Content-Type says "
                      "application/x-www-form-urlencoded (curl -d's default)",
                      json.loads(body)["error"]["message"])
        # Bytes that are not UTF-8 once decoded are refused, not stored or echoed.
        status, headers, body = request(
            "POST", "/api/v1/forms/feedback/submit", "message=a%FF%FEb",
            headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual(status, 400, body)
        self.assertEqual(json.loads(body)["error"]["message"],
                         "the form body is not UTF-8 once decoded")

    def test_422_lists_every_field_error(self):
        status, _, body = request(
            "POST", "/api/v1/forms/change-request/submit",
            {"device": "Bad Name", "hosts": 50, "risk": "extreme", "owner": "x", "bogus": 1},
            token=OPERATOR)
        self.assertEqual(status, 422, body)
        err = json.loads(body)["error"]
        self.assertEqual(err["code"], "invalid_form")
        self.assertEqual(sorted(err["fields"]),
                         ["bogus", "device", "hosts", "owner", "risk", "window"])
        self.assertEqual(err["fields"]["window"], "is required")
        # The browser gets the form again with the errors beside the fields.
        status, headers, body = request(
            "POST", "/api/v1/forms/feedback/submit", "message=",
            headers={"Content-Type": "application/x-www-form-urlencoded", "Accept": "text/html"})
        self.assertEqual(status, 422)
        self.assertIn('id="error-message">is required</p>', body)
        self.assertIn('aria-invalid="true"', body)

    def test_a_refused_submission_does_not_repeat_a_secret_back(self):
        # A hook's secret (and the key inside it) pasted into fields: the 422 names the
        # fields and quotes no value, as JSON and as the page that refills the form.
        key = SW_SECRET[len("whsec_"):]
        # Two names that both redact to [REDACTED] (one key twice) refilled the page as sent.
        sent = {"device": SW_SECRET, "risk": key, key: 1, SW_SECRET: 2,
                "window": "2026-01-01T00:00"}
        status, _, body = request("POST", "/api/v1/forms/change-request/submit", sent,
                                  token=OPERATOR)
        self.assertEqual(status, 422, body)
        self.assertNotIn(key, body)
        fields = json.loads(body)["error"]["fields"]
        self.assertEqual(fields["device"],
                         "'[REDACTED]' does not match the pattern ^[a-z0-9-]+$")
        self.assertIn("[REDACTED]", fields)
        status, _, page = request(
            "POST", "/api/v1/forms/change-request/submit",
            urllib.parse.urlencode(sent),
            headers={"Content-Type": "application/x-www-form-urlencoded", "Accept": "text/html",
                     "Authorization": "Bearer " + OPERATOR})
        self.assertEqual(status, 422, page)
        self.assertNotIn(key, page)
        self.assertIn("[REDACTED]", page)

    def test_a_submission_naming_many_fields_is_answered_in_one_pass(self):
        # A public form, 300,000 names it does not have: the urlencoded reader and the 422's
        # field list each looked every name up by scanning those before it (O(n^2): the
        # server's loop blocked for minutes), and the answer listed each (3.9 MB for 100,000).
        names = ["k%d" % i for i in range(300000)]
        for content_type, body in (
                ("application/x-www-form-urlencoded",
                 "&".join(n + "=1" for n in names) + "&message=hi"),
                ("application/json", json.dumps(dict.fromkeys(names, 1), separators=(",", ":")))):
            with self.subTest(content_type=content_type):
                self.assertLess(len(body), 4 << 20)
                status, _, answer = request("POST", "/api/v1/forms/feedback/submit", body,
                                            headers={"Content-Type": content_type})
                self.assertEqual(status, 422, answer[:300])
                error = json.loads(answer)["error"]
                fields = error["fields"]
                # 20 listed, the rest counted: the answer is not an amplifier of the request.
                self.assertLess(len(answer), 4096)
                self.assertEqual(fields["k19"], "is not a field of this form")
                self.assertNotIn("k20", fields)
                self.assertEqual(len(fields), 20 + (content_type == "application/json"))
                self.assertEqual(error["unlisted"], 299980)
                problems = 300000 + (content_type == "application/json")
                self.assertEqual(error["message"],
                                 "%d fields need correcting (299980 more names that are not "
                                 "a field of this form, not listed)" % problems)
        # The page lists 20 and says how many more; a name "" among them is one of the 20.
        body = "&".join(["=1"] + names[:100]) + "&message=hi"
        status, _, page = request("POST", "/api/v1/forms/feedback/submit", body,
                                  headers={"Content-Type": "application/x-www-form-urlencoded",
                                           "Accept": "text/html"})
        self.assertEqual(status, 422)
        self.assertEqual(page.count("is not a field of this form</li>"), 20)
        self.assertIn("<li>and 81 more names that are not a field of this form</li>", page)
        self.assertEqual(request("GET", "/healthz")[0], 200)


        # Urlencoded readers disagree on which of two values wins: neither does, and the
        # problem is listed with the others rather than one value picked silently.
        form = urllib.parse.urlencode([("device", "sw-1"), ("device", "sw-2"),
                                       ("window", "2026-03-01T22:00"), ("hosts", "99"),
                                       ("teams", "net"), ("teams", "sec")])
        status, _, body = request(
            "POST", "/api/v1/forms/change-request/submit", form, token=OPERATOR,
            headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual(status, 422, body)
        err = json.loads(body)["error"]
        self.assertEqual(err["code"], "invalid_form")
        self.assertEqual(err["message"], "2 fields need correcting")
        self.assertEqual(err["fields"]["device"], "given more than once")
        self.assertEqual(sorted(err["fields"]), ["device", "hosts"])
        # The same key twice in a JSON submission is a bad body, named.
        status, _, body = request(
            "POST", "/api/v1/forms/change-request/submit",
            '{"device": "sw-1", "window": "2026-03-01T22:00", "device": "sw-2"}',
            token=OPERATOR, headers={"Content-Type": "application/json"})
        self.assertEqual(status, 400, body)
        self.assertEqual(json.loads(body)["error"]["code"], "bad_json")
        self.assertIn('"device"', json.loads(body)["error"]["message"])

    def test_an_empty_idempotency_key_is_refused(self):
        # Read as no key, each repeat started another execution: what the header is sent
        # to prevent.
        status, _, text = request("POST", "/api/v1/forms/feedback/submit", {"why": "x"},
                                  headers={"Idempotency-Key": ""})
        self.assertEqual(status, 400, text)
        self.assertEqual(json.loads(text)["error"]["message"],
                         "Idempotency-Key is empty: send a key (at most 255 bytes) or no header")

    def test_an_anonymous_callers_key_is_bounded_as_sent(self):
        # Kept apart from the API's keys by a prefix, the key was measured with it: 241 to
        # 255 bytes from a public form's caller were "longer than 255 bytes".
        status, _, text = request("POST", "/api/v1/forms/feedback/submit", {"message": "bounded"},
                                  headers={"Idempotency-Key": "k" * 255})
        self.assertEqual(status, 202, text)
        status, _, text = request("POST", "/api/v1/forms/feedback/submit", {"message": "bounded"},
                                  headers={"Idempotency-Key": "k" * 256})
        self.assertEqual(status, 400, text)
        self.assertEqual(json.loads(text)["error"]["message"],
                         "Idempotency-Key is longer than 255 bytes")

    def test_idempotent_submit(self):
        h = {"Idempotency-Key": "form-key-1"}
        sub = {"message": "once"}
        s1, _, b1 = request("POST", "/api/v1/forms/feedback/submit", sub, headers=h)
        s2, _, b2 = request("POST", "/api/v1/forms/feedback/submit", sub, headers=h)
        self.assertEqual((s1, s2), (202, 202), b1 + b2)
        self.assertEqual(json.loads(b1)["id"], json.loads(b2)["id"])
        self.assertTrue(json.loads(b2).get("idempotent_replay"))

    def test_tokens(self):
        path = "/api/v1/forms/change-request/submit"
        good = {"device": "sw-3", "window": "2026-03-01T22:00"}
        self.assertEqual(request("POST", path, good)[0], 401)
        self.assertEqual(request("POST", path, good, token="wrong")[0], 401)
        self.assertEqual(request("POST", path, good, token=VIEWER)[0], 403)
        self.assertEqual(request("POST", path + "?wait=10s", good, token=OPERATOR)[0], 200)
        self.assertEqual(request("POST", "/api/v1/forms/feedback/submit", {"message": "hi"})[0],
                         202)


    def test_a_browser_is_asked_for_the_token_as_a_basic_password(self):
        # A browser cannot send a bearer token: the 401 of a protected form carries a Basic
        # challenge, and the token works as the password (any user name).
        status, headers, body = request("GET", "/forms/change-request")
        self.assertEqual(status, 401)
        self.assertTrue(headers["www-authenticate"].startswith('Basic realm="ferry"'), headers)
        self.assertNotIn(OPERATOR, body)
        # Bearer first, then Basic, as on every other read: a program is told what it sends.
        for path in ("/forms/change-request", "/api/v1/forms/change-request"):
            try:
                urllib.request.urlopen(SERVER["base"] + path, timeout=30)
                self.fail(path + " answered without a token")
            except urllib.error.HTTPError as e:
                self.assertEqual([c.split(" ")[0] for c in e.headers.get_all("WWW-Authenticate")],
                                 ["Bearer", "Basic"], path)

        def basic(user, password):
            return {"Authorization": "Basic " + base64.b64encode(
                ("%s:%s" % (user, password)).encode()).decode()}

        status, _, body = request("GET", "/forms/change-request", headers=basic("me", VIEWER))
        self.assertEqual(status, 200, body)
        self.assertIn('<label for="f-device">Device', body)
        status, headers, _ = request("GET", "/forms/change-request",
                                     headers=basic("me", "wrong"))
        self.assertEqual(status, 401)
        self.assertIn("www-authenticate", headers)
        form = urllib.parse.urlencode([("device", "sw-9"), ("window", "2026-03-01T22:00")])
        status, headers, body = request(
            "POST", "/api/v1/forms/change-request/submit", form,
            headers={**basic("anyone", OPERATOR),
                     "Content-Type": "application/x-www-form-urlencoded",
                     "Accept": "text/html"})
        self.assertEqual(status, 202, body)
        self.assertIn('href="/api/v1/executions/', body)
        self.assertEqual(request("POST", "/api/v1/forms/change-request/submit", form,
                                 headers={**basic("x", VIEWER), "Content-Type":
                                          "application/x-www-form-urlencoded"})[0], 403)
        # Malformed Basic credentials are no token at all.
        self.assertEqual(request("GET", "/forms/change-request",
                                 headers={"Authorization": "Basic !!!"})[0], 401)
        self.assertEqual(request("GET", "/forms/change-request", headers={
            "Authorization": "Basic " + base64.b64encode(VIEWER.encode()).decode()})[0], 401)
        # The API answers its own 401s with a Bearer challenge, and takes Basic too for
        # reading: a GET offers both (a browser answers the Basic one, so the link on a
        # form's result page opens with a sign-in prompt); a POST only the Bearer one.
        def challenges(method, path):
            req = urllib.request.Request(SERVER["base"] + path, method=method,
                                         data=b"" if method == "POST" else None)
            try:
                with urllib.request.urlopen(req, timeout=30) as r:
                    return r.status, r.headers.get_all("WWW-Authenticate")
            except urllib.error.HTTPError as e:
                return e.code, e.headers.get_all("WWW-Authenticate")
        self.assertEqual(challenges("GET", "/api/v1/executions"),
                         (401, ['Bearer realm="ferry"', 'Basic realm="ferry", charset="UTF-8"']))
        self.assertEqual(challenges("POST", "/api/v1/workflows/x/executions"),
                         (401, ['Bearer realm="ferry"']))
        self.assertEqual(request("GET", "/api/v1/executions", headers=basic("me", VIEWER))[0], 200)

    def test_basic_credentials_cannot_be_used_by_other_sites(self):
        # A browser sends saved Basic credentials with other sites' requests too (CSRF).
        def basic(token):
            return {"Authorization": "Basic " + base64.b64encode(
                ("me:%s" % token).encode()).decode()}
        form = urllib.parse.urlencode([("device", "sw-7"), ("window", "2026-03-01T22:00")])
        urlencoded = {"Content-Type": "application/x-www-form-urlencoded"}
        submit = "/api/v1/forms/change-request/submit"
        here = SERVER["base"]  # http://127.0.0.1:PORT, the Host the client sends
        for cross in ({"Origin": "https://evil.example"}, {"Origin": "null"},
                      {"Sec-Fetch-Site": "cross-site", "Origin": here},
                      {"Sec-Fetch-Site": "same-site"}):
            with self.subTest(headers=cross):
                status, _, body = request("POST", submit, form,
                                          headers={**basic(OPERATOR), **urlencoded, **cross})
                self.assertEqual(status, 403, body)
                self.assertIn("another site", json.loads(body)["error"]["message"])
        for same in ({"Origin": here}, {"Sec-Fetch-Site": "same-origin", "Origin": here}, {}):
            with self.subTest(headers=same):
                status, _, body = request("POST", submit, form,
                                          headers={**basic(OPERATOR), **urlencoded, **same})
                self.assertEqual(status, 202, body)
        # Every other write takes a bearer token only, whatever the origin.
        for path, payload in (("/api/v1/workflows/change-request/executions",
                               {"inputs": {"device": "sw-1", "window": "2026-03-01T22:00"}}),
                              ("/api/v1/executions/01ARZ3NDEKTSV4RRFFQ69G5FAV/cancel", None)):
            with self.subTest(path=path):
                status, headers, body = request("POST", path, payload,
                                                headers={**basic(OPERATOR), "Origin": here})
                self.assertEqual(status, 401, body)
                self.assertIn("bearer token", json.loads(body)["error"]["message"])
                self.assertTrue(headers["www-authenticate"].startswith("Bearer"), headers)
        # A bearer token is never sent by a browser on its own: no origin check for it.
        status, _, body = request("POST", submit, {"device": "sw-8", "window": "2026-03-01T22:00"},
                                  token=OPERATOR, headers={"Origin": "https://other.example"})
        self.assertEqual(status, 202, body)


def own_server(test, ferry_yaml):
    """A server of its own for one test: the feedback workflow and this ferry.yaml."""
    d = Path(tempfile.mkdtemp(prefix="ferry-forms-own-"))
    test.addCleanup(shutil.rmtree, d, True)
    (d / "workflows").mkdir()
    (d / "workflows" / "feedback.yaml").write_text(WORKFLOWS["feedback"])
    (d / "ferry.yaml").write_text(ferry_yaml)
    return Server(FERRY, d, d / ".ferry")


class Requesters(unittest.TestCase):
    """What a public form's requester, who holds no token, may do and learn."""
    BROWSER = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "text/html"}

    def test_waiting_for_the_end_shows_the_outcome_not_the_execution(self):
        # ?wait gave an anonymous caller the whole execution: step inputs, vendor answers,
        # error messages and tracebacks, which reading it takes a viewer token for.
        status, _, body = request("POST", "/api/v1/forms/review/submit?wait=10s",
                                  {"accept": True, "level": "aa"})
        self.assertEqual(status, 200, body)
        doc = json.loads(body)
        self.assertEqual(set(doc), {"id", "status", "dry_run", "outputs"}, doc)
        self.assertEqual(doc["outputs"]["got"]["level"], "aa")
        # Sent again with its key, it is answered from the store: the outcome still.
        for attempt in range(2):
            status, _, body = request("POST", "/api/v1/forms/review/submit?wait=10s",
                                      {"accept": True, "level": "bb"},
                                      headers={"Idempotency-Key": "outcome-only-1"})
            self.assertEqual(status, 200, body)
            doc = json.loads(body)
            # Only the outcome, in its order; the repeat says it is one, as its 202 would.
            self.assertEqual(list(doc), (["idempotent_replay"] if attempt else []) +
                             ["id", "status", "dry_run", "outputs"], attempt)
            self.assertEqual(doc["outputs"]["got"]["level"], "bb")
        status, _, body = request("POST", "/api/v1/forms/review/submit?wait=10s",
                                  {"accept": True, "level": "bb"}, token=OPERATOR)
        self.assertEqual(status, 200, body)
        self.assertIn("steps", json.loads(body))

    def test_outcome_and_decision_answers_hold_to_the_published_schemas(self):
        # The document declared every 200 of a form or hook an Execution, which an outcome
        # ({id, status, dry_run, outputs}) or a resume hook's decision is not.
        _, _, text = request("GET", "/api/v1/openapi.json")
        doc = json.loads(text)

        def holds(path, documented, status, answer):
            schema = oa.answer_schema(doc, documented, "post", status)
            self.assertIsNotNone(schema, documented)
            self.assertEqual(oa.problems(schema, answer, doc), [], (path, answer))
        answers = [("/api/v1/forms/review/submit?wait=10s", {"accept": True, "level": "aa"},
                    None),
                   ("/api/v1/forms/review/submit?wait=10s", {"accept": True, "level": "aa"},
                    OPERATOR),
                   ("/hooks/open?wait=10s", {"ref": "v1"}, None)]
        for path, body, token in answers:
            status, _, text = request("POST", path, body, token=token)
            self.assertEqual(status, 200, text)
            documented = "/hooks/{name}" if path.startswith("/hooks/") else \
                "/api/v1/forms/{name}/submit"
            holds(path, documented, 200, json.loads(text))
        status, _, text = request("POST", "/api/v1/workflows/gated/executions", {"inputs": {}},
                                  token=OPERATOR)
        exec_id = json.loads(text)["id"]
        wait_waiting(exec_id)
        status, _, text = request("POST", "/hooks/approvals", {
            "execution_id": exec_id, "step": "approve", "decision": "approved"})
        self.assertEqual(status, 200, text)
        holds("/hooks/approvals", "/hooks/{name}", 200, json.loads(text))
        # And the checker tells them apart (a test of the test).
        schema = oa.answer_schema(doc, "/hooks/{name}", "post", 200)
        self.assertTrue(oa.problems(schema, {"id": "x"}, doc))

    def test_a_token_that_matches_nothing_is_refused_even_where_none_is_needed(self):
        # Served as anonymous, a program with a mistyped token lost its name and its own
        # Idempotency-Key space; a browser's saved Basic credentials are still taken as
        # anyone's (a browser sends them by itself, perhaps from before a token changed).
        status, headers, text = request("POST", "/api/v1/forms/feedback/submit",
                                        {"message": "hi"}, token="mistyped")
        self.assertEqual(status, 401, text)
        self.assertEqual(json.loads(text)["error"]["message"], "the bearer token is not valid")
        self.assertIn("Bearer", headers.get("www-authenticate", ""))
        stale = {"Authorization": "Basic " + base64.b64encode(b"me:old-token").decode()}
        status, _, text = request("POST", "/api/v1/forms/feedback/submit", {"message": "hi"},
                                  headers=stale)
        self.assertEqual(status, 202, text)
        status, _, text = request("POST", "/api/v1/forms/feedback/submit", {"message": "hi"},
                                  token=OPERATOR)
        self.assertEqual(status, 202, text)

    def test_another_sites_page_cannot_submit_a_public_form(self):
        form = "message=from+elsewhere"
        for cross in ({"Origin": "https://evil.example"},
                      {"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}):
            with self.subTest(headers=cross):
                status, _, body = request("POST", "/api/v1/forms/feedback/submit", form,
                                          headers={**self.BROWSER, **cross})
                self.assertEqual(status, 403, body)
                self.assertIn("another site&#39;s page", body)
        status, _, body = request("POST", "/api/v1/forms/feedback/submit", form,
                                  headers={**self.BROWSER, "Sec-Fetch-Site": "same-origin",
                                           "Origin": SERVER["base"]})
        self.assertEqual(status, 202, body)

    def test_a_browser_refused_before_its_form_is_read_gets_a_page(self):
        # These answered a browser with the API's JSON, shown raw to the requester.
        form = "message=hello"
        status, headers, body = request("POST", "/api/v1/forms/feedback/submit", form,
                                        headers={**self.BROWSER, "Origin": "https://evil.example"})
        self.assertEqual(status, 403, body)
        self.assertTrue(headers["content-type"].startswith("text/html"), headers)
        self.assertEqual(headers["x-frame-options"], "DENY")
        self.assertIn("<title>Not submitted</title>", body)
        self.assertIn('<p role="alert">The request was not sent: a form submitted from another '
                      "site&#39;s page is refused", body)
        self.assertIn('<a href="/forms/feedback">Back to the form</a>', body)
        # A protected form and an unknown one: the same page but for the name asked for,
        # and the browser is still asked to sign in.
        pages = set()
        for name in ("change-request", "nope"):
            status, headers, body = request("POST", "/api/v1/forms/%s/submit" % name, form,
                                            headers=self.BROWSER)
            self.assertEqual(status, 401, body)
            self.assertIn("Basic", headers["www-authenticate"])
            self.assertTrue(headers["content-type"].startswith("text/html"), headers)
            pages.add(body.replace(name, "NAME"))
        self.assertEqual(len(pages), 1, pages)
        # So is opening the page of one, which a browser does before it posts.
        for name in ("change-request", "nope"):
            status, headers, body = request("GET", "/forms/" + name,
                                            headers={"Accept": "text/html"})
            self.assertEqual(status, 401, body)
            self.assertIn("Basic", headers["www-authenticate"])
            self.assertIn("<title>Form not shown</title>", body)
            self.assertIn("The form cannot be shown: this form needs a token", body)
        status, _, body = request("POST", "/api/v1/forms/feedback/submit?wait=soon", form,
                                  headers=self.BROWSER)
        self.assertEqual(status, 400, body)
        self.assertIn("The request was not sent: wait: ", body)
        # A program posting the same body without asking for HTML still gets JSON.
        status, headers, body = request("POST", "/api/v1/forms/feedback/submit?wait=soon", form,
                                        headers={"Content-Type": self.BROWSER["Content-Type"]})
        self.assertEqual(status, 400, body)
        self.assertEqual(json.loads(body)["error"]["code"], "bad_request")
        # Refused by the HTTP server itself, before any handler: a body over server.max_body
        # (a huge text pasted in), told by its length alone.
        for accept, page in (("text/html", True), ("application/json", False)):
            with socket.create_connection(("127.0.0.1", int(SERVER["base"].rsplit(":", 1)[1])),
                                          timeout=10) as conn:
                conn.sendall(("POST /api/v1/forms/feedback/submit HTTP/1.1\r\n"
                              "Host: x\r\nAccept: %s\r\nContent-Type: %s\r\n"
                              "Content-Length: %d\r\n\r\n"
                              % (accept, self.BROWSER["Content-Type"], 5 << 20)).encode())
                answer = b""
                while True:
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    answer += chunk
            head, _, body = answer.decode().partition("\r\n\r\n")
            self.assertTrue(head.startswith("HTTP/1.1 413 "), head)
            if page:
                self.assertIn("Content-Type: text/html", head)
                self.assertIn("<title>Not submitted</title>", body)
                self.assertIn("The request was not sent: the request body exceeds 4MiB (4194304 bytes)",
                              body)
                self.assertIn('<a href="/forms/feedback">Back to the form</a>', body)
            else:
                self.assertEqual(json.loads(body)["error"]["code"], "payload_too_large")

    def test_a_page_files_one_request_however_often_it_is_sent(self):
        # A browser cannot send Idempotency-Key: a double click or a resend after a reload
        # filed the request twice.
        status, _, page = request("GET", "/forms/feedback")
        self.assertEqual(status, 200)
        key = re.search(r'name="ferry\.submission" value="(\w+)"', page).group(1)
        form = urllib.parse.urlencode([("message", "once please"), ("ferry.submission", key)])
        ids = []
        for _ in range(2):
            status, _, body = request("POST", "/api/v1/forms/feedback/submit", form,
                                      headers=self.BROWSER)
            self.assertEqual(status, 202, body)
            ids.append(re.search(r"/api/v1/executions/(\w+)", body).group(1))
        self.assertEqual(ids[0], ids[1])
        # The same page sent again with other values (back, edit, submit): said plainly.
        form = urllib.parse.urlencode([("message", "changed"), ("ferry.submission", key)])
        status, _, body = request("POST", "/api/v1/forms/feedback/submit", form,
                                  headers=self.BROWSER)
        self.assertEqual(status, 422, body)
        self.assertIn("this page was submitted already, with other values", body)
        # So is a program posting the page's fields for JSON: it was told of an
        # Idempotency-Key it never sent ('form page 9f81...').
        status, _, body = request("POST", "/api/v1/forms/feedback/submit", form,
                                  headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual(status, 422, body)
        self.assertEqual(json.loads(body)["error"],
                         {"code": "idempotency_key_reused", "message":
                          "this page was submitted already, with other values; open the form "
                          "again to file another request"})
        # A new page, a new request: 128 random bits, not a ULID (those of one millisecond
        # count up: a key another requester could guess), and no cache keeps the page.
        status, headers, page = request("GET", "/forms/feedback")
        again = re.search(r'name="ferry\.submission" value="(\w+)"', page).group(1)
        self.assertNotEqual(again, key)
        self.assertRegex(key, r"^[0-9a-f]{32}$")
        self.assertEqual(headers["cache-control"], "no-store")

    def test_a_textarea_is_measured_as_the_page_measures_it(self):
        # The browser sends line breaks as CRLF but counts each as one: text its maxlength
        # allowed was refused, and the CRs reached the workflow.
        text = "\r\n".join(["abc"] * 9)  # 35 characters in the page, 43 sent
        status, _, body = request("POST", "/api/v1/forms/short-note/submit?wait=10s",
                                  urllib.parse.urlencode([("message", text)]),
                                  headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual(status, 200, body)
        self.assertEqual(json.loads(body)["outputs"]["message"], "\n".join(["abc"] * 9))

    def test_names_of_protected_forms_are_not_told_apart_from_unknown_ones(self):
        for path in ("/forms/nope", "/api/v1/forms/nope", "/forms/change-request"):
            with self.subTest(path=path):
                self.assertEqual(request("GET", path)[0], 401)
        # Nor by the words of the 401 (the submit of a protected form named its role).
        answers = {request("POST", "/api/v1/forms/%s/submit" % name, {})[2]
                   for name in ("nope", "change-request")}
        self.assertEqual(len(answers), 1, answers)
        self.assertEqual(request("GET", "/forms/nope", token=VIEWER)[0], 404)

    def test_a_requesters_idempotency_key_is_its_own(self):
        # A caller without a token could claim a key an operator's API start would use
        # (which then got 422), or learn another start's execution and outputs.
        key = {"Idempotency-Key": "change-%d" % time.time_ns()}
        status, _, body = request("POST", "/api/v1/forms/feedback/submit", {"message": "mine"},
                                  headers=key)
        self.assertEqual(status, 202, body)
        anonymous = json.loads(body)["id"]
        status, _, body = request("POST", "/api/v1/workflows/feedback/executions",
                                  {"inputs": {"message": "the operator's"}}, token=OPERATOR,
                                  headers=key)
        self.assertEqual(status, 202, body)
        self.assertNotEqual(json.loads(body)["id"], anonymous)
        # The requester's own repeat is still one execution.
        status, _, body = request("POST", "/api/v1/forms/feedback/submit", {"message": "mine"},
                                  headers=key)
        self.assertEqual((status, json.loads(body)["id"]), (202, anonymous), body)
        # Its key with other values names the key as it was sent, not the server's space.
        status, _, body = request("POST", "/api/v1/forms/feedback/submit", {"message": "edit"},
                                  headers=key)
        self.assertEqual(status, 422, body)
        self.assertEqual(json.loads(body)["error"]["message"],
                         "Idempotency-Key '%s' was used for a submission with other values; "
                         "use a new key for new values" % key["Idempotency-Key"])

    def test_a_key_claimed_before_the_upgrade_is_still_the_requesters(self):
        # A release before requesters' keys had their own space stored an anonymous form
        # submit's key as sent; after the upgrade its retry (the answer lost as the server
        # stopped for it) started a second execution: a second ticket. Such a claim is
        # honoured for an anonymous submit, but never one an operator's start made.
        def claim_as_an_old_release(key, execution_id, fingerprint):
            name = "idem:" + hashlib.sha256(("feedback\n" + key).encode()).hexdigest()
            r = subprocess.run(["mdb_load", "-T", "-s", "kv", str(SERVER["dir"] / ".ferry")],
                               input="%s\n%s %s\n" % (name, execution_id, fingerprint),
                               text=True, capture_output=True, timeout=30)
            self.assertEqual(r.returncode, 0, r.stderr)

        def fingerprint_of(execution_id, key):
            # The fingerprint the new-style claim holds: the same inputs give the same one.
            name = "idem:" + hashlib.sha256(("feedback\nform anonymous " + key)
                                            .encode()).hexdigest()
            dump = subprocess.run(["mdb_dump", "-p", "-s", "kv", str(SERVER["dir"] / ".ferry")],
                                  text=True, capture_output=True, timeout=30).stdout.splitlines()
            value = dump[dump.index(" " + name) + 1].strip()
            self.assertTrue(value.startswith(execution_id + " "), value)
            return value.split(" ", 1)[1]

        stamp = time.time_ns()
        body = {"message": "filed before the upgrade %d" % stamp}
        status, _, answer = request("POST", "/api/v1/forms/feedback/submit", body,
                                    headers={"Idempotency-Key": "probe-%d" % stamp})
        self.assertEqual(status, 202, answer)
        first = json.loads(answer)["id"]
        fp = fingerprint_of(first, "probe-%d" % stamp)
        claim_as_an_old_release("old-%d" % stamp, first, fp)
        status, _, answer = request("POST", "/api/v1/forms/feedback/submit", body,
                                    headers={"Idempotency-Key": "old-%d" % stamp})
        self.assertEqual((status, json.loads(answer)["id"]), (202, first), answer)
        self.assertTrue(json.loads(answer)["idempotent_replay"])
        # An operator's start under that key stays the operator's.
        status, _, answer = request("POST", "/api/v1/workflows/feedback/executions",
                                    {"inputs": body}, token=OPERATOR,
                                    headers={"Idempotency-Key": "op-%d" % stamp})
        self.assertEqual(status, 202, answer)
        operators = json.loads(answer)["id"]
        claim_as_an_old_release("op-old-%d" % stamp, operators, fp)
        status, _, answer = request("POST", "/api/v1/forms/feedback/submit", body,
                                    headers={"Idempotency-Key": "op-old-%d" % stamp})
        self.assertEqual(status, 202, answer)
        self.assertNotIn(json.loads(answer)["id"], (first, operators))

    def test_without_tokens_an_unknown_form_is_not_found(self):
        # No token could pass the sign-in a 401 asks for.
        server = own_server(self, "forms:\n  fb:\n    workflow: feedback\n    public: true\n"
                                 "    fields: [{name: message, type: text}]\n")
        try:
            status, _, _ = server.request("GET", "/forms/nope")
            self.assertEqual(status, 404)
            self.assertEqual(server.request("GET", "/forms/fb")[0], 200)
        finally:
            server.stop()

    def test_a_rate_limited_form_refuses_a_flood_with_retry_after(self):
        # A public form took every submission anyone sent (each one stored, each one a
        # ticket downstream); rate_limit caps it as an integration's requests are.
        server = own_server(self, "forms:\n  fb:\n    workflow: feedback\n    public: true\n"
                                 "    rate_limit: {per_second: 0.5, burst: 2}\n"
                                 "    fields: [{name: message, type: text, required: true}]\n"
                                 "  other:\n    workflow: feedback\n    public: true\n"
                                 "    fields: [{name: message, type: text}]\n")
        try:
            submit = lambda body, **kw: server.request("POST", "/api/v1/forms/fb/submit",
                                                       body, **kw)
            self.assertEqual(submit({"message": "one"})[0], 202)
            # An invalid submission takes its token too: a flood of them costs the same.
            self.assertEqual(submit({})[0], 422)
            status, headers, body = submit({"message": "three"})
            self.assertEqual(status, 429, body)
            self.assertIn(headers["retry-after"], ("1", "2"))
            error = json.loads(body)["error"]
            self.assertEqual(error["code"], "rate_limited")
            self.assertRegex(error["message"], r"^form 'fb' takes 0\.5 submissions a second "
                                               r"\(burst 2\); try again in [12] seconds?$")
            # A browser reads it on a page, as any refusal before the form is read.
            status, headers, page = submit("message=four", headers={
                "Content-Type": "application/x-www-form-urlencoded", "Accept": "text/html"})
            self.assertEqual(status, 429)
            self.assertTrue(headers["content-type"].startswith("text/html"), headers)
            self.assertIn("The request was not sent: form &#39;fb&#39; takes 0.5 submissions",
                          page.decode())
            # Other forms have their own limit (none here).
            for _ in range(3):
                self.assertEqual(server.request("POST", "/api/v1/forms/other/submit",
                                                {"message": "x"})[0], 202)
            time.sleep(int(headers["retry-after"]) + 0.2)
            self.assertEqual(submit({"message": "later"})[0], 202)
        finally:
            server.stop()

    def test_a_client_rate_limit_holds_one_sender_not_the_others(self):
        # rate_limit is the form's: one sender flooding it took every submission the form
        # allowed from everyone else. client_rate_limit is a bucket per client; behind the
        # trusted proxy (here the test itself, on 127.0.0.1) X-Forwarded-For names it.
        server = own_server(self, tokens_yaml() + "server: {trusted_proxies: [127.0.0.1]}\n"
                                  "forms:\n  fb:\n    workflow: feedback\n    public: true\n"
                                  "    client_rate_limit: {per_second: 0.5, burst: 2}\n"
                                  "    fields: [{name: message, type: text}]\n")
        try:
            def submit(client):
                return server.request("POST", "/api/v1/forms/fb/submit", {"message": "m"},
                                      headers={"X-Forwarded-For": client})
            self.assertEqual([submit("203.0.113.5")[0] for _ in range(2)], [202, 202])
            status, headers, body = submit("203.0.113.5")
            self.assertEqual(status, 429, body)
            self.assertIn(headers["retry-after"], ("1", "2"))
            self.assertRegex(json.loads(body)["error"]["message"],
                             r"^form 'fb' takes 0\.5 submissions a second from each client "
                             r"\(burst 2\); try again in [12] seconds?$")
            # What a client writes before the address the proxy appends changes nothing.
            self.assertEqual(submit("198.51.100.1, 203.0.113.5")[0], 429)
            # Another client has its own bucket, and a refused one took nothing from it.
            self.assertEqual([submit("203.0.113.6")[0] for _ in range(2)], [202, 202])
            self.assertEqual(submit("2001:db8::9")[0], 202)
            status, _, metrics = server.request("GET", "/metrics", role="viewer")
            self.assertIn('\nferry_rate_limited_total{kind="form",name="fb"} 2\n',
                          metrics.decode())
            time.sleep(int(headers["retry-after"]) + 0.2)
            self.assertEqual(submit("203.0.113.5")[0], 202)
            server.stop()
            lines = [json.loads(l) for l in open(server.log.name, encoding="utf-8")
                     if '"log":"server"' in l and "client_rate_limit" in l]
            # Once an episode, however many calls it refused.
            self.assertEqual([(l["level"], l["message"], l["client"]) for l in lines], [
                ("warn", "form 'fb': client 203.0.113.5 is over its client_rate_limit: its "
                         "calls are answered 429 until its bucket refills", "203.0.113.5")])
        finally:
            server.stop()

    def test_without_trusted_proxies_the_header_names_no_client(self):
        # Any caller could write X-Forwarded-For: without a proxy named in ferry.yaml, the
        # address the connection comes from is the client, whatever the header says.
        server = own_server(self, "forms:\n  fb:\n    workflow: feedback\n    public: true\n"
                                  "    client_rate_limit: {per_second: 0.01, burst: 1}\n"
                                  "    fields: [{name: message, type: text}]\n")
        try:
            statuses = [server.request("POST", "/api/v1/forms/fb/submit", {"message": "m"},
                                       headers={"X-Forwarded-For": "203.0.113.%d" % i})[0]
                        for i in range(3)]
            self.assertEqual(statuses, [202, 429, 429])
        finally:
            server.stop()

    def test_the_page_says_utc_and_the_history_says_who_submitted(self):
        status, _, page = request("GET", "/forms/change-request", token=VIEWER)
        self.assertIn("Change window (UTC)", page)
        status, _, body = request("POST", "/api/v1/forms/change-request/submit",
                                  {"device": "sw-1", "window": "2026-03-01T22:00"},
                                  token=OPERATOR)
        self.assertEqual(status, 202, body)
        doc = wait_execution(json.loads(body)["id"])
        self.assertEqual(doc["trigger_info"], {"form": "change-request", "token": "portal",
                                               "request_id": doc["trigger_info"]["request_id"]})

    def test_the_result_page_says_what_became_of_the_request(self):
        status, _, body = request("POST", "/api/v1/forms/review/submit?wait=10s",
                                  "accept=true&level=aa", headers=self.BROWSER)
        self.assertEqual(status, 200, body)
        self.assertIn("Your request was submitted and carried out.", body)
        self.assertIn("<dt>got</dt>", body)
        status, _, body = request("POST", "/api/v1/forms/broken-form/submit?wait=10s",
                                  "why=x", headers=self.BROWSER)
        self.assertEqual(status, 200, body)
        self.assertIn("could not be carried out", body)
        self.assertNotIn("on purpose", body)  # the error is the operators'


    def test_a_request_waiting_for_an_approval_is_said_at_once(self):
        # The page waits for the outcome; an approval takes a person, longer than any wait:
        # the requester read the answer only when the page's wait ran out (behind a proxy's
        # 60 s read timeout, a 504 for a request that was filed).
        status, _, page = request("GET", "/forms/gated-form")
        action = re.search(r'<form method="post" action="([^"]+)"', page).group(1)
        self.assertEqual(action, "/api/v1/forms/gated-form/submit?wait=1m")
        key = re.search(r'name="ferry\.submission" value="(\w+)"', page).group(1)
        form = urllib.parse.urlencode([("ferry.submission", key)])
        for _ in range(2):  # and so is its reload
            started = time.monotonic()
            status, _, body = request("POST", action, form, headers=self.BROWSER)
            self.assertLess(time.monotonic() - started, 20)
            self.assertEqual(status, 202, body)
            self.assertIn("Your request was submitted and waits for an approval.", body)

    def test_the_page_itself_brings_the_outcome_and_its_outputs(self):
        # The page posted without ?wait, so a browser only ever read "being carried out":
        # no outcome, no outputs (the change's number), and no way to learn them later.
        status, _, page = request("GET", "/forms/review")
        self.assertEqual(status, 200)
        action = re.search(r'<form method="post" action="([^"]+)"', page).group(1)
        self.assertEqual(action, "/api/v1/forms/review/submit?wait=10s")
        key = re.search(r'name="ferry\.submission" value="(\w+)"', page).group(1)
        form = urllib.parse.urlencode([("accept", "true"), ("level", "aa"),
                                       ("ferry.submission", key)])
        for _ in range(2):  # the reload re-sends the page: the same outcome, read again
            status, _, body = request("POST", html_unescape(action), form, headers=self.BROWSER)
            self.assertEqual(status, 200, body)
            self.assertIn("<title>Submitted: Review</title>", body)
            self.assertIn("Your request was submitted and carried out.", body)
            self.assertIn("<dt>got</dt>", body)


class FormFields(unittest.TestCase):
    URLENCODED = {"Content-Type": "application/x-www-form-urlencoded"}
    BROWSER = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "text/html"}

    def submit(self, body, headers=None, timeout=30):
        status, _, text = request("POST", "/api/v1/forms/review/submit?wait=10s", body,
                                  headers=headers, timeout=timeout)
        return status, text

    def outputs(self, body, headers=None):
        status, text = self.submit(body, headers)
        self.assertEqual(status, 200, text)
        return json.loads(text)["outputs"]["got"]

    def field_errors(self, body, headers=None, timeout=30):
        status, text = self.submit(body, headers, timeout)
        self.assertEqual(status, 422, text)
        return json.loads(text)["error"]["fields"]

    def test_a_pattern_counts_characters_not_bytes(self):
        # "^[^ä]{1,6}$": as bytes, "Zürich" is 7 long and its ü shares a first byte with ä.
        self.assertEqual(self.outputs({"city": "Zürich", "accept": True})["city"], "Zürich")
        self.assertIn("does not match", self.field_errors({"city": "Bäle", "accept": True})["city"])
        self.assertIn("does not match",
                      self.field_errors({"city": "Zürichs", "accept": True})["city"])

    def test_a_pattern_too_costly_for_a_value_refuses_it_and_the_server_goes_on(self):
        # Nested counted repetitions try many ways through 16 KB of letters: the check held
        # the loop for 10 s before a submission's checks shared a budget of steps.
        # The whole budget: about 0.45 s of a core in a release build, over 30 s in a Debug
        # build under AddressSanitizer.
        errors = self.field_errors({"accept": True, "summary": "a" * 16000 + "!"}, timeout=300)
        self.assertTrue(errors["summary"].startswith("could not be matched against the pattern "),
                        errors["summary"])
        self.assertIn(" within the cost allowed (", errors["summary"])
        self.assertEqual(request("GET", "/healthz")[0], 200)
        text = "Two short lines, one rule.\nThe second one."
        self.assertEqual(self.outputs({"accept": True, "summary": text})["summary"], text)
        self.assertIn("does not match", self.field_errors({"accept": True, "summary": "no!"})["summary"])

    def test_a_required_checkbox_must_be_checked(self):
        self.assertEqual(self.field_errors({})["accept"], "is required")
        self.assertEqual(self.field_errors({"accept": False})["accept"], "must be checked")
        self.assertEqual(self.field_errors("city=x", self.URLENCODED)["accept"], "must be checked")
        self.assertTrue(self.outputs("accept=true", self.URLENCODED)["accept"])
        status, _, page = request("GET", "/forms/review")
        self.assertEqual(status, 200)
        self.assertRegex(page, r'<input type="checkbox" id="f-accept" name="accept" required '
                               r'aria-required="true" value="true"> I accept <span')
        _, _, schema = request("GET", "/api/v1/forms/review")
        self.assertIs(json.loads(schema)["properties"]["accept"]["const"], True)

    def test_an_empty_multi_choice_is_an_answer_not_a_missing_value(self):
        self.assertEqual(self.outputs({"accept": True, "teams": []})["teams"], [])
        self.assertEqual(self.outputs({"accept": True})["teams"], ["net", "sec"])
        # The page's empty marker: nothing selected in the browser is "none of them".
        self.assertEqual(self.outputs("accept=true&teams=", self.URLENCODED)["teams"], [])
        self.assertEqual(self.outputs("accept=true&teams=&teams=sec",
                                      self.URLENCODED)["teams"], ["sec"])
        self.assertEqual(self.outputs("accept=true", self.URLENCODED)["teams"], ["net", "sec"])
        _, _, page = request("GET", "/forms/review")
        self.assertIn('<input type="hidden" name="teams" value="">', page)

    def test_controls_show_what_a_browser_can_use(self):
        _, headers, page = request("GET", "/forms/review")
        self.assertIn('step="1" min="2" max="9"', page)  # whole numbers only
        self.assertIn('min="0.1" value="0.1"', page)  # not 0.10000000000000001
        # datetime-local takes no offset; Ferry reads a datetime without one as UTC.
        self.assertIn('type="datetime-local" id="f-at" name="at" value="2026-03-01T09:00:00"', page)
        self.assertIn("frame-ancestors 'none'", headers["content-security-policy"])
        self.assertEqual(headers["x-frame-options"], "DENY")

    def test_the_workflows_own_rules_send_the_browser_back_to_the_form(self):
        # level's enum is the workflow's, not the form's: its problem comes when the
        # execution starts, and still lands beside the field, in the form as filled in.
        status, headers, page = request("POST", "/api/v1/forms/review/submit",
                                        "accept=true&city=Oslo&level=zz", headers=self.BROWSER)
        self.assertEqual(status, 422, page)
        self.assertIn('<form method="post"', page)
        self.assertRegex(page, r'id="error-level">must be one of')
        self.assertIn('<a href="#f-level">Level</a>', page)
        self.assertIn('value="Oslo"', page)
        self.assertEqual(headers["x-frame-options"], "DENY")
        # An API client still gets the JSON answer.
        status, text = self.submit({"accept": True, "level": "zz"})
        self.assertEqual((status, json.loads(text)["error"]["code"]), (422, "invalid_inputs"))

    def test_one_idempotency_key_one_execution_through_any_door(self):
        # Doors of a caller with a token (a requester without one has keys of its own).
        h = {"Idempotency-Key": "door-key-1"}
        s1, _, b1 = request("POST", "/api/v1/forms/feedback/submit", {"message": "hi"}, headers=h,
                            token=OPERATOR)
        s2, _, b2 = request("POST", "/api/v1/workflows/feedback/executions",
                            {"inputs": {"message": "hi"}}, headers=h, token=OPERATOR)
        self.assertEqual((s1, s2), (202, 202), b1 + b2)
        self.assertEqual(json.loads(b1)["id"], json.loads(b2)["id"])
        self.assertTrue(json.loads(b2).get("idempotent_replay"))

    def test_a_key_that_is_not_utf8_is_refused(self):
        conn = http.client.HTTPConnection(SERVER["base"][len("http://"):], timeout=10)
        try:
            conn.putrequest("POST", "/api/v1/forms/feedback/submit")
            conn.putheader("Content-Type", "application/json")
            conn.putheader("Idempotency-Key", b"k-\xff\xfe")
            body = b'{"message": "x"}'
            conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body)
            r = conn.getresponse()
            answer = r.read()
        finally:
            conn.close()
        self.assertEqual(r.status, 400)
        self.assertIn("Idempotency-Key is not valid UTF-8", json.loads(answer)["error"]["message"])


class Hooks(unittest.TestCase):
    def test_a_rate_limited_hook_refuses_a_storm_with_retry_after(self):
        # An alert storm through a hook became a ticket per alert; rate_limit caps the
        # deliveries that start anything, and a sender's retries come back later.
        server = own_server(self, tokens_yaml() + "hooks:\n  alert:\n    verify: none\n"
                                  "    rate_limit: {per_second: 1, burst: 2}\n"
                                  "    action: {start: feedback}\n")
        try:
            deliver = lambda: server.request("POST", "/hooks/alert", {"message": "down"})
            self.assertEqual([deliver()[0] for _ in range(2)], [202, 202])
            status, headers, body = deliver()
            self.assertEqual(status, 429, body)
            self.assertEqual(headers["retry-after"], "1")
            self.assertEqual(json.loads(body)["error"], {
                "code": "rate_limited",
                "message": "hook 'alert' takes 1 delivery a second (burst 2); "
                           "try again in 1 second"})
            # Operators see which hook sheds load, and how much.
            status, _, metrics = server.request("GET", "/metrics", role="viewer")
            self.assertEqual(status, 200)
            self.assertIn('\nferry_rate_limited_total{kind="hook",name="alert"} 1\n',
                          metrics.decode())
            time.sleep(1.2)
            self.assertEqual(deliver()[0], 202)
            # The server's log says when the storm began and what it shed: two lines, not
            # one per refused call.
            server.stop()
            lines = [json.loads(l) for l in open(server.log.name, encoding="utf-8")
                     if '"log":"server"' in l and "rate_limit" in l]
            self.assertEqual([(l["level"], l["message"], l["hook"]) for l in lines], [
                ("warn", "hook 'alert' is over its rate_limit: calls are answered 429 until it "
                         "refills", "alert"),
                ("info", "hook 'alert' is within its rate_limit again (1 refused)", "alert")])
            self.assertEqual(lines[1]["refused"], 1)
        finally:
            server.stop()

    def test_a_hook_client_rate_limit_holds_each_sender_apart(self):
        server = own_server(self, "server: {trusted_proxies: [127.0.0.1]}\n"
                                  "hooks:\n  alert:\n    verify: none\n"
                                  "    client_rate_limit: {per_second: 0.01, burst: 1}\n"
                                  "    action: {start: feedback}\n")
        try:
            deliver = lambda sender: server.request("POST", "/hooks/alert", {"message": "down"},
                                                    headers={"X-Forwarded-For": sender})[:3:2]
            self.assertEqual(deliver("192.0.2.1")[0], 202)
            status, body = deliver("192.0.2.1")
            self.assertEqual((status, json.loads(body)["error"]["message"]), (429, (
                "hook 'alert' takes 0.01 deliveries a second from each client (burst 1); "
                "try again in 100 seconds")))
            self.assertEqual(deliver("192.0.2.2")[0], 202)
        finally:
            server.stop()

    def test_standard_webhooks_valid(self):
        body = json.dumps({"type": "incident.created", "data": {"n": 1}}).encode()
        status, _, text = request("POST", "/hooks/sn", body,
                                  headers=sw_headers(body, "msg_valid_1"))
        self.assertEqual(status, 202, text)
        doc = wait_execution(json.loads(text)["id"])
        self.assertEqual(doc["status"], "succeeded", doc)
        self.assertEqual(doc["inputs"]["event"]["type"], "incident.created")
        self.assertEqual(doc.get("trigger"), "hook")
        # Which hook and which message started it, for when the logs have rotated.
        self.assertEqual((doc["trigger_info"]["hook"], doc["trigger_info"]["webhook_id"]),
                         ("sn", "msg_valid_1"))

    def test_standard_webhooks_wrong_stale_replayed(self):
        body = b'{"type": "x"}'
        h = sw_headers(body, "msg_wrong", secret="whsec_" + base64.b64encode(b"k" * 24).decode())
        status, _, text = request("POST", "/hooks/sn", body, headers=h)
        self.assertEqual(status, 401)
        self.assertEqual(json.loads(text)["error"]["code"], "bad_signature")
        h = sw_headers(body, "msg_stale", ts=int(time.time()) - 3600)
        status, _, text = request("POST", "/hooks/sn", body, headers=h)
        self.assertEqual(status, 401)
        self.assertEqual(json.loads(text)["error"]["code"], "stale_timestamp")
        h = sw_headers(body, "msg_replay")
        status, _, text = request("POST", "/hooks/sn", body, headers=h)
        self.assertEqual(status, 202, text)
        first = json.loads(text)["id"]
        # Sent again (the sender saw no answer): the same execution, not a 409 the sender
        # reads as a failed delivery, and nothing starts twice.
        status, _, text = request("POST", "/hooks/sn", body, headers=h)
        self.assertEqual(status, 202, text)
        again = json.loads(text)
        self.assertEqual((again["id"], again["idempotent_replay"]), (first, True))
        # Even under ?wait=, only the id: a replay of a captured delivery passes the
        # signature checks too, and must not read the execution's record.
        wait_execution(first)
        status, _, text = request("POST", "/hooks/sn?wait=5s", body, headers=h)
        self.assertEqual(status, 202, text)
        self.assertEqual(set(json.loads(text)), {"id", "status", "dry_run", "idempotent_replay"})
        status, _, text = request("POST", "/hooks/sn", body)
        self.assertEqual(status, 401)
        self.assertEqual(json.loads(text)["error"]["code"], "missing_signature")

    def test_a_signature_header_given_twice_is_refused(self):
        # Which one counts is for each reader to guess (a proxy in front may have checked
        # the other): the first was used for the signature and the replay id alike.
        def post(path, body, pairs):
            conn = http.client.HTTPConnection(SERVER["base"].split("//")[1], timeout=10)
            try:
                conn.putrequest("POST", path)
                for name, value in pairs + [("Content-Length", str(len(body)))]:
                    conn.putheader(name, value)
                conn.endheaders(body)
                r = conn.getresponse()
                return r.status, json.loads(r.read())
            finally:
                conn.close()
        body = b'{"type": "twice"}'
        good = sw_headers(body, "msg_twice_%d" % time.time_ns())
        for name in ("webhook-id", "webhook-timestamp", "webhook-signature"):
            pairs = list(good.items()) + [(name, good[name])]
            status, doc = post("/hooks/sn", body, pairs)
            self.assertEqual((status, doc["error"]["message"]),
                             (400, "the request has more than one %s header" % name))
        sig = "sha256=" + hmac.new(GH_SECRET.encode(), body, hashlib.sha256).hexdigest()
        status, doc = post("/hooks/gh", body, [("X-Hub-Signature-256", sig)] * 2)
        self.assertEqual((status, doc["error"]["message"]),
                         (400, "the request has more than one X-Hub-Signature-256 header"))
        # Once each, the same delivery is taken.
        self.assertEqual(post("/hooks/sn", body, list(good.items()))[0], 202)

    def test_a_replay_stays_refused_as_long_as_its_timestamp_passes(self):
        # Stamped at the far edge of a 1 s tolerance just after a second began, the
        # delivery's timestamp still passes 2.3 s later (whole seconds): its id must too.
        while time.time() % 1 > 0.1:
            time.sleep(0.02)
        body = b'{"type": "edge"}'
        h = sw_headers(body, "msg_edge_%d" % time.time_ns(), ts=int(time.time()) + 1)
        self.assertEqual(request("POST", "/hooks/sn-short", body, headers=h)[0], 202)
        time.sleep(2.3)
        status, _, text = request("POST", "/hooks/sn-short", body, headers=h)
        self.assertEqual(status, 202, text)
        self.assertTrue(json.loads(text)["idempotent_replay"], text)

    def test_an_absurd_timestamp_is_stale_not_an_overflow(self):
        body = b'{"type": "x"}'
        for ts in (-(2 ** 63) + int(time.time()), -(2 ** 63), 2 ** 63 - 1):
            status, _, text = request("POST", "/hooks/sn", body,
                                      headers=sw_headers(body, "msg_abs_%d" % ts, ts=ts))
            self.assertEqual((status, json.loads(text)["error"]["code"]),
                             (401, "stale_timestamp"), ts)

    def test_basic_credentials_on_a_hook_are_ignored(self):
        # A sender configured with Basic auth (a ServiceNow REST message): the signature
        # (here: none) decides, not the Authorization header.
        auth = {"Authorization": "Basic " + base64.b64encode(b"svc:pw").decode()}
        status, _, text = request("POST", "/hooks/open", {"ref": "main"}, headers=auth)
        self.assertEqual(status, 202, text)
        body = b'{"type": "x"}'
        h = dict(sw_headers(body, "msg_basic_%d" % time.time_ns()), **auth)
        self.assertEqual(request("POST", "/hooks/sn", body, headers=h)[0], 202)

    def test_a_webhook_id_that_is_not_utf8_is_refused(self):
        body = b'{"type": "x"}'
        h = sw_headers(body, "id-\xff")  # latin-1 on the wire: byte FF
        status, _, text = request("POST", "/hooks/sn", body, headers=h)
        self.assertEqual(status, 400, text)
        self.assertIn("webhook-id is not valid UTF-8", json.loads(text)["error"]["message"])

    def test_a_secret_that_cannot_be_resolved_is_not_described_to_the_caller(self):
        status, _, text = request("POST", "/hooks/unset", {"x": 1},
                                  headers={"X-Hub-Signature-256": "sha256=00"})
        self.assertEqual(status, 500, text)
        error = json.loads(text)["error"]
        self.assertEqual(error["code"], "secret_unavailable")
        self.assertNotIn("FORMS_TEST_NEVER_SET_SECRET", text)  # the server's log has it
        # Said at start too: the operator learnt of it only from the sender's 5xx.
        warned = hook_warnings("unset")
        self.assertEqual(len(warned), 1, server_log()[:8])
        self.assertIn("FORMS_TEST_NEVER_SET_SECRET", warned[0])
        self.assertIn("every delivery is answered 500 secret_unavailable", warned[0])

    def test_a_rotation_whose_old_secret_is_gone_verifies_with_the_new(self):
        # One unresolvable secret of `secrets: [old, new]` refused every delivery with 500,
        # though the new one, which signs them, was there.
        body = b'{"type": "x"}'
        status, _, text = request("POST", "/hooks/rotating", body,
                                  headers=sw_headers(body, "msg_rot_%d" % time.time_ns()))
        self.assertEqual(status, 202, text)
        status, _, text = request("POST", "/hooks/rotating", body,
                                  headers=sw_headers(body, "msg_rot_bad", secret="whsec_" +
                                                     base64.b64encode(b"other").decode()))
        self.assertEqual(status, 401, text)
        warned = hook_warnings("rotating")
        self.assertEqual(len(warned), 1, server_log()[:8])
        self.assertIn("deliveries are verified with its other secrets meanwhile", warned[0])

    def test_a_repeat_whose_execution_was_pruned_is_refused_not_made_up(self):
        # Answered 202 "pending" with the id of an execution no one could read any more.
        body = b'{"type": "x"}'
        h = sw_headers(body, "msg_pruned_%d" % time.time_ns())
        status, _, text = request("POST", "/hooks/pulse", body, headers=h)
        self.assertEqual(status, 202, text)
        first = json.loads(text)["id"]
        wait_execution(first)
        p = subprocess.run([FERRY, "executions", "prune", "--before", "0s", "--workflow", "pulse",
                            "--project", str(SERVER["dir"]), "--data",
                            str(SERVER["dir"] / ".ferry")],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        status, _, text = request("POST", "/hooks/pulse", body, headers=h)
        self.assertEqual(status, 409, text)
        self.assertEqual(json.loads(text)["error"]["message"],
                         "webhook-id '%s' was already delivered; its execution %s has been "
                         "pruned since" % (h["webhook-id"], first))

    def test_a_malformed_secret_is_told_to_the_operator(self):
        # A 500 only the sender saw: no line at start, none per delivery.
        body = b'{"type": "x"}'
        status, _, text = request("POST", "/hooks/malformed", body,
                                  headers=sw_headers(body, "msg_mal_%d" % time.time_ns()))
        self.assertEqual((status, json.loads(text)["error"]["code"]), (500, "bad_secret"), text)
        for _ in range(40):  # bounded: 2 s for the log line to be written
            lines = server_log()
            about = [(l["level"], l["message"]) for l in lines
                     if "'malformed'" in l.get("message", "") or l.get("hook") == "malformed"]
            if len(about) > 1:
                break
            time.sleep(0.05)
        self.assertIn(("warn", "hook 'malformed': ${env:FORMS_TEST_MALFORMED_SECRET} is not a "
                       "Standard Webhooks secret (whsec_ and base64); every delivery is "
                       "answered 500 bad_secret until it is"), about)
        self.assertIn("error", [level for level, _ in about])
        self.assertNotIn("not*base64", json.dumps(lines))

    def test_hmac_sha256(self):
        body = json.dumps({"ref": "main"}).encode()
        sig = hmac.new(GH_SECRET.encode(), body, hashlib.sha256).hexdigest()
        for value in (sig, "sha256=" + sig):
            status, _, text = request("POST", "/hooks/gh", body,
                                      headers={"X-Hub-Signature-256": value})
            self.assertEqual(status, 202, text)
        status, _, text = request("POST", "/hooks/gh", body,
                                  headers={"X-Hub-Signature-256": "sha256=" + "0" * 64})
        self.assertEqual(status, 401)
        self.assertEqual(json.loads(text)["error"]["code"], "bad_signature")

    def test_hmac_sha256_with_a_replay_window_refuses_a_replay(self):
        body = json.dumps({"ref": "replay-%d" % time.time_ns()}).encode()
        sig = hmac.new(GH_SECRET.encode(), body, hashlib.sha256).hexdigest()
        status, _, text = request("POST", "/hooks/gh-once", body,
                                  headers={"X-Hub-Signature-256": "sha256=" + sig})
        # After the answer: the server stamped the delivery before it, so 2.2 s from here is
        # past its 2 s window however long the request took to be read.
        first = time.monotonic()
        self.assertEqual(status, 202, text)
        # The same delivery again, in either header form: refused, the signature not echoed.
        status, _, text = request("POST", "/hooks/gh-once", body,
                                  headers={"X-Hub-Signature-256": sig})
        self.assertEqual(status, 409, text)
        self.assertEqual(json.loads(text)["error"]["code"], "replayed")
        self.assertNotIn(sig, text)
        # Another body is another delivery.
        other = json.dumps({"ref": "other-%d" % time.time_ns()}).encode()
        other_sig = hmac.new(GH_SECRET.encode(), other, hashlib.sha256).hexdigest()
        self.assertEqual(request("POST", "/hooks/gh-once", other,
                                 headers={"X-Hub-Signature-256": other_sig})[0], 202)
        # Past the window the same body is a new delivery.
        time.sleep(max(0.0, 2.2 - (time.monotonic() - first)))
        status, _, text = request("POST", "/hooks/gh-once", body,
                                  headers={"X-Hub-Signature-256": sig})
        self.assertEqual(status, 202, text)

    def test_wait_answers_with_the_execution(self):
        body = json.dumps({"type": "sync"}).encode()
        status, _, text = request("POST", "/hooks/sn?wait=10s", body,
                                  headers=sw_headers(body, "msg_wait"))
        self.assertEqual(status, 200, text)
        doc = json.loads(text)
        self.assertEqual(doc["status"], "succeeded")
        self.assertEqual(doc["outputs"]["type"], "sync")
        self.assertIn("steps", doc)  # the sender holds the secret
        # Anyone may send to an unverified hook: they learn the outcome, not the execution
        # (its steps' inputs and the vendors' answers are the viewer role's).
        status, _, text = request("POST", "/hooks/open?wait=10s", {"ref": "v1"})
        self.assertEqual(status, 200, text)
        doc = json.loads(text)
        self.assertEqual(doc["outputs"]["ref"], "v1")
        self.assertEqual(set(doc), {"id", "status", "dry_run", "outputs"}, doc)

    def test_a_callback_decides_a_waiting_approval(self):
        status, _, text = request("POST", "/api/v1/workflows/gated/executions", {"inputs": {}},
                                  token=OPERATOR)
        self.assertEqual(status, 202, text)
        exec_id = json.loads(text)["id"]
        doc = wait_waiting(exec_id)
        self.assertEqual(doc["status"], "waiting")
        status, _, text = request("POST", "/hooks/approvals",
                                  {"execution_id": exec_id, "step": "approve",
                                   "decision": "approved", "by": 5})
        self.assertEqual(status, 422, text)
        self.assertEqual(json.loads(text)["error"]["message"], "'by' must be a string")
        # A bad ?wait= is refused as on a start hook (it decided the step regardless).
        status, _, text = request("POST", "/hooks/approvals?wait=abc",
                                  {"execution_id": exec_id, "step": "approve",
                                   "decision": "approved"})
        self.assertEqual(status, 400, text)
        self.assertIn("wait: expected a duration", text)
        # A misspelt key is refused, not dropped (the decision went in without its comment).
        status, _, text = request("POST", "/hooks/approvals",
                                  {"execution_id": exec_id, "step": "approve",
                                   "decision": "approved", "comentt": "CHG0000024 approved"})
        self.assertEqual(status, 422, text)
        self.assertEqual(json.loads(text)["error"],
                         {"code": "invalid_payload", "message":
                          "unknown field 'comentt' in an approval callback: it takes "
                          "execution_id, step, decision, comment and by (did you mean "
                          "'comment'?)"})
        self.assertEqual(wait_waiting(exec_id)["status"], "waiting")
        status, _, text = request("POST", "/hooks/approvals",
                                  {"execution_id": exec_id, "step": "approve",
                                   "decision": "approved", "comment": "CHG0000024 approved"})
        self.assertEqual(status, 200, text)
        # Its comment in the answer, as the API's decisions give it.
        self.assertEqual(json.loads(text)["comment"], "CHG0000024 approved")
        doc = wait_execution(exec_id)
        out = doc["steps"]["approve"]["output"]
        self.assertEqual((doc["status"], out["decision"], out["by"], out["comment"]),
                         ("succeeded", "approved", "hook:approvals", "CHG0000024 approved"))
        status, _, _ = request("POST", "/hooks/approvals",
                               {"execution_id": exec_id, "step": "approve", "decision": "rejected"})
        self.assertEqual(status, 409)  # decided already, as the approve endpoint answers
        status, _, text = request("POST", "/hooks/approvals",
                                  {"execution_id": "01ZZZZZZZZZZZZZZZZZZZZZZZZ", "step": "approve",
                                   "decision": "rejected"})
        self.assertEqual(status, 404)
        self.assertEqual(json.loads(text)["error"]["message"],
                         "no execution '01ZZZZZZZZZZZZZZZZZZZZZZZZ'")

    def test_a_callback_by_someone_not_among_the_approvers_is_forbidden(self):
        status, _, text = request("POST", "/api/v1/workflows/cab-gated/executions",
                                  {"inputs": {}}, token=OPERATOR)
        self.assertEqual(status, 202, text)
        exec_id = json.loads(text)["id"]
        doc = wait_waiting(exec_id)
        decision = {"execution_id": exec_id, "step": "approve", "decision": "approved"}
        status, _, text = request("POST", "/hooks/approvals", dict(decision, by="intern"))
        self.assertEqual(status, 403, text)
        self.assertEqual(json.loads(text)["error"]["code"], "forbidden")
        status, _, text = request("POST", "/hooks/approvals", dict(decision, step="nope"))
        self.assertEqual(status, 404, text)
        # A hook scoped to other workflows may not decide this one's, and one scoped to it may.
        gated = json.loads(request("POST", "/api/v1/workflows/gated/executions", {"inputs": {}},
                                   token=OPERATOR)[2])["id"]
        doc = wait_waiting(gated)
        status, _, text = request("POST", "/hooks/cab-approvals",
                                  {"execution_id": gated, "step": "approve",
                                   "decision": "approved"})
        self.assertEqual(status, 403, text)
        self.assertIn("may not decide approvals of workflow 'gated'", text)
        status, _, text = request("POST", "/hooks/cab-approvals", dict(decision, by="cab"))
        self.assertEqual(status, 200, text)
        # The approver it names, and the hook it came through: the audit tells the two
        # apart from cab's own decision on the API (which has no "via").
        out = wait_execution(exec_id)["steps"]["approve"]["output"]
        self.assertEqual((out["by"], out["via"]), ("cab", "hook:cab-approvals"))

    def test_errors(self):
        self.assertEqual(request("POST", "/hooks/nope", {})[0], 404)
        status, _, text = request("POST", "/hooks/approvals", {})
        self.assertEqual(status, 422)
        self.assertIn("execution_id, step and decision", text)
        status, _, text = request("POST", "/hooks/open", [1, 2])
        self.assertEqual(status, 422)
        self.assertEqual(request("POST", "/hooks/open", "{not json")[0], 400)


class Validate(unittest.TestCase):
    # A project with one workflow (deploy, input ref required) and the ferry.yaml under test.
    def setUp(self):
        self.dir = Path(tempfile.mkdtemp(prefix="ferry-forms-validate-"))
        (self.dir / "workflows").mkdir()
        (self.dir / "workflows" / "deploy.yaml").write_text(WORKFLOWS["deploy"])

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def validate(self, ferry_yaml):
        (self.dir / "ferry.yaml").write_text(ferry_yaml)
        p = subprocess.run([FERRY, "validate", "--project", str(self.dir), "--data",
                            str(self.dir / ".ferry")], capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
        return p.stdout

    def test_validate_reports_form_and_hook_mistakes_at_their_place(self):
        out = self.validate(
            "forms:\n"
            "  f:\n"
            "    workflow: missing-wf\n"
            "    fields:\n"
            "      - {name: a, type: strng}\n"
            "hooks:\n"
            "  h:\n"
            "    verify: none\n"
            "    action: {start: also-missing}\n"
            "  ok:\n"
            "    verify: none\n"
            "    action: {start: deploy}\n"
            "  decider:\n"
            "    verify: none\n"
            "    action: {resume: approval, workflows: [deploy, gone-wf]}\n")
        self.assertIn("ferry.yaml:3:15: form 'f': no workflow 'missing-wf'", out)
        self.assertIn("hook 'decider' action.workflows: no workflow 'gone-wf'", out)
        self.assertIn("ferry.yaml:5:25: unknown field type 'strng'", out)
        self.assertIn("ferry.yaml:9:21: hook 'h': no workflow 'also-missing'", out)
        self.assertNotIn("'deploy'", out)

    def test_forms_and_schedules_their_workflow_cannot_take(self):
        # Each would fail every submission (422) or every run: validate fails, serve warns.
        out = self.validate(
            "forms:\n"
            "  f:\n"
            "    workflow: deploy\n"
            "    fields:\n"
            "      - {name: reff, type: string}\n"
            "schedules:\n"
            "  - {name: nightly, workflow: deploy, every: 1h, inputs: {ref: 7, reff: x}}\n")
        self.assertIn("ferry.yaml:5:9: form 'f' field 'reff': workflow 'deploy' has no "
                      "input 'reff' (its inputs: ref)", out)
        self.assertIn("form 'f': workflow 'deploy' requires input 'ref', and no field of "
                      "the form gives it", out)
        # One problem a line, each at the input it names (the second came without a place,
        # then both at the schedule's).
        said = sorted(l for l in out.splitlines() if "schedule 'nightly'" in l)
        self.assertEqual(len(said), 2, out)
        self.assertRegex(said[0], r"ferry\.yaml:7:59: schedule 'nightly': inputs for workflow "
                                  r"'deploy': input 'ref': expected a string, got 7")
        self.assertRegex(said[1], r"ferry\.yaml:7:67: schedule 'nightly': inputs for workflow "
                                  r"'deploy': input 'reff': no such input")
        serve = subprocess.Popen(
            [FERRY, "serve", "--listen", "127.0.0.1:0", "--project",
             str(self.dir), "--data", str(self.dir / ".ferry"), "--quiet"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            lines = []
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                line = serve.stderr.readline()
                if not line or "listening on" in line:
                    break
                lines.append(line)
        finally:
            serve.send_signal(signal.SIGTERM)
            serve.communicate(timeout=15)
        warnings = [json.loads(line) for line in lines]
        self.assertEqual({(w["log"], w["level"]) for w in warnings}, {("server", "warn")})
        warned = "\n".join(w["message"] for w in warnings)
        config = self.dir / "ferry.yaml"
        self.assertIn("%s:5:9: form 'f' field 'reff'" % config, warned)
        self.assertIn("%s:7:59: schedule 'nightly': inputs for workflow 'deploy': input 'ref': "
                      "expected a string, got 7" % config, warned)


def main(argv):
    global FERRY, SERVER
    if len(argv) < 2:
        sys.stderr.write("usage: test_serve_forms.py PATH/TO/ferry [TEST...]\n")
        return 2
    FERRY = str(Path(argv[1]).resolve())
    SERVER = start_server()
    try:
        loader = unittest.TestLoader()
        module = sys.modules[__name__]
        suite = (loader.loadTestsFromNames(argv[2:], module) if len(argv) > 2
                 else loader.loadTestsFromModule(module))
        result = unittest.TextTestRunner(stream=sys.stdout, verbosity=2).run(suite)
    finally:
        stop_server(SERVER)
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
