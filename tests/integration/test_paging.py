#!/usr/bin/env python3
"""Integration tests of http.request's `paginate` (stdlib/ferry/pages.lua): every page of a
ServiceNow Table API read (Link header, offset) and of a Jira search (nextPageToken) into
one list, against the mock vendors in mocks/ (127.0.0.1 only, stopped by PID).

    python3 tests/integration/test_paging.py path/to/ferry [TestName ...]
"""
import base64
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE / "mocks"))

import test_engine as te  # noqa: E402
import test_integrations as ti  # noqa: E402
from test_tasks import TaskTest  # noqa: E402

REPO = HERE.parent.parent
SERVERS = "/api/now/table/cmdb_ci_server"


class Paging(TaskTest):
    def add_servers(self, count):
        auth = "Basic " + base64.b64encode(("svc:" + ti.SN_PASSWORD).encode()).decode()
        for i in range(count, 0, -1):
            reply = self.m.call("POST", SERVERS, headers={"Authorization": auth},
                                json_body={"name": "WEB%d" % i, "ip_address": "10.0.0.%d" % i})
            self.assertEqual(reply.status, 201, reply.text)

    def read(self, paginate, query="sysparm_limit: 3, sysparm_query: ORDERBYname", code=0):
        self.p.workflow("read", """\
steps:
  - id: fetch
    task: http.request
    integration: sn
    with:
      path: %s
      query: {sysparm_fields: name, %s}
      paginate: %s
""" % (SERVERS, query, paginate))
        rc, doc, err = self.run_wf("read")
        self.assertEqual(rc, code, err + json.dumps(doc)[:2000])
        return doc["steps"]["fetch"]

    def offsets(self):
        return [r["query"].get("sysparm_offset")
                for r in self.m.requests(path=SERVERS, method="GET")]

    def test_the_link_header_leads_to_every_page(self):
        self.add_servers(7)
        out = self.read("{items: result}")["output"]
        self.assertEqual([s["name"] for s in out["records"]], ["WEB%d" % i for i in range(1, 8)])
        self.assertEqual((out["status"], out["pages"], out["attempts"]), (200, 3, 3))
        self.assertEqual(self.offsets(), [None, "3", "6"])
        self.assertNotIn("json", out)

    def test_an_offset_parameter_counts_what_was_read(self):
        self.add_servers(7)
        # With the page size known, the short third page is the last one.
        out = self.read("{items: result, next: offset, param: sysparm_offset, page_size: 3}")
        self.assertEqual(out["output"]["pages"], 3)
        self.assertEqual(len(out["output"]["records"]), 7)
        self.assertEqual(self.offsets(), [None, "3", "6"])
        # Without it, reading goes on to the first empty page; a start offset is kept.
        self.m.reset()
        self.add_servers(7)
        out = self.read("{items: result, next: offset, param: sysparm_offset}",
                        query="sysparm_limit: 3, sysparm_offset: 2, sysparm_query: ORDERBYname")
        self.assertEqual([s["name"] for s in out["output"]["records"]],
                         ["WEB%d" % i for i in range(3, 8)])
        self.assertEqual(self.offsets(), ["2", "5", "7"])

    def test_a_token_in_the_answer_asks_for_the_next_page(self):
        self.p.workflow("jira", """\
steps:
  - id: open
    task: ticket.create
    integration: jira
    for_each: [1, 2, 3, 4, 5]
    with: {summary: "Issue {{ item }}"}
  - id: search
    task: http.request
    integration: jira
    needs: [open]
    with:
      path: /rest/api/3/search/jql
      query: {jql: "project = OPS ORDER BY key", maxResults: 2, fields: summary}
      paginate: {items: issues, next: token, token: nextPageToken}
""")
        rc, doc, err = self.run_wf("jira")
        self.assertEqual(rc, 0, err + json.dumps(doc)[:2000])
        out = doc["steps"]["search"]["output"]
        self.assertEqual(out["pages"], 3)
        self.assertEqual(sorted(i["fields"]["summary"] for i in out["records"]),
                         ["Issue %d" % i for i in range(1, 6)])
        searches = self.m.requests(path="/rest/api/3/search/jql", method="GET")
        self.assertEqual([("nextPageToken" in s["query"]) for s in searches], [False, True, True])

    def test_bounds_and_answers_that_are_no_page(self):
        self.add_servers(7)
        err = self.read("{items: result, max_pages: 2}", code=1)["error"]
        self.assertEqual(err["kind"], "limit")
        self.assertIn("more than max_pages (2) pages; raise paginate.max_pages", err["message"])
        err = self.read("{items: records}", code=1)["error"]
        self.assertEqual(err["kind"], "http_5xx")
        self.assertIn("paginate: page 1: the answer has no list at 'records'", err["message"])
        err = self.read("{}", code=1)["error"]
        self.assertIn("the answer is not a list (say where its items are with 'items')",
                      err["message"])
        # A page that fails fails the step (fail_on_status cannot apply: it has no items).
        self.m.fault(method="GET", path=SERVERS, status=403, times=1)
        err = self.read("{items: result}", code=1)["error"]
        self.assertEqual(err["kind"], "http_4xx")
        self.assertIn("HTTP 403", err["message"])
        self.assertIn("(from " + SERVERS + ")", err["message"])

    def test_a_relative_url_with_an_integration_pages_as_a_path_does(self):
        self.add_servers(5)
        self.p.workflow("read", """\
steps:
  - id: fetch
    task: http.request
    integration: sn
    with: {url: %s, query: {sysparm_limit: 2}, paginate: {items: result}}
""" % SERVERS)
        rc, doc, err = self.run_wf("read")
        self.assertEqual(rc, 0, err + json.dumps(doc)[:2000])
        self.assertEqual(doc["steps"]["fetch"]["output"]["pages"], 3)

    def test_a_next_link_back_to_a_page_read_is_a_loop(self):
        body = json.dumps({"result": [{"name": "WEB1"}]})
        for _ in range(2):
            self.m.fault(method="GET", path=SERVERS, status=200, body=body, times=1,
                         headers={"Content-Type": "application/json",
                                  "Link": '<?sysparm_offset=1>; REL="next"'})
        step = self.read("{items: result}", code=1)
        self.assertEqual(step["error"]["kind"], "validation")
        self.assertIn("paginate: page 2: the next link leads back to a page already read (http://",
                      step["error"]["message"])
        self.assertEqual(len(self.m.requests(path=SERVERS, method="GET")), 2)

    def test_link_references_resolve_as_rfc_3986_says(self):
        self.p.workflow("refs", '''\
steps:
  - id: resolve
    task: lua
    with:
      script: |
        local resolve = require("ferry.pages").resolve
        local base = "https://api.example.com/v1/items/list?page=1"
        local out = {}
        for _, ref in ipairs({"?page=2", "next?p=2", "../other/x", "./y", "/root?a=b",
                              "//cdn.example.com/z", "https://x.example.org/q", "#f", ""}) do
          out[#out + 1] = resolve(ref, base)
        end
        out[#out + 1] = resolve("?p=2", "relative/no-origin") or "none"
        return out
''')
        rc, doc, err = self.run_wf("refs")
        self.assertEqual(rc, 0, err + json.dumps(doc)[:2000])
        self.assertEqual(doc["steps"]["resolve"]["output"], [
            "https://api.example.com/v1/items/list?page=2",
            "https://api.example.com/v1/items/next?p=2",
            "https://api.example.com/v1/other/x",
            "https://api.example.com/v1/items/y",
            "https://api.example.com/root?a=b",
            "https://cdn.example.com/z",
            "https://x.example.org/q",
            "https://api.example.com/v1/items/list?page=1",
            "https://api.example.com/v1/items/list?page=1",
            "none"])

    def test_a_token_goes_into_a_json_object_body_even_an_empty_one(self):
        path = "/api/now/table/u_search"
        for body in ({"result": [1], "next": "t2"}, {"result": [2]}):
            self.m.fault(method="POST", path=path, status=200, body=json.dumps(body), times=1,
                         headers={"Content-Type": "application/json"})
        self.p.workflow("search", """\
steps:
  - id: fetch
    task: http.request
    integration: sn
    with: {method: POST, path: %s, json: {}, paginate: {items: result, token: next, param: cursor}}
""" % path)
        rc, doc, err = self.run_wf("search")
        self.assertEqual(rc, 0, err + json.dumps(doc)[:2000])
        self.assertEqual(doc["steps"]["fetch"]["output"]["records"], [1, 2])
        posts = self.m.requests(path=path, method="POST")
        self.assertEqual([json.loads(p["body"]) for p in posts], [{}, {"cursor": "t2"}])
        self.assertEqual([p["query"] for p in posts], [{}, {}])

    def test_link_headers_as_servers_write_them(self):
        self.p.workflow("links", '''\
steps:
  - id: parse
    task: lua
    with:
      script: |
        local next_link = require("ferry.pages").next_link
        return {
          next_link('<https://a/x?o=3>;rel="next",<https://a/x?o=9>;rel="last"'),
          next_link('<https://a/x?o=0>; rel="first", <https://a/y>; rel=next'),
          next_link('<https://a/z>; title="a, b"; rel="prev next"'),
          next_link('<https://a/w>; REL="Next"'),
          next_link('<https://a/x?o=0>;rel="first"') or "none",
          next_link(nil) or "none",
        }
''')
        rc, doc, err = self.run_wf("links")
        self.assertEqual(rc, 0, err + json.dumps(doc)[:2000])
        self.assertEqual(doc["steps"]["parse"]["output"],
                         ["https://a/x?o=3", "https://a/y", "https://a/z", "https://a/w", "none",
                          "none"])

    def test_a_next_link_to_another_system_is_not_followed(self):
        # The integration's credentials go with every page.
        body = json.dumps({"result": [{"name": "WEB1"}]})
        self.m.fault(method="GET", path=SERVERS, status=200, body=body, times=1,
                     headers={"Content-Type": "application/json",
                              "Link": '<http://127.0.0.2:9/steal?x=1>;rel="next"'})
        err = self.read("{items: result}", code=1)["error"]
        self.assertIn("the next link leads to another origin (http://127.0.0.2:9, not http://",
                      err["message"])
        self.assertEqual(len(self.m.requests(path=SERVERS, method="GET")), 1)

    def test_a_bad_spec_is_refused_before_anything_is_sent(self):
        # A misspelt key or style, or a value of the wrong type, is in the workflow as
        # written: `ferry validate` finds it (the task declares paginate's keys), and `ferry
        # run` refuses the workflow for it.
        cases = [("{next: pages}", "input 'paginate.next' must be one of 'link', 'token', "
                                   "'offset'; got 'pages'"),
                 ("{item: result}", "input 'paginate' has no key 'item' (did you mean 'items'?)"),
                 ("{page_size: 2.5, next: offset, param: o}",
                  "input 'paginate.page_size' must be an integer, got 2.5")]
        for spec, message in cases:
            with self.subTest(spec=spec):
                self.p.workflow("read", "steps:\n  - id: fetch\n    task: http.request\n"
                                "    with: {path: /x, paginate: %s}\n" % spec)
                p = self.ferry("validate")
                self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
                self.assertIn("task 'http.request' " + message, p.stdout)
                rc, doc, err = self.run_wf("read")
                self.assertEqual((rc, doc), (2, None))
                self.assertIn(message, err)
        # How the keys go together, and a spec an expression makes, are checked when the
        # step runs, before anything is sent.
        cases = [("{next: offset}", "next: offset needs 'param'"),
                 ("{max_pages: 0}", "'max_pages' must be an integer from 1 to 10000"),
                 ("{next: link, param: x}", "'token' and 'param' go with next: token or offset"),
                 ('"{{ {\'item\': \'result\'} }}"',
                  "input 'paginate' has no key 'item' (did you mean 'items'?)")]
        for spec, message in cases:
            with self.subTest(spec=spec):
                step = self.read(spec, code=1)
                self.assertIn(message, step["error"]["message"])
                self.assertIn(step["error"]["kind"], ("validation",))
        self.assertEqual(self.m.requests(path=SERVERS), [])

    def test_a_dry_run_previews_the_first_page(self):
        self.p.workflow("read", """\
steps:
  - id: fetch
    task: http.request
    integration: sn
    with: {path: %s, query: {sysparm_limit: 3}, paginate: {items: result}}
""" % SERVERS)
        rc, doc, err = self.run_wf("read", "--dry-run")
        self.assertEqual(rc, 0, err)
        req = doc["steps"]["fetch"]["output"]["request"]
        self.assertIn("sysparm_limit=3", req["url"])
        self.assertEqual(self.m.requests(), [])

    def test_the_guides_example_reads_every_server(self):
        # docs/workflows.md "Paging through an API", taken from the guide itself.
        guide = (REPO / "docs/workflows.md").read_text()
        start = guide.index("# workflows/servers.yaml\n")
        self.p.workflow("servers", guide[start:guide.index("```", start)]
                        .replace("servicenow-prod", "sn"))
        self.add_servers(7)
        rc, doc, err = self.run_wf("servers", "--input", "page_size=3")
        self.assertEqual(rc, 0, err + json.dumps(doc)[:2000])
        self.assertEqual(doc["outputs"]["pages"], 3)
        self.assertEqual(doc["outputs"]["hosts"], ["web%d" % i for i in range(1, 8)])
        self.assertEqual(self.offsets(), [None, "3", "6"])
        # A dry run still reads (the step says dry_run: false).
        rc, doc, err = self.run_wf("servers", "--input", "page_size=3", "--dry-run")
        self.assertEqual(rc, 0, err)
        self.assertEqual(len(doc["outputs"]["hosts"]), 7)


class CmdbSync(TaskTest):
    """The bundled workflows/cmdb-sync.yaml against the ServiceNow mock."""

    def setUp(self):
        super().setUp()
        # As the bundled ferry.yaml has it: the instance without the ticket defaults.
        self.p.write("ferry.yaml", self.p.dir.joinpath("ferry.yaml").read_text().replace(
            "  sn:\n", "  servicenow-cmdb:\n").replace(
            "    defaults: {assignment_group: DevOps Team}\n", "", 1))
        self.p.write("workflows/cmdb-sync.yaml", (REPO / "workflows/cmdb-sync.yaml").read_text())
        self.servers = json.loads((REPO / "workflows/samples/inventory.json").read_text())["servers"]

    def sync(self, servers):
        self.p.write("inventory.json", json.dumps({"servers": servers, "page_size": 2}))
        rc, doc, err = self.run_wf("cmdb-sync", "--inputs-file", str(self.p.dir / "inventory.json"))
        self.assertEqual(rc, 0, err + json.dumps(doc)[:3000])
        return doc

    def test_creates_what_is_missing_then_updates_only_what_moved(self):
        doc = self.sync(self.servers)
        self.assertEqual(doc["outputs"], {"created": ["web-01", "web-02", "db-01", "mail-01"],
                                          "updated": [], "unchanged": 0, "skipped": []})
        records = {r["name"]: r for r in self.state()["servicenow"]["cmdb_ci_server"]}
        self.assertEqual(set(records), {"web-01", "web-02", "db-01", "mail-01"})
        self.assertEqual(records["db-01"]["ip_address"], "10.20.1.21")
        self.assertEqual(records["db-01"]["correlation_id"], "cmdb-sync db-01")
        self.assertNotIn("assignment_group", records["db-01"])  # no ticket defaults on a CI
        # Half an hour later: db-01 moved, WEB-02 reported in upper case, a new one.
        servers = [dict(s) for s in self.servers]
        servers[2]["ip_address"] = "10.20.9.99"
        servers[1]["name"] = "WEB-02"
        servers.append({"name": "app-07", "ip_address": "10.20.3.7"})
        doc = self.sync(servers)
        self.assertEqual(doc["outputs"], {"created": ["app-07"], "updated": ["db-01"],
                                          "unchanged": 3, "skipped": []})
        self.assertEqual(doc["steps"]["cmdb"]["output"]["pages"], 2)  # 4 records, 2 a page
        records = {r["name"]: r for r in self.state()["servicenow"]["cmdb_ci_server"]}
        self.assertEqual(len(records), 5)
        self.assertEqual(records["db-01"]["ip_address"], "10.20.9.99")
        # Only the moved field went out, and the change is on record as a JSON Patch.
        patches = self.m.requests(path="/api/now/table/cmdb_ci_server/", method="PATCH")
        self.assertEqual([json.loads(p["body"]) for p in patches], [{"ip_address": "10.20.9.99"}])
        diff = self.ferry("executions", "diff", doc["id"], "--json")
        self.assertEqual(diff.returncode, 0, diff.stderr)
        self.assertIn("10.20.9.99", diff.stdout)
        # Nothing moved: nothing sent but the read.
        sent = len(self.m.requests())
        doc = self.sync(servers)
        self.assertEqual(doc["outputs"], {"created": [], "updated": [], "unchanged": 5,
                                          "skipped": []})
        self.assertEqual([r["method"] for r in self.m.requests()[sent:]], ["GET"] * 3)


    def test_a_reference_field_is_compared_by_its_sys_id(self):
        # The Table API answers a reference field as {link, value} unless asked not to:
        # compared with the sys_id discovery reports, it read as moved on every run.
        loc = "5671c1a1c0a8010e003c3c4c1d6c0cd2"
        self.p.write("inventory.json", json.dumps({
            "servers": [{"name": "web-01", "ip_address": "10.0.0.1", "location": loc}],
            "fields": ["ip_address", "location"]}))
        for expected in ({"created": ["web-01"], "updated": [], "unchanged": 0, "skipped": []},
                         {"created": [], "updated": [], "unchanged": 1, "skipped": []}):
            rc, doc, err = self.run_wf("cmdb-sync", "--inputs-file",
                                       str(self.p.dir / "inventory.json"))
            self.assertEqual(rc, 0, err + json.dumps(doc)[:3000])
            self.assertEqual(doc["outputs"], expected)
        records = self.state()["servicenow"]["cmdb_ci_server"]
        self.assertEqual([r["location"] for r in records], [loc])
        self.assertEqual(self.m.requests(path="/api/now/table/cmdb_ci_server/", method="PATCH"), [])

    def test_what_discovery_reports_oddly_is_synced_once_or_skipped(self):
        self.sync([{"name": "web-01", "ip_address": "10.0.0.1", "serial_number": "1500"}])
        auth = "Basic " + base64.b64encode(("svc:" + ti.SN_PASSWORD).encode()).decode()
        reply = self.m.call("POST", "/api/now/table/cmdb_ci_server", headers={"Authorization": auth},
                            json_body={"ip_address": "10.7.7.7"})  # a CI without a name
        self.assertEqual(reply.status, 201, reply.text)
        servers = [
            {"name": "WEB-01", "ip_address": "10.0.0.1", "serial_number": 1500.0},  # unmoved
            {"name": "web-01 ", "ip_address": "10.0.0.1"},   # the same server, reported twice
            {"name": "new-01", "ip_address": "10.1.0.1"},
            {"name": "NEW-01", "ip_address": "10.1.0.2"},    # the last report of new-01 wins
            {"ip_address": "10.9.9.9"},                      # no name: skipped
            {"name": "obj-01", "ip_address": {"v4": "10.1.0.4"}},  # not a value: skipped
            {"name": "nul-01", "ip_address": None},          # null: not reported
            {"name": "nil", "ip_address": "10.2.0.1"},       # not the CI without a name
        ]
        doc = self.sync(servers)
        out = doc["outputs"]
        self.assertEqual(out["created"], ["NEW-01", "nul-01", "nil"])
        self.assertEqual((out["updated"], out["unchanged"]), ([], 1))
        self.assertEqual([(s.get("name"), s["reason"]) for s in out["skipped"]],
                         [(None, "no name"),
                          ("obj-01", "'ip_address' is not a text, number or boolean")])
        records = {r.get("name"): r for r in self.state()["servicenow"]["cmdb_ci_server"]}
        self.assertEqual(set(records), {"web-01", "NEW-01", "nul-01", "nil", None})
        self.assertEqual(records[None]["ip_address"], "10.7.7.7")
        self.assertEqual(records["NEW-01"]["ip_address"], "10.1.0.2")
        self.assertNotIn("ip_address", records["nul-01"])
        # Run again: nothing moved, nothing flaps.
        doc = self.sync(servers)
        self.assertEqual((doc["outputs"]["created"], doc["outputs"]["updated"],
                          doc["outputs"]["unchanged"]), ([], [], 4))


if __name__ == "__main__":
    sys.exit(te.run_tests(sys.modules[__name__], sys.argv))
