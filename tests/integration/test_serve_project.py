#!/usr/bin/env python3
"""Integration tests of the project's files as `ferry serve` reads them: what a running
server sees when workflows, sub-workflows and hook files change under it, and what it tells
callers about a workflow that does not load.

    python3 tests/integration/test_serve_project.py path/to/ferry [TestName ...]
"""
import os
import sys
import time
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import test_engine as te  # noqa: E402
from serve_util import Server, tokens_yaml  # noqa: E402

PARENT = """\
steps:
  - id: c
    task: workflow
    with: {name: child, inputs: {n: 1}}
"""
CHILD_N = """\
inputs: {n: {type: integer, required: true}}
steps:
  - {id: s, task: log, with: {message: "{{ inputs.n }}"}}
"""
CHILD_M = CHILD_N.replace("n:", "m:").replace("inputs.n", "inputs.m")
RENDER = """\
steps:
  - {id: r, task: template.render, with: {template: note.j2, vars: {who: ada}}}
outputs: {text: "{{ steps.r.output.text }}"}
"""
HOOKED = """\
hooks: {before_step: hooks/h.lua}
steps:
  - {id: s, task: log, with: {message: x}}
"""


class ServeProjectTest(unittest.TestCase):
    def setUp(self):
        self.p = te.Project()
        self.p.write("ferry.yaml", tokens_yaml())

    def tearDown(self):
        if getattr(self, "s", None):
            self.s.stop()
        self.p.remove()

    def serve(self):
        self.s = Server(te.FERRY, self.p.dir, self.p.data)

    def start(self, wf, inputs=None, role="operator"):
        return self.s.json("POST", "/api/v1/workflows/%s/executions?wait=10s" % wf,
                           {"inputs": inputs or {}}, role=role)

    def replace(self, rel, text):
        """Writes rel through a new file renamed over it, as editors and deploys do."""
        tmp = self.p.dir / (rel + ".new")
        tmp.write_text(text)
        os.replace(tmp, self.p.dir / rel)


class FilesChangedUnderTheServer(ServeProjectTest):
    def test_a_changed_sub_workflow_checks_its_parent_again(self):
        self.p.workflow("parent", PARENT)
        self.p.workflow("child", CHILD_N)
        self.serve()
        status, doc = self.start("parent")
        self.assertEqual((status, doc["status"]), (200, "succeeded"), doc)
        # The child now takes `m`: the parent's literal `n` is refused before anything
        # starts, as `ferry run` and a fresh server refuse it (it was started and failed).
        self.replace("workflows/child.yaml", CHILD_M)
        status, doc = self.start("parent")
        self.assertEqual(status, 422, doc)
        self.assertEqual(doc["error"]["code"], "invalid_workflow")
        self.assertIn("input 'n'", doc["error"]["message"])
        # Mended: started again.
        self.replace("workflows/parent.yaml", PARENT.replace("n: 1", "m: 1"))
        status, doc = self.start("parent")
        self.assertEqual((status, doc["status"]), (200, "succeeded"), doc)

    def test_an_edited_hook_runs_its_new_code_and_a_deleted_one_is_refused(self):
        self.p.workflow("hooked", HOOKED)
        self.p.write("tasks/hooks/h.lua", "return function(ctx, event) error('v1 refuses') end\n")
        self.serve()
        status, doc = self.start("hooked")
        self.assertEqual((status, doc["status"]), (200, "failed"), doc)
        self.assertIn("v1 refuses", str(doc))
        self.replace("tasks/hooks/h.lua", "return function(ctx, event) end\n")
        status, doc = self.start("hooked")
        self.assertEqual((status, doc["status"]), (200, "succeeded"), doc)
        os.remove(self.p.dir / "tasks/hooks/h.lua")
        status, doc = self.start("hooked")
        self.assertEqual(status, 422, doc)
        self.assertIn("hook file 'hooks/h.lua' not found", doc["error"]["message"])

    def test_a_missing_template_is_refused_until_it_is_there(self):
        # validate reports a literal template that is not there; the server's cached check
        # of the workflow must not outlive the template's arrival.
        self.p.workflow("render", RENDER)
        self.serve()
        status, doc = self.start("render")
        self.assertEqual(status, 422, doc)
        self.assertIn("template 'note.j2' is not in templates/", doc["error"]["message"])
        self.p.write("templates/note.j2", "hello {{ who }}")
        status, doc = self.start("render")
        self.assertEqual((status, doc["outputs"]), (200, {"text": "hello ada"}), doc)

    def test_an_edited_template_renders_its_new_text(self):
        self.p.workflow("render", RENDER)
        self.p.write("templates/note.j2", "v1 {{ who }}")
        self.serve()
        status, doc = self.start("render")
        self.assertEqual((status, doc["outputs"]), (200, {"text": "v1 ada"}), doc)
        self.replace("templates/note.j2", "version two for {{ who }}")
        status, doc = self.start("render")
        self.assertEqual((status, doc["outputs"]), (200, {"text": "version two for ada"}), doc)


class BrokenWorkflows(ServeProjectTest):
    def test_problems_name_the_file_not_the_servers_folder(self):
        # The project folder (absolute here) went to every caller, an anonymous form's too.
        self.p.workflow("bad", "inputs: {who: {type: strin}}\nsteps:\n"
                        "  - {id: a, task: log, with: {message: hi}}\n")
        self.serve()
        folder = str(self.p.dir)
        status, doc = self.start("bad")
        self.assertEqual(status, 422, doc)
        self.assertEqual(doc["error"]["code"], "invalid_workflow")
        self.assertTrue(doc["error"]["message"].startswith("workflows/bad.yaml:1:"), doc)
        self.assertNotIn(folder, doc["error"]["message"])
        for path in ("/api/v1/workflows", "/api/v1/workflows/bad"):
            status, headers, body = self.s.request("GET", path, role="viewer")
            self.assertIn(b"workflows/bad.yaml:1:", body, path)
            self.assertNotIn(folder.encode(), body, path)

    def test_a_schedules_last_error_names_the_file_not_the_folder(self):
        self.p.write("ferry.yaml", tokens_yaml() +
                     "schedules:\n  - {name: tick, workflow: bad, every: 1s}\n")
        self.p.workflow("bad", "steps:\n  - {id: a, task: log, with: {message: hi}}\n")
        self.serve()
        self.p.workflow("bad", "steps: [\n")  # broken once the server has checked ferry.yaml
        folder = str(self.p.dir)
        deadline = time.monotonic() + 10
        tick = {}
        while time.monotonic() < deadline:
            tick = self.s.json("GET", "/api/v1/schedules", role="viewer")[1]["schedules"][0]
            if tick.get("last_error"):
                break
            time.sleep(0.1)
        self.assertTrue(tick["last_error"].startswith("workflows/bad.yaml:"), tick)
        self.assertNotIn(folder, tick["last_error"])


if __name__ == "__main__":
    sys.exit(te.run_tests(sys.modules[__name__], sys.argv))
