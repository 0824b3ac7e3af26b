#!/usr/bin/env python3
"""Integration tests of the built-in integration tasks (ticket.*, webhook.emit, siem.send)
and the bundled scenario workflows, running the real `ferry` binary against the mock vendor
servers in mocks/ (127.0.0.1 only, stopped by PID).

    python3 tests/integration/test_tasks.py path/to/ferry [TestName ...]
"""
import base64
import hashlib
import json
import subprocess
import threading
import os
import shutil
import signal
import sys
import tempfile
import time
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE / "mocks"))

import test_engine as te  # noqa: E402
import serve_util  # noqa: E402
import test_integrations as ti  # noqa: E402
from standard_webhooks import verify  # noqa: E402

REPO = HERE.parent.parent
WEBHOOK_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
NEW_SECRET = "whsec_QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo="


def sn_yaml(url):
    return ("integrations:\n"
            "  sn:\n    type: servicenow\n    base_url: %s\n"
            "    auth: {type: basic, username: svc, password: \"${env:SN_PASSWORD}\"}\n"
            "    retry: {max_attempts: 3, initial_delay: 100ms}\n"
            "    defaults: {assignment_group: DevOps Team}\n"
            "  jira:\n    type: jira\n    base_url: %s\n"
            "    auth: {type: basic, username: svc, password: \"${env:SN_PASSWORD}\"}\n"
            "    project_key: OPS\n    issue_type: Incident\n"
            "    retry: {max_attempts: 3, initial_delay: 100ms}\n"
            "  hec:\n    type: splunk_hec\n    base_url: %s\n"
            "    auth: {type: splunk, token: \"${env:HEC_TOKEN}\"}\n"
            "    index: security\n    sourcetype: \"ferry:event\"\n"
            "  hook:\n    type: webhook\n    url: %s/webhook/siem\n"
            "    secrets: [\"${env:WEBHOOK_SECRET}\", \"${env:NEW_SECRET}\"]\n"
            "    retry: {max_attempts: 3, initial_delay: 100ms}\n") % (url, url, url, url)


class TaskTest(ti.IntegrationTest):
    def setUp(self):
        super().setUp()
        self.env.update(HEC_TOKEN="11111111-2222-3333-4444-555555555555",
                        WEBHOOK_SECRET=WEBHOOK_SECRET, NEW_SECRET=NEW_SECRET)
        self.m = self.mock({
            "auth": {"type": "basic", "username": "svc", "password": ti.SN_PASSWORD},
            "webhook_secrets": [NEW_SECRET],
        })
        self.p.write("ferry.yaml", sn_yaml(self.m.url))

    def state(self):
        return self.m.state()

    def sn_timeout(self, timeout):
        """ferry.yaml with the `sn` integration's request timeout set."""
        self.p.write("ferry.yaml", sn_yaml(self.m.url).replace(
            "  sn:\n    type: servicenow\n", "  sn:\n    type: servicenow\n    timeout: %s\n" % timeout))

    def kill_while_slow(self, workflow, method, path, delay_ms=1500, before_resume=None,
                        resume_rc=0):
        """Runs `workflow` while the mock holds `method path` for delay_ms, kills the process
        once the request has arrived (its answer not yet back) and resumes at once: what a
        supervisor restarting a crashed `ferry serve` does."""
        import signal
        import subprocess
        self.m.fault(method=method, path=path, delay_ms=delay_ms)
        cmd = [te.FERRY, "run", workflow, "--quiet", "--project", str(self.p.dir),
               "--data", str(self.p.data)]
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                cwd=str(self.p.dir), env=self.env)
        try:
            deadline = time.time() + 20
            while time.time() < deadline and not self.m.requests(path=path, method=method):
                time.sleep(0.02)
            self.assertTrue(self.m.requests(path=path, method=method), "the request never came")
            time.sleep(0.2)  # well inside the 1.5 s the mock holds it
        finally:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        if before_resume:
            before_resume()
        r = self.ferry("resume", "--quiet", timeout=60)
        self.assertEqual(r.returncode, resume_rc, r.stderr + r.stdout[:2000])
        time.sleep(delay_ms / 1000 + 0.1)  # the held request has surely landed: count all
        return json.loads(r.stdout.splitlines()[0])


class ServiceNow(TaskTest):
    def test_create_update_get_transition(self):
        self.p.workflow("sn", """\
steps:
  - id: create
    task: ticket.create
    integration: sn
    with: {fields: {short_description: "Disk full on db01"}, severity: high}
  - id: update
    task: ticket.update
    integration: sn
    with: {id: "{{ steps.create.output.id }}", fields: {category: Database}, comment: "Analysis attached"}
  - id: resolve
    task: ticket.transition
    integration: sn
    needs: [update]
    with: {id: "{{ steps.create.output.id }}", to: Resolved, comment: "Fixed"}
  - id: get
    task: ticket.get
    integration: sn
    needs: [resolve]
    with: {number: "{{ steps.create.output.number }}"}
""")
        rc, doc, err = self.run_wf("sn")
        self.assertEqual(rc, 0, err + json.dumps(doc)[:2000])
        out = doc["steps"]["create"]["output"]
        self.assertEqual(out["provider"], "servicenow")
        self.assertRegex(out["id"], r"^[0-9a-f]{32}$")
        self.assertRegex(out["number"], r"^INC\d{7}$")
        self.assertIn("/nav_to.do?uri=incident.do?sys_id=" + out["id"], out["url"])
        records = self.state()["servicenow"]["incident"]
        self.assertEqual(len(records), 1)
        rec = records[0]
        self.assertEqual(rec["short_description"], "Disk full on db01")
        self.assertEqual(rec["priority"], "2")                 # high -> 2
        self.assertEqual(rec["assignment_group"], "DevOps Team")  # integration defaults
        self.assertEqual(rec["category"], "Database")
        self.assertEqual(rec["correlation_id"], doc["steps"]["create"]["idempotency_key"])
        self.assertEqual(rec["state"], "6")
        self.assertEqual(doc["steps"]["get"]["output"]["status"], "6")

    def test_a_capped_request_body_is_cut_between_characters(self):
        # The recorded request body is capped (4 KiB): a body Ferry wrote as UTF-8 must not
        # be recorded with U+FFFD where the cap fell inside a character.
        self.p.workflow("sn", """\
inputs:
  text: {type: string}
steps:
  - {id: create, task: ticket.create, integration: sn,
     with: {fields: {short_description: "x", description: "{{ inputs.text }}"}}}
""")
        for prefix in ("", "x", "xx", "xxx"):
            with self.subTest(prefix=len(prefix)):
                rc, doc, err = self.run_wf("sn", "--input", "text=" + prefix + "\U0001F600" * 1500)
                self.assertEqual(rc, 0, err)
                bodies = [h["request"]["body"] for a in self.attempts(doc["id"], "create")
                          for h in a.get("http") or [] if h["method"] == "POST"]
                self.assertEqual(len(bodies), 1, bodies)
                self.assertIn("more bytes]", bodies[0])
                self.assertNotIn("\ufffd", bodies[0])

    def test_no_duplicate_after_the_connection_drops_after_create(self):
        self.p.workflow("sn", """\
steps:
  - id: create
    task: ticket.create
    integration: sn
    with: {fields: {short_description: "Lost answer"}}
""")
        self.m.fault(method="POST", path="/api/now/table/incident", action="drop_after_create")
        rc, doc, err = self.run_wf("sn")
        self.assertEqual(rc, 0, err + json.dumps(doc)[:2000])
        records = self.state()["servicenow"]["incident"]
        self.assertEqual(len(records), 1, "exactly one incident despite the lost answer")
        self.assertEqual(doc["steps"]["create"]["output"]["id"], records[0]["sys_id"])
        posts = self.m.requests(path="/api/now/table/incident", method="POST")
        self.assertEqual(len(posts), 1)
        lookups = self.m.requests(path="/api/now/table/incident", method="GET")
        self.assertTrue(any("correlation_id" in json.dumps(r["query"]) for r in lookups))

    def test_no_duplicate_when_the_lost_answer_was_on_a_reused_connection(self):
        # libcurl re-sends a request on its own when a reused keep-alive connection closes
        # without an answer: creates must not ride on reused connections.
        self.p.workflow("sn", """\
steps:
  - id: first
    task: ticket.create
    integration: sn
    with: {fields: {short_description: "one"}}
  - id: second
    task: ticket.create
    integration: sn
    needs: [first]
    with: {fields: {short_description: "two"}}
""")
        self.m.fault(method="POST", path="/api/now/table/incident", action="drop_after_create",
                     times=2)
        rc, doc, err = self.run_wf("sn")
        self.assertEqual(rc, 0, err + json.dumps(doc)[:2000])
        records = self.state()["servicenow"]["incident"]
        self.assertEqual(sorted(r["short_description"] for r in records), ["one", "two"])

    def test_no_duplicate_when_resumed_right_after_a_crash_during_the_create(self):
        # The vendor is still writing the record when the resumed step looks for it: one
        # lookup found nothing and a second incident was created.
        self.p.workflow("c", """\
steps:
  - {id: create, task: ticket.create, integration: sn, with: {fields: {short_description: "Crash"}}}
""")
        doc = self.kill_while_slow("c", "POST", "/api/now/table/incident")
        self.assertEqual(doc["status"], "succeeded")
        self.assertEqual(len(self.state()["servicenow"]["incident"]), 1)
        self.assertIs(doc["steps"]["create"]["output"]["created"], False)

    def test_no_duplicate_when_the_vendor_is_slower_than_the_lookups_but_within_timeout(self):
        # The vendor took 4.5 s, the integration's timeout being 5 s: the resumed step's
        # lookups (right away, after 1 s and 3 s) all came before the record existed, and a
        # second incident was created. It now waits out the interrupted attempt's timeout.
        self.p.write("ferry.yaml", sn_yaml(self.m.url).replace(
            "    retry: {max_attempts: 3, initial_delay: 100ms}\n    defaults:",
            "    timeout: 5s\n    retry: {max_attempts: 3, initial_delay: 100ms}\n    defaults:"))
        self.p.workflow("c", """\
steps:
  - {id: create, task: ticket.create, integration: sn, with: {fields: {short_description: "Slow"}}}
""")
        doc = self.kill_while_slow("c", "POST", "/api/now/table/incident", delay_ms=4500)
        self.assertEqual(doc["status"], "succeeded")
        self.assertEqual(len(self.state()["servicenow"]["incident"]), 1)
        self.assertIs(doc["steps"]["create"]["output"]["created"], False)
        # Found after the crash, it is this step's own create: the changes list it.
        diff = json.loads(self.ferry("executions", "diff", doc["id"], "--json").stdout)
        self.assertIn(doc["steps"]["create"]["output"]["number"], json.dumps(diff))
        shown = json.loads(self.ferry("executions", "show", doc["id"], "--json").stdout)
        first = shown["steps"]["create"]["attempts"][0]
        self.assertEqual(first["status"], "interrupted")
        self.assertTrue(first["started_at"], first)  # when the stopped attempt began

    def test_a_credential_header_written_in_a_step_is_hidden_in_history_and_sent_on_resume(self):
        # The step's input record showed the literal X-API-Key its attempt records hide.
        # Hidden there, a resume cannot take it from the record: it evaluates `with:` again.
        # The before_step hook (once per invocation) is not run again for it: its stamp on
        # the request is the first run's.
        key = "literal-key-7f3c9a2e51"
        self.p.write("tasks/hooks/stamp.lua", """\
return function(ctx, event)
  event.input.headers["X-Hook-Run"] = tostring(ferry.time.now_ms())
  return event
end
""")
        self.p.workflow("h", f"""\
steps:
  - id: call
    task: http.request
    integration: sn
    with:
      path: /api/now/table/incident
      headers: {{X-API-Key: "{key}", Accept: application/json}}
hooks:
  before_step: hooks/stamp.lua
""")
        doc = self.kill_while_slow("h", "GET", "/api/now/table/incident")
        self.assertEqual(doc["status"], "succeeded", json.dumps(doc)[:2000])
        gets = self.m.requests(path="/api/now/table/incident", method="GET")
        headers = [{k.lower(): v for k, v in g["headers"].items()} for g in gets]
        self.assertEqual([h.get("x-api-key") for h in headers], [key, key])
        self.assertEqual(len({h.get("x-hook-run") for h in headers}), 1, headers)
        shown = self.ferry("executions", "show", doc["id"], "--json").stdout
        self.assertNotIn(key, shown)
        step = json.loads(shown)["steps"]["call"]
        self.assertEqual(step["input"]["headers"],
                         {"X-API-Key": "[REDACTED]", "Accept": "application/json",
                          "X-Hook-Run": headers[0]["x-hook-run"]})
        self.assertEqual([a["status"] for a in step["attempts"]], ["interrupted", "succeeded"])

    def test_a_credential_header_a_hook_adds_is_hidden_and_made_again_on_resume(self):
        # Only the before_step hook gives it: a resume runs the hook again to send it.
        self.p.write("tasks/hooks/token.lua", """\
return function(ctx, event)
  event.input.headers = { ["X-Auth-Token"] = "hook-token-5566778899" }
  return event
end
""")
        self.p.workflow("h", """\
steps:
  - id: call
    task: http.request
    integration: sn
    with: {path: /api/now/table/incident}
hooks:
  before_step: hooks/token.lua
""")
        doc = self.kill_while_slow("h", "GET", "/api/now/table/incident")
        self.assertEqual(doc["status"], "succeeded", json.dumps(doc)[:2000])
        gets = self.m.requests(path="/api/now/table/incident", method="GET")
        sent = [{k.lower(): v for k, v in g["headers"].items()}.get("x-auth-token") for g in gets]
        self.assertEqual(sent, ["hook-token-5566778899"] * 2)
        shown = self.ferry("executions", "show", doc["id"], "--json").stdout
        self.assertNotIn("hook-token-5566778899", shown)

    def test_no_second_work_note_after_a_crash_while_posting_it(self):
        self.p.workflow("n", """\
steps:
  - {id: create, task: ticket.create, integration: sn, with: {fields: {short_description: "Note"}}}
  - {id: note, task: ticket.update, integration: sn, with: {id: "{{ steps.create.output.id }}", work_note: "analysis attached"}}
""")
        doc = self.kill_while_slow("n", "PATCH", "/api/now/table/incident")
        self.assertEqual(doc["status"], "succeeded")
        notes = [e["value"] for e in self.state()["servicenow"]["sys_journal_field"]]
        self.assertEqual(notes, ["analysis attached"])

    def test_a_transition_made_before_a_crash_is_on_record_as_the_steps_change(self):
        # The resumed step found the incident in its target state and returned, recording
        # no change: `executions diff` lost the step's one effect. The attempt keeps the
        # state it found before it sends the PATCH (ctx.remember).
        self.p.workflow("t", """\
steps:
  - {id: create, task: ticket.create, integration: sn, with: {fields: {short_description: "Move me"}}}
  - {id: move, task: ticket.transition, integration: sn, with: {id: "{{ steps.create.output.id }}", to: In Progress}}
""")
        doc = self.kill_while_slow("t", "PATCH", "/api/now/table/incident", delay_ms=1000,
                                   before_resume=lambda: time.sleep(1.5))
        self.assertEqual(doc["status"], "succeeded", json.dumps(doc)[:2000])
        move = doc["steps"]["move"]
        self.assertEqual(move["memo"]["transition"]["from"], "1")
        self.assertEqual(len(self.m.requests(path="/api/now/table/incident", method="PATCH")), 1)
        diff = json.loads(self.ferry("executions", "diff", doc["id"], "--json").stdout)
        moves = [c for c in diff if c.get("step") == "move"]
        self.assertEqual(len(moves), 1, diff)
        self.assertIn('"1"', json.dumps(moves[0]))
        self.assertIn('"2"', json.dumps(moves[0]))

    def test_no_second_work_note_when_the_vendor_is_slower_than_the_lookups(self):
        # The vendor took 4.5 s of the integration's 5 s: the resumed step's journal lookups
        # (at once, after 1 s and 2 s) all came before the note existed, and it was posted
        # twice. It now waits out the interrupted attempt's timeout, as a create does.
        self.p.write("ferry.yaml", sn_yaml(self.m.url).replace(
            "    retry: {max_attempts: 3, initial_delay: 100ms}\n    defaults:",
            "    timeout: 5s\n    retry: {max_attempts: 3, initial_delay: 100ms}\n    defaults:"))
        self.p.workflow("n", """\
steps:
  - {id: create, task: ticket.create, integration: sn, with: {fields: {short_description: "Note"}}}
  - {id: note, task: ticket.update, integration: sn, with: {id: "{{ steps.create.output.id }}", work_note: "analysis attached"}}
""")
        doc = self.kill_while_slow("n", "PATCH", "/api/now/table/incident", delay_ms=4500)
        self.assertEqual(doc["status"], "succeeded")
        notes = [e["value"] for e in self.state()["servicenow"]["sys_journal_field"]]
        self.assertEqual(notes, ["analysis attached"])

    def test_a_note_is_not_sent_again_when_the_journal_cannot_be_read(self):
        # An account without read access to sys_journal_field: the lookup's 403 was taken
        # for "not posted" and the note went out a second time.
        self.p.workflow("n", """\
steps:
  - {id: create, task: ticket.create, integration: sn, with: {fields: {short_description: "Note"}}}
  - {id: note, task: ticket.update, integration: sn, with: {id: "{{ steps.create.output.id }}", work_note: "analysis attached"}}
""")
        self.m.fault(method="GET", path="/api/now/table/sys_journal_field", status=403, times=10)
        import signal
        import subprocess
        self.m.fault(method="PATCH", path="/api/now/table/incident", delay_ms=1500)
        proc = subprocess.Popen([te.FERRY, "run", "n", "--quiet", "--project", str(self.p.dir),
                                 "--data", str(self.p.data)], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, cwd=str(self.p.dir), env=self.env)
        try:
            deadline = time.time() + 20
            while time.time() < deadline and not self.m.requests(
                    path="/api/now/table/incident", method="PATCH"):
                time.sleep(0.05)
            time.sleep(0.2)
        finally:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        r = self.ferry("resume", "--quiet", timeout=60)
        self.assertEqual(r.returncode, 1, r.stderr + r.stdout[:2000])
        doc = json.loads(r.stdout.splitlines()[0])
        self.assertIn("cannot tell whether the work_notes of an earlier attempt were added "
                      "(reading sys_journal_field: HTTP 403", doc["steps"]["note"]["error"]["message"])
        time.sleep(1.6)  # the held PATCH has landed
        notes = [e["value"] for e in self.state()["servicenow"]["sys_journal_field"]]
        self.assertEqual(notes, ["analysis attached"])

    def test_a_create_answered_503_with_retry_after_is_not_sent_again_early(self):
        # The create's outcome is unknown (a 5xx to a POST): the lookup runs at once, but
        # the new create waits for the vendor's Retry-After (it came ~3 s later before).
        self.p.workflow("sn", """\
steps:
  - id: create
    task: ticket.create
    integration: sn
    with: {fields: {short_description: "Busy vendor"}}
""")
        self.m.fault(method="POST", path="/api/now/table/incident", status=503,
                     headers={"Retry-After": "5"})
        rc, doc, err = self.run_wf("sn")
        self.assertEqual(rc, 0, err + json.dumps(doc)[:2000])
        posts = self.m.requests(path="/api/now/table/incident", method="POST")
        self.assertEqual(len(posts), 2)
        self.assertGreaterEqual(posts[1]["t"] - posts[0]["t"], 4.9)
        self.assertEqual(len(self.state()["servicenow"]["incident"]), 1)

    def test_an_own_idempotency_key_gives_executions_one_record(self):
        # The key of the alert, not of the step: a second execution for the same alert
        # finds the record the first created; another alert gets its own.
        self.p.workflow("sn", """\
inputs:
  alert: {type: string}
steps:
  - id: create
    task: ticket.create
    integration: sn
    with: {fields: {short_description: "Alert {{ inputs.alert }}"},
           idempotency_key: "alert-{{ inputs.alert }}"}
""")
        outputs = []
        for alert in ("A-1", "A-1", "B-2"):
            rc, doc, err = self.run_wf("sn", "--input", "alert=" + alert)
            self.assertEqual(rc, 0, err + json.dumps(doc)[:2000])
            outputs.append(doc["steps"]["create"]["output"])
        records = self.state()["servicenow"]["incident"]
        self.assertEqual(sorted(r["correlation_id"] for r in records), ["alert-A-1", "alert-B-2"])
        self.assertEqual([o["created"] for o in outputs], [True, False, True])
        self.assertEqual(outputs[0]["number"], outputs[1]["number"])
        self.assertNotEqual(outputs[0]["number"], outputs[2]["number"])
        self.assertEqual(len(self.m.requests(path="/api/now/table/incident", method="POST")), 2)
        # Each execution looked before creating (the step's own key is looked up only on
        # retries and resumes).
        lookups = self.m.requests(path="/api/now/table/incident", method="GET")
        self.assertEqual(len(lookups), 3, lookups)
        # A dry run previews the create and sends nothing, the lookup neither.
        sent = len(self.m.requests())
        rc, doc, err = self.run_wf("sn", "--input", "alert=A-1", "--dry-run")
        self.assertEqual(rc, 0, err)
        self.assertEqual(doc["steps"]["create"]["output"]["request"]["body"]["correlation_id"],
                         "alert-A-1")
        self.assertEqual(len(self.m.requests()), sent)

    def test_creates_giving_the_same_key_at_once_make_one_record(self):
        # Three items at once, two for the same alert. The vendor takes 400 ms to create:
        # without taking turns both A-1 creates looked, found nothing and created.
        self.p.workflow("sn", """\
steps:
  - id: create
    task: ticket.create
    integration: sn
    for_each: ["A-1", "A-1", "B-2"]
    with: {fields: {short_description: "Alert {{ item }}"}, idempotency_key: "alert-{{ item }}"}
""")
        self.m.fault(method="POST", path="/api/now/table/incident", delay_ms=400, times=3)
        rc, doc, err = self.run_wf("sn")
        self.assertEqual(rc, 0, err + json.dumps(doc)[:2000])
        records = self.state()["servicenow"]["incident"]
        self.assertEqual(sorted(r["correlation_id"] for r in records), ["alert-A-1", "alert-B-2"])
        outputs = doc["steps"]["create"]["output"]
        self.assertEqual([o["created"] for o in outputs], [True, False, True])
        self.assertEqual(outputs[0]["number"], outputs[1]["number"])
        self.assertEqual(len(self.m.requests(path="/api/now/table/incident", method="POST")), 2)
        # The same key in another table is another record: not the incident passed on.
        self.p.workflow("chg", """\
steps:
  - id: incident
    task: ticket.create
    integration: sn
    with: {fields: {short_description: "Alert C-3"}, idempotency_key: "alert-C-3"}
  - id: change
    task: ticket.create
    integration: sn
    needs: [incident]
    with: {table: change_request, fields: {short_description: "Alert C-3"}, idempotency_key: "alert-C-3"}
""")
        rc, doc, err = self.run_wf("chg")
        self.assertEqual(rc, 0, err + json.dumps(doc)[:2000])
        self.assertTrue(doc["steps"]["change"]["output"]["number"].startswith("CHG"))
        self.assertIs(doc["steps"]["change"]["output"]["created"], True)

    def test_a_create_cut_short_mid_request_is_waited_for_by_the_next_with_its_key(self):
        # Step a's create reaches the vendor, which takes 5 s; a's timeout ends it after 1 s.
        # Step b, with the same key, must not take "not found" for an answer until that
        # request's own timeout (6 s) has passed: it created a second record at ~3 s.
        self.sn_timeout("6s")
        self.p.workflow("sn", """\
steps:
  - id: a
    task: ticket.create
    integration: sn
    timeout: 1s
    retry: {max_attempts: 1}
    with: {fields: {short_description: "Cut"}, idempotency_key: "cut-1"}
  - id: b
    task: ticket.create
    integration: sn
    with: {fields: {short_description: "Cut"}, idempotency_key: "cut-1"}
""")
        self.m.fault(method="POST", path="/api/now/table/incident", delay_ms=5000, times=1)
        rc, doc, err = self.run_wf("sn")
        self.assertEqual(rc, 1, err + json.dumps(doc)[:2000])
        self.assertEqual(doc["steps"]["a"]["error"]["kind"], "timeout")
        self.assertEqual(doc["steps"]["b"]["status"], "succeeded", doc["steps"]["b"])
        self.assertIs(doc["steps"]["b"]["output"]["created"], False)
        records = self.state()["servicenow"]["incident"]
        self.assertEqual([r["correlation_id"] for r in records], ["cut-1"])
        self.assertEqual(len(self.m.requests(path="/api/now/table/incident", method="POST")), 1)

    def test_a_create_cut_short_is_waited_for_even_after_a_waiter_was_cut_short_too(self):
        # a's create is out (the vendor takes 7 s) when a's timeout ends it at 1 s; b waits
        # for that request and is itself ended by its timeout at 2.5 s, with no request out;
        # c must still wait for a's (until 1 s + the 8 s timeout): b's end cleared the mark,
        # and c created at ~5.5 s after its settle rounds.
        self.sn_timeout("8s")
        self.p.workflow("sn", """\
steps:
  - {id: a, task: ticket.create, integration: sn, timeout: 1s, retry: {max_attempts: 1},
     with: {fields: {short_description: "Cut"}, idempotency_key: "cut-2"}}
  - {id: b, task: ticket.create, integration: sn, timeout: 2500ms, retry: {max_attempts: 1},
     with: {fields: {short_description: "Cut"}, idempotency_key: "cut-2"}}
  - {id: c, task: ticket.create, integration: sn,
     with: {fields: {short_description: "Cut"}, idempotency_key: "cut-2"}}
""")
        self.m.fault(method="POST", path="/api/now/table/incident", delay_ms=7000, times=1)
        rc, doc, err = self.run_wf("sn")
        self.assertEqual(rc, 1, err + json.dumps(doc)[:2000])
        self.assertEqual([doc["steps"][s]["error"]["kind"] for s in "ab"], ["timeout"] * 2)
        self.assertIs(doc["steps"]["c"]["output"]["created"], False, doc["steps"]["c"])
        records = self.state()["servicenow"]["incident"]
        self.assertEqual([r["correlation_id"] for r in records], ["cut-2"])

    def test_a_create_cut_short_is_remembered_past_the_bound_of_kept_keys(self):
        # Between a's cut-short create (the vendor takes 4 s) and c's, 1,001 other keys hand a
        # value over: the bound of kept keys forgot a's mark, and c created a second record.
        self.sn_timeout("5s")
        self.p.workflow("sn", """\
steps:
  - {id: a, task: ticket.create, integration: sn, timeout: 1s, retry: {max_attempts: 1},
     on_error: continue, with: {fields: {short_description: "Cut"}, idempotency_key: "cut-3"}}
  - id: others
    task: lua
    with:
      script: |
        ferry.sleep(1500)  -- after a was cut short
        for i = 1, 1001 do local h <close> = ferry.lock("other " .. i) h:pass(i) end
  - {id: c, task: ticket.create, integration: sn, needs: [others],
     with: {fields: {short_description: "Cut"}, idempotency_key: "cut-3"}}
""")
        self.m.fault(method="POST", path="/api/now/table/incident", delay_ms=4000, times=1)
        rc, doc, err = self.run_wf("sn")
        self.assertEqual(rc, 0, err + json.dumps(doc)[:2000])
        self.assertEqual(doc["steps"]["a"]["error"]["kind"], "timeout", err)
        self.assertEqual({k: v["status"] for k, v in doc["steps"].items()},
                         {"a": "failed", "others": "succeeded", "c": "succeeded"})
        self.assertIs(doc["steps"]["c"]["output"]["created"], False, doc["steps"]["c"])
        records = self.state()["servicenow"]["incident"]
        self.assertEqual([r["correlation_id"] for r in records], ["cut-3"])

    def test_a_record_found_after_a_lost_answer_is_recorded_only_as_its_own_create(self):
        # The step's own key: the record found after the dropped answer is this step's.
        self.p.workflow("own", """\
steps:
  - {id: create, task: ticket.create, integration: sn, with: {fields: {short_description: "x"}}}
""")
        self.m.fault(method="POST", path="/api/now/table/incident", action="drop_after_create")
        rc, doc, err = self.run_wf("own")
        self.assertEqual(rc, 0, err + json.dumps(doc)[:2000])
        number = doc["steps"]["create"]["output"]["number"]
        diff = self.ferry("executions", "diff", doc["id"], "--json").stdout
        self.assertIn(number, diff)
        # A correlation_id the workflow gives may be another execution's: B's 504 finds A's
        # record, which B did not create and does not record.
        self.p.workflow("alert", """\
steps:
  - {id: create, task: ticket.create, integration: sn,
     with: {fields: {short_description: "y", correlation_id: ALERT-1}}}
""")
        rc, first, err = self.run_wf("alert")
        self.assertEqual(rc, 0, err)
        self.m.fault(method="POST", path="/api/now/table/incident", status=504, times=1)
        rc, second, err = self.run_wf("alert")
        self.assertEqual(rc, 0, err + json.dumps(second)[:2000])
        self.assertIs(second["steps"]["create"]["output"]["created"], False)
        diff = self.ferry("executions", "diff", second["id"], "--json").stdout
        self.assertNotIn(first["steps"]["create"]["output"]["number"], diff)

    def test_an_own_idempotency_key_is_checked_before_anything_is_sent(self):
        self.p.workflow("sn", """\
inputs:
  key: {type: string}
  correlation: {type: string, default: ""}
steps:
  - id: create
    task: ticket.create
    integration: sn
    with:
      fields: {short_description: "x", correlation_id: "{{ inputs.correlation or none }}"}
      idempotency_key: "{{ inputs.key }}"
""")
        cases = [("   ", "", "must be text (valid UTF-8, not blank)"),
                 ("a^b", "", "must not contain '^'"),
                 ("alert-1", "alert-2", "'idempotency_key' and fields.correlation_id differ")]
        for key, correlation, message in cases:
            with self.subTest(key=key[:12], correlation=correlation):
                rc, doc, err = self.run_wf("sn", "--input", "key=" + key,
                                           "--input", "correlation=" + correlation)
                self.assertEqual(rc, 1, err)
                error = doc["steps"]["create"]["error"]
                self.assertEqual(error["kind"], "validation", error)
                self.assertIn(message, error["message"])
        self.assertEqual(self.m.requests(), [])
        # The same key in both places is one key.
        rc, doc, err = self.run_wf("sn", "--input", "key=alert-1", "--input", "correlation=alert-1")
        self.assertEqual(rc, 0, err + json.dumps(doc)[:2000])
        self.assertEqual(self.state()["servicenow"]["incident"][0]["correlation_id"], "alert-1")
        # A key past correlation_id's 100 characters (a long rule id and host) stands for
        # itself by its digest: it was refused, and the scanner's finding opened nothing.
        long_key = "compliance " + "xccdf_org.ssgproject.content_rule_" * 3 + " ip-10-0-0-1"
        for created in (True, False):
            rc, doc, err = self.run_wf("sn", "--input", "key=" + long_key)
            self.assertEqual(rc, 0, err + json.dumps(doc)[:2000])
            self.assertIs(doc["steps"]["create"]["output"]["created"], created)
        self.assertEqual(self.state()["servicenow"]["incident"][1]["correlation_id"],
                         "sha256:" + hashlib.sha256(long_key.encode()).hexdigest())

    def test_the_lua_paging_example_of_workflows_md_reads_every_page(self):
        # The example itself, taken from the guide, against the mock's Table API.
        guide = (REPO / "docs/workflows.md").read_text()
        start = guide.index("# workflows/servers-lua.yaml\n")
        example = guide[start:guide.index("```", start)]
        self.p.workflow("servers", example.replace("servicenow-prod", "sn"))
        auth = "Basic " + base64.b64encode(("svc:" + ti.SN_PASSWORD).encode()).decode()
        for i in (4, 1, 7, 3, 6, 2, 5):
            reply = self.m.call("POST", "/api/now/table/cmdb_ci_server",
                                headers={"Authorization": auth},
                                json_body={"name": "WEB%d" % i, "ip_address": "10.0.0.%d" % i})
            self.assertEqual(reply.status, 201, reply.text)
        rc, doc, err = self.run_wf("servers", "--input", "page_size=3")
        self.assertEqual(rc, 0, err + json.dumps(doc)[:2000])
        self.assertEqual(doc["outputs"], {"pages": 3, "servers": 7})
        self.assertEqual([s["name"] for s in doc["steps"]["fetch"]["output"]["servers"]],
                         ["WEB%d" % i for i in range(1, 8)])
        offsets = [r["query"].get("sysparm_offset") for r in
                   self.m.requests(path="/api/now/table/cmdb_ci_server", method="GET")]
        self.assertEqual(offsets, ["0", "3", "6"])
        # A dry run still reads (the step says dry_run: false).
        rc, doc, err = self.run_wf("servers", "--input", "page_size=3", "--dry-run")
        self.assertEqual(rc, 0, err)
        self.assertEqual(doc["outputs"]["servers"], 7)

    def test_dry_run_preview_of_a_create(self):
        self.p.workflow("sn", """\
steps:
  - id: create
    task: ticket.create
    integration: sn
    with: {fields: {short_description: "Preview"}, severity: critical}
""")
        rc, doc, err = self.run_wf("sn", "--dry-run", env={})
        self.assertEqual(rc, 0, err)
        req = doc["steps"]["create"]["output"]["request"]
        self.assertEqual(req["method"], "POST")
        self.assertTrue(req["url"].endswith("/api/now/table/incident"))
        self.assertEqual(req["headers"]["Authorization"], "[REDACTED]")
        self.assertEqual(req["body"]["priority"], "1")
        self.assertEqual(self.m.requests(), [])

    def test_a_priority_in_the_fields_wins_over_the_severity_whole(self):
        # The severity's impact and urgency were sent beside it, and ServiceNow computed
        # priority 1 from them for a ticket asked to be priority 5.
        self.p.workflow("sn", """\
steps:
  - id: create
    task: ticket.create
    integration: sn
    with: {fields: {short_description: "Quiet", priority: "5"}, severity: critical}
""")
        rc, doc, err = self.run_wf("sn", "--dry-run", env={})
        self.assertEqual(rc, 0, err)
        body = doc["steps"]["create"]["output"]["request"]["body"]
        self.assertEqual(body["priority"], "5")
        self.assertNotIn("impact", body)
        self.assertNotIn("urgency", body)

    def test_the_steps_severity_wins_over_the_integrations_defaults(self):
        # A site-wide default priority gave every ticket that priority, a critical one too;
        # an urgency in the step's fields went out beside the severity's priority, which
        # ServiceNow recomputes from impact and urgency (1 x 3: priority 3, not 1).
        self.p.write("ferry.yaml", sn_yaml(self.m.url).replace(
            "defaults: {assignment_group: DevOps Team}",
            "defaults: {assignment_group: DevOps Team, priority: \"4\", impact: \"2\", "
            "urgency: \"3\"}").replace(
            "    project_key: OPS\n", "    project_key: OPS\n    defaults: {priority: {name: Low}}\n"))
        self.p.workflow("sev", """\
steps:
  - {id: crit, task: ticket.create, integration: sn,
     with: {fields: {short_description: a}, severity: critical}}
  - {id: urgent, task: ticket.create, integration: sn,
     with: {fields: {short_description: b, urgency: "3"}, severity: critical}}
  - {id: plain, task: ticket.create, integration: sn, with: {fields: {short_description: c}}}
  - {id: own, task: ticket.create, integration: sn,
     with: {fields: {short_description: f, priority: "2"}}}
  - {id: jcrit, task: ticket.create, integration: jira, with: {summary: d, severity: critical}}
  - {id: jplain, task: ticket.create, integration: jira, with: {summary: e}}
""")
        rc, doc, err = self.run_wf("sev", "--dry-run", env={})
        self.assertEqual(rc, 0, err)
        body = lambda step: doc["steps"][step]["output"]["request"]["body"]
        pick = lambda b: {k: b.get(k) for k in ("priority", "impact", "urgency")}
        self.assertEqual(pick(body("crit")), {"priority": "1", "impact": "1", "urgency": "1"})
        # The pair decides the priority: none is sent, the defaults' neither.
        self.assertEqual(pick(body("urgent")), {"priority": None, "impact": "1", "urgency": "3"})
        self.assertEqual(pick(body("plain")), {"priority": "4", "impact": "2", "urgency": "3"})
        # The step's own priority, without the defaults' pair it would be recomputed from.
        self.assertEqual(pick(body("own")), {"priority": "2", "impact": None, "urgency": None})
        self.assertEqual(body("crit")["assignment_group"], "DevOps Team")
        self.assertEqual(body("jcrit")["fields"]["priority"], {"name": "Highest"})
        self.assertEqual(body("jplain")["fields"]["priority"], {"name": "Low"})


class Jira(TaskTest):
    def test_an_adf_problem_names_the_task_and_the_field(self):
        # The message lacked the task's name, which every other input problem gives.
        self.p.workflow("adf", """\
steps:
  - id: create
    task: ticket.create
    integration: jira
    with:
      summary: s
      description: {type: doc, version: 1, content: [], extra: 1}
""")
        rc, doc, err = self.run_wf("adf", "--dry-run", env={})
        self.assertEqual(rc, 1, err)
        self.assertEqual(doc["steps"]["create"]["error"]["message"],
                         "ticket.create: 'description' is not a valid ADF document: unexpected "
                         "key 'extra' at the root (only type, version, content)")

    def test_no_second_comment_after_a_crash_while_the_vendor_writes_it(self):
        # The resumed update looked for its comment at once, while the vendor was still
        # writing the one the stopped process had sent, and posted it again.
        self.p.workflow("c", """\
steps:
  - {id: create, task: ticket.create, integration: jira, with: {summary: "Comment target"}}
  - {id: note, task: ticket.update, integration: jira, with: {key: "{{ steps.create.output.key }}", comment: "analysis attached"}}
""")
        doc = self.kill_while_slow("c", "POST", "/rest/api/3/issue/OPS-1/comment", delay_ms=2500)
        self.assertEqual(doc["status"], "succeeded")
        issue = self.state()["jira"]["issues"][0]
        comments = issue["comments"]
        self.assertEqual(len(comments), 1, comments)

    def test_no_second_comment_when_it_was_not_the_attempts_first_request(self):
        # A slow field update came first: the comment was sent 3 s into the attempt and
        # landed after the attempt's start plus the timeout (and after the settle rounds),
        # which was all the lookup waited for.
        self.p.write("ferry.yaml", sn_yaml(self.m.url).replace(
            "    project_key: OPS\n", "    project_key: OPS\n    timeout: 5s\n"))
        self.p.workflow("c", """\
steps:
  - {id: create, task: ticket.create, integration: jira, with: {summary: "Comment target"}}
  - {id: note, task: ticket.update, integration: jira, with: {key: "{{ steps.create.output.key }}", fields: {summary: "Renamed"}, comment: "analysis attached"}}
""")
        self.m.fault(method="PUT", path="/rest/api/3/issue/OPS-1", delay_ms=3000)
        doc = self.kill_while_slow("c", "POST", "/rest/api/3/issue/OPS-1/comment", delay_ms=4500)
        self.assertEqual(doc["status"], "succeeded")
        self.assertEqual(len(self.state()["jira"]["issues"][0]["comments"]), 1)

    def test_a_resumed_comment_is_not_posted_blind_when_the_comments_cannot_be_read(self):
        # The check for an earlier attempt's comment read a login page (or a 429) and the
        # comment was posted again, the step "succeeded": ServiceNow's notes fail instead.
        self.p.write("ferry.yaml", sn_yaml(self.m.url).replace(
            "    project_key: OPS\n", "    project_key: OPS\n    timeout: 2s\n"))
        self.p.workflow("c", """\
steps:
  - {id: create, task: ticket.create, integration: jira, with: {summary: "Comment target"}}
  - {id: note, task: ticket.update, integration: jira, with: {key: "{{ steps.create.output.key }}", comment: "runbook applied"}}
""")
        login_page = lambda: self.m.fault(
            method="GET", path="/rest/api/3/issue/OPS-1/comment", status=200, times=50,
            headers={"Content-Type": "text/html"}, body="<html>Sign in</html>")
        doc = self.kill_while_slow("c", "POST", "/rest/api/3/issue/OPS-1/comment",
                                   delay_ms=1000, before_resume=login_page, resume_rc=1)
        self.assertEqual(doc["status"], "failed")
        self.assertIn("Jira: cannot tell whether the comment of an earlier attempt was added to "
                      "OPS-1", doc["steps"]["note"]["error"]["message"])
        self.assertEqual(len(self.state()["jira"]["issues"][0]["comments"]), 1)

    def test_a_resumed_transition_waits_for_the_one_the_stopped_process_sent(self):
        # The resumed step read the status at once, while the vendor was still making the
        # transition the stopped process had sent, found it offered and sent it again: a
        # global transition's post-functions ran twice. The vendor holds the transition
        # long enough for the resumed step to read the issue first (a resume under the
        # sanitizers on a busy host took a second to get there: it then found the issue
        # moved and recorded no change), and not past the request's timeout, after which the
        # resumed step would send it again.
        self.p.write("ferry.yaml", sn_yaml(self.m.url).replace(
            "    project_key: OPS\n", "    project_key: OPS\n    timeout: 4s\n"))
        self.p.workflow("t", """\
steps:
  - {id: create, task: ticket.create, integration: jira, with: {summary: "Move me"}}
  - {id: move, task: ticket.transition, integration: jira, with: {key: "{{ steps.create.output.key }}", to: In Progress}}
""")
        doc = self.kill_while_slow("t", "POST", "/rest/api/3/issue/OPS-1/transitions",
                                   delay_ms=2500)
        self.assertEqual(doc["status"], "succeeded", json.dumps(doc)[:2000])
        self.assertEqual(doc["steps"]["move"]["output"]["status"], "In Progress")
        posts = self.m.requests(path="/rest/api/3/issue/OPS-1/transitions", method="POST")
        self.assertEqual(len(posts), 1, posts)
        # The change is on record: this step moved the issue, whichever attempt sent it.
        diff = json.loads(self.ferry("executions", "diff", doc["id"], "--json").stdout)
        moves = [c for c in diff if c.get("step") == "move"]
        self.assertEqual(len(moves), 1, diff)

    def test_a_resumed_transition_shorter_than_the_window_gets_through_on_its_retry(self):
        # Each retry after a resume waited the whole window again (now plus the timeout):
        # a step timeout shorter than that never got to send the transition at all.
        self.p.write("ferry.yaml", sn_yaml(self.m.url).replace(
            "    project_key: OPS\n", "    project_key: OPS\n    timeout: 2s\n"))
        self.p.workflow("t", """\
steps:
  - {id: create, task: ticket.create, integration: jira, with: {summary: "Move me"}}
  - id: move
    task: ticket.transition
    integration: jira
    timeout: 2s
    retry: {max_attempts: 4, initial_delay: 1s, max_delay: 1s}
    with: {key: "{{ steps.create.output.key }}", to: In Progress}
""")
        # Killed while it reads the transitions: the transition itself was never sent.
        doc = self.kill_while_slow("t", "GET", "/rest/api/3/issue/OPS-1/transitions",
                                   delay_ms=1000)
        self.assertEqual(doc["status"], "succeeded", json.dumps(doc)[:2000])
        posts = self.m.requests(path="/rest/api/3/issue/OPS-1/transitions", method="POST")
        self.assertEqual(len(posts), 1, posts)

    def transition_made_before_a_crash(self, to):
        # Killed while the vendor holds the transition, resumed once it has landed: the
        # issue is in its new status.
        self.p.write("ferry.yaml", sn_yaml(self.m.url).replace(
            "    project_key: OPS\n", "    project_key: OPS\n    timeout: 2s\n"))
        self.p.workflow("t", """\
steps:
  - {id: create, task: ticket.create, integration: jira, with: {summary: "Move me"}}
  - {id: move, task: ticket.transition, integration: jira, with: {key: "{{ steps.create.output.key }}", to: %s, comment: "work started"}}
""" % to)
        doc = self.kill_while_slow("t", "POST", "/rest/api/3/issue/OPS-1/transitions",
                                   delay_ms=1000, before_resume=lambda: time.sleep(1.5))
        self.assertEqual(doc["status"], "succeeded", json.dumps(doc)[:2000])
        move = doc["steps"]["move"]
        self.assertEqual(move["output"]["status"], "In Progress")
        self.assertEqual(move["memo"]["transition"]["target"], "In Progress")
        self.assertEqual(move["memo"]["transition"]["from_status"], "To Do")
        posts = self.m.requests(path="/rest/api/3/issue/OPS-1/transitions", method="POST")
        self.assertEqual(len(posts), 1, posts)
        self.assertEqual(len(self.state()["jira"]["issues"][0]["comments"]), 1)
        # The change is on record, from the status the attempt found to the one it made.
        diff = json.loads(self.ferry("executions", "diff", doc["id"], "--json").stdout)
        moves = [c for c in diff if c.get("step") == "move"]
        self.assertEqual(len(moves), 1, diff)
        self.assertIn("To Do", json.dumps(moves[0]))
        self.assertIn("In Progress", json.dumps(moves[0]))

    def test_a_transition_named_by_its_name_and_made_before_a_crash_is_recognised(self):
        # A transition is offered only from its source status: the resumed step looked for
        # "Start Progress" in In Progress, found none and failed, though the stopped process
        # had made it. The attempt keeps what it is about to send (ctx.remember) before it
        # sends it; the status that transition leads to tells the resumed step.
        self.transition_made_before_a_crash("Start Progress")

    def test_a_transition_to_a_status_made_before_a_crash_is_on_record(self):
        # Named by its target status, the resumed step found the issue there and returned
        # it unchanged, recording no change: the step's one effect was missing from the diff.
        self.transition_made_before_a_crash("In Progress")

    def transition_with_comment(self, method, path):
        self.p.write("ferry.yaml", sn_yaml(self.m.url).replace(
            "    project_key: OPS\n", "    project_key: OPS\n    timeout: 2s\n"))
        self.p.workflow("t", """\
steps:
  - {id: create, task: ticket.create, integration: jira, with: {summary: "Move me"}}
  - {id: move, task: ticket.transition, integration: jira, with: {key: "{{ steps.create.output.key }}", to: In Progress, comment: "work started"}}
""")
        doc = self.kill_while_slow("t", method, path, delay_ms=1000)
        self.assertEqual(doc["status"], "succeeded", json.dumps(doc)[:2000])
        comments = self.state()["jira"]["issues"][0]["comments"]
        self.assertEqual(len(comments), 1, comments)
        return self.m.requests(path="/rest/api/3/issue/OPS-1/comment", method="GET")

    def test_a_resumed_transition_made_now_comments_without_looking_for_an_earlier_comment(self):
        # The stopped process never sent the transition, so it cannot have commented: the
        # resumed step still looked for its comment, waiting the settle rounds a second time.
        looked = self.transition_with_comment("GET", "/rest/api/3/issue/OPS-1/transitions")
        self.assertEqual(looked, [])

    def test_a_resumed_transition_made_before_the_crash_finds_its_comment(self):
        looked = self.transition_with_comment("POST", "/rest/api/3/issue/OPS-1/comment")
        self.assertNotEqual(looked, [])

    def test_a_comment_whose_answer_timed_out_is_not_posted_twice(self):
        # No crash: the vendor finished the comment 0.5 s after the integration's timeout;
        # the check for it ran once, at once, and the comment was posted again. It looks
        # again as the vendor settles, as a create does.
        self.p.write("ferry.yaml", sn_yaml(self.m.url).replace(
            "    project_key: OPS\n", "    project_key: OPS\n    timeout: 2s\n"))
        self.p.workflow("c", """\
steps:
  - {id: create, task: ticket.create, integration: jira, with: {summary: "Comment target"}}
  - {id: note, task: ticket.update, integration: jira, with: {key: "{{ steps.create.output.key }}", comment: "analysis attached"}}
""")
        self.m.fault(method="POST", path="/rest/api/3/issue/OPS-1/comment", delay_ms=2500)
        rc, doc, err = self.run_wf("c")
        self.assertEqual(rc, 0, err + json.dumps(doc)[:2000])
        time.sleep(0.6)  # the held request has surely landed: count all
        self.assertEqual(len(self.state()["jira"]["issues"][0]["comments"]), 1)

    def test_create_with_adf_comment_and_transition(self):
        self.p.workflow("j", """\
steps:
  - id: create
    task: ticket.create
    integration: jira
    with:
      summary: "TLS certificate expires in 5 days"
      description: "Certificate for api.example.com expires soon.\\n\\nRenew it."
      severity: critical
      labels: [certificates]
      # Jira's other rich-text system field: refused as a plain string.
      fields: {environment: "prod, eu-central-2"}
  - id: comment
    task: ticket.update
    integration: jira
    with: {key: "{{ steps.create.output.key }}", comment: "Renewal scheduled"}
  - id: clear
    task: ticket.update
    integration: jira
    needs: [comment]
    # null clears a field, the rich-text environment as any other.
    with: {key: "{{ steps.create.output.key }}", fields: {environment: null}}
  - id: start
    task: ticket.transition
    integration: jira
    needs: [clear]
    with: {key: "{{ steps.create.output.key }}", to: in progress}
""")
        rc, doc, err = self.run_wf("j")
        self.assertEqual(rc, 0, err + json.dumps(doc)[:3000])
        out = doc["steps"]["create"]["output"]
        self.assertEqual(out["provider"], "jira")
        self.assertRegex(out["key"], r"^OPS-\d+$")
        self.assertTrue(out["url"].endswith("/browse/" + out["key"]))
        issues = self.state()["jira"]["issues"]
        self.assertEqual(len(issues), 1)
        fields = issues[0]["fields"]
        self.assertEqual(fields["priority"]["name"], "Highest")
        self.assertEqual(fields["issuetype"]["name"], "Incident")
        self.assertEqual(fields["description"]["type"], "doc")  # the mock validated the ADF
        self.assertIsNone(fields["environment"])  # cleared by the update
        create = [json.loads(r["body"]) for r in self.m.requests(method="POST", path="/rest/api/3/issue")
                  if r["path"] == "/rest/api/3/issue"]
        self.assertEqual(create[0]["fields"]["environment"]["content"][0]["content"][0]["text"],
                         "prod, eu-central-2")
        # A refusal names the project as the person wrote it.
        self.p.workflow("bad", """\
steps:
  - {id: create, task: ticket.create, integration: jira, with: {summary: x, fields: {duedate: 5}}}
""")
        rc, doc, err = self.run_wf("bad")
        self.assertEqual(rc, 1)
        self.assertRegex(doc["error"]["message"], r"^Jira: creating an issue in 'OPS' failed: HTTP 400")
        self.assertIn("certificates", fields["labels"])
        self.assertEqual(issues[0]["status"], "In Progress")
        self.assertEqual(len(issues[0].get("comments", [])), 1)

    def test_labels_are_checked_in_characters_and_for_every_kind_of_space(self):
        # Jira counts a label's 255 in characters (UTF-16 units), and refuses any white
        # space, an ideographic or no-break one too.
        self.p.workflow("j", """\
inputs:
  label: {type: string}
steps:
  - {id: create, task: ticket.create, integration: jira, on_error: continue,
     with: {summary: "x", labels: ["{{ inputs.label }}"]}}
""")
        for label, fails in (("\u65e5" * 100, None), ("\u00e9" * 255, None),
                             ("\U0001F600" * 128, "longer than 255 characters"),
                             ("a\u3000b", "contains spaces"), ("a\u00a0b", "contains spaces"),
                             ("a b", "contains spaces")):
            with self.subTest(label=label[:3], length=len(label)):
                before = len(self.m.requests(path="/rest/api/3/issue", method="POST"))
                rc, doc, err = self.run_wf("j", "--input", "label=" + label)
                self.assertEqual(rc, 0, err)
                step = doc["steps"]["create"]
                after = len(self.m.requests(path="/rest/api/3/issue", method="POST"))
                if fails is None:
                    self.assertEqual(step["status"], "succeeded", step["error"])
                    self.assertEqual(after, before + 1)
                else:
                    self.assertEqual(step["status"], "failed")
                    self.assertIn(fails, step["error"]["message"])
                    self.assertEqual(step["error"]["kind"], "validation")
                    self.assertEqual(after, before)  # refused before sending

    def test_a_transition_to_the_current_status_is_not_sent_again(self):
        # A retried step whose transition already happened: a global transition is offered
        # in its own target status too, and running it again would repeat its effects.
        self.p.workflow("j", """\
steps:
  - {id: create, task: ticket.create, integration: jira, with: {summary: "x"}}
  - id: block
    task: ticket.transition
    integration: jira
    with: {key: "{{ steps.create.output.key }}", to: Blocked}
  - id: again
    task: ticket.transition
    integration: jira
    needs: [block]
    with: {key: "{{ steps.create.output.key }}", to: blocked, comment: "still blocked"}
""")
        rc, doc, err = self.run_wf("j")
        self.assertEqual(rc, 0, err + json.dumps(doc)[:3000])
        self.assertEqual(doc["steps"]["again"]["output"]["status"], "Blocked")
        key = doc["steps"]["create"]["output"]["key"]
        posts = self.m.requests(path="/rest/api/3/issue/%s/transitions" % key, method="POST")
        self.assertEqual(len(posts), 1, posts)
        issue = self.state()["jira"]["issues"][0]
        self.assertEqual(len(issue.get("comments", [])), 1)  # the comment still goes on

    def test_unknown_transition_lists_the_available_ones(self):
        self.p.workflow("j", """\
steps:
  - id: create
    task: ticket.create
    integration: jira
    with: {summary: "x"}
  - id: bad
    task: ticket.transition
    integration: jira
    with: {key: "{{ steps.create.output.key }}", to: Teleported}
""")
        rc, doc, err = self.run_wf("j")
        self.assertEqual(rc, 1)
        msg = doc["steps"]["bad"]["error"]["message"]
        self.assertIn("Teleported", msg)
        self.assertIn("In Progress", msg)

    def test_a_transition_id_may_be_written_as_a_number(self):
        # `to: 31` was refused (it must be a string) where ServiceNow takes `to: 6`.
        self.p.workflow("j", """\
steps:
  - {id: create, task: ticket.create, integration: jira, with: {summary: "x"}}
  - {id: start, task: ticket.transition, integration: jira, with: {key: "{{ steps.create.output.key }}", to: 21}}
  - {id: odd, task: ticket.transition, integration: jira, needs: [start], with: {key: "{{ steps.create.output.key }}", to: 2.5}}
""")
        rc, doc, err = self.run_wf("j")
        self.assertEqual(rc, 1, err)
        self.assertEqual(doc["steps"]["start"]["output"]["status"], "In Progress")
        self.assertIn("'to' must name a transition (its name, its target status or its id)",
                      doc["steps"]["odd"]["error"]["message"])

    def test_long_runs_of_whitespace_in_text_inputs_take_one_pass(self):
        # Every text input here was trimmed with Lua's backtracking idioms: quadratic in a
        # run of whitespace inside the text, in C, where no step timeout ends it (200 KB
        # runs: minutes each). Quoting a bad value in a message clips it.
        run = "' ' * 200000"
        self.p.workflow("j", """\
steps:
  - id: create
    task: ticket.create
    integration: jira
    timeout: 20s
    with:
      summary: "{{ 'Disk' ~ %(run)s ~ 'full' }}"
      description: "{{ 'a' ~ %(run)s ~ 'b' ~ '\\n\\n- item' ~ ' \\t' * 100000 ~ 'c' }}"
  - id: note
    task: ticket.update
    integration: jira
    timeout: 20s
    with: {key: "{{ steps.create.output.key }}", comment: "{{ 'note' ~ %(run)s ~ 'done' }}"}
  - id: move
    task: ticket.transition
    integration: jira
    needs: [note]
    timeout: 20s
    on_error: continue
    with: {key: "{{ steps.create.output.key }}", to: "{{ 'In' ~ %(run)s ~ 'Limbo' }}"}
  - id: severity
    task: ticket.create
    integration: jira
    timeout: 20s
    on_error: continue
    with: {summary: x, severity: "{{ 'high' ~ %(run)s ~ '!' }}"}
""" % {"run": run})
        rc, doc, err = self.run_wf("j")
        self.assertEqual(rc, 0, err)  # the two failures are on_error: continue
        steps = doc["steps"]
        self.assertEqual(steps["create"]["status"], "succeeded", steps["create"]["error"])
        self.assertEqual(steps["note"]["status"], "succeeded", steps["note"]["error"])
        self.assertEqual(steps["move"]["error"]["message"],
                         "ticket.transition: issue %s (status To Do) has no transition 'In%s...'; "
                         "available: Start Progress (-> In Progress), Blocked" % (steps["create"]["output"]["key"], " " * 62))
        self.assertEqual(steps["severity"]["error"]["message"],
                         "ticket.create: 'severity' must be one of critical, high, medium, low; "
                         "got 'high%s...'" % (" " * 60))
        issue = self.state()["jira"]["issues"][0]
        self.assertEqual(issue["fields"]["summary"], "Disk full")
        doc_text = json.dumps(issue["fields"]["description"])
        self.assertIn(json.dumps("a" + " " * 200000 + "b"), doc_text)
        self.assertIn(json.dumps("item" + " \t" * 100000 + "c"), doc_text)

    def test_no_duplicate_issue_after_a_dropped_connection(self):
        self.p.workflow("j", """\
steps:
  - id: create
    task: ticket.create
    integration: jira
    with: {summary: "Dropped", description: "x"}
""")
        self.m.fault(method="POST", path="/rest/api/3/issue", action="drop_after_create")
        rc, doc, err = self.run_wf("j")
        self.assertEqual(rc, 0, err + json.dumps(doc)[:2000])
        issues = self.state()["jira"]["issues"]
        self.assertEqual(len(issues), 1)
        self.assertEqual(doc["steps"]["create"]["output"]["key"], issues[0]["key"])

    def test_an_own_idempotency_key_gives_executions_one_issue(self):
        self.p.workflow("j", """\
inputs:
  host: {type: string}
steps:
  - id: remind
    task: ticket.create
    integration: jira
    with: {summary: "Certificate of {{ inputs.host }} expires", idempotency_key: "cert {{ inputs.host }}"}
""")
        outputs = []
        for host in ("portal.example.com", "portal.example.com", "api.example.com"):
            rc, doc, err = self.run_wf("j", "--input", "host=" + host)
            self.assertEqual(rc, 0, err + json.dumps(doc)[:2000])
            outputs.append(doc["steps"]["remind"]["output"])
        issues = self.state()["jira"]["issues"]
        self.assertEqual(len(issues), 2)
        self.assertEqual([o["created"] for o in outputs], [True, False, True])
        self.assertEqual(outputs[0]["key"], outputs[1]["key"])
        first = next(i for i in issues if i["key"] == outputs[0]["key"])
        label = "ferry-" + hashlib.sha256(b"cert portal.example.com").hexdigest()[:24]
        self.assertIn(label, first["fields"]["labels"])
        self.assertEqual(first["properties"]["ferry.idempotency"], {"value": "cert portal.example.com"})

    def test_new_labels_keep_the_label_a_later_create_looks_up(self):
        # Setting labels replaces them all: an update or a transition dropped the ferry-
        # label, and the next execution with the same key opened a second issue.
        self.p.workflow("j", """\
inputs:
  relabel: {type: string, default: ""}
steps:
  - id: remind
    task: ticket.create
    integration: jira
    with: {summary: "Certificate expires", idempotency_key: "cert db01"}
  - id: relabel
    task: ticket.update
    integration: jira
    when: "{{ inputs.relabel == 'update' }}"
    with: {key: "{{ steps.remind.output.key }}", labels: [cert-expiry, triaged]}
  - id: move
    task: ticket.transition
    integration: jira
    when: "{{ inputs.relabel == 'transition' }}"
    with: {key: "{{ steps.remind.output.key }}", to: in progress, fields: {labels: [moved]}}
""")
        label = "ferry-" + hashlib.sha256(b"cert db01").hexdigest()[:24]
        created = []
        for relabel in ("update", "", "transition", ""):
            rc, doc, err = self.run_wf("j", "--input", "relabel=" + relabel)
            self.assertEqual(rc, 0, err + json.dumps(doc)[:2000])
            created.append(doc["steps"]["remind"]["output"]["created"])
        issues = self.state()["jira"]["issues"]
        self.assertEqual(len(issues), 1, [i["fields"]["labels"] for i in issues])
        self.assertEqual(created, [True, False, False, False])
        self.assertEqual(issues[0]["fields"]["labels"], ["moved", label])
        self.assertEqual(issues[0]["status"], "In Progress")

    def test_creates_with_one_key_make_one_issue_however_far_search_lags(self):
        # The search finds a new issue only 5 s later: the second create learns the first's
        # issue from it (ferry.lock's pass), not from a search that cannot see it yet.
        self.m.config(jira_search_lag_ms=5000)
        self.p.workflow("j", """\
steps:
  - id: remind
    task: ticket.create
    integration: jira
    for_each: [1, 2, 3]
    with: {summary: "Certificate expires", idempotency_key: "cert portal"}
""")
        rc, doc, err = self.run_wf("j")
        self.assertEqual(rc, 0, err + json.dumps(doc)[:2000])
        outputs = doc["steps"]["remind"]["output"]
        self.assertEqual([o["created"] for o in outputs], [True, False, False])
        self.assertEqual({o["key"] for o in outputs}, {outputs[0]["key"]})
        self.assertEqual(len(self.state()["jira"]["issues"]), 1)

    def test_the_bundled_certificate_reminder_opens_one_issue_per_certificate(self):
        # Scheduled daily: the second day's run must find the reminders the first opened.
        self.p.write("ferry.yaml", sn_yaml(self.m.url).replace("  jira:\n", "  jira-cloud:\n"))
        self.p.write("workflows/cert-expiry-reminder.yaml",
                     (REPO / "workflows/cert-expiry-reminder.yaml").read_text())
        sample = str(REPO / "workflows/samples/certificates.json")
        runs = []
        for _ in range(2):
            rc, doc, err = self.run_wf("cert-expiry-reminder", "--inputs-file", sample)
            self.assertEqual(rc, 0, err + json.dumps(doc)[:2000])
            runs.append(doc)
        due = len(runs[0]["outputs"]["expiring"])
        self.assertGreater(due, 0)
        self.assertEqual(len(self.state()["jira"]["issues"]), due)
        self.assertEqual(runs[0]["outputs"]["reminders"], runs[1]["outputs"]["reminders"])
        self.assertEqual({r["created"] for r in runs[1]["steps"]["reminder"]["output"]}, {False})

    def test_a_garbled_lookup_after_a_dropped_create_fails_instead_of_creating_again(self):
        # The search that decides "created or not?" answers 200 with a maintenance page:
        # that is no answer, and reading it as "not found" would create a second issue.
        self.p.workflow("j", """\
steps:
  - id: create
    task: ticket.create
    integration: jira
    with: {summary: "Dropped", description: "x"}
""")
        self.m.fault(method="POST", path="/rest/api/3/issue", action="drop_after_create")
        self.m.fault(method="POST", path="/rest/api/3/search/jql", status=200,
                     headers={"Content-Type": "text/html"}, body="<html>maintenance</html>", times=5)
        rc, doc, err = self.run_wf("j")
        self.assertEqual(rc, 1, err)
        error = doc["steps"]["create"]["error"]
        self.assertEqual(error["kind"], "http_5xx")
        self.assertIn("is not a JSON object with 'issues'", error["message"])
        self.assertEqual(len(self.state()["jira"]["issues"]), 1)


class Webhooks(TaskTest):
    def setUp(self):
        super().setUp()
        self.m.config(auth=None)  # the receiver authenticates by signature only

    WF = """\
steps:
  - id: emit
    task: webhook.emit
    integration: hook
    with: {type: ticket.created, data: {ticket: INC0010001}}
"""

    def test_signed_with_every_secret_and_verifiable(self):
        self.p.workflow("w", self.WF)
        rc, doc, err = self.run_wf("w")
        self.assertEqual(rc, 0, err + json.dumps(doc)[:2000])
        deliveries = self.state()["webhooks"]
        self.assertEqual(len(deliveries), 1)
        d = deliveries[0]
        self.assertTrue(d["valid"], d)
        self.assertEqual(len(d["headers"]["webhook-signature"].split(" ")), 2)  # rotation
        body = d["body"].encode()
        verify([WEBHOOK_SECRET], d["headers"], body)  # the old secret verifies too
        payload = json.loads(body)
        self.assertEqual(payload["type"], "ticket.created")
        self.assertEqual(payload["data"], {"ticket": "INC0010001"})
        self.assertEqual(doc["steps"]["emit"]["output"]["webhook_id"], d["headers"]["webhook-id"])

    def dead_letter(self):
        """Runs the workflow against a receiver answering 500: (the execution, the step's
        output, dead-lettered after its attempts)."""
        self.p.workflow("w", self.WF)
        self.m.config(webhook_status=500)
        rc, doc, err = self.run_wf("w")
        self.assertEqual(rc, 0, err)
        out = doc["steps"]["emit"]["output"]
        self.assertEqual(out["status"], "dead_lettered")
        # A warning where operators look, not only in the step's own logs.
        self.assertRegex(err, r"ferry: execution %s step emit: a delivery was kept in the "
                              r"dead-letter queue as [0-9A-Z]{26} \(HTTP 500: " % doc["id"])
        return doc, out

    def test_failed_delivery_goes_to_the_dlq_and_replays(self):
        doc, out = self.dead_letter()
        self.assertEqual(out["attempts"], 3)
        attempts = self.state()["webhooks"]
        self.assertEqual(len({a["headers"]["webhook-id"] for a in attempts}), 1, "same id")
        p = self.ferry("dlq", "list", "--json")
        self.assertEqual(p.returncode, 0, p.stderr)
        entries = json.loads(p.stdout)
        self.assertEqual(len(entries), 1)
        entry = entries[0]
        self.assertEqual(entry["integration"], "hook")
        self.assertEqual(entry["execution_id"], doc["id"])
        self.assertNotIn(WEBHOOK_SECRET[6:], json.dumps(entries))
        # Its secret unset: nothing is sent, and the exit says "refused before sending" (2),
        # not "the replay failed" (1) that a retry loop would spin on.
        unset = {k: v for k, v in self.env.items() if k != "NEW_SECRET"}
        r = self.ferry("dlq", "replay", entry["id"], env=unset)
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn("ferry dlq: replay of %s refused before sending: " % entry["id"], r.stderr)
        self.assertIn("NEW_SECRET is not set", r.stderr)
        # Still failing: the replay fails and the entry stays.
        r = self.ferry("dlq", "replay", entry["id"])
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertEqual(len(json.loads(self.ferry("dlq", "list", "--json").stdout)), 1)
        # The table shows why the replay failed, and when the letter came, with its zone.
        table = self.ferry("dlq", "list").stdout.splitlines()
        self.assertIn("ERROR (the last replay's, when one failed)", table[0])
        self.assertRegex(table[1], r"^%s  \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z  hook "
                                   r"+3 +replay: HTTP 500" % entry["id"])
        # The receiver is back: the replay delivers, re-signed, same webhook-id.
        self.m.config(webhook_status=204)
        time.sleep(1.1)  # a fresh timestamp for the new signature
        r = self.ferry("dlq", "replay", entry["id"])
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        last = self.state()["webhooks"][-1]
        self.assertTrue(last["valid"])
        self.assertEqual(last["headers"]["webhook-id"], out["webhook_id"])
        self.assertNotEqual(last["headers"]["webhook-timestamp"],
                            attempts[0]["headers"]["webhook-timestamp"])
        self.assertEqual(json.loads(self.ferry("dlq", "list", "--json").stdout), [])
        # drop of an unknown id is a usage error.
        self.assertEqual(self.ferry("dlq", "drop", "nope").returncode, 2)


    def test_the_whole_queue_replays_oldest_first_until_one_fails(self):
        # A receiver down for a weekend leaves many letters: one command replays them.
        self.dead_letter()
        self.dead_letter()
        ids = [e["id"] for e in json.loads(self.ferry("dlq", "list", "--json").stdout)]
        self.assertEqual(len(ids), 2)
        r = self.ferry("dlq", "replay", "--all")  # still down: stops at the first
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("replayed 0, then stopped: %s failed" % ids[0], r.stderr)
        self.assertEqual(len(r.stdout.splitlines()), 1)  # the second was not tried
        self.m.config(webhook_status=204)
        time.sleep(1.1)  # a fresh timestamp for the new signature
        # A mistyped name replayed nothing and said so with exit 0: a cron job's typo
        # passed as success for ever.
        r = self.ferry("dlq", "replay", "--all", "--integration", "hok")
        self.assertEqual((r.returncode, r.stdout), (2, ""), r.stderr)
        self.assertIn("no integration 'hok' in ferry.yaml, and no dead letter for it (did you "
                      "mean 'hook'?)", r.stderr)
        r = self.ferry("dlq", "replay", "--all", "--limit", "1")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual([json.loads(l)["id"] for l in r.stdout.splitlines()], [ids[0]])
        r = self.ferry("dlq", "replay", "--all", "--integration", "hook")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual([json.loads(l)["id"] for l in r.stdout.splitlines()], [ids[1]])
        self.assertIn("replayed 1 deliveries", r.stderr)
        self.assertEqual(json.loads(self.ferry("dlq", "list", "--json").stdout), [])
        for args, message in ((["replay", "--all", ids[0]], "replay --all takes no ID"),
                              (["replay", ids[0], "--limit", "2"], "go with replay --all"),
                              (["list", "--all"], "go with replay"),
                              (["replay", "--all", "--limit", "0"], "--limit must be a positive")):
            r = self.ferry("dlq", *args)
            self.assertEqual(r.returncode, 2, args)
            self.assertIn(message, r.stderr)


    def test_a_receiver_answering_4xx_for_a_moment_gets_the_event(self):
        # Standard Webhooks: anything but a 2xx is a failed delivery to retry (a receiver
        # mid-deploy answering 404 lost the event after one attempt).
        self.p.workflow("w", self.WF)
        self.m.fault(method="POST", path="/webhook/siem", status=404)
        self.m.fault(method="POST", path="/webhook/siem", status=302,
                     headers={"Location": "http://127.0.0.1:1/elsewhere"})
        rc, doc, err = self.run_wf("w")
        self.assertEqual(rc, 0, err)
        out = doc["steps"]["emit"]["output"]
        self.assertEqual((out["status"], out["attempts"]), (204, 3), out)
        self.assertEqual(len(self.state()["webhooks"]), 1)

    def test_410_gone_retires_the_endpoint_until_a_replay(self):
        self.p.workflow("w", """\
steps:
  - id: first
    task: webhook.emit
    integration: hook
    with: {type: ticket.created, data: {n: 1}}
  - id: second
    task: webhook.emit
    integration: hook
    needs: first
    with: {type: ticket.created, data: {n: 2}}
""")
        self.m.fault(method="POST", path="/webhook/siem", status=410, times=5)
        rc, doc, err = self.run_wf("w")
        self.assertEqual(rc, 0, err)
        first, second = (doc["steps"][k]["output"] for k in ("first", "second"))
        # Gone is final (one attempt), and the second event is not sent at all.
        self.assertEqual((first["status"], first["attempts"]), ("dead_lettered", 1), first)
        self.assertEqual(second["status"], "dead_lettered", second)
        self.assertIn("410 Gone", second["error"])
        self.assertIn("nothing sent", second["error"])
        self.assertEqual(len(self.m.requests(path="/webhook/siem")), 1)
        # An operator's replay enables the endpoint again.
        self.m.clear_faults()
        entries = json.loads(self.ferry("dlq", "list", "--json").stdout)
        self.assertEqual(len(entries), 2)
        for entry in entries:
            r = self.ferry("dlq", "replay", entry["id"])
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(len(self.state()["webhooks"]), 2)

    def test_a_410_to_a_request_that_is_not_a_delivery_retires_nothing(self):
        self.p.workflow("w", """\
steps:
  - id: probe
    task: lua
    integration: hook
    with:
      script: |
        local res = ctx.http({method = "POST", path = "/status", json = {ping = true}})
        return {status = res.status, attempts = res.attempts}
  - {id: emit, task: webhook.emit, integration: hook, needs: probe,
     with: {type: ticket.created, data: {n: 1}}}
""")
        self.m.fault(method="POST", path="/webhook/siem/status", status=410, times=3)
        rc, doc, err = self.run_wf("w")
        self.assertEqual(rc, 0, err)
        # Final at once, as any integration's 4xx (a delivery's would be retried).
        self.assertEqual(doc["steps"]["probe"]["output"], {"status": 410, "attempts": 1})
        self.assertEqual(len(self.m.requests(path="/webhook/siem/status")), 1)
        self.assertEqual(doc["steps"]["emit"]["output"]["status"], 204, doc["steps"]["emit"])

    def test_the_api_shows_a_retired_endpoint_and_a_replay_enables_it(self):
        self.p.workflow("w", self.WF)
        self.p.write("ferry.yaml", sn_yaml(self.m.url) + serve_util.tokens_yaml())
        server = serve_util.Server(te.FERRY, self.p.dir, self.p.data, env=self.env)
        try:
            def hook():
                status, body = server.json("GET", "/api/v1/integrations", role="viewer")
                self.assertEqual(status, 200, body)
                return next(i for i in body["integrations"] if i["name"] == "hook")
            self.assertIsNone(hook()["disabled"])
            self.m.fault(method="POST", path="/webhook/siem", status=410)
            status, body = server.json("POST", "/api/v1/workflows/w/executions?wait=10s",
                                       {"inputs": {}}, role="operator")
            self.assertEqual(status, 200, body)
            self.assertEqual(body["steps"]["emit"]["output"]["status"], "dead_lettered")
            self.assertIn("answered 410 Gone", hook()["disabled"])
            warned = [json.loads(l) for l in (self.p.dir / "serve.log").read_text().splitlines()
                      if "dead-letter queue as" in l]
            self.assertEqual([w["level"] for w in warned], ["warn"], warned)
            entry = server.json("GET", "/api/v1/dlq", role="viewer")[1]["dead_letters"][0]
            status, body = server.json("POST", "/api/v1/dlq/%s/replay" % entry["id"], {},
                                       role="admin")
            self.assertEqual(status, 200, body)
            self.assertIsNone(hook()["disabled"])
        finally:
            server.stop()

    def test_a_dry_run_preview_holds_no_usable_signature(self):
        # The preview is kept in history, readable by viewers: a real signature there could
        # be replayed to the receiver as an event that was never sent.
        self.p.workflow("w", self.WF)
        rc, doc, err = self.run_wf("w", "--dry-run")
        self.assertEqual(rc, 0, err)
        headers = doc["steps"]["emit"]["output"]["request"]["headers"]
        # One placeholder a secret (two here, for rotation), as the send signs with each.
        self.assertEqual(headers["webhook-signature"],
                         "v1,[computed when sent] v1,[computed when sent]")
        self.assertEqual(self.m.requests(), [])
        # A malformed secret is still reported by the preview.
        rc, doc, err = self.run_wf("w", "--dry-run", env=dict(self.env, NEW_SECRET="whsec_%%%"))
        self.assertEqual(rc, 1, json.dumps(doc)[:2000])
        self.assertIn("whsec_ followed by base64", doc["steps"]["emit"]["error"]["message"])
        # Also behind a secret that cannot be read (a preview needs none of them).
        unset = {k: v for k, v in self.env.items() if k != "WEBHOOK_SECRET"}
        rc, doc, err = self.run_wf("w", "--dry-run", env=dict(unset, NEW_SECRET="whsec_%%%"))
        self.assertEqual(rc, 1, json.dumps(doc)[:2000])
        self.assertIn("whsec_ followed by base64", doc["steps"]["emit"]["error"]["message"])

    def test_a_password_in_a_dead_letters_url_is_not_listed(self):
        # The entry keeps its request as sent (a replay sends it again), but `dlq list
        # --json` and GET /api/v1/dlq showed `u:hunter2dlq@` to every viewer.
        self.p.write("ferry.yaml", sn_yaml(self.m.url) + serve_util.tokens_yaml())
        self.p.workflow("keep", """\
steps:
  - id: give_up
    task: lua
    with:
      script: |
        ctx.dead_letter{integration = "hook", error = "gave up",
                        request = {method = "POST", url = "http://u:hunter2dlq@127.0.0.1:9/x"}}
        return true
""")
        rc, doc, err = self.run_wf("keep")
        self.assertEqual(rc, 0, err)
        p = self.ferry("dlq", "list", "--json")
        self.assertEqual(p.returncode, 0, p.stderr)
        [entry] = json.loads(p.stdout)
        self.assertEqual(entry["request"]["url"], "http://u:[REDACTED]@127.0.0.1:9/x")
        self.assertNotIn("hunter2dlq", p.stdout + self.ferry("dlq", "list").stdout)
        server = serve_util.Server(te.FERRY, self.p.dir, self.p.data, env=self.env)
        try:
            status, _, data = server.request("GET", "/api/v1/dlq", role="viewer")
            text = data.decode()
            self.assertEqual(status, 200, text)
            self.assertIn("http://u:[REDACTED]@127.0.0.1:9/x", text)
            self.assertNotIn("hunter2dlq", text)
        finally:
            server.stop()

    def test_a_large_dead_letter_queue_is_listed_in_pages(self):
        # A receiver down for a while leaves many deliveries, each with its body: the CLI
        # reads the store 1,000 at a time, the API answers a page per call, and /metrics
        # counts them without reading them.
        n = 1005
        head, tail = sn_yaml(self.m.url).rsplit("max_attempts: 3", 1)
        self.p.write("ferry.yaml", head + "max_attempts: 1" + tail + serve_util.tokens_yaml())
        self.p.workflow("many", """\
steps:
  - id: emit
    task: webhook.emit
    integration: hook
    for_each: "{{ range(%d) | list }}"
    concurrency: 100
    with: {type: ticket.created, data: {n: "{{ item }}"}}
""" % n)
        self.m.config(webhook_status=500)
        rc, doc, err = self.run_wf("many", timeout=120)
        self.assertEqual(rc, 0, err[-2000:])
        p = self.ferry("dlq", "list", "--json")
        self.assertEqual(p.returncode, 0, p.stderr)
        ids = [e["id"] for e in json.loads(p.stdout)]
        self.assertEqual(len(ids), n)
        self.assertEqual(ids, sorted(set(ids)), "oldest first, each once")
        human = self.ferry("dlq", "list")
        self.assertEqual(human.stdout.count("\n"), n + 1)  # and the header

        server = serve_util.Server(te.FERRY, self.p.dir, self.p.data, env=self.env)
        try:
            status, page = server.json("GET", "/api/v1/dlq", role="viewer")
            self.assertEqual(status, 200, page)
            self.assertEqual([e["id"] for e in page["dead_letters"]], ids[:100])  # default 100
            self.assertEqual(page["next_cursor"], ids[99])
            seen, cursor = [], ""
            for _ in range(10):  # 1,005 in pages of 400: three pages
                status, page = server.json(
                    "GET", "/api/v1/dlq?limit=400" + ("&cursor=" + cursor if cursor else ""),
                    role="viewer")
                self.assertEqual(status, 200, page)
                seen += [e["id"] for e in page["dead_letters"]]
                cursor = page["next_cursor"]
                if cursor is None:
                    break
            self.assertEqual(seen, ids)
            for query, message in (("limit=0", "limit must be an integer from 1 to 1000"),
                                   ("limit=1001", "limit must be an integer from 1 to 1000"),
                                   ("cursor=nope", "cursor must be a dead letter's id")):
                status, body = server.json("GET", "/api/v1/dlq?" + query, role="viewer")
                self.assertEqual(status, 400, query)
                self.assertIn(message, body["error"]["message"])
            status, _, text = server.request("GET", "/metrics", role="viewer")
            self.assertEqual(status, 200)
            self.assertIn("ferry_dlq_size %d\n" % n, text.decode())
        finally:
            server.stop()

    def serve_a_dead_letter(self):
        """One dead letter, and `ferry serve` on its data folder: (entry, its replay path,
        the server)."""
        self.dead_letter()
        self.p.write("ferry.yaml", sn_yaml(self.m.url) + serve_util.tokens_yaml())
        entry = json.loads(self.ferry("dlq", "list", "--json").stdout)[0]
        server = serve_util.Server(te.FERRY, self.p.dir, self.p.data, env=self.env)
        return entry, "/api/v1/dlq/%s/replay" % entry["id"], server

    def test_the_api_replays_a_dead_letter_once_at_a_time(self):
        entry, path, server = self.serve_a_dead_letter()
        try:
            # Still failing: 502 with the contract's error shape, beside what it did.
            status, body = server.json("POST", path, {}, role="admin")
            self.assertEqual(status, 502, body)
            self.assertEqual(body["error"]["code"], "replay_failed")
            self.assertIn("HTTP 500", body["error"]["message"])
            self.assertEqual((body["replayed"], body["status"]), (False, 500))
            # A slow receiver, three replays at once: it is sent once, the others are told
            # that one is in flight (they were each sent: a ticket POST three times).
            self.m.config(webhook_status=204)
            self.m.fault(path="/webhook", times=1, delay_ms=800)
            before = len(self.state()["webhooks"])
            answers = []
            threads = [threading.Thread(target=lambda: answers.append(
                server.json("POST", path, {}, role="admin"))) for _ in range(3)]
            for t in threads:
                t.start()
                time.sleep(0.1)
            for t in threads:
                t.join(timeout=15)
            self.assertEqual(sorted(a[0] for a in answers), [200, 409, 409], answers)
            self.assertEqual(len(self.state()["webhooks"]) - before, 1)
        finally:
            server.stop()

    def test_the_api_drops_a_dead_letter_an_admin_names(self):
        # The CLI had `ferry dlq drop`; the API only list and replay, so an entry whose
        # receiver was retired stayed in the queue (and in ferry_dlq_size) for good.
        entry, replay, server = self.serve_a_dead_letter()
        path = "/api/v1/dlq/" + entry["id"]
        try:
            for role in ("viewer", "operator"):
                self.assertEqual(server.json("DELETE", path, role=role)[0], 403)
            # While a replay of it is in flight, its answer decides: 409, and it stays.
            self.m.fault(path="/webhook", times=1, delay_ms=800)
            answers = []
            t = threading.Thread(target=lambda: answers.append(
                server.json("POST", replay, {}, role="admin")))
            t.start()
            time.sleep(0.3)
            status, body = server.json("DELETE", path, role="admin")
            t.join(timeout=15)
            self.assertEqual(status, 409, body)
            self.assertIn("is being replayed now", body["error"]["message"])
            self.assertEqual(answers[0][0], 502, answers)  # the receiver still fails
            status, body = server.json("DELETE", path, role="admin")
            self.assertEqual((status, body), (200, {"id": entry["id"], "dropped": True}))
            self.assertEqual(server.json("GET", "/api/v1/dlq", role="viewer")[1]["dead_letters"],
                             [])
            status, body = server.json("DELETE", path, role="admin")
            self.assertEqual(status, 404, body)
        finally:
            server.stop()
        # Durable: the command line, after the server, finds nothing.
        self.assertEqual(json.loads(self.ferry("dlq", "list", "--json").stdout), [])

    def test_a_command_line_replay_beside_the_server_sends_once(self):
        # The one-at-a-time guard was in one process's memory: `ferry dlq replay` beside the
        # server's API sent an entry twice (two tickets from one dead letter), and a failed
        # second replay wrote the entry back after the first had delivered it; a drop during
        # a replay was undone by the replay's failure.
        entry, path, server = self.serve_a_dead_letter()
        try:
            self.m.config(webhook_status=204)
            self.m.fault(path="/webhook", times=1, delay_ms=1500)
            before = len(self.state()["webhooks"])
            sent = len(self.m.requests(path="/webhook"))
            cli = subprocess.Popen([te.FERRY, "dlq", "replay", entry["id"], "--project",
                                    str(self.p.dir), "--data", str(self.p.data)],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                   env=self.env)
            try:
                # The command line's request is at the receiver: the server must not send.
                deadline = time.monotonic() + 10
                while len(self.m.requests(path="/webhook")) == sent:
                    self.assertLess(time.monotonic(), deadline, "the replay never arrived")
                    time.sleep(0.05)
                status, body = server.json("POST", path, {}, role="admin")
                self.assertEqual(status, 409, body)
                self.assertIn("is being replayed now by another ferry process",
                              body["error"]["message"])
                drop = self.ferry("dlq", "drop", entry["id"])
                self.assertEqual(drop.returncode, 1, drop.stderr)
                self.assertIn("drop it after its answer", drop.stderr)
                out, err = cli.communicate(timeout=20)
            finally:
                if cli.poll() is None:
                    cli.kill()
                    cli.wait(5)
            self.assertEqual(cli.returncode, 0, out + err)
            self.assertEqual(len(self.state()["webhooks"]) - before, 1)
            self.assertEqual(json.loads(self.ferry("dlq", "list", "--json").stdout), [])
            # Delivered and gone: the server's replay now finds nothing, and sends nothing.
            status, body = server.json("POST", path, {}, role="admin")
            self.assertEqual(status, 404, body)
            self.assertEqual(len(self.state()["webhooks"]) - before, 1)
        finally:
            server.stop()

    def test_a_dead_letter_outlives_its_pruned_execution_and_still_replays(self):
        # A dead letter holds its own request: pruning the execution that sent it (history)
        # must not lose the delivery (a debt to the receiver).
        doc, out = self.dead_letter()
        p = self.ferry("executions", "prune", "--before", "0s")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("pruned 1 execution(s)", p.stdout)
        self.assertNotEqual(self.ferry("executions", "show", doc["id"]).returncode, 0)
        entries = json.loads(self.ferry("dlq", "list", "--json").stdout)
        self.assertEqual([e["execution_id"] for e in entries], [doc["id"]])
        self.m.config(webhook_status=204)
        r = self.ferry("dlq", "replay", entries[0]["id"])
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        last = self.state()["webhooks"][-1]
        self.assertTrue(last["valid"], last)
        self.assertEqual(last["headers"]["webhook-id"], out["webhook_id"])
        self.assertEqual(json.loads(last["body"])["data"], {"ticket": "INC0010001"})
        self.assertEqual(json.loads(self.ferry("dlq", "list", "--json").stdout), [])

    def test_a_replayed_post_without_an_id_is_sent_once_and_its_failure_says_why(self):
        # Every dead letter was replayed as safe to repeat: a task's POST (a create) that
        # got a 502 was sent again within the replay. Only a request the receiver can
        # recognise (webhook-id, Idempotency-Key) is. A path (as ctx.http takes) replays
        # on the base_url; the failure keeps the receiver's words.
        self.p.workflow("keep", """\
steps:
  - id: keep
    task: lua
    integration: sn
    with:
      script: |
        ctx.dead_letter({integration = "sn", error = "create failed",
          request = {method = "POST", url = "/api/now/table/incident",
                     body = {short_description = "create me"}}})
        return "kept"
""")
        rc, doc, err = self.run_wf("keep")
        self.assertEqual(rc, 0, err)
        entry = json.loads(self.ferry("dlq", "list", "--json").stdout)[0]
        self.m.fault(method="POST", path="/api/now/table/incident", status=502,
                     body={"error": {"message": "upstream down for maintenance"}}, times=3)
        r = self.ferry("dlq", "replay", entry["id"])
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        posts = self.m.requests(path="/api/now/table/incident", method="POST")
        self.assertEqual(len(posts), 1, posts)
        listed = json.loads(self.ferry("dlq", "list", "--json").stdout)[0]
        self.assertIn("HTTP 502: ", listed["last_replay_error"])
        self.assertIn("upstream down for maintenance", listed["last_replay_error"])
        self.m.clear_faults()
        r = self.ferry("dlq", "replay", entry["id"])
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(len(self.m.requests(path="/api/now/table/incident", method="POST")), 2)
        self.assertEqual(json.loads(self.ferry("dlq", "list", "--json").stdout), [])

    def test_replay_goes_to_the_integrations_current_url(self):
        # The receiver was unreachable; ferry.yaml now points the integration at where it
        # moved. The replay goes there, signed afresh, never to the stale URL.
        import socket
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            gone = "http://127.0.0.1:%d" % s.getsockname()[1]
        good = (self.p.dir / "ferry.yaml").read_text()
        self.p.write("ferry.yaml", good.replace(self.m.url + "/webhook/siem", gone + "/webhook/siem"))
        self.p.workflow("w", self.WF)
        rc, doc, err = self.run_wf("w")
        self.assertEqual(rc, 0, err)
        self.assertEqual(doc["steps"]["emit"]["output"]["status"], "dead_lettered")
        entry = json.loads(self.ferry("dlq", "list", "--json").stdout)[0]
        self.p.write("ferry.yaml", good)
        r = self.ferry("dlq", "replay", entry["id"])
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        delivered = self.state()["webhooks"]
        self.assertEqual(len(delivered), 1)
        self.assertTrue(delivered[0]["valid"], delivered[0])
        self.assertEqual(delivered[0]["headers"]["webhook-id"], doc["steps"]["emit"]["output"]["webhook_id"])


class ExecutionEvents(TaskTest):
    """ferry.yaml `events:`: execution and step events as signed webhooks to a SIEM."""

    def setUp(self):
        super().setUp()
        self.m.config(auth=None)
        with open(self.p.dir / "ferry.yaml", "a") as f:
            f.write("events:\n"
                    "  - integration: hook\n"
                    "    types: [execution.finished, step.failed]\n")
        self.p.workflow("ok", "steps:\n  - {id: a, task: log, with: {message: hi}}\n")
        self.p.workflow("bad", "steps:\n  - {id: a, task: fail, with: {message: broken}}\n")

    def test_events_are_delivered_signed(self):
        rc, doc, err = self.run_wf("ok")
        self.assertEqual(rc, 0, err)
        rc, bad, err = self.run_wf("bad")
        self.assertEqual(rc, 1)
        deliveries = self.state()["webhooks"]
        events = [json.loads(d["body"]) for d in deliveries]
        self.assertTrue(all(d["valid"] for d in deliveries), deliveries)
        self.assertEqual(sorted((e["type"], e["data"]["execution_id"]) for e in events),
                         sorted([("execution.finished", doc["id"]),
                                 ("step.failed", bad["id"]),
                                 ("execution.finished", bad["id"])]))
        failed = [e for e in events if e["type"] == "step.failed"][0]
        self.assertEqual(failed["data"]["step"], "a")
        self.assertIn("broken", failed["data"]["message"])
        # A dry run sends nothing.
        self.run_wf("ok", "--dry-run")
        self.assertEqual(len(self.state()["webhooks"]), 3)
        # Delivered events leave nothing in the outbox for a later process to send.
        r = self.ferry("resume")
        self.assertEqual((r.returncode, r.stderr), (0, "ferry resume: nothing to resume\n"))

    def test_an_approval_waiting_can_be_subscribed_to(self):
        # step.waiting is what a chat or SIEM notice "a decision is needed" listens to: the
        # engine sent it to a subscription without types, but `types:` refused its name.
        text = (self.p.dir / "ferry.yaml").read_text()
        self.p.write("ferry.yaml", text.replace("types: [execution.finished, step.failed]",
                                                "types: [step.waiting]"))
        self.assertEqual(self.ferry("validate").returncode, 0)
        self.p.workflow("gate", "steps:\n  - {id: ok, task: approval, "
                                "with: {message: \"Reboot core-sw-01?\"}}\n")
        rc, doc, err = self.run_wf("gate")
        self.assertEqual(doc["status"], "waiting", err)
        events = [json.loads(d["body"]) for d in self.state()["webhooks"]]
        self.assertEqual([(e["type"], e["data"]["step"], e["data"]["message"]) for e in events],
                         [("step.waiting", "ok", "Reboot core-sw-01?")])
        # A server taking the waiting execution up again (its start) does not ask again: a
        # chat was told "a decision is needed" at every restart.
        with open(self.p.dir / "ferry.yaml", "a") as f:
            f.write(serve_util.tokens_yaml())
        server = serve_util.Server(te.FERRY, self.p.dir, self.p.data, env=self.env)
        try:
            status, shown = server.json("GET", "/api/v1/executions/" + doc["id"], role="viewer")
            self.assertEqual((status, shown["status"]), (200, "waiting"))
            time.sleep(0.3)
        finally:
            self.assertEqual(server.stop(), 0)
        self.assertEqual(len(self.state()["webhooks"]), 1)

    def test_an_integration_in_dry_run_sends_no_events(self):
        # `dry_run: true` on an integration "never sends, whatever the run says": events
        # went out through it all the same.
        text = (self.p.dir / "ferry.yaml").read_text()
        self.assertIn("  hook:\n    type: webhook\n", text)
        self.p.write("ferry.yaml", text.replace("  hook:\n    type: webhook\n",
                                                "  hook:\n    type: webhook\n    dry_run: true\n"))
        rc, doc, err = self.run_wf("bad")
        self.assertEqual(rc, 1, err)
        time.sleep(0.3)
        self.assertEqual(self.m.requests(path="/webhook/siem"), [])
        self.assertEqual(json.loads(self.ferry("dlq", "list", "--json").stdout), [])
        r = self.ferry("resume")  # nothing left in the outbox either
        self.assertEqual((r.returncode, r.stderr), (0, "ferry resume: nothing to resume\n"))

    def test_undeliverable_events_go_to_the_dlq(self):
        self.m.config(webhook_status=503)
        rc, doc, err = self.run_wf("ok")
        self.assertEqual(rc, 0, err)
        entries = json.loads(self.ferry("dlq", "list", "--json").stdout)
        self.assertEqual(len(entries), 1)
        self.assertEqual(entries[0]["source"], "events")
        self.assertEqual(entries[0]["event"], "execution.finished")
        # Dead-lettered, it left the outbox in the same commit.
        r = self.ferry("resume")
        self.assertEqual((r.returncode, r.stderr), (0, "ferry resume: nothing to resume\n"))
        self.m.config(webhook_status=204)
        r = self.ferry("dlq", "replay", entries[0]["id"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(self.state()["webhooks"][-1]["valid"])

    def test_event_deliveries_are_counted_in_metrics(self):
        # A dead-lettered event raised ferry_dlq_size but no failed delivery: an alert on
        # the failed count stayed silent while the SIEM feed was down.
        with open(self.p.dir / "ferry.yaml", "a") as f:
            f.write(serve_util.tokens_yaml())
        server = serve_util.Server(te.FERRY, self.p.dir, self.p.data, env=self.env)
        try:
            for webhook_status in (204, 503):
                self.m.config(webhook_status=webhook_status)
                status, doc = server.json("POST", "/api/v1/workflows/ok/executions?wait=10s",
                                          {"inputs": {}}, role="operator")
                self.assertEqual(status, 200, doc)
                deadline = time.monotonic() + 10
                while time.monotonic() < deadline:  # the delivery follows the execution's end
                    text = server.request("GET", "/metrics", role="viewer")[2].decode()
                    wanted = "status=\"%s\"" % ("delivered" if webhook_status == 204 else "failed")
                    # The dead letter is counted once its record is durable, a moment after
                    # the failed delivery (seen late under the sanitizers).
                    dead = webhook_status == 204 or "ferry_dlq_size 1\n" in text
                    if "source=\"events\"," + wanted in text and dead:
                        break
                    time.sleep(0.05)
            self.assertIn('ferry_webhook_deliveries_total{source="events",status="delivered"} 1\n',
                          text)
            self.assertIn('ferry_webhook_deliveries_total{source="events",status="failed"} 1\n',
                          text)
            self.assertIn("ferry_dlq_size 1\n", text)
        finally:
            server.stop()

    def test_a_stop_waits_for_event_deliveries_and_dead_letters_what_is_left(self):
        # Events were kept in memory only: a SIGTERM while a delivery was out (or waited
        # for its retry) dropped the event without a word, and no start sent it again.
        with open(self.p.dir / "ferry.yaml", "a") as f:
            f.write(serve_util.tokens_yaml() + "server: {shutdown_grace: 2s}\n")
        for delay_ms, lost in ((500, False), (6000, True)):
            with self.subTest(delay_ms=delay_ms):
                if lost:  # a first attempt answered 503, its retry held past the grace
                    self.m.fault(method="POST", path="/webhook/siem", status=503)
                self.m.fault(method="POST", path="/webhook/siem", delay_ms=delay_ms)
                seen = len(self.m.requests(path="/webhook/siem", method="POST")) + int(lost)
                server = serve_util.Server(te.FERRY, self.p.dir, self.p.data, env=self.env)
                try:
                    status, doc = server.json("POST", "/api/v1/workflows/ok/executions?wait=10s",
                                              {"inputs": {}}, role="operator")
                    self.assertEqual(status, 200, doc)
                    deadline = time.monotonic() + 10
                    while (len(self.m.requests(path="/webhook/siem", method="POST")) <= seen
                           and time.monotonic() < deadline):
                        time.sleep(0.02)
                finally:
                    self.assertEqual(server.stop(), 0)
                log = (self.p.dir / "serve.log").read_text()
                entries = json.loads(self.ferry("dlq", "list", "--json").stdout)
                if not lost:  # within the grace: delivered, nothing dead-lettered
                    self.assertEqual(entries, [])
                    self.assertNotIn("had not ended", log)
                    continue
                self.assertEqual(len(entries), 1, entries)
                self.assertEqual((entries[0]["source"], entries[0]["execution_id"]),
                                 ("events", doc["id"]))
                self.assertIn("the process stopped before the delivery ended", entries[0]["error"])
                # As a delivery given up on after its retries: how many went out, and how
                # the last one that got an answer went.
                self.assertIn("; the last answer: HTTP 503", entries[0]["error"])
                self.assertEqual(entries[0]["attempts"], 2)
                sent = self.m.requests(path="/webhook/siem", method="POST")[-1]
                self.assertEqual(entries[0]["webhook_id"], sent["headers"]["webhook-id"])
                self.assertIn("1 event delivery(ies) had not ended: put in the dead-letter queue",
                              log)
                r = self.ferry("resume")  # and not left in the outbox too
                self.assertEqual((r.returncode, r.stderr), (0, "ferry resume: nothing to resume\n"))

    def held_delivery(self, start):
        """Holds the next event delivery at the mock for 4 s, calls start() and returns once
        the delivery has reached the mock and the records before it are surely durable."""
        before = len(self.m.requests(path="/webhook/siem", method="POST"))
        self.m.fault(method="POST", path="/webhook/siem", delay_ms=4000)
        started = start()
        deadline = time.monotonic() + 20
        while (len(self.m.requests(path="/webhook/siem", method="POST")) == before
               and time.monotonic() < deadline):
            time.sleep(0.02)
        sent = self.m.requests(path="/webhook/siem", method="POST")
        self.assertEqual(len(sent), before + 1, "the event never came")
        time.sleep(0.3)  # the commit that carried the event's records and its outbox entry
        return started, sent[-1]["headers"]["webhook-id"]

    def deliveries_of(self, webhook_id, count, timeout=15):
        deadline = time.monotonic() + timeout
        while True:
            got = [d for d in self.m.requests(path="/webhook/siem", method="POST")
                   if d["headers"]["webhook-id"] == webhook_id]
            if len(got) >= count or time.monotonic() >= deadline:
                return got
            time.sleep(0.05)

    def run_killed_mid_delivery(self):
        """`ferry run ok`, killed (SIGKILL) while its event's delivery is held: the
        delivery's webhook-id."""
        cmd = [te.FERRY, "run", "ok", "--quiet", "--project", str(self.p.dir),
               "--data", str(self.p.data)]
        proc, webhook_id = self.held_delivery(lambda: subprocess.Popen(
            cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=str(self.p.dir),
            env=self.env))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        return webhook_id

    def test_an_event_a_killed_run_had_not_delivered_is_sent_by_resume(self):
        # Events were held in memory only: kill -9 between an execution's end and its
        # event's answer lost the event for good.
        webhook_id = self.run_killed_mid_delivery()
        r = self.ferry("resume", timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("redelivering 1 event(s) a stopped process had not delivered", r.stderr)
        again = self.deliveries_of(webhook_id, 2)
        self.assertEqual(len(again), 2, "sent once more, under the same webhook-id")
        event = json.loads(again[-1]["body"])
        self.assertEqual(event["type"], "execution.finished")
        self.assertEqual(again[0]["body"], again[-1]["body"])
        # Signed afresh: the receiver checks it as any delivery.
        deadline = time.monotonic() + 10
        while len(self.state()["webhooks"]) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertTrue(all(d["valid"] for d in self.state()["webhooks"]))
        self.assertEqual(json.loads(self.ferry("dlq", "list", "--json").stdout), [])
        # Delivered now: nothing left for the next resume.
        r = self.ferry("resume", timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("nothing to resume", r.stderr)
        time.sleep(0.3)
        self.assertEqual(len(self.deliveries_of(webhook_id, 3, timeout=0)), 2)

    def test_a_server_killed_mid_delivery_sends_the_event_at_its_next_start(self):
        with open(self.p.dir / "ferry.yaml", "a") as f:
            f.write(serve_util.tokens_yaml())
        first = None
        try:
            first, webhook_id = self.held_delivery(lambda: self._serve_and_run_ok())
            # A live process's delivery is its own: another process leaves it alone.
            r = self.ferry("resume", timeout=60)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("nothing to resume", r.stderr)
            self.assertNotIn("redelivering", r.stderr)
        finally:
            if first:
                first.stop(signal.SIGKILL)
        second = serve_util.Server(te.FERRY, self.p.dir, self.p.data, env=self.env)
        try:
            again = self.deliveries_of(webhook_id, 2)
            self.assertEqual(len(again), 2, "sent again at the next start, same webhook-id")
            log = (self.p.dir / "serve.log").read_text()
            self.assertIn("redelivering 1 event(s) a stopped process had not delivered", log)
            deadline = time.monotonic() + 10
            text = ""
            while time.monotonic() < deadline:
                text = second.request("GET", "/metrics", role="viewer")[2].decode()
                if 'source="events",status="delivered"} 1\n' in text:
                    break
                time.sleep(0.05)
            self.assertIn('ferry_webhook_deliveries_total{source="events",status="delivered"} 1\n',
                          text)
        finally:
            self.assertEqual(second.stop(), 0)
        # Its outbox entry went with the delivery: a third start sends nothing.
        third = serve_util.Server(te.FERRY, self.p.dir, self.p.data, env=self.env)
        try:
            time.sleep(0.5)
            self.assertEqual(len(self.deliveries_of(webhook_id, 3, timeout=0)), 2)
        finally:
            self.assertEqual(third.stop(), 0)

    def _serve_and_run_ok(self):
        server = serve_util.Server(te.FERRY, self.p.dir, self.p.data, env=self.env)
        status, doc = server.json("POST", "/api/v1/workflows/ok/executions?wait=10s",
                                  {"inputs": {}}, role="operator")
        self.assertEqual(status, 200, doc)
        return server

    def test_an_orphaned_event_whose_integration_cannot_send_is_dead_lettered(self):
        good = (self.p.dir / "ferry.yaml").read_text()
        changes = (
            ("no longer configured", lambda t: t.replace("  - integration: hook\n",
                                                         "  - integration: hook2\n")
             .replace("\n  hook:\n", "\n  hook2:\n")),
            ("in dry_run now", lambda t: t.replace("  hook:\n    type: webhook\n",
                                                   "  hook:\n    type: webhook\n    dry_run: true\n")),
        )
        for why, change in changes:
            with self.subTest(why=why):
                self.p.write("ferry.yaml", good)
                webhook_id = self.run_killed_mid_delivery()
                self.p.write("ferry.yaml", change(good))
                r = self.ferry("resume", timeout=60)
                self.assertEqual(r.returncode, 0, r.stderr)
                entries = [e for e in json.loads(self.ferry("dlq", "list", "--json").stdout)
                           if e["webhook_id"] == webhook_id]
                self.assertEqual(len(entries), 1, entries)
                self.assertEqual(entries[0]["source"], "events")
                self.assertIn("integration 'hook' is %s" % why, entries[0]["error"])

    def test_bad_subscriptions_are_validation_errors(self):
        with open(self.p.dir / "ferry.yaml", "a") as f:
            f.write("  - integration: sn\n  - integration: hook\n    types: [step.finsihed]\n")
        p = self.ferry("validate")
        self.assertEqual(p.returncode, 2)
        self.assertRegex(p.stdout, r"ferry\.yaml:\d+:\d+: events: integration 'sn' must be of "
                                   r"type webhook")
        self.assertRegex(p.stdout, r"unknown event type 'step\.finsihed'.*did you mean "
                                   r"'step\.finished'")


class Splunk(TaskTest):
    def setUp(self):
        super().setUp()
        self.m.config(auth={"type": "splunk", "token": "11111111-2222-3333-4444-555555555555"})

    def test_events_batched_in_one_request(self):
        self.p.workflow("s", """\
steps:
  - id: send
    task: siem.send
    integration: hec
    with:
      events: [{finding: a}, {finding: b}, {finding: c}]
      fields: {team: secops}
""")
        rc, doc, err = self.run_wf("s")
        self.assertEqual(rc, 0, err + json.dumps(doc)[:2000])
        self.assertEqual(doc["steps"]["send"]["output"]["sent"], 3)
        posts = self.m.requests(path="/services/collector/event")
        self.assertEqual(len(posts), 1)
        self.assertEqual(posts[0]["headers"]["authorization"],
                         "Splunk 11111111-2222-3333-4444-555555555555")
        events = self.state()["splunk"]
        self.assertEqual(len(events), 3)
        self.assertEqual(events[0]["index"], "security")
        self.assertEqual(events[0]["sourcetype"], "ferry:event")
        self.assertEqual(events[0]["fields"], {"team": "secops"})

    def test_the_event_time_is_epoch_seconds_however_it_is_written(self):
        # The docs: RFC 3339 or epoch seconds, as a number or as text (a payload read from
        # text); text seconds were refused. Milliseconds went out as a time in the year
        # 57970: now refused before anything is sent, with the likely cause.
        for given, expected in (("1767323045", 1767323045), ("1767323045.25", 1767323045.25),
                                ("1.7e9", 1.7e9), (" 12 ", 12),
                                (1767323045, 1767323045),
                                ("2026-01-02T03:04:05.5Z", 1767323045.5)):
            self.p.workflow("s", """\
steps:
  - {id: send, task: siem.send, integration: hec, with: {event: {a: 1}, time: %s}}
""" % json.dumps(given))
            rc, doc, err = self.run_wf("s")
            self.assertEqual(rc, 0, err + json.dumps(doc)[:2000])
            self.assertEqual(self.state()["splunk"][-1]["time"], expected, given)
        sent = len(self.m.requests(path="/services/collector/event"))
        for given, why in ((1767323045123, "(epoch milliseconds? divide by 1000)"),
                           (-5, "between 0 and 253402300799"),
                           ("yesterday", "must be an RFC 3339 time or epoch seconds"),
                           ("0x10", "must be an RFC 3339 time or epoch seconds"),
                           ("nan", "must be an RFC 3339 time or epoch seconds")):
            self.p.workflow("s", """\
steps:
  - {id: send, task: siem.send, integration: hec, with: {event: {a: 1}, time: %s}}
""" % json.dumps(given))
            rc, doc, err = self.run_wf("s")
            self.assertEqual(rc, 1, given)
            self.assertIn(why, doc["steps"]["send"]["error"]["message"])
        self.assertEqual(len(self.m.requests(path="/services/collector/event")), sent)

    def test_hec_error_codes_are_clear(self):
        self.p.workflow("s", """\
steps:
  - id: send
    task: siem.send
    integration: hec
    with: {event: {x: 1}, index: forbidden}
""")
        rc, doc, err = self.run_wf("s")
        self.assertEqual(rc, 1)
        msg = doc["steps"]["send"]["error"]["message"]
        self.assertIn("incorrect index", msg.lower())
        self.assertEqual(doc["steps"]["send"]["error"]["kind"], "http_4xx")

    def test_a_200_without_code_0_is_not_delivered(self):
        # Success is code 0, always present: a 200 from another service on the port (or a
        # proxy's JSON) was counted as sent, and the events were lost.
        self.p.workflow("s", """\
steps:
  - {id: send, task: siem.send, integration: hec, with: {events: [{a: 1}, {b: 2}]}}
""")
        for body in ("{}", '{"status": "ok"}', "[]"):
            self.m.fault(method="POST", path="/services/collector/event", status=200, body=body,
                         headers={"Content-Type": "application/json"}, times=1)
            rc, doc, err = self.run_wf("s")
            self.assertEqual(rc, 1, body + " " + json.dumps(doc)[:2000])
            error = doc["steps"]["send"]["error"]
            self.assertIn("without HEC's code 0", error["message"])
            self.assertIn("HTTP 200", error["message"])
        self.assertEqual(self.state()["splunk"], [])

    def test_events_that_are_not_text_or_an_object_are_refused_before_sending(self):
        # The notes: an event is text or an object, not blank. A number, a list or {} went
        # out, and a refusal in a later batch would repeat the earlier ones on a retry.
        for events, what in (("[{a: 1}, 5]", "events[1] is number"),
                             ("[{a: 1}, [1, 2]]", "events[1] is a list"),
                             ("[true]", "events[0] is boolean"),
                             ("[{a: 1}, {}]", "events[1] is empty"),
                             # The one `event` is named so, not as events[0].
                             ("EVENT {}", "siem.send: 'event' is empty"),
                             ("EVENT 5", "siem.send: 'event' is number")):
            given = ("event: " + events[6:]) if events.startswith("EVENT ") else \
                "events: " + events
            self.p.workflow("s", """\
steps:
  - {id: send, task: siem.send, integration: hec, with: {%s}}
""" % given)
            rc, doc, err = self.run_wf("s")
            self.assertEqual(rc, 1, events + " " + json.dumps(doc)[:2000])
            self.assertIn(what, doc["steps"]["send"]["error"]["message"])
        self.assertEqual(self.m.requests(path="/services/collector/event"), [])

    def test_indexer_acknowledgment_with_the_integrations_channel(self):
        # A token with indexer acknowledgment refuses events sent without a data channel
        # (code 10); the integration's `channel` goes with every batch, and the ackIds
        # come back as ack_ids.
        self.m.config(splunk_ack=True)
        self.p.workflow("s", """\
steps:
  - {id: send, task: siem.send, integration: hec, with: {events: [{a: 1}, {b: 2}]}}
""")
        rc, doc, err = self.run_wf("s")
        self.assertEqual(rc, 1)
        self.assertIn("data channel is missing", doc["steps"]["send"]["error"]["message"])
        channel = "0aeeac95-ac74-4aa9-b30d-6c4c0ac581ba"
        self.p.write("ferry.yaml", sn_yaml(self.m.url).replace(
            "    index: security\n", "    index: security\n    channel: %s\n" % channel))
        rc, doc, err = self.run_wf("s")
        self.assertEqual(rc, 0, err + json.dumps(doc)[:2000])
        self.assertEqual(doc["steps"]["send"]["output"], {"sent": 2, "status": 200, "ack_ids": [0]})
        post = self.m.requests(path="/services/collector/event")[-1]
        self.assertEqual(post["headers"]["x-splunk-request-channel"], channel)
        # Acknowledgments belong to the channel: the documented poll, an http.request step
        # through the same integration, carries it too (HEC answered it "data channel is
        # missing" when only siem.send set the header).
        self.p.workflow("s", """\
steps:
  - {id: send, task: siem.send, integration: hec, with: {events: [{a: 1}]}}
  - id: ack
    task: http.request
    integration: hec
    with: {method: POST, path: /services/collector/ack, json: {acks: "{{ steps.send.output.ack_ids }}"}}
""")
        rc, doc, err = self.run_wf("s")
        self.assertEqual(rc, 0, err + json.dumps(doc)[:2000])
        self.assertEqual(doc["steps"]["ack"]["output"]["json"], {"acks": {"1": True}})
        poll = self.m.requests(path="/services/collector/ack")[-1]
        self.assertEqual(poll["headers"]["x-splunk-request-channel"], channel)
        # A channel that is not a GUID is a configuration error.
        self.p.write("ferry.yaml", sn_yaml(self.m.url).replace(
            "    index: security\n", "    index: security\n    channel: ops-1\n"))
        p = self.ferry("validate")
        self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
        self.assertIn("channel must be a GUID", p.stdout + p.stderr)


class StatusSync(TaskTest):
    """on_step: the ticket a workflow created gets a work note (ServiceNow) or a comment
    (Jira) as each later step finishes."""

    WORK = """\
  - id: analyze
    task: lua
    with: {script: "return {cause = 'disk full'}"}
  - id: remediate
    task: lua
    needs: analyze
    with: {script: "return {done = true}"}
  - id: skipped_fix
    task: lua
    when: "{{ false }}"
    with: {script: "return {}"}
"""

    def test_servicenow_work_notes_as_steps_progress(self):
        self.p.workflow("sync", """\
steps:
  - id: create
    task: ticket.create
    integration: sn
    with: {fields: {short_description: "Disk full on db01"}}
""" + self.WORK + """\
on_step:
  - task: ticket.update
    integration: sn
    when: "{{ event.status == 'succeeded' }}"
    with:
      id: "{{ steps.create.output.id }}"
      work_note: "Ferry: step {{ event.step }} {{ event.status }} ({{ event.output | tojson }})"
""")
        rc, doc, err = self.run_wf("sync")
        self.assertEqual(rc, 0, err + json.dumps(doc)[:2000])
        steps = doc["steps"]
        # One generated step per step the entry does not itself read (create is read).
        self.assertEqual(sorted(k for k in steps if k.endswith(".on_step")),
                         ["analyze.on_step", "remediate.on_step", "skipped_fix.on_step"])
        self.assertEqual(steps["skipped_fix.on_step"]["status"], "skipped")
        sys_id = steps["create"]["output"]["id"]
        journal = self.state()["servicenow"]["sys_journal_field"]
        notes = sorted(e["value"] for e in journal
                       if e["element_id"] == sys_id and e["element"] == "work_notes")
        self.assertEqual(notes, [
            'Ferry: step analyze succeeded ({"cause": "disk full"})',
            'Ferry: step remediate succeeded ({"done": true})'])

    def test_jira_comments_on_listed_steps_and_a_failed_note_does_not_fail_the_run(self):
        self.p.workflow("sync", """\
steps:
  - id: create
    task: ticket.create
    integration: jira
    with: {summary: "Disk full on db01"}
""" + self.WORK + """\
on_step:
  - steps: [analyze]
    task: ticket.update
    integration: jira
    with: {key: "{{ steps.create.output.key }}", comment: "analysis: {{ event.output.cause }}"}
  - steps: remediate
    task: ticket.update
    integration: jira
    with: {key: "NOPE-1", comment: "this issue does not exist"}
""")
        rc, doc, err = self.run_wf("sync")
        self.assertEqual(rc, 0, err + json.dumps(doc)[:2000])
        self.assertEqual(doc["status"], "succeeded")
        self.assertEqual(doc["steps"]["analyze.on_step"]["status"], "succeeded")
        # The second entry's step: failed (no such issue) without failing the execution.
        self.assertEqual(doc["steps"]["remediate.on_step2"]["status"], "failed")
        issues = self.state()["jira"]["issues"]
        self.assertEqual(len(issues), 1)
        self.assertEqual(json.dumps(issues[0]["comments"]).count("analysis: disk full"), 1)
        self.assertEqual(len(issues[0]["comments"]), 1)

    def test_a_failed_step_gets_its_note_and_the_execution_still_fails(self):
        # The failure is what the ticket most needs to hear about: the note of a failed step
        # runs (event.error says why) although the execution is failing; the steps the
        # failure cancels get none.
        self.p.workflow("sync", """\
steps:
  - id: create
    task: ticket.create
    integration: sn
    with: {fields: {short_description: "Disk full on db01"}}
  - id: analyze
    task: lua
    needs: create
    with: {script: "error('analysis backend down')"}
  - id: remediate
    task: lua
    needs: analyze
    with: {script: "return {}"}
on_step:
  - task: ticket.update
    integration: sn
    with:
      id: "{{ steps.create.output.id }}"
      work_note: "Ferry: step {{ event.step }} {{ event.status }}{% if event.error %}: {{ event.error.kind }}{% endif %}"
""")
        rc, doc, err = self.run_wf("sync")
        self.assertEqual(rc, 1, err + json.dumps(doc)[:2000])
        self.assertEqual(doc["status"], "failed")
        self.assertEqual(doc["error"]["step"], "analyze")
        steps = doc["steps"]
        self.assertEqual(steps["analyze.on_step"]["status"], "succeeded")
        self.assertEqual(steps["remediate"]["status"], "cancelled")
        self.assertEqual(steps["remediate.on_step"]["status"], "cancelled")
        sys_id = steps["create"]["output"]["id"]
        journal = self.state()["servicenow"]["sys_journal_field"]
        notes = [e["value"] for e in journal
                 if e["element_id"] == sys_id and e["element"] == "work_notes"]
        self.assertEqual(notes, ["Ferry: step analyze failed: lua_error"])

    def test_resume_posts_each_note_once(self):
        # A note already posted before a crash is not posted again: generated steps are
        # ordinary steps, recorded and skipped on resume like any completed step.
        self.p.workflow("sync", """\
steps:
  - id: create
    task: ticket.create
    integration: sn
    with: {fields: {short_description: "Resume"}}
  - id: analyze
    task: lua
    with: {script: "return {}"}
  - id: wait
    task: sleep
    needs: analyze
    with: {duration: 3s}
on_step:
  - steps: [analyze, wait]
    task: ticket.update
    integration: sn
    with: {id: "{{ steps.create.output.id }}", work_note: "{{ event.step }} done"}
""")
        import signal
        import subprocess
        cmd = [te.FERRY, "run", "sync", "--quiet", "--project", str(self.p.dir),
               "--data", str(self.p.data)]
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                cwd=str(self.p.dir), env=self.env)
        try:
            deadline = time.time() + 20
            posted = False
            while time.time() < deadline and not posted:
                recs = self.state()["servicenow"].get("sys_journal_field", [])
                posted = any(e["value"] == "analyze done" for e in recs)
                time.sleep(0.05)
            self.assertTrue(posted, "the first note was posted")
            time.sleep(0.5)  # its result is committed well within the 3 s sleep
        finally:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        r = self.ferry("resume", "--quiet")
        self.assertEqual(r.returncode, 0, r.stderr + r.stdout[:2000])
        self.assertEqual(json.loads(r.stdout.splitlines()[0])["status"], "succeeded")
        notes = [e["value"] for e in self.state()["servicenow"]["sys_journal_field"]]
        self.assertEqual(sorted(notes), ["analyze done", "wait done"])


class BundledScenarios(unittest.TestCase):
    """Each bundled scenario runs offline with --dry-run from the repository project."""

    CASES = [
        ("rca-to-ticket", "workflows/samples/rca.json"),
        ("rca-to-ticket", "workflows/samples/rca-jira.json"),
        ("compliance-finding", "workflows/samples/compliance-finding.json"),
        ("cert-expiry-reminder", "workflows/samples/certificates.json"),
        ("change-request", "workflows/samples/change-request.json"),
        ("cmdb-sync", "workflows/samples/inventory.json"),
    ]

    def test_dry_run_of_each_scenario(self):
        import subprocess
        import tempfile
        data = tempfile.mkdtemp(prefix="ferry-scn-")
        try:
            for wf, sample in self.CASES:
                with self.subTest(workflow=wf, sample=sample):
                    p = subprocess.run([te.FERRY, "run", wf, "--dry-run", "--quiet",
                                        "--inputs-file", sample, "--data", data],
                                       cwd=str(REPO), capture_output=True, text=True,
                                       timeout=te.TIMEOUT, env={"PATH": os.environ["PATH"]})
                    self.assertEqual(p.returncode, 0, p.stderr + p.stdout[:2000])
                    doc = json.loads(p.stdout)
                    previews = [s["output"] for s in doc["steps"].values()
                                if isinstance(s.get("output"), dict) and s["output"].get("dry_run")]
                    self.assertTrue(previews, "some step previews a request")
                    for pv in previews:
                        self.assertNotIn("${env:", json.dumps(pv))
        finally:
            import shutil
            shutil.rmtree(data, ignore_errors=True)

    # ---- the scenarios sent for real, against one mock (no auth: it takes every vendor) ----

    def live(self, mock_config=None):
        """A copy of the repository's workflows/, templates/ and ferry.yaml with every
        integration pointed at a fresh mock: (project, mock, env)."""
        import re
        import shutil
        proj = te.Project()
        self.addCleanup(proj.remove)
        shutil.rmtree(proj.dir / "workflows")
        shutil.copytree(REPO / "workflows", proj.dir / "workflows")
        shutil.copytree(REPO / "templates", proj.dir / "templates")
        m = ti.start_mock(dict({"servicenow_tables": ["cmdb_ci_server"]}, **(mock_config or {})))
        self.addCleanup(m.stop)
        y = (REPO / "ferry.yaml").read_text()
        y = re.sub(r"(base_url: )https://\S+", r"\g<1>" + m.url, y)
        y = re.sub(r"(url: )https://siem\.example/ingest", r"\g<1>" + m.url + "/webhook/siem", y)
        proj.write("ferry.yaml", y)
        env = dict(os.environ, SERVICENOW_PASSWORD="snpass", JIRA_API_TOKEN="jiratok",
                   SPLUNK_HEC_TOKEN="11111111-2222-3333-4444-555555555555",
                   WEBHOOK_SECRET=WEBHOOK_SECRET)
        return proj, m, env

    def run_live(self, proj, env, wf, *args):
        """`ferry run WF ARGS` in the project: (exit code, execution JSON or None, stderr)."""
        p = subprocess.run([te.FERRY, "run", wf, "--quiet", *args, "--project", str(proj.dir),
                            "--data", str(proj.data)], capture_output=True, text=True,
                           timeout=te.TIMEOUT, cwd=str(proj.dir), env=env)
        try:
            doc = json.loads(p.stdout) if p.stdout.strip() else None
        except ValueError:
            doc = None
        return p.returncode, doc, p.stderr

    @staticmethod
    def posts(m, path):
        """The POSTs to exactly `path` (requests() filters by prefix)."""
        return [r for r in m.requests(path=path, method="POST") if r["path"] == path]

    def test_a_finding_or_an_rca_run_twice_finds_its_ticket(self):
        proj, m, env = self.live()
        cf = str(REPO / "workflows/samples/compliance-finding.json")
        first = self.run_live(proj, env, "compliance-finding", "--inputs-file", cf)
        self.assertEqual(first[0], 0, first[2] + json.dumps(first[1])[:2000])
        second = self.run_live(proj, env, "compliance-finding", "--inputs-file", cf)
        self.assertEqual(second[0], 0, second[2] + json.dumps(second[1])[:2000])
        self.assertEqual(first[1]["outputs"]["ticket"], second[1]["outputs"]["ticket"])
        self.assertFalse(second[1]["steps"]["issue"]["output"]["created"])
        self.assertEqual(len(self.posts(m, "/rest/api/3/issue")), 1)
        # The repeat is said on the issue (a closed one shows its fix did not hold), and is
        # no new ticket to the SIEM.
        self.assertEqual(first[1]["steps"]["again"]["status"], "skipped")
        comments = self.posts_under(m, "/rest/api/3/issue/", "/comment")
        self.assertEqual(len(comments), 1, comments)
        self.assertIn("Reported again by the scanner", json.dumps(comments[0]))
        events = [json.loads(line)["event"]["action"] for r in m.requests(path="/services/collector")
                  for line in r["body"].splitlines() if line.strip()]
        self.assertEqual(events, ["ticket_opened", "ticket_found"])
        # The same RCA (its incident_id) posted again under another execution, both platforms.
        for sample, step, path in (("rca.json", "incident", "/api/now/table/incident"),
                                   ("rca-jira.json", "issue", "/rest/api/3/issue")):
            with self.subTest(sample=sample):
                before = len(self.posts(m, path))
                f = str(REPO / "workflows/samples" / sample)
                runs = [self.run_live(proj, env, "rca-to-ticket", "--inputs-file", f)
                        for _ in range(2)]
                for rc, doc, err in runs:
                    self.assertEqual(rc, 0, err + json.dumps(doc)[:2000])
                self.assertEqual(runs[0][1]["outputs"]["ticket"], runs[1][1]["outputs"]["ticket"])
                self.assertEqual(runs[1][1]["outputs"]["created"], False)
                self.assertEqual(len(self.posts(m, path)) - before, 1)
                # The SIEM hears of the ticket found as that, not as one more created.
                types = [json.loads(r["body"])["type"] for r in m.requests(path="/webhook/siem")]
                self.assertEqual(types[-2:], ["ticket.created", "ticket.found"])

    def test_a_finding_back_after_its_issue_was_closed_reopens_it_when_asked(self):
        import base64
        proj, m, env = self.live()
        cf = str(REPO / "workflows/samples/compliance-finding.json")
        rc, first, err = self.run_live(proj, env, "compliance-finding", "--inputs-file", cf)
        self.assertEqual(rc, 0, err)
        key = first["outputs"]["ticket"]
        auth = {"Authorization": "Basic " + base64.b64encode(
            b"integration@company.com:jiratok").decode()}
        for tid in ("21", "31"):  # Start Progress, then Done
            r = m.call("POST", "/rest/api/3/issue/%s/transitions" % key,
                       json_body={"transition": {"id": tid}}, headers=auth)
            self.assertEqual(r.status, 204, r.body)
        status = lambda: self.state_of(m)["jira"]["issues"][0]["status"]  # noqa: E731
        # Without reopen_to: said on the issue only, as before.
        rc, second, err = self.run_live(proj, env, "compliance-finding", "--inputs-file", cf)
        self.assertEqual(rc, 0, err)
        self.assertEqual(second["steps"]["reopen"]["status"], "skipped")
        self.assertEqual(status(), "Done")
        # With it: the issue goes back to the status named, and the comment says so.
        rc, third, err = self.run_live(proj, env, "compliance-finding", "--inputs-file", cf,
                                       "--input", "reopen_to=To Do")
        self.assertEqual(rc, 0, err + json.dumps(third)[:2000])
        self.assertEqual(third["steps"]["reopen"]["status"], "succeeded")
        self.assertEqual(status(), "To Do")
        comments = self.posts_under(m, "/rest/api/3/issue/", "/comment")
        self.assertIn("while this issue is Done: moved back to To Do", json.dumps(comments[-1]))
        events = [json.loads(line)["event"] for r in m.requests(path="/services/collector")
                  for line in r["body"].splitlines() if line.strip()]
        self.assertEqual(events[-1]["ticket_status"], "To Do")
        # An open issue is not moved: the finding is said on it only.
        rc, fourth, err = self.run_live(proj, env, "compliance-finding", "--inputs-file", cf,
                                        "--input", "reopen_to=To Do")
        self.assertEqual(rc, 0, err)
        self.assertEqual(fourth["steps"]["reopen"]["status"], "skipped")
        self.assertEqual(len(self.posts(m, "/rest/api/3/issue")), 1)

    def test_a_dead_lettered_event_is_not_reported_as_sent(self):
        proj, m, env = self.live({"webhook_status": 410})
        for sample in ("rca.json", "rca-jira.json"):
            with self.subTest(sample=sample):
                rc, doc, err = self.run_live(proj, env, "rca-to-ticket", "--inputs-file",
                                             str(REPO / "workflows/samples" / sample))
                self.assertEqual(rc, 0, err + json.dumps(doc)[:2000])
                self.assertEqual(doc["outputs"]["notified"], "dead_lettered")
        state = self.state_of(m)
        notes = [e["value"] for e in state["servicenow"]["sys_journal_field"]]
        comments = [json.dumps(c) for c in self.posts_under(m, "/rest/api/3/issue/", "/comment")]
        self.assertEqual(len(notes), 1, notes)
        self.assertEqual(len(comments), 1, comments)
        for text in notes + comments:
            self.assertIn("not sent to the SIEM (kept in the dead-letter queue", text)
            self.assertNotIn("sent to the SIEM (dead_lettered)", text)
        # An RCA without an incident_id still opens its ticket (no key of its own).
        rc, doc, err = self.run_live(proj, env, "rca-to-ticket", "--input",
                                     'rca={"title": "No id", "severity": "low"}')
        self.assertEqual(rc, 0, err + json.dumps(doc)[:2000])
        self.assertTrue(doc["outputs"]["created"])

    @staticmethod
    def state_of(m):
        return m.state()

    @staticmethod
    def posts_under(m, prefix, suffix):
        """The bodies of the POSTs to PREFIX...SUFFIX."""
        return [json.loads(r["body"]) for r in m.requests(path=prefix, method="POST")
                if r["path"].endswith(suffix)]

    def test_a_missing_required_field_fails_before_anything_is_sent(self):
        proj, m, env = self.live()
        cases = [
            ("compliance-finding", 'finding={"rule": {"id": "R1"}, "host": "h"}',
             "finding.rule.title: required"),
            ("compliance-finding", 'finding={"rule": {"title": "T"}, "host": "h"}',
             "finding.rule.id: required"),
            ("compliance-finding", 'finding={"rule": {"id": "R1", "title": "T"}, "host": " "}',
             "finding.host: required"),
            ("compliance-finding", 'finding={"rule": "R1", "host": "h"}',
             "finding.rule.id, finding.rule.title: required"),
            ("cert-expiry-reminder", 'certificates=[{"host": "a.example"}]',
             "certificates[0].not_after: required"),
            ("cert-expiry-reminder",
             'certificates=[{"host": "a", "not_after": "2027-01-01"}, {"not_after": "2026-12-10"}]',
             "certificates[1].host: required"),
            ("rca-to-ticket", 'rca={"severity": "high"}', "rca.title: required"),
            ("rca-to-ticket", 'rca={"title": "  ", "severity": "high"}', "rca.title: required"),
        ]
        # A rule id of 0 is one (the check tested truthiness).
        rc, doc, err = self.run_live(proj, env, "compliance-finding", "--dry-run", "--input",
                                     'finding={"rule": {"id": 0, "title": "T"}, "host": "h"}')
        self.assertEqual(rc, 0, err + json.dumps(doc)[:2000])
        for wf, inp, message in cases:
            with self.subTest(workflow=wf, input=inp):
                args = ["--input", inp]
                if wf == "rca-to-ticket":
                    args += ["--input", "platform=jira"]
                rc, doc, err = self.run_live(proj, env, wf, *args)
                self.assertEqual(rc, 1, err + json.dumps(doc)[:2000])
                self.assertEqual(doc["error"]["step"], "check")
                self.assertTrue(doc["error"]["message"].startswith(message), doc["error"])
        self.assertEqual(m.requests(), [])

    def test_certificate_reminders_word_the_days(self):
        import datetime
        now = datetime.datetime.now(datetime.timezone.utc)
        hour = datetime.timedelta(hours=1)

        def cert(host, hours):
            return {"host": host, "not_after": (now + hours * hour).strftime("%Y-%m-%dT%H:%M:%SZ")}
        certs = [cert("gone", -1), cert("day", -32), cert("old", -80), cert("soon", 5),
                 cert("one", 36), cert("week", 24 * 7 + 12)]
        data = tempfile.mkdtemp(prefix="ferry-scn-")
        self.addCleanup(shutil.rmtree, data, True)
        p = subprocess.run([te.FERRY, "run", "cert-expiry-reminder", "--dry-run", "--quiet",
                            "--input", "certificates=" + json.dumps(certs), "--data", data],
                           cwd=str(REPO), capture_output=True, text=True, timeout=te.TIMEOUT)
        self.assertEqual(p.returncode, 0, p.stderr + p.stdout[:2000])
        got = {c["host"]: c["when"] for c in json.loads(p.stdout)["outputs"]["expiring"]}
        self.assertEqual(got, {"gone": "expired today", "day": "expired 1 day ago",
                               "old": "expired 3 days ago", "soon": "expires today",
                               "one": "expires in 1 day", "week": "expires in 7 days"})

    def test_change_request_window_and_fields_are_what_the_record_gets(self):
        proj, m, env = self.live()
        form = self.sample_json("change-request.json")
        # A valid 90-minute window given with two offsets; then one that really ends first.
        for start, end, inverted in (("2024-06-01T22:00:00+02:00", "2024-06-01T21:30:00Z", False),
                                     ("2024-06-01T21:00:00Z", "2024-06-01T22:30:00+02:00", True)):
            with self.subTest(start=start, end=end):
                inputs = dict(form, window_start=start, window_end=end)
                path = proj.write("cr.json", json.dumps(inputs))
                rc, doc, err = self.run_live(proj, env, "change-request", "--inputs-file", str(path))
                self.assertEqual(rc, 0, err + json.dumps(doc)[:2000])
                body = json.loads(self.posts(m, "/api/now/table/change_request")[-1]["body"])
                # Not the RCA incident defaults of servicenow-prod.
                self.assertNotIn("category", body)
                self.assertNotIn("assignment_group", body)
                text = body["description"]
                row = "| %s | %s | UTC |" % (body["start_date"], body["end_date"])
                self.assertIn(row, text)
                self.assertEqual("Check the window" in text, inverted, text)
                # No impact or urgency the record does not get.
                self.assertNotIn("impact", text.lower())
                self.assertNotIn("urgency", text.lower())
                self.assertIn("- **Priority:** High", text)

    def sample_json(self, name):
        return json.loads((REPO / "workflows" / "samples" / name).read_text())

    RCA_CREATES = {"servicenow": "/api/now/table/incident", "jira": "/rest/api/3/issue"}

    def rca_create_body(self, live, rca, platform):
        """Runs rca-to-ticket with `rca` on `platform` in `live` (self.live()): the body of
        the create it sent."""
        proj, m, env = live
        rc, doc, err = self.run_live(proj, env, "rca-to-ticket", "--input",
                                     "rca=" + json.dumps(rca), "--input", "platform=" + platform)
        self.assertEqual(rc, 0, err + json.dumps(doc)[:2000])
        return json.loads(self.posts(m, self.RCA_CREATES[platform])[-1]["body"])

    def test_list_sections_given_as_text_keep_their_text(self):
        rca = {"title": "Text lists", "severity": "low",
               "timeline": ["08:00 deploy", "08:10 alert", None, "  "],
               "evidence": "log line one", "remediation": ["Add timeout", "Split pool"]}
        proj, m, env = live = self.live()
        for platform in self.RCA_CREATES:
            with self.subTest(platform=platform):
                body = json.dumps(self.rca_create_body(live, rca, platform))
                for text in ("08:00 deploy", "08:10 alert", "log line one", "Add timeout",
                             "Split pool"):
                    self.assertIn(text, body)
                self.assertNotIn("(no description)", body)
        # A plain text is one row, not one per character.
        rc, doc, err = self.run_live(proj, env, "rca-to-ticket", "--input", "rca=" + json.dumps(
            dict(rca, timeline="not a list", remediation="fix")))
        self.assertEqual(rc, 0, err + json.dumps(doc)[:2000])
        text = json.loads(self.posts(m, "/api/now/table/incident")[-1]["body"])["description"]
        self.assertIn("| 1 |  | not a list |", text)
        self.assertNotIn("| 2 |", text.split("## Remediation")[0])
        self.assertIn("0 of 1 action complete.", text)
        self.assertIn("| 1 | fix |", text)
        # compliance-finding: blank, multi-line and object evidence items; a blank remediation.
        finding = {"rule": {"id": "R1", "title": "T"}, "host": "h", "remediation": "   ",
                   "evidence": ["  ", "multi\nline evidence", {"path": "/etc/x", "line": 3}]}
        rc, doc, err = self.run_live(proj, env, "compliance-finding", "--input",
                                     "finding=" + json.dumps(finding))
        self.assertEqual(rc, 0, err + json.dumps(doc)[:2000])
        text = doc["steps"]["text"]["output"]["text"]
        self.assertIn("Evidence:\n- multi line evidence\n- line: 3, path: /etc/x\n\n", text)
        self.assertNotIn("Remediation", text)
        self.assertNotIn("\n- \n", text)

    def test_cmdb_sync_reports_what_its_creates_did(self):
        proj, m, env = self.live()
        inv = str(REPO / "workflows/samples/inventory.json")
        rc, doc, err = self.run_live(proj, env, "cmdb-sync", "--inputs-file", inv)
        self.assertEqual(rc, 0, err + json.dumps(doc)[:2000])
        first = doc["outputs"]["created"]
        self.assertIn("web-01", first)
        # Someone renames the CI the sync created: its key still finds it.
        rec = [r for r in m.state()["servicenow"]["cmdb_ci_server"] if r["name"] == "web-01"][0]
        auth = "Basic " + base64.b64encode(b"svc_ferry:snpass").decode()
        reply = m.call("PATCH", "/api/now/table/cmdb_ci_server/" + rec["sys_id"],
                       headers={"Authorization": auth}, json_body={"name": "web-01-retired"})
        self.assertEqual(reply.status, 200, reply.text)
        for _ in range(2):
            rc, doc, err = self.run_live(proj, env, "cmdb-sync", "--inputs-file", inv)
            self.assertEqual(rc, 0, err + json.dumps(doc)[:2000])
            out = doc["outputs"]
            self.assertEqual(out["created"], [])
            self.assertEqual([(s["name"], s["record"]) for s in out["skipped"]],
                             [("web-01", rec["sys_id"])])
            self.assertIn("now named 'web-01-retired'", out["skipped"][0]["reason"])
            self.assertEqual(out["unchanged"], len(first) - 1)
        names = sorted(r["name"] for r in m.state()["servicenow"]["cmdb_ci_server"])
        self.assertEqual(names, sorted(["web-01-retired"] + [n for n in first if n != "web-01"]))

    def test_ticket_text_states_no_priority_the_mappings_may_change(self):
        proj, m, env = self.live()
        y = (proj.dir / "ferry.yaml").read_text()
        y = y.replace("    project_key: OPS\n", "    project_key: OPS\n"
                      "    mappings: {priority: {critical: High}}\n", 1)
        y = y.replace("    table: incident\n", "    table: incident\n"
                      "    mappings: {priority: {critical: \"2\"}, impact: {critical: \"2\"}}\n", 1)
        proj.write("ferry.yaml", y)
        for platform, path in (("jira", "/rest/api/3/issue"),
                               ("servicenow", "/api/now/table/incident")):
            with self.subTest(platform=platform):
                rc, doc, err = self.run_live(proj, env, "rca-to-ticket", "--input",
                                             'rca={"title": "map test", "severity": "critical"}',
                                             "--input", "platform=" + platform)
                self.assertEqual(rc, 0, err + json.dumps(doc)[:2000])
                body = json.loads(self.posts(m, path)[-1]["body"])
                fields = body.get("fields", body)
                self.assertEqual(fields["priority"], {"name": "High"} if platform == "jira" else "2")
                text = json.dumps(fields["description"])
                for wrong in ("Priority", "Highest", "1 - Critical", "impact 1"):
                    self.assertNotIn(wrong, text)

    def test_white_space_in_the_title_and_the_incident_id_is_folded(self):
        rca = {"title": "Minimal\nRCA\twith  breaks", "severity": "low", "incident_id": "RCA\t1 x"}
        live = self.live()
        for platform in self.RCA_CREATES:
            with self.subTest(platform=platform):
                body = self.rca_create_body(live, rca, platform)
                if platform == "servicenow":
                    self.assertEqual(body["short_description"], "Minimal RCA with breaks")
                else:
                    self.assertIn("rca-1-x", body["fields"]["labels"])

    def test_documented_schedule_and_hook_examples_validate(self):
        import re
        proj = te.Project()
        self.addCleanup(proj.remove)
        shutil.rmtree(proj.dir / "workflows")
        shutil.copytree(REPO / "workflows", proj.dir / "workflows")
        api = (REPO / "docs/api.md").read_text()
        schedules = api.split("## Schedules\n\n```yaml\n# ferry.yaml\n", 1)[1].split("```", 1)[0]
        header = (REPO / "workflows/cmdb-sync.yaml").read_text().split("\nname:", 1)[0]
        hook = re.search(r"^#   (hooks:\n(?:#     .*\n)+)", header, re.M)
        self.assertIsNotNone(hook, "cmdb-sync.yaml shows the hooks: mapping discovery posts to")
        hook = re.sub(r"^#   ", "", hook.group(1), flags=re.M)
        # The repository's ferry.yaml (its integrations), with these hooks and schedules.
        base = (REPO / "ferry.yaml").read_text().split("\nhooks:\n", 1)[0]
        proj.write("ferry.yaml", base + "\n" + hook + schedules)
        p = proj.ferry("validate")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("no problems", p.stdout + p.stderr)


if __name__ == "__main__":
    sys.exit(te.run_tests(sys.modules[__name__], sys.argv))
