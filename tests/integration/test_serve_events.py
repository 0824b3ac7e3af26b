#!/usr/bin/env python3
"""Integration tests of `ferry serve`'s live events (Server-Sent Events), cancel and retry,
and ferry.yaml schedules, with a real HTTP client against the real binary.

    python3 tests/integration/test_serve_events.py path/to/ferry [TestName ...]

Every wait is bounded: socket timeouts on streams, deadlines on polls, and the server is
stopped by its PID (SIGTERM, bounded wait, then SIGKILL).
"""
import http.client
import json
import os
import socket
import subprocess
import sys
import time
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import test_engine as te  # noqa: E402
from serve_util import TOKENS, Server, tokens_yaml  # noqa: E402

HELLO = """\
inputs: {name: {type: string, required: true}}
steps:
  - id: greet
    task: transform
    with:
      data: {n: "{{ inputs.name }}"}
      mappings: [{source: n, target: greeting, transform: uppercase}]
outputs: {greeting: "{{ steps.greet.output.greeting }}"}
"""
SLOW = """\
inputs: {pause: {type: string, default: 300ms}}
steps:
  - {id: wait, task: sleep, with: {duration: "{{ inputs.pause }}"}}
  - {id: done, task: log, needs: [wait], with: {message: done}}
"""


class Stream:
    """One SSE connection; next() gives {"id", "event", "data"} or None at the end."""

    def __init__(self, server, path, last_id=None, role="viewer", timeout=10):
        self.conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=timeout)
        headers = {"Accept": "text/event-stream"}
        if role:
            headers["Authorization"] = "Bearer " + TOKENS[role]
        if last_id is not None:
            headers["Last-Event-ID"] = str(last_id)
        self.conn.request("GET", path, headers=headers)
        self.r = self.conn.getresponse()
        self.status = self.r.status
        self.content_type = self.r.getheader("Content-Type", "")
        self.comments = []

    def next(self):
        ev = {}
        while True:
            line = self.r.readline()
            if not line:
                return None
            line = line.decode().rstrip("\r\n")
            if not line:
                if "event" in ev:
                    ev["id"] = int(ev["id"])
                    ev["data"] = json.loads(ev["data"])
                    return ev
                ev = {}
                continue
            if line.startswith(":"):
                self.comments.append(line)
                continue
            key, _, value = line.partition(":")
            ev[key] = value[1:] if value.startswith(" ") else value

    def until(self, stop, limit=200):
        out = []
        for _ in range(limit):
            ev = self.next()
            if ev is None:
                break
            out.append(ev)
            if stop(ev):
                break
        return out

    def close(self):
        self.conn.close()


def wait_for(check, timeout=10, step=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(step)
    return check()


class ServeEventsTest(unittest.TestCase):
    CONFIG = ""

    def setUp(self):
        self.p = te.Project()
        self.p.write("ferry.yaml", tokens_yaml() + self.CONFIG)
        self.p.workflow("hello", HELLO)
        self.p.workflow("slow", SLOW)
        self.s = Server(te.FERRY, self.p.dir, self.p.data)

    def tearDown(self):
        self.s.stop()
        self.p.remove()

    def start(self, wf, inputs, query=""):
        status, body = self.s.json("POST", "/api/v1/workflows/%s/executions%s" % (wf, query),
                                   {"inputs": inputs}, role="operator")
        self.assertIn(status, (200, 202), body)
        return body["id"]

    def execution(self, exec_id):
        return self.s.json("GET", "/api/v1/executions/" + exec_id, role="viewer")[1]

    def finished(self, exec_id, timeout=10):
        return wait_for(lambda: (lambda e: e if e["status"] in ("succeeded", "failed", "cancelled")
                                 else None)(self.execution(exec_id)), timeout)


class LiveEvents(ServeEventsTest):
    EXPECTED = [("execution.started", None), ("step.started", "wait"), ("step.finished", "wait"),
                ("step.started", "done"), ("step.finished", "done"), ("execution.finished", None)]

    def test_one_execution_in_order_then_the_stream_ends(self):
        exec_id = self.start("slow", {"pause": "500ms"})
        st = Stream(self.s, "/api/v1/executions/%s/events" % exec_id)
        self.assertEqual(st.status, 200)
        self.assertTrue(st.content_type.startswith("text/event-stream"))
        events = st.until(lambda e: False)  # to the end of the stream
        st.close()
        self.assertEqual([(e["event"], e["data"]["step"]) for e in events], self.EXPECTED)
        ids = [e["id"] for e in events]
        self.assertEqual(ids, sorted(set(ids)))
        for e in events:
            self.assertEqual(e["data"]["execution_id"], exec_id)
            self.assertEqual(e["data"]["workflow"], "slow")
            self.assertEqual(set(e["data"]), {"execution_id", "workflow", "step", "status",
                                              "message", "duration_ms", "attempt", "dry_run",
                                              "previewed", "at"})
            self.assertIs(e["data"]["dry_run"], False)
            self.assertIs(e["data"]["previewed"], False)
        self.assertEqual(events[-1]["data"]["status"], "succeeded")
        self.assertGreaterEqual(events[2]["data"]["duration_ms"], 450)
        self.assertEqual(events[1]["data"]["attempt"], 1)

    def test_a_finished_execution_replays_its_history_and_ends(self):
        exec_id = self.start("hello", {"name": "ada"}, "?wait=10s")
        st = Stream(self.s, "/api/v1/executions/%s/events" % exec_id)
        events = st.until(lambda e: False)
        st.close()
        kinds = [e["event"] for e in events]
        self.assertEqual(kinds[0], "execution.started")
        self.assertEqual(kinds[-1], "execution.finished")
        self.assertIn("step.finished", kinds)
        self.assertEqual(events[-1]["data"]["status"], "succeeded")
        # From the stored history once the server no longer holds the events (a restart):
        # the same kinds, and the durations the records kept (the end's was always 0).
        slow = self.start("slow", {"pause": "300ms"}, "?wait=10s")
        self.s.stop()
        self.s = Server(te.FERRY, self.p.dir, self.p.data)
        st = Stream(self.s, "/api/v1/executions/%s/events" % slow)
        replayed = st.until(lambda e: False)
        st.close()
        self.assertEqual([e["event"] for e in replayed],
                         ["execution.started", "step.finished", "step.finished",
                          "execution.finished"])
        self.assertGreaterEqual(replayed[-1]["data"]["duration_ms"], 300)
        self.assertGreaterEqual(replayed[1]["data"]["duration_ms"], 250)  # the wait step
        # Unknown executions and missing tokens are refused before any stream starts.
        for path, role, want in (("/api/v1/executions/nope/events", "viewer", 404),
                                 ("/api/v1/events", None, 401)):
            st = Stream(self.s, path, role=role)
            st.close()
            self.assertEqual(st.status, want)

    def test_a_dry_run_says_so_live_and_replayed(self):
        # A dashboard on the stream could not tell a preview from a ticket actually opened.
        status, body = self.s.json("POST", "/api/v1/workflows/slow/executions",
                                   {"inputs": {"pause": "300ms"}, "dry_run": True},
                                   role="operator")
        self.assertIn(status, (200, 202), body)
        exec_id = body["id"]
        st = Stream(self.s, "/api/v1/executions/%s/events" % exec_id)
        live = st.until(lambda e: False)
        st.close()
        self.assertEqual(live[-1]["event"], "execution.finished")
        self.assertEqual({e["data"]["dry_run"] for e in live}, {True})
        self.s.stop()
        self.s = Server(te.FERRY, self.p.dir, self.p.data)
        st = Stream(self.s, "/api/v1/executions/%s/events" % exec_id)
        replayed = st.until(lambda e: False)
        st.close()
        self.assertEqual(replayed[-1]["event"], "execution.finished")
        self.assertEqual({e["data"]["dry_run"] for e in replayed}, {True})

    def test_a_step_that_previewed_says_so_in_a_real_execution(self):
        # An integration with dry_run: true previews its requests in a real execution:
        # dry_run (the execution's) is false, and the step's event said nothing more.
        self.s.stop()
        self.p.write("ferry.yaml", tokens_yaml() + "integrations:\n  api: {type: http, "
                     "base_url: \"http://127.0.0.1:9\", dry_run: true}\n")
        self.p.workflow("preview", "steps:\n  - {id: call, task: http.request, integration: api, "
                        "with: {path: /x}}\n  - {id: after, task: log, needs: [call], "
                        "with: {message: done}}\n")
        self.s = Server(te.FERRY, self.p.dir, self.p.data)
        live = Stream(self.s, "/api/v1/events")  # before the start: the live events
        exec_id = self.start("preview", {})
        events = live.until(lambda e: e["event"] == "execution.finished")
        live.close()
        for replayed in (False, True):
            if replayed:  # from the recorded history, after a restart
                self.s.stop()
                self.s = Server(te.FERRY, self.p.dir, self.p.data)
                st = Stream(self.s, "/api/v1/executions/%s/events" % exec_id)
                events = st.until(lambda e: False)
                st.close()
            ends = {e["data"]["step"]: e["data"] for e in events
                    if e["event"] == "step.finished" and e["data"]["execution_id"] == exec_id}
            self.assertIs(ends["call"]["previewed"], True, replayed)
            self.assertIs(ends["call"]["dry_run"], False)
            self.assertIs(ends["after"]["previewed"], False)

    def test_all_executions(self):
        st = Stream(self.s, "/api/v1/events")
        self.assertEqual(st.status, 200)
        ids = [self.start("hello", {"name": n}) for n in ("a", "b")]
        ended = set()

        def stop(e):
            if e["event"] == "execution.finished":
                ended.add(e["data"]["execution_id"])
            return ended == set(ids)

        events = st.until(stop)
        st.close()
        self.assertEqual(ended, set(ids))
        for exec_id in ids:
            mine = [e["event"] for e in events if e["data"]["execution_id"] == exec_id]
            self.assertEqual(mine, ["execution.started", "step.started", "step.finished",
                                    "execution.finished"])
        seq = [e["id"] for e in events]
        self.assertEqual(seq, sorted(set(seq)))

    def test_all_executions_filtered_by_workflow_and_type(self):
        # A dashboard of one team's failures, a bot waiting for ends: only what it asked
        # for, live and when it resumes from the ring.
        path = "/api/v1/events?workflow=hello,preview&type=execution.finished,step.finished"
        st = Stream(self.s, path)
        self.assertEqual(st.status, 200)
        slow = self.start("slow", {"pause": "50ms"})
        hello = self.start("hello", {"name": "a"})
        events = st.until(lambda e: e["event"] == "execution.finished")
        st.close()
        self.assertEqual([(e["event"], e["data"]["execution_id"]) for e in events],
                         [("step.finished", hello), ("execution.finished", hello)])
        wait_for(lambda: self.execution(slow)["status"] == "succeeded")
        # From the ring, with an id from before both: the same filters.
        again = Stream(self.s, "/api/v1/events?type=execution.finished", last_id=1)
        ends = again.until(lambda e: e["data"]["execution_id"] == slow)
        again.close()
        self.assertEqual(sorted(e["data"]["execution_id"] for e in ends), sorted([hello, slow]))
        self.assertEqual({e["event"] for e in ends}, {"execution.finished"})
        for query, message in (
                ("type=step.faild", "unknown event type 'step.faild' (did you mean "
                                    "'step.failed'?); types: execution.started, "
                                    "execution.finished, step.started, step.finished, "
                                    "step.failed, step.skipped, step.retrying, step.waiting"),
                ("type=execution.resumed", "unknown event type 'execution.resumed'"),
                ("type=", "type must be one or more names separated by commas"),
                ("workflow=hello,", "workflow must be one or more names separated by commas"),
                ("workflows=hello", "unknown query parameter 'workflows' (did you mean "
                                    "'workflow'?)")):
            st = Stream(self.s, "/api/v1/events?" + query)
            body = json.loads(st.r.read())
            st.close()
            self.assertEqual(st.status, 400, query)
            self.assertTrue(body["error"]["message"].startswith(message), body)

    def test_last_event_id_resumes_without_duplicates_or_gaps(self):
        st = Stream(self.s, "/api/v1/events")
        exec_id = self.start("slow", {"pause": "600ms"})
        first = st.until(lambda e: e["event"] == "step.started")
        st.close()  # the client goes away mid-execution
        self.assertEqual([e["event"] for e in first], ["execution.started", "step.started"])
        again = Stream(self.s, "/api/v1/events", last_id=first[-1]["id"])
        rest = again.until(lambda e: e["event"] == "execution.finished")
        again.close()
        ids = [e["id"] for e in first + rest]
        self.assertEqual(ids, list(range(ids[0], ids[0] + len(ids))), "duplicates or gaps")
        self.assertEqual([(e["event"], e["data"]["step"]) for e in first + rest],
                         LiveEvents.EXPECTED)
        # Per execution too: after the stream ended, only the end is news.
        st = Stream(self.s, "/api/v1/executions/%s/events" % exec_id, last_id=ids[2])
        tail = st.until(lambda e: False)
        st.close()
        self.assertEqual([e["id"] for e in tail], ids[3:])
        # An id that is not one is refused, not read as "from the start".
        # 20 digits past 2^64 once made std::stoull throw out of the handler.
        for bad in ("abc", "-5", "1e3", "99999999999999999999", "99999999999999999999999"):
            for path in ("/api/v1/events", "/api/v1/executions/%s/events" % exec_id):
                st = Stream(self.s, path, last_id=bad)
                self.assertEqual(st.status, 400, (bad, path))
                # "digits" alone was untrue of a value past 2^64 - 1, all digits.
                self.assertIn("must be an event id: digits, at most 18446744073709551615",
                              json.loads(st.r.read())["error"]["message"])
                st.close()

    def test_a_client_that_has_the_end_is_told_204_not_the_end_again(self):
        # An EventSource reconnects 2 s after every stream that ends; once it has the end,
        # the answer must stop it (204), in this process (the ring) and after a restart
        # (the history, whose events get new ids).
        exec_id = self.start("hello", {"name": "x"}, "?wait=10s")
        path = "/api/v1/executions/%s/events" % exec_id
        st = Stream(self.s, path)
        events = st.until(lambda e: False)
        st.close()
        self.assertEqual(events[-1]["event"], "execution.finished")
        st = Stream(self.s, path, last_id=events[-1]["id"])
        self.assertEqual((st.status, st.until(lambda e: False)), (204, []))
        st.close()
        self.s.stop()
        self.s = Server(te.FERRY, self.p.dir, self.p.data)
        st = Stream(self.s, path)  # a first connection: the whole history
        history = st.until(lambda e: False)
        st.close()
        self.assertEqual([history[0]["event"], history[-1]["event"]],
                         ["execution.started", "execution.finished"])
        st = Stream(self.s, path, last_id=history[-1]["id"])
        self.assertEqual((st.status, st.until(lambda e: False)), (204, []))
        st.close()
        # The previous process's ids cannot be told from ones before the end: the end once
        # more, with its stable id, then 204.
        st = Stream(self.s, path, last_id=events[-1]["id"])
        again = st.until(lambda e: False)
        st.close()
        self.assertEqual([(e["event"], e["id"]) for e in again],
                         [("execution.finished", history[-1]["id"])])
        st = Stream(self.s, path, last_id=again[-1]["id"])
        self.assertEqual((st.status, st.until(lambda e: False)), (204, []))
        st.close()
        # A client whose last event came from a live stream before the end: which of the
        # recorded events it saw is unknown, so it gets how the execution ended.
        st = Stream(self.s, path, last_id=events[1]["id"])
        tail = st.until(lambda e: False)
        st.close()
        self.assertEqual([e["event"] for e in tail], ["execution.finished"])
        # A client that resumes from the recorded events' own ids gets exactly the rest.
        st = Stream(self.s, path, last_id=history[0]["id"])
        rest = st.until(lambda e: False)
        st.close()
        self.assertEqual([(e["event"], e["id"]) for e in rest],
                         [(e["event"], e["id"]) for e in history[1:]])
        self.assertEqual(len(rest), 2)

    def test_a_backlog_is_written_as_fast_as_the_client_reads(self):
        # 12 MB of events (200 failures of ~60 KB each): written at once they passed the
        # server's 8 MiB write-queue limit for any client slower than the server, and the
        # stream was cut. A client that waits a second before reading gets all of them,
        # from the ring (/api/v1/events with an old id) and from the record (a restart).
        self.p.workflow("loud", """\
steps:
  - id: each
    for_each: "{{ range(200) | list }}"
    task: lua
    on_error: continue
    with: {script: "error(string.rep('x', 60000) .. input)", input: "{{ item }}"}
""")
        exec_id = self.start("loud", {}, "?wait=30s")

        def read_all(path, last_id=None):
            st = Stream(self.s, path, last_id=last_id, timeout=30)
            time.sleep(1)
            got = st.until(lambda e: e["event"] == "execution.finished" and
                           e["data"]["execution_id"] == exec_id, limit=1000)
            st.close()
            return [e for e in got if e["data"]["execution_id"] == exec_id]

        from_ring = read_all("/api/v1/events", last_id=1)
        # 200 items, then the for_each step itself, live as in the record.
        self.assertEqual(sum(e["event"] == "step.failed" for e in from_ring), 201)
        self.assertEqual([(e["event"], e["data"]["step"]) for e in from_ring[-2:]],
                         [("step.failed", "each"), ("execution.finished", None)])
        self.s.stop()
        self.s = Server(te.FERRY, self.p.dir, self.p.data)
        from_record = read_all("/api/v1/executions/%s/events" % exec_id)
        self.assertEqual(sum(e["event"] == "step.failed" for e in from_record), 201)
        # As live: the for_each step's own event after its items'.
        self.assertEqual([(e["event"], e["data"]["step"]) for e in from_record[-2:]],
                         [("step.failed", "each"), ("execution.finished", None)])
        self.assertEqual(from_record[-1]["event"], "execution.finished")
        self.assertGreater(len(from_record[1]["data"]["message"]), 60000)

    def test_many_streams_of_a_large_fan_out_each_get_every_event_once(self):
        # The events of one loop iteration go out together (a write per event per client
        # held the loop for seconds): every stream still gets each event once, in order,
        # a filtered one only its own, a per-execution one up to its end.
        self.p.workflow("wide", """\
steps:
  - id: each
    for_each: "{{ range(1000) | list }}"
    task: transform
    with: {data: {n: "{{ item }}"}, mappings: [{source: n, target: m}]}
""")
        streams = [Stream(self.s, "/api/v1/events", timeout=30) for _ in range(12)]
        ends = Stream(self.s, "/api/v1/events?type=step.finished,execution.finished", timeout=30)
        exec_id = self.start("wide", {})
        one = Stream(self.s, "/api/v1/executions/%s/events" % exec_id, timeout=30)
        self.assertEqual(wait_for(lambda: self.execution(exec_id)["status"] == "succeeded",
                                  timeout=30), True)
        done = lambda e: e["event"] == "execution.finished"
        seen = [st.until(done, limit=5000) for st in streams]
        filtered = ends.until(done, limit=5000)
        own = one.until(lambda e: False, limit=5000)  # it ends by itself
        for st in streams + [ends, one]:
            st.close()
        expected = ([("execution.started", None)] +
                    [(t, "each[%d]" % i) for i in range(1000)
                     for t in ("step.started", "step.finished")])
        for events in seen:
            ids = [e["id"] for e in events]
            self.assertEqual(ids, sorted(set(ids)))
            got = [(e["event"], e["data"]["step"]) for e in events]
            self.assertEqual(sorted(got[:-2], key=str), sorted(expected, key=str))
            self.assertEqual(got[-2:], [("step.finished", "each"), ("execution.finished", None)])
        self.assertEqual([e["event"] for e in filtered].count("step.finished"), 1001)
        self.assertEqual({e["event"] for e in filtered}, {"step.finished", "execution.finished"})
        self.assertEqual([e["id"] for e in own], [e["id"] for e in seen[0]])

    def test_an_empty_for_each_has_its_step_event_live(self):
        self.p.workflow("none", "steps:\n  - {id: each, for_each: [], task: log, "
                                "with: {message: x}}\n")
        st = Stream(self.s, "/api/v1/events")
        exec_id = self.start("none", {}, "?wait=10s")
        events = st.until(lambda e: e["event"] == "execution.finished" and
                          e["data"]["execution_id"] == exec_id)
        st.close()
        self.assertIn(("step.finished", "each"),
                      [(e["event"], e["data"]["step"]) for e in events])

    def test_a_client_that_stopped_reading_does_not_hold_the_shutdown(self):
        # Its stream holds megabytes it will never read: cut at shutdown, not waited for
        # for the whole grace (10 s).
        self.p.workflow("loud", """\
steps:
  - id: each
    for_each: "{{ range(100) | list }}"
    task: lua
    on_error: continue
    with: {script: "error(string.rep('x', 30000))"}
""")
        stuck = socket.socket()
        stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stuck.connect(("127.0.0.1", self.s.port))
        stuck.sendall(("GET /api/v1/events HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer %s\r\n"
                       "\r\n" % TOKENS["viewer"]).encode())
        try:
            self.start("loud", {}, "?wait=30s")
            t0 = time.monotonic()
            self.s.stop()
            self.assertLess(time.monotonic() - t0, 5)
        finally:
            stuck.close()

    def test_an_execution_another_process_runs_ends_its_stream_when_it_ends(self):
        # `ferry run` on the same store: its events never reach the server, whose stream
        # looks at the record instead and ends with the execution.
        run = subprocess.Popen([te.FERRY, "run", "slow", "--input", "pause=1500ms", "--quiet",
                                "--project", str(self.p.dir), "--data", str(self.p.data)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            listed = wait_for(lambda: self.s.json("GET", "/api/v1/executions?workflow=slow",
                                                  role="viewer")[1]["executions"])
            self.assertTrue(listed)
            st = Stream(self.s, "/api/v1/executions/%s/events" % listed[0]["id"], timeout=15)
            self.assertEqual(st.status, 200)
            events = st.until(lambda e: False)
            st.close()
            self.assertEqual(run.wait(timeout=15), 0)
        finally:
            if run.poll() is None:
                run.kill()
                run.wait(timeout=5)
        self.assertEqual([e["event"] for e in events][-1], "execution.finished")
        self.assertEqual(events[-1]["data"]["status"], "succeeded")

    def test_idle_streams_get_a_keep_alive_comment_every_15s(self):
        st = Stream(self.s, "/api/v1/events", timeout=20)
        t0 = time.monotonic()
        line = b""
        while not line.startswith(b":"):
            line = st.r.readline()
            self.assertTrue(line, "the stream ended")
        st.close()
        self.assertEqual(line.rstrip(), b": keep-alive")
        self.assertLess(time.monotonic() - t0, 17.5)

    def test_clients_that_leave_are_dropped(self):
        streams = [Stream(self.s, "/api/v1/events") for _ in range(5)]
        for st in streams:
            st.close()
        exec_id = self.start("hello", {"name": "x"}, "?wait=10s")
        self.assertEqual(self.execution(exec_id)["status"], "succeeded")
        status, _ = self.s.json("GET", "/healthz")
        self.assertEqual(status, 200)


class CancelAndRetry(ServeEventsTest):
    def test_cancel_a_running_execution(self):
        exec_id = self.start("slow", {"pause": "30s"})
        st = Stream(self.s, "/api/v1/executions/%s/events" % exec_id)
        st.until(lambda e: e["event"] == "step.started")
        time.sleep(0.3)  # the time the step runs before the cancel is its duration
        self.assertEqual(self.s.json("POST", "/api/v1/executions/%s/cancel" % exec_id, {},
                                     role="viewer")[0], 403)
        t0 = time.monotonic()
        status, body = self.s.json("POST", "/api/v1/executions/%s/cancel" % exec_id,
                                   {"reason": "wrong window"}, role="operator")
        self.assertEqual(status, 202, body)
        rest = st.until(lambda e: False)
        st.close()
        self.assertEqual(rest[-1]["event"], "execution.finished")
        self.assertEqual(rest[-1]["data"]["status"], "cancelled")
        # Live as recorded: the step that never started is announced too, with its reason.
        ended = [(e["event"], e["data"]["step"], e["data"]["status"]) for e in rest]
        self.assertIn(("step.finished", "done", "cancelled"), ended)
        done = [e["data"] for e in rest if e["data"]["step"] == "done"][0]
        self.assertIn("cancelled before this step could run", done["message"])
        doc = self.finished(exec_id, timeout=5)
        self.assertLess(time.monotonic() - t0, 5, "a 30s sleep was not interrupted")
        self.assertEqual(doc["status"], "cancelled")
        self.assertIn("wrong window", doc["error"]["message"])
        self.assertEqual(doc["steps"]["wait"]["status"], "cancelled")
        self.assertGreaterEqual(doc["steps"]["wait"]["duration_ms"], 250)
        self.assertEqual(doc["steps"]["done"]["status"], "cancelled")
        status, body = self.s.json("POST", "/api/v1/executions/%s/cancel" % exec_id, {},
                                   role="operator")
        self.assertEqual(status, 409, body)
        self.assertEqual(body["error"]["code"], "conflict")
        status, body = self.s.json("POST", "/api/v1/executions/nope/cancel", {}, role="operator")
        self.assertEqual(status, 404, body)
        # The cancelled state is durable: a restart does not resume it.
        self.s.stop()
        self.s = Server(te.FERRY, self.p.dir, self.p.data)
        time.sleep(0.3)
        self.assertEqual(self.execution(exec_id)["status"], "cancelled")
        # The new process has no live events of it: its stream is the recorded history.
        st = Stream(self.s, "/api/v1/executions/%s/events" % exec_id)
        history = st.until(lambda e: False)
        st.close()
        self.assertEqual([(e["event"], e["data"]["step"], e["data"]["status"]) for e in history],
                         [("execution.started", None, "running"),
                          ("step.finished", "wait", "cancelled"),
                          ("step.finished", "done", "cancelled"),
                          ("execution.finished", None, "cancelled")])

    def test_tasks_that_keep_the_cpu_leave_the_server_answering_and_can_be_cancelled(self):
        # Lua that waits for nothing held the loop until its instruction budget, item after
        # item of a for_each (40 items: /healthz unanswered for 11 s, a cancel unread). The
        # scheduler now slices such tasks: the server answers between slices.
        self.p.workflow("spin", """\
steps:
  - id: each
    task: lua
    timeout: 60s
    for_each: [1, 2, 3, 4, 5, 6, 7, 8]
    with: {script: "local n = 0 while true do n = n + 1 end"}
""")
        exec_id = self.start("spin", {})
        st = Stream(self.s, "/api/v1/executions/%s/events" % exec_id)
        st.until(lambda e: e["event"] == "step.started")
        slowest = 0
        for _ in range(5):
            time.sleep(0.05)
            t0 = time.monotonic()
            self.assertEqual(self.s.json("GET", "/healthz", timeout=5)[0], 200)
            slowest = max(slowest, time.monotonic() - t0)
        self.assertLess(slowest, 0.5, "the server did not answer while tasks spun")
        t0 = time.monotonic()
        status, body = self.s.json("POST", "/api/v1/executions/%s/cancel" % exec_id,
                                   {"reason": "runaway"}, role="operator")
        self.assertEqual(status, 202, body)
        doc = self.finished(exec_id, timeout=5)
        st.close()
        self.assertLess(time.monotonic() - t0, 2)
        self.assertEqual(doc["status"], "cancelled")
        # Each had its share of the CPU, none its whole budget (serially, the first items
        # ended on theirs before the cancel could be read).
        items = [doc["steps"]["each[%d]" % i] for i in range(8)]
        self.assertEqual([i["status"] for i in items], ["cancelled"] * 8, items)

    def test_cancel_while_a_retry_waits_for_its_delay(self):
        srv = te.TestServer()
        self.addCleanup(srv.stop)
        srv.script("/down", (503, {"e": 1}))
        self.p.workflow("flaky", """\
inputs: {url: {type: string, required: true}}
steps:
  - id: call
    task: http.request
    retry: {max_attempts: 5, initial_delay: 20s, backoff: fixed}
    with: {method: GET, url: "{{ inputs.url }}"}
""")
        exec_id = self.start("flaky", {"url": srv.url + "/down"})
        st = Stream(self.s, "/api/v1/executions/%s/events" % exec_id)
        seen = st.until(lambda e: e["event"] == "step.retrying")
        self.assertEqual(seen[-1]["event"], "step.retrying", seen)
        # The event shows the delay (workflows.md): 20s fixed, jitter on its upper half.
        self.assertTrue(10000 <= seen[-1]["data"]["retry_in_ms"] <= 20000, seen[-1])
        status, body = self.s.json("POST", "/api/v1/executions/%s/cancel" % exec_id, {},
                                   role="operator")
        self.assertEqual(status, 202, body)
        rest = st.until(lambda e: False)
        st.close()
        self.assertEqual(rest[-1]["data"]["status"], "cancelled")
        doc = self.finished(exec_id, timeout=5)
        self.assertEqual(doc["status"], "cancelled")
        self.assertEqual(doc["steps"]["call"]["status"], "cancelled")
        self.assertEqual(srv.count("/down"), 1)
        # The log line too; and every event that ends something has its duration.
        lines = [json.loads(l) for l in (self.p.dir / "serve.log").read_text().splitlines()
                 if l.startswith("{")]
        events = [l for l in lines if l.get("log") == "event" and l["execution_id"] == exec_id]
        retrying = [l for l in events if l["event"] == "step.retrying"]
        self.assertTrue(10000 <= retrying[0]["retry_in_ms"] <= 20000, retrying)
        for l in events:
            self.assertEqual("duration_ms" in l, not l["event"].endswith(".started"), l)

    def test_cancel_reaches_sub_workflows_and_for_each_items(self):
        self.p.workflow("parent", """\
steps:
  - {id: child, task: workflow, with: {name: slow, inputs: {pause: 30s}}}
  - id: items
    task: sleep
    for_each: "{{ [1, 2, 3] }}"
    concurrency: 1
    with: {duration: 30s}
""")
        st = Stream(self.s, "/api/v1/events")
        exec_id = self.start("parent", {})
        started = st.until(lambda e: e["event"] == "step.started" and
                           e["data"]["step"] == "wait")
        st.close()
        child_id = started[-1]["data"]["execution_id"]
        self.assertNotEqual(child_id, exec_id)
        wait_for(lambda: self.execution(exec_id)["steps"].get("items[0]", {}).get("status")
                 == "running", timeout=5)
        status, body = self.s.json("POST", "/api/v1/executions/%s/cancel" % exec_id, {},
                                   role="operator")
        self.assertEqual(status, 202, body)
        doc = self.finished(exec_id, timeout=5)
        self.assertEqual(doc["status"], "cancelled")
        self.assertEqual(self.finished(child_id, timeout=5)["status"], "cancelled")
        steps = doc["steps"]
        self.assertEqual(steps["child"]["status"], "cancelled")
        self.assertEqual(steps["items[0]"]["status"], "cancelled")
        self.assertEqual({steps["items[1]"]["status"], steps["items[2]"]["status"]}, {"cancelled"})
        # The fan-out did not succeed, and what stopped its items is said as it was: the
        # step read "succeeded", its items "another item failed".
        self.assertEqual(steps["items"]["status"], "cancelled")
        self.assertEqual(steps["items"]["reason"], "the execution was cancelled before all "
                                                   "items ran")
        self.assertEqual(steps["items[2]"]["reason"], "the execution was cancelled before "
                                                      "this item could run")

    def test_retry_starts_the_same_workflow_with_the_same_inputs(self):
        old = self.start("hello", {"name": "grace"}, "?wait=10s")
        status, body = self.s.json("POST", "/api/v1/executions/%s/retry" % old, {},
                                   role="operator")
        self.assertEqual(status, 202, body)
        self.assertNotEqual(body["id"], old)
        doc = self.finished(body["id"])
        self.assertEqual(doc["status"], "succeeded")
        self.assertEqual(doc["trigger"], "retry")
        self.assertEqual(sorted(doc["trigger_info"]), ["request_id", "retry_of"])
        self.assertEqual(doc["trigger_info"]["retry_of"], old)
        self.assertRegex(doc["trigger_info"]["request_id"], r"^[0-9A-HJKMNP-TV-Z]{26}$")
        self.assertEqual(doc["inputs"], {"name": "grace"})
        self.assertEqual(doc["outputs"], {"greeting": "GRACE"})
        self.assertEqual(self.s.json("POST", "/api/v1/executions/nope/retry", {},
                                     role="operator")[0], 404)
        self.assertEqual(self.s.json("POST", "/api/v1/executions/%s/retry" % old, {},
                                     role="viewer")[0], 403)
        # One that has not ended is not run a second time beside itself (a second ticket).
        self.p.workflow("nap", "steps:\n  - {id: s, task: sleep, with: {duration: 3s}}\n")
        running = self.start("nap", {})
        status, body = self.s.json("POST", "/api/v1/executions/%s/retry" % running, {},
                                   role="operator")
        self.assertEqual(status, 409, body)
        self.assertIn("has not ended (running)", body["error"]["message"])

    def test_a_cancel_stops_a_running_workflow_hook(self):
        # It waited for the hook: an execution cancelled during an 8 s before_step hook
        # ended 8 s later, its step failed rather than cancelled.
        self.p.write("tasks/hooks/nap.lua",
                     "return function(ctx, event) ferry.sleep(8000) return event end\n")
        self.p.workflow("napping", """\
hooks: {before_step: hooks/nap.lua}
steps:
  - {id: a, task: log, with: {message: x}}
""")
        exec_id = self.start("napping", {})
        time.sleep(0.3)
        t0 = time.monotonic()
        status, body = self.s.json("POST", "/api/v1/executions/%s/cancel" % exec_id,
                                   {"reason": "not now"}, role="operator")
        self.assertEqual(status, 202, body)
        doc = self.finished(exec_id, timeout=6)
        self.assertLess(time.monotonic() - t0, 3)
        self.assertEqual(doc["status"], "cancelled")
        self.assertEqual(doc["steps"]["a"]["status"], "cancelled")

    def test_a_retry_of_inputs_that_held_a_secret_is_refused(self):
        # The record keeps a secret as [REDACTED], and the retry ran with that text.
        self.s.stop()
        self.p.write("ferry.yaml", tokens_yaml() + "integrations:\n  api: {type: http, base_url: "
                     "\"http://127.0.0.1:9\", auth: {type: bearer, token: "
                     "\"${env:FERRY_TEST_RETRY_TOKEN}\"}}\n")
        self.s = Server(te.FERRY, self.p.dir, self.p.data,
                        env=dict(os.environ, FERRY_TEST_RETRY_TOKEN="retry-token-0123456789"))
        old = self.start("hello", {"name": "retry-token-0123456789"}, "?wait=10s")
        self.assertEqual(self.execution(old)["inputs"], {"name": "[REDACTED]"})
        status, body = self.s.json("POST", "/api/v1/executions/%s/retry" % old, {},
                                   role="operator")
        self.assertEqual(status, 409, body)
        self.assertIn("keeps only as [REDACTED]", body["error"]["message"])
        # A record from before the mark existed is judged by its text, as it was then (a
        # record without the key retried with the literal [REDACTED]).
        self.s.stop()
        mdb = self.p.data / "data.mdb"
        data = mdb.read_bytes()
        self.assertIn(b'"inputs_redacted":true', data)
        mdb.write_bytes(data.replace(b'"inputs_redacted":true', b'"xnputs_redacted":true'))
        self.s = Server(te.FERRY, self.p.dir, self.p.data,
                        env=dict(os.environ, FERRY_TEST_RETRY_TOKEN="retry-token-0123456789"))
        status, body = self.s.json("POST", "/api/v1/executions/%s/retry" % old, {},
                                   role="operator")
        self.assertEqual(status, 409, body)
        # The text itself is no secret: inputs that say it are retried.
        plain = self.start("hello", {"name": "user [REDACTED] by DLP"}, "?wait=10s")
        status, body = self.s.json("POST", "/api/v1/executions/%s/retry" % plain, {},
                                   role="operator")
        self.assertEqual(status, 202, body)


def scheduled(server, name):
    """Executions a schedule started, oldest first, with their due times (unix ms)."""
    status, body = server.json("GET", "/api/v1/executions?workflow=hello&limit=1000",
                               role="viewer")
    assert status == 200, body
    runs = [e for e in body["executions"]
            if (e.get("trigger_info") or {}).get("schedule") == name]
    for e in runs:
        e["due_s"] = te.parse_time(e["trigger_info"]["due"])
    return sorted(runs, key=lambda e: e["due_s"])


class Schedules(ServeEventsTest):
    CONFIG = """\
schedules:
  - {name: tick, workflow: hello, every: 1s, inputs: {name: tick}}
  - {name: slow-tick, workflow: hello, every: 2s, inputs: {name: slow}, catch_up: false}
  - {name: nightly, workflow: hello, cron: "0 3 * * *", inputs: {name: n}}
  - {name: off, workflow: hello, every: 1s, inputs: {name: off}, enabled: false}
  - {name: mumbai, workflow: hello, cron: "0 3 * * *", timezone: Asia/Kolkata, inputs: {name: m}}
"""

    def test_every_second_without_double_runs_across_a_restart(self):
        t0 = time.time()
        time.sleep(3.5)
        status, body = self.s.json("GET", "/api/v1/schedules", role="viewer")
        self.assertEqual(status, 200, body)
        by_name = {s["name"]: s for s in body["schedules"]}
        self.assertEqual(set(by_name), {"tick", "slow-tick", "nightly", "off", "mumbai"})
        tick = by_name["tick"]
        self.assertEqual((tick["workflow"], tick["every"], tick["cron"], tick["enabled"]),
                         ("hello", "1s", None, True))
        self.assertIsNotNone(tick["last_execution_id"])
        self.assertGreater(te.parse_time(tick["next_run"]), te.parse_time(tick["last_run"]))
        self.assertEqual(by_name["nightly"]["cron"], "0 3 * * *")
        self.assertTrue(by_name["nightly"]["next_run"].endswith("T03:00:00.000Z"))
        # Times are UTC; 03:00 in Kolkata (UTC+5:30, no daylight saving) is 21:30 UTC.
        self.assertEqual([by_name[n]["timezone"] for n in ("tick", "nightly", "mumbai")],
                         [None, "UTC", "Asia/Kolkata"])
        self.assertTrue(by_name["mumbai"]["next_run"].endswith("T21:30:00.000Z"))
        self.assertIsNone(by_name["nightly"]["last_run"])
        self.assertIsNone(by_name["off"]["next_run"])
        before = scheduled(self.s, "tick")
        self.assertTrue(2 <= len(before) <= 4, [e["trigger_info"] for e in before])
        self.assertEqual(before[-1]["id"], tick["last_execution_id"])
        self.assertEqual(scheduled(self.s, "off"), [])

        self.s.stop()
        stopped = time.time()
        time.sleep(1.5)  # downtime that misses at least one due time of tick
        self.s = Server(te.FERRY, self.p.dir, self.p.data)
        time.sleep(2.5)
        runs = scheduled(self.s, "tick")
        slow = scheduled(self.s, "slow-tick")
        self.s.stop()
        log = (self.p.dir / "serve.log").read_text()
        dues = [e["due_s"] for e in runs]
        self.assertEqual(len(dues), len(set(dues)), "a due time ran twice")
        for a, b in zip(dues, dues[1:]):
            gap = b - a
            self.assertAlmostEqual(gap, round(gap), delta=0.01, msg="out of phase: %s" % dues)
        # One catch-up run for the downtime (the latest missed due time), none with
        # catch_up: false; the due times skipped in between never run.
        catch_ups = [line for line in map(json.loads, log.splitlines())
                     if line["log"] == "server" and "catching up" in line["message"]]
        self.assertEqual([c["schedule"] for c in catch_ups], ["tick"], log)
        in_downtime = [d for d in dues if stopped < d]
        self.assertTrue(in_downtime, dues)
        self.assertLessEqual(len(runs), time.time() - t0 + 1)
        self.assertGreaterEqual(len(runs), 4, dues)
        self.assertFalse([e["due_s"] for e in slow if stopped + 0.05 < e["due_s"] < stopped + 1.5],
                         [e["trigger_info"] for e in slow])

    def test_a_new_time_zone_is_a_new_definition(self):
        # 03:00 in Kolkata and 03:00 in Tokyo are different times: moved to another zone, the
        # schedule starts from its next due time there (no catch-up of the old zone's times).
        self.s.stop()
        # UTC written out is no zone: nightly's definition stays the same.
        self.p.write("ferry.yaml", tokens_yaml() + self.CONFIG.replace(
            "Asia/Kolkata", "Asia/Tokyo").replace('cron: "0 3 * * *", inputs: {name: n}',
                                                  'cron: "0 3 * * *", timezone: Etc/UTC, '
                                                  'inputs: {name: n}'))
        self.s = Server(te.FERRY, self.p.dir, self.p.data)
        status, body = self.s.json("GET", "/api/v1/schedules", role="viewer")
        self.s.stop()
        mumbai = {s["name"]: s for s in body["schedules"]}["mumbai"]
        self.assertEqual(mumbai["timezone"], "Asia/Tokyo")
        self.assertTrue(mumbai["next_run"].endswith("T18:00:00.000Z"), mumbai)  # UTC+9
        log = (self.p.dir / "serve.log").read_text()
        self.assertIn("schedule mumbai: its definition changed (cron 0 3 * * * in Asia/Kolkata "
                      "-> cron 0 3 * * * in Asia/Tokyo); due times before now are not caught up",
                      log)
        self.assertNotIn("schedule nightly: its definition changed", log)



class SchedulesSwitchedOff(ServeEventsTest):
    CONFIG = """\
schedules:
  - {name: paused, workflow: hello, every: 1s, inputs: {name: p}}
  - {name: broken, workflow: hello, every: 1s, inputs: {nobody: x}}
"""

    def test_switched_back_on_it_does_not_catch_up_the_pause(self):
        # Runs, then is off for a while with the server up, then on again: the operator
        # paused it; the due times it was off for are not downtime to catch up.
        time.sleep(1.5)
        self.assertTrue(scheduled(self.s, "paused"))
        self.s.stop()
        self.p.write("ferry.yaml", tokens_yaml() + self.CONFIG.replace(
            "inputs: {name: p}", "inputs: {name: p}, enabled: false"))
        self.s = Server(te.FERRY, self.p.dir, self.p.data)
        time.sleep(2.2)
        ran = {e["id"] for e in scheduled(self.s, "paused")}
        self.s.stop()
        self.p.write("ferry.yaml", tokens_yaml() + self.CONFIG)
        restarted = time.time()
        self.s = Server(te.FERRY, self.p.dir, self.p.data)
        time.sleep(1.5)
        new = [e for e in scheduled(self.s, "paused") if e["id"] not in ran]
        self.assertTrue(new)  # it runs again, in phase
        # A catch-up would run a due time from before the restart.
        self.assertEqual([e["trigger_info"]["due"] for e in new if e["due_s"] < restarted], [])
        log = (self.p.dir / "serve.log").read_text()
        self.assertIn("schedule paused: enabled again; the times it was off for are not "
                      "caught up", log)
        self.assertNotIn("schedule paused: catching up", log)

    def test_taken_out_or_redefined_it_does_not_catch_up(self):
        # Taken out of ferry.yaml and put back, it caught up a due time from while it was
        # out; redefined, it caught up one the new definition "missed" under the old one.
        time.sleep(1.5)
        self.assertTrue(scheduled(self.s, "paused"))
        self.s.stop()
        self.p.write("ferry.yaml", tokens_yaml() + self.CONFIG.replace(
            "  - {name: paused, workflow: hello, every: 1s, inputs: {name: p}}\n", ""))
        self.s = Server(te.FERRY, self.p.dir, self.p.data)
        time.sleep(2.2)
        self.s.stop()
        self.p.write("ferry.yaml", tokens_yaml() + self.CONFIG.replace("every: 1s, inputs: {name: p}",
                                                                       "every: 2s, inputs: {name: p}"))
        restarted = time.time()
        self.s = Server(te.FERRY, self.p.dir, self.p.data)
        time.sleep(1.0)
        late = [e for e in scheduled(self.s, "paused") if e["due_s"] < restarted - 0.5]
        log = (self.p.dir / "serve.log").read_text()
        self.assertNotIn("schedule paused: catching up", log)
        self.assertIn("schedule paused: enabled again", log)
        # (Taken out counts as off; the redefinition is said when the state was on.)
        runs_before = len(late)
        self.s.stop()
        self.p.write("ferry.yaml", tokens_yaml() + self.CONFIG.replace("every: 1s, inputs: {name: p}",
                                                                       "every: 3s, inputs: {name: p}"))
        self.s = Server(te.FERRY, self.p.dir, self.p.data)
        time.sleep(0.5)
        log = (self.p.dir / "serve.log").read_text()
        self.assertIn("schedule paused: its definition changed (every 2000ms -> every 3000ms); "
                      "due times before now are not caught up", log)
        self.assertNotIn("schedule paused: catching up", log)
        self.assertEqual(len([e for e in scheduled(self.s, "paused")
                              if e["due_s"] < restarted - 0.5]), runs_before)

    def test_a_restart_soon_after_switching_back_on_does_not_catch_up_the_pause(self):
        # The first start back on said "not caught up", but did not record the due times it
        # passed over: a second start before the next run caught one up from the pause.
        def config(enabled):
            return tokens_yaml() + ("schedules:\n  - {name: again, workflow: hello, every: 4s, "
                                    "inputs: {name: a}, enabled: %s}\n" % enabled)
        self.s.stop()
        self.p.write("ferry.yaml", config("true"))
        self.s = Server(te.FERRY, self.p.dir, self.p.data)
        status, body = self.s.json("GET", "/api/v1/schedules", role="viewer")
        self.assertEqual(status, 200, body)
        due = te.parse_time({s["name"]: s for s in body["schedules"]}["again"]["next_run"])
        self.s.stop()
        self.assertLess(time.time(), due, "too slow to stop before the first due time")
        self.p.write("ferry.yaml", config("false"))
        self.s = Server(te.FERRY, self.p.dir, self.p.data)
        self.s.stop()
        time.sleep(max(0.0, due + 0.5 - time.time()))  # the due time passes while it is off
        self.p.write("ferry.yaml", config("true"))
        back_on = time.time()
        self.s = Server(te.FERRY, self.p.dir, self.p.data)
        self.s.stop()
        self.s = Server(te.FERRY, self.p.dir, self.p.data)
        time.sleep(0.3)
        log = (self.p.dir / "serve.log").read_text()
        self.assertLess(time.time(), due + 4, "too slow to restart before the next due time")
        self.assertIn("schedule again: enabled again", log)
        self.assertNotIn("schedule again: catching up", log)
        self.assertEqual([e["trigger_info"]["due"] for e in scheduled(self.s, "again")
                          if e["due_s"] < back_on], [])

    def test_last_run_is_a_due_time_that_ran(self):
        # 'broken' never starts (its inputs are wrong): no last_run, its error kept, also
        # across a restart.
        time.sleep(1.5)
        self.s.stop()
        self.s = Server(te.FERRY, self.p.dir, self.p.data)
        status, body = self.s.json("GET", "/api/v1/schedules", role="viewer")
        self.assertEqual(status, 200, body)
        broken = {s["name"]: s for s in body["schedules"]}["broken"]
        self.assertIsNone(broken["last_run"])
        self.assertIsNone(broken["last_execution_id"])
        self.assertIn("no such input", broken["last_error"])


class SchedulesAcrossRestarts(ServeEventsTest):
    CONFIG = """\
schedules:
  - {name: period, workflow: hello, every: 3s, inputs: {name: p}}
"""

    def test_restarts_shorter_than_the_period_do_not_postpone_it(self):
        # The first run is one period after the schedule first appeared, however often
        # the server restarts in between (a deploy a day must not starve a daily job).
        t0 = time.time()
        for _ in range(2):
            time.sleep(1.2)
            self.s.stop()
            self.s = Server(te.FERRY, self.p.dir, self.p.data)
        wait_for(lambda: scheduled(self.s, "period") or None, 6)
        runs = scheduled(self.s, "period")
        self.assertTrue(runs)
        self.assertLess(runs[0]["due_s"], t0 + 3.6, (t0, [e["trigger_info"] for e in runs]))
        status, body = self.s.json("GET", "/api/v1/schedules", role="viewer")
        self.assertEqual(status, 200, body)
        self.assertIsNotNone(body["schedules"][0]["last_run"])


class ScheduleOverlap(ServeEventsTest):
    CONFIG = """\
schedules:
  - {name: busy, workflow: slow, every: 1s, inputs: {pause: 4s}, overlap: skip}
"""

    def test_a_due_time_is_skipped_while_the_previous_run_goes_on(self):
        def busy():
            status, body = self.s.json("GET", "/api/v1/schedules", role="viewer")
            self.assertEqual(status, 200, body)
            return body["schedules"][0]
        skipped = wait_for(lambda: "skipped" in (busy()["last_error"] or "") and busy(),
                           timeout=15)
        self.assertTrue(skipped, busy())
        self.assertEqual(skipped["overlap"], "skip")
        self.assertIn("is still running", skipped["last_error"])
        first = skipped["last_execution_id"]
        self.assertIn(first, skipped["last_error"])
        status, body = self.s.json("GET", "/api/v1/executions?workflow=slow", role="viewer")
        runs = [e for e in body["executions"]
                if (e.get("trigger_info") or {}).get("schedule") == "busy"]
        # Only the first run started: every due time since found it still running.
        self.assertEqual([e["id"] for e in runs], [first])
        self.assertEqual(runs[0]["status"], "running")


if __name__ == "__main__":
    te.FERRY = sys.argv.pop(1)
    unittest.main(verbosity=2)
