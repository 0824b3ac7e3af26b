#!/usr/bin/env python3
"""Integration tests of the workflow engine: they run the real `ferry` binary.

    python3 tests/integration/test_engine.py path/to/ferry [TestName ...]

Each test builds a throw-away project (workflows/, tasks/) in a temporary folder, runs
`ferry` against it with a timeout, and checks what the execution JSON on stdout and the
history commands (`ferry executions ...`) say. Network access is limited to a small HTTP
server on 127.0.0.1 (an ephemeral port) that the tests start themselves. Python 3 standard
library only; prints one line per test and a final `N passed, M failed` line.
"""

import base64
import datetime
import http.server
import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

FERRY = None  # set from argv[1]
REPO = Path(__file__).resolve().parent.parent.parent
TIMEOUT = 30  # seconds, for any single ferry command


# --------------------------------------------------------------------------- helpers


def parse_time(text):
    """RFC 3339 as written by Ferry (2026-12-01T06:45:00.141Z) -> seconds since the epoch."""
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()


class Recorder(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class TestServer:
    """A threaded HTTP server on 127.0.0.1:<ephemeral>. Counts requests per path, records
    their headers and bodies, and answers from a per-path script of (status, body, delay)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.requests = []          # [{method, path, headers, body}]
        self.scripts = {}           # path -> [(status, body, delay_seconds)]
        self.seen = threading.Condition(self.lock)
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def handle_any(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                path = self.path.split("?", 1)[0]
                with owner.lock:
                    owner.requests.append({
                        "method": self.command,
                        "path": path,
                        "query": self.path.partition("?")[2],
                        "headers": {k.lower(): v for k, v in self.headers.items()},
                        "body": body.decode("utf-8", "replace"),
                        "at": time.monotonic(),
                    })
                    script = owner.scripts.get(path)
                    if script:
                        status, answer, delay = script.pop(0) if len(script) > 1 else script[0]
                    else:
                        status, answer, delay = 200, {"ok": True, "path": path}, 0
                    owner.seen.notify_all()
                if delay:
                    time.sleep(delay)
                raw = isinstance(answer, bytes)  # sent as it is, not as JSON
                data = answer if raw else json.dumps(answer).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type",
                                     "application/octet-stream" if raw else "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = handle_any

        self.httpd = Recorder(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.url = "http://127.0.0.1:%d" % self.port
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def script(self, path, *responses):
        """Answers for path, in order; the last one repeats."""
        with self.lock:
            self.scripts[path] = [r if len(r) == 3 else (r[0], r[1], 0) for r in responses]

    def hits(self, path):
        with self.lock:
            return [r for r in self.requests if r["path"] == path]

    def count(self, path):
        return len(self.hits(path))

    def wait_for(self, path, n=1, timeout=10):
        deadline = time.monotonic() + timeout
        with self.lock:
            while sum(1 for r in self.requests if r["path"] == path) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.seen.wait(left)
        return True

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


class Project:
    """A temporary Ferry project: workflows/, tasks/, and its data folder."""

    def __init__(self):
        self.dir = Path(tempfile.mkdtemp(prefix="ferry-it-"))
        (self.dir / "workflows").mkdir()
        (self.dir / "tasks").mkdir()
        self.data = self.dir / ".ferry"

    def write(self, rel, text):
        path = self.dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return path

    def write_bytes(self, rel, data):
        path = self.dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return path

    def workflow(self, name, text):
        return self.write("workflows/%s.yaml" % name, text)

    def ferry(self, *args, timeout=TIMEOUT, project=True, data=True):
        cmd = [FERRY, *args]
        if project:
            cmd += ["--project", str(self.dir)]
        if data:
            cmd += ["--data", str(self.data)]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                              cwd=str(self.dir))

    def run(self, name, *args, timeout=TIMEOUT):
        """`ferry run NAME ...` -> (exit code, execution JSON or None, stderr)."""
        p = self.ferry("run", name, "--quiet", *args, timeout=timeout)
        try:
            doc = json.loads(p.stdout) if p.stdout.strip() else None
        except ValueError:
            doc = None
        return p.returncode, doc, p.stderr

    def show(self, exec_id):
        p = self.ferry("executions", "show", exec_id, "--json")
        assert p.returncode == 0, p.stderr
        return json.loads(p.stdout)

    def remove(self):
        shutil.rmtree(self.dir, ignore_errors=True)


def in_parallel(*calls):
    """Runs independent ferry invocations at once; returns their results in order."""
    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        futures = [pool.submit(c) for c in calls]
        return [f.result() for f in futures]


# A custom task that POSTs to a URL with the step's idempotency key, then optionally waits.
POST_TASK = """\
return {
  name = "custom.post",
  description = "POST to a URL with the step's idempotency key",
  input = { url = { type = "string", required = true }, pause = { type = "string" } },
  run = function(ctx, input)
    local res, err = ctx.http {
      method = "POST", url = input.url,
      headers = { ["Idempotency-Key"] = ctx.idempotency_key, ["X-Key"] = ctx.step_id },
      json = { step = ctx.step_id, attempt = ctx.attempt },
    }
    if not res then error(err, 0) end
    if input.pause then ferry.sleep(input.pause) end
    return { status = res.status, attempt = ctx.attempt, key = ctx.idempotency_key }
  end,
}
"""


class EngineTest(unittest.TestCase):
    def setUp(self):
        self.p = Project()
        self.server = None
        self.procs = []

    def tearDown(self):
        for proc in self.procs:
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(5)
        if self.server:
            self.server.stop()
        self.p.remove()

    def start_server(self):
        self.server = TestServer()
        return self.server

    def run_and_kill(self, name, *args, path, settle):
        """`ferry run NAME ARGS...`, killed with SIGKILL `settle` seconds after the test
        server saw its first request to `path`; returns the ended process."""
        cmd = [FERRY, "run", name, *args, "--project", str(self.p.dir), "--data", str(self.p.data)]
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                cwd=str(self.p.dir))
        self.procs.append(proc)
        self.assertTrue(self.server.wait_for(path, 1, timeout=15), "the run never reached " + path)
        time.sleep(settle)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        return proc

    def run_in_background(self, name, until=lambda shown: True):
        """`ferry run NAME` in the background, until its execution is recorded and
        until(shown) holds for the recorded execution; returns (process, execution id).
        The id comes from the run's first progress line, so each poll is one CLI call
        (about a second each under ASan on a busy host)."""
        cmd = [FERRY, "run", name, "--project", str(self.p.dir), "--data", str(self.p.data)]
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                cwd=str(self.p.dir), text=True)
        self.procs.append(proc)
        deadline = time.monotonic() + 30
        run_id = None
        while run_id is None and time.monotonic() < deadline:
            ready, _, _ = select.select([proc.stderr], [], [], 0.5)
            if ready:
                line = proc.stderr.readline()
                if not line:
                    break
                m = re.match(r"ferry: (\S+) execution started", line)
                if m:
                    run_id = m.group(1)
        self.assertIsNotNone(run_id, "the run never said it started")
        while time.monotonic() < deadline:
            shown = self.p.ferry("executions", "show", run_id, "--json")
            if shown.returncode == 0 and until(json.loads(shown.stdout)):
                return proc, run_id
            time.sleep(0.05)
        self.fail("the run never recorded its execution as awaited")

    def assertRun(self, name, *args, code=0, timeout=TIMEOUT):
        rc, doc, err = self.p.run(name, *args, timeout=timeout)
        self.assertEqual(rc, code, "exit %d, stderr:\n%s" % (rc, err))
        self.assertIsNotNone(doc, "no execution JSON on stdout; stderr:\n%s" % err)
        return doc

    def step_error(self, doc, step):
        err = doc["steps"][step]["error"]
        self.assertIsInstance(err, dict, "step %s has no error: %r" % (step, doc["steps"][step]))
        return err


# --------------------------------------------------------------------------- 1, 2: concurrency


class Parallelism(EngineTest):
    def test_steps_read_whole_are_in_the_files_order_whichever_ends_first(self):
        # `steps` listed the steps in the order they ended: the same workflow gave
        # ['b', 'a'] in one run and ['a', 'b'] in another.
        self.p.workflow("order", """\
steps:
  - {id: slow, task: sleep, with: {duration: 300ms}}
  - {id: fast, task: sleep, with: {duration: 10ms}}
  - {id: skipped, task: log, when: "{{ false }}", with: {message: x}}
  - {id: last, task: log, needs: [fast], with: {message: done}}
outputs:
  keys: "{{ steps | list }}"
  statuses: "{% for id, s in steps.items() %}{{ id }}={{ s.status }} {% endfor %}"
""")
        doc = self.assertRun("order")
        self.assertEqual(doc["outputs"]["keys"], ["slow", "fast", "skipped", "last"])
        self.assertEqual(doc["outputs"]["statuses"],
                         "slow=succeeded fast=succeeded skipped=skipped last=succeeded ")

    def test_parallel_branches_overlap(self):
        self.p.workflow("par", """\
steps:
  - {id: left, task: sleep, with: {duration: 200ms}}
  - {id: right, task: sleep, with: {duration: 200ms}}
  - {id: join, task: log, needs: [left, right], with: {message: joined}}
""")
        doc = self.assertRun("par")
        s = doc["steps"]
        starts = [parse_time(s[k]["started_at"]) for k in ("left", "right")]
        ends = [parse_time(s[k]["finished_at"]) for k in ("left", "right")]
        # Both started before either finished: the branches really ran at the same time.
        self.assertLess(max(starts), min(ends), s)
        span = max(ends) - min(starts)
        self.assertGreaterEqual(span, 0.195, "a 200ms sleep cannot finish early")
        self.assertLess(span, 0.350, "two 200ms sleeps took %.0f ms: not overlapped" % (span * 1000))
        # The join waited for both.
        self.assertGreaterEqual(parse_time(s["join"]["started_at"]), max(ends))
        self.assertEqual(s["join"]["status"], "succeeded")

    def test_for_each_concurrency_limit_and_order(self):
        self.p.workflow("fan", """\
inputs:
  names: {type: array, default: [a, b, c, d, e, f]}
steps:
  - id: work
    task: lua
    for_each: "{{ inputs.names }}"
    concurrency: 2
    with:
      input: {name: "{{ item }}", index: "{{ index }}"}
      script: |
        ferry.sleep("150ms")
        return input.name .. input.index
outputs:
  all: "{{ steps.work.output }}"
""")
        doc = self.assertRun("fan")
        self.assertEqual(doc["outputs"]["all"], ["a0", "b1", "c2", "d3", "e4", "f5"])
        self.assertEqual(doc["steps"]["work"]["output"], ["a0", "b1", "c2", "d3", "e4", "f5"])
        shown = self.p.show(doc["id"])["steps"]
        items = [shown["work[%d]" % i] for i in range(6)]
        self.assertEqual([it["item_index"] for it in items], list(range(6)))
        intervals = [(parse_time(it["started_at"]), parse_time(it["finished_at"])) for it in items]
        events = sorted([(a, 1) for a, _ in intervals] + [(b, -1) for _, b in intervals],
                        key=lambda e: (e[0], e[1]))  # an end before a start at the same ms
        running, peak = 0, 0
        for _, delta in events:
            running += delta
            peak = max(peak, running)
        self.assertEqual(peak, 2, "items ran %d at a time (concurrency: 2): %r" % (peak, intervals))
        # At most two at a time: six 150ms items need at least three waves.
        total = max(b for _, b in intervals) - min(a for a, _ in intervals)
        self.assertGreater(total, 0.44)


    def test_a_large_for_each_reads_back_whole(self):
        # History is read back from the stored texts (engine/core/history.cpp), not as values
        # for every record: each item's attempt still gets its step's input and output.
        n = 3000
        self.p.workflow("wide", """\
inputs:
  n: {type: integer}
steps:
  - id: each
    task: transform
    for_each: "{{ range(inputs.n) | list }}"
    concurrency: 200
    with:
      data: {ci: "server-{{ item }}", n: "{{ item }}"}
      mappings: [{source: ci, target: name}, {source: n, target: n}]
""")
        doc = self.assertRun("wide", "--input", "n=%d" % n)
        shown = self.p.show(doc["id"])
        items = {k: v for k, v in shown["steps"].items() if k.startswith("each[")}
        self.assertEqual(len(items), n)
        for i in (0, 1234, n - 1):
            item = items["each[%d]" % i]
            self.assertEqual(item["output"], {"name": "server-%d" % i, "n": i})
            self.assertEqual(len(item["attempts"]), 1)
            last = item["attempts"][0]
            self.assertNotIn("same_as_step", last)
            self.assertEqual(last["input"], item["input"])
            self.assertEqual(last["output"], item["output"])
        human = self.p.ferry("executions", "show", doc["id"])
        self.assertEqual(human.returncode, 0, human.stderr)
        self.assertEqual(human.stdout.count("\n  each["), n)
        # The transform builds its object in Lua: its keys come in either order.
        last = re.search(r"\n  each\[2999\] +succeeded .*\n      output: (\{.*\})\n", human.stdout)
        self.assertTrue(last, "no line for each[2999] in `executions show`")
        self.assertEqual(json.loads(last.group(1)), {"name": "server-2999", "n": 2999})
        # Each line tells when its step started: the order they ran (listed in file order).
        started = re.search(r"\n  each\[2999\] +succeeded +\S+ +attempts 1 +started (\S+)\n",
                            human.stdout)
        self.assertTrue(started, human.stdout[-300:])
        self.assertEqual(started.group(1), doc["steps"]["each[2999]"]["started_at"])


# --------------------------------------------------------------------------- 3, 4: failures, when


class FailurePaths(EngineTest):
    def test_a_large_value_repeated_in_every_item_stops_at_the_steps_limit(self):
        # Each item's input is recorded and held while the execution runs: 500 KB in every
        # one of 600 items took a server to 1.4 GB and 366 MB of disk.
        self.p.workflow("fanblob", """\
inputs:
  note: {type: string}
steps:
  - id: each
    task: log
    for_each: "{{ range(200) | list }}"
    concurrency: 4
    with: {message: "{{ item }}: {{ inputs.note }}"}
""")
        self.p.write("in.json", json.dumps({"note": "x" * (1 << 20)}))
        doc = self.assertRun("fanblob", "--inputs-file", str(self.p.dir / "in.json"), code=1)
        err = doc["steps"]["each"]["error"]
        self.assertEqual(err["kind"], "limit", err)
        self.assertRegex(err["message"], r"the items' inputs together pass 64 MiB as JSON at "
                                         r"item 6[0-9] \(each is recorded")
        done = [k for k, v in doc["steps"].items() if k.startswith("each[") and
                v["status"] == "succeeded"]
        self.assertGreater(len(done), 55)
        self.assertLess(len(done), 70)

    def test_a_value_too_large_for_memory_fails_its_step_not_the_process(self):
        # An input-sized width went straight to an allocation: the process aborted on
        # bad_alloc, and `ferry serve` again on every restart that resumed the execution.
        self.p.workflow("wide", """\
inputs: {w: {type: integer}}
steps:
  - {id: say, task: log, with: {message: "{{ 'x' | indent(inputs.w) }}"}}
  - {id: after, task: log, needs: [say], with: {message: done}}
""")
        doc = self.assertRun("wide", "--input", "w=99999999999", code=1)
        self.assertEqual(doc["status"], "failed")
        err = self.step_error(doc, "say")
        self.assertEqual(err["kind"], "limit")
        self.assertIn("indent would build a string of 99999999999 bytes", err["message"])
        self.assertEqual(doc["steps"]["after"]["status"], "cancelled")
        self.assertEqual(self.assertRun("wide", "--input", "w=2")["status"], "succeeded")

    def test_on_error_fail_cancels_the_rest(self):
        self.p.workflow("failing", """\
steps:
  - {id: bad, task: fail, with: {message: boom}}
  - {id: slow, task: sleep, with: {duration: 150ms}}
  - {id: after_bad, task: log, needs: [bad], with: {message: never}}
  - {id: after_slow, task: log, needs: [slow], with: {message: never}}
""")
        doc = self.assertRun("failing", code=1)
        s = doc["steps"]
        self.assertEqual(doc["status"], "failed")
        self.assertEqual(doc["error"]["step"], "bad")
        self.assertIn("boom", doc["error"]["message"])
        self.assertEqual(s["bad"]["status"], "failed")
        self.assertEqual(s["bad"]["error"]["message"], "boom")
        # A step already running finishes; steps not started are cancelled.
        self.assertEqual(s["slow"]["status"], "succeeded")
        self.assertEqual(s["after_bad"]["status"], "cancelled")
        self.assertEqual(s["after_slow"]["status"], "cancelled")
        self.assertTrue(s["after_slow"]["reason"])

    def test_history_stays_utf8_whatever_a_template_prints(self):
        # A template file in Latin-1 printed its bytes into the step output, and from there
        # into stdout, show --json and export as JSON no reader takes; then each bad byte
        # became U+FFFD in silence. It is refused where it is, as Jinja2's loader refuses it
        # (here before the run starts; an include of one fails its step), and a lone
        # surrogate escape fails where it is written.
        (self.p.dir / "templates").mkdir(exist_ok=True)
        (self.p.dir / "templates" / "latin1.j2").write_bytes(b"caf\xe9 {{ x }}")
        (self.p.dir / "templates" / "outer.j2").write_text("{{ 1 }}{% include 'latin1.j2' %}")
        self.p.workflow("latin", """\
steps:
  - {id: r, task: template.render, with: {template: latin1.j2, vars: {x: 1}}}
""")
        p = self.p.ferry("run", "latin")
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("latin.yaml:2:42: step 'r': the template is not valid UTF-8 (byte 0xE9)",
                      p.stderr)
        self.p.workflow("latin", """\
steps:
  - {id: r, task: template.render, with: {template: outer.j2, vars: {x: 1}}}
""")
        doc = self.assertRun("latin", code=1)  # assertRun parses stdout as JSON
        self.assertIn("latin1.j2:1:4: ValueError: the template is not valid UTF-8 (byte 0xE9)",
                      doc["steps"]["r"]["error"]["message"])
        for args in (("executions", "show", doc["id"], "--json"), ("executions", "export")):
            p = self.p.ferry(*args)
            self.assertEqual(p.returncode, 0, p.stderr)
            p.stdout.encode("utf-8")  # text mode decoded it: strict UTF-8 by default
            for line in (p.stdout.splitlines() if args[1] == "export" else [p.stdout]):
                json.loads(line)
        self.p.workflow("surrogate", """\
steps:
  - {id: s, task: log, with: {message: "{{ '\\\\uD800' }}"}}
""")
        p = self.p.ferry("run", "surrogate")
        self.assertEqual(p.returncode, 2, p.stderr)  # found when the workflow loads
        self.assertRegex(p.stderr, r"surrogate\.yaml:2:\d+: invalid expression: surrogates "
                                   r"not allowed")

    def test_a_fan_out_stopped_by_another_step_failing_is_not_succeeded(self):
        self.p.workflow("fanfail", """\
steps:
  - {id: a, task: lua, with: {script: "ferry.sleep(300) error('a broke')"}}
  - id: b
    task: sleep
    for_each: [1, 2, 3, 4]
    concurrency: 1
    with: {duration: 500ms}
""")
        doc = self.assertRun("fanfail", code=1)
        s = doc["steps"]
        self.assertEqual(doc["error"]["step"], "a")
        self.assertEqual(s["b[0]"]["status"], "succeeded")  # it was running: it finished
        for i in (1, 2, 3):
            self.assertEqual(s["b[%d]" % i]["status"], "cancelled")
            self.assertEqual(s["b[%d]" % i]["reason"],
                             "the execution failed before this item could run")
        self.assertEqual(s["b"]["status"], "cancelled")
        self.assertEqual(s["b"]["reason"], "the execution failed before all items ran")
        self.assertEqual(s["b"]["output"], [{}, None, None, None])
        # An item that fails stops the others, as before: the step failed, for that reason.
        self.p.workflow("itemfail", """\
steps:
  - id: b
    task: lua
    for_each: [1, 2, 3]
    concurrency: 1
    with: {input: "{{ item }}", script: "if input == 1 then error('one') end return input"}
""")
        s = self.assertRun("itemfail", code=1)["steps"]
        self.assertEqual(s["b"]["status"], "failed")
        self.assertEqual(s["b[1]"]["reason"], "another item failed before this one could run")

    def test_on_error_continue_skips_dependents_only(self):
        self.p.workflow("cont", """\
steps:
  - {id: bad, task: fail, with: {message: boom}, on_error: continue}
  - {id: dep, task: log, needs: [bad], with: {message: never}}
  - {id: dep2, task: log, needs: [dep], with: {message: never}}
  - {id: indep, task: lua, with: {script: "return 42"}}
  - {id: after_indep, task: lua, with: {input: "{{ steps.indep.output }}", script: "return input + 1"}}
""")
        doc = self.assertRun("cont")
        s = doc["steps"]
        self.assertEqual(doc["status"], "succeeded")
        self.assertEqual(s["bad"]["status"], "failed")
        self.assertEqual(s["dep"]["status"], "skipped")
        self.assertIn("bad", s["dep"]["reason"])
        self.assertIn("failed", s["dep"]["reason"])
        self.assertEqual(s["dep2"]["status"], "skipped")
        self.assertIn("dep", s["dep2"]["reason"])
        self.assertEqual(s["indep"]["output"], 42)
        self.assertEqual(s["after_indep"]["output"], 43)

    HANDLER = """\
inputs:
  broken: {type: boolean, default: true}
steps:
  - id: work
    task: lua
    on_error: cleanup
    with:
      input: "{{ inputs.broken }}"
      script: |
        if input then error("the work broke", 0) end
        return "fine"
  - id: cleanup
    task: lua
    with:
      input: "{{ steps.work.error.message }}"
      script: "return 'handled: ' .. tostring(input)"
  - id: independent
    task: lua
    with: {script: "return 'ran'"}
outputs:
  cleanup: "{{ steps.cleanup.status }}"
"""

    def test_on_error_handler_runs_on_failure(self):
        self.p.workflow("handler", self.HANDLER)
        doc = self.assertRun("handler")
        s = doc["steps"]
        self.assertEqual(doc["status"], "succeeded")
        self.assertEqual(s["work"]["status"], "failed")
        self.assertEqual(s["cleanup"]["status"], "succeeded", s["cleanup"])
        self.assertEqual(s["cleanup"]["output"], "handled: the work broke")
        self.assertEqual(s["independent"]["output"], "ran")

    def test_a_handler_that_reads_nothing_of_the_failure_still_runs(self):
        # Declared first and depending on nothing: the scheduler has looked at it (not
        # triggered yet) before the failure, and must look again when the failure triggers it.
        self.p.workflow("handler", """\
steps:
  - {id: cleanup, task: log, with: {message: cleaning up}}
  - {id: work, task: fail, with: {message: the work broke}, on_error: cleanup}
  - {id: later, task: log, needs: [work], with: {message: never}}
""")
        doc = self.assertRun("handler")
        s = doc["steps"]
        self.assertEqual(s["work"]["status"], "failed")
        self.assertEqual(s["cleanup"]["status"], "succeeded", s["cleanup"])
        self.assertEqual(s["later"]["status"], "skipped")

    def test_a_failure_whose_handler_cannot_run_fails_the_execution(self):
        # The handler also reads a step that failed with on_error: continue: it is skipped,
        # and the execution succeeded with create's failure handled by nobody.
        self.p.workflow("handler", """\
steps:
  - {id: lookup, task: fail, on_error: continue, with: {message: lookup down}}
  - {id: create, task: fail, on_error: fallback, with: {message: primary down}}
  - id: fallback
    task: log
    with: {message: "{{ steps.create.error.message }} {{ steps.lookup.output }}"}
""")
        code, doc, err = self.p.run("handler")
        self.assertEqual(code, 1, err)
        self.assertEqual(doc["status"], "failed")
        self.assertEqual(doc["steps"]["fallback"]["status"], "skipped")
        self.assertEqual(doc["error"]["step"], "create")
        self.assertEqual(doc["error"]["message"], "primary down (its on_error step 'fallback' "
                         "did not run for it: dependency 'lookup' failed)")

    def test_every_step_has_a_reason_null_when_it_ran(self):
        # validate lets expressions read steps.X.reason; it was missing for a step that ran,
        # so a workflow reading it worked only when the step was skipped.
        self.p.workflow("why", """\
inputs: {go: {type: boolean, default: true}}
steps:
  - {id: a, task: log, when: "{{ inputs.go }}", with: {message: a}}
  - {id: b, task: log, with: {message: "a {{ steps.a.status }}{{ (': ' ~ steps.a.reason) if steps.a.reason else '' }}"}}
outputs: {why: "{{ steps.a.reason }}"}
""")
        doc = self.assertRun("why")
        self.assertEqual(doc["outputs"], {"why": None})
        self.assertEqual(doc["steps"]["b"]["logs"][0]["message"], "a succeeded")
        doc = self.assertRun("why", "--input", "go=false")
        self.assertEqual(doc["outputs"], {"why": "when condition is false"})

    def test_reading_a_skipped_steps_output_says_why_it_is_null(self):
        # CONTRACT.md's own example, with its default severity, failed with
        # "outputs.ticket: 'None' has no attribute 'number'": not a word of the skipped step.
        self.p.workflow("sk", """\
inputs: {severity: {type: string, default: medium}}
steps:
  - {id: ticket, task: log, when: "{{ inputs.severity in ['critical', 'high'] }}", with: {message: t}}
  - {id: soft, task: fail, on_error: continue, with: {message: broken}}
  - {id: notify, task: log, with: {message: "{{ steps.ticket.output.number | default('none') }}"}}
outputs:
  ticket: "{{ steps.ticket.output.number }}"
""")
        code, doc, err = self.p.run("sk")
        self.assertEqual(code, 1, err)
        self.assertEqual(doc["steps"]["notify"]["status"], "succeeded")  # default() as hinted
        self.assertEqual(doc["error"]["message"],
                         "outputs.ticket: 'None' has no attribute 'number' (step 'ticket' has no "
                         "output: it was skipped: when condition is false; `| default(...)` gives "
                         "a value in that case, or test steps.ticket.status first)")
        # In a step's when and for_each too, and a step the failing text does not read is
        # not named.
        self.p.workflow("sk2", """\
steps:
  - {id: off, task: log, when: "{{ false }}", with: {message: t}}
  - {id: c, task: log, when: "{{ steps.off.output.n > 1 }}", with: {message: c}}
  - {id: f, task: log, for_each: "{{ steps.off.output }}", with: {message: f}}
  - {id: other, task: log, needs: [off], with: {message: "{{ none.x }}"}}
""")
        code, doc, err = self.p.run("sk2")
        self.assertEqual(code, 1, err)
        messages = {k: doc["steps"][k]["error"]["message"] for k in ("c", "f", "other")}
        self.assertIn("step 'c' when: 'None' has no attribute 'n' (step 'off' has no output: "
                      "it was skipped: when condition is false;", messages["c"])
        self.assertIn("step 'f' for_each must give a list, got null (step 'off' has no "
                      "output:", messages["f"])
        self.assertEqual(messages["other"], "step 'other' with.message: 'None' has no attribute 'x'")
        # A step that failed on with on_error: continue (its dependents are skipped, the
        # outputs may still read it).
        self.p.workflow("sk3", """\
steps:
  - {id: soft, task: fail, on_error: continue, with: {message: broken}}
outputs: {x: "{{ steps.soft.output.x }}"}
""")
        code, doc, err = self.p.run("sk3")
        self.assertEqual(code, 1, err)
        self.assertEqual(doc["error"]["message"],
                         "outputs.x: 'None' has no attribute 'x' (step 'soft' has no output: it "
                         "failed; `| default(...)` gives a value in that case, or test "
                         "steps.soft.status first)")

    def test_a_handler_skipped_by_its_when_or_vetoed_handles_nothing(self):
        # The failure counted as handled and the execution succeeded: a 4xx a conditional
        # handler was not meant for became a success.
        self.p.write("tasks/hooks/veto.lua",
                     'return { before_step = function(ctx, event) '
                     'if event.step == "h" then return false end end }\n')
        self.p.workflow("cond", """\
steps:
  - {id: create, task: fail, on_error: h, with: {message: "400 bad"}}
  - {id: h, task: log, when: "{{ steps.create.error.kind == 'http_5xx' }}", with: {message: later}}
  - {id: after, task: log, needs: h, with: {message: after}}
""")
        self.p.workflow("vetoed", """\
hooks: {before_step: hooks/veto.lua}
steps:
  - {id: create, task: fail, on_error: h, with: {message: "400 bad"}}
  - {id: h, task: log, with: {message: handling}}
""")
        for name, why in (("cond", "when condition is false"),
                          ("vetoed", "vetoed by the before_step hook")):
            with self.subTest(workflow=name):
                code, doc, err = self.p.run(name)
                self.assertEqual(code, 1, err)
                self.assertEqual(doc["status"], "failed")
                self.assertEqual(doc["steps"]["h"]["status"], "skipped")
                self.assertEqual(doc["error"]["message"], "400 bad (its on_error step 'h' did "
                                 "not run for it: %s)" % why)
        # A handler whose `when` holds runs, and handles it.
        self.p.workflow("cond5", """\
steps:
  - {id: create, task: fail, on_error: h, with: {message: "503"}}
  - {id: h, task: log, when: "{{ steps.create.error.kind == 'lua_error' }}", with: {message: later}}
""")
        self.assertEqual(self.assertRun("cond5")["status"], "succeeded")

    def test_a_failure_into_a_handler_that_already_ran_fails_the_execution(self):
        # h ran for a's failure; b's failure later changed nothing, and the execution
        # succeeded with it handled by nobody.
        self.p.workflow("handler", """\
steps:
  - {id: a, task: fail, on_error: h, with: {message: a down}}
  - {id: b, task: lua, on_error: h, with: {script: "ferry.sleep(150); error('b down', 0)"}}
  - {id: h, task: log, with: {message: "handled {{ steps.a.error.message }}"}}
""")
        code, doc, err = self.p.run("handler")
        self.assertEqual(code, 1, err)
        self.assertEqual(doc["steps"]["h"]["status"], "succeeded")
        self.assertEqual(doc["error"]["step"], "b")
        self.assertEqual(doc["error"]["message"], "b down (its on_error step 'h' did not run "
                         "for it: it had started already, for another step's failure)")

    def test_a_handler_waiting_for_a_handler_no_failure_called_says_so(self):
        self.p.workflow("handler", """\
steps:
  - {id: a, task: fail, on_error: h, with: {message: a down}}
  - {id: c, task: log, on_error: g, with: {message: fine}}
  - {id: g, task: log, with: {message: never}}
  - {id: h, task: log, needs: g, with: {message: "{{ steps.a.error.message }}"}}
""")
        code, doc, err = self.p.run("handler")
        self.assertEqual(code, 1, err)
        self.assertEqual(doc["error"]["message"], "a down (its on_error step 'h' did not run "
                         "for it: it waits for step 'g', which did not run)")

    def test_a_handler_shared_by_steps_that_do_not_all_fail_runs_for_the_failure(self):
        # The other steps naming it end without failing (later, skipped by a dependency or
        # by their when): the handler ran for the failure, and the execution succeeds.
        for other in ("{id: b, task: sleep, on_error: h, with: {duration: 200ms}}",
                      "{id: b, task: log, needs: a, on_error: h, with: {message: x}}",
                      "{id: b, task: log, when: 'false', on_error: h, with: {message: x}}"):
            with self.subTest(other=other):
                self.p.workflow("handler", """\
steps:
  - {id: a, task: fail, on_error: h, with: {message: a down}}
  - %s
  - {id: h, task: log, with: {message: "handled {{ steps.a.error.message }}"}}
""" % other)
                doc = self.assertRun("handler")
                self.assertEqual(doc["steps"]["h"]["status"], "succeeded")
        # One handler for two failures: it waits for both by naming both.
        self.p.workflow("handler", """\
steps:
  - {id: a, task: fail, on_error: h, with: {message: a down}}
  - {id: b, task: lua, on_error: h, with: {script: "ferry.sleep(150); error('b down', 0)"}}
  - id: h
    task: log
    needs: [a, b]
    with: {message: "{{ steps.a.error.message }}, {{ steps.b.error.message }}"}
""")
        doc = self.assertRun("handler")
        self.assertEqual(doc["steps"]["h"]["status"], "succeeded")

    def test_on_error_handler_skipped_without_failure(self):
        self.p.workflow("handler", self.HANDLER)
        doc = self.assertRun("handler", "--input", "broken=false")
        s = doc["steps"]
        self.assertEqual(s["work"]["output"], "fine")
        self.assertEqual(s["cleanup"]["status"], "skipped")
        self.assertTrue(s["cleanup"].get("reason"))
        self.assertIsNone(s["cleanup"]["output"])
        # The outputs can ask what became of the handler that was not needed.
        self.assertEqual(doc["outputs"], {"cleanup": "skipped"})

    def test_when_false_skips_and_dependents_run(self):
        self.p.workflow("cond", """\
inputs:
  go: {type: boolean, default: false}
steps:
  - id: maybe
    task: lua
    when: "{{ inputs.go }}"
    with: {script: "return 'ran'"}
  - id: next
    task: lua
    with:
      input: {seen: "{{ steps.maybe.output }}", status: "{{ steps.maybe.status }}"}
      script: "return {null = input.seen == nil or input.seen == ferry.json.null, status = input.status}"
""")
        off, on = in_parallel(lambda: self.p.run("cond"),
                              lambda: self.p.run("cond", "--input", "go=true"))
        rc, doc, err = off
        self.assertEqual(rc, 0, err)
        s = doc["steps"]
        self.assertEqual(s["maybe"]["status"], "skipped")
        self.assertIn("when", s["maybe"]["reason"])
        self.assertEqual(s["next"]["status"], "succeeded")
        self.assertEqual(s["next"]["output"], {"null": True, "status": "skipped"})
        rc, doc, err = on
        self.assertEqual(rc, 0, err)
        self.assertEqual(doc["steps"]["maybe"]["output"], "ran")
        self.assertEqual(doc["steps"]["next"]["output"], {"null": False, "status": "succeeded"})

    def test_a_step_read_through_a_variable_key_says_to_add_needs(self):
        self.p.workflow("dyn", """\
steps:
  - {id: a, task: lua, with: {script: "ferry.sleep('100ms') return 'A'"}}
  - {id: d, task: log, on_error: continue, with: {message: "{% for s in ['a'] %}{{ steps[s].output }}{% endfor %}"}}
  - {id: f, task: log, needs: [a], with: {message: "{% for s in ['a'] %}{{ steps[s].output }}{% endfor %}"}}
""")
        rc, doc, err = self.p.run("dyn")
        self.assertEqual(rc, 0, err)
        self.assertIn("'dict object' has no attribute 'a' (step 'a' has not finished when step "
                      "'d' runs: a step read through a variable key, such as steps[name], is not "
                      "seen as a dependency; add needs: [a])", doc["steps"]["d"]["error"]["message"])
        self.assertEqual(doc["steps"]["f"]["status"], "succeeded")  # with needs: it works

    def test_braces_in_a_string_literal_keep_an_expression_one(self):
        # `}}` inside a quoted string made the whole a text: the condition rendered 'False',
        # which is true; a comparison came out as the text 'False'; a literal for_each
        # list holding "a}}b" failed.
        self.p.workflow("br", """\
inputs:
  msg: {type: string, default: hello}
steps:
  - {id: bare, task: log, when: "inputs.msg == 'x}}y'", with: {message: ran}}
  - {id: braced, task: log, when: "{{ inputs.msg in ['}}', 'deploy'] }}", with: {message: ran}}
  - {id: typed, task: lua, with: {input: "{{ inputs.msg == '}}' }}", script: "return input"}}
  - {id: each, task: lua, for_each: ["a}}b", "z"], with: {input: "{{ item }}", script: "return input"}}
""")
        v = self.p.ferry("validate", "workflows/br.yaml", data=False)
        self.assertEqual(v.returncode, 0, v.stdout + v.stderr)
        doc = self.assertRun("br")
        self.assertEqual(doc["steps"]["bare"]["status"], "skipped")
        self.assertEqual(doc["steps"]["braced"]["status"], "skipped")
        self.assertIs(doc["steps"]["typed"]["output"], False)
        self.assertEqual(doc["steps"]["each"]["output"], ["a}}b", "z"])

    def test_when_as_a_block_scalar_is_a_condition_not_text(self):
        # `when: >` ends the text with a newline: the condition must still be the
        # expression's value, not the text "False\n" (which is true).
        self.p.workflow("blk", """\
inputs:
  severity: {type: string, default: low}
steps:
  - id: page
    task: lua
    when: >
      {{ inputs.severity in ['critical', 'high'] }}
    with: {script: "return 'paged'"}
  - id: spaced
    task: lua
    when: " {{ inputs.severity == 'low' }} "
    for_each: |
      {{ [1, 2] }}
    with: {script: "return 'ran'"}
""")
        low, high = in_parallel(lambda: self.p.run("blk"),
                                lambda: self.p.run("blk", "--input", "severity=high"))
        rc, doc, err = low
        self.assertEqual(rc, 0, err)
        self.assertEqual(doc["steps"]["page"]["status"], "skipped")
        self.assertEqual(doc["steps"]["spaced"]["output"], ["ran", "ran"])
        rc, doc, err = high
        self.assertEqual(rc, 0, err)
        self.assertEqual(doc["steps"]["page"]["output"], "paged")
        self.assertEqual(doc["steps"]["spaced"]["status"], "skipped")

    def test_for_each_stops_starting_items_after_a_failure(self):
        self.p.workflow("fe", """\
steps:
  - id: f
    task: lua
    for_each: [1, 2, 3, 4, 5]
    concurrency: 1
    with: {script: "if input == 2 then error('boom') end return input", input: "{{ item }}"}
""")
        doc = self.assertRun("fe", code=1)
        statuses = [doc["steps"]["f[%d]" % i]["status"] for i in range(5)]
        self.assertEqual(statuses, ["succeeded", "failed", "cancelled", "cancelled", "cancelled"])
        self.assertTrue(self.step_error(doc, "f")["message"].startswith("item 1 failed: "),
                        doc["steps"]["f"]["error"])
        self.assertEqual(doc["steps"]["f"]["output"], [1, None, None, None, None])


# --------------------------------------------------------------------------- 5: retries


    def test_a_for_each_over_too_many_items_fails_its_step_and_says_to_split(self):
        self.p.workflow("many", """\
steps:
  - {id: each, task: log, for_each: "{{ range(50001) | list }}", with: {message: "{{ item }}"}}
""")
        doc = self.assertRun("many", code=1)
        self.assertEqual(doc["steps"]["each"]["error"]["message"],
                         "step 'each' for_each gives 50001 items, more than the 50000 one "
                         "step may run: split the list (a sub-workflow per batch)")

    def test_a_runaway_template_in_a_for_each_blocks_once_not_per_item(self):
        # Templates render on the loop, each bounded at 10 s: three runaway items blocked
        # every request of a server for 30 s. Once an item's `with` takes the whole limit,
        # the step's other items are not evaluated.
        self.p.workflow("runaway", """\
steps:
  - id: each
    task: log
    for_each: [1, 2, 3]
    with: {message: "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"}
""")
        t0 = time.monotonic()
        doc = self.assertRun("runaway", code=1)
        self.assertLess(time.monotonic() - t0, 18)
        errors = [doc["steps"]["each[%d]" % i]["error"] for i in range(3)]
        self.assertTrue(all(e["kind"] == "limit" for e in errors), errors)
        self.assertIn("ran longer than 10000 ms", errors[0]["message"])
        for e in errors[1:]:
            self.assertIn("not evaluated: an earlier item's took the whole 10 s render limit",
                          e["message"])

    def test_a_failed_steps_output_is_null_as_on_record(self):
        # It was undefined in expressions (`'undefined' is undefined` in outputs), and null
        # after a resume: the same workflow failed or succeeded depending on a crash.
        self.p.workflow("nullout", """\
steps:
  - {id: c, task: fail, on_error: h, with: {message: boom}}
  - {id: h, task: lua, with: {input: "{{ steps.c.output is none }}", script: "return input"}}
outputs:
  cout: "{{ steps.c.output }}"
  cerr: "{{ steps.c.error.message }}"
""")
        doc = self.assertRun("nullout")
        self.assertEqual(doc["outputs"], {"cout": None, "cerr": "boom"})
        self.assertIs(doc["steps"]["h"]["output"], True)

    def test_an_infinite_result_is_an_error_not_null(self):
        # JSON has no form for it: outputs and inputs became null in silence.
        self.p.workflow("inf", """\
steps:
  - {id: a, task: lua, with: {input: "{{ 1.5 * 2 }}", script: "return input"}}
outputs:
  fine: "{{ steps.a.output }}"
  o: "{{ 1e308 * 1e308 }}"
""")
        rc, doc, err = self.p.run("inf")
        self.assertEqual(rc, 1, err)
        self.assertEqual(doc["steps"]["a"]["output"], 3.0)
        self.assertEqual(doc["error"]["message"],
                         "outputs.o: the value is infinite or NaN, which JSON has no form for")
        self.p.workflow("inf", """\
steps:
  - {id: a, task: lua, with: {input: "{{ [1, 1e999] }}", script: "return input"}}
  - {id: b, task: lua, with: {input: "{{ {'x': [[2 * 1e308 * 1e308]]} }}", script: "return input"}}
""")
        rc, doc, err = self.p.run("inf")
        self.assertEqual(rc, 1, err)
        for step in ("a", "b"):
            self.assertIn("step '%s' with.input: the value is infinite or NaN" % step,
                          doc["steps"][step]["error"]["message"])

    def test_a_value_json_has_no_form_for_is_an_error_and_groups_are_lists(self):
        # groupby's groups, a range and a dict's items() all became null in silence, in
        # with:, outputs and for_each items alike. Groups are tuples (tojson writes them as
        # arrays); a range or a dict view is refused with its remedy.
        self.p.workflow("groups", """\
vars:
  people: [{name: a, team: x}, {name: b, team: y}, {name: c, team: x}]
steps:
  - id: each
    task: lua
    for_each: "{{ vars.people | groupby('team') }}"
    with: {input: "{{ item[0] }}", script: "return input"}
  - id: w
    task: lua
    with:
      input: {g: "{{ vars.people | groupby('team') | map(attribute='list') | map('length') | list }}",
              d: "{{ {'k': vars.people | groupby('team')} }}"}
      script: "return ferry.json.encode(input.d.k[1])"
outputs:
  groups: "{{ vars.people | groupby('team') }}"
""")
        doc = self.assertRun("groups")
        self.assertEqual(doc["steps"]["each"]["output"], ["x", "y"])
        self.assertEqual(doc["outputs"]["groups"][1], ["y", [{"name": "b", "team": "y"}]])
        self.assertEqual(json.loads(doc["steps"]["w"]["output"])[0], "x")
        self.p.workflow("views", """\
steps:
  - {id: r, task: lua, with: {input: {r: "{{ range(3) }}"}, script: "return input"}}
  - {id: k, task: lua, with: {input: "{{ {'a': 1}.items() }}", script: "return input"}}
  - {id: m, task: lua, with: {input: "{{ [lipsum] }}", script: "return input"}}
  # As a condition it is what it is: range(1) is true.
  - {id: c, task: log, when: "{{ range(1) }}", with: {message: ran}}
""")
        rc, doc, err = self.p.run("views")
        self.assertEqual(rc, 1, err)
        self.assertEqual(doc["steps"]["r"]["error"]["message"],
                         "step 'r' with.input.r: the value holds a range, which JSON has no form "
                         "for (add | list: \"{{ ... | list }}\")")
        self.assertIn("the value holds a dict_items", doc["steps"]["k"]["error"]["message"])
        self.assertIn("which JSON has no form for", doc["steps"]["m"]["error"]["message"])
        self.assertNotIn("| list", doc["steps"]["m"]["error"]["message"])
        self.assertEqual(doc["steps"]["c"]["status"], "succeeded")

    def test_a_value_too_large_as_json_is_a_limit_error(self):
        # [x] * 1000 holds x once: three small lists were a 200 MB output, stored and
        # printed, and ferry.template.evaluate built one past the task's memory limit.
        self.p.workflow("huge", """\
steps:
  - {id: a, task: lua, with: {input: "{{ [[[1] * 100] * 1000] * 1000 }}", script: "return 1"}}
  - id: b
    task: lua
    with:
      script: |
        return #require("ferry.template").evaluate("{{ [[[1] * 1000] * 1000] * 1000 }}", {})
outputs:
  o: "{{ [[[1] * 100] * 1000] * 1000 }}"
""")
        message = ("the value is larger than 128 MiB as JSON, the most one value may be "
                   "(a list repeated inside itself?)")
        rc, doc, err = self.p.run("huge")
        self.assertEqual(rc, 1, err)
        for step in ("a", "b"):
            self.assertEqual(self.step_error(doc, step)["kind"], "limit")
            self.assertIn(message, self.step_error(doc, step)["message"])
        self.assertIn("step 'a' with.input: " + message, self.step_error(doc, "a")["message"])
        self.p.workflow("huge", """\
steps:
  - {id: a, task: log, with: {message: hi}}
outputs:
  o: "{{ [[[1] * 100] * 1000] * 1000 }}"
""")
        rc, doc, err = self.p.run("huge")
        self.assertEqual(rc, 1, err)
        self.assertEqual(doc["error"], {"kind": "limit", "message": "outputs.o: " + message})

    def test_notes_of_finished_steps_are_posted_whichever_step_fails_first(self):
        # A pure step (transform, fail...) failing first cancelled the pending note of a step
        # that had succeeded, while a Lua step failing the same way let it run: the note
        # depends only on the step it follows having finished.
        for failing in ("{id: check, task: fail, needs: analyze, with: {message: policy}}",
                        "{id: check, task: lua, needs: analyze, with: {script: \"error('policy')\"}}"):
            with self.subTest(failing=failing):
                self.p.workflow("notes", """\
steps:
  - {id: ticket, task: lua, with: {script: "return {id = 'T1'}"}}
  - {id: analyze, task: transform, with: {data: {a: 1}, mappings: [{source: a, target: b}]}}
  - %s
  - {id: later, task: log, needs: check, with: {message: never}}
on_step:
  - steps: [analyze, later]
    task: log
    with: {message: "ticket {{ steps.ticket.output.id }}: {{ event.step }} {{ event.status }}"}
""" % failing)
                doc = self.assertRun("notes", code=1)
                steps = doc["steps"]
                self.assertEqual(steps["analyze.on_step"]["status"], "succeeded", steps)
                self.assertEqual(steps["later"]["status"], "cancelled")
                self.assertEqual(steps["later.on_step"]["status"], "cancelled")

    def test_a_note_that_reads_the_failure_ending_the_execution_is_cancelled(self):
        # It ended "skipped: dependency 't' failed", the reason section 9 gives for a
        # failure the execution goes on after.
        self.p.workflow("notes", """\
steps:
  - {id: t, task: lua, with: {script: "ferry.sleep(100); error('ticket down', 0)"}}
  - {id: a, task: log, with: {message: a}}
on_step:
  - {task: log, steps: a, with: {message: "note {{ event.step }} on {{ steps.t.output }}"}}
""")
        doc = self.assertRun("notes", code=1)
        note = doc["steps"]["a.on_step"]
        self.assertEqual((note["status"], note["reason"]),
                         ("cancelled", "the execution failed before this step could run"))
        # The same when what fails the execution is a failure into a handler that had
        # started for another.
        self.p.workflow("notes", """\
steps:
  - {id: x, task: fail, on_error: h, with: {message: x down}}
  - {id: t, task: lua, on_error: h, with: {script: "ferry.sleep(100); error('t down', 0)"}}
  - {id: h, task: sleep, with: {duration: 300ms}}
  - {id: a, task: log, with: {message: a}}
on_step:
  - {task: log, steps: a, with: {message: "note {{ event.step }} on {{ steps.t.output }}"}}
""")
        doc = self.assertRun("notes", code=1)
        self.assertEqual(doc["error"]["step"], "t")
        self.assertEqual(doc["steps"]["a.on_step"]["status"], "cancelled")


class Retries(EngineTest):
    def test_a_doomed_for_each_sends_no_more_retries(self):
        # Item 0 fails for good while items 1 and 2 wait to retry: the step fails anyway
        # (on_error: fail), and their next attempts were requests sent for nothing.
        self.p.workflow("doomed", """\
steps:
  - id: each
    task: lua
    for_each: [0, 1, 2]
    retry: {max_attempts: 3, backoff: fixed, initial_delay: 2s}
    with:
      input: "{{ item }}"
      script: |
        if input == 0 then ferry.sleep(200); error("hard fail", 0) end
        error({kind = "network", message = "flaky " .. input})
""")
        code, doc, err = self.p.run("doomed")
        self.assertEqual(code, 1, err)
        s = doc["steps"]
        self.assertEqual(s["each"]["error"]["message"], "items 0, 1, 2 failed: hard fail")
        self.assertEqual([s["each[%d]" % k]["attempt"] for k in range(3)], [1, 1, 1])
        self.assertLess(s["each"]["duration_ms"], 1500)

    def test_a_retry_waiting_for_its_delay_stops_when_another_step_fails(self):
        # The retry timer fired after the execution had failed: a second POST, and with a
        # long Retry-After the failed execution was held for it.
        srv = self.start_server()
        srv.script("/r", (503, {"e": 1}))
        self.p.workflow("stop", """\
inputs:
  url: {type: string, required: true}
steps:
  - id: r
    task: http.request
    retry: {max_attempts: 3, backoff: fixed, initial_delay: 2s, max_delay: 2s}
    with: {method: POST, url: "{{ inputs.url }}/r", json: {}}
  - {id: f, task: lua, with: {script: "ferry.sleep(200) error('other step failed')"}}
""")
        t0 = time.monotonic()
        doc = self.assertRun("stop", "--input", "url=" + srv.url, code=1)
        self.assertLess(time.monotonic() - t0, 1.8)
        self.assertEqual(srv.count("/r"), 1)
        self.assertEqual(doc["error"]["step"], "f")
        r = doc["steps"]["r"]
        self.assertEqual((r["status"], r["attempt"]), ("failed", 1), r)
        self.assertEqual(r["error"]["kind"], "http_5xx")

    def test_each_attempt_keeps_its_own_logs(self):
        # Each attempt's record repeated the logs of every attempt before it.
        self.p.workflow("logretry", """\
steps:
  - id: flaky
    task: lua
    retry: {max_attempts: 3, initial_delay: 10ms, max_delay: 10ms}
    with:
      script: |
        ctx.log.info("a" .. ctx.attempt)
        if ctx.attempt < 3 then error({kind = "network", message = "down"}) end
        return "ok"
""")
        doc = self.assertRun("logretry")
        shown = self.p.show(doc["id"])["steps"]["flaky"]
        per_attempt = [[e["message"] for e in a.get("logs", [])] for a in shown["attempts"]]
        self.assertEqual(per_attempt, [["a1"], ["a2"], ["a3"]])
        self.assertEqual([e["message"] for e in shown["logs"]], ["a1", "a2", "a3"])

    def test_5xx_retried_until_success(self):
        srv = self.start_server()
        srv.script("/flaky", (503, {"e": 1}), (503, {"e": 2}), (200, {"number": "INC7"}))
        self.p.workflow("retry", """\
inputs:
  url: {type: string, required: true}
steps:
  - id: call
    task: http.request
    retry: {max_attempts: 3, initial_delay: 50ms}
    with: {method: POST, url: "{{ inputs.url }}", json: {x: 1}}
outputs:
  number: "{{ steps.call.output.json.number }}"
""")
        doc = self.assertRun("retry", "--input", "url=%s/flaky" % srv.url)
        self.assertEqual(doc["outputs"]["number"], "INC7")
        self.assertEqual(doc["steps"]["call"]["attempt"], 3)
        self.assertEqual(srv.count("/flaky"), 3)
        self.assertEqual([json.loads(h["body"]) for h in srv.hits("/flaky")], [{"x": 1}] * 3)
        attempts = self.p.show(doc["id"])["steps"]["call"]["attempts"]
        self.assertEqual([a["attempt"] for a in attempts], [1, 2, 3])
        self.assertEqual([a["status"] for a in attempts], ["failed", "failed", "succeeded"])
        self.assertIn("503", attempts[0]["error"]["message"])
        # Every attempt shows its input and output, though the last one is stored as a
        # pointer to the step record's (they are the same): the failed ones keep their own.
        step = self.p.show(doc["id"])["steps"]["call"]
        for a in attempts:
            self.assertEqual(a["input"], step["input"], a)
            self.assertNotIn("same_as_step", a)
        self.assertEqual(attempts[2]["output"], step["output"])
        self.assertEqual(attempts[2]["output"]["json"], {"number": "INC7"})
        self.assertNotEqual(attempts[0].get("output"), step["output"])
        self.assertEqual(list(attempts[2])[:7], ["attempt", "status", "started_at", "finished_at",
                                                  "duration_ms", "input", "output"])
        # Stored once: the last attempt's record points at the step's (mdb_dump: lmdb-utils,
        # installed with the test dependencies).
        dump = subprocess.run(["mdb_dump", "-s", "attempts", "-p", str(self.p.data)],
                              capture_output=True, text=True)
        self.assertEqual(dump.returncode, 0, dump.stderr)
        self.assertEqual(dump.stdout.count("same_as_step"), 1, dump.stdout)
        self.assertEqual(dump.stdout.count("INC7"), 0, dump.stdout)

    def test_a_body_that_is_not_text_comes_base64_encoded(self):
        srv = self.start_server()
        blob = b"\x1f\x8b\x08\x00 not text \xff\xfe"
        srv.script("/blob", (200, blob))
        self.p.workflow("blob", """\
inputs: {url: {type: string}}
steps:
  - {id: get, task: http.request, with: {url: "{{ inputs.url }}"}}
""")
        doc = self.assertRun("blob", "--input", "url=%s/blob" % srv.url)
        out = doc["steps"]["get"]["output"]
        self.assertNotIn("body", out)
        self.assertEqual(base64.b64decode(out["body_base64"]), blob)
        self.assertEqual(self.p.show(doc["id"])["status"], "succeeded")

    def test_progress_shows_the_attempts_duration_then_the_delay(self):
        self.p.workflow("slowfail", """\
steps:
  - id: s
    task: lua
    retry: {max_attempts: 2, backoff: fixed, initial_delay: 1s}
    with:
      script: |
        ferry.sleep(200)
        error({kind = "http_5xx", message = "try later"})
""")
        p = self.p.ferry("run", "slowfail")
        rc, err = p.returncode, p.stderr
        self.assertEqual(rc, 1, err)
        m = re.search(r"step s attempt 1 failed in (\d+)ms, retrying in (\d+)ms: try later", err)
        self.assertIsNotNone(m, err)
        self.assertGreaterEqual(int(m.group(1)), 180)      # the attempt's own duration
        self.assertTrue(500 <= int(m.group(2)) <= 1000, m.group(2))  # the jittered delay

    def test_4xx_not_retried(self):
        srv = self.start_server()
        srv.script("/bad", (400, {"error": "no"}))
        self.p.workflow("retry", """\
inputs:
  url: {type: string, required: true}
steps:
  - id: call
    task: http.request
    retry: {max_attempts: 3, initial_delay: 50ms}
    with: {method: POST, url: "{{ inputs.url }}", json: {x: 1}}
""")
        doc = self.assertRun("retry", "--input", "url=%s/bad" % srv.url, code=1)
        self.assertEqual(srv.count("/bad"), 1)
        err = self.step_error(doc, "call")
        self.assertEqual(err["kind"], "http_4xx")
        # The status and what the server said, then where the request went.
        self.assertEqual(err["message"], 'HTTP 400: {"error": "no"} (from %s/bad)' % srv.url)
        self.assertEqual(doc["steps"]["call"]["attempt"], 1)


# --------------------------------------------------------------------------- 6: sub-workflows


class SubWorkflows(EngineTest):
    def setUp(self):
        super().setUp()
        self.p.workflow("child", """\
inputs:
  n: {type: integer, required: true}
  explode: {type: boolean, default: false}
steps:
  - id: double
    task: lua
    with:
      input: {n: "{{ inputs.n }}", explode: "{{ inputs.explode }}"}
      script: |
        if input.explode then error("child exploded", 0) end
        return input.n * 2
outputs:
  doubled: "{{ steps.double.output }}"
  parent_given: "{{ inputs.n }}"
""")
        self.p.workflow("parent", """\
inputs:
  explode: {type: boolean, default: false}
steps:
  - id: sub
    task: workflow
    with: {name: child, inputs: {n: 21, explode: "{{ inputs.explode }}"}}
  - id: use
    task: lua
    with: {input: "{{ steps.sub.output.doubled }}", script: "return input + 1"}
outputs:
  r: "{{ steps.use.output }}"
""")

    def test_the_children_of_one_execution_share_a_budget_for_input_patterns(self):
        # Each child's start checked its inputs with a budget of its own, every child of a
        # for_each in one turn of the loop: 50,000 children each spending the whole budget
        # on a 16 KB value held a server for hours. 300 characters cost this pattern
        # 3,000,301 of the matcher's steps, so three children fit in the tree's 10,000,000.
        self.p.workflow("checked", """\
inputs:
  s: {type: string, pattern: "^([A-Za-z0-9 ,.-]{1,200}\\n?){1,100}$"}
steps:
  - {id: a, task: log, with: {message: ok}}
""")
        self.p.workflow("fan", """\
steps:
  - id: each
    task: workflow
    for_each: [1, 2, 3, 4, 5]
    concurrency: 1
    with: {name: checked, inputs: {s: "%s"}}
""" % ("a" * 300))
        # The whole budget is spent, by design: 0.5 s here, a minute in the sanitizer build
        # (libstdc++'s regex unoptimised).
        doc = self.assertRun("fan", code=1, timeout=300)
        items = sorted((k, v) for k, v in doc["steps"].items() if k.startswith("each["))
        self.assertEqual([v["status"] for _, v in items],
                         ["succeeded"] * 3 + ["failed", "cancelled"], doc["steps"])
        self.assertIn("input 's': could not be matched against the pattern",
                      items[3][1]["error"]["message"])
        self.assertIn("within the cost allowed", items[3][1]["error"]["message"])

    def test_progress_on_a_terminal_is_coloured_unless_asked_not_to(self):
        import pty
        self.p.workflow("hi", "steps:\n  - {id: a, task: log, with: {message: hi}}\n")

        def progress(env):
            leader, follower = pty.openpty()
            try:
                p = subprocess.run([FERRY, "run", "hi", "--project", str(self.p.dir), "--data",
                                    str(self.p.data)], stdout=subprocess.DEVNULL,
                                   stderr=follower, env=dict(os.environ, **env), timeout=TIMEOUT)
                self.assertEqual(p.returncode, 0)
                os.close(follower)
                follower = None
                out = b""
                while True:
                    try:
                        chunk = os.read(leader, 4096)
                    except OSError:  # EIO: the writer has gone
                        break
                    if not chunk:
                        break
                    out += chunk
                return out.decode()
            finally:
                os.close(leader)
                if follower is not None:
                    os.close(follower)

        self.assertIn("\x1b[32m\u2713\x1b[0m step a succeeded", progress({"TERM": "xterm"}))
        for env in ({"TERM": "xterm", "NO_COLOR": "1"}, {"TERM": "dumb"}):
            text = progress(env)
            self.assertIn("\u2713 step a succeeded", text, env)
            self.assertNotIn("\x1b", text, env)

    def test_progress_lines_say_how_long_and_what_was_not_needed(self):
        # A timed-out sub-workflow attempt was printed "failed in 0ms", and a handler no
        # failure called (with the step waiting for it) was skipped without a line.
        self.p.workflow("kid", "steps:\n  - {id: nap, task: sleep, with: {duration: 2s}}\n")
        self.p.workflow("parent", """\
steps:
  - id: k
    task: workflow
    timeout: 300ms
    retry: {max_attempts: 2, initial_delay: 100ms, backoff: fixed}
    on_error: continue
    with: {name: kid}
  - {id: fine, task: log, with: {message: ok}, on_error: unused}
  - {id: unused, task: log, with: {message: never}}
  - {id: after_unused, task: log, needs: unused, with: {message: never}}
""")
        p = self.p.ferry("run", "parent")
        self.assertEqual(p.returncode, 0, p.stderr)
        ms = re.search(r"step k attempt 1 failed in (\d+)ms", p.stderr)
        self.assertTrue(ms, p.stderr)
        self.assertGreaterEqual(int(ms.group(1)), 290)
        self.assertIn("step unused skipped: not needed: no step failed into this handler",
                      p.stderr)
        self.assertIn("step after_unused skipped", p.stderr)

    def test_child_outputs_become_step_output(self):
        doc = self.assertRun("parent")
        self.assertEqual(doc["steps"]["sub"]["output"], {"doubled": 42, "parent_given": 21})
        self.assertEqual(doc["outputs"], {"r": 43})
        child_id = doc["steps"]["sub"]["child_execution"]
        child = self.p.show(child_id)
        self.assertEqual(child["status"], "succeeded")
        self.assertEqual(child["inputs"], {"n": 21, "explode": False})
        self.assertEqual(child["parent"], {"execution": doc["id"], "step": "sub"})
        # The text views lead from one to the other (only --json did).
        text = self.p.ferry("executions", "show", child_id).stdout
        self.assertIn("  parent    %s (step sub)" % doc["id"], text)
        text = self.p.ferry("executions", "show", doc["id"]).stdout
        self.assertIn("      child: %s" % child_id, text)
        text = self.p.ferry("executions", "diff", doc["id"]).stdout
        self.assertIn("recorded no changes (its sub-workflows record their own", text)

    def test_step_timeout_cancels_a_slow_child(self):
        self.p.workflow("slowchild", """\
steps:
  - {id: nap, task: sleep, with: {duration: 20s}}
""")
        self.p.workflow("impatient", """\
steps:
  - id: sub
    task: workflow
    timeout: 300ms
    retry: {max_attempts: 2, initial_delay: 100ms}
    with: {name: slowchild}
""")
        t0 = time.monotonic()
        doc = self.assertRun("impatient", code=1)
        self.assertLess(time.monotonic() - t0, 10)
        err = self.step_error(doc, "sub")
        self.assertEqual(err["kind"], "timeout")
        self.assertIn("timed out after 300 ms (the step's timeout)", err["message"])
        self.assertEqual(doc["steps"]["sub"]["attempt"], 2)
        # Timed as the attempt ran (it said 0ms: no task of its own to time).
        self.assertGreaterEqual(doc["steps"]["sub"]["duration_ms"], 250)
        # Each attempt had its own child, and each was cancelled.
        rows = json.loads(self.p.ferry("executions", "list", "--workflow", "slowchild",
                                       "--json").stdout)
        self.assertEqual(len(rows), 2)
        self.assertEqual({r["status"] for r in rows}, {"cancelled"})
        # The step's record names the last child, marked as ended by the timeout.
        self.assertEqual(doc["steps"]["sub"]["child_execution"], rows[0]["id"])
        self.assertIs(doc["steps"]["sub"]["child_timed_out"], True)

    def test_a_computed_child_name_is_named_in_its_input_errors(self):
        # The message said only "input 'n': required, but not given": which workflow's?
        self.p.workflow("picker", """\
inputs: {which: {type: string, required: true}}
steps:
  - {id: sub, task: workflow, with: {name: "{{ inputs.which }}", inputs: {}}}
""")
        doc = self.assertRun("picker", "--input", "which=child", code=1)
        self.assertIn("inputs for sub-workflow 'child': input 'n': required, but not given",
                      self.step_error(doc, "sub")["message"])

    def test_failing_child_fails_the_step(self):
        doc = self.assertRun("parent", "--input", "explode=true", code=1)
        err = self.step_error(doc, "sub")
        self.assertIn("child exploded", err["message"])
        self.assertEqual(doc["steps"]["use"]["status"], "cancelled")
        child = self.p.show(doc["steps"]["sub"]["child_execution"])
        self.assertEqual(child["status"], "failed")

    def test_a_failed_child_keeps_its_kind_and_is_not_retried(self):
        # A retryable kind (http_5xx) says what went wrong, but running the child again would
        # repeat the side effects of its finished steps: the step fails once.
        self.p.workflow("flaky", """\
steps:
  - id: call
    task: lua
    with: {script: 'error({kind = "http_5xx", message = "ITSM answered 503"})'}
""")
        self.p.workflow("caller", """\
steps:
  - id: sub
    task: workflow
    retry: {max_attempts: 3, initial_delay: 10ms}
    with: {name: flaky}
""")
        doc = self.assertRun("caller", code=1)
        err = self.step_error(doc, "sub")
        self.assertEqual(err["kind"], "http_5xx")
        self.assertIn("ITSM answered 503", err["message"])
        self.assertEqual(doc["steps"]["sub"]["attempt"], 1)
        rows = json.loads(self.p.ferry("executions", "list", "--workflow", "flaky",
                                       "--json").stdout)
        self.assertEqual(len(rows), 1)

    def test_self_recursion_stopped_by_depth_limit(self):
        self.p.workflow("forever", """\
steps:
  - {id: again, task: workflow, with: {name: forever}}
""")
        doc = self.assertRun("forever", code=1)
        err = self.step_error(doc, "again")
        self.assertRegex(err["message"], r"nested deeper than \d+ levels")
        self.assertEqual(err["kind"], "limit")  # the innermost failure's kind, all the way up
        # Every level of the chain is on record and failed.
        p = self.p.ferry("executions", "list", "--workflow", "forever", "--limit", "100", "--json")
        rows = json.loads(p.stdout)
        self.assertGreater(len(rows), 2)
        self.assertLessEqual(len(rows), 64)
        self.assertEqual({r["status"] for r in rows}, {"failed"})

    def test_a_self_calling_fan_out_stops_at_the_tree_limit(self):
        # The depth limit alone did not bound breadth: a two-item for_each calling its own
        # workflow started 2^17 - 1 executions (1 GiB) before the deepest failed, and one of
        # three items 3^16. One top execution may start 50,000 below it.
        self.p.workflow("forky", """\
steps:
  - {id: again, task: workflow, for_each: [1, 2, 3], with: {name: forky}}
""")
        doc = self.assertRun("forky", code=1, timeout=300)
        self.assertEqual(doc["error"]["kind"], "limit")
        self.assertTrue(doc["error"]["message"].endswith(
            "would start more than 50000 sub-workflow executions below one top execution "
            "(a workflow that calls itself from a for_each?)"), doc["error"]["message"][-300:])
        listed = self.p.ferry("executions", "list", "--limit", "60000")
        counts = {}
        for line in listed.stdout.splitlines()[1:]:
            counts[line.split()[2]] = counts.get(line.split()[2], 0) + 1
        self.assertEqual(counts, {"failed": 50001})
        # Read 500 at a time (not held all at once): every one listed once, newest first,
        # up to the limit when there are more.
        for limit, want in (("60000", 50001), ("700", 700)):
            rows = json.loads(self.p.ferry("executions", "list", "--limit", limit, "--json").stdout)
            ids = [r["id"] for r in rows]
            self.assertEqual((len(ids), len(set(ids))), (want, want))
            self.assertEqual(ids, sorted(ids, reverse=True))


# --------------------------------------------------------------------------- 7: hooks


class Hooks(EngineTest):
    def test_before_and_after_step_hooks(self):
        self.p.write("tasks/hooks/before.lua", """\
return function(ctx, event)
  if event.step == "vetoed" then
    event.reason = "not today"
    return false
  end
  if event.step == "changed" then
    event.input.input = "from the hook (" .. ctx.hook .. ")"
  end
  if event.step == "broken" then event.input.message = nil end
  if event.step == "replaced" then event.input = "not a table" end
  if event.step == "unstorable" then event.input.f = print end
  if event.step == "worded" then return "looks fine" end
  return event
end
""")
        self.p.write("tasks/hooks/after.lua", """\
return function(ctx, event)
  if event.step == "changed" then
    event.output = { wrapped = event.output }
    event.annotations = { audited_by = "after hook" }
  end
  -- After the step's effects, what an after_step returns besides an event is ignored.
  if event.step == "plain" then return "audited" end
  return event
end
""")
        self.p.workflow("hooked", """\
hooks:
  before_step: hooks/before.lua
  after_step: hooks/after.lua
steps:
  - {id: changed, task: lua, with: {input: original, script: "return input"}}
  - {id: vetoed, task: lua, with: {script: "return 'ran'"}}
  - {id: plain, task: lua, with: {input: "{{ steps.changed.output.wrapped }}", script: "return input"}}
  - {id: why, task: lua, with: {input: "{{ steps.vetoed.reason }}", script: "return input"}}
  - {id: broken, task: log, on_error: continue, with: {message: hi}}
  - {id: replaced, task: log, on_error: continue, with: {message: hi}}
  - {id: unstorable, task: log, on_error: continue, with: {message: hi}}
  - {id: worded, task: log, on_error: continue, with: {message: hi}}
""")
        doc = self.assertRun("hooked")
        s = doc["steps"]
        self.assertEqual(s["changed"]["input"]["input"], "from the hook (before_step)")
        self.assertEqual(s["changed"]["output"], {"wrapped": "from the hook (before_step)"})
        self.assertEqual(s["changed"]["annotations"], {"audited_by": "after hook"})
        self.assertEqual(s["vetoed"]["status"], "skipped")
        self.assertIn("not today", s["vetoed"]["reason"])
        self.assertIsNone(s["vetoed"]["output"])
        # Steps after see the hooked output, and the veto's reason as a `when` skip's.
        self.assertEqual(s["plain"]["output"], "from the hook (before_step)")
        self.assertEqual(s["why"]["output"], "vetoed by the before_step hook: not today")
        # What a hook hands the task is held to the task's schema (it ran without it).
        self.assertEqual(s["broken"]["status"], "failed")
        self.assertIn("message", s["broken"]["error"]["message"])
        self.assertEqual(s["replaced"]["status"], "failed")
        self.assertIn("the task's input must be a mapping, got 'not a table'",
                      s["replaced"]["error"]["message"])
        # Said as the hook's, not as a task result (which it is not).
        self.assertEqual(s["unstorable"]["error"]["message"],
                         "hook hooks/before.lua: the event it returned cannot be stored: "
                         "input.f: cannot encode a function as JSON")
        # A return that is neither the event, false, nor nothing was silently ignored.
        self.assertEqual(s["worded"]["error"]["message"],
                         "hook hooks/before.lua: a before_step hook returns the event (a "
                         "table), false to veto, or nothing; got string")

    def test_after_step_does_not_run_for_a_cancelled_step(self):
        # It runs after invocations that succeeded or failed. A sub-workflow step's timeout
        # cancels the child: its after_step ran for the cancelled step, unstoppable, and
        # held the parent's timed-out step for the hook's whole duration.
        self.p.write("tasks/hooks/slow_after.lua", """\
return {
  after_step = function(ctx, event)
    ferry.log.warn("after " .. event.status)
    ferry.sleep("3s")
    return event
  end,
}
""")
        self.p.workflow("child", """\
hooks: {after_step: hooks/slow_after.lua}
steps:
  - {id: nap, task: sleep, with: {duration: 10s}}
""")
        self.p.workflow("parent", """\
steps:
  - {id: t, task: workflow, timeout: 1s, on_error: continue, with: {name: child}}
""")
        started = time.monotonic()
        p = self.p.ferry("run", "parent")
        self.assertEqual(p.returncode, 0, p.stderr)
        doc, err = json.loads(p.stdout), p.stderr
        self.assertLess(time.monotonic() - started, 2.8)
        # Its progress line (an event) says why, as its record does.
        self.assertRegex(err, r"step nap cancelled in [\d.]+m?s: the parent step's timeout of "
                              r"1s passed")
        self.assertEqual(doc["steps"]["t"]["error"]["kind"], "timeout")
        child = json.loads(self.p.ferry("executions", "show",
                                        doc["steps"]["t"]["child_execution"], "--json").stdout)
        self.assertEqual(child["status"], "cancelled")
        self.assertNotIn("after cancelled", json.dumps(child))

    def test_what_hooks_log_is_kept(self):
        self.p.write("tasks/hooks/noisy.lua", """\
return {
  before_step = function(ctx, event) ferry.log.info("before " .. event.step, {n = 1}) end,
  after_step = function(ctx, event) ferry.log.warn("after " .. event.status) end,
  on_failure = function(ctx, event) ferry.log.error("paging for " .. event.error.step) end,
}
""")
        self.p.workflow("noisy", """\
hooks: {before_step: hooks/noisy.lua, after_step: hooks/noisy.lua, on_failure: hooks/noisy.lua}
steps:
  - {id: a, task: log, with: {message: from the task}}
  - {id: b, task: fail, needs: [a], with: {message: broken}}
""")
        rc, doc, err = self.p.run("noisy")
        self.assertEqual(rc, 1, err)
        logs = [(l.get("hook"), l["level"], l["message"]) for l in doc["steps"]["a"]["logs"]]
        self.assertEqual(logs, [("before_step", "info", "before a"),
                                (None, "info", "from the task"),
                                ("after_step", "warn", "after succeeded")])
        self.assertEqual(doc["steps"]["a"]["logs"][0]["fields"], {"n": 1})
        self.assertIn(("after_step", "warn", "after failed"),
                      [(l.get("hook"), l["level"], l["message"]) for l in doc["steps"]["b"]["logs"]])
        # on_failure runs for no step: its lines go to stderr with the execution id.
        self.assertIn("%s on_failure hook [error]: paging for b" % doc["id"], err)

    ON_FAILURE = """\
return function(ctx, event)
  local res = ferry.http.request {
    method = "POST", url = "%s/page",
    json = { execution = event.execution_id, error = event.error.message, step = event.error.step,
             hook = ctx.hook },
  }
  return event
end
"""

    def test_a_runaway_on_failure_hook_after_a_runaway_step_is_stopped(self):
        # The step's breach left its Lua thread unhookable; the hook ran on it, forever.
        self.p.write("tasks/hooks/spin.lua", "return function(ctx, event) while true do end end\n")
        self.p.workflow("spin", """\
steps: [{id: a, task: lua, with: {script: "while true do end"}}]
hooks: {on_failure: hooks/spin.lua}
""")
        t0 = time.monotonic()
        p = self.p.ferry("run", "spin", timeout=60)
        self.assertLess(time.monotonic() - t0, 30)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("on_failure hook failed: limit: hook hooks/spin.lua: instruction budget "
                      "exceeded", p.stderr)
        self.assertRegex(p.stderr, r"ferry: execution \w+: on_failure hook failed")

    def test_on_failure_hook_runs_when_execution_fails(self):
        srv = self.start_server()
        self.p.write("tasks/hooks/page.lua", self.ON_FAILURE % srv.url)
        self.p.workflow("paged", """\
inputs:
  ok: {type: boolean, default: false}
hooks:
  on_failure: hooks/page.lua
steps:
  - {id: first, task: lua, with: {script: "return 1"}}
  - {id: breaks, task: fail, needs: [first], when: "{{ not inputs.ok }}", with: {message: disk full}}
""")
        doc = self.assertRun("paged", code=1)
        hits = srv.hits("/page")
        self.assertEqual(len(hits), 1)
        body = json.loads(hits[0]["body"])
        self.assertEqual(body, {"execution": doc["id"], "error": "disk full", "step": "breaks",
                                "hook": "on_failure"})
        # Not called when the execution succeeds.
        self.assertRun("paged", "--input", "ok=true")
        self.assertEqual(srv.count("/page"), 1)


# --------------------------------------------------------------------------- 8: sandbox


ESCAPE_TASK = """\
return {
  name = "custom.escape",
  description = "tries to leave the sandbox",
  input = { what = { type = "string", required = true } },
  run = function(ctx, input)
    local w = input.what
    if w == "io" then return io.open("/etc/passwd") end
    if w == "os_execute" then return os.execute("touch %(marker)s") end
    if w == "debug" then return debug.getinfo(1) end
    if w == "require_os" then return require("os").execute("touch %(marker)s") end
    if w == "require_io" then return require("io") end
    if w == "dump" then return load(string.dump(function() return 1 end)) end
    if w == "binary" then return load("\\27Lua", "x", "b") end
    if w == "global" then leaked = 1 return "set" end
    if w == "G" then _G.leaked = 1 return "set" end
    if w == "env_meta" then setmetatable(_ENV, nil) return "done" end
    if w == "string" then string.upper = function() return "hacked" end return "done" end
    if w == "string_meta" then getmetatable("").__index.upper = function() return "hacked" end return "done" end
    if w == "rawset" then rawset(_ENV, "leaked", 1) return "set" end
    if w == "load_env" then return load("return os.execute")()("touch %(marker)s") end
    if w == "load_global" then return load("leaked = 1 return leaked")() end
    if w == "pairs_real" then
      for _, m in ipairs({ string, table, math, ferry.json }) do
        local _, real = pairs(m)
        if real ~= nil then real.upper = function() return "hacked" end; real.encode = real.upper end
      end
      return "done"
    end
    if w == "string_dump_method" then return load(("").dump(function() return 1 end)) end
    if w == "gc" then setmetatable({}, { __gc = function() while true do end end }) return "set" end
    if w == "xpcall_handler" then return xpcall(function() while true do end end, function(m) while true do end end) end
    if w == "error_meta" then error(setmetatable({}, { __index = function(_, k) error("boom " .. k) end })) end
    if w == "poison_error" then
      local _, e = ferry.json.decode("x")
      getmetatable(e).__index = function(_, k) error("poisoned " .. k) end
      return "done"
    end
    if w == "poison_ctx" then
      -- The step's shared fields (dry_run among them) are every execution's.
      getmetatable(ctx).__shared.workflow = "HACKED"
      return "done"
    end
    if w == "replace_ctx_meta" then setmetatable(ctx, nil) return "done" end
    if w == "check" then
      local _, e = ferry.json.decode("x")
      return { upper = string.upper("abc") .. ("abc"):upper(), leaked = tostring(leaked),
               json = ferry.json.encode({ 1 }), error_kind = e.kind, workflow = ctx.workflow,
               ctx_meta = getmetatable(ctx) }
    end
    error("unknown case " .. w)
  end,
}
"""


class Sandbox(EngineTest):
    def test_a_non_ascii_secret_quoted_in_a_result_error_is_redacted(self):
        # The "result cannot be stored" errors quote the key they are about; a key holding
        # a credential (a vendor map keyed by a token) was written with \xC3\xA9 for its
        # UTF-8, a form redaction does not know, and reached history, stderr and the API.
        secret = "pw\u00e9-nonascii-secret99"
        os.environ["FERRY_TEST_KEY_SECRET"] = secret
        self.addCleanup(os.environ.pop, "FERRY_TEST_KEY_SECRET", None)
        self.p.write("ferry.yaml", "integrations:\n  api: {type: http, base_url: "
                     "\"http://127.0.0.1:9\", auth: {type: bearer, token: "
                     "\"${env:FERRY_TEST_KEY_SECRET}\"}}\n")
        self.p.workflow("keyed", """\
steps:
  - {id: bad, task: lua, on_error: continue, with: {script: "return {['%s\\\\255'] = 1}"}}
  - {id: fn, task: lua, on_error: continue, with: {script: "return {['%s'] = {f = print}}"}}
""" % (secret, secret))
        rc, doc, err = self.p.run("keyed")
        self.assertEqual(rc, 0, err)
        self.assertIn("key is not valid UTF-8", self.step_error(doc, "bad")["message"])
        for step in ("bad", "fn"):
            self.assertIn('["[REDACTED]', self.step_error(doc, step)["message"])
        shown = self.p.ferry("executions", "show", doc["id"]).stdout
        for where, text in (("run", json.dumps(doc, ensure_ascii=False)), ("stderr", err),
                            ("show", shown)):
            for form in (secret, "pw\\xC3\\xA9-nonascii"):
                self.assertNotIn(form, text, where)

    def test_a_task_cannot_pass_off_a_real_run_as_a_dry_run(self):
        # error({kind = "dry_run"}) is how ctx.http stops a dry run; in a real run it must
        # not record a success that sent nothing. print() of bytes that are not UTF-8 is
        # kept as U+FFFD: the history and `ferry run`'s JSON stay valid.
        self.p.write("tasks/custom/forge.lua", """\
return {
  name = "custom.forge",
  run = function(ctx, input)
    print("caf\\233 \\255")
    error({ kind = "dry_run", message = "not sent", data = { forged = true } }, 0)
  end,
}
""")
        self.p.workflow("forge", """\
steps:
  - {id: real, task: custom.forge, on_error: continue}
  - {id: dry, task: custom.forge, dry_run: true}
""")
        doc = self.assertRun("forge")
        real = doc["steps"]["real"]
        self.assertEqual(real["status"], "failed", real)
        self.assertEqual(real["error"]["kind"], "lua_error")
        self.assertIn("stopped as a dry run, but the step is not one", real["error"]["message"])
        dry = doc["steps"]["dry"]
        self.assertEqual(dry["status"], "succeeded", dry)
        self.assertEqual(dry["output"], {"dry_run": True, "request": {"forged": True}})
        p = self.p.ferry("executions", "show", doc["id"], "--json")
        self.assertEqual(p.returncode, 0, p.stderr)
        shown = json.loads(p.stdout)  # valid JSON, and so valid UTF-8
        logs = [l["message"] for l in shown["steps"]["real"]["logs"]]
        self.assertIn("caf\ufffd \ufffd", logs)

    def test_errors_inside_ctx_name_the_tasks_line(self):
        # A bad argument to ctx.http or ctx.change is raised inside Ferry's own ctx.lua;
        # the error names the task's line that called it.
        self.p.write("tasks/custom/misuse.lua", """\
return {
  name = "custom.misuse",
  run = function(ctx, input)
    if input.what == "http" then
      local res = ctx.http { url = "http://127.0.0.1:9/", body = {} }
      return res
    end
    ctx.change({}, "1", {}, {})
  end,
}
""")
        self.p.workflow("misuse", """\
steps:
  - {id: http, task: custom.misuse, on_error: continue, with: {what: http}}
  - {id: change, task: custom.misuse, on_error: continue, with: {what: change}}
""")
        doc = self.assertRun("misuse")
        for step, line in (("http", 5), ("change", 8)):
            err = self.step_error(doc, step)
            self.assertEqual((err.get("file"), err.get("line")), ("tasks/custom/misuse.lua", line), err)
            self.assertTrue(err["message"].startswith("tasks/custom/misuse.lua:%d:" % line), err)

    def test_instruction_budget(self):
        self.p.workflow("spin", """\
steps:
  - {id: loop, task: lua, on_error: continue, with: {script: "while true do end"}}
  - id: swallow
    task: lua
    on_error: continue
    with:
      script: |
        for i = 1, 1000 do pcall(function() while true do end end) end
        return "escaped the budget"
""")
        doc = self.assertRun("spin")
        for step in ("loop", "swallow"):
            err = self.step_error(doc, step)
            self.assertEqual(err["kind"], "limit", err)
            self.assertIn("instruction budget", err["message"])

    def test_a_pure_task_cannot_do_io(self):
        # `pure = true` lets a first step run before its record is durable; the scheduler
        # holds the task to it. A pure task that computes runs; one that waits fails, saying why.
        self.p.write("tasks/custom/pure.lua", """\
return {
  name = "custom.pure",
  pure = true,
  run = function(ctx, input)
    if input.wait then ferry.sleep(1) end
    if input.fetch then ferry.http.request({ url = "http://127.0.0.1:9/" }) end
    return { doubled = input.n * 2 }
  end,
}
""")
        self.p.workflow("purity", """\
steps:
  - {id: calc, task: custom.pure, with: {n: 21}}
  - {id: sleeps, task: custom.pure, on_error: continue, with: {n: 1, wait: true}}
  - {id: fetches, task: custom.pure, on_error: continue, with: {n: 1, fetch: true}}
  - {id: after, task: transform, with: {data: "{{ steps.calc.output }}", mappings: [{source: doubled, target: x}]}}
outputs:
  x: "{{ steps.after.output.x }}"
""")
        doc = self.assertRun("purity")
        self.assertEqual(doc["outputs"], {"x": 42})
        # ctx.http reaches the same binding: the message names both ways (it named only
        # ferry.http.request, which a task using ctx.http never called).
        for step, fn in (("sleeps", "ferry.sleep"),
                         ("fetches", "HTTP (ctx.http, ferry.http.request)")):
            err = self.step_error(doc, step)
            self.assertIn(fn + " is not allowed in a task declared pure", err["message"], err)
        shown = self.p.ferry("tasks", "show", "custom.pure", "--json", data=False)
        self.assertEqual(json.loads(shown.stdout)["pure"], True)
        self.assertEqual(json.loads(shown.stdout)["keeps_input"], False)
        builtin = self.p.ferry("tasks", "show", "transform", data=False)
        self.assertIn("keeps_input: never modifies its input", builtin.stdout)
        # --provider is show's: `list` took it and listed everything.
        listed = self.p.ferry("tasks", "list", "--provider", "jira", data=False)
        self.assertEqual(listed.returncode, 2, listed.stderr)
        self.assertIn("'tasks list' lists every provider", listed.stderr)
        # `pure` must be a boolean.
        self.p.write("tasks/custom/pure.lua", "return {name = 'custom.pure', pure = 'yes', "
                     "run = function() return {} end}\n")
        v = self.p.ferry("validate", data=False)
        self.assertEqual(v.returncode, 2, v.stdout)
        self.assertIn("'pure' must be true or false, not string", v.stdout)
        self.p.write("tasks/custom/pure.lua", "return {name = 'custom.pure', keeps_input = 1, "
                     "run = function() return {} end}\n")
        v = self.p.ferry("validate", data=False)
        self.assertEqual(v.returncode, 2, v.stdout)
        self.assertIn("'keeps_input' must be true or false, not number", v.stdout)

    def test_memory_limit(self):
        self.p.workflow("bomb", """\
steps:
  - id: table
    task: lua
    on_error: continue
    with:
      script: |
        local t = {}
        for i = 1, 1e9 do t[i] = {i, i, i, i} end
  - id: rep
    task: lua
    on_error: continue
    with:
      script: |
        local t = {}
        for i = 1, 1e6 do t[i] = string.rep("x", 4 * 1024 * 1024) .. i end
  - id: double
    task: lua
    on_error: continue
    with:
      script: |
        local ok, err = pcall(function()
          local s = "x"
          for i = 1, 40 do s = s .. s end
        end)
        return "survived: " .. tostring(err)
  - id: recursion
    task: lua
    on_error: continue
    with:
      script: |
        local function deeper(n) return deeper(n + 1) + 1 end
        return deeper(1)
  # Runs after the bombs (they start together and never wait) without depending on them.
  - {id: pause, task: sleep, with: {duration: 100ms}}
  - id: fine
    task: lua
    needs: [pause]
    with: {script: "return #string.rep('y', 1000)"}
""")
        start = time.monotonic()
        doc = self.assertRun("bomb", timeout=60)
        elapsed = time.monotonic() - start
        for step in ("table", "rep", "double", "recursion"):
            err = self.step_error(doc, step)
            self.assertEqual(err["kind"], "limit", err)
            self.assertIn("memory limit", err["message"])
        # Runaway recursion is named as such; a big table is not.
        self.assertRegex(self.step_error(doc, "recursion")["message"],
                         r"call stack was \d+ calls deep: unbounded recursion\?")
        self.assertNotIn("recursion", self.step_error(doc, "table")["message"])
        # The per-task cap stops a bomb long before it eats the whole VM: the error names the
        # task's own limit, not the VM's.
        for step in ("rep", "double"):
            self.assertIn("the task allocated more than",
                          self.step_error(doc, step)["message"])
        self.assertEqual(doc["steps"]["fine"]["output"], 1000)
        self.assertLess(elapsed, 20)

    def test_wall_clock_timeout(self):
        self.p.workflow("slow", """\
steps:
  - {id: parked, task: sleep, timeout: 300ms, on_error: continue, with: {duration: 2s}}
  - id: busy
    task: lua
    timeout: 300ms
    on_error: continue
    with: {script: "local s = string.rep('a', 4000) .. 'c' while true do s:find('c', 1, true) end"}
""")
        # Each iteration is a few instructions but a 4 KB scan, so on any machine the
        # 300 ms deadline comes long before the 100 M instruction budget.
        start = time.monotonic()
        doc = self.assertRun("slow")
        self.assertLess(time.monotonic() - start, 1.9, "the 2s sleep was not cut at 300ms")
        parked = self.step_error(doc, "parked")
        self.assertEqual(parked["kind"], "timeout")
        self.assertIn("300 ms", parked["message"])
        busy = self.step_error(doc, "busy")
        self.assertIn(busy["kind"], ("limit", "timeout"))
        self.assertIn("timeout", busy["message"])
        self.assertIn("300 ms", busy["message"])
        for step in ("parked", "busy"):
            d = doc["steps"][step]["duration_ms"]
            self.assertGreaterEqual(d, 290)
            self.assertLess(d, 1000)

    def test_load_require_and_change_take_what_the_guide_says(self):
        # load(text, name, "t") took the chunk itself as its environment (every global it
        # read failed); require under another spelling loaded a second copy of a module;
        # ctx.change stored a nil or table id as "nil" / "table: 0x...".
        self.p.write("tasks/custom/probe.lua", """\
return {name = "custom.probe", input = {what = {type = "string"}},
  run = function(ctx, input)
    if input.what == "load3" then return load("return math.floor(2.5)", "=x", "t")() end
    if input.what == "alias" then return require("ferry/ctx") end
    if input.what == "dots" then return require("ferry..ctx") end
    if input.what == "nil_id" then ctx.change("ticket", nil, {}, {a = 1}) end
    if input.what == "table_id" then ctx.change("ticket", {}, {}, {a = 1}) end
    if input.what == "number_id" then ctx.change("ticket", 42, {}, {a = 1}); return "ok" end
  end}
""")
        cases = ["load3", "alias", "dots", "nil_id", "table_id", "number_id"]
        self.p.workflow("probe", "steps:\n" + "".join(
            "  - {id: %s, task: custom.probe, on_error: continue, with: {what: %s}}\n" % (c, c)
            for c in cases))
        doc = self.assertRun("probe")
        s = doc["steps"]
        self.assertEqual(s["load3"]["output"], 2)
        for c in ("alias", "dots"):
            self.assertIn("is not a module name: dotted words of letters, digits, '_' and '-' "
                          "(as 'acme.state')", s[c]["error"]["message"])
        self.assertIn("the resource's id must be text or a number, got nil",
                      s["nil_id"]["error"]["message"])
        self.assertIn("got table", s["table_id"]["error"]["message"])
        self.assertEqual(s["number_id"]["output"], "ok")
        diff = self.p.ferry("executions", "diff", doc["id"], "--json")
        self.assertEqual([c["id"] for c in json.loads(diff.stdout)], ["42"])

    def test_escapes_fail_cleanly(self):
        marker = self.p.dir / "pwned"
        self.p.write("tasks/custom/escape.lua", ESCAPE_TASK % {"marker": marker})
        cases = ["io", "os_execute", "debug", "require_os", "require_io", "dump", "binary",
                 "global", "G", "env_meta", "string", "string_meta", "rawset", "load_env",
                 "load_global", "string_dump_method", "gc", "poison_error", "poison_ctx",
                 "replace_ctx_meta"]
        steps = "".join("  - {id: %s, task: custom.escape, on_error: continue, with: {what: %s}}\n"
                        % (c, c) for c in cases)
        # `check` runs after every attempt (they start together and do not wait for
        # anything), without depending on them: a failed dependency would skip it.
        steps += "  - {id: pause, task: sleep, with: {duration: 100ms}}\n"
        steps += "  - {id: check, task: custom.escape, needs: [pause], with: {what: check}}\n"
        self.p.workflow("escape", "steps:\n" + steps)
        doc = self.assertRun("escape")
        for c in cases:
            with self.subTest(case=c):
                self.assertEqual(doc["steps"][c]["status"], "failed",
                                 "%s escaped: %r" % (c, doc["steps"][c]))
                # Located in the task file (or, for a chunk it loaded, in that chunk).
                self.assertRegex(doc["steps"][c]["error"]["message"],
                                 r"^(tasks/custom/escape\.lua|\(load\)):\d+: ")
        msg = lambda c: doc["steps"][c]["error"]["message"]
        self.assertIn("global 'io'", msg("io"))
        self.assertIn("global 'debug'", msg("debug"))
        self.assertIn("module 'os' not found", msg("require_os"))
        self.assertIn("binary chunks are not allowed", msg("binary"))
        self.assertIn("'dump'", msg("dump"))
        self.assertIn("tasks cannot set globals", msg("global"))
        self.assertIn("tasks cannot set globals", msg("G"))
        self.assertIn("tasks cannot set globals", msg("load_global"))
        self.assertIn("protected metatable", msg("env_meta"))
        self.assertIn("read-only table 'string'", msg("string"))
        self.assertIn("rawset", msg("rawset"))
        self.assertIn("__gc is not allowed", msg("gc"))
        self.assertIn("attempt to index a string value", msg("poison_error"))
        self.assertIn("attempt to index a nil value", msg("poison_ctx"))
        self.assertIn("protected metatable", msg("replace_ctx_meta"))
        # Nothing one step did is seen by the next one.
        self.assertEqual(doc["steps"]["check"]["output"],
                         {"upper": "ABCABC", "leaked": "nil", "json": "[1]", "error_kind": "validation",
                          "workflow": "escape", "ctx_meta": "ferry.ctx"})
        self.assertFalse(marker.exists(), "a task ran a shell command")

    def test_limits_hold_in_message_handlers_and_odd_error_objects(self):
        # An xpcall message handler runs inside the hook that raised the limit, with hooks
        # off; an error object's metamethods were read by C++ unprotected (the process
        # aborted). Each is now this step's error, and pairs() hands out no real module
        # table to rewrite for the steps after it.
        self.p.write("tasks/custom/escape.lua", ESCAPE_TASK % {"marker": self.p.dir / "pwned"})
        self.p.workflow("odd", """\
steps:
  - {id: handler, task: custom.escape, timeout: 2s, on_error: continue, with: {what: xpcall_handler}}
  - {id: meta, task: custom.escape, on_error: continue, with: {what: error_meta}}
  - {id: pairs_real, task: custom.escape, with: {what: pairs_real}}
  - {id: check, task: custom.escape, needs: [pairs_real], with: {what: check}}
  - id: upper
    task: transform
    needs: [pairs_real]
    with: {data: {a: x}, mappings: [{source: a, target: a, transform: uppercase}]}
""")
        doc = self.assertRun("odd")
        self.assertIn(self.step_error(doc, "handler")["kind"], ("limit", "timeout"))
        self.assertEqual(self.step_error(doc, "meta")["kind"], "lua_error")
        self.assertEqual(doc["steps"]["check"]["output"]["upper"], "ABCABC")
        self.assertEqual(doc["steps"]["check"]["output"]["json"], "[1]")
        self.assertEqual(doc["steps"]["upper"]["output"], {"a": "X"})

    def test_inline_lua_is_sandboxed_too(self):
        marker = self.p.dir / "pwned"
        self.p.workflow("inline", """\
steps:
  - {id: global, task: lua, on_error: continue, with: {script: "leaked = 1 return leaked"}}
  - {id: env_meta, task: lua, on_error: continue, with: {script: "setmetatable(_ENV, nil) return 'done'"}}
  - {id: load_env, task: lua, on_error: continue, with: {script: "return load('return os.execute')()('touch %(marker)s')"}}
  - {id: os, task: lua, on_error: continue, with: {script: "return os.execute('touch %(marker)s')"}}
  - {id: string, task: lua, on_error: continue, with: {script: "string.upper = string.lower return 'done'"}}
  - {id: pause, task: sleep, with: {duration: 100ms}}
  - id: check
    task: lua
    needs: [pause]
    with: {script: "return {upper = string.upper('abc'), leaked = tostring(leaked), clock = type(os.clock)}"}
""" % {"marker": marker})
        doc = self.assertRun("inline")
        s = doc["steps"]
        for c in ("global", "env_meta", "load_env", "os", "string"):
            with self.subTest(case=c):
                self.assertEqual(s[c]["status"], "failed", "%s escaped: %r" % (c, s[c]))
                self.assertIn("%s.script:1:" % c, s[c]["error"]["message"])
        self.assertEqual(s["check"]["output"], {"upper": "ABC", "leaked": "nil", "clock": "function"})
        self.assertFalse(marker.exists(), "a task ran a shell command")

    def test_errors_carry_file_line_and_traceback(self):
        self.p.write("tasks/custom/boom.lua", """\
local function explode(what)
  error("kaboom: " .. what)
end

return {
  name = "custom.boom",
  description = "fails with a located error",
  input = { what = { type = "string", default = "x" } },
  run = function(ctx, input)
    explode(input.what)
  end,
}
""")
        self.p.workflow("boom", """\
steps:
  - {id: b, task: custom.boom, with: {what: the reactor}}
""")
        doc = self.assertRun("boom", code=1)
        err = self.step_error(doc, "b")
        self.assertEqual(err["message"], "tasks/custom/boom.lua:2: kaboom: the reactor")
        self.assertEqual(err["file"], "tasks/custom/boom.lua")
        self.assertEqual(err["line"], 2)
        attempt = self.p.show(doc["id"])["steps"]["b"]["attempts"][0]
        tb = attempt["error"]["traceback"]
        self.assertIn("stack traceback", tb)
        self.assertIn("tasks/custom/boom.lua:2:", tb)
        self.assertIn("tasks/custom/boom.lua:10:", tb)


# --------------------------------------------------------------------------- 9: validation


class ExpressionData(EngineTest):
    """What expressions see is the run's record: they read it, they cannot rewrite it."""

    def test_inputs_steps_and_execution_are_read_only_to_expressions(self):
        self.p.workflow("mut", """\
inputs:
  cfg: {type: object, default: {a: 1}}
steps:
  - {id: a, task: lua, with: {script: "return {x = 'orig'}"}}
  - {id: output, task: log, needs: [a], on_error: continue, with: {message: "{{ steps.a.output.update({'x': 'forged'}) }}"}}
  - {id: inputs, task: log, needs: [a], on_error: continue, with: {message: "{{ inputs.cfg.update({'a': 99}) }}"}}
  - {id: execution, task: log, needs: [a], on_error: continue, with: {message: "{{ execution.update({'dry_run': true}) }}"}}
  - {id: own, task: log, needs: [a], with: {message: "{% set l = [1] %}{{ l.append(2) }}{{ l }} {{ dict(inputs.cfg, b=2) }}"}}
  - {id: later, task: log, needs: [own], when: "{{ not execution.dry_run }}", with: {message: ran}}
outputs:
  x: "{{ steps.a.output.x }}"
""")
        doc = self.assertRun("mut")
        for step in ("output", "inputs", "execution"):
            err = self.step_error(doc, step)
            self.assertIn("is unsafe: workflow data (inputs, vars, steps, execution) is read-only",
                          err["message"])
        # `steps` itself: a step may not read it whole (validate refuses that); outputs may,
        # and may not change it either.
        self.p.workflow("mutsteps", """\
steps:
  - {id: a, task: lua, with: {script: "return {x = 'orig'}"}}
outputs:
  gone: "{% set s = steps %}{{ s.pop('a') }}"
""")
        rc, popped, err = self.p.run("mutsteps")
        self.assertEqual(rc, 1, err)
        self.assertIn("is unsafe: workflow data (inputs, vars, steps, execution) is read-only",
                      popped["error"]["message"])
        self.assertEqual(popped["steps"]["a"]["output"], {"x": "orig"})
        self.assertEqual(doc["outputs"], {"x": "orig"})
        self.assertEqual(doc["inputs"], {"cfg": {"a": 1}})
        self.assertEqual(doc["steps"]["later"]["status"], "succeeded")
        self.assertEqual(doc["steps"]["own"]["logs"][0]["message"], "None[1, 2] {'a': 1, 'b': 2}")

    def test_a_var_reads_the_vars_above_it(self):
        # Each var sees those written above it (a base URL, then the API under it); one below
        # is a validation error at its place, which only failed the run at its start before.
        chain = """\
inputs:
  host: {type: string, default: itsm.example}
vars:
  base: "https://{{ inputs.host }}"
  api: "{{ vars.base }}/api/now"
  tables: {incident: "{{ vars.api }}/table/incident", count: "{{ vars | length }}"}
  grown: "{{ vars.tables.update({'x': 1}) }}"
steps:
  - {id: s, task: log, with: {message: "{{ vars.tables.incident }}"}}
outputs:
  api: "{{ vars.api }}"
  tables: "{{ vars.tables }}"
"""
        self.p.workflow("chain", chain)
        rc, doc, err = self.p.run("chain", "--input", "host=h.test")
        self.assertEqual(rc, 2, err)  # the update: what a var holds is read-only to the next
        self.assertIn("vars.grown: access to attribute 'update' of 'dict' object is unsafe",
                      err)
        self.p.workflow("chain", chain.replace("  grown: \"{{ vars.tables.update({'x': 1}) }}\"\n",
                                               ""))
        doc = self.assertRun("chain", "--input", "host=h.test")
        self.assertEqual(doc["outputs"], {
            "api": "https://h.test/api/now",
            "tables": {"incident": "https://h.test/api/now/table/incident", "count": 2}})
        self.p.workflow("chain", """\
vars:
  api: "{{ vars.base }}/api"
  base: https://x
steps:
  - {id: s, task: log, with: {message: "{{ vars.api }}"}}
""")
        v = self.p.ferry("validate")
        self.assertEqual(v.returncode, 2, v.stdout + v.stderr)
        self.assertIn("workflows/chain.yaml:2:12: var 'api' refers to var 'base', written below "
                      "it: vars are evaluated in the order they are written, each seeing those "
                      "above it; move 'base' above 'api'", v.stdout + v.stderr)


class HttpArguments(EngineTest):
    """ferry.http refuses what it cannot send as asked, instead of sending something else."""

    def test_query_headers_body_and_timeout(self):
        self.p.workflow("h", r"""
steps:
  - {id: q, task: lua, with: {script: "return ferry.http.url('http://h/x#frag', {b = '2', a = {1, true}})"}}
  - {id: qt, task: lua, on_error: continue, with: {script: "return ferry.http.url('http://h/x', {a = {{}}})"}}
  - {id: ql, task: lua, on_error: continue, with: {script: "return ferry.http.url('http://h/x', {a = setmetatable({}, {__len = function() return 1e12 end, __index = function() return 'v' end})})"}}
  - {id: hd, task: lua, on_error: continue, with: {script: "return ferry.http.request{url = 'http://127.0.0.1:9/', headers = {['X-N'] = {}}}"}}
  - {id: hn, task: lua, with: {script: "local r, e = ferry.http.request{url = 'http://127.0.0.1:9/', headers = {['X-A'] = 'a\0b'}} return e.message"}}
  - {id: bd, task: lua, on_error: continue, with: {script: "return ferry.http.request{url = 'http://127.0.0.1:9/', body = {}}"}}
  - {id: to, task: lua, on_error: continue, with: {script: "return ferry.http.request{url = 'http://127.0.0.1:9/', timeout = 0}"}}
  - {id: un, task: lua, on_error: continue, with: {script: "return ferry.http.request{url = 'http://127.0.0.1:9/x\\0/y'}"}}
  - {id: mn, task: lua, on_error: continue, with: {script: "return ferry.http.request{url = 'http://127.0.0.1:9/', method = 'G\\0ET'}"}}
  - {id: hs, task: lua, on_error: continue, with: {script: "return ferry.http.request{url = 'http://127.0.0.1:9/', headers = 'X-A: b'}"}}
  - {id: hnan, task: lua, on_error: continue, with: {script: "return ferry.http.request{url = 'http://127.0.0.1:9/', headers = {['X-A'] = 0/0}}"}}
  - {id: qs, task: lua, on_error: continue, with: {script: "return ferry.http.request{url = 'http://127.0.0.1:9/', query = 'a=1'}"}}
  - {id: tls, task: lua, on_error: continue, with: {script: "return ferry.http.request{url = 'http://127.0.0.1:9/', verify_tls = 'no'}"}}
  - {id: ca, task: lua, on_error: continue, with: {script: "return ferry.http.request{url = 'http://127.0.0.1:9/', ca_file = {}}"}}
  - {id: qm, task: lua, on_error: continue, with: {script: "return ferry.http.url('http://h/x', {filter = {status = 'open'}})"}}
  - {id: qh, task: lua, on_error: continue, with: {script: "return ferry.http.url('http://h/x', {a = {[1] = 'a', [3] = 'c'}})"}}
  - {id: qx, task: lua, on_error: continue, with: {script: "return ferry.http.url('http://h/x', {a = {1, x = 2}})"}}
  - {id: qn, task: lua, on_error: continue, with: {script: "return ferry.http.url('http://h/x', {a = math.huge})"}}
  - {id: qe, task: lua, with: {script: "return ferry.http.url('http://h/x', {a = ferry.json.array(), b = 1})"}}
  - {id: uf, task: lua, on_error: continue, with: {script: "return ferry.http.request{url = 'http://127.0.0.1:9/', heders = {a = 'b'}}"}}
  - {id: up, task: lua, on_error: continue, with: {script: "return ferry.http.request{url = 'http://127.0.0.1:9/', path = '/x'}"}}
  - id: qy
    task: http.request
    on_error: continue
    with: {url: "http://127.0.0.1:9/", query: {filter: {status: open}, keep: "yes"}}
""")
        doc = self.assertRun("h")
        out = lambda step: doc["steps"][step]["output"]
        self.assertEqual(out("q"), "http://h/x?a=1&a=true&b=2#frag")
        self.assertIn("query 'a': a table cannot be a query value", self.step_error(doc, "qt")["message"])
        # A map, holes or a mixed table lost what a list's length did not reach, in silence:
        # a GET went out without its filter (the dry-run preview too).
        for step in ("qm", "qx", "qy"):
            self.assertIn("a table that is not a list cannot be a query value",
                          self.step_error(doc, step)["message"])
        self.assertIn("query 'a': a list with holes cannot be a query value",
                      self.step_error(doc, "qh")["message"])
        self.assertIn("query 'a': NaN or an infinity cannot be a query value",
                      self.step_error(doc, "qn")["message"])
        self.assertEqual(out("qe"), "http://h/x?b=1")
        # A field it does not take was ignored: a typo went out without its headers.
        self.assertIn("ferry.http.request: 'heders' is no field (it takes method, url,",
                      self.step_error(doc, "uf")["message"])
        self.assertIn("ferry.http.request: 'path' is no field", self.step_error(doc, "up")["message"])
        # A list that answers forever is refused at 1 MiB of query, not filled for minutes.
        self.assertIn("ferry.http: the query is over 1048576 bytes (a list's length or __len wrong?)",
                      self.step_error(doc, "ql")["message"])
        self.assertIn("header 'X-N': string expected, got table", self.step_error(doc, "hd")["message"])
        self.assertIn("the value of header 'X-A' contains a line break or NUL", out("hn"))
        self.assertIn("body must be a string, got table", self.step_error(doc, "bd")["message"])
        self.assertIn("timeout must be more than 0", self.step_error(doc, "to")["message"])
        # Cut at the NUL, these went to /x and as method G.
        self.assertIn("'url' contains a NUL byte", self.step_error(doc, "un")["message"])
        self.assertIn("'method' contains a NUL byte", self.step_error(doc, "mn")["message"])
        # A field of the wrong type is refused, not ignored (the request would go without it).
        for step, text in (("hs", "bad argument 'headers' (table expected, got string)"),
                           ("hnan", "header 'X-A': NaN is not a header value"),
                           ("qs", "bad argument 'query' (table expected, got string)"),
                           ("tls", "bad argument 'verify_tls' (boolean expected, got string)"),
                           ("ca", "bad argument 'ca_file' (string expected, got table)")):
            self.assertIn(text, self.step_error(doc, step)["message"])

    def test_integration_fields_of_the_wrong_type_are_refused(self):
        # idempotent = "false" was ignored, so a PUT the task marked not idempotent was
        # retried (sent four times); integration = 5 sent a plain request without the
        # integration's credentials, retries or rate limit; method = 5 went out as "5".
        self.p.write("ferry.yaml", "integrations:\n  api:\n    type: http\n"
                                   "    base_url: http://127.0.0.1:9\n")
        self.p.workflow("hi", r"""
steps:
  - {id: integ, task: lua, on_error: continue, with: {script: "return ferry.http.request{integration = 5, url = 'http://127.0.0.1:9/'}"}}
  - {id: idem, task: lua, on_error: continue, with: {script: "return ferry.http.request{integration = 'api', method = 'PUT', url = '/x', idempotent = 'false'}"}}
  - {id: retry, task: lua, on_error: continue, with: {script: "return ferry.http.request{integration = 'api', url = '/x', retry = 'false'}"}}
  - {id: preview, task: lua, on_error: continue, with: {script: "return ferry.http.request{integration = 'api', url = '/x', preview = 1}"}}
  - {id: method, task: lua, on_error: continue, with: {script: "return ctx.http{method = 5, url = 'http://127.0.0.1:9/'}"}}
  - {id: nulled, task: lua, with: {script: "local r, e = ferry.http.request{integration = 'api', url = '/x', idempotent = ferry.json.null, retry = false} return e.kind"}}
""")
        doc = self.assertRun("hi")
        # A field a workflow left null arrives as ferry.json.null: not given, as nil.
        self.assertEqual(doc["steps"]["nulled"]["output"], "network")
        for step, text in (("integ", "bad argument 'integration' (string expected, got number)"),
                           ("idem", "bad argument 'idempotent' (boolean expected, got string)"),
                           ("retry", "bad argument 'retry' (boolean expected, got string)"),
                           ("preview", "bad argument 'preview' (boolean expected, got number)"),
                           ("method", "ctx.http: bad argument 'method' (string expected, got number)")):
            with self.subTest(step=step):
                err = self.step_error(doc, step)
                self.assertIn(text, err["message"])
                self.assertEqual(err["kind"], "lua_error")
                self.assertEqual(doc["steps"][step]["attempt"], 1)


class Validation(EngineTest):
    CASES = {
        # name: (yaml, expected line:col or line, message pieces)
        "yaml_syntax": ("steps:\n  - id: a\n    task: log\n    with: {message: \"oops\n",
                        None, []),
        "top_key": ("stepz:\n  - {id: a, task: log, with: {message: hi}}\n",
                    (1, 1), ["unknown key 'stepz'", "did you mean 'steps'"]),
        "step_key": ("steps:\n  - id: a\n    task: log\n    wiht: {message: hi}\n",
                     (4, 5), ["unknown key 'wiht'", "did you mean 'with'"]),
        "unknown_task": ("steps:\n  - id: a\n    task: no.such.task\n", (3, 11),
                         ["unknown task 'no.such.task'"]),
        "task_typo": ("steps:\n  - id: a\n    task: tranform\n", (3, 11),
                      ["unknown task 'tranform'", "did you mean 'transform'"]),
        "approvers_not_text": (
            "steps:\n  - id: a\n    task: approval\n    with: {message: go, approvers: [cab, 5]}\n",
            (2, 5), ["approvers are token names (text), got 5"]),
        "on_timeout_expression": (
            "inputs: {then: {type: string, default: page}}\nsteps:\n"
            "  - id: a\n    task: approval\n"
            "    with: {message: go, timeout: 1s, on_timeout: \"{{ inputs.then }}\"}\n"
            "  - {id: page, task: log, with: {message: paged}}\n",
            (3, 5), ["on_timeout must be written as 'reject' or a step id, not an expression"]),
        "no_default_provider": ("steps:\n  - id: a\n    task: custom.multi\n", (3, 11),
                                ["several providers and no default", "custom-a, custom-b"]),
        "unknown_provider": ("steps:\n  - id: a\n    task: log\n    provider: servicenow\n"
                             "    with: {message: hi}\n", (4, 15), ["servicenow"]),
        "needs_ref": ("steps:\n  - id: a\n    task: log\n    needs: [ghost]\n"
                      "    with: {message: hi}\n", (4, 13), ["unknown step 'ghost'"]),
        "expr_ref": ("steps:\n  - id: a\n    task: log\n"
                     "    with: {message: \"{{ steps.ghost.output }}\"}\n", (4, None),
                     ["unknown step 'ghost'"]),
        "cycle": ("steps:\n  - {id: a, task: log, needs: [c], with: {message: hi}}\n"
                  "  - {id: b, task: log, needs: [a], with: {message: hi}}\n"
                  "  - {id: c, task: log, with: {message: \"{{ steps.b.output }}\"}}\n",
                  (None, None), ["cycle", "a -> c -> b -> a"]),
        "dict_method": ("inputs:\n  items: {type: array}\nsteps:\n  - id: a\n    task: log\n"
                        "    with: {message: \"{{ inputs.items }}\"}\n", (6, None),
                        ["inputs.items is the dict method items(), not the input 'items'",
                         "write inputs['items']"]),
        # With no such input the advice would lead to "unknown input 'items'".
        "dict_method_no_input": ("steps:\n  - id: a\n    task: log\n"
                                 "    with: {message: \"{{ inputs.items }}\"}\n", (4, None),
                                 ["inputs.items is the dict method items(); there is no input "
                                  "'items'"]),
        # Deeper too: a step's output, an item, keyed like a dict method (write ['update']).
        "dict_method_deeper": ("steps:\n  - id: p\n    task: lua\n"
                               "    with: {script: \"return {update = {1}}\"}\n"
                               "  - id: a\n    task: log\n"
                               "    for_each: \"{{ steps.p.output.update }}\"\n"
                               "    with: {message: \"{{ steps.p.output.update() }}\"}\n",
                               (7, 19),
                               ["steps.p.output.update is the dict method update(), as in "
                                "Jinja2", "write steps.p.output['update'] for an entry named so"]),
        "dict_method_item": ("steps:\n  - id: a\n    task: log\n    for_each: [{keys: 1}]\n"
                             "    with: {message: \"{{ item['keys'] }} {{ item.keys }}\"}\n",
                             (5, None), ["item.keys is the dict method keys()"]),
        "bad_expression": ("steps:\n  - id: a\n    task: log\n"
                           "    with: {message: \"{{ inputs.x + }}\"}\n", (4, None),
                           ["expression"]),
        "when_with_text": ("steps:\n  - id: a\n    task: log\n    when: \"n is {{ 1 }}\"\n"
                           "    with: {message: hi}\n", (4, 11),
                           ["'when' must be one expression", "counts as true"]),
        "for_each_text": ("steps:\n  - id: a\n    task: log\n"
                          "    for_each: \"{% for x in [1] %}{{ x }}{% endfor %}\"\n"
                          "    with: {message: hi}\n", (4, 15),
                          ["'for_each' must be one expression", "not a list"]),
        "lua_script": ("steps:\n  - {id: a, task: log, with: {message: first}}\n"
                       "  - id: b\n    task: lua\n    with:\n      script: |\n"
                       "        local n = 1\n        if n then return n\n", (6, 7),
                       ["step 'b' with.script: Lua syntax error (line 3, column 1 of the script)",
                        "'end' expected"]),
        # `{{ }}` in a script is Lua taken as written: the error says so.
        "lua_script_braces": ("inputs: {code: {type: string}}\nsteps:\n  - id: d\n"
                              "    task: lua\n    with:\n      script: \"{{ inputs.code }}\"\n",
                              (6, 7), ["step 'd' with.script: Lua syntax error",
                                       "(script is Lua taken as written: {{ }} is not "
                                       "evaluated in it; pass values through with.input)"]),
        "bad_default": ("inputs:\n  n: {type: integer, default: three}\n"
                        "steps:\n  - {id: a, task: log, with: {message: hi}}\n", (2, None),
                        ["default", "'n'", "integer"]),
    }

    def check_line(self, out, name, where, pieces):
        rel = "workflows/%s.yaml" % name
        lines = [l for l in out.splitlines() if rel in l]
        self.assertTrue(lines, "no problem reported for %s in:\n%s" % (rel, out))
        line = lines[0]
        m = re.search(re.escape(rel) + r":(\d+):(\d+): (.+)$", line)
        self.assertIsNotNone(m, "not FILE:LINE:COL: message: %r" % line)
        if where:
            if where[0] is not None:
                self.assertEqual(int(m.group(1)), where[0], line)
            if where[1] is not None:
                self.assertEqual(int(m.group(2)), where[1], line)
        for piece in pieces:
            self.assertIn(piece, m.group(3), line)

    def test_validate_and_run_report_file_line_col(self):
        for prov in ("custom-a", "custom-b"):
            self.p.write("tasks/custom/multi_%s.lua" % prov[-1],
                         'return {name = "custom.multi", provider = "%s",\n'
                         '  run = function(ctx, input) return {} end}\n' % prov)
        for name, (text, _, _) in self.CASES.items():
            self.p.workflow(name, text)
        self.p.workflow("good", "steps:\n  - {id: a, task: log, with: {message: hi}}\n")
        p = self.p.ferry("validate", data=False)
        self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
        for name, (_, where, pieces) in self.CASES.items():
            with self.subTest(case=name, command="validate"):
                self.check_line(p.stdout, name, where, pieces)
        self.assertNotIn("good.yaml", p.stdout)
        # One file at a time, and `ferry run`, say the same.
        names = list(self.CASES)
        results = in_parallel(*[(lambda n=n: self.p.ferry("run", n, "--quiet")) for n in names])
        for name, r in zip(names, results):
            with self.subTest(case=name, command="run"):
                self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
                self.assertEqual(r.stdout.strip(), "", "nothing may run")
                self.check_line(r.stderr, name, *self.CASES[name][1:])
        one = self.p.ferry("validate", str(self.p.dir / "workflows/cycle.yaml"), data=False)
        self.assertEqual(one.returncode, 2)
        self.assertIn("a -> c -> b -> a", one.stdout)
        good = self.p.ferry("validate", str(self.p.dir / "workflows/good.yaml"), data=False)
        self.assertEqual(good.returncode, 0, good.stdout + good.stderr)
        # Nothing ran: no history at all.
        self.assertFalse((self.p.data / "data.mdb").exists() and
                         json.loads(self.p.ferry("executions", "list", "--json").stdout))

    def test_run_lists_every_problem_validate_lists(self):
        # run stopped at the file's own problems: a task input's typo hid the template
        # problems below it, one run per mistake to find them all.
        self.p.workflow("three", """\
steps:
  - {id: a, task: template.render, with: {templat: x.j2}}
  - {id: b, task: template.render, with: {template: nope.j2}}
  - {id: c, task: lua, with: {script: "return ("}}
""")
        validate = self.p.ferry("validate", str(self.p.dir / "workflows/three.yaml"), data=False)
        self.assertEqual(validate.returncode, 2)
        run = self.p.ferry("run", "three", "--quiet")
        self.assertEqual(run.returncode, 2)
        listed = [l for l in validate.stdout.splitlines() if "three.yaml:" in l]
        self.assertEqual(len(listed), 3, validate.stdout)
        self.assertEqual([l for l in run.stderr.splitlines() if "three.yaml:" in l], listed)

    def test_http_request_without_integration_needs_a_url(self):
        # A path without an integration passed validate and failed each run as a Lua error
        # naming the task's own file (tasks/http/request.lua:63: ctx.http: ...).
        self.p.workflow("rel", """\
steps:
  - {id: a, task: http.request, with: {path: /x}}
  - {id: b, task: http.request}
  - {id: c, task: http.request, with: {url: "http://127.0.0.1:9/x"}, on_error: continue}
""")
        p = self.p.ferry("validate", data=False)
        self.assertEqual(p.returncode, 2, p.stdout)
        self.assertIn("rel.yaml:2:39: step 'a': http.request needs 'url' ('path' is relative to "
                      "an integration's base_url, and the step has no integration:)", p.stdout)
        self.assertIn("rel.yaml:3:5: step 'b': http.request needs 'url'\n", p.stdout)
        self.assertNotIn("step 'c'", p.stdout)
        # Computed, only the run can tell: a validation error that says what is wrong.
        self.p.workflow("rel", "steps:\n  - {id: a, task: http.request, "
                               "with: {url: \"{{ none }}\", path: /x}}\n")
        rc, doc, err = self.p.run("rel")
        self.assertEqual(rc, 1, err)
        error = doc["steps"]["a"]["error"]
        self.assertEqual((error["kind"], error["message"]),
                         ("validation", "http.request: 'url' is required ('path' is relative to "
                          "an integration's base_url, and the step has no integration:)"))

    def test_a_problem_deep_in_an_input_is_placed_where_it_is_written(self):
        # Every item's problem was at `mappings:`, for the reader to count items.
        self.p.workflow("deep", """\
steps:
  - id: t
    task: transform
    with:
      data: {a: "1"}
      mappings:
        - {source: a, target: b}
        - source: a
          target: c
          transform: to_numbr
""")
        p = self.p.ferry("validate", data=False)
        self.assertEqual(p.returncode, 2, p.stdout)
        self.assertIn("deep.yaml:10:22: task 'transform' input 'mappings[1].transform' must be "
                      "one of ", p.stdout)

    def test_a_var_that_cannot_be_evaluated_is_refused_at_its_place(self):
        # The refusal named no file: `ferry run: validation: vars.inf: ...`.
        self.p.workflow("v", "vars:\n  ok: 1\n  inf: \"{{ 1e308 * 10 }}\"\n"
                             "steps:\n  - {id: a, task: log, with: {message: hi}}\n")
        rc, doc, err = self.p.run("v")
        self.assertEqual((rc, doc), (2, None), err)
        self.assertRegex(err, r"^ferry run: \S*workflows/v\.yaml:3:8: vars\.inf: the value is "
                              r"infinite or NaN")

    def test_workflow_names_that_mix_histories_or_runs(self):
        wf = "steps:\n  - {id: a, task: log, with: {message: hi}}\n"
        self.p.workflow("alpha", "name: shared\n" + wf)
        self.p.workflow("beta", "name: shared\n" + wf)
        self.p.workflow("gamma", "name: alpha\n" + wf)
        self.p.workflow("delta", wf)  # its name is its stem: fine
        p = self.p.ferry("validate", data=False)
        self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
        # In workflows/, a name must be its file's: that alone keeps names apart.
        for stem, name in (("alpha", "shared"), ("beta", "shared"), ("gamma", "alpha")):
            self.assertIn("workflows/%s.yaml:1:7: workflow name '%s' is not its file's name "
                          "'%s'" % (stem, name, stem), p.stdout)
        self.assertNotIn("delta", p.stdout)
        self.assertEqual(len(p.stdout.strip().splitlines()), 3, p.stdout)
        # Files elsewhere may name themselves, and must not clash.
        other = self.p.dir / "other"
        other.mkdir()
        (other / "one.yaml").write_text("name: shared\n" + wf)
        (other / "two.yaml").write_text("name: shared\n" + wf)
        p = self.p.ferry("validate", "other", data=False)
        self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
        self.assertRegex(p.stdout, r"other/(one|two)\.yaml:1:1: workflow name 'shared' is "
                                   r"also the name of \S*other/(one|two)\.yaml; their "
                                   r"executions would be listed as one workflow's")

    def test_a_workflow_file_name_must_be_a_name(self):
        # The stem names the workflow in the API, the CLI and the history.
        wf = "steps:\n  - {id: a, task: log, with: {message: hi}}\n"
        (self.p.dir / "workflows" / b"bad\xffname.yaml".decode("utf-8", "surrogateescape")
         ).write_text(wf)
        self.p.workflow('we"ird', wf)
        p = subprocess.run([FERRY, "validate", "--project", str(self.p.dir)],
                           capture_output=True, timeout=TIMEOUT, cwd=str(self.p.dir))
        out = p.stdout.decode("utf-8", "replace")  # a path is printed as its bytes
        self.assertEqual(p.returncode, 2, out)
        self.assertIn("invalid workflow file name 'we\"ird'", out)
        self.assertEqual(out.count("invalid workflow file name"), 2, out)
        import serve_util  # it runs `ferry serve`; most of this file does not
        self.p.write("ferry.yaml", serve_util.tokens_yaml())
        server = serve_util.Server(FERRY, self.p.dir, self.p.data)
        try:
            status, _, body = server.request("GET", "/api/v1/workflows", role="viewer")
        finally:
            server.stop()
        self.assertEqual(status, 200)
        listed = json.loads(body.decode("utf-8"))["workflows"]  # strict UTF-8
        self.assertIn("bad\ufffdname", [w["name"] for w in listed])
        self.assertFalse([w for w in listed if w["name"] == "bad\ufffdname"][0]["valid"])

    def test_workflow_files_no_loader_can_read_are_reported(self):
        self.p.workflow("fine", "steps:\n  - {id: a, task: log, with: {message: hi}}\n")
        os.symlink(str(self.p.dir / "nowhere.yaml"), str(self.p.dir / "workflows/broken.yaml"))
        os.mkfifo(str(self.p.dir / "workflows/pipe.yml"))
        os.makedirs(str(self.p.dir / "workflows/folder.yaml"))  # a folder: looked into, not a file
        p = self.p.ferry("validate", data=False)
        self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
        self.assertIn("workflows/broken.yaml:1:1: a symbolic link to nothing, so it is not loaded",
                      p.stdout)
        self.assertIn("workflows/pipe.yml:1:1: not a regular file, so it is not loaded", p.stdout)
        self.assertEqual(len(p.stdout.strip().splitlines()), 2, p.stdout)

    def test_lua_syntax_error_names_the_column_of_a_token_unique_on_its_line(self):
        self.p.write("tasks/custom/stray.lua", """\
return {
  name = "custom.stray",
  run = function(ctx) local v = ctx.a b end,
}
""")
        p = self.p.ferry("validate", data=False)
        self.assertEqual(p.returncode, 2)
        # 'end' appears once on line 3: Lua stopped at it, column 41.
        self.assertIn("tasks/custom/stray.lua:3:41: syntax error near 'end'", p.stdout)

    def test_lua_syntax_error_in_a_task_file(self):
        self.p.write("tasks/custom/broken.lua", """\
return {
  name = "custom.broken",
  run = function(ctx, input)
    local x = = 1
  end,
}
""")
        self.p.workflow("uses", "steps:\n  - {id: a, task: custom.broken}\n")
        p = self.p.ferry("validate", data=False)
        self.assertEqual(p.returncode, 2)
        # '=' appears twice on line 4: the second, where Lua stopped (no column was given).
        self.assertRegex(p.stdout, r"tasks/custom/broken\.lua:4:15: [^\n]*near '='")
        # And so when validate is given the file or its folder (it said 4:1: there).
        for target in ("tasks/custom/broken.lua", "tasks"):
            one = self.p.ferry("validate", target, data=False)
            self.assertEqual(one.returncode, 2, one.stdout + one.stderr)
            self.assertRegex(one.stdout, r"tasks/custom/broken\.lua:4:15: [^\n]*near '='")
        r = self.p.ferry("run", "uses")
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("tasks/custom/broken.lua:4:15: ", r.stderr)
        self.assertRegex(r.stderr, r"workflows/uses\.yaml:2:\d+: unknown task 'custom.broken'")

    def test_task_files_that_load_badly_are_reported_not_waited_for(self):
        # A top level that never ends is stopped by an instruction budget (the process would
        # hang at start otherwise); a task with a mistake is reported, not silently dropped.
        self.p.write("tasks/loops.lua", "while true do end\n")
        self.p.write("tasks/norun.lua", 'return {name = "custom.norun", run = 5}\n')
        self.p.write("tasks/typo.lua", 'return {name = "custom.typo", input = {a = {type = '
                     '"strnig"}}, run = function() return {} end}\n')
        self.p.write("tasks/helper.lua", "return {shout = string.upper}\n")  # not a task: fine
        # One that only allocates is stopped by an allocation budget, not the VM's 1 GiB.
        self.p.write("tasks/hog.lua", 'local t = {} for i = 1, 1e8 do '
                     't[i] = string.rep("x", 100) .. i end\n')
        p = self.p.ferry("validate", data=False, timeout=60)
        self.assertIn("tasks/hog.lua:1:1: loading failed: the file's top level allocated more "
                      "than 256 MiB while loading (not enough memory)", p.stdout)
        self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
        self.assertIn("tasks/loops.lua:1:1: loading failed: the file's top level ran more than "
                      "100000000 instructions while loading (a loop that never ends?)", p.stdout)
        self.assertIn("tasks/norun.lua:1:32: task 'custom.norun': 'run' must be a function(ctx, "
                      "input), not number", p.stdout)
        self.assertIn("tasks/typo.lua:1:45: task 'custom.typo': input 'a' has type 'strnig'; types: "
                      "string, integer, number, boolean, object, array, any", p.stdout)
        self.assertNotIn("helper.lua", p.stdout)

    def test_task_definitions_of_the_wrong_shape_are_reported(self):
        run = "run = function() return 1 end"
        self.p.write("tasks/t/a.lua", 'return {name = "t.a", input = 5, %s}\n' % run)
        self.p.write("tasks/t/c.lua", 'return {name = "t.c", input = {a = {type = "string", '
                     'enum = "x", required = "yes", default = 5}}, %s}\n' % run)
        self.p.write("tasks/t/d.lua", 'return {name = "t.d", raw = "script", %s}\n' % run)
        self.p.write("tasks/t/e.lua", 'return {name = "", %s}\n' % run)
        self.p.write("tasks/t/f.lua", 'error({kind = "x", message = "not ready"})\n')
        self.p.write("tasks/t/h.lua", 'local n = 1\nerror("boom at top")\n')
        self.p.write("tasks/t/g.lua", 'return setmetatable({}, {__index = function() error("x") end})\n')
        p = self.p.ferry("validate", data=False, timeout=60)
        self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
        for line in ("tasks/t/a.lua:1:23: task 't.a': 'input' must be a table, not a number",
                     "tasks/t/c.lua:1:66: task 't.c': input 'a' has required = 'yes'; it must be true or false",
                     "tasks/t/c.lua:1:54: task 't.c': input 'a' has enum = 'x'; it must be a list of values",
                     "tasks/t/c.lua:1:84: task 't.c': input 'a' has type string but default 5",
                     "tasks/t/d.lua:1:23: task 't.d': 'raw' must be a table, not a string",
                     "tasks/t/e.lua:1:1: a task file's table has 'run' but no 'name'",
                     "tasks/t/f.lua:1:1: loading failed: not ready",
                     # the line it raised on, and one line (no traceback)
                     "tasks/t/h.lua:2:1: loading failed: boom at top\n"):
            self.assertIn(line, p.stdout)
        self.assertNotIn("t/g.lua", p.stdout)  # a table that is no task: its __index never ran

    def test_mistakes_that_would_fail_every_run_are_reported(self):
        # Each passed validate and failed at every run.
        self.p.write("templates/ok.j2", "ok {{ x }}\n")
        w = self.p.workflow
        w("stepfield", "steps:\n  - {id: a, task: lua, with: {script: \"return {x = 1}\"}}\n"
          "  - {id: b, task: log, with: {message: \"{{ steps.a.outptu.x }}\"}}\n")
        w("execfield", "steps:\n  - {id: a, task: log, with: {message: \"{{ execution.workflw }}\"}}\n")
        w("tplmissing", "steps:\n  - {id: a, task: template.render, with: {template: incident.j2}}\n")
        w("tplescape", "steps:\n  - {id: a, task: template.render, with: {template: ../ferry.yaml}}\n")
        w("tplok", "steps:\n  - {id: a, task: template.render, with: {template: ok.j2}}\n"
          "  - {id: b, task: template.render, with: {template: incident.md.j2}}\n")
        v = self.p.ferry("validate", data=False)
        self.assertEqual(v.returncode, 2, v.stdout)
        for line in (
                "stepfield.yaml:3:44: step 'b': steps.a has no field 'outptu' (did you mean "
                "'output'?); it has output, status, error, reason",
                "execfield.yaml:2:44: step 'a': execution has no field 'workflw' (did you mean "
                "'workflow'?)",
                "tplmissing.yaml:2:42: step 'a': template 'incident.j2' is not in templates/ "
                "(nor among the bundled ones)",
                "tplescape.yaml:2:42: step 'a': template name '../ferry.yaml' leaves the "
                "template folder"):
            self.assertIn(line, v.stdout)
        self.assertNotIn("tplok", v.stdout)
        code, _, err = self.p.run("tplmissing")
        self.assertEqual(code, 2, err)
        # One validate cannot tell fails its step in the words the docs use ("a list").
        w("each", "inputs: {n: {type: integer, default: 3}}\nsteps:\n"
          "  - {id: a, task: log, for_each: \"{{ inputs.n + 1 }}\", with: {message: x}}\n")
        code, doc, err = self.p.run("each")
        self.assertEqual(code, 1, err)
        self.assertEqual(doc["error"]["message"], "step 'a' for_each must give a list, got 4")
        # An iterable that is no list (range) says how to make it one.
        w("ranged", "inputs: {n: {type: integer, default: 3}}\nsteps:\n"
          "  - {id: a, task: log, for_each: \"{{ range(inputs.n) }}\", with: {message: x}}\n")
        code, doc, err = self.p.run("ranged")
        self.assertEqual(code, 1, err)
        self.assertEqual(doc["error"]["message"], "step 'a' for_each must give a list, got "
                         "range (add | list: \"{{ ... | list }}\")")

    def test_a_name_two_workflow_files_share_is_refused_by_run(self):
        # `ferry run dup` silently took dup.yaml over dup.json (validate reported the clash).
        self.p.write("workflows/dup.yaml", "steps:\n  - {id: a, task: log, with: {message: y}}\n")
        self.p.write("workflows/dup.json",
                     '{"steps": [{"id": "a", "task": "log", "with": {"message": "j"}}]}\n')
        code, doc, err = self.p.run("dup")
        self.assertEqual(code, 2, err)
        self.assertIn("workflow name 'dup' is ambiguous: workflows/ has dup.yaml and dup.json; "
                      "keep one of them", err)
        os.remove(self.p.dir / "workflows" / "dup.json")
        self.assertEqual(self.assertRun("dup")["status"], "succeeded")

    def test_steps_read_as_a_whole_is_refused_where_it_depends_on_timing(self):
        # It held whichever steps had finished: [] or some of them, from run to run, and a
        # summary step missed failures it was meant to list.
        self.p.workflow("whole", """\
vars: {x: a}
steps:
  - {id: a, task: log, with: {message: a}}
  - {id: c, task: log, with: {message: "{{ steps | list }}"}}
  - {id: d, task: log, with: {message: "{% for k, v in steps.items() %}{{ k }}{% endfor %}"}}
  - {id: f, task: log, when: "{{ 'a' in steps }}", with: {message: "{{ steps.get(vars.x) }}"}}
""")
        p = self.p.ferry("validate", data=False)
        self.assertEqual(p.returncode, 2)
        places = re.findall(r"workflows/whole\.yaml:(\d+:\d+): step '(\w)': 'steps' read as a "
                            r"whole", p.stdout)
        self.assertEqual(places, [("4:44", "c"), ("5:56", "d"), ("6:41", "f"), ("6:72", "f")],
                         p.stdout)
        self.assertIn("read each step by name (steps.ID, steps['ID']) or as steps[name] with "
                      "needs: [...]", p.stdout)
        # By name, through a computed key with needs, and whole in outputs: all fine.
        self.p.workflow("whole", """\
steps:
  - {id: a, task: log, with: {message: a}}
  - {id: b, task: log, with: {message: b}}
  - id: e
    task: lua
    needs: [a, b]
    with: {script: "return input", input: "{% for s in ['a', 'b'] %}{{ steps[s].status }} {% endfor %}"}
outputs:
  statuses: "{{ steps.values() | map(attribute='status') | list }}"
""")
        doc = self.assertRun("whole")
        self.assertEqual(doc["steps"]["e"]["output"], "succeeded succeeded ")
        self.assertEqual(doc["outputs"]["statuses"], ["succeeded"] * 3)

    def test_a_json_workflow_is_json(self):
        # Read as YAML, a .json file took a trailing comma (and YAML's block style), which
        # every other JSON tool the file passes through refuses.
        self.p.write("workflows/j.json", '{"steps": [\n  {"id": "a", "task": "log", '
                                         '"with": {"message": "j"}},\n]}\n')
        for args in (("validate",), ("run", "j")):
            with self.subTest(args=args):
                r = self.p.ferry(*args)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertIn("workflows/j.json:3:1: invalid JSON: Invalid value. (a .json "
                              "workflow is JSON; YAML goes in a .yaml file)", r.stdout + r.stderr)
        self.p.write("workflows/j.json", '{"steps": [{"id": "a", "task": "log", '
                                         '"with": {"message": "j"}}]}\n')
        self.assertEqual(self.assertRun("j")["status"], "succeeded")

    def test_a_file_named_twice_is_checked_once(self):
        # `x.yaml ./x.yaml`, or a folder and a file in it (an editor's hook passes both): the
        # file was reported as a workflow whose name clashes with its own.
        self.p.workflow("one", "steps:\n  - {id: a, task: log, with: {message: hi}}\n")
        for args in (("workflows/one.yaml", "./workflows/one.yaml"),
                     ("workflows", "workflows/one.yaml")):
            v = self.p.ferry("validate", *args, data=False)
            self.assertEqual(v.returncode, 0, v.stdout)
            self.assertIn("1 file checked, no problems", v.stderr)
        # A symbolic link is a workflow of its own for run and serve (found by its own file
        # name), so it is checked as one; and a file named from inside workflows/ is in it.
        os.symlink("one.yaml", self.p.dir / "workflows" / "alias.yaml")
        self.p.workflow("two", "name: three\nsteps:\n  - {id: a, task: log, with: {message: hi}}\n")
        v = self.p.ferry("validate", data=False)
        self.assertEqual(v.returncode, 2, v.stdout)
        self.assertIn("workflows/two.yaml:1:7: workflow name 'three' is not its file's name", v.stdout)
        v = subprocess.run([FERRY, "validate", "two.yaml", "alias.yaml"], capture_output=True,
                           text=True, cwd=str(self.p.dir / "workflows"), timeout=TIMEOUT)
        self.assertEqual(v.returncode, 2, v.stdout)
        self.assertIn("two.yaml:1:7: workflow name 'three' is not its file's name", v.stdout)
        self.assertNotIn("alias", v.stdout)  # its stem is its name: fine
        # The same file reached through a linked folder is one file; and from inside a
        # workflows/ that is itself a link (the shell's $PWD names it), it is in workflows/.
        linked = Path(tempfile.mkdtemp(prefix="ferry-link-")) / "proj"
        os.symlink(self.p.dir, linked)
        self.addCleanup(shutil.rmtree, linked.parent, True)
        v = subprocess.run([FERRY, "validate", "workflows/one.yaml", str(linked / "workflows/one.yaml")],
                           capture_output=True, text=True, cwd=str(linked), timeout=TIMEOUT,
                           env=dict(os.environ, PWD=str(linked)))
        self.assertEqual(v.returncode, 0, v.stdout)
        self.assertIn("1 file checked, no problems", v.stderr)
        real = Path(tempfile.mkdtemp(prefix="ferry-wfs-"))
        self.addCleanup(shutil.rmtree, real, True)
        (real / "x.yaml").write_text("name: bee\nsteps:\n  - {id: a, task: log, with: {message: hi}}\n")
        other = Path(tempfile.mkdtemp(prefix="ferry-proj-"))
        self.addCleanup(shutil.rmtree, other, True)
        os.symlink(real, other / "workflows")
        v = subprocess.run([FERRY, "validate", "--project", "..", "x.yaml"], capture_output=True,
                           text=True, cwd=str(other / "workflows"), timeout=TIMEOUT,
                           env=dict(os.environ, PWD=str(other / "workflows")))
        self.assertEqual(v.returncode, 2, v.stdout)
        self.assertIn("x.yaml:1:7: workflow name 'bee' is not its file's name 'x'", v.stdout)

    def test_a_declaration_validate_refuses_is_not_read_as_its_opposite(self):
        # `ferry run` warns about a task's problems and goes on: `pure = "false"` was read
        # with Lua's truth and made the task pure (HTTP refused, run before its "running"
        # record was durable), `required = "no"` made the input required. Both read as
        # false now; a default outside the input's enum is reported.
        self.p.write("tasks/my/p.lua", """\
return {
  name = "my.p",
  pure = "false",
  input = {n = {type = "integer", required = "no"},
           level = {type = "string", enum = {"low", "high"}, default = "medium"}},
  run = function(ctx, input)
    local res, err = ctx.http{method = "GET", url = "http://127.0.0.1:9/"}
    return {n = input.n, http = err and err.kind or "answered"}
  end,
}
""")
        self.p.workflow("w", "steps:\n  - {id: a, task: my.p, with: {}}\n")
        v = self.p.ferry("validate", data=False)
        self.assertEqual(v.returncode, 2, v.stdout)
        self.assertIn("tasks/my/p.lua:5:62: task 'my.p': input 'level' has default 'medium', "
                      "which is not one of its enum 'low', 'high'", v.stdout)
        shown = json.loads(self.p.ferry("tasks", "show", "my.p", "--json", data=False).stdout)
        self.assertEqual(shown["pure"], False)
        code, doc, err = self.p.run("w")
        self.assertEqual(code, 0, err)
        self.assertIn("warning:", err)
        # Not required, and not pure: the request was made (and refused by the port).
        self.assertEqual(doc["steps"]["a"]["output"], {"http": "network"}, doc)

    def test_object_inputs_declare_their_keys(self):
        # `properties` names an object input's keys: validate reports a misspelt one in a
        # step's with:, and a run reports one an expression made. Its entries are checked
        # as a task's inputs are, less `default`.
        self.p.write("tasks/a/o.lua", """\
return {name = "t.o", input = {opts = {type = "object", properties = {
  size = {type = "integer", required = true},
  mode = {type = "string", enum = {"fast", "safe"}}}}},
  run = function(ctx, input) return {size = input.opts.size} end}
""")
        self.p.write("tasks/a/bad.lua", """\
return {name = "t.bad", input = {
  a = {type = "string", properties = {x = {type = "string"}}},
  b = {type = "object", properties = {x = {type = "strnig", default = "y"}}},
  c = {type = "string", items = {type = "string"}},
  d = {type = "array", items = {type = "object", properties = {k = {type = "strng"}}}}},
  run = function() return {} end}
""")
        p = self.p.ferry("validate", data=False)
        self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
        for line in ("tasks/a/bad.lua:2:25: task 't.bad': input 'a' has properties but type "
                     "string; they describe the keys of an object",
                     "task 't.bad': input 'c' has items but type string; they describe an "
                     "array's items",
                     "task 't.bad': input 'd[].k' has type 'strng'; types: ",
                     "tasks/a/bad.lua:3:3: task 't.bad': input 'b.x' has a default; an entry "
                     "under 'properties' cannot (give the object input a default instead)",
                     "tasks/a/bad.lua:3:3: task 't.bad': input 'b.x' has type 'strnig'; types: "):
            self.assertIn(line, p.stdout)
        (self.p.dir / "tasks/a/bad.lua").unlink()
        self.p.workflow("opts", """\
inputs:
  given: {type: object, default: {size: 3}}
steps:
  - {id: w, task: t.o, with: {opts: {size: 2, mod: safe}}}
""")
        p = self.p.ferry("validate", data=False)
        self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
        self.assertIn("workflows/opts.yaml:4:31: task 't.o' input 'opts' has no key 'mod' "
                      "(did you mean 'mode'?)", p.stdout)
        self.p.workflow("opts", """\
inputs:
  given: {type: object, default: {size: 3}}
steps:
  - {id: w, task: t.o, with: {opts: "{{ inputs.given }}"}}
""")
        code, doc, err = self.p.run("opts")
        self.assertEqual(code, 0, err)
        self.assertEqual(doc["steps"]["w"]["output"], {"size": 3})
        code, doc, err = self.p.run("opts", "--input", 'given={"size": 3, "mode": "slow"}')
        self.assertEqual(code, 1, err)
        self.assertEqual(doc["steps"]["w"]["error"]["message"],
                         "step 'w': task 't.o' input 'opts.mode' must be one of 'fast', "
                         "'safe'; got 'slow'")

    def test_typos_file_forms_and_built_in_names_in_task_files(self):
        # Typos in a declaration were taken in silence (`inputs`: every key accepted;
        # `requird`: nothing required); a BOM or a #! line failed to load; and a project
        # file whose path sorts before a built-in's took its name over.
        run = "run = function() return {hijacked = true} end"
        self.p.write("tasks/a/p.lua", 'return {name = "t.p", inputs = {a = {type = "string"}}, '
                     'run = function() return {} end}\n')
        self.p.write("tasks/a/q.lua", 'return {name = "t.q", input = {a = {type = "string", '
                     'requird = true}}, run = function() return {} end}\n')
        self.p.write("tasks/a/f.lua", 'return {name = "t.f", input = {a = {type = "string", '
                     'format = "date"}}, run = function() return {} end}\n')
        # Placed by a scan of the file: a regex recursed once per blank (a crash at 50,000).
        self.p.write("tasks/a/g.lua", 'return {name = "t.g", run = function() end, pure' +
                     ' ' * 50000 + '= "yes"}\n')
        # A default JSON has no form for turned the whole schema off, in silence.
        self.p.write("tasks/a/n.lua", 'return {name = "t.n", input = {a = {type = "number", '
                     'default = 0/0}}, run = function() return {} end}\n')
        self.p.write("tasks/a/r.lua", 'return {name = "log", %s}\n' % run)
        # A misspelt integration type matched no integration; a name that is not UTF-8
        # cannot be written in a workflow.
        self.p.write("tasks/a/i.lua", 'return {name = "t.i", integrations = {"jira", '
                     '"servicenw"}, run = function() end}\n')
        self.p.write_bytes("tasks/a/u.lua", b'return {name = "t.u\xff", run = function() end}\n')
        self.p.write("tasks/b/bom.lua", '\ufeffreturn {name = "t.bom", run = function() return 1 end}\n')
        self.p.write("tasks/b/bang.lua", '#!/usr/bin/env lua\n'
                     'return {name = "t.bang", run = function() return 2 end}\n')
        p = self.p.ferry("validate", data=False)
        self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
        for line in ("tasks/a/p.lua:1:23: task 't.p': unknown key 'inputs' (did you mean 'input'?)",
                     "tasks/a/q.lua:1:54: task 't.q': input 'a' has an unknown key 'requird' "
                     "(did you mean 'required'?)",
                     "tasks/a/f.lua:1:54: task 't.f': input 'a' has format = 'date'; the one "
                     "format is \"duration\" (300ms, 2s, 1m30s)",
                     "tasks/a/g.lua:1:45: task 't.g': 'pure' must be true or false",
                     "tasks/a/n.lua:1:23: task 't.n': 'input' has a value JSON cannot hold: "
                     "a.default: NaN cannot be encoded as JSON",
                     "tasks/a/r.lua:1:9: task 'log' is also defined in tasks/core/log.lua",
                     "tasks/a/i.lua:1:23: task 't.i': 'integrations' names 'servicenw', which "
                     "is no integration type (servicenow, jira, splunk_hec, webhook, http) "
                     "(did you mean 'servicenow'?)",
                     "tasks/a/u.lua:1:9: a task's name must be UTF-8 text (it has byte 0xFF)"):
            self.assertIn(line, p.stdout)
        self.assertNotIn("bom.lua", p.stdout)
        self.assertNotIn("bang.lua", p.stdout)
        self.p.workflow("uses", """\
steps:
  - {id: l, task: log, with: {message: hi}}
  - {id: b, task: t.bom}
  - {id: s, task: t.bang}
""")
        rc, doc, err = self.p.run("uses")
        self.assertEqual(rc, 0, err)
        self.assertNotEqual(doc["steps"]["l"]["output"], {"hijacked": True})
        self.assertEqual((doc["steps"]["b"]["output"], doc["steps"]["s"]["output"]), (1, 2))

    def test_task_definition_mistakes_name_the_line_they_are_on(self):
        # A table has no positions: the source is searched for the key, and a key written
        # once is placed (in its input's entry, for a schema mistake); one written twice
        # is not guessed at.
        self.p.write("tasks/custom/multi.lua", """\
-- type = "integer" is outside every input's entry: not a candidate
local M = {
  name = "custom.multi",
  input = {
    title = {type = "string", required = true},
    count = {
      type = "integre",
      required = "no",
    },
    ["dash-ed"] = {type = "object", default = 3},
  },
  pure = "sure",
}
function M.run(ctx, input) return {title = input.title} end
return M
""")
        self.p.write("tasks/custom/twice.lua", """\
-- a = {type = "string"} is what was meant
return {name = "custom.twice", input = {a = {type = "strnig"}},
        run = function() return {} end}
""")
        # The same name and provider in a second file: the second is the duplicate.
        self.p.write("tasks/custom/zz_again.lua", """\
return {
  description = "another multi",
  name = "custom.multi",
  run = function() return {} end,
}
""")
        p = self.p.ferry("validate", data=False)
        self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
        for line in ("tasks/custom/zz_again.lua:3:3: task 'custom.multi' is also defined in "
                     "tasks/custom/multi.lua",
                     "tasks/custom/multi.lua:7:7: task 'custom.multi': input 'count' has type "
                     "'integre'",
                     "tasks/custom/multi.lua:8:7: task 'custom.multi': input 'count' has required "
                     "= 'no'",
                     "tasks/custom/multi.lua:10:37: task 'custom.multi': input 'dash-ed' has type "
                     "object but default 3",
                     "tasks/custom/multi.lua:12:3: task 'custom.multi': 'pure' must be true or "
                     "false, not string",
                     "tasks/custom/twice.lua:1:1: task 'custom.twice': input 'a' has type "
                     "'strnig'"):
            self.assertIn(line, p.stdout)

    def test_a_refused_run_leaves_no_data_folder(self):
        self.p.workflow("typed", "inputs:\n  count: {type: integer, required: true}\n"
                                 "steps: [{id: a, task: log, with: {message: x}}]\n")
        for args in (["nope"], ["typed"], ["typed", "--input", "count=abc"],
                     ["typed", "--input", "colour=red"], ["typed", "--inputs-file", "none.json"]):
            with self.subTest(args=args):
                r = self.p.ferry("run", *args)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertFalse(self.p.data.exists(), "a refused run created %s" % self.p.data)
        rc, doc, err = self.p.run("typed", "--input", "count=3")
        self.assertEqual((rc, doc["status"]), (0, "succeeded"), err)
        self.assertTrue(self.p.data.is_dir())

    def test_input_conversion_errors(self):
        self.p.workflow("typed", """\
inputs:
  count: {type: integer, default: 1}
  ratio: {type: number, default: 0.5}
  flag: {type: boolean, default: false}
  tags: {type: array, default: []}
  meta: {type: object, default: {}}
steps:
  - id: echo
    task: lua
    with:
      input: {count: "{{ inputs.count }}", ratio: "{{ inputs.ratio }}", flag: "{{ inputs.flag }}",
              tags: "{{ inputs.tags }}", meta: "{{ inputs.meta }}"}
      script: return input
""")
        bad = {"count=abc": "count", "ratio=x1": "ratio", "flag=maybe": "flag",
               "tags=[1,": "tags", "meta=[1]": "meta"}
        calls = [(lambda a=a: self.p.ferry("run", "typed", "--input", a)) for a in bad]
        calls.append(lambda: self.p.ferry("run", "typed", "--input", "colour=red"))
        calls.append(lambda: self.p.run("typed", "--input", "count=7", "--input", "ratio=2.5",
                                        "--input", "flag=yes", "--input", 'tags=["a",1]',
                                        "--input", 'meta={"k":{"n":1}}'))
        results = in_parallel(*calls)
        for (arg, name), r in zip(bad.items(), results):
            with self.subTest(arg=arg):
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertTrue(r.stderr.startswith("ferry run: input '%s'" % name), r.stderr)
                self.assertEqual(r.stdout, "")
        # Problems found once converted (enum, max_length): one line each, prefixed alike.
        self.p.workflow("bounded", "inputs:\n  s: {type: string, max_length: 2}\n"
                                   "  e: {type: string, enum: [a, b]}\n"
                                   "steps: [{id: a, task: log, with: {message: x}}]\n")
        r = self.p.ferry("run", "bounded", "--input", "s=abcd", "--input", "e=z")
        self.assertEqual(r.returncode, 2)
        self.assertEqual(r.stderr.splitlines(), [
            "ferry run: input 's': is 4 characters long; the maximum is 2",
            "ferry run: input 'e': must be one of 'a', 'b'; got 'z'"])
        unknown = results[len(bad)]
        self.assertEqual(unknown.returncode, 2)
        self.assertIn("no input 'colour'", unknown.stderr)
        # Every --input that does not convert or names no input, at once (one a run before).
        r = self.p.ferry("run", "typed", "--input", "count=abc", "--input", "colour=red",
                         "--input", "flag=maybe")
        self.assertEqual(r.returncode, 2)
        self.assertEqual(r.stderr.splitlines(), [
            "ferry run: input 'count': expected an integer, got 'abc'",
            "ferry run: workflow 'typed' has no input 'colour' (inputs: count, ratio, flag, "
            "tags, meta)",
            "ferry run: input 'flag': expected a boolean (true/false, yes/no, 1/0), got 'maybe'",
            "(see 'ferry run --help')"])
        rc, doc, err = results[-1]
        self.assertEqual(rc, 0, err)
        self.assertEqual(doc["steps"]["echo"]["output"],
                         {"count": 7, "ratio": 2.5, "flag": True, "tags": ["a", 1],
                          "meta": {"k": {"n": 1}}})

    def test_usage_mistakes_say_what_and_nothing_starts(self):
        self.p.workflow("one", "inputs: {x: {type: any}}\n"
                               "steps: [{id: a, task: log, with: {message: x}}]\n")
        first = self.p.write("a.json", '{"x": 1}')
        second = self.p.write("b.json", '{"x": 2}')
        # Given twice, one of them is a mistake: the last one silently won.
        for args, message in (
                (["--input", "x=1", "--input", "x=2"], "--input x is given more than once"),
                (["--inputs-file", str(first), "--inputs-file", str(second)],
                 "--inputs-file is given more than once"),
                (["--input"], "--input needs a value, KEY=VALUE")):
            with self.subTest(args=args):
                r = self.p.ferry("run", "one", *args)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertEqual(r.stdout, "")
                if message:
                    self.assertTrue(r.stderr.startswith("ferry run: " + message), r.stderr)
        # NaN is no JSON: for an `any` input the text itself, not a null (an object input
        # refuses it: unit-tested).
        r = self.p.ferry("run", "one", "--input", 'x={"v": NaN}', "--dry-run")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["inputs"], {"x": '{"v": NaN}'})
        # A name that finds no workflow is the command's error, as others are.
        r = self.p.ferry("run", "nosuch")
        self.assertEqual(r.returncode, 2)
        self.assertEqual(r.stderr, "ferry run: no workflow named 'nosuch' in workflows/ "
                                   "(known: one)\n")
        r = self.p.ferry("executions", "export", "--since")
        self.assertEqual(r.returncode, 2)
        self.assertTrue(r.stderr.startswith("ferry executions: --since needs a value\n"), r.stderr)
        # ferry.yaml's problems, one FILE:LINE:COL line each (the first came after
        # "ferry: validation: ").
        self.p.write("ferry.yaml", "integrations:\n  x: {type: nope}\n  y: {type: http}\n")
        r = self.p.ferry("run", "one", "--input", "x=1")
        self.assertEqual(r.returncode, 2)
        self.assertEqual(r.stderr.splitlines(), [
            "%s/ferry.yaml:2:13: unknown integration type 'nope' (one of servicenow, jira, "
            "splunk_hec, webhook, http)" % self.p.dir,
            "%s/ferry.yaml:3:6: integration 'y': 'base_url' is required for type http"
            % self.p.dir])

    def test_task_input_schema_is_enforced(self):
        # Values written as they are: validate (and run, before it starts) refuses them.
        self.p.workflow("literal", """\
steps:
  - {id: l, task: log, with: {level: loud}}
  - {id: n, task: log, with: {message: null}}
  - {id: s, task: sleep, with: {duration: -1s}}
""")
        p = self.p.ferry("validate", "workflows/literal.yaml")
        self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
        lines = p.stdout + p.stderr
        self.assertIn("literal.yaml:2:", lines)
        self.assertIn("task 'log' input 'message' is required\n", lines)
        self.assertIn("task 'log' input 'level' must be one of 'debug', 'info', 'warn', 'error'; "
                      "got 'loud'", lines)
        self.assertIn("literal.yaml:3:", lines)
        self.assertIn("task 'log' input 'message' is required, and it is null", lines)
        self.assertIn("literal.yaml:4:33: task 'sleep' input 'duration': expected a duration "
                      "like 300ms, 2s, 1m30s or 1h, got '-1s'", lines)
        # Values of expressions are checked when they run.
        self.p.workflow("schema", """\
steps:
  - {id: l, task: log, on_error: continue, with: {message: "{{ 'x' }}", level: "{{ 'loud' }}"}}
  - {id: s, task: sleep, on_error: continue, with: {duration: "{{ 5 }}"}}
  - {id: m, task: sleep, on_error: continue, with: {duration: "{{ '-' ~ '1s' }}"}}
  - {id: d, task: log, with: {message: hi}}
  - {id: n, task: log, on_error: continue, with: {message: "{{ none }}"}}
""")
        doc = self.assertRun("schema")
        self.assertIn("input 'message' is required, and it is null",
                      doc["steps"]["n"]["error"]["message"])
        msg = doc["steps"]["l"]["error"]["message"]
        # In JSON's words, as workflow inputs say it (not Python's 'int' or "['a', 'b']").
        self.assertIn("input 'level' must be one of 'debug', 'info', 'warn', 'error'; got 'loud'",
                      msg)
        self.assertIn("input 'duration' must be a string, got 5",
                      doc["steps"]["s"]["error"]["message"])
        # A declared format (sleep's duration) is checked before the task runs.
        self.assertEqual(doc["steps"]["m"]["error"]["message"],
                         "step 'm': task 'sleep' input 'duration': expected a duration like "
                         "300ms, 2s, 1m30s or 1h, got '-1s'")
        self.assertEqual(doc["steps"]["d"]["input"]["level"], "info")  # the default applied


    def test_control_characters_in_names_are_shown_not_obeyed(self):
        # A name with an escape sequence or a CR rewrote the terminal's line.
        self.p.workflow("c", 'steps: [{id: a, task: "log\\e[2K\\rfake-ok", with: {message: x}}]\n')
        p = self.p.ferry("validate")
        self.assertEqual(p.returncode, 2)
        self.assertIn("unknown task 'log\\x1B[2K\\x0Dfake-ok'", p.stdout)
        self.assertNotIn("\x1b", p.stdout + p.stderr)
        p = self.p.ferry("run", "c")
        self.assertEqual(p.returncode, 2)
        self.assertNotIn("\x1b", p.stdout + p.stderr)

    def test_misspelt_workflow_and_task_names_get_a_suggestion(self):
        self.p.workflow("child", "steps: [{id: x, task: log, with: {message: hi}}]\n")
        self.p.workflow("parent", "steps: [{id: a, task: workflow, with: {name: chld}}]\n")
        res = self.p.ferry("validate")
        self.assertEqual(res.returncode, 2)
        self.assertRegex(res.stdout, r"parent\.yaml:1:\d+: step 'a' runs workflow 'chld', which "
                                     r"is not in the project's workflows/ \(did you mean 'child'\?\)")
        res = self.p.ferry("run", "chld")
        self.assertEqual(res.returncode, 2)
        self.assertIn("no workflow named 'chld' in workflows/ (did you mean 'child'?) (known: "
                      "child, parent)", res.stderr)
        res = self.p.ferry("tasks", "show", "ticket.creat", data=False)
        self.assertEqual(res.returncode, 2)
        self.assertIn("no task named 'ticket.creat' (did you mean 'ticket.create'?)", res.stderr)
        # Nothing close: no suggestion.
        res = self.p.ferry("tasks", "show", "zzzzzz", data=False)
        self.assertNotIn("did you mean", res.stderr)

    def test_validate_checks_subworkflows_and_hook_files(self):
        self.p.write("tasks/hooks/here.lua", "return function(ctx, event) end\n")
        self.p.workflow("w", "hooks:\n  before_step: hooks/here.lua\n"
                             "  after_step: hooks/nope.lua\n  on_failure: hooks/gone.lua\n"
                             "steps:\n  - {id: a, task: workflow, with: {name: ghost}}\n"
                             "  - {id: b, task: workflow, with: {name: ../w.yaml}}\n")
        res = self.p.ferry("validate")
        self.assertEqual(res.returncode, 2)
        self.assertRegex(res.stdout, r"w\.yaml:6:\d+: step 'a' runs workflow 'ghost'")
        # Each missing hook file on its own line.
        self.assertIn("w.yaml:3:15: hook file 'hooks/nope.lua' not found", res.stdout)
        self.assertIn("w.yaml:4:15: hook file 'hooks/gone.lua' not found", res.stdout)
        self.assertNotIn("here.lua", res.stdout)
        self.assertRegex(res.stdout, r"w\.yaml:7:\d+: step 'b': a sub-workflow is named by a "
                                     r"workflow name from workflows/, not a path \('../w.yaml'\)")
        # A hook file that returns what the runner cannot use failed every step (42), or was
        # silently no hook (a table without the named one).
        self.p.write("tasks/hooks/num.lua", "return 42\n")
        self.p.write("tasks/hooks/other.lua", "return {after_step = function() end}\n")
        self.p.write("tasks/hooks/both.lua", "return {before_step = function() end}\n")
        self.p.workflow("w", "hooks:\n  before_step: hooks/other.lua\n"
                             "  after_step: hooks/num.lua\n  on_failure: hooks/here.lua\n"
                             "steps:\n  - {id: a, task: log, with: {message: hi}}\n")
        self.p.workflow("w2", "hooks: {before_step: hooks/both.lua}\n"
                              "steps:\n  - {id: a, task: log, with: {message: hi}}\n")
        res = self.p.ferry("validate")
        self.assertEqual(res.returncode, 2, res.stdout)
        self.assertIn("w.yaml:2:16: hook file 'hooks/other.lua' returns a table without a "
                      "before_step function (got nil)", res.stdout)
        self.assertIn("w.yaml:3:15: hook file 'hooks/num.lua' must return a function(ctx, event) "
                      "or a table of them, got number", res.stdout)
        self.assertNotIn("w2.yaml", res.stdout)
        # Hook files stay under tasks/, as template names stay under templates/: a workflow
        # loaded (and, failing, quoted) any file the process could read.
        (self.p.dir / "outside.txt").write_text("db_password hunter2XYZ\n")
        self.p.workflow("w3", "hooks: {before_step: ../outside.txt, after_step: a/../../b.lua}\n"
                              "steps:\n  - {id: a, task: log, with: {message: hi}}\n")
        res = self.p.ferry("validate")
        self.assertEqual(res.returncode, 2, res.stdout)
        self.assertIn("w3.yaml:1:22: hook file '../outside.txt' leaves tasks/ (hooks live under "
                      "tasks/)", res.stdout)
        self.assertIn("hook file 'a/../../b.lua' leaves tasks/", res.stdout)
        self.assertNotIn("hunter2XYZ", res.stdout + res.stderr)

    def test_a_sleep_its_steps_timeout_ends_first_is_a_problem(self):
        # `duration: 7m` under the 5m default failed every run, and validated clean.
        self.p.workflow("nap", "steps:\n  - id: a\n    task: sleep\n    with: {duration: 7m}\n"
                               "  - {id: b, task: sleep, timeout: 2s, with: {duration: 2s}}\n"
                               "  - {id: c, task: sleep, timeout: 10m, with: {duration: 7m}}\n"
                               "  - {id: d, task: sleep, timeout: 1s, on_error: continue,"
                               " with: {duration: 2s}}\n"
                               "  - {id: e, task: sleep, with: {duration: \"{{ '7m' }}\"}}\n")
        res = self.p.ferry("validate", data=False)
        self.assertEqual(res.returncode, 2, res.stdout)
        self.assertEqual([l.split("/workflows/", 1)[-1] for l in res.stdout.splitlines()], [
            "nap.yaml:4:11: step 'a' sleeps 7m, which its timeout (5m, the default) "
            "ends first: every run would fail the step; set the step's timeout above the sleep",
            "nap.yaml:5:45: step 'b' sleeps 2s, which its timeout (2s) ends first: "
            "every run would fail the step; set the step's timeout above the sleep"])
        rc, doc, err = self.p.run("nap")
        self.assertEqual((rc, doc), (2, None), err)
        # A project's own sleep task (a test double that returns at once) is its own affair.
        self.p.write("tasks/core/sleep.lua", "return {name = 'sleep', input = {duration = "
                                             "{type = 'any'}}, run = function() return {} end}\n")
        res = self.p.ferry("validate", data=False)
        self.assertEqual(res.returncode, 0, res.stdout + res.stderr)

    def test_validate_prints_the_count_after_the_problems_in_one_stream(self):
        # `ferry validate > log 2>&1`: stdout to a file is buffered, so the count (stderr)
        # came out first, above the problems it counts.
        self.p.workflow("bad", "steps:\n  - {id: a, task: nosuch}\n")
        merged = subprocess.run([FERRY, "validate", "--project", str(self.p.dir)],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                timeout=TIMEOUT)
        self.assertEqual(merged.returncode, 2, merged.stdout)
        lines = merged.stdout.splitlines()
        self.assertRegex(lines[0], r"bad\.yaml:2:\d+: .*nosuch")
        self.assertEqual(lines[-1], "ferry validate: 1 problem")

    def test_validate_checks_the_inputs_a_step_gives_a_sub_workflow(self):
        self.p.workflow("child", "inputs:\n  n: {type: integer, required: true}\n"
                                 "  tag: {type: string, default: x}\n"
                                 "steps:\n  - {id: a, task: log, with: {message: hi}}\n")
        self.p.workflow("parent", """\
inputs:
  count: {type: integer, default: 2}
steps:
  - {id: typo, task: workflow, with: {name: child, inputs: {n: 1, tga: y}}}
  - {id: wrong, task: workflow, with: {name: child, inputs: {n: "abc"}}}
  - {id: none, task: workflow, with: {name: child}}
  - {id: computed, task: workflow, with: {name: child, inputs: {n: "{{ inputs.count }}"}}}
  - {id: whole, task: workflow, with: {name: child, inputs: "{{ {'n': inputs.count} }}"}}
  - {id: later, task: workflow, with: {name: child, inputs: {n: 1, tga: "{{ inputs.count }}"}}}
""")
        res = self.p.ferry("validate")
        self.assertEqual(res.returncode, 2, res.stdout + res.stderr)
        lines = [l for l in res.stdout.splitlines() if "parent.yaml" in l]
        self.assertRegex(res.stdout, r"parent\.yaml:4:\d+: step 'typo' runs workflow 'child': "
                                     r"input 'tga': no such input \(did you mean 'tag'\?\)")
        self.assertRegex(res.stdout, r"parent\.yaml:5:\d+: step 'wrong' runs workflow 'child': "
                                     r"input 'n': expected an integer")
        self.assertRegex(res.stdout, r"parent\.yaml:6:\d+: step 'none' runs workflow 'child': "
                                     r"input 'n': required, but not given")
        # A computed value is the run's to check, not the name it is given under.
        self.assertRegex(res.stdout, r"parent\.yaml:9:\d+: step 'later' runs workflow 'child': "
                                     r"input 'tga': no such input \(did you mean 'tag'\?\)")
        self.assertEqual(len(lines), 4, res.stdout)
        # `ferry run` makes the same checks before it starts anything.
        rc, doc, err = self.p.run("parent")
        self.assertEqual(rc, 2, err)
        self.assertIsNone(doc)
        self.assertRegex(err, r"parent\.yaml:4:\d+: step 'typo' runs workflow 'child': "
                              r"input 'tga': no such input")
        self.assertFalse(self.p.data.exists(), "a refused run wrote history")
        # Each problem at the line that causes it: the input's key, the child's name; one
        # not given at `with:`. All were at `with:`, one line for the whole block.
        self.p.workflow("block", """\
steps:
  - id: call
    task: workflow
    with:
      name: child
      inputs:
        tga: y
        n: "abc"
  - id: typo
    task: workflow
    with:
      name: chlid
""")
        res = self.p.ferry("validate", str(self.p.dir / "workflows" / "block.yaml"))
        self.assertEqual(res.returncode, 2, res.stdout)
        self.assertIn("block.yaml:7:9: step 'call' runs workflow 'child': input 'tga': no such "
                      "input (did you mean 'tag'?)", res.stdout)
        self.assertIn("block.yaml:8:9: step 'call' runs workflow 'child': input 'n': expected "
                      "an integer", res.stdout)
        self.assertIn("block.yaml:12:13: step 'typo' runs workflow 'chlid', which is not in",
                      res.stdout)
        self.p.workflow("block", "steps:\n  - id: call\n    task: workflow\n    with:\n"
                                 "      name: child\n")
        res = self.p.ferry("validate", str(self.p.dir / "workflows" / "block.yaml"))
        self.assertIn("block.yaml:5:7: step 'call' runs workflow 'child': input 'n': required, "
                      "but not given", res.stdout)
        # A child whose file is broken: the parent's step cannot run (ferry run started the
        # parent and failed the step, exit 1).
        self.p.workflow("child", "steps:\n  - {id: a, task: nosuch}\n")
        self.p.workflow("parent", "steps:\n  - {id: sub, task: workflow, with: {name: child}}\n")
        res = self.p.ferry("validate", str(self.p.dir / "workflows" / "parent.yaml"))
        self.assertEqual(res.returncode, 2, res.stdout)
        self.assertRegex(res.stdout, r"parent\.yaml:2:\d+: step 'sub' runs workflow 'child', "
                                     r"whose file has problems \(.*child\.yaml:2:\d+: .*nosuch")
        rc, doc, err = self.p.run("parent")
        self.assertEqual(rc, 2, err)

    def test_validate_of_a_file_it_does_not_check_is_a_problem(self):
        other = self.p.dir / "notes.txt"
        other.write_text("hello\n")
        p = self.p.ferry("validate", str(other))
        self.assertEqual(p.returncode, 2)
        self.assertIn("%s:1:1: not a file ferry checks" % other, p.stdout)
        self.p.workflow("one", "steps: [{id: a, task: log, with: {message: x}}]\n")
        p = self.p.ferry("validate", str(self.p.dir / "workflows" / "one.yaml"))
        self.assertEqual(p.returncode, 0, p.stdout)
        self.assertIn("1 file checked, no problems", p.stderr)

    def test_validate_of_a_task_file_reports_what_the_whole_project_does(self):
        # Named, a task file was checked for its Lua syntax alone: a duplicate task name or
        # an unknown key passed `ferry validate tasks/x.lua` and failed every other command.
        custom = self.p.dir / "tasks" / "custom"
        custom.mkdir(parents=True)
        (self.p.dir / "tasks" / "mylog.lua").write_text(
            'return { name = "log", run = function(ctx, input) return {} end }\n')
        (custom / "multi.lua").write_text(
            'return { name = "multi", inputs = {}, run = function() end }\n')
        (custom / "bad.lua").write_text('return { name = "bad" run = 1 }\n')
        whole = self.p.ferry("validate")
        self.assertEqual(whole.returncode, 2)
        self.assertEqual(len(whole.stdout.splitlines()), 3, whole.stdout)
        for args in (["tasks/mylog.lua", "tasks/custom/multi.lua", "tasks/custom/bad.lua"],
                     ["tasks"], ["tasks/custom", "tasks/mylog.lua"]):
            named = subprocess.run([FERRY, "validate", *args], capture_output=True, text=True,
                                   timeout=TIMEOUT, cwd=str(self.p.dir))
            self.assertEqual(named.returncode, 2, args)
            self.assertEqual(sorted(named.stdout.splitlines()), sorted(whole.stdout.splitlines()),
                             args)
        # From another folder, with --project: the same files, named by any path.
        other = subprocess.run([FERRY, "validate", "--project", str(self.p.dir),
                                str(custom / "multi.lua")], capture_output=True, text=True,
                               timeout=TIMEOUT, cwd="/")
        self.assertEqual(other.stdout, "tasks/custom/multi.lua:1:26: task 'multi': unknown key "
                                       "'inputs' (did you mean 'input'?)\n")
        # A .lua file outside tasks/ is not a project task: its syntax alone.
        outside = self.p.dir / "scratch.lua"
        outside.write_text('return { name = "log" }\n')
        p = self.p.ferry("validate", str(outside))
        self.assertEqual(p.returncode, 0, p.stdout)

    def test_what_a_file_is_depends_on_the_folder_it_lies_in(self):
        # By the path from the project root, not by a name's look: a project under a
        # folder named samples/ had every workflow skipped, a workflow named
        # deploy-ferry.yaml was checked as the configuration, and templates not named .j2
        # were checked as workflows (payload.json) or not at all (report.md).
        nested = self.p.dir / "samples" / "proj"
        (nested / "workflows" / "samples").mkdir(parents=True)
        (nested / "templates").mkdir()
        (nested / "workflows" / "broken.yaml").write_text(
            "steps:\n  - {id: a, task: nosuch, with: {message: x}}\n")
        (nested / "workflows" / "deploy-ferry.yaml").write_text(
            "steps: [{id: a, task: log, with: {message: x}}]\n")
        (nested / "workflows" / "samples" / "inputs.json").write_text('{"x": 1}\n')
        (nested / "templates" / "payload.json").write_text('{"text": {{ msg | tojson }}}')
        (nested / "templates" / "report.md").write_text("Hi {{ x }")
        p = subprocess.run([FERRY, "validate", "--project", str(nested)], capture_output=True,
                           text=True, timeout=TIMEOUT, cwd=str(self.p.dir))
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertEqual(p.stdout.splitlines(), [
            "%s/workflows/broken.yaml:2:19: unknown task 'nosuch'" % nested,
            "%s/templates/report.md:1:9: unexpected '}'" % nested], p.stdout)
        # Named, a template is one whatever its name; so is a folder of them.
        for target in ("templates/report.md", "templates"):
            one = subprocess.run([FERRY, "validate", target], capture_output=True, text=True,
                                 timeout=TIMEOUT, cwd=str(nested))
            self.assertEqual(one.returncode, 2)
            self.assertEqual(one.stdout, "templates/report.md:1:9: unexpected '}'\n")
        # The project's own folder named is the whole project.
        whole = subprocess.run([FERRY, "validate", "."], capture_output=True, text=True,
                               timeout=TIMEOUT, cwd=str(nested))
        self.assertEqual(len(whole.stdout.splitlines()), 2, whole.stdout)
        # Another project's folder is not checked against this project's tasks and workflows.
        other = self.p.ferry("validate", str(nested), data=False)
        self.assertEqual(other.returncode, 2)
        self.assertEqual(other.stdout, "")
        self.assertIn("is a Ferry project of its own", other.stderr)
        self.assertIn("ferry validate --project %s" % nested, other.stderr)
        # Nor is a file or folder inside a project elsewhere: its tasks were "unknown" here.
        elsewhere = Path(tempfile.mkdtemp(prefix="ferry-other-"))
        self.addCleanup(shutil.rmtree, elsewhere, True)
        shutil.copytree(nested, elsewhere / "ops")
        ops = (elsewhere / "ops").resolve()
        for inside in ("workflows/broken.yaml", "workflows"):
            other = self.p.ferry("validate", str(ops / inside), data=False)
            self.assertEqual((other.returncode, other.stdout), (2, ""), other.stderr)
            self.assertIn("%s lies in the Ferry project %s, not in %s: check it with `ferry "
                          "validate --project %s %s`" % (ops / inside, ops, self.p.dir.resolve(),
                                                         ops, ops / inside), other.stderr)
        # What lies under this project is its own, whatever folder names it holds, and so is
        # a workflow linked in from a shared folder elsewhere.
        (self.p.dir / "templates" / "workflows").mkdir(parents=True)
        (self.p.dir / "templates" / "workflows" / "note.j2").write_text("hi {{ x }}\n")
        os.symlink(ops / "workflows" / "broken.yaml", self.p.dir / "workflows" / "shared.yaml")
        for own in ("templates/workflows/note.j2", "workflows/shared.yaml"):
            mine = self.p.ferry("validate", str(self.p.dir / own), data=False)
            self.assertNotIn("lies in the Ferry project", mine.stderr, own)

    def test_a_file_where_a_project_folder_belongs_is_a_problem(self):
        shutil.rmtree(self.p.dir / "workflows")
        (self.p.dir / "workflows").write_text("steps: []\n")
        p = self.p.ferry("validate", data=False)
        self.assertEqual(p.returncode, 2)
        self.assertIn("workflows:1:1: not a folder, so no workflows are loaded from it", p.stdout)

    def test_a_subworkflow_name_never_reads_a_file_outside_workflows(self):
        # A name from the inputs must not become a way to read (and echo) any file.
        secret = self.p.dir / "secret.txt"
        secret.write_text("hunter2-super-secret-token\n")
        self.p.workflow("pick", """\
inputs: {which: {type: string}}
steps:
  - {id: a, task: workflow, with: {name: "{{ inputs.which }}"}}
""")
        doc = self.assertRun("pick", "--input", "which=%s" % secret, code=1)
        err = self.step_error(doc, "a")
        self.assertEqual(err["kind"], "not_found")
        self.assertNotIn("hunter2", json.dumps(doc))
        self.assertIn("not a path", err["message"])


# --------------------------------------------------------------------------- 10: crash, resume


class CrashAndResume(EngineTest):
    def test_ctrl_c_and_sigterm_say_how_to_go_on(self):
        self.p.workflow("nap", """\
steps:
  - {id: first, task: log, with: {message: one}}
  - {id: nap, task: sleep, needs: [first], with: {duration: 20s}}
""")
        # SIGHUP: a dropped ssh session killed the run without a word.
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            with self.subTest(signal=sig):
                proc = subprocess.Popen([FERRY, "run", "nap", "--project", str(self.p.dir),
                                         "--data", str(self.p.data)], stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, cwd=str(self.p.dir), text=True)
                self.procs.append(proc)
                deadline = time.monotonic() + 15
                err = ""
                while "nap started" not in err and time.monotonic() < deadline:
                    err += proc.stderr.readline()
                self.assertIn("nap started", err)
                proc.send_signal(sig)
                out, rest = proc.communicate(timeout=10)
                self.assertEqual(proc.returncode, 128 + sig, rest)
                m = re.search(r"interrupted \((SIGINT|SIGTERM|SIGHUP)\): execution (\w+) stops here; "
                              r"`ferry resume (\w+)` continues it", rest)
                self.assertIsNotNone(m, rest)
                self.assertEqual(m.group(2), m.group(3))
                self.assertNotIn("\n\n", rest)  # no blank line: stderr is not a terminal
                rows = json.loads(self.p.ferry("executions", "list", "--json").stdout)
                self.assertEqual({r["id"]: r["status"] for r in rows}[m.group(2)], "running")
                shown = json.loads(self.p.ferry("executions", "show", m.group(2), "--json").stdout)
                self.assertEqual(shown["steps"]["first"]["status"], "succeeded")

    def test_nohup_still_keeps_a_run_going(self):
        # SIGHUP stops a run as Ctrl-C does, but a run started ignoring it (nohup) asked to
        # go on: it finished before, and must still.
        self.p.workflow("nap", "steps:\n  - {id: nap, task: sleep, with: {duration: 2s}}\n")
        proc = subprocess.Popen([FERRY, "run", "nap", "--project", str(self.p.dir),
                                 "--data", str(self.p.data)], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, cwd=str(self.p.dir), text=True,
                                preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN))
        self.procs.append(proc)
        deadline, err = time.monotonic() + 15, ""
        while "nap started" not in err and time.monotonic() < deadline:
            err += proc.stderr.readline()
        self.assertIn("nap started", err)
        proc.send_signal(signal.SIGHUP)
        out, rest = proc.communicate(timeout=30)
        self.assertEqual(proc.returncode, 0, rest)
        self.assertEqual(json.loads(out)["status"], "succeeded")

    def test_an_approval_decided_at_the_terminal_stops_as_a_run_does(self):
        # `executions approve` runs the execution on, as `ferry run` does, but Ctrl-C killed
        # it without a word (and `&` from a script ignored it): nothing said to resume.
        self.p.workflow("gate", """\
steps:
  - {id: ok, task: approval, with: {message: "go?"}}
  - {id: nap, task: sleep, needs: [ok], with: {duration: 20s}}
""")
        doc = json.loads(self.p.ferry("run", "gate").stdout)
        self.assertEqual(doc["status"], "waiting")
        proc = subprocess.Popen(
            [FERRY, "executions", "approve", doc["id"], "ok", "--project", str(self.p.dir),
             "--data", str(self.p.data)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            cwd=str(self.p.dir), text=True,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
        self.procs.append(proc)
        deadline, err = time.monotonic() + 15, ""
        while "nap started" not in err and time.monotonic() < deadline:
            err += proc.stderr.readline()
        self.assertIn("nap started", err)
        proc.send_signal(signal.SIGINT)
        out, rest = proc.communicate(timeout=10)
        self.assertEqual(proc.returncode, 128 + signal.SIGINT, rest)
        self.assertIn("ferry executions approve: interrupted (SIGINT): execution %s stops "
                      "here; `ferry resume %s` continues it" % (doc["id"], doc["id"]), rest)
        shown = json.loads(self.p.ferry("executions", "show", doc["id"], "--json").stdout)
        self.assertEqual(shown["steps"]["ok"]["status"], "succeeded")

    def test_a_command_started_with_its_standard_descriptors_closed_works(self):
        # `2>&-` (or a launcher closing stdin) gave libuv fd 0-2, which it asserts on at
        # exit: exit 134 after the work, and the JSON on stdout never flushed.
        self.p.workflow("hello", "steps:\n  - {id: a, task: log, with: {message: hi}}\n")
        for closing in ("2>&-", "<&-", "<&- 2>&-"):
            with self.subTest(closing=closing):
                r = subprocess.run(
                    ["sh", "-c", 'exec "$0" run hello --project "$1" --data "$2" ' + closing,
                     FERRY, str(self.p.dir), str(self.p.data)],
                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertEqual(json.loads(r.stdout)["status"], "succeeded")
        r = subprocess.run(["sh", "-c", 'exec "$0" executions list --project "$1" --data "$2" '
                            '>&-', FERRY, str(self.p.dir), str(self.p.data)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)
        # Its output had nowhere to go: a failure, said, not an abort (nor a success).
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("could not write the output", r.stderr)

    def test_ctrl_c_stops_a_resume_too_even_when_it_was_started_ignoring_it(self):
        # ferry resume had no handlers: Ctrl-C killed it without a word, and started with
        # `&` from a script (SIGINT inherited ignored) it went on running its steps after
        # `kill -INT`.
        self.p.workflow("nap", """\
steps:
  - {id: first, task: log, with: {message: one}}
  - {id: nap, task: sleep, needs: [first], with: {duration: 20s}}
""")
        run, exec_id = self.run_in_background(
            "nap", until=lambda shown: shown["steps"].get("nap", {}).get("status") == "running")
        run.kill()
        run.wait(10)
        resume = subprocess.Popen(
            [FERRY, "resume", "--project", str(self.p.dir), "--data", str(self.p.data)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=str(self.p.dir), text=True,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
        self.procs.append(resume)
        deadline, err = time.monotonic() + 15, ""
        while "nap started" not in err and time.monotonic() < deadline:
            err += resume.stderr.readline()
        self.assertIn("nap started", err)
        resume.send_signal(signal.SIGINT)
        out, rest = resume.communicate(timeout=10)
        self.assertEqual(resume.returncode, 128 + signal.SIGINT, rest)
        self.assertIn("ferry resume: interrupted (SIGINT): execution %s stops here; "
                      "`ferry resume %s` continues it" % (exec_id, exec_id), rest)
        rows = json.loads(self.p.ferry("executions", "list", "--json").stdout)
        self.assertEqual(rows[0]["status"], "running")
        # Two resumed, one ended before the interrupt: the line names the other only, and
        # the ended one's JSON line is printed (it was counted as stopping, and lost).
        # 3 s: long enough to be seen running by CLI polls that take ~1 s each under ASan.
        self.p.workflow("short", "steps:\n  - {id: nap, task: sleep, with: {duration: 3s}}\n")
        run, short_id = self.run_in_background(
            "short", until=lambda shown: shown["workflow"] == "short"
            and shown["steps"].get("nap", {}).get("status") == "running")
        run.kill()
        run.wait(10)
        resume = subprocess.Popen(
            [FERRY, "resume", "--project", str(self.p.dir), "--data", str(self.p.data)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=str(self.p.dir), text=True)
        self.procs.append(resume)
        deadline, err = time.monotonic() + 15, ""
        while "execution succeeded" not in err and time.monotonic() < deadline:
            err += resume.stderr.readline()
        self.assertIn("%s execution succeeded" % short_id, err)
        resume.send_signal(signal.SIGTERM)
        out, rest = resume.communicate(timeout=10)
        self.assertEqual(resume.returncode, 128 + signal.SIGTERM, rest)
        self.assertIn("interrupted (SIGTERM): execution %s stops here" % exec_id, rest)
        self.assertEqual([json.loads(l)["id"] for l in out.splitlines()], [short_id])

    def test_what_a_resumed_execution_names_and_a_deploy_removed_is_said_plainly(self):
        # Tasks, hook files and integrations are looked up when a step runs, not kept with
        # the execution: after a deploy that renamed an integration the step failed deep in
        # the stdlib ("ctx.http: 'url' is required"), a removed task module was "unknown
        # task" and a removed hook file "cannot read" without a reason.
        self.p.write("ferry.yaml", "integrations:\n  api: {type: http, base_url: "
                                   "\"http://127.0.0.1:9\"}\n")
        self.p.write("tasks/my/pure.lua", 'return {name = "my.pure", run = function() '
                                          'return {} end}\n')
        self.p.write("tasks/hooks/audit.lua", "return function(ctx, event) end\n")
        cases = {
            "integ": ("  - {id: b, task: http.request, integration: api, needs: [a], "
                      "with: {path: /x}}\n",
                      lambda: self.p.write("ferry.yaml", "integrations:\n  api2: {type: http, "
                                           "base_url: \"http://127.0.0.1:9\"}\n"),
                      "integration 'api' is not in ferry.yaml (it defines api2): renamed or "
                      "removed since the execution started?"),
            "task": ("  - {id: b, task: my.pure, needs: [a]}\n",
                     lambda: (self.p.dir / "tasks/my/pure.lua").unlink(),
                     "task 'my.pure' is not in the project now (its file was removed since the "
                     "execution started, or no longer loads"),
            "hook": ("  - {id: b, task: log, needs: [a], with: {message: hi}}\n"
                     "hooks: {after_step: hooks/audit.lua}\n",
                     lambda: (self.p.dir / "tasks/hooks/audit.lua").unlink(),
                     "cannot read 'tasks/hooks/audit.lua': no such file in the project"),
        }
        for name, (rest, deploy, message) in cases.items():
            with self.subTest(name):
                # 3 s: seen running by CLI polls that take ~1 s each under ASan.
                self.p.workflow(name, "steps:\n  - {id: a, task: sleep, with: {duration: 3s}}\n"
                                + rest)
                run, exec_id = self.run_in_background(
                    name, until=lambda shown: shown["workflow"] == name
                    and shown["steps"].get("a", {}).get("status") == "running")
                run.kill()
                run.wait(10)
                deploy()
                resumed = self.p.ferry("resume", exec_id)
                self.assertEqual(resumed.returncode, 1, resumed.stderr)
                shown = json.loads(self.p.ferry("executions", "show", exec_id, "--json").stdout)
                self.assertEqual(shown["status"], "failed")
                self.assertIn(message, json.dumps(shown["error"]))

    def test_resuming_an_execution_that_ended_says_so_and_exits_with_its_outcome(self):
        # It printed the execution and exited 0 even when it had failed: `ferry resume $ID
        # && deploy` went on.
        self.p.workflow("ends", "inputs: {ok: {type: boolean, default: true}}\nsteps:\n"
                        "  - {id: a, task: fail, when: '{{ not inputs.ok }}', "
                        "with: {message: no}}\n")
        for ok, code in (("true", 0), ("false", 1)):
            with self.subTest(ok=ok):
                rc, doc, err = self.p.run("ends", "--input", "ok=" + ok)
                self.assertEqual(rc, code, err)
                r = self.p.ferry("resume", doc["id"])
                self.assertEqual(r.returncode, code, r.stderr)
                self.assertEqual(json.loads(r.stdout)["status"], doc["status"])
                self.assertIn("ferry resume: execution %s already ended (%s); nothing left to "
                              "run" % (doc["id"], doc["status"]), r.stderr)

    def _killed_parent_with_running_children(self):
        """Runs `parent` (two sub-workflow steps whose child sleeps) and kills it with
        SIGKILL while both children run; returns (parent id, child ids)."""
        self.p.workflow("kid", """\
steps:
  - {id: nap, task: sleep, with: {duration: 3s}}
  - {id: done, task: log, needs: [nap], with: {message: done}}
""")
        self.p.workflow("parent", """\
steps:
  - {id: one, task: workflow, with: {name: kid}}
  - {id: two, task: workflow, with: {name: kid}}
  - {id: after, task: log, needs: [one, two], with: {message: after}}
""")
        proc = subprocess.Popen([FERRY, "run", "parent", "--project", str(self.p.dir),
                                 "--data", str(self.p.data)], stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, cwd=str(self.p.dir), text=True)
        self.procs.append(proc)
        deadline, err = time.monotonic() + 15, ""
        while err.count("nap started") < 2 and time.monotonic() < deadline:
            err += proc.stderr.readline()
        self.assertEqual(err.count("nap started"), 2, err)
        time.sleep(0.5)  # their records are committed (a group commit takes milliseconds)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        proc.stderr.close()
        rows = json.loads(self.p.ferry("executions", "list", "--json").stdout)
        parent = [r["id"] for r in rows if r["workflow"] == "parent"]
        kids = [r["id"] for r in rows if r["workflow"] == "kid"]
        self.assertEqual((len(parent), len(kids)), (1, 2), rows)
        return parent[0], kids

    def test_parent_resumed_after_its_children_were_resumed_by_id(self):
        # The children, resumed one by one, finish; the parent then has nothing running in
        # its process but their recorded results, and must still finish (it once stayed
        # "running", `ferry resume` returning at once, its attempt counter growing).
        parent, kids = self._killed_parent_with_running_children()
        for kid in kids:
            r = self.p.ferry("resume", kid, "--quiet", timeout=30)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(json.loads(r.stdout.splitlines()[0])["status"], "succeeded")
        r = self.p.ferry("resume", "--quiet", timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        shown = self.p.show(parent)
        self.assertEqual(shown["status"], "succeeded", shown)
        self.assertEqual(shown["steps"]["after"]["status"], "succeeded")
        rows = json.loads(self.p.ferry("executions", "list", "--json").stdout)
        self.assertEqual(len(rows), 3, "no child started anew")

    def test_running_children_finish_with_their_definition_whatever_the_file_became(self):
        # The resume checked the child's current file before taking up the child it had
        # recorded: a new required input (or the file gone) failed the parent and left the
        # running children `running` for good.
        for change in ("required", "removed"):
            with self.subTest(change=change):
                parent, kids = self._killed_parent_with_running_children()
                kid_file = self.p.dir / "workflows" / "kid.yaml"
                if change == "removed":
                    kid_file.unlink()
                else:
                    kid_file.write_text("inputs:\n  extra: {type: string, required: true}\n"
                                        + kid_file.read_text())
                r = self.p.ferry("resume", "--quiet", timeout=30)
                self.assertEqual(r.returncode, 0, r.stderr)
                shown = self.p.show(parent)
                self.assertEqual(shown["status"], "succeeded", shown)
                for kid in kids:
                    self.assertEqual(self.p.show(kid)["status"], "succeeded")
                rows = json.loads(self.p.ferry("executions", "list", "--json").stdout)
                self.assertEqual(len(rows), 3, "no child started anew")
                shutil.rmtree(self.p.data)

    def test_a_failing_parent_resumed_ends_the_children_of_its_stopped_steps(self):
        # The parent ended its running sub-workflow step cancelled and left the child
        # `running` for good (out of reach of resume and cancel); `ferry resume CHILD`
        # then did the child's side effects for a parent that had failed.
        self.p.workflow("kid", """\
steps:
  - {id: nap, task: sleep, with: {duration: 3s}}
  - {id: side, task: log, needs: nap, with: {message: "side effect"}}
""")
        for shape in ("{id: sub, task: workflow, with: {name: kid}}",
                      "{id: sub, task: workflow, for_each: [a, b], with: {name: kid}}"):
            with self.subTest(shape=shape):
                self.p.workflow("par", """\
steps:
  - %s
  - {id: boom, task: fail, with: {message: boom}}
""" % shape)
                proc = subprocess.Popen([FERRY, "run", "par", "--quiet", "--project",
                                         str(self.p.dir), "--data", str(self.p.data)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                self.procs.append(proc)
                run_id, deadline = None, time.monotonic() + 15
                while time.monotonic() < deadline:
                    rows = json.loads(self.p.ferry("executions", "list", "--workflow", "par",
                                                   "--json").stdout or "[]")
                    running = [r for r in rows if r["status"] == "running"]
                    if running and running[0]["error"] is not None:
                        run_id = running[0]["id"]
                        break
                    time.sleep(0.05)
                self.assertIsNotNone(run_id, "the parent never recorded its failure")
                time.sleep(0.3)  # the children's records are committed
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(10)
                r = self.p.ferry("resume", "--quiet", timeout=30)
                self.assertEqual(r.returncode, 1, r.stderr)
                self.assertEqual(self.p.show(run_id)["status"], "failed")
                kids = [k for k in json.loads(self.p.ferry("executions", "list", "--workflow",
                                                           "kid", "--json").stdout)
                        if k["parent"]["execution"] == run_id]
                self.assertTrue(kids)
                for kid in kids:
                    shown = self.p.show(kid["id"])
                    self.assertEqual(shown["status"], "cancelled", shown)
                    self.assertEqual(shown["error"]["message"], "its parent execution failed")
                    self.assertEqual(shown["steps"]["side"]["status"], "cancelled")

    def test_a_child_another_process_runs_is_waited_for_not_failed(self):
        # While another process holds a child (`ferry resume CHILD` at the same moment), a
        # resume of the parent must not fail the step for good: it leaves the parent
        # running, and a later resume completes it with the child's result.
        import fcntl
        parent, kids = self._killed_parent_with_running_children()
        held = []
        for kid in kids:
            fd = os.open(str(self.p.data / "locks" / kid), os.O_RDWR | os.O_CREAT, 0o600)
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            held.append(fd)
        try:
            r = self.p.ferry("resume", "--quiet", timeout=30)
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertIn("ferry resume: execution %s is still running: a sub-workflow of it is "
                          "being run by another ferry process" % parent, r.stderr)
            shown = self.p.show(parent)
            self.assertEqual(shown["status"], "running", shown)
        finally:
            for fd in held:
                os.close(fd)
        for kid in kids:
            r = self.p.ferry("resume", kid, "--quiet", timeout=30)
            self.assertEqual(r.returncode, 0, r.stderr)
        r = self.p.ferry("resume", "--quiet", timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        shown = self.p.show(parent)
        self.assertEqual(shown["status"], "succeeded", shown)
        rows = json.loads(self.p.ferry("executions", "list", "--json").stdout)
        self.assertEqual(len(rows), 3, "no child started anew")

    def test_a_handler_that_ran_before_a_kill_is_no_second_failure_on_resume(self):
        # The handler is written before the step that failed into it: resume restores their
        # results in file order, and took the failure for one arriving after the handler ran.
        srv = self.start_server()
        self.p.write("tasks/custom/post.lua", POST_TASK)
        self.p.workflow("handled", """\
inputs:
  base: {type: string, required: true}
steps:
  - {id: h, task: log, with: {message: "handled {{ steps.a.error.message }}"}}
  - {id: a, task: fail, on_error: h, with: {message: a down}}
  - {id: s, task: custom.post, needs: [h], with: {url: "{{ inputs.base }}/s", pause: 3s}}
""")
        proc = self.run_and_kill("handled", "--input", "base=" + srv.url, path="/s", settle=0.1)
        self.assertEqual(proc.returncode, -signal.SIGKILL)
        r = self.p.ferry("resume", "--quiet", timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        resumed = json.loads(r.stdout.splitlines()[0])
        self.assertEqual(resumed["status"], "succeeded", resumed.get("error"))

    def test_a_second_failure_into_a_started_handler_still_fails_after_a_kill(self):
        # Without a crash the execution fails; killed after b's failure and resumed, it
        # succeeded: no record says the run was failing, and resume restored b's failure as
        # any other. The records' times say the handler had started before it.
        srv = self.start_server()
        self.p.write("tasks/custom/post.lua", POST_TASK)
        self.p.workflow("twice", """\
inputs:
  base: {type: string, required: true}
steps:
  - {id: a, task: fail, on_error: h, with: {message: a down}}
  - {id: bs, task: sleep, with: {duration: 200ms}}
  - {id: b, task: fail, needs: bs, on_error: h, with: {message: b down}}
  - {id: h, task: custom.post, with: {url: "{{ inputs.base }}/h", pause: 3s}}
""")
        proc = self.run_and_kill("twice", "--input", "base=" + srv.url, path="/h", settle=1.0)
        self.assertEqual(proc.returncode, -signal.SIGKILL)
        r = self.p.ferry("resume", "--quiet", timeout=30)
        self.assertEqual(r.returncode, 1, r.stderr)
        resumed = json.loads(r.stdout.splitlines()[0])
        self.assertEqual(resumed["status"], "failed")
        self.assertEqual(resumed["error"]["message"], "b down (its on_error step 'h' did not "
                         "run for it: it had started already, for another step's failure)")

    def test_a_resume_goes_on_failing_with_the_first_failure(self):
        # The verdict lived only in memory: resumed, a failure handled by nobody (the handler
        # blocked by a step failing with continue) was forgotten and the execution succeeded,
        # and of two failures the first in file order, not in time, became its error.
        srv = self.start_server()
        self.p.write("tasks/custom/post.lua", POST_TASK)
        self.p.workflow("blocked", """\
inputs:
  base: {type: string, required: true}
steps:
  - {id: lookup, task: fail, on_error: continue, with: {message: lookup down}}
  - {id: a, task: fail, on_error: h, with: {message: a down}}
  - {id: h, task: log, needs: lookup, with: {message: "{{ steps.a.error.message }}"}}
  - {id: s, task: custom.post, with: {url: "{{ inputs.base }}/s", pause: 3s}}
""")
        proc = self.run_and_kill("blocked", "--input", "base=" + srv.url, path="/s", settle=0.3)
        self.assertEqual(proc.returncode, -signal.SIGKILL)
        r = self.p.ferry("resume", "--quiet", timeout=30)
        self.assertEqual(r.returncode, 1, r.stderr)
        resumed = json.loads(r.stdout.splitlines()[0])
        self.assertEqual(resumed["status"], "failed")
        self.assertEqual(resumed["error"]["message"], "a down (its on_error step 'h' did not run "
                         "for it: dependency 'lookup' failed)")
        # x fails after y, but comes first in the file.
        self.p.workflow("order", """\
inputs:
  base: {type: string, required: true}
steps:
  - {id: x, task: lua, with: {script: "ferry.sleep(150); error('x down', 0)"}}
  - {id: y, task: fail, with: {message: y down}}
  - {id: s, task: custom.post, with: {url: "{{ inputs.base }}/s2", pause: 3s}}
""")
        proc = self.run_and_kill("order", "--input", "base=" + srv.url, path="/s2", settle=0.6)
        r = self.p.ferry("resume", "--quiet", timeout=30)
        resumed = json.loads(r.stdout.splitlines()[0])
        self.assertEqual((resumed["status"], resumed["error"]["message"]), ("failed", "y down"))
        # A step's failure of kind cancelled fails the run; only a cancel cancels it.
        self.p.workflow("kind", """\
inputs:
  base: {type: string, required: true}
steps:
  - {id: c, task: lua, with: {script: "error({kind = 'cancelled', message = 'gave up'}, 0)"}}
  - {id: s, task: custom.post, with: {url: "{{ inputs.base }}/s3", pause: 3s}}
""")
        proc = self.run_and_kill("kind", "--input", "base=" + srv.url, path="/s3", settle=0.3)
        r = self.p.ferry("resume", "--quiet", timeout=30)
        resumed = json.loads(r.stdout.splitlines()[0])
        self.assertEqual((resumed["status"], resumed["error"]["kind"]), ("failed", "cancelled"))

    def test_kill_9_then_resume(self):
        srv = self.start_server()
        self.p.write("tasks/custom/post.lua", POST_TASK)
        self.p.workflow("chain", """\
inputs:
  base: {type: string, required: true}
steps:
  - {id: a, task: custom.post, with: {url: "{{ inputs.base }}/a"}}
  - {id: b, task: custom.post, needs: [a], with: {url: "{{ inputs.base }}/b", pause: 3s}}
  - {id: c, task: custom.post, needs: [b], with: {url: "{{ inputs.base }}/c"}}
outputs:
  c: "{{ steps.c.output.status }}"
""")
        proc = self.run_and_kill("chain", "--input", "base=" + srv.url, path="/b", settle=0.1)
        self.assertEqual(proc.returncode, -signal.SIGKILL)
        self.assertEqual(srv.count("/c"), 0)

        rows = json.loads(self.p.ferry("executions", "list", "--json").stdout)
        self.assertEqual(len(rows), 1)
        exec_id = rows[0]["id"]
        self.assertEqual(rows[0]["status"], "running")

        r = self.p.ferry("resume", "--quiet", timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        resumed = json.loads(r.stdout.splitlines()[0])
        self.assertEqual(resumed["id"], exec_id)
        self.assertEqual(resumed["status"], "succeeded")
        self.assertEqual(resumed["outputs"], {"c": 200})

        self.assertEqual(srv.count("/a"), 1, "a finished before the crash: not run again")
        self.assertEqual(srv.count("/c"), 1)
        b = srv.hits("/b")
        self.assertEqual(len(b), 2)
        keys = [h["headers"].get("idempotency-key") for h in b]
        self.assertTrue(keys[0])
        self.assertEqual(keys[0], keys[1], "the retried step must reuse its idempotency key")
        self.assertEqual([h["headers"].get("x-key") for h in b], ["b", "b"])
        self.assertNotEqual(srv.hits("/a")[0]["headers"]["idempotency-key"], keys[0])

        shown = self.p.show(exec_id)
        self.assertEqual(shown["status"], "succeeded")
        self.assertEqual(shown["steps"]["b"]["idempotency_key"], keys[0])
        self.assertEqual(shown["steps"]["a"]["attempt"], 1)
        attempts = shown["steps"]["b"]["attempts"]
        self.assertEqual([a["status"] for a in attempts], ["interrupted", "succeeded"], attempts)
        self.assertEqual(shown["steps"]["b"]["attempt"], 2)
        # Nothing left to resume.
        again = self.p.ferry("resume")
        self.assertEqual(again.returncode, 0)
        self.assertEqual(srv.count("/b"), 2)

    def test_kill_9_in_a_sub_workflow_retried_after_its_timeout(self):
        # The sub-workflow step's timeout cancelled its first child and its retry started a
        # second; the process died while that one ran. Resume must finish the second child
        # (its finished step kept, its interrupted one re-sent with the same key) and then
        # the parent: no third child, the cancelled one left alone.
        srv = self.start_server()
        srv.script("/gate", (200, {"pause": "20s"}), (200, {"pause": "500ms"}))
        self.p.write("tasks/custom/post.lua", POST_TASK)
        self.p.workflow("kid", """\
inputs: {base: {type: string, required: true}}
steps:
  - {id: gate, task: http.request, with: {method: GET, url: "{{ inputs.base }}/gate"}}
  - id: slow
    task: custom.post
    needs: [gate]
    with: {url: "{{ inputs.base }}/slow", pause: "{{ steps.gate.output.json.pause }}"}
outputs: {status: "{{ steps.slow.output.status }}"}
""")
        self.p.workflow("parent", """\
inputs: {base: {type: string, required: true}}
steps:
  - id: sub
    task: workflow
    retry: {max_attempts: 2, backoff: fixed, initial_delay: 100ms}
    timeout: 3s
    with: {name: kid, inputs: {base: "{{ inputs.base }}"}}
  - {id: after, task: log, needs: [sub], with: {message: "child said {{ steps.sub.output.status }}"}}
outputs: {status: "{{ steps.sub.output.status }}"}
""")
        proc = subprocess.Popen([FERRY, "run", "parent", "--input", "base=" + srv.url,
                                 "--project", str(self.p.dir), "--data", str(self.p.data)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                cwd=str(self.p.dir))
        self.procs.append(proc)
        self.assertTrue(srv.wait_for("/slow", 2, timeout=20), "the retry never reached /slow")
        time.sleep(0.2)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        rows = json.loads(self.p.ferry("executions", "list", "--json").stdout)
        self.assertEqual(sorted(r["workflow"] for r in rows), ["kid", "kid", "parent"], rows)
        r = self.p.ferry("resume", "--quiet", timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        rows = json.loads(self.p.ferry("executions", "list", "--json").stdout)
        self.assertEqual(len(rows), 3, "no child started anew: %r" % rows)
        parent = [x for x in rows if x["workflow"] == "parent"][0]["id"]
        shown = self.p.show(parent)
        self.assertEqual(shown["status"], "succeeded", shown)
        self.assertEqual(shown["outputs"], {"status": 200})
        self.assertEqual(srv.count("/gate"), 2, "each child's gate once")
        slow = [h["headers"]["idempotency-key"] for h in srv.hits("/slow")]
        self.assertEqual(len(slow), 3, "the interrupted step re-sent once, nothing more")
        self.assertEqual(slow[1], slow[2], "re-sent with the second child's key")
        self.assertNotEqual(slow[0], slow[1], "the second child is a new execution")
        sub = shown["steps"]["sub"]
        statuses = [a["status"] for a in sub["attempts"]]
        self.assertEqual(statuses[0], "failed", sub["attempts"])
        self.assertEqual(statuses[-1], "succeeded", sub["attempts"])
        self.assertEqual(sub["child_execution"], sorted(x["id"] for x in rows
                                                        if x["workflow"] == "kid")[1])
        kids = sorted((x for x in rows if x["workflow"] == "kid"), key=lambda x: x["id"])
        self.assertEqual([k["status"] for k in kids], ["cancelled", "succeeded"], kids)
        self.assertEqual(self.p.ferry("resume").returncode, 0)
        self.assertEqual(srv.count("/slow"), 3, "nothing left to resume")

    def test_a_sub_workflow_timeout_counts_from_the_attempt_not_from_the_resume(self):
        # A resume gave the step its whole timeout again: a parent killed and restarted
        # every few minutes never timed its child out.
        self.p.workflow("napper", "steps:\n  - {id: nap, task: sleep, with: {duration: 120s}}\n")
        self.p.workflow("parent", """\
steps:
  - {id: sub, task: workflow, timeout: 6s, with: {name: napper}}
""")
        proc = subprocess.Popen([FERRY, "run", "parent", "--project", str(self.p.dir),
                                 "--data", str(self.p.data)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                cwd=str(self.p.dir))
        self.procs.append(proc)
        started = time.monotonic()
        deadline = started + 20
        while time.monotonic() < deadline:
            rows = json.loads(self.p.ferry("executions", "list", "--json").stdout or "[]")
            if len(rows) == 2:
                break
            time.sleep(0.1)
        self.assertEqual(len(rows), 2, "the child never started: %r" % rows)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        # The step's timeout passes while no process runs it.
        time.sleep(max(0.0, started + 7 - time.monotonic()))
        began = time.monotonic()
        r = self.p.ferry("resume", "--quiet", timeout=60)
        took = time.monotonic() - began
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertLess(took, 4.5, "the resumed step waited its timeout again")
        rows = json.loads(self.p.ferry("executions", "list", "--json").stdout)
        by_workflow = {x["workflow"]: x for x in rows}
        self.assertEqual(by_workflow["napper"]["status"], "cancelled", rows)
        shown = self.p.show(by_workflow["parent"]["id"])
        self.assertEqual(shown["status"], "failed", shown)
        error = shown["steps"]["sub"]["error"]
        self.assertEqual(error["kind"], "timeout", error)
        self.assertIn("timed out after 6000 ms (the step's timeout); sub-workflow 'napper'",
                      error["message"])

    def test_what_a_task_remembered_reaches_its_resumed_attempt_and_its_retry(self):
        # ctx.remember returns once the value is durable: a request sent after it, cut
        # short by a kill, leaves the resumed attempt knowing what was under way.
        srv = self.start_server()
        self.p.write("tasks/custom/planner.lua", """\
return {
  name = "custom.planner",
  input = { url = { type = "string", required = true } },
  run = function(ctx, input)
    local seen = { plan = ctx.remembered("plan"), resumed = ctx.resumed, attempt = ctx.attempt }
    if not ctx.resumed then
      ctx.remember("plan", { order = 42, sent_at_attempt = ctx.attempt })
      ctx.remember("scratch", "gone soon")
      ctx.remember("scratch", nil)
      ctx.http { method = "POST", url = input.url, json = { order = 42 } }
      ferry.sleep("20s")
    end
    if ctx.attempt < 3 then error({ kind = "network", message = "try again" }) end
    return seen
  end,
}
""")
        self.p.workflow("plans", """\
inputs:
  base: {type: string, required: true}
steps:
  - id: plan
    task: custom.planner
    retry: {max_attempts: 3, initial_delay: 50ms}
    with: {url: "{{ inputs.base }}/order"}
""")
        proc = self.run_and_kill("plans", "--input", "base=" + srv.url, path="/order", settle=0.1)
        self.assertEqual(proc.returncode, -signal.SIGKILL)
        r = self.p.ferry("resume", "--quiet", timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        doc = json.loads(r.stdout.splitlines()[0])
        self.assertEqual(doc["status"], "succeeded", doc.get("error"))
        step = doc["steps"]["plan"]
        # The resumed attempt (2) failed and its retry (3) still reads the memo.
        self.assertEqual(step["output"], {"plan": {"order": 42, "sent_at_attempt": 1},
                                          "resumed": True, "attempt": 3})
        self.assertEqual(step["memo"], {"plan": {"order": 42, "sent_at_attempt": 1}})
        self.assertEqual(srv.count("/order"), 1)
        shown = self.p.ferry("executions", "show", doc["id"]).stdout
        # (The keys of a Lua table come in no set order.)
        self.assertRegex(shown, r'\n      memo: \{"plan":\{("order":42,"sent_at_attempt":1|'
                                r'"sent_at_attempt":1,"order":42)\}\}\n      output: ')

    def test_an_input_named_parent_does_not_make_a_sub_workflow(self):
        # resume (and serve at start) leave sub-workflows to their parents. An execution
        # whose inputs merely hold a key "parent" is a top-level one and must be resumed.
        srv = self.start_server()
        self.p.write("tasks/custom/post.lua", POST_TASK)
        self.p.workflow("orphan", """\
inputs:
  base: {type: string, required: true}
  meta: {type: object, default: {}}
steps:
  - {id: a, task: custom.post, with: {url: "{{ inputs.base }}/a", pause: 3s}}
""")
        self.run_and_kill("orphan", "--input", "base=" + srv.url, "--input",
                          'meta={"parent": {"execution": "x", "step": "y"}}', path="/a",
                          settle=0.3)
        r = self.p.ferry("resume", "--quiet", timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        rows = json.loads(self.p.ferry("executions", "list", "--json").stdout)
        self.assertEqual([x["status"] for x in rows], ["succeeded"], rows)
        self.assertEqual(srv.count("/a"), 2)

    def test_items_finished_before_a_kill_keep_their_records(self):
        # A for_each item that finished before the crash is taken as it is on resume: its
        # records (input, times, attempts) are not written again from what resume knows.
        srv = self.start_server()
        self.p.write("tasks/custom/post.lua", POST_TASK)
        self.p.workflow("items", """\
inputs:
  base: {type: string, required: true}
steps:
  - id: each
    for_each: [quick, slow]
    concurrency: 1
    task: custom.post
    with: {url: "{{ inputs.base }}/{{ item }}", pause: "{{ '3s' if item == 'slow' else '1ms' }}"}
""")
        self.run_and_kill("items", "--input", "base=" + srv.url, path="/slow", settle=0.2)
        exec_id = json.loads(self.p.ferry("executions", "list", "--json").stdout)[0]["id"]
        before = self.p.show(exec_id)["steps"]["each[0]"]
        self.assertEqual(before["status"], "succeeded")

        r = self.p.ferry("resume", timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        # Its progress shows what ran now, not the finished item as if it had run again.
        self.assertNotIn("step each[0]", r.stderr)
        self.assertIn("step each[1] succeeded", r.stderr)
        after = self.p.show(exec_id)
        self.assertEqual(after["status"], "succeeded")
        self.assertEqual(srv.count("/quick"), 1)
        item = after["steps"]["each[0]"]
        for field in ("input", "output", "started_at", "finished_at", "attempts"):
            self.assertEqual(item[field], before[field], field)
        self.assertEqual(item["input"]["url"], srv.url + "/quick")

    def test_corrupt_data_dir(self):
        self.p.workflow("hello", "steps:\n  - {id: a, task: log, with: {message: hi}}\n")
        self.p.data.mkdir()
        garbage = b"this is not an LMDB file\x00\x01\x02" * 512
        db = self.p.data / "data.mdb"
        db.write_bytes(garbage)
        for args in (["run", "hello"], ["executions", "list"], ["resume"]):
            with self.subTest(command=args[0]):
                r = self.p.ferry(*args)
                self.assertNotEqual(r.returncode, 0)
                self.assertIn(str(self.p.data), r.stderr)
                self.assertNotIn("Traceback", r.stderr)
                self.assertLess(r.returncode, 128, "crashed instead of reporting: %r" % r.stderr)
        self.assertEqual(db.read_bytes(), garbage, "the corrupt file was modified")


    def test_truncated_data_file_is_reported_not_a_crash(self):
        # LMDB maps a file cut short and the first read past its end was a SIGBUS.
        self.p.workflow("hello", "steps:\n  - {id: a, task: log, with: {message: hi}}\n")
        for _ in range(20):
            self.assertRun("hello")
        db = self.p.data / "data.mdb"
        (self.p.data / "lock.mdb").unlink()
        with open(db, "r+b") as f:
            f.truncate(3 * 4096)
        before = db.read_bytes()
        for args in (["executions", "list"], ["run", "hello"], ["resume"]):
            with self.subTest(command=args[0]):
                r = self.p.ferry(*args)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertIn("data.mdb is truncated: 12288 bytes", r.stderr)
        self.assertEqual(db.read_bytes(), before, "the truncated file was modified")

    def test_a_resumed_step_does_not_send_a_secret_history_kept_as_redacted(self):
        # History keeps secrets as [REDACTED]; read back by a resume, that text went to the
        # vendor in place of the value.
        os.environ["FERRY_TEST_RESUME_TOKEN"] = "resume-token-0123456789"
        self.addCleanup(os.environ.pop, "FERRY_TEST_RESUME_TOKEN", None)
        self.p.write("ferry.yaml", "integrations:\n  api: {type: http, base_url: "
                     "\"http://127.0.0.1:9\", auth: {type: bearer, token: "
                     "\"${env:FERRY_TEST_RESUME_TOKEN}\"}}\n")
        srv = self.start_server()
        self.p.workflow("carry", """\
inputs:
  url: {type: string, required: true}
  note: {type: string, required: true}
steps:
  - {id: first, task: http.request, with: {url: "{{ inputs.url }}/first"}}
  - {id: pause, task: sleep, needs: [first], with: {duration: 3s}}
  - id: send
    task: http.request
    needs: [pause]
    with: {method: POST, url: "{{ inputs.url }}/send", json: {note: "{{ inputs.note }}"}}
""")
        self.run_and_kill("carry", "--input", "url=" + srv.url, "--input",
                          "note=resume-token-0123456789", path="/first", settle=0.5)
        r = self.p.ferry("resume", "--quiet", timeout=30)
        self.assertEqual(r.returncode, 1, r.stderr)
        resumed = json.loads(r.stdout.splitlines()[0])
        self.assertIn("its input holds a value the history keeps only as [REDACTED] (a secret)",
                      resumed["steps"]["send"]["error"]["message"])
        self.assertEqual(srv.count("/send"), 0)

    def test_a_resumed_step_may_carry_the_text_redacted_when_no_secret_was(self):
        # "[REDACTED]" in a value is a secret only in a run whose records had one redacted:
        # a vendor's own words ("password [REDACTED] was rotated") failed every resumed step
        # that carried them, even a log step.
        srv = self.start_server()
        srv.script("/first", (200, {"text": "vendor says: password [REDACTED] was rotated"}))
        self.p.workflow("words", """\
inputs:
  url: {type: string, required: true}
steps:
  - {id: first, task: http.request, with: {url: "{{ inputs.url }}/first"}}
  - {id: pause, task: sleep, needs: [first], with: {duration: 3s}}
  - {id: say, task: log, needs: [pause], with: {message: "{{ steps.first.output.json.text }}"}}
""")
        self.run_and_kill("words", "--input", "url=" + srv.url, path="/first", settle=0.5)
        r = self.p.ferry("resume", "--quiet", timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        resumed = json.loads(r.stdout.splitlines()[0])
        self.assertEqual(resumed["steps"]["say"]["status"], "succeeded", resumed)

    def test_kill_9_during_a_retry_wait_keeps_the_retries(self):
        # The step's first attempt failed and it waits 3 s to retry; a crash then used to
        # leave it recorded as failed, and resume ended the execution without the retries.
        srv = self.start_server()
        srv.script("/flaky", (503, {"e": 1}), (200, {"number": "INC8"}))
        self.p.workflow("retry", """\
inputs:
  url: {type: string, required: true}
steps:
  - id: call
    task: http.request
    retry: {max_attempts: 3, backoff: fixed, initial_delay: 3s}
    with: {method: GET, url: "{{ inputs.url }}"}
outputs:
  number: "{{ steps.call.output.json.number }}"
""")
        # 0.5 s after the first attempt: it is on record as failed; the retry is 2.5 s away.
        self.run_and_kill("retry", "--input", "url=%s/flaky" % srv.url, path="/flaky",
                          settle=0.5)
        r = self.p.ferry("resume", "--quiet", timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        resumed = json.loads(r.stdout.splitlines()[0])
        self.assertEqual(resumed["status"], "succeeded", resumed)
        self.assertEqual(resumed["outputs"], {"number": "INC8"})
        self.assertEqual(srv.count("/flaky"), 2)
        # The wait went on across the restart (1.5-3 s with its jitter), not from zero, nor
        # skipped: the resumed process retried at once before.
        hits = srv.hits("/flaky")
        self.assertGreaterEqual(hits[1]["at"] - hits[0]["at"], 1.4)
        attempts = self.p.show(resumed["id"])["steps"]["call"]["attempts"]
        self.assertEqual([a["status"] for a in attempts], ["failed", "succeeded"], attempts)

    def test_a_resumed_retry_wait_stopped_by_a_failure_keeps_the_failed_attempt(self):
        # Resumed, the waiting step had lost its error, logs and start; another step's
        # failure then settled it and rewrote its failed attempt's record with nulls.
        srv = self.start_server()
        srv.script("/flaky", (503, {"e": 1}))
        self.p.workflow("stop", """\
inputs:
  url: {type: string, required: true}
steps:
  - id: call
    task: http.request
    retry: {max_attempts: 3, backoff: fixed, initial_delay: 20s}
    with: {method: GET, url: "{{ inputs.url }}/flaky", retry: false}
  - {id: wait, task: sleep, with: {duration: 1500ms}}
  - {id: boom, task: fail, needs: wait, with: {message: another step fails}}
""")
        self.run_and_kill("stop", "--input", "url=" + srv.url, path="/flaky", settle=0.5)
        listed = json.loads(self.p.ferry("executions", "list", "--json").stdout)
        before = self.p.show(listed[0]["id"])["steps"]["call"]
        self.assertEqual(before["status"], "retrying", before)
        r = self.p.ferry("resume", "--quiet", timeout=30)
        self.assertEqual(r.returncode, 1, r.stderr)
        after = self.p.show(json.loads(r.stdout.splitlines()[0])["id"])["steps"]["call"]
        self.assertEqual(after["status"], "failed")
        self.assertEqual(after["error"], before["error"])
        self.assertEqual(after["started_at"], before["started_at"])
        self.assertEqual(after["attempts"], before["attempts"])  # as it was, end time too
        self.assertEqual(srv.count("/flaky"), 1)

    def test_a_damaged_record_is_reported_not_an_abort(self):
        # One byte of a stored record changed on disk: every command reading it aborted
        # (an uncaught exception), and `ferry serve` could not start to serve the others.
        srv = self.start_server()
        srv.script("/slow", (200, {"ok": 1}))
        self.p.workflow("slow", "inputs: {url: {type: string}}\nsteps:\n"
                        "  - {id: a, task: http.request, with: {url: \"{{ inputs.url }}/slow\"}}\n"
                        "  - {id: b, task: sleep, needs: a, with: {duration: 30s}}\n")
        self.run_and_kill("slow", "--input", "url=" + srv.url, path="/slow", settle=0.5)
        mdb = self.p.data / "data.mdb"
        data = bytearray(mdb.read_bytes())
        at = data.find(b'"status":"running"')
        self.assertGreater(at, 0)
        data[at] = ord(" ")
        mdb.write_bytes(bytes(data))
        p = self.p.ferry("executions", "list")
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("ferry executions: a value could not be read: ", p.stderr)
        self.assertIn("a damaged record in the data folder?", p.stderr)
        p = self.p.ferry("resume")
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertRegex(p.stderr, r"execution \w+: a stored record cannot be read \(.*\): the "
                                   r"data folder may be damaged")
        # The API says what the CLI says (it answered "the request handler did not answer").
        import serve_util  # it runs `ferry serve`; most of this file does not
        self.p.write("ferry.yaml", serve_util.tokens_yaml())
        server = serve_util.Server(FERRY, self.p.dir, self.p.data)
        try:
            status, body = server.json("GET", "/api/v1/executions", role="viewer")
        finally:
            server.stop()
        self.assertEqual(status, 500, body)
        self.assertEqual(body["error"]["code"], "storage")
        self.assertIn("a value could not be read: ", body["error"]["message"])
        self.assertIn("a damaged record in the data folder?", body["error"]["message"])

    def test_inputs_file_errors_say_what_and_where(self):
        self.p.workflow("i", "inputs: {i: {type: integer}}\n"
                             "steps: [{id: a, task: log, with: {message: x}}]\n")
        big = self.p.dir / "big.json"
        big.write_text('{"i": 9223372036854775808}')
        p = self.p.ferry("run", "i", "--inputs-file", str(big))
        self.assertEqual(p.returncode, 2)
        self.assertEqual(p.stderr.strip(), "%s:1:7: invalid JSON: integer 9223372036854775808 "
                                           "does not fit in 64 bits" % big)
        # Nesting past the limit: placed at the first value too deep (it had no place).
        deep = self.p.dir / "deep.json"
        deep.write_text('{"i":\n' + "[" * 600 + "]" * 600 + "}")
        p = self.p.ferry("run", "i", "--inputs-file", str(deep))
        self.assertEqual(p.returncode, 2)
        self.assertEqual(p.stderr.strip(), "%s:2:513: invalid JSON: JSON nesting deeper than "
                                           "512 levels" % deep)
        bad = self.p.dir / "bad.json"
        bad.write_text('{"i": 1,\n "j": }')
        p = self.p.ferry("run", "i", "--inputs-file", str(bad))
        self.assertEqual(p.returncode, 2)
        self.assertTrue(p.stderr.startswith("%s:2:7: invalid JSON: " % bad), p.stderr)
        # A NUL after the object ended the text for the parser (the rest was ignored), and
        # NaN is no JSON (a required number given NaN was recorded as null).
        for name, text, where, why in (
                ("nul.json", b'{"i": 1}\0garbage', "1:9", "The document root must not be "
                 "followed by other values."),
                ("nan.json", b'{"i": NaN}', "1:7", "Invalid value.")):
            f = self.p.dir / name
            f.write_bytes(text)
            p = self.p.ferry("run", "i", "--inputs-file", str(f))
            self.assertEqual(p.returncode, 2, p.stderr)
            self.assertEqual(p.stderr.strip(), "%s:%s: invalid JSON: %s" % (f, where, why))
        p = self.p.ferry("run", "i", "--inputs-file", str(self.p.dir / "none.json"))
        self.assertEqual(p.returncode, 2)
        self.assertIn("cannot read the inputs file: No such file or directory", p.stderr)
        p = self.p.ferry("run", "i", "--inputs-file", str(self.p.dir))  # a folder
        self.assertEqual(p.returncode, 2)
        self.assertIn("cannot read the inputs file: Is a directory", p.stderr)
        # An endless stream is read up to 64 MiB, not until the memory runs out.
        if os.path.exists("/dev/zero"):
            p = self.p.ferry("run", "i", "--inputs-file", "/dev/zero")
            self.assertEqual(p.returncode, 2)
            self.assertIn("/dev/zero: cannot read the inputs file: larger than 64 MiB", p.stderr)
        # Text that would become bytes that are not UTF-8 (a lone low surrogate escape that
        # RapidJSON decodes; a raw byte): refused where it is, before anything is stored.
        for name, text, where in (("lone.json", b'{"s": "\\udc00"}', "1:8"),
                                  ("latin1.json", b'{"s":\n "caf\xe9"}', "2:6")):
            f = self.p.dir / name
            f.write_bytes(text)
            p = self.p.ferry("run", "i", "--inputs-file", str(f))
            self.assertEqual(p.returncode, 2, p.stderr)
            self.assertTrue(p.stderr.startswith("%s:%s: invalid JSON: " % (f, where)), p.stderr)
        self.assertFalse(self.p.data.exists(), "a refused run wrote history")
        # Standard input and pipes (a shell's <(...), /dev/stdin) are read like a file:
        # "cannot read the inputs file: Invalid argument" before.
        for name in ("-", "/dev/stdin"):
            p = subprocess.run([FERRY, "run", "i", "--quiet", "--inputs-file", name, "--project",
                                str(self.p.dir), "--data", str(self.p.data)], input='{"i": 7}',
                               capture_output=True, text=True, timeout=TIMEOUT)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(json.loads(p.stdout)["inputs"], {"i": 7})

    def test_inputs_file_with_a_key_twice_names_both_places(self):
        # JSON leaves a repeated key's meaning open and readers disagree on which value wins:
        # the file is refused at the repeat, at any depth, and nothing starts.
        self.p.workflow("i", "inputs: {severity: {type: string}, ctx: {type: object}}\n"
                             "steps: [{id: a, task: log, with: {message: x}}]\n")
        for name, text, message in (
                ("top.json", '{\n  "severity": "low",\n  "severity": "high"\n}',
                 "3:3: duplicate key 'severity' (first at 2:3)"),
                ("deep.json", '{"severity": "low",\n "ctx": {"a": [{"k": 1,\n   "k": 2}]}}',
                 "3:4: duplicate key 'k' (first at 2:17)"),
                # Equal once unescaped: the same key to every reader.
                ("escaped.json", '{"ctx": {"ab": 1, "a\\u0062": 2}}',
                 "1:19: duplicate key 'ab' (first at 1:10)")):
            with self.subTest(name=name):
                f = self.p.dir / name
                f.write_text(text)
                p = self.p.ferry("run", "i", "--inputs-file", str(f))
                self.assertEqual(p.returncode, 2, p.stderr)
                self.assertEqual(p.stderr.strip(), "%s:%s" % (f, message))
                self.assertEqual(p.stdout, "")
        self.assertFalse(self.p.data.exists(), "a refused run wrote history")

    def test_resume_of_an_unknown_id_is_bad_input(self):
        self.p.workflow("hello", "steps:\n  - {id: a, task: log, with: {message: hi}}\n")
        self.assertEqual(self.p.ferry("run", "hello", "--quiet").returncode, 0)
        p = self.p.ferry("resume", "01ZZZZZZZZZZZZZZZZZZZZZZZZ")
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("no execution '01ZZZZZZZZZZZZZZZZZZZZZZZZ'", p.stderr)
        # `ferry resume "$ID"` with ID unset resumed every interrupted execution.
        p = self.p.ferry("resume", "")
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("ferry resume: the execution id is empty", p.stderr)

    def test_no_lock_no_start(self):
        # Without its process lock an execution could be taken over by any resumer while it
        # runs: a folder where the lock cannot be made refuses to start anything.
        self.p.workflow("hello", "steps:\n  - {id: a, task: log, with: {message: hi}}\n")
        self.assertEqual(self.p.ferry("run", "hello", "--quiet").returncode, 0)
        shutil.rmtree(self.p.data / "locks")
        (self.p.data / "locks").write_text("not a folder\n")
        r = self.p.ferry("run", "hello", "--quiet")
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn("cannot make the lock folder %s/locks: Not a directory" % self.p.data,
                      r.stderr)
        self.assertIn("another ferry process could run the same execution", r.stderr)
        rows = json.loads(self.p.ferry("executions", "list", "--json").stdout)
        self.assertEqual(len(rows), 1, rows)  # nothing was recorded for the refused start

    def test_resume_leaves_executions_of_a_live_process_alone(self):
        # Long enough that `ferry resume` starts while it runs even when each ferry command
        # takes a second to start (the sanitizer build on a loaded machine).
        self.p.workflow("slow", "steps:\n  - {id: nap, task: sleep, with: {duration: 4s}}\n")
        cmd = [FERRY, "run", "slow", "--quiet", "--project", str(self.p.dir),
               "--data", str(self.p.data)]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                cwd=str(self.p.dir))
        self.procs.append(proc)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            rows = json.loads(self.p.ferry("executions", "list", "--json").stdout or "[]")
            if rows and rows[0]["status"] == "running":
                break
            time.sleep(0.05)
        resumed = self.p.ferry("resume")
        self.assertEqual(resumed.returncode, 0, resumed.stderr)
        self.assertIn("being run by another ferry process (skipped)", resumed.stderr)
        out, err = proc.communicate(timeout=20)
        self.assertEqual(proc.returncode, 0, err)
        doc = json.loads(out)
        self.assertEqual(doc["steps"]["nap"]["attempt"], 1)  # ran once, not twice


# --------------------------------------------------------------------------- 11: history


CHANGE_TASK = """\
return {
  name = "custom.change",
  description = "updates a ticket and records the change",
  input = { priority = { type = "string", default = "3" } },
  run = function(ctx, input)
    local before = { id = "INC1", state = "new", priority = "4", tags = { "a" } }
    local after = { id = "INC1", state = "in_progress", priority = input.priority,
                    tags = { "a", "b" }, owner = "ops" }
    ctx.change("ticket", "INC1", before, after)
    return after
  end,
}
"""


def fill_store(project, limit=400):
    """Runs small executions (40 step records each), then one-step ones, in a 1 MiB map
    until MDB_MAP_FULL: a store full of B-tree pages, with nothing left free. Returns the ids
    stored."""
    project.write("ferry.yaml", "store: {map_size: 1MiB}\n")
    project.workflow("many", """\
steps:
  - id: s
    task: log
    for_each: "{{ range(40) | list }}"
    with: {message: "item {{ item }} of a batch that fills the store"}
""")
    project.workflow("one", "steps:\n  - {id: s, task: log, with: {message: one}}\n")
    stored = []
    for wf in ("many", "one"):
        for _ in range(limit):
            run = project.ferry("run", wf, "--quiet")
            if run.returncode != 0:
                assert run.returncode == 3 and "MDB_MAP_FULL" in run.stderr, run.stderr
                break
            stored.append(json.loads(run.stdout)["id"])
        else:
            raise AssertionError("%d runs of %s fit in a 1 MiB map" % (limit, wf))
    return stored


class History(EngineTest):
    def test_version_names_the_commit_built(self):
        # Two builds of one version said the same `ferry 0.1.0`: an operator upgrading in
        # place could not tell which binary was running.
        out = self.p.ferry("--version", project=False, data=False)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertRegex(out.stdout,
                         r"^ferry \d+\.\d+\.\d+ \(commit ([0-9a-f]{12}(-dirty)?|unknown), .+\)\n$")
        here = os.path.dirname(os.path.abspath(__file__))
        head = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], capture_output=True,
                              text=True, cwd=here)
        if head.returncode == 0:
            # The binary under test is built from this checkout: every build stamps HEAD,
            # and "-dirty" when tracked files differ from it (a clean clone in CI does not).
            self.assertIn("(commit %s" % head.stdout.strip(), out.stdout)
            changes = subprocess.run(["git", "--no-optional-locks", "status", "--porcelain",
                                      "--untracked-files=no"], capture_output=True, text=True,
                                     cwd=here)
            if changes.returncode == 0 and not changes.stdout:
                self.assertIn("(commit %s, " % head.stdout.strip(), out.stdout)

    def test_reading_commands_never_create_a_store(self):
        # A mistyped --data must not read as an empty history.
        missing = self.p.dir / "typo" / "data"
        for args in (["executions", "list"], ["executions", "show", "01ZZZZZZZZZZZZZZZZZZZZZZZZ"],
                     ["executions", "export"], ["dlq", "list"], ["resume"]):
            p = self.p.ferry(*args, "--data", str(missing), data=False)
            self.assertEqual(p.returncode, 2, (args, p.stdout, p.stderr))
            self.assertIn("no Ferry data in %s" % missing, p.stderr)
        # A mistyped option is named as such, before the store is looked for.
        for args, message in ((["list", "--bogus"], "unknown option '--bogus'"),
                              (["show", "--bogus", "X"], "unknown option '--bogus'"),
                              (["export", "--x"], "unknown option '--x'"),
                              (["prune", "--before", "1d", "--nope"], "unknown option '--nope'"),
                              (["diff"], "diff needs one or two execution IDs")):
            p = self.p.ferry("executions", *args, "--data", str(missing), data=False)
            self.assertEqual(p.returncode, 2, (args, p.stderr))
            self.assertIn(message, p.stderr)
        self.assertFalse((self.p.dir / "typo").exists())

    def test_common_options_before_a_command_that_reads_no_project_are_ignored(self):
        # `alias ferry='ferry --project /srv/ferry'` made `ferry --version` and `ferry render`
        # fail: they refused options they have no use for.
        self.p.write("t.j2", "Hello {{ who }}")
        self.p.write("v.json", '{"who": "ops"}')
        common = ["--project", str(self.p.dir), "--data=" + str(self.p.data), "--no-sync"]
        for args, expected in ((["--version"], "ferry "), (["version"], "ferry "),
                               (["--help"], "usage: ferry COMMAND"),
                               (["help", "render"], "usage: ferry render"),
                               (["render", str(self.p.dir / "t.j2"), "--vars",
                                 str(self.p.dir / "v.json")], "Hello ops")):
            with self.subTest(args=args):
                p = subprocess.run([FERRY, *common, *args], capture_output=True, text=True)
                self.assertEqual(p.returncode, 0, (args, p.stderr))
                self.assertTrue(p.stdout.startswith(expected), (args, p.stdout))
        # After the command they are still refused: render has no such options.
        p = subprocess.run([FERRY, "render", str(self.p.dir / "t.j2"), "--project", "x"],
                           capture_output=True, text=True)
        self.assertEqual(p.returncode, 2, p.stderr)

    def test_an_empty_option_value_is_refused_not_read_as_not_given(self):
        # `--inputs-file "$UNSET"` ran the workflow on its default inputs, `--data ""` read
        # the default folder, `serve --listen ""` bound ferry.yaml's address.
        for args, message in (
                (["run", "chg", "--inputs-file", ""], "run: --inputs-file needs a value, got ''"),
                (["run", "chg", "--inputs-file="], "run: --inputs-file needs a value, got ''"),
                (["render", "t.j2", "--vars", ""], "render: --vars needs a value, got ''"),
                (["executions", "list", "--data", ""], "--data needs a value, got ''"),
                (["executions", "list", "--project="], "--project needs a value, got ''"),
                (["serve", "--listen", ""], "serve: --listen needs a value, got ''"),
                (["serve", "extra"], "serve: unexpected argument 'extra'"),
                (["tasks", "list", "extra"], "tasks: unexpected argument 'extra'")):
            p = self.p.ferry(*args, project=False, data=False)
            self.assertEqual(p.returncode, 2, (args, p.stdout, p.stderr))
            self.assertIn(message, p.stderr)
        self.assertEqual(self.p.ferry("executions", "list").stdout.count("chg"), 0)

    def setUp(self):
        super().setUp()
        self.p.write("tasks/custom/change.lua", CHANGE_TASK)
        self.p.workflow("chg", """\
inputs:
  priority: {type: string, default: "3"}
steps:
  - id: update
    task: custom.change
    with: {priority: "{{ inputs.priority }}"}
""")
        self.p.workflow("broken", "steps:\n  - {id: x, task: fail, with: {message: nope}}\n")

    def run_id(self, *args, code=0):
        return self.assertRun(*args, code=code)["id"]

    def test_two_prunes_at_once_report_what_each_removed(self):
        # Both read the same pages; an execution the other had erased was counted anyway
        # (two prunes of 3,000 each said "pruned 3000").
        self.p.workflow("one", "steps:\n  - {id: s, task: log, with: {message: hi}}\n")
        self.p.workflow("many", """\
steps:
  - {id: each, task: workflow, for_each: "{{ range(600) | list }}", concurrency: 50,
     with: {name: one}}
""")
        self.assertEqual(self.assertRun("many", timeout=120)["status"], "succeeded")
        cmd = [FERRY, "executions", "prune", "--before", "0s", "--project", str(self.p.dir),
               "--data", str(self.p.data)]
        procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for _ in range(2)]
        reported = 0
        for proc in procs:
            out, err = proc.communicate(timeout=TIMEOUT)
            self.assertEqual(proc.returncode, 0, err)
            reported += int(re.match(r"pruned (\d+) execution", out).group(1))
        self.assertEqual(reported, 601)
        self.assertEqual(json.loads(self.p.ferry("executions", "list", "--json").stdout), [])

    def test_prune_removes_ended_executions_and_keeps_what_may_still_run(self):
        first = self.run_id("chg")
        failed = self.run_id("broken", code=1)
        self.p.workflow("child", "steps:\n  - {id: s, task: log, with: {message: hi}}\n")
        # A parent that ran a sub-workflow and now waits for a decision: if it is resumed,
        # it reads that child's result from the child's record, which must stay.
        self.p.workflow("parent", """\
steps:
  - {id: sub, task: workflow, with: {name: child}}
  - {id: ok, task: approval, needs: [sub], with: {message: "Go?", timeout: 1h}}
""")
        parent = self.assertRun("parent")
        self.assertEqual(parent["status"], "waiting")
        lst = lambda *a: json.loads(self.p.ferry("executions", "list", "--json", *a).stdout)
        child = [e["id"] for e in lst("--workflow", "child")]
        self.assertEqual(len(child), 1)
        prune = lambda *a: self.p.ferry("executions", "prune", *a)

        # In the past: nothing. A dry run lists what would go and removes nothing.
        p = prune("--before", "2000-01-01")
        self.assertEqual((p.returncode, p.stdout.strip()),
                         (0, "pruned 0 execution(s) created before 2000-01-01T00:00:00.000Z"))
        p = prune("--before", "0s", "--dry-run")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn(first, p.stdout)
        self.assertIn(failed, p.stdout)
        self.assertNotIn(parent["id"], p.stdout)
        self.assertNotIn(child[0], p.stdout)
        self.assertIn("would prune 2 execution(s)", p.stdout)
        self.assertIn("(kept 1 sub-workflow execution(s) whose parent has not ended)", p.stdout)
        self.assertEqual(len(lst()), 4)

        # A filter without its value is a usage error, not "every workflow" (a job with an
        # unset variable, --workflow "$WF", pruned the whole history).
        for args in (["--before", "0s", "--workflow", ""], ["--before", "0s", "--workflow"],
                     ["--before", "0s", "--workflow", "--dry-run"]):
            bad = prune(*args)
            self.assertEqual(bad.returncode, 2, args)
            self.assertIn("--workflow needs a value", bad.stderr)
        self.assertEqual(len(lst()), 4)
        for args in (["--workflow", ""], ["--status"], ["--workflow", "--json"]):
            bad = self.p.ferry("executions", "list", *args)
            self.assertEqual(bad.returncode, 2, args)
            self.assertIn("needs a value", bad.stderr)
        # --name=value as --project=DIR is: it was an "unknown argument".
        p = prune("--before=0s", "--workflow=broken", "--dry-run")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("would prune 1 execution(s)", p.stdout)
        listed = self.p.ferry("executions", "list", "--status=failed", "--limit=1", "--json")
        self.assertEqual(listed.returncode, 0, listed.stderr)
        self.assertEqual(len(json.loads(listed.stdout)), 1)
        bad = self.p.ferry("executions", "list", "--workflow=")
        self.assertEqual(bad.returncode, 2)
        self.assertIn("--workflow needs a value", bad.stderr)
        helped = self.p.ferry("executions", "--help", project=False, data=False)
        self.assertEqual(helped.returncode, 0)
        self.assertIn("50 unless\n--limit says otherwise", helped.stdout)
        self.assertIn("Exit status: 0 done; 1 the history could not be read, or the output "
                      "could not be\nwritten (a full disk); 2 bad usage", helped.stdout)
        self.assertIn("141 the reader of the output went away", helped.stdout)

        # One workflow's, then the rest.
        p = prune("--before", "0s", "--workflow", "broken")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("pruned 1 execution(s)", p.stdout)
        self.assertEqual({e["id"] for e in lst()}, {first, parent["id"], child[0]})
        p = prune("--before", "0s")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual({e["id"] for e in lst()}, {parent["id"], child[0]})
        gone = self.p.ferry("executions", "show", first)
        self.assertNotEqual(gone.returncode, 0)
        self.assertIn(first, gone.stderr)
        # The parent and its child are whole: the child's steps are still there.
        self.assertEqual(self.p.show(child[0])["steps"]["s"]["status"], "succeeded")

        for args, message in ((["--dry-run"], "prune needs --before T"),
                              (["--before", "soon"], "--before: expected a date or time"),
                              (["--before", "1h", "--json"], "unknown option '--json'")):
            bad = prune(*args)
            self.assertEqual(bad.returncode, 2, args)
            self.assertIn(message, bad.stderr)

    def test_a_copy_missing_a_few_pages_is_refused_and_left_alone(self):
        # A short tail of free pages LMDB leaves is filled after each commit, never at open:
        # a copy cut short by even one page is a truncated copy (zero-filled, it opened and
        # the lost pages then aborted readers), and a read must not write to it.
        for _ in range(30):
            self.run_id("chg")
        copy = self.p.dir / "copy"
        copy.mkdir()
        data = (self.p.data / "data.mdb").read_bytes()
        for cut in (4096, 4 * 4096):
            (copy / "data.mdb").write_bytes(data[:-cut])
            p = self.p.ferry("executions", "list", "--data", str(copy), data=False)
            self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
            self.assertIn("data.mdb is truncated", p.stderr)
            self.assertEqual((copy / "data.mdb").stat().st_size, len(data) - cut)

    def test_a_new_store_on_a_full_disk_is_an_error_not_a_crash(self):
        # LMDB writes a new lock.mdb through a mapping: on a full disk that was a SIGBUS
        # (exit 135). Needs a small tmpfs, so root and a mount namespace that allows it.
        disk = self.p.dir / "full"
        disk.mkdir()
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(disk)],
                                 capture_output=True)
        if mounted.returncode != 0:
            self.skipTest("cannot mount a tmpfs here: %s" % mounted.stderr.decode().strip())
        try:
            try:
                with open(disk / "filler", "wb") as f:
                    for _ in range(1024):
                        f.write(b"\0" * 4096)
                        f.flush()
            except OSError:
                pass  # full, as wanted
            p = self.p.ferry("run", "chg", "--data", str(disk / "data"), data=False)
            self.assertEqual(p.returncode, 2, p.stderr)
            self.assertIn("the disk is full", p.stderr)
        finally:
            subprocess.run(["umount", str(disk)], capture_output=True)

    def test_a_full_store_refuses_a_run_whole_and_pruning_or_a_larger_map_makes_room(self):
        self.p.write("ferry.yaml", "store: {map_size: 2MiB}\n")
        self.p.workflow("big", """\
steps:
  - {id: s, task: log, with: {message: "{{ 'x' * 200000 }}"}}
""")
        listed = lambda: {e["id"] for e in
                          json.loads(self.p.ferry("executions", "list", "--json").stdout)}
        stored = []
        for _ in range(20):  # ~450 KB of history each: a 2 MiB map is full within 5
            run = self.p.ferry("run", "big")
            if run.returncode != 0:
                break
            stored.append(json.loads(run.stdout)["id"])
        else:
            self.fail("20 runs of ~450 KB fit in a 2 MiB map")
        self.assertEqual(run.returncode, 3, run.stderr)
        self.assertIn("MDB_MAP_FULL", run.stderr)
        self.assertIn("the map is 2097152 bytes: prune history with `ferry executions prune`, "
                      "or raise store.map_size in ferry.yaml", run.stderr)
        # Its first record was in the lost commit: nothing to resume, and it says so (it
        # said "run 'ferry resume'", which then answered "nothing to resume", exit 0).
        self.assertIn("Not recorded, so not resumable (nothing of it was sent): execution ",
                      run.stderr)
        self.assertIn("start it again once the cause is fixed.", run.stderr)
        self.assertNotIn("ferry resume", run.stderr)
        self.assertGreaterEqual(len(stored), 2)
        # The refused run left nothing behind; what was stored is whole.
        self.assertEqual(listed(), set(stored))
        self.assertEqual(self.p.show(stored[-1])["status"], "succeeded")

        # Pruning makes room for the very next run (no other write needed in between).
        p = self.p.ferry("executions", "prune", "--before", "0s")
        self.assertEqual(p.returncode, 0, p.stderr)
        run = self.p.ferry("run", "big")
        self.assertEqual(run.returncode, 0, run.stderr)

        # A larger map holds what the small one could not.
        self.p.write("ferry.yaml", "store: {map_size: 8MiB}\n")
        for _ in range(len(stored) + 2):
            run = self.p.ferry("run", "big")
            self.assertEqual(run.returncode, 0, run.stderr)
        self.assertEqual(len(listed()), len(stored) + 3)

    def test_a_store_filled_to_its_map_by_small_executions_can_still_be_pruned(self):
        # Deleting copies pages too: a map full of many small records failed the prune the
        # MDB_MAP_FULL message recommends ("pruned 0 ... MDB_MAP_FULL"). The prune makes
        # itself a little room and deletes in small batches while the store is tight.
        fill_store(self.p)
        p = self.p.ferry("executions", "prune", "--before", "0s")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertRegex(p.stdout, r"^pruned \d+ execution\(s\)")
        listed = self.p.ferry("executions", "list", "--json")
        self.assertEqual(listed.returncode, 0, listed.stderr)
        # Every ended execution went. A run that hit MDB_MAP_FULL stops as a crash would:
        # on a slow machine its first batch (the `running` record) was committed on its own,
        # and prune leaves a running execution for `ferry resume`; on a fast one nothing of it
        # was. Either way no more than those (one of each workflow fill_store ran) is left.
        left = json.loads(listed.stdout)
        self.assertLessEqual(len(left), 2, left)
        self.assertTrue(all(row["status"] == "running" for row in left), left)
        run = self.p.ferry("run", "many")
        self.assertEqual(run.returncode, 0, run.stderr)
        # What the prune borrowed is small: the file stays near the configured map.
        self.assertLess((self.p.data / "data.mdb").stat().st_size, (1 << 20) * 9 // 8 + 4096)

    def test_a_copy_on_read_only_media_is_read(self):
        # A backup on a read-only file system could not be listed or shown (the store was
        # opened for writing); reading commands now fall back to a read-only open, and
        # writing ones still refuse with the reason.
        self.p.workflow("hello", "steps:\n  - {id: a, task: log, with: {message: hi}}\n")
        exec_id = self.run_id("hello")
        media = Path(tempfile.mkdtemp(prefix="ferry-ro-"))
        self.addCleanup(shutil.rmtree, media, True)
        if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(media)],
                          capture_output=True).returncode != 0:
            self.skipTest("cannot mount a tmpfs here (not root, or no CAP_SYS_ADMIN)")
        self.addCleanup(subprocess.run, ["umount", str(media)], capture_output=True)
        shutil.copytree(self.p.data, media / "copy")
        self.assertEqual(subprocess.run(["mount", "-o", "remount,ro", str(media)],
                                        capture_output=True).returncode, 0)
        copy = str(media / "copy")
        for cmd in (["executions", "list"], ["executions", "show", exec_id],
                    ["executions", "export"]):
            p = subprocess.run([FERRY, *cmd, "--project", str(self.p.dir), "--data", copy],
                               capture_output=True, text=True, timeout=TIMEOUT)
            self.assertEqual(p.returncode, 0, (cmd, p.stderr))
            self.assertIn(exec_id, p.stdout, cmd)
            self.assertIn("is read-only: opened for reading only, without LMDB's lock", p.stderr)
        p = subprocess.run([FERRY, "executions", "prune", "--before", "0s", "--project",
                            str(self.p.dir), "--data", copy], capture_output=True, text=True,
                           timeout=TIMEOUT)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("the file system is read-only", p.stderr)

    def test_an_execution_is_named_by_the_start_of_its_id(self):
        # As git names a commit: 26 characters to type was the price of every look.
        self.p.workflow("hello", "steps:\n  - {id: a, task: log, with: {message: hi}}\n")
        first, second = self.run_id("hello"), self.run_id("hello")
        shared = os.path.commonprefix([first, second])
        self.assertGreaterEqual(len(shared), 4)  # ULIDs of the same minute
        own = first[:len(shared) + 1]
        shown = self.p.ferry("executions", "show", own)
        self.assertEqual(shown.returncode, 0, shown.stderr)
        self.assertTrue(shown.stdout.startswith("execution %s\n" % first), shown.stdout)
        self.assertEqual(json.loads(self.p.ferry("executions", "show", own, "--json").stdout)["id"],
                         first)
        # Ids are upper case; a start or a whole id copied from a lower-cased log finds them.
        for typed in (own.lower(), first.lower()):
            lower = self.p.ferry("executions", "show", typed, "--json")
            self.assertEqual(lower.returncode, 0, lower.stderr)
            self.assertEqual(json.loads(lower.stdout)["id"], first)
        diff = self.p.ferry("executions", "diff", own, second[:len(shared) + 1])
        self.assertEqual(diff.returncode, 0, diff.stderr)
        resumed = self.p.ferry("resume", own)
        self.assertEqual(resumed.returncode, 0, resumed.stderr)
        self.assertIn("execution %s already ended (succeeded)" % first, resumed.stderr)
        cancel = self.p.ferry("executions", "cancel", own)
        self.assertEqual(cancel.returncode, 2)
        self.assertIn("execution '%s' already ended (succeeded)" % first, cancel.stderr)
        approve = self.p.ferry("executions", "approve", own, "a")
        self.assertEqual(approve.returncode, 2)
        self.assertIn(first, approve.stderr)  # refused for the step, named in full
        # A start two ids share, or one too short to mean one, names none.
        for cmd in (["executions", "show"], ["executions", "cancel"], ["resume"]):
            both = self.p.ferry(*cmd, shared)
            self.assertEqual(both.returncode, 2, both.stderr)
            self.assertIn("'%s' is the start of several execution ids (%s, %s): give more of "
                          "the one you mean" % (shared, min(first, second), max(first, second)),
                          both.stderr)
            short = self.p.ferry(*cmd, first[:3])
            self.assertEqual(short.returncode, 2, short.stderr)
            self.assertIn("no execution '%s': the start of an id names one from 4 characters "
                          "on" % first[:3], short.stderr)

    def test_show_cuts_a_long_output_between_characters(self):
        # The table shows 197 bytes of an output: a cut inside a character printed bytes
        # that are not UTF-8 (the decode below raised).
        for prefix in ("", "x"):
            self.p.workflow("wide", "steps:\n  - id: w\n    task: lua\n    with:\n"
                                    "      script: |\n"
                                    "        return '%s' .. string.rep('\\u{e9}', 150)\n" % prefix)
            exec_id = self.run_id("wide")
            shown = self.p.ferry("executions", "show", exec_id)
            self.assertEqual(shown.returncode, 0, shown.stderr)
            self.assertIn("\u00e9...", shown.stdout)

    def test_show_lists_steps_in_file_order_and_items_by_number(self):
        # The records are stored by key: the listing read alpha before zeta and fe[10]
        # before fe[2], the opposite of the file and of the items' order.
        self.p.workflow("order", """\
steps:
  - {id: zeta, task: log, with: {message: first}}
  - id: fe
    task: log
    for_each: "{{ range(12) | list }}"
    with: {message: "{{ item }}"}
  - {id: alpha, task: log, needs: [fe], with: {message: last}}
on_step:
  - {steps: [zeta], task: log, with: {message: "{{ event.step }} done"}}
""")
        exec_id = self.run_id("order")
        shown = self.p.ferry("executions", "show", exec_id)
        self.assertEqual(shown.returncode, 0, shown.stderr)
        keys = re.findall(r"^  (\S+) +succeeded ", shown.stdout, re.M)
        items = ["fe[%d]" % i for i in range(12)]
        # A step an on_step entry generates comes after the step it reports on.
        self.assertEqual(keys, ["zeta", "zeta.on_step", "fe"] + items + ["alpha"])
        # A definition that no longer loads (a store written by an older Ferry with other
        # rules) leaves the steps in key order, items still by number.
        # (mdb_load -T: a key line, then its value line; it overwrites.)
        dump = subprocess.run(["mdb_dump", "-s", "executions", "-p", str(self.p.data)],
                              capture_output=True, text=True, check=True).stdout
        definition = re.search(r'"definition_hash":"([0-9a-f]+)"', dump).group(1)
        subprocess.run(["mdb_load", "-T", "-s", "workflows", str(self.p.data)], check=True,
                       input=definition + "\n" + json.dumps(
                           {"name": "order", "source": "steps: [", "file": "x.yaml"}) + "\n",
                       text=True, capture_output=True)
        # `executions diff A B` lists the steps that differ in the same order.
        self.p.workflow("order2", """\
inputs: {k: {type: integer}}
steps:
  - {id: zeta, task: lua, with: {input: "{{ inputs.k }}", script: "return {k = input}"}}
  - id: fe
    task: transform
    for_each: "{{ range(12) | list }}"
    with: {data: {v: "{{ item + inputs.k }}"}, mappings: [{source: v, target: v}]}
  - {id: alpha, task: lua, with: {input: "{{ inputs.k }}", script: "return {k = input}"}}
""")
        runs = [self.run_id("order2", "--input", "k=%d" % k) for k in (0, 1)]
        diff = self.p.ferry("executions", "diff", *runs)
        self.assertEqual(diff.returncode, 0, diff.stderr)
        self.assertEqual(re.findall(r"^step (\S+)$", diff.stdout, re.M),
                         ["zeta", "fe"] + items + ["alpha"])
        by_id = ["alpha", "fe"] + items + ["zeta", "zeta.on_step"]
        shown = self.p.ferry("executions", "show", exec_id)
        self.assertEqual(shown.returncode, 0, shown.stderr)
        self.assertEqual(re.findall(r"^  (\S+) +succeeded ", shown.stdout, re.M), by_id)
        # So does a damaged definition record (it stopped `show` after the header).
        subprocess.run(["mdb_load", "-T", "-s", "workflows", str(self.p.data)], check=True,
                       input=definition + '\n{"name":"order","source":"steps: [\n', text=True,
                       capture_output=True)
        shown = self.p.ferry("executions", "show", exec_id)
        self.assertEqual(shown.returncode, 0, shown.stderr)
        self.assertEqual(re.findall(r"^  (\S+) +succeeded ", shown.stdout, re.M), by_id)

    def test_what_a_caller_gave_cannot_forge_lines_or_controls(self):
        # A failure message from an input printed raw by the on_failure hook's notice (ESC,
        # OSC, CR, a forged progress line), and `executions show` kept its line breaks
        # (a second "status succeeded" line) and U+202E (which reorders the line).
        self.p.write("tasks/hooks/say.lua", """\
return {on_failure = function(ctx, event) ferry.log.error(event.error.message) end}
""")
        self.p.workflow("forge", """\
hooks: {on_failure: hooks/say.lua}
inputs:
  msg: {type: string}
steps:
  - {id: b, task: fail, with: {message: "{{ inputs.msg }}"}}
""")
        msg = ("boom\n  status    succeeded\rferry: 01FAKE execution succeeded\x1b[31mRED"
               "\x1b]0;title\x07 \u202egnp.exe")
        p = self.p.ferry("run", "forge", "--input", "msg=" + msg)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertNotIn("\x1b", p.stderr)
        self.assertNotIn("\r", p.stderr)
        self.assertNotIn("\u202e", p.stderr)
        self.assertNotIn("\nferry: 01FAKE", p.stderr)
        self.assertIn("on_failure hook [error]: boom\\n  status    succeeded\\x0Dferry: 01FAKE "
                      "execution succeeded\\x1B[31mRED\\x1B]0;title\\x07 \\u202Egnp.exe",
                      p.stderr)
        exec_id = json.loads(p.stdout)["id"]
        shown = self.p.ferry("executions", "show", exec_id)
        self.assertEqual(shown.returncode, 0, shown.stderr)
        status_lines = [l for l in shown.stdout.splitlines() if l.startswith("  status")]
        self.assertEqual(status_lines, ["  status    failed"], shown.stdout)
        self.assertNotIn("\u202e", shown.stdout)
        self.assertIn("\\u202E", shown.stdout)

    def test_list_and_show(self):
        first = self.run_id("chg")
        second = self.run_id("chg", "--input", "priority=1")
        failed = self.run_id("broken", code=1)
        lst = lambda *a: self.p.ferry("executions", "list", *a)
        every, chg, status, limit, human = in_parallel(
            lambda: lst("--json"), lambda: lst("--workflow", "chg", "--json"),
            lambda: lst("--status", "failed", "--json"), lambda: lst("--limit", "2", "--json"),
            lambda: lst())
        ids = lambda r: [row["id"] for row in json.loads(r.stdout)]
        self.assertEqual(ids(every), [failed, second, first], "newest first")
        self.assertEqual(ids(chg), [second, first])
        self.assertEqual(ids(status), [failed])
        self.assertEqual(ids(limit), [failed, second])
        self.assertEqual(human.returncode, 0)
        lines = human.stdout.splitlines()
        self.assertIn("STATUS", lines[0])
        self.assertEqual(len(lines), 4)
        self.assertIn(failed, lines[1])
        self.assertIn("failed", lines[1])
        self.assertIn("broken", lines[1])
        self.assertNotIn("dry run", human.stdout)
        # A preview is marked, after the columns (it read like a real send).
        previewed = self.run_id("chg", "--dry-run")
        row = lst().stdout.splitlines()[1]
        self.assertTrue(row.startswith(previewed), row)
        self.assertTrue(row.endswith("  (dry run)"), row)
        self.assertEqual(row.split()[2], "succeeded")
        for limit in ("0", "-1", "x", "99999999999999999999"):
            bad = lst("--limit", limit)
            self.assertEqual(bad.returncode, 2, limit)
            self.assertIn("--limit must be a positive number, got '%s'" % limit, bad.stderr)
        bad = lst("--limit")  # as --status and --workflow say it
        self.assertEqual(bad.returncode, 2)
        self.assertIn("--limit needs a value", bad.stderr)
        bad = self.p.ferry("executions", "export", "--since", "1h", "--until", "2h")
        self.assertEqual(bad.returncode, 2)
        self.assertIn("--since must be before --until", bad.stderr)
        # The bounds are those of created_at as shown: --since it takes the execution, --until
        # it does not (its id was made a millisecond before, and --since left it out).
        created = json.loads(self.p.ferry("executions", "show", first, "--json").stdout)[
            "created_at"]
        exported = lambda *a: [json.loads(l)["id"] for l in self.p.ferry(
            "executions", "export", *a).stdout.splitlines()]
        self.assertIn(first, exported("--since", created))
        self.assertNotIn(first, exported("--until", created))
        # list takes the same bounds ("the failures of the last day": --since 24h).
        self.assertEqual(ids(lst("--since", created, "--json")), [previewed, failed, second, first])
        self.assertEqual(ids(lst("--until", created, "--json")), [])
        self.assertEqual(ids(lst("--since", "1d", "--status", "failed", "--json")), [failed])
        self.assertEqual(ids(lst("--since=1970-01-01", "--until", "2000-01-01", "--json")), [])
        bad = lst("--since", "1h", "--until", "2h")
        self.assertEqual(bad.returncode, 2)
        self.assertIn("--since must be before --until", bad.stderr)
        bad = lst("--until", "yesterday")
        self.assertEqual(bad.returncode, 2)
        self.assertIn("--until: expected a date or time (2026-12-01, 2026-12-01T08:00:00Z) or "
                      "an age (30m, 24h, 7d), got 'yesterday'", bad.stderr)
        bad = self.p.ferry("executions", "export", "--since", "-1h")
        self.assertEqual(bad.returncode, 2)
        self.assertIn("--since: an age has no sign: it counts back from now (1h, not -1h)",
                      bad.stderr)
        bad = lst("--status", "done")
        self.assertEqual(bad.returncode, 2)
        self.assertIn("--status: status must be one of pending, running, waiting, succeeded, "
                      "failed, cancelled; got 'done'", bad.stderr)

        # Output that cannot be written fails the command, or `export > archive && prune`
        # would prune what was never archived (/dev/full: a full disk).
        if os.path.exists("/dev/full"):
            for args in (["executions", "export"], ["executions", "list", "--json"],
                         ["executions", "show", second, "--json"], ["tasks", "list"]):
                with open("/dev/full", "w") as full:
                    r = subprocess.run([FERRY, *args, "--project", str(self.p.dir), "--data",
                                        str(self.p.data)], stdout=full, stderr=subprocess.PIPE,
                                       text=True, timeout=TIMEOUT)
                self.assertEqual(r.returncode, 1, args)
                self.assertIn("could not write the output: No space left on device", r.stderr)
        # A reader that went away (`| head`) is no error to report.
        rfd, wfd = os.pipe()
        os.close(rfd)
        try:
            r = subprocess.run([FERRY, "executions", "export", "--project", str(self.p.dir),
                                "--data", str(self.p.data)], stdout=wfd,
                               stderr=subprocess.PIPE, text=True, timeout=TIMEOUT)
        finally:
            os.close(wfd)
        self.assertEqual((r.returncode, r.stderr), (141, ""))  # as SIGPIPE would

        shown = self.p.show(second)
        self.assertEqual(shown["inputs"], {"priority": "1"})
        self.assertEqual(shown["steps"]["update"]["output"]["priority"], "1")
        self.assertEqual(len(shown["steps"]["update"]["attempts"]), 1)
        text = self.p.ferry("executions", "show", failed)
        self.assertEqual(text.returncode, 0)
        self.assertIn("execution " + failed, text.stdout)
        self.assertIn("nope", text.stdout)
        self.assertRegex(text.stdout, r"\bx\s+failed")
        missing, diff_one, diff_two = in_parallel(
            lambda: self.p.ferry("executions", "show", "01NOSUCHEXECUTION000000000"),
            lambda: self.p.ferry("executions", "diff", "01NOSUCHEXECUTION000000000"),
            lambda: self.p.ferry("executions", "diff", first, "01NOSUCHEXECUTION000000000"))
        for r in (missing, diff_one, diff_two):  # an id that names nothing: invalid input
            self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
            self.assertIn("no execution '01NOSUCHEXECUTION000000000'", r.stderr)
            self.assertEqual(r.stdout, "")

    def test_diff_of_recorded_changes(self):
        exec_id = self.run_id("chg")
        r = self.p.ferry("executions", "diff", exec_id, "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        changes = json.loads(r.stdout)
        self.assertEqual(len(changes), 1)
        c = changes[0]
        self.assertEqual((c["kind"], c["id"], c["step"]), ("ticket", "INC1", "update"))
        ops = sorted((o["op"], o["path"], json.dumps(o.get("value"))) for o in c["patch"])
        self.assertEqual(ops, sorted([("replace", "/state", '"in_progress"'),
                                      ("replace", "/priority", '"3"'),
                                      ("add", "/tags/1", '"b"'),
                                      ("add", "/owner", '"ops"')]))
        text = self.p.ferry("executions", "diff", exec_id)
        self.assertIn("ticket INC1", text.stdout)
        self.assertRegex(text.stdout, r"replace\s+/state\s+\"in_progress\"")

    def test_diff_of_an_output_that_changed_type_names_the_whole_output(self):
        self.p.workflow("shape", """\
inputs: {n: {type: integer, default: 1}}
steps:
  - id: out
    task: lua
    with: {input: "{{ inputs.n }}", script: "if input == 1 then return 5 end return {x = 1}"}
""")
        a = self.run_id("shape")
        b = self.run_id("shape", "--input", "n=2")
        d = json.loads(self.p.ferry("executions", "diff", a, b, "--json").stdout)
        self.assertEqual(d["steps"], {"out": [{"op": "replace", "path": "", "value": {"x": 1}}]})
        text = self.p.ferry("executions", "diff", a, b).stdout
        self.assertRegex(text, r"replace\s+\(whole\)\s+\{\"x\":1\}")

    def test_diff_of_two_executions(self):
        a = self.run_id("chg")
        b = self.run_id("chg", "--input", "priority=1")
        r = self.p.ferry("executions", "diff", a, b, "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        d = json.loads(r.stdout)
        self.assertEqual(d["steps"], {"update": [{"op": "replace", "path": "/priority",
                                                  "value": "1"}]})
        self.assertFalse(d["definition_changed"])
        same = json.loads(self.p.ferry("executions", "diff", a, a, "--json").stdout)
        self.assertEqual(same["steps"], {})
        # The workflow file changes between two runs: a text diff of the definitions.
        path = self.p.dir / "workflows/chg.yaml"
        path.write_text(path.read_text().replace('default: "3"}', 'default: "3", description: new}'))
        c = self.run_id("chg")
        d = json.loads(self.p.ferry("executions", "diff", a, c, "--json").stdout)
        self.assertTrue(d["definition_changed"])
        self.assertEqual(d["steps"], {})
        self.assertIn('-  priority: {type: string, default: "3"}', d["definition_diff"])
        self.assertIn('+  priority: {type: string, default: "3", description: new}',
                      d["definition_diff"])
        text = self.p.ferry("executions", "diff", a, c).stdout
        self.assertIn("+  priority", text)
        self.assertIn("--- %s %s" % (a, path), text)
        # Two different workflows: steps on one side only are listed as such, not as
        # outputs that became null.
        self.p.workflow("other", "steps:\n  - {id: only, task: log, with: {message: x}}\n"
                                 "  - {id: update, task: lua, with: {script: 'return {priority = \"9\"}'}}\n")
        o = self.run_id("other")
        d = json.loads(self.p.ferry("executions", "diff", a, o, "--json").stdout)
        self.assertEqual(d["only_in_a"], [])
        self.assertEqual(d["only_in_b"], ["only"])
        self.assertNotIn("only", d["steps"])
        text = self.p.ferry("executions", "diff", a, o).stdout
        self.assertIn("step only only in B", text)
        self.assertEqual(d["status"], ["succeeded", "succeeded"])
        self.assertEqual(d["step_status"], {})
        # One that failed: its steps' statuses say why their outputs differ (they read as
        # values that became null, and identical outputs hid a failure).
        self.p.workflow("cond", "inputs: {ok: {type: boolean, default: true}}\nsteps:\n"
                        "  - {id: a, task: fail, when: '{{ not inputs.ok }}', "
                        "with: {message: no}}\n"
                        "  - {id: b, task: log, needs: [a], with: {message: hi}}\n")
        good, bad = self.run_id("cond"), self.run_id("cond", "--input", "ok=false", code=1)
        d = json.loads(self.p.ferry("executions", "diff", good, bad, "--json").stdout)
        self.assertEqual(d["status"], ["succeeded", "failed"])
        self.assertEqual(d["step_status"], {"a": ["skipped", "failed"],
                                            "b": ["succeeded", "cancelled"]})
        text = self.p.ferry("executions", "diff", good, bad).stdout
        self.assertIn("execution succeeded -> failed\nstep a: skipped -> failed\n"
                      "step b: succeeded -> cancelled\n", text)
        self.assertNotIn("identical", text)

    def test_diff_of_two_large_executions_merges_by_key(self):
        # Both step lists are read a page (1,000 records) at a time and merged by key.
        self.p.workflow("many", """\
inputs: {n: {type: integer}, k: {type: integer}}
steps:
  - id: each
    task: transform
    for_each: "{{ range(inputs.n) | list }}"
    concurrency: 100
    with:
      data: {v: "{{ item if item < inputs.k else -1 }}"}
      mappings: [{source: v, target: v}]
""")
        a = self.run_id("many", "--input", "n=2500", "--input", "k=5000")
        b = self.run_id("many", "--input", "n=2200", "--input", "k=2100")
        d = json.loads(self.p.ferry("executions", "diff", a, b, "--json").stdout)
        # The step itself (its output is the list of the items') and the items that differ.
        changed = ["each"] + ["each[%d]" % i for i in range(2100, 2200)]
        self.assertEqual(sorted(d["steps"]), sorted(changed))
        self.assertEqual(list(d["steps"]), sorted(changed))  # in key order
        self.assertEqual(d["steps"]["each[2150]"],
                         [{"op": "replace", "path": "/v", "value": -1}])
        only = ["each[%d]" % i for i in range(2200, 2500)]
        self.assertEqual(d["only_in_a"], sorted(only))
        self.assertEqual(d["only_in_b"], [])
        back = json.loads(self.p.ferry("executions", "diff", b, a, "--json").stdout)
        self.assertEqual(back["only_in_b"], sorted(only))
        self.assertEqual(back["only_in_a"], [])
        self.assertEqual(back["steps"]["each[2150]"],
                         [{"op": "replace", "path": "/v", "value": 2150}])
        # The text lists the same steps, the step's own record before its items.
        text = self.p.ferry("executions", "diff", a, b)
        self.assertEqual(text.returncode, 0, text.stderr)
        only_lines = re.findall(r"^step (\S+) only in A$", text.stdout, re.M)
        self.assertEqual(only_lines, only)
        changed_lines = re.findall(r"^step (\S+)$", text.stdout, re.M)
        self.assertEqual(changed_lines, changed)

    def test_export_since(self):
        old = self.run_id("chg")
        time.sleep(1.1)
        boundary = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
        time.sleep(1.0)
        new = self.run_id("broken", code=1)
        since = boundary.strftime("%Y-%m-%dT%H:%M:%SZ")
        recent, everything, future = in_parallel(
            lambda: self.p.ferry("executions", "export", "--since", since),
            lambda: self.p.ferry("executions", "export", "--since", "1h"),
            lambda: self.p.ferry("executions", "export", "--since", "2099-01-01"))
        for r in (recent, everything, future):
            self.assertEqual(r.returncode, 0, r.stderr)
        lines = [json.loads(l) for l in recent.stdout.splitlines()]
        self.assertEqual([l["id"] for l in lines], [new])
        # A bound at or before 1970 is the first millisecond, not "no bound" (0): an archive
        # script with a wrong date exported everything.
        for until in ("1969-01-01", "1970-01-01T00:00:00Z"):
            r = self.p.ferry("executions", "export", "--until", until)
            self.assertEqual((r.returncode, r.stdout), (0, ""), r.stderr)
        self.assertEqual(lines[0]["status"], "failed")
        self.assertIn("attempts", lines[0]["steps"]["x"])
        self.assertEqual({json.loads(l)["id"] for l in everything.stdout.splitlines()}, {old, new})
        # The archive keeps what the execution changed elsewhere (as `diff` shows it): after
        # a prune it is the only record of it.
        archived = {l["id"]: l for l in map(json.loads, everything.stdout.splitlines())}
        self.assertEqual(archived[new]["changes"], [])
        [change] = archived[old]["changes"]
        self.assertEqual((change["kind"], change["id"], change["step"]), ("ticket", "INC1", "update"))
        diff = json.loads(self.p.ferry("executions", "diff", old, "--json").stdout)
        self.assertEqual(diff, [change])
        self.assertEqual(future.stdout, "")
        bad, bad_age, bad_day = in_parallel(
            lambda: self.p.ferry("executions", "export", "--since", "yesterday-ish"),
            lambda: self.p.ferry("executions", "export", "--since", "5 minutes"),
            lambda: self.p.ferry("executions", "export", "--until", "2026-02-30"))
        self.assertEqual(bad.returncode, 2)
        self.assertIn("--since: expected an RFC 3339 timestamp", bad.stderr)
        self.assertEqual(bad_age.returncode, 2)
        self.assertIn("or an age (30m, 24h, 7d), got '5 minutes'", bad_age.stderr)
        self.assertEqual(bad_day.returncode, 2)
        self.assertIn("day 30 does not exist in that month", bad_day.stderr)

    def test_tasks_list_and_show(self):
        lst, show, show_json, missing = in_parallel(
            lambda: self.p.ferry("tasks", "list", data=False),
            lambda: self.p.ferry("tasks", "show", "transform", data=False),
            lambda: self.p.ferry("tasks", "show", "http.request", "--json", data=False),
            lambda: self.p.ferry("tasks", "show", "no.such", data=False))
        self.assertEqual(lst.returncode, 0)
        names = {l.split()[0] for l in lst.stdout.splitlines()[1:] if l.strip()}
        for t in ("sleep", "log", "fail", "lua", "transform", "http.request", "template.render",
                  "workflow", "custom.change"):
            self.assertIn(t, names)
        self.assertEqual(show.returncode, 0)
        self.assertRegex(show.stdout, r"\bmappings\s+array\s+required")
        self.assertRegex(show.stdout, r"\bdata\s+object\s+the source object")
        log = self.p.ferry("tasks", "show", "log", data=False)
        self.assertRegex(log.stdout, r"\blevel\s+string\s+\(one of 'debug', 'info', 'warn', "
                                     r"'error'\) \(default info\)")
        self.assertRegex(show.stdout, r"\bmappings\s+array\s+required")
        spec = json.loads(show_json.stdout)
        self.assertEqual(spec["name"], "http.request")
        self.assertIn("method", spec["input"])
        self.assertIn("url", spec["input"])
        self.assertEqual(missing.returncode, 2)
        self.assertIn("no.such", missing.stderr)
        # Which provider runs: the default, and the integration types each works with.
        ticket = self.p.ferry("tasks", "show", "ticket.create", data=False)
        self.assertIn("  providers: jira (jira integrations), servicenow (default, servicenow "
                      "integrations)\n", ticket.stdout)
        hook = self.p.ferry("tasks", "show", "webhook.emit", data=False)
        self.assertIn("  integrations: webhook\n", hook.stdout)
        # An object input's declared keys follow it.
        self.assertRegex(self.p.ferry("tasks", "show", "http.request", data=False).stdout,
                         r"\n  paginate +object .*\n    \.items +string ")
        # Several providers and none the default: which to name, not "no provider ''".
        for p in ("a", "b"):
            self.p.write("tasks/multi/%s.lua" % p, 'return {name = "x.multi", provider = "%s", '
                         'run = function() end}\n' % p)
        multi = self.p.ferry("tasks", "show", "x.multi", data=False)
        self.assertEqual(multi.returncode, 2)
        self.assertEqual(multi.stderr, "ferry tasks: task 'x.multi' has several providers and "
                         "no default: add --provider (one of a, b)\n")


class Transform(EngineTest):
    # The built-in transform task (tasks/transform/transform.lua, docs/tasks.md).
    WORKFLOW = """\
name: shape
inputs:
  record: {type: object, required: true}
steps:
  - id: shape
    task: transform
    with:
      data: "{{ inputs.record }}"
      mappings:
        - {source: severity, target: fields.priority, map: {critical: "1", high: "2"}, default: "3"}
        - {source: other, target: fields.missing, map: {a: "1"}, default: "n/a"}
        - {source: score, target: fields.confidence, transform: scale_to_100}
        - {source: percent, target: fields.percent, transform: scale_to_100}
        - {source: host, target: ci, transform: uppercase}
        - {source: " Name ", target: name_key}
        - {source: label, target: label, transform: trim}
        - {source: count, target: count_text, transform: to_string}
        - {source: text_number, target: number, transform: to_number}
        - {source: epoch, target: when, transform: iso8601}
        - {source: expires, target: days_left, transform: date_to_days_remaining}
        - {source: "tags[1]", target: second_tag}
        - {source: "nested.list[0].id", target: first_id}
        - {source: "tags[-1]", target: last_tag}
        - {source: "tags[-3]", target: before_first}
        - {target: "list[1]", source: host}
        - {source: host, target: summary, template: "{{ data.severity }} on {{ value }}"}
        - {source: absent, target: explicit_null}
outputs:
  out: "{{ steps.shape.output }}"
"""

    def test_mappings_maps_transforms_paths_and_templates(self):
        self.p.workflow("shape", self.WORKFLOW)
        expires = (datetime.datetime.now(datetime.timezone.utc) +
                   datetime.timedelta(days=10, hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        record = {"severity": "high", "score": 0.87, "percent": 42.4, "host": "web-01",
                  " Name ": "kept as a key", "label": "  padded  ", "count": 3.0,
                  "text_number": " 12.5 ", "epoch": 1614183730, "expires": expires,
                  "tags": ["a", "b"], "nested": {"list": [{"id": 7}]}}
        doc = self.assertRun("shape", "--input", "record=" + json.dumps(record))
        self.assertEqual(doc["outputs"]["out"], {
            "fields": {"priority": "2", "missing": "n/a", "confidence": 87, "percent": 42},
            "ci": "WEB-01",
            "name_key": "kept as a key",
            "label": "padded",
            "count_text": "3",
            "number": 12.5,
            "when": "2021-02-24T16:22:10.000Z",
            "days_left": 10,
            "second_tag": "b",
            "first_id": 7,
            "last_tag": "b",
            "before_first": None,
            "list": [None, "web-01"],
            "summary": "high on web-01",
            "explicit_null": None,
        })

    def test_trim_makes_one_pass_over_long_runs_of_whitespace(self):
        # Lua's trim idiom (gsub "%s+$") backtracks over every inner run of whitespace:
        # quadratic in its length, inside C, where no deadline stops it (300 KB runs: many
        # minutes of a blocked loop). The step's timeout would not end it; TIMEOUT would.
        self.p.workflow("pad", """\
name: pad
steps:
  - id: shape
    task: transform
    timeout: 20s
    with:
      data: {v: "{{ ' ' * 300000 ~ 'x' ~ '\\t ' * 150000 ~ 'y' ~ ' \\n' * 150000 }}"}
      mappings:
        - {source: v, target: v, transform: trim}
outputs:
  v: "{{ steps.shape.output.v }}"
""")
        doc = self.assertRun("pad")
        self.assertEqual(doc["outputs"]["v"], "x" + "\t " * 150000 + "y")

    def test_invocations_do_not_see_each_others_writes_into_constant_input(self):
        # transform keeps its input (keeps_input): every invocation of a step gets the same
        # tables for the constant parts of `with:`. A table the output took from them (a
        # part of data, a default) is copied before a later target writes into it; else
        # the second item would read what the first wrote into the shared `data`.
        self.p.workflow("shared", """\
name: shared
steps:
  - id: shape
    task: transform
    for_each: [1, 2]
    with:
      data: {record: {kept: true}}
      mappings:
        - {source: record.written, target: seen}
        - {source: record, target: out}
        - {source: absent, target: out.written, default: "by an earlier item"}
        - {target: extra, default: {nested: {n: 1}}}
        - {target: extra.nested.m, default: 2}
outputs:
  items: "{{ steps.shape.output }}"
""")
        doc = self.assertRun("shared")
        expected = {"seen": None, "out": {"kept": True, "written": "by an earlier item"},
                    "extra": {"nested": {"n": 1, "m": 2}}}
        self.assertEqual(doc["outputs"]["items"], [expected, expected])
        # The records splice the constant parts' JSON text, made once: the same input.
        shown = self.p.show(doc["id"])
        for unit in ("shape[0]", "shape[1]"):
            recorded = shown["steps"][unit]["input"]
            self.assertEqual(recorded["data"], {"record": {"kept": True}})
            self.assertEqual(recorded["mappings"][3],
                             {"target": "extra", "default": {"nested": {"n": 1}}})
            self.assertEqual(len(recorded["mappings"]), 5)

    def test_servicenow_datetime_is_the_same_instant_in_servicenows_form(self):
        self.p.workflow("sn", """\
name: sn
inputs:
  times: {type: array}
steps:
  - id: shape
    task: transform
    for_each: "{{ inputs.times }}"
    with:
      data: {v: "{{ item }}"}
      mappings:
        - {source: v, target: v, transform: servicenow_datetime}
outputs:
  got: "{{ steps.shape.output | map(attribute='v') | list }}"
""")
        cases = {"2024-06-02T00:00:00+02:00": "2024-06-01 22:00:00",  # the offset applied
                 "2024-06-01T22:00:30.987Z": "2024-06-01 22:00:30",   # the fraction dropped
                 "2024-06-01 22:00": "2024-06-01 22:00:00",           # as a form reads it: UTC
                 "2024-06-02t01:30-01:30": "2024-06-02 03:00:00",
                 "2024-06-01": "2024-06-01 00:00:00",
                 1717279200: "2024-06-01 22:00:00",                    # Unix seconds
                 1717279200500: "2024-06-01 22:00:00"}                 # Unix milliseconds
        doc = self.assertRun("sn", "--input", "times=" + json.dumps(list(cases)))
        self.assertEqual(doc["outputs"]["got"], list(cases.values()))

    def test_a_misspelt_mapping_key_or_transform_is_an_error_whatever_the_value(self):
        # A misspelt key (transfrom, defualt) lost its transform or default without a word,
        # and a misspelt transform passed every run whose value was null: validate checks
        # what with: writes, and the step checks every mapping before any value.
        self.p.workflow("typos", """\
steps:
  - id: t
    task: transform
    with:
      data: {n: null, a: "x"}
      mappings:
        - {source: n, target: typo_null, transform: to_strng}
        - {source: a, target: b, transfrom: uppercase, defualt: "n/a"}
""")
        r = self.p.ferry("validate")
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn("task 'transform' input 'mappings[0].transform' must be one of "
                      "'date_to_days_remaining', ", r.stdout)
        self.assertIn("got 'to_strng'", r.stdout)
        self.assertIn("task 'transform' input 'mappings[1]' has no key 'transfrom' (did you "
                      "mean 'transform'?)", r.stdout)
        self.assertIn("input 'mappings[1]' has no key 'defualt' (did you mean 'default'?)",
                      r.stdout)
        # Written through an expression, only the run can tell: it fails, null or not.
        self.p.workflow("typos", """\
inputs:
  name: {type: string, default: to_strng}
steps:
  - id: t
    task: transform
    with:
      data: {n: null}
      mappings:
        - {source: n, target: d, transform: "{{ inputs.name }}"}
""")
        self.assertEqual(self.p.ferry("validate").returncode, 0)
        rc, doc, err = self.p.run("typos")
        self.assertEqual(rc, 1, err)
        self.assertIn("transform: unknown transform 'to_strng'", doc["error"]["message"])
        # A null transform is no transform, as a null default is none.
        self.p.workflow("none", """\
inputs:
  name: {type: string, default: null}
steps:
  - id: t
    task: transform
    with:
      data: {a: "x"}
      mappings:
        - {source: a, target: b, transform: null}
        - {source: a, target: c, transform: "{{ inputs.name }}"}
""")
        rc, doc, err = self.p.run("none")
        self.assertEqual(rc, 0, err + json.dumps(doc)[:1000])
        self.assertEqual(doc["steps"]["t"]["output"], {"b": "x", "c": "x"})

    def test_errors_name_the_transform_and_quote_the_value_briefly(self):
        self.p.workflow("bad", """\
name: bad
inputs:
  value: {type: any}
  transform: {type: string}
steps:
  - id: shape
    task: transform
    with:
      data: {v: "{{ inputs.value }}"}
      mappings:
        - {source: v, target: v, transform: "{{ inputs.transform }}"}
""")
        cases = [
            ("scale_to_100", json.dumps("x" * 5000),
             "scale_to_100: not a number: '" + "x" * 64 + "...'"),
            ("scale_to_100", json.dumps({"a": [1, 2]}), "scale_to_100: not a number: '{\"a\":[1,2]}'"),
            ("date_to_days_remaining", json.dumps("2026-02-30"),
             "date_to_days_remaining: not a date: '2026-02-30'"),
            ("iso8601", json.dumps("soon"), "iso8601: not a time: 'soon'"),
            ("to_number", json.dumps("é" * 40), "to_number: not a number: '" + "é" * 32 + "...'"),
            ("to_string", json.dumps("x"), None),  # control: this one succeeds
            # Values past what a time or a JSON number can be: validation, not a Lua error or
            # a wrapped-around result.
            ("date_to_days_remaining", "-9223372036854775807",
             "date_to_days_remaining: out of range: '-9223372036854775807'"),
            ("iso8601", "9223372036854775807", "iso8601: out of range: '9223372036854775807'"),
            ("iso8601", "1e300", "iso8601: out of range: '1e300'"),
            ("to_number", json.dumps("1e999"), "to_number: not a finite number: '1e999'"),
            ("servicenow_datetime", json.dumps("later"), "servicenow_datetime: not a time: 'later'"),
            ("servicenow_datetime", "1e300", "servicenow_datetime: out of range: '1e300'"),
            ("rot13", json.dumps("x"), "transform: unknown transform 'rot13' (known: "
             "date_to_days_remaining, iso8601, lowercase, scale_to_100, servicenow_datetime, "
             "to_number, to_string, trim, uppercase)"),
        ]
        results = in_parallel(*[
            (lambda t=t, v=v: self.p.run("bad", "--input", "transform=" + t, "--input",
                                         "value=" + v)) for t, v, _ in cases])
        for (t, v, message), (rc, doc, err) in zip(cases, results):
            with self.subTest(transform=t, value=v[:20]):
                if message is None:
                    self.assertEqual(rc, 0, err)
                    continue
                self.assertEqual(rc, 1, err)
                error = self.step_error(doc, "shape")
                self.assertEqual(error["kind"], "validation")
                self.assertEqual(error["message"], message)

    def test_to_string_of_a_list_or_object_is_its_json(self):
        self.p.workflow("ts", """\
steps:
  - id: shape
    task: transform
    with:
      data: {o: {a: 1}, l: [1, "x"]}
      mappings:
        - {source: o, target: o, transform: to_string}
        - {source: l, target: l, transform: to_string}
""")
        out = self.assertRun("ts")["steps"]["shape"]["output"]
        self.assertEqual(out, {"o": '{"a":1}', "l": '[1,"x"]'})

    def test_a_negative_target_index_is_refused(self):
        self.p.workflow("neg", """\
name: neg
steps:
  - id: shape
    task: transform
    with:
      data: {tags: [a, b]}
      mappings:
        - {source: "tags[-1]", target: "out[-1]"}
""")
        doc = self.assertRun("neg", code=1)
        error = self.step_error(doc, "shape")
        self.assertEqual(error["kind"], "validation")
        self.assertEqual(error["message"],
                         "transform: target 'out[-1]': a negative index can be read, not written")


    def test_null_or_absent_data_counts_as_an_empty_object(self):
        # The usual null: the output of a lookup skipped by its `when` (tasks.md: "null counts
        # as {}"); the schema had made data required, so the task never saw it.
        self.p.workflow("nulls", """\
inputs: {found: {type: boolean, default: false}}
steps:
  - {id: lookup, task: lua, when: "{{ inputs.found }}", with: {script: "return {a = 1}"}}
  - id: shape
    task: transform
    with:
      data: "{{ steps.lookup.output }}"
      mappings: [{source: a, target: b, default: none}]
  - id: bare
    task: transform
    with: {mappings: [{source: a, target: b, default: none}]}
""")
        doc = self.assertRun("nulls")
        self.assertEqual(doc["steps"]["shape"]["output"], {"b": "none"})
        self.assertEqual(doc["steps"]["bare"]["output"], {"b": "none"})
        doc = self.assertRun("nulls", "--input", "found=true")
        self.assertEqual(doc["steps"]["shape"]["output"], {"b": 1})


class ApprovalUnderRun(EngineTest):
    def test_run_returns_with_the_execution_waiting_even_with_a_timeout(self):
        # Nobody can decide inside `ferry run`: it must not sit out an hour-long timeout.
        self.p.workflow("appr", """\
steps:
  - id: ok
    task: approval
    with: {message: "Deploy?", timeout: 1h}
  - id: after
    task: log
    needs: [ok]
    with: {message: done}
""")
        started = time.monotonic()
        p = self.p.ferry("run", "appr")
        self.assertLess(time.monotonic() - started, 30)
        self.assertEqual(p.returncode, 0, p.stderr)
        doc = json.loads(p.stdout)
        self.assertEqual(doc["status"], "waiting")
        self.assertEqual(doc["steps"]["ok"]["status"], "waiting")
        self.assertNotIn("after", doc["steps"])  # not started
        self.assertIn("step ok waiting for a decision: Deploy?", p.stderr)
        self.assertIn("is waiting for an approval", p.stderr)


    def test_a_decision_that_cannot_take_the_execution_up_says_why(self):
        # A lock that could not be made (here a folder in its place; a full inode table, a
        # locks/ not writable) was reported as "waits in another ferry process that is
        # still running", and the operator looked for a process that did not exist.
        self.p.workflow("appr", """\
steps:
  - {id: ok, task: approval, with: {message: "Deploy?", timeout: 1h}}
""")
        run_id = self.assertRun("appr")["id"]
        (self.p.data / "locks" / run_id).mkdir(parents=True)
        r = self.p.ferry("executions", "approve", run_id, "ok")
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("waits for a decision, but cannot be taken up here: storage: cannot make "
                      "the lock", r.stderr)
        self.assertNotIn("waits in another ferry process", r.stderr)
        r = self.p.ferry("executions", "cancel", run_id)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("waits for a decision, but cannot be taken up here: cannot make the lock",
                      r.stderr)
        self.assertNotIn("cancel it through its API", r.stderr)
        (self.p.data / "locks" / run_id).rmdir()
        r = self.p.ferry("executions", "approve", run_id, "ok")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.p.show(run_id)["status"], "succeeded")

    def test_a_child_waiting_for_a_decision_is_no_interrupted_attempt_of_its_parent(self):
        # Every takeover (a refused CLI decision included) wrote an "interrupted" attempt on
        # the parent's step and counted one more, though the child ran once.
        self.p.workflow("asks", """\
inputs:
  tag: {type: string}
steps:
  - {id: gate, task: approval, with: {message: "ok for {{ inputs.tag }}?", approvers: [alice]}}
outputs:
  decision: "{{ steps.gate.output.decision }}"
""")
        self.p.workflow("loop", """\
steps:
  - {id: each, task: workflow, for_each: [x], with: {name: asks, inputs: {tag: "{{ item }}"}}}
""")
        top = self.assertRun("loop")["id"]
        child = json.loads(self.p.ferry("executions", "list", "--workflow", "asks",
                                        "--json").stdout)[0]["id"]
        for args in (("approve", top, "gate", "--as", "alice"), ("approve", top, "nosuch"),
                     ("approve", child, "gate", "--as", "bob")):
            r = self.p.ferry("executions", *args)
            self.assertEqual(r.returncode, 2, r.stderr)
        r = self.p.ferry("resume", "--quiet")
        self.assertEqual(r.returncode, 0, r.stderr)
        step = self.p.show(top)["steps"]["each[0]"]
        self.assertEqual((step["status"], step["attempt"], step.get("attempts", [])),
                         ("running", 1, []))
        r = self.p.ferry("executions", "approve", child, "gate", "--as", "alice")
        self.assertEqual(r.returncode, 0, r.stderr)
        doc = self.p.show(top)
        self.assertEqual(doc["status"], "succeeded", doc)
        step = doc["steps"]["each[0]"]
        self.assertEqual(step["attempt"], 1)
        self.assertEqual([a["status"] for a in step.get("attempts", [])], ["succeeded"])
        self.assertEqual(step["output"], {"decision": "approved"})

    def test_an_approval_a_failure_ended_keeps_its_record_after_a_crash(self):
        # The resume kept a step's record only when it had succeeded, failed or been
        # skipped: the approval the failure ended lost its attempt and start.
        self.p.workflow("own", """\
steps:
  - {id: ok, task: approval, with: {message: "go?"}}
  - {id: slow, task: sleep, with: {duration: 3s}}
  - {id: boom, task: fail, with: {message: "boom"}}
""")
        proc, run_id = self.run_in_background(
            "own", until=lambda shown: shown["steps"].get("ok", {}).get("status") == "cancelled")
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        before = self.p.show(run_id)["steps"]["ok"]
        r = self.p.ferry("resume", "--quiet", timeout=30)
        self.assertEqual(r.returncode, 1, r.stderr)
        after = self.p.show(run_id)["steps"]["ok"]
        for key in ("status", "attempt", "started_at", "error"):
            self.assertEqual(after[key], before[key], key)
        self.assertEqual(after["attempt"], 1)

    def test_a_child_that_waits_after_its_parent_failed_is_cancelled(self):
        # The child parked its approval after the parent had started failing: nothing
        # cancelled it, `ferry run` exited 0 "waiting", and the child stayed waiting.
        self.p.workflow("late", """\
steps:
  - {id: first, task: sleep, with: {duration: 500ms}}
  - {id: ok, task: approval, needs: first, with: {message: "go?"}}
  - {id: side, task: log, needs: ok, with: {message: "side effect"}}
""")
        self.p.workflow("par", """\
steps:
  - {id: sub, task: workflow, with: {name: late}}
  - {id: boom, task: fail, with: {message: "boom"}}
""")
        doc = self.assertRun("par", code=1)
        self.assertEqual(doc["status"], "failed")
        child = self.p.show(doc["steps"]["sub"]["child_execution"])
        self.assertEqual(child["status"], "cancelled", child)
        self.assertEqual(child["error"]["message"], "the parent execution failed before a decision")
        self.assertEqual(child["steps"]["ok"]["status"], "cancelled")
        self.assertEqual(child["steps"]["side"]["status"], "cancelled")

    def test_a_failing_execution_asks_for_no_decision(self):
        # The execution had failed, yet it waited (exit 0, "waiting" with an error) for a
        # decision that could only start steps that would not run, and in a sub-workflow
        # a decision did the child's side effect after its parent had failed.
        self.p.workflow("flat", """\
steps:
  - {id: gate, task: approval, with: {message: "ok?"}}
  - {id: bad, task: lua, with: {script: "ferry.sleep(0.2); error('bad')"}}
  - {id: after, task: log, needs: [gate], with: {message: "made"}}
""")
        doc = self.assertRun("flat", code=1)
        self.assertEqual(doc["status"], "failed")
        self.assertEqual(doc["steps"]["gate"]["status"], "cancelled")
        self.assertEqual(doc["steps"]["gate"]["error"]["message"],
                         "the execution failed before a decision")
        self.assertEqual(doc["steps"]["after"]["status"], "cancelled")
        self.p.workflow("asks", """\
inputs:
  what: {type: string}
steps:
  - {id: gate, task: approval, when: "{{ inputs.what == 'good' }}", with: {message: "ok?"}}
  - {id: bad, task: lua, when: "{{ inputs.what == 'bad' }}", with: {script: "ferry.sleep(0.2); error('bad')"}}
  - {id: made, task: log, needs: [gate], with: {message: "made"}}
""")
        self.p.workflow("loop", """\
steps:
  - {id: each, task: workflow, for_each: [good, bad], with: {name: asks, inputs: {what: "{{ item }}"}}}
""")
        doc = self.assertRun("loop", code=1)
        self.assertEqual(doc["status"], "failed")
        rows = json.loads(self.p.ferry("executions", "list", "--workflow", "asks",
                                       "--json").stdout)
        self.assertEqual(sorted(r["status"] for r in rows), ["cancelled", "failed"], rows)
        waited = next(r for r in rows if r["status"] == "cancelled")
        shown = self.p.show(waited["id"])
        # The child did not fail: its parent's step did.
        self.assertEqual(shown["error"]["message"],
                         "another item of the parent's step failed before a decision")
        self.assertEqual(shown["steps"]["gate"]["status"], "cancelled")
        self.assertEqual(shown["steps"]["made"]["status"], "cancelled")

    def test_the_command_line_decides_what_run_left_waiting(self):
        # Without a server nothing could decide: `ferry executions approve|reject` takes the
        # execution over, records the decision (by, via cli, comment) and runs it on.
        self.p.workflow("deploy", """\
steps:
  - id: cab
    task: approval
    with: {message: "Deploy?", approvers: [alice]}
  - id: apply
    task: log
    when: "{{ steps.cab.output.decision == 'approved' }}"
    with: {message: "applied, {{ steps.cab.output.comment }}"}
  - id: gate
    task: approval
    needs: [apply]
    for_each: [1, 2]
    with: {message: "Item {{ item }}?"}
""")
        doc = self.assertRun("deploy")
        run_id = doc["id"]
        decide = lambda *a: self.p.ferry("executions", *a)
        # Not an approver (the login name by default): refused, nothing decided.
        p = decide("approve", run_id, "cab")
        self.assertEqual(p.returncode, 2, p.stderr)
        # It names the approvers it takes (a token renamed since could not tell why).
        self.assertIn("is not among the approvers of step 'cab' (it takes alice, the names "
                      "recorded when it started", p.stderr)
        self.assertNotIn("execution resumed", p.stderr)  # it was said, and untrue
        p = decide("approve", run_id, "nostep", "--as", "alice")
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("has no step 'nostep'", p.stderr)
        p = decide("approve", run_id, "gate", "--as", "alice")  # not started yet
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("not waiting for approval (not started)", p.stderr)
        # Approved: the execution runs on to the next decisions, the for_each items.
        p = decide("approve", run_id, "cab", "--as", "alice", "--comment", "window ok")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("waits for another decision", p.stderr)
        self.assertIn("execution resumed", p.stderr)
        self.assertIn("step cab succeeded", p.stderr)
        # Decided already, with the execution still waiting: it said "(not started)".
        again = decide("reject", run_id, "cab", "--as", "alice")
        self.assertEqual(again.returncode, 2, again.stderr)
        self.assertRegex(again.stderr, r"step 'cab' is not waiting for approval: it was "
                                       r"approved by 'alice' at \d{4}-")
        doc = json.loads(p.stdout)
        self.assertEqual(doc["status"], "waiting")
        out = doc["steps"]["cab"]["output"]
        self.assertEqual((out["decision"], out["by"], out["via"], out["comment"]),
                         ("approved", "alice", "cli", "window ok"))
        self.assertEqual(doc["steps"]["apply"]["input"]["message"], "applied, window ok")
        # The step's own id names the items that wait; each is decided by its key.
        p = decide("reject", run_id, "gate")
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("decide its items one by one (waiting: gate[0], gate[1])", p.stderr)
        p = decide("approve", run_id, "gate[0]", "--quiet")
        self.assertEqual((p.returncode, p.stderr), (0, "ferry executions approve: execution " +
                                                       run_id + " waits for another decision\n"))
        p = decide("reject", run_id, "gate[1]", "--as", "bob")
        self.assertEqual(p.returncode, 0, p.stderr)
        doc = json.loads(p.stdout)
        self.assertEqual(doc["status"], "succeeded")
        self.assertEqual(doc["steps"]["gate[1]"]["output"]["decision"], "rejected")
        self.assertEqual(doc["steps"]["gate[1]"]["output"]["by"], "bob")
        # Decided: a second decision is refused.
        p = decide("approve", run_id, "cab", "--as", "alice")
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("is not waiting for a decision", p.stderr)
        for args, message in ((["approve"], "needs an execution ID and a step"),
                              (["approve", run_id], "needs an execution ID and a step"),
                              (["approve", run_id, "cab", "--as"], "--as needs a value"),
                              (["approve", run_id, "cab", "--as", ""], "--as needs a name"),
                              (["reject", run_id, "cab", "--bogus"], "unknown option '--bogus'"),
                              (["approve", "NOPE", "cab"], "no execution 'NOPE'")):
            p = decide(*args)
            self.assertEqual(p.returncode, 2, args)
            self.assertIn(message, p.stderr)


    def test_a_decision_after_the_timeout_is_refused_and_the_timeout_applied(self):
        # The deadline passed while no process ran the execution: the timeout decides (as a
        # server start would apply it), not a late approval.
        self.p.workflow("late", """\
steps:
  - {id: cab, task: approval, with: {message: "Go?", timeout: 1s}}
  - {id: esc, task: approval, with: {message: "Escalated?", timeout: 1s, on_timeout: page}}
  - {id: page, task: log, with: {message: paged}}
""")
        run_id = self.assertRun("late")["id"]
        time.sleep(1.3)
        p = self.p.ferry("executions", "approve", run_id, "cab", "--as", "alice")
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("step 'cab' is not waiting for approval: its timeout passed at ", p.stderr)
        # That process applied the other timeout too (its escalation step ran), and ended it.
        p = self.p.ferry("executions", "approve", run_id, "esc", "--as", "alice")
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("is not waiting for a decision: step 'esc' ended failed", p.stderr)
        # Asked again: what decided it is named, not only that nothing waits.
        p = self.p.ferry("executions", "approve", run_id, "cab", "--as", "alice")
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("is not waiting for a decision: step 'cab' was rejected by its timeout at ",
                      p.stderr)
        doc = json.loads(self.p.ferry("executions", "show", run_id, "--json").stdout)
        out = doc["steps"]["cab"]["output"]
        self.assertEqual((out["decision"], out["by"]), ("rejected", "timeout"))
        self.assertEqual(doc["steps"]["esc"]["error"]["kind"], "timeout")
        self.assertEqual(doc["steps"]["page"]["status"], "succeeded")
        self.assertEqual(doc["status"], "succeeded")  # the escalation handled it (on_error)


    def test_the_command_line_cancels_what_no_live_process_runs(self):
        # Without a server, an execution left waiting (or left running by a process that
        # died) could not be cancelled at all.
        self.p.workflow("gate", "steps:\n  - {id: cab, task: approval, with: {message: go}}\n"
                                "  - {id: after, task: log, needs: [cab], with: {message: x}}\n")
        run_id = self.assertRun("gate")["id"]
        cancel = lambda *a: self.p.ferry("executions", "cancel", *a)
        p = cancel(run_id, "--reason", "change window closed")
        self.assertEqual(p.returncode, 0, p.stderr)
        doc = json.loads(p.stdout)
        self.assertEqual(doc["status"], "cancelled")
        self.assertEqual(doc["steps"]["cab"]["status"], "cancelled")
        self.assertEqual(doc["steps"]["after"]["status"], "cancelled")
        self.assertEqual(doc["error"]["kind"], "cancelled")
        self.assertRegex(doc["error"]["message"],
                         r"^change window closed \(cancelled by .+ \(cli\)\)$")
        p = self.p.ferry("executions", "approve", run_id, "cab")
        self.assertEqual(p.returncode, 2, p.stderr)  # decided by the cancel
        for args, message in (([run_id], "execution '%s' already ended (cancelled)" % run_id),
                              (["NOPE"], "no execution 'NOPE'"),
                              ([], "cancel needs an execution ID"),
                              ([run_id, "--bogus"], "unknown option '--bogus'")):
            p = cancel(*args)
            self.assertEqual(p.returncode, 2, (args, p.stderr))
            self.assertIn(message, p.stderr)

    def test_the_command_line_cancels_an_execution_whose_process_died(self):
        self.p.workflow("nap", "steps:\n  - {id: nap, task: sleep, with: {duration: 30s}}\n"
                               "  - {id: fan, task: sleep, for_each: [0, 1, 2], concurrency: 1,\n"
                               "     with: {duration: \"{{ '10ms' if item == 0 else '30s' }}\"}}\n")
        # Until fan[1] runs (fan[0] took 10ms).
        proc, run_id = self.run_in_background(
            "nap", until=lambda shown: shown["steps"].get("fan[1]", {}).get("status") == "running")
        p = self.p.ferry("executions", "cancel", run_id)  # its process is alive
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("another ferry process", p.stderr)
        proc.kill()
        proc.wait(timeout=10)
        p = self.p.ferry("executions", "cancel", run_id)
        self.assertEqual(p.returncode, 0, p.stderr)
        # Taken up to be cancelled, not resumed; an item that never ran took no time.
        self.assertNotIn("resumed", p.stderr)
        self.assertRegex(p.stderr, r"step fan cancelled in (\d+ms|\d+\.\d\ds): the execution was cancelled "
                                   r"before all items ran")
        self.assertIn("execution cancelled in ", p.stderr)
        doc = json.loads(p.stdout)
        steps = doc["steps"]
        self.assertEqual((doc["status"], steps["nap"]["status"]), ("cancelled", "cancelled"))
        # Started steps end as they were (attempt, start, the attempt the process died in),
        # not as steps that never ran; and no item stays running in an ended execution.
        nap = steps["nap"]
        self.assertEqual(nap["attempt"], 1, nap)
        self.assertIsNotNone(nap["started_at"], nap)
        self.assertIn("after its process stopped during this step", nap["reason"])
        self.assertEqual((steps["fan[0]"]["status"], steps["fan[1]"]["status"]),
                         ("succeeded", "cancelled"), steps)
        self.assertEqual(steps["fan[1]"]["attempt"], 1)
        self.assertEqual(steps["fan"]["reason"], "the execution was cancelled before all items ran")
        self.assertEqual(steps["fan"]["started_at"], steps["fan[0]"]["started_at"])
        self.assertTrue(steps["fan"]["finished_at"], steps["fan"])
        self.assertNotIn("running", {s["status"] for s in steps.values()}, steps)
        shown = json.loads(self.p.ferry("executions", "show", run_id, "--json").stdout)
        attempts = shown["steps"]["nap"].get("attempts") or []
        self.assertEqual([a["status"] for a in attempts], ["interrupted"], shown["steps"]["nap"])

    def test_a_cancel_of_a_failing_execution_keeps_its_failure(self):
        # The failure came first and was on record: a cancel (to stop what still runs)
        # made it "cancelled" and skipped the on_failure hook that pages for the failure.
        self.p.write("tasks/hooks/page.lua", """\
return {on_failure = function(ctx, event) ferry.log.error("paging for " .. event.error.step) end}
""")
        self.p.workflow("winding", """\
hooks: {on_failure: hooks/page.lua}
steps:
  - {id: bad, task: fail, with: {message: broken}}
  - {id: slow, task: sleep, with: {duration: 30s}}
""")
        proc, run_id = self.run_in_background("winding", until=lambda shown: shown.get("error"))
        proc.kill()
        proc.wait(timeout=10)
        p = self.p.ferry("executions", "cancel", run_id)
        doc = json.loads(p.stdout)
        self.assertEqual(doc["status"], "failed", doc)
        self.assertEqual((doc["error"]["step"], doc["error"]["message"]), ("bad", "broken"))
        self.assertEqual(doc["steps"]["slow"]["status"], "cancelled")
        self.assertIn("on_failure hook [error]: paging for bad", p.stderr)
        self.assertEqual(p.returncode, 1, p.stderr)  # it did not end cancelled

    def test_an_approval_timeout_into_an_escalation_is_not_retried(self):
        # The deadline is the decision's: a retried attempt parked with it already past and
        # recorded "no decision before the approval's timeout" after a few milliseconds,
        # three times, before the escalation ran.
        self.p.workflow("esc", """\
steps:
  - id: gate
    task: approval
    retry: {max_attempts: 3, backoff: fixed, initial_delay: 1s}
    with: {message: "Go?", timeout: 500ms, on_timeout: page}
  - {id: page, task: log, with: {message: paged}}
""")
        run_id = self.assertRun("esc")["id"]
        time.sleep(0.8)
        p = self.p.ferry("executions", "approve", run_id, "gate", "--as", "alice")
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("its timeout passed at ", p.stderr)
        doc = json.loads(self.p.ferry("executions", "show", run_id, "--json").stdout)
        gate = doc["steps"]["gate"]
        self.assertEqual((gate["status"], gate["attempt"]), ("failed", 1), gate)
        self.assertEqual(gate["error"]["kind"], "timeout")
        self.assertEqual(doc["steps"]["page"]["status"], "succeeded")
        self.assertEqual(doc["status"], "succeeded")

    def test_a_step_timeout_on_an_approval_is_refused_for_its_own(self):
        # Silently ignored before: the wait is bounded by with.timeout alone.
        self.p.workflow("bounded", """\
steps:
  - id: gate
    task: approval
    timeout: 2s
    with: {message: "Go?", timeout: 30s}
""")
        p = self.p.ferry("validate")
        self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
        self.assertIn("bounded.yaml:4:14: step 'gate': an approval waits as long as its "
                      "with.timeout says, not the step's timeout; write with: {timeout: ...}",
                      p.stdout + p.stderr)

    def test_an_approvals_timeout_and_escalation_are_checked_as_written(self):
        # timeout: soon validated clean and failed the run; an on_timeout naming no step was
        # told as an 'on_error' problem, a key the workflow never wrote.
        self.p.workflow("esc", """\
steps:
  - id: gate
    task: approval
    with: {message: m, timeout: soon, on_timeout: pagee}
  - {id: page, task: log, with: {message: p}}
""")
        p = self.p.ferry("validate")
        self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
        self.assertIn("esc.yaml:4:11: step 'gate': on_timeout must be reject or a step id; "
                      "there is no step 'pagee'", p.stdout)
        self.assertIn("esc.yaml:4:11: step 'gate': with.timeout: expected a duration like "
                      "300ms, 2s, 1m30s or 1h, got 'soon'", p.stdout)
        self.assertNotIn("on_error", p.stdout)

    def test_a_for_each_step_resumed_for_decisions_keeps_its_start(self):
        # Each decision resumes the execution and schedules the step again; its record
        # began then, after its own items.
        self.p.workflow("gates", """\
steps:
  - {id: gate, task: approval, for_each: [1, 2], with: {message: "Item {{ item }}?"}}
""")
        run_id = self.assertRun("gates")["id"]
        time.sleep(1.2)
        self.assertEqual(self.p.ferry("executions", "approve", run_id, "gate[0]").returncode, 0)
        p = self.p.ferry("executions", "approve", run_id, "gate[1]")
        self.assertEqual(p.returncode, 0, p.stderr)
        doc = json.loads(p.stdout)
        self.assertEqual(doc["status"], "succeeded")
        steps = doc["steps"]
        # It began with its first item (RFC 3339 UTC texts of one length compare as times).
        self.assertEqual(steps["gate"]["started_at"],
                         min(steps["gate[0]"]["started_at"], steps["gate[1]"]["started_at"]))
        self.assertGreater(steps["gate"]["duration_ms"], 1000)


    def test_a_sub_workflow_approval_is_decided_in_its_execution_as_the_refusals_say(self):
        self.p.workflow("inner", "steps:\n  - {id: gate, task: approval, with: {message: go}}\n")
        self.p.workflow("outer", "steps:\n  - {id: sub, task: workflow, with: {name: inner}}\n"
                                 "  - {id: after, task: log, needs: [sub], with: {message: done}}\n")
        doc = self.assertRun("outer")
        parent = doc["id"]
        child = doc["steps"]["sub"]["child_execution"]
        p = self.p.ferry("executions", "approve", parent, "gate")
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("step 'gate' is in sub-workflow execution %s (step 'sub' of this one): "
                      "decide it there" % child, p.stderr)
        p = self.p.ferry("executions", "approve", parent, "sub")
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("step 'sub' runs sub-workflow execution %s, which waits for a decision on "
                      "'gate'" % child, p.stderr)
        p = self.p.ferry("executions", "approve", child, "gate")
        self.assertEqual(p.returncode, 0, p.stderr)
        doc = json.loads(p.stdout)  # the top-level execution, run on to its end
        self.assertEqual((doc["id"], doc["status"]), (parent, "succeeded"))
        self.assertEqual(doc["steps"]["after"]["status"], "succeeded")


    def test_a_decision_while_ferry_run_still_runs_the_execution_is_refused_so(self):
        self.p.workflow("par", "steps:\n  - {id: gate, task: approval, with: {message: go}}\n"
                               "  - {id: slow, task: sleep, with: {duration: 3s}}\n")
        cmd = [FERRY, "run", "par", "--quiet", "--project", str(self.p.dir), "--data", str(self.p.data)]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                cwd=str(self.p.dir))
        self.procs.append(proc)
        deadline = time.monotonic() + 10
        listed = []
        while time.monotonic() < deadline and not listed:
            time.sleep(0.1)
            out = self.p.ferry("executions", "list", "--json").stdout
            listed = json.loads(out) if out.strip() else []
        self.assertTrue(listed, "the run never recorded its execution")
        p = self.p.ferry("executions", "approve", listed[0]["id"], "gate")
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("is still run by another ferry process: decide once only decisions are "
                      "left", p.stderr)
        proc.communicate(timeout=30)
        self.assertEqual(proc.returncode, 0)


    def test_a_late_decision_through_the_parent_says_the_timeout_decided(self):
        self.p.workflow("inner", "steps:\n  - {id: gate, task: approval, "
                                 "with: {message: go, timeout: 1s}}\n")
        self.p.workflow("outer", "steps:\n  - {id: sub, task: workflow, with: {name: inner}}\n")
        parent = self.assertRun("outer")["id"]
        time.sleep(1.3)
        # Named by the parent's step too: the timeout decided it.
        p = self.p.ferry("executions", "approve", parent, "sub")
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("step 'gate' is not waiting for approval: its timeout passed at", p.stderr)
        doc = json.loads(self.p.ferry("executions", "show", parent, "--json").stdout)
        self.assertEqual(doc["status"], "succeeded")  # the rejection by timeout ends it
        p = self.p.ferry("executions", "approve", parent, "gate")  # ended: not the parent's
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("has no step 'gate'", p.stderr)


class OutputForms(EngineTest):
    def test_run_prints_compact_or_pretty_json_and_takes_json(self):
        # `--json`, as other commands take it, was refused by run and resume ("unknown
        # option"), whose output is JSON anyway.
        self.p.workflow("one", "steps:\n  - {id: s, task: log, with: {message: hi}}\n")
        compact = self.p.ferry("run", "one", "--quiet")
        self.assertEqual(compact.returncode, 0, compact.stderr)
        self.assertEqual(compact.stdout.count("\n"), 1)
        pretty = self.p.ferry("run", "one", "--quiet", "--pretty", "--json")
        self.assertEqual(pretty.returncode, 0, pretty.stderr)
        doc = json.loads(pretty.stdout)
        self.assertEqual(doc["status"], "succeeded")
        self.assertGreater(pretty.stdout.count("\n"), 10)
        self.assertIn('\n  "workflow": "one"', pretty.stdout)
        resumed = self.p.ferry("resume", "--json")
        self.assertEqual(resumed.returncode, 0, resumed.stderr)
        self.assertNotIn("unknown option", resumed.stderr)


class LogTask(EngineTest):
    def test_any_value_is_logged_text_as_it_is_the_rest_as_json(self):
        # "{{ item }}" keeps the item's type: the log task takes it as it comes.
        self.p.workflow("logs", """\
steps:
  - id: each
    for_each: [3, 1.5, {a: [2]}, "plain text", true]
    task: log
    with: {message: "{{ item }}", level: warn}
""")
        doc = self.assertRun("logs")
        messages = [doc["steps"]["each[%d]" % i]["logs"][0]["message"] for i in range(5)]
        self.assertEqual(messages, ["3", "1.5", '{"a":[2]}', "plain text", "true"])
        self.assertEqual(doc["steps"]["each[0]"]["logs"][0]["level"], "warn")

    def test_ctx_log_of_a_table_is_its_json_not_its_address(self):
        self.p.workflow("tables", r"""
steps:
  - id: t
    task: lua
    with:
      script: |
        ctx.log.info({a = {1, 2}})
        ctx.log.warn(setmetatable({}, {__tostring = function() return "shown" end}))
        ctx.log.info("plain", {n = 1})
        ctx.log.info("latin-1", {a = "ok", name = "Jos\233"})
        ctx.log.info({name = "Jos\233", id = 7})
""")
        logs = self.assertRun("tables")["steps"]["t"]["logs"]
        self.assertEqual([entry["message"] for entry in logs[:4]],
                         ['{"a":[1,2]}', "shown", "plain", "latin-1"])
        self.assertEqual(json.loads(logs[4]["message"]), {"id": 7, "name": "Jos\ufffd"})
        self.assertEqual(logs[2]["fields"], {"n": 1})
        # Bytes that are not UTF-8 are kept as U+FFFD; they no longer drop every field.
        self.assertEqual(logs[3]["fields"], {"a": "ok", "name": "Jos\ufffd"})

    def test_fields_a_log_entry_cannot_keep_say_so(self):
        # They were dropped without a word: the entry looked as if none had been given.
        self.p.workflow("unkept", r"""
steps:
  - id: t
    task: lua
    with:
      script: |
        ctx.log.info("fn", {f = print})
        ctx.log.info("huge", {blob = string.rep("x", 70000)})
        ctx.log.info("text", "not a table")
        ctx.log.info("none")
""")
        logs = self.assertRun("unkept")["steps"]["t"]["logs"]
        self.assertEqual([e["message"] for e in logs], ["fn", "huge", "text", "none"])
        self.assertEqual(logs[0]["fields"],
                         {"fields_not_stored": "f: cannot encode a function as JSON"})
        self.assertEqual(logs[1]["fields"], {"fields_not_stored": "70011 bytes of JSON, more "
                                             "than the 64 KiB a log entry keeps"})
        self.assertEqual(logs[2]["fields"],
                         {"fields_not_stored": "fields must be a table, got a string"})
        self.assertNotIn("fields", logs[3])


class TaskContext(EngineTest):
    def test_ctx_fields_are_its_own_per_invocation_and_listed_by_pairs(self):
        # The step's own fields (workflow, step_id, task, provider, dry_run) are shared by
        # every invocation of the step behind ctx's metatable; the rest is per invocation.
        # A task that changes its ctx changes only its own, and pairs(ctx) lists all fields.
        self.p.write("tasks/custom/ctx.lua", """\
return {
  name = "custom.ctx",
  run = function(ctx, input)
    local keys = {}
    for k in pairs(ctx) do keys[#keys + 1] = k end
    table.sort(keys)
    local seen = { keys = keys, step_id = ctx.step_id, workflow = ctx.workflow,
                   task = ctx.task, dry_run = ctx.dry_run, unit = ctx.unit,
                   index = ctx.index, http = type(ctx.http), log = type(ctx.log) }
    ctx.step_id = "changed by " .. ctx.unit
    ctx.dry_run = "changed"
    seen.after = ctx.step_id
    return seen
  end,
}
""")
        self.p.workflow("ctxs", """\
steps:
  - {id: each, task: custom.ctx, for_each: [a, b], concurrency: 1}
  - {id: again, task: custom.ctx, needs: [each]}
""")
        doc = self.assertRun("ctxs")
        fields = ["attempt", "dry_run", "execution_id", "idempotency_key", "provider",
                  "resumed", "step_id", "task", "unit", "workflow"]
        for unit, index in (("each[0]", 0), ("each[1]", 1)):
            out = doc["steps"][unit]["output"]
            self.assertEqual(out["keys"], sorted(fields + ["index", "item"]), unit)
            self.assertEqual((out["step_id"], out["workflow"], out["task"], out["dry_run"]),
                             ("each", "ctxs", "custom.ctx", False), unit)
            self.assertEqual((out["unit"], out["index"]), (unit, index))
            self.assertEqual((out["http"], out["log"]), ("function", "table"))
            self.assertEqual(out["after"], "changed by " + unit)
        again = doc["steps"]["again"]["output"]
        self.assertEqual(again["keys"], fields)
        self.assertEqual((again["step_id"], again["dry_run"]), ("again", False))

        # Returned, encoded or logged whole, ctx shows the step's shared fields too.
        self.p.write("tasks/custom/whole.lua", """\
return {
  name = "custom.whole",
  run = function(ctx, input)
    -- ctx.http once read stays one function and out of pairs(ctx) (it became a field:
    -- returning or logging ctx then failed on "cannot encode a function").
    local http = ctx.http
    assert(http == ctx.http)
    for _, v in pairs(ctx) do assert(type(v) ~= "function") end
    ctx.log.info("ctx", ctx)
    ctx.attempt_seen = ctx.attempt
    return { ctx = ctx, text = ferry.json.decode(ferry.json.encode(ctx)) }
  end,
}
""")
        self.p.workflow("whole", """\
steps:
  - {id: w, task: custom.whole}
  - id: read
    task: transform
    with: {data: "{{ steps.w.output.ctx }}", mappings: [{source: step_id, target: step}]}
""")
        doc = self.assertRun("whole")
        out = doc["steps"]["w"]["output"]
        for seen in (out["ctx"], out["text"], doc["steps"]["w"]["logs"][0]["fields"]):
            self.assertEqual((seen["workflow"], seen["step_id"], seen["task"], seen["dry_run"]),
                             ("whole", "w", "custom.whole", False), seen)
        self.assertEqual(out["ctx"]["attempt_seen"], 1)
        self.assertEqual(doc["steps"]["read"]["output"], {"step": "w"})

        # The same step in a dry run: its ctx says so (a metatable per dry-run mode).
        rc, dry, err = self.p.run("ctxs", "--dry-run")
        self.assertEqual(rc, 0, err)
        self.assertEqual(dry["steps"]["each[1]"]["output"]["dry_run"], True)
        self.assertEqual(dry["steps"]["each[1]"]["output"]["step_id"], "each")


class DeadLetters(EngineTest):
    def test_entries_are_objects_and_credential_headers_are_redacted(self):
        self.p.workflow("dl", """\
steps:
  - id: keep
    task: lua
    with:
      script: |
        ctx.dead_letter({integration = "hook", request = {method = "POST",
          url = "http://127.0.0.1:9/", headers = {Authorization = "Bearer abc-secret",
          ["X-Trace"] = "t1"}, body = "x"}})
        return "kept"
  - {id: list, task: lua, on_error: continue, with: {script: "ctx.dead_letter({1, 2})"}}
""")
        doc = self.assertRun("dl")
        self.assertIn("must be a table of fields", self.step_error(doc, "list")["message"])
        p = self.p.ferry("dlq", "list", "--json")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertNotIn("abc-secret", p.stdout)
        entries = json.loads(p.stdout)
        self.assertEqual(len(entries), 1, p.stdout)
        headers = entries[0]["request"]["headers"]
        self.assertEqual(headers, {"Authorization": "[REDACTED]", "X-Trace": "t1"})
        self.assertRegex(entries[0]["id"], r"^[0-9A-Z]{26}$")
        # A dry run keeps none: a replay would send what the dry run held back, for real.
        rc, dry, err = self.p.run("dl", "--dry-run")
        self.assertEqual(rc, 0, err)
        self.assertEqual(len(json.loads(self.p.ferry("dlq", "list", "--json").stdout)), 1)
        self.assertIn("dry run: 1 dead letter(s) not kept",
                      [e["message"] for e in dry["steps"]["keep"]["logs"]])

    def test_a_replay_that_cannot_go_says_why(self):
        self.p.write("ferry.yaml", "integrations:\n  hook: {type: webhook, url: "
                     "\"http://127.0.0.1:9/in\"}\n")
        self.p.workflow("dl", """\
steps:
  - id: keep
    task: lua
    with:
      script: |
        ctx.dead_letter({integration = "hook", request = {method = "POST",
          url = "http://10.0.0.9/elsewhere", body = "x"}})
        ctx.dead_letter({note = "no request"})
        ctx.dead_letter({request = {method = "POST", url = "http://127.0.0.1:9/in"}})
""")
        self.assertRun("dl")
        entries = json.loads(self.p.ferry("dlq", "list", "--json").stdout)
        self.assertEqual(len(entries), 3)
        messages = []
        for entry in entries:
            r = self.p.ferry("dlq", "replay", entry["id"])
            self.assertNotEqual(r.returncode, 0)
            messages.append(r.stderr)
        text = "\n".join(messages)
        # A webhook integration has a url, not a base_url: that is what is named.
        self.assertIn("which is not on integration 'hook' as ferry.yaml defines it now "
                      "(url http://127.0.0.1:9/in)", text)
        self.assertIn("has no request to replay", text)
        self.assertIn("names no integration to send it through", text)


class RecordBudget(EngineTest):
    def test_logs_changes_and_dead_letters_are_bounded(self):
        # 40 log lines of 8 MiB took the process to 2 GB and the history to 660 MB.
        self.p.workflow("big", """\
steps:
  - id: logs
    task: lua
    with:
      script: |
        local s = string.rep("x", 1024 * 1024)
        for i = 1, 200 do ctx.log.info(s) end
        for i = 1, 200 do ctx.log.info("small " .. i) end
        return "done"
  - id: changes
    task: lua
    on_error: continue
    with:
      script: |
        local big = { text = string.rep("y", 512 * 1024) }
        for i = 1, 40 do ctx.change("thing", tostring(i), nil, big) end
        return "never"
""")
        doc = self.assertRun("big")
        logs = self.p.show(doc["id"])["steps"]["logs"]["logs"]
        self.assertLess(len(logs), 200)  # each cut to 64 KiB, then 8 MiB in all
        self.assertFalse(any(e["message"].startswith("small") for e in logs))
        self.assertLessEqual(max(len(e["message"]) for e in logs), 64 * 1024 + 64)
        self.assertIn("more bytes cut)", logs[0]["message"])
        self.assertIn("later log entries are dropped", logs[-1]["message"])
        self.assertEqual(doc["steps"]["logs"]["output"], "done")
        err = self.step_error(doc, "changes")
        self.assertEqual(err["kind"], "limit")
        self.assertIn("ferry.step.change: the task has recorded more than 8 MiB", err["message"])
        store = sum(f.stat().st_size for f in self.p.data.rglob("*.mdb"))
        self.assertLess(store, 64 * 1024 * 1024)


class StdlibText(EngineTest):
    def test_clip_quote_and_http_status(self):
        # ferry.text: how error messages quote what they got (stdlib/ferry/text.lua).
        self.p.workflow("text", """\
steps:
  - id: t
    task: lua
    with:
      script: |
        local t = require("ferry.text")
        return {
          short = t.clip("abc", 3),
          cut = t.clip("h\\u{e9}llo", 2),
          table = t.quoted({x = 1}),
          long = t.quoted(string.rep("y", 100), 4),
          bare = t.http_status({status = 502, body = "  "}),
          body = t.http_status({status = 400, body = string.rep("z", 300)}),
        }
""")
        doc = self.assertRun("text")
        self.assertEqual(doc["steps"]["t"]["output"], {
            "short": "abc", "cut": "h...", "table": "'{\"x\":1}'", "long": "'yyyy...'",
            "bare": "HTTP 502", "body": "HTTP 400: " + "z" * 200 + "..."})

    def test_a_bad_clip_limit_or_change_id_is_refused(self):
        # clip(s, -1) gave the whole text and "..."; an id of NaN was recorded as "-nan".
        self.p.workflow("bad", """\
steps:
  - {id: neg, task: lua, on_error: continue, with: {script: "local s = ferry.text.clip('abc', -1) return s"}}
  - {id: frac, task: lua, on_error: continue, with: {script: "local s = ferry.text.clip('abc', 1.5) return s"}}
  - {id: whole, task: lua, with: {script: "return ferry.text.clip('abcdef', 6 / 2)"}}
  - {id: nan, task: lua, on_error: continue, with: {script: "ctx.change('k', 0/0, nil, {a = 1}) return 1"}}
""")
        doc = self.assertRun("bad")
        for step in ("neg", "frac"):
            self.assertIn(step + ".script:1: ferry.text.clip: the limit must be a whole number "
                          "of bytes, 0 or more", self.step_error(doc, step)["message"])
        self.assertEqual(doc["steps"]["whole"]["output"], "abc...")
        self.assertIn("the resource's id must be a finite number",
                      self.step_error(doc, "nan")["message"])
        diff = self.p.ferry("executions", "diff", doc["id"])
        self.assertNotIn("nan", diff.stdout)


class TemplateRender(EngineTest):
    # The engine renders template.render steps itself (engine/core/native_tasks.cpp): the
    # text must be what Jinja2 makes of the same data, keys in their order.
    DATA_TEMPLATE = ("{% for k, v in inputs.data.items() %}{{ k }}={{ v }};{% endfor %}\n"
                     "{{ inputs.data.mid.x | tojson }} {{ inputs.data.zeta * 2 }} {{ inputs.note }}"
                     " {{ vars.greeting }}\n")
    STEPS_TEMPLATE = "{{ steps.first.output.text | length }}:{{ steps.first.output.text }}"

    def test_default_vars_render_as_jinja2_does(self):
        import jinja2
        self.p.write("templates/data.j2", self.DATA_TEMPLATE)
        self.p.write("templates/steps.j2", self.STEPS_TEMPLATE)
        self.p.workflow("report", """\
inputs:
  data: {type: object, required: true}
  note: {type: string, default: "caf\\u00e9 <b>&"}
vars:
  greeting: hello
steps:
  - {id: first, task: template.render, with: {template: data.j2}}
  - {id: second, task: template.render, needs: first, with: {template: steps.j2}}
outputs:
  text: "{{ steps.second.output.text }}"
""")
        data = {"zeta": 1, "alpha": 2.5, "mid": {"x": [1, 2.5, None, True, "q\"uote"]},
                "empty": {}, "list": []}
        doc = self.assertRun("report", "--input", "data=" + json.dumps(data))
        env = jinja2.Environment()  # ferry.template drops the trailing newline, as Jinja2 does
        env.policies["json.dumps_kwargs"] = {"sort_keys": False}
        first = env.from_string(self.DATA_TEMPLATE).render(
            inputs={"data": data, "note": "caf\u00e9 <b>&"}, vars={"greeting": "hello"})
        self.assertEqual(doc["steps"]["first"]["output"]["text"], first)
        self.assertTrue(first.startswith("zeta=1;alpha=2.5;mid={'x': [1, 2.5, None, True, "))
        second = env.from_string(self.STEPS_TEMPLATE).render(
            steps={"first": {"output": {"text": first}}})
        self.assertEqual(doc["outputs"]["text"], second)
        # `ferry run` prints the step records as stored (spliced, history.cpp); `executions
        # show` parses and writes them again with their attempts: the same records.
        shown = self.p.show(doc["id"])
        for key, step in shown["steps"].items():
            step.pop("attempts")
            self.assertEqual(doc["steps"][key], step)
        self.assertEqual({k: v for k, v in shown.items() if k != "steps"},
                         {k: v for k, v in doc.items() if k != "steps"})

    def test_default_vars_also_hold_each_input_by_name(self):
        # The contract's example: the bundled incident.md.j2 reads `title` and `severity`.
        self.p.workflow("inc", """\
inputs:
  title: {type: string, required: true}
  severity: {type: string, default: medium}
  steps: {type: string, default: shadowed}
steps:
  - {id: body, task: template.render, with: {template: incident.md.j2}}
  - id: shadow
    task: template.render
    needs: body
    with: {template: shadow.j2}
""")
        self.p.write("templates/shadow.j2", "{{ steps.body.output.text[:1] }}|{{ inputs.steps }}")
        doc = self.assertRun("inc", "--input", "title=Disk full on db-7", "--input",
                             "severity=high")
        text = doc["steps"]["body"]["output"]["text"]
        self.assertTrue(text.startswith("# Disk full on db-7\n"), text)
        self.assertIn("**Severity:** HIGH", text)
        # The context's own names win over an input's.
        self.assertEqual(doc["steps"]["shadow"]["output"]["text"], "#|shadowed")

    def test_a_template_error_fails_the_step_naming_the_place(self):
        self.p.write("templates/bad.j2", "line one\n{{ inputs.x | no_such_filter }}\n")
        self.p.workflow("bad", """\
steps:
  - {id: r, task: template.render, with: {template: bad.j2}}
""")
        doc = self.assertRun("bad", code=1)
        err = self.step_error(doc, "r")
        self.assertEqual(err["kind"], "validation")
        self.assertIn("bad.j2:2", err["message"])
        self.assertIn("no_such_filter", err["message"])
        # A missing template named as it is: refused before anything runs.
        self.p.workflow("missing", "steps:\n  - {id: r, task: template.render, with: {template: nope.j2}}\n")
        rc, _, err = self.p.run("missing")
        self.assertEqual(rc, 2, err)
        self.assertIn("step 'r': template 'nope.j2' is not in templates/", err)
        # Named by an expression, it fails its step when it runs.
        self.p.workflow("computed", "inputs: {t: {type: string, default: nope.j2}}\nsteps:\n"
                        "  - {id: r, task: template.render, with: {template: \"{{ inputs.t }}\"}}\n")
        doc = self.assertRun("computed", code=1)
        self.assertIn("nope.j2", self.step_error(doc, "r")["message"])

    def test_a_template_past_the_size_the_engine_parses_fails_its_step(self):
        # A parse cannot be interrupted (the render's 10 s limit starts after it): 16 MB of
        # `{% set %}` held the loop for 46 s and 2.5 GB, and the step "succeeded".
        self.p.write("templates/huge.j2", "{% set x = 1 %}" * 70000)  # 1.05 MB
        self.p.workflow("huge", """\
steps:
  - {id: file, task: template.render, with: {template: huge.j2}}
  - id: text
    task: lua
    with: {script: "return #ferry.template.render_string(string.rep('{% set x = 1 %}', 70000))"}
  - id: expr
    task: lua
    with: {script: "return ferry.template.evaluate('{{ ' .. string.rep('1 + ', 300000) .. '1 }}')"}
""")
        doc = self.assertRun("huge", code=1)
        for step, name in (("file", "huge.j2"), ("text", "<string>"), ("expr", "<expression>")):
            err = self.step_error(doc, step)
            self.assertEqual(err["kind"], "limit", (step, err))
            self.assertIn("%s is 1" % name, err["message"])
            self.assertIn("bytes; a template is at most 1048576 bytes here", err["message"])

    def test_a_template_text_with_a_nul_is_rendered_whole(self):
        self.p.workflow("nul", """\
steps:
  - id: r
    task: lua
    with: {script: "return {t = ferry.template.render_string('a\\0{{ 1 + 1 }}b'), e = ferry.template.evaluate('x\\0{{ 1 }}')}"}
""")
        doc = self.assertRun("nul")
        self.assertEqual(doc["steps"]["r"]["output"], {"t": "a\u00002b", "e": "x\u00001"})

    def test_a_project_file_replacing_template_render_runs_as_lua(self):
        self.p.write("tasks/template/render.lua", """\
return {
  name = "template.render",
  description = "project override",
  input = { template = { type = "string", required = true } },
  run = function(ctx, input) return { text = "from the project: " .. input.template } end,
}
""")
        self.p.workflow("over", "steps:\n  - {id: r, task: template.render, with: {template: x.j2}}\n")
        doc = self.assertRun("over")
        self.assertEqual(doc["steps"]["r"]["output"]["text"], "from the project: x.j2")


# --------------------------------------------------------------------------- 12: bundled examples


class BundledExamples(EngineTest):
    def bundled(self, *args):
        r = subprocess.run([FERRY, "run", *args, "--quiet", "--project", str(REPO),
                            "--data", str(self.p.data)],
                           capture_output=True, text=True, timeout=TIMEOUT, cwd=str(REPO))
        return r.returncode, (json.loads(r.stdout) if r.stdout.strip() else None), r.stderr

    def test_normalize_finding(self):
        rc, doc, err = self.bundled("normalize-finding", "--inputs-file",
                                    str(REPO / "workflows/samples/finding.json"))
        self.assertEqual(rc, 0, err)
        self.assertEqual(doc["outputs"]["fields"], {
            "short_description": "SSH root login is permitted",
            "severity": "high",
            "priority": "2",
            "confidence": 87,
            "cmdb_ci": "db-prod-03",
            "detected_at": "2025-12-01T06:00:00.000Z",
            "correlation": "db-prod-03/CIS-5.2.8",
        })
        self.assertEqual(doc["outputs"]["headline"], "P2 SSH root login is permitted on db-prod-03")

    def test_cert_expiry(self):
        sample = json.loads((REPO / "workflows/samples/certificates.json").read_text())
        now = time.time()
        rc, doc, err = self.bundled("cert-expiry", "--inputs-file",
                                    str(REPO / "workflows/samples/certificates.json"))
        self.assertEqual(rc, 0, err)
        warn = sample["warn_days"]
        expected = []
        for cert in sample["certificates"]:
            t = datetime.datetime.strptime(cert["not_after"], "%Y-%m-%dT%H:%M:%SZ").replace(
                tzinfo=datetime.timezone.utc).timestamp()
            days = int((t - now) // 86400)
            urgency = ("expired" if days < 0 else "critical" if days <= 7
                       else "warning" if days <= warn else "ok")
            expected.append({"host": cert["host"], "days_left": days, "urgency": urgency})
        checks = doc["steps"]["check"]["output"]
        self.assertEqual(checks, expected)
        self.assertEqual(doc["outputs"]["expiring"], [e for e in expected if e["urgency"] != "ok"])
        report = doc["outputs"]["report"]
        for e in expected:
            if e["urgency"] != "ok":
                self.assertIn(e["host"], report)
        # Each certificate ran as a sub-workflow execution of cert-check.
        lst = subprocess.run([FERRY, "executions", "list", "--workflow", "cert-check", "--json",
                              "--project", str(REPO), "--data", str(self.p.data)],
                             capture_output=True, text=True, timeout=TIMEOUT)
        self.assertEqual(len(json.loads(lst.stdout)), len(sample["certificates"]))

    def test_plain_http_dry_run_previews_the_query_it_would_send(self):
        srv = self.start_server()
        self.p.workflow("q", """\
inputs: {base: {type: string}}
steps:
  - id: a
    task: http.request
    with: {url: "{{ inputs.base }}/search", query: {q: "a b&c"}}
""")
        doc = self.assertRun("q", "--dry-run", "--input", "base=" + srv.url)
        req = doc["steps"]["a"]["output"]["request"]
        self.assertEqual(req["url"], srv.url + "/search?q=a%20b%26c")
        time.sleep(0.1)
        self.assertEqual(srv.requests, [], "a dry run sent a request")

    def test_incident_report_dry_run(self):
        srv = self.start_server()
        rc, doc, err = self.bundled("incident-report", "--dry-run", "--inputs-file",
                                    str(REPO / "workflows/samples/rca.json"),
                                    "--input", "servicenow_url=" + srv.url)
        self.assertEqual(rc, 0, err)
        self.assertTrue(doc["dry_run"])
        ticket = doc["outputs"]["ticket"]
        self.assertIs(ticket["dry_run"], True)
        req = ticket["request"]
        self.assertEqual(req["method"], "POST")
        self.assertEqual(req["url"], srv.url + "/api/now/table/incident")
        rca = json.loads((REPO / "workflows/samples/rca.json").read_text())["rca"]
        self.assertEqual(req["body"]["short_description"], rca["title"])
        self.assertEqual(req["body"]["priority"], "1")
        self.assertEqual(req["body"]["correlation_id"], doc["id"])
        self.assertIn(rca["title"], req["body"]["description"])
        time.sleep(0.1)
        self.assertEqual(srv.requests, [], "a dry run sent a request")


# --------------------------------------------------------------------------- runner


class LineResult(unittest.TestResult):
    """One line per test: `PASS name (1.23s)` / `FAIL name` with the reason below it."""

    def __init__(self, stream):
        super().__init__()
        self.stream = stream
        self.passed = 0
        self._start = {}

    def startTest(self, test):
        self._start[test.id()] = time.monotonic()
        unittest.TestResult.startTest(self, test)

    def _line(self, test, word, detail=""):
        parent = getattr(test, "test_case", test)
        took = time.monotonic() - self._start.get(parent.id(), time.monotonic())
        name = test.id().split(".", 1)[-1]
        self.stream.write("%s %s (%.2fs)\n" % (word, name, took))
        if detail:
            self.stream.write("    " + detail.rstrip().replace("\n", "\n    ") + "\n")
        self.stream.flush()

    def addSuccess(self, test):
        unittest.TestResult.addSuccess(self, test)
        failed = {getattr(t, "test_case", t).id() for t, _ in self.failures + self.errors}
        self._line(test, "FAIL" if test.id() in failed else "PASS")

    def addFailure(self, test, err):
        unittest.TestResult.addFailure(self, test, err)
        self._line(test, "FAIL", self._exc_info_to_string(err, test))

    def addError(self, test, err):
        unittest.TestResult.addError(self, test, err)
        self._line(test, "FAIL", self._exc_info_to_string(err, test))

    def addSubTest(self, test, subtest, err):
        if err is not None:
            unittest.TestResult.addSubTest(self, test, subtest, err)
            self._line(subtest, "FAIL", self._exc_info_to_string(err, subtest))

    def addSkip(self, test, reason):
        unittest.TestResult.addSkip(self, test, reason)
        self._line(test, "SKIP", reason)


def run_tests(module, argv):
    """Runs a test module's tests (all, or the names in argv[2:]) against the ferry binary
    in argv[1], one line per test; shared by every integration test script."""
    global FERRY
    script = os.path.basename(module.__file__)
    if len(argv) < 2:
        sys.stderr.write("usage: %s PATH/TO/ferry [TEST...]\n" % script)
        return 2
    FERRY = str(Path(argv[1]).resolve())
    if not os.access(FERRY, os.X_OK):
        sys.stderr.write("not an executable: %s\n" % FERRY)
        return 2
    loader = unittest.TestLoader()
    suite = (loader.loadTestsFromNames(argv[2:], module) if len(argv) > 2
             else loader.loadTestsFromModule(module))
    result = LineResult(sys.stdout)
    start = time.monotonic()
    suite.run(result)
    failed_tests = {getattr(t, "test_case", t).id() for t, _ in result.failures + result.errors}
    total = result.testsRun
    failed = len(failed_tests)
    sys.stdout.write("(%.1fs)\n" % (time.monotonic() - start))
    sys.stdout.write("%d passed, %d failed\n" % (total - failed - len(result.skipped), failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(run_tests(sys.modules[__name__], sys.argv))
