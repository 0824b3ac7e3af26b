"""Self-tests of the Jira v3 mock, its ADF rules and JQL subset (run via test_mocks.py)."""

import unittest
import urllib.parse

import mock_adf
from mocktest_util import MockCase, doc, para, text

API = "/rest/api/3"
ADF_ERROR = "Operation value must be an Atlassian Document (see the Atlassian Document Format)"
NOTES_EXAMPLE = doc(para(text("Disk full on "), text("db01", "strong")))


class ADFTest(unittest.TestCase):
    GOOD = [
        NOTES_EXAMPLE,
        doc(),
        doc({"type": "paragraph"}, {"type": "paragraph", "content": []}),
        doc({"type": "heading", "attrs": {"level": 2}, "content": [text("RCA")]},
            {"type": "bulletList", "content": [{"type": "listItem", "content": [
                para(text("a", "code", {"type": "link", "attrs": {"href": "https://x"}})),
                {"type": "orderedList", "content": [
                    {"type": "listItem", "content": [para(text("b", "em"))]}]}]}]},
            {"type": "codeBlock", "attrs": {"language": "sql"}, "content": [text("SELECT 1")]},
            {"type": "panel", "attrs": {"panelType": "warning"}, "content": [para()]},
            {"type": "blockquote", "content": [para(text("q"))]}, {"type": "rule"},
            {"type": "table", "content": [{"type": "tableRow", "content": [
                {"type": "tableHeader", "content": [para(text("h"))]},
                {"type": "tableCell", "content": [para(
                    {"type": "hardBreak"}, {"type": "mention", "attrs": {"id": "5b10"}},
                    {"type": "emoji", "attrs": {"shortName": ":fire:"}},
                    {"type": "status", "attrs": {"text": "OK", "color": "green"}},
                    {"type": "date", "attrs": {"timestamp": "1715675400000"}},
                    {"type": "inlineCard", "attrs": {"url": "https://x"}},
                    text("c", {"type": "textColor", "attrs": {"color": "#ff5630"}}))]}]}]},
            {"type": "expand", "attrs": {"title": "more"}, "content": [para(text("x"))]}),
    ]
    BAD = [
        ([], "$"), ({"type": "doc", "version": 2, "content": []}, "$.version"),
        ({"type": "doc", "version": 1}, "$.content"),
        (dict(doc(), title="x"), "$"), (doc(text("hi")), "$.content[0]"),
        (doc(para(text(""))), "$.content[0].content[0].text"),
        (doc({"type": "para"}), "$.content[0]"),
        (doc({"type": "bulletList", "content": []}), "$.content[0].content"),
        (doc({"type": "bulletList", "content": [para(text("x"))]}),
         "$.content[0].content[0]"),
        (doc(para(text("x", "code", "strong"))), "$.content[0].content[0].marks"),
        (doc(para(text("x", "link"))), "$.content[0].content[0].marks[0].attrs.href"),
        (doc(para(text("x", "blink"))), "$.content[0].content[0].marks[0]"),
        (doc(para(dict(text("x"), bold=True))), "$.content[0].content[0]"),
        (doc({"type": "heading", "attrs": {"level": 7}}), "$.content[0].attrs.level"),
        (doc({"type": "codeBlock", "content": [text("x", "strong")]}),
         "$.content[0].content[0].marks"),
        (doc({"type": "panel", "attrs": {"panelType": "danger"}, "content": [para()]}),
         "$.content[0].attrs.panelType"),
        (doc({"type": "rule", "content": []}), "$.content[0]"),
    ]

    def test_good(self):
        for d in self.GOOD:
            self.assertIsNone(mock_adf.problem(d), d)

    def test_bad(self):
        for d, path in self.BAD:
            why = mock_adf.problem(d)
            self.assertIsNotNone(why, d)
            self.assertEqual(why.split(": ", 1)[0], path, why)


class JiraTest(MockCase):
    def create(self, summary="Disk full", project="OPS", **fields):
        body = {"fields": dict({"project": {"key": project}, "issuetype": {"name": "Task"},
                                "summary": summary}, **fields)}
        return self.json_of(self.call("POST", f"{API}/issue", body), 201)

    def errors_of(self, reply, status=400):
        body = self.json_of(reply, status)
        self.assertEqual(set(body), {"errorMessages", "errors"})
        return body

    def test_create_and_get(self):
        made = self.create(description=NOTES_EXAMPLE, labels=["ferry", "db"],
                           priority={"name": "High"}, customfield_10050="idem-1")
        self.assertEqual((made["id"], made["key"]), ("10000", "OPS-1"))
        self.assertTrue(made["self"].endswith(f"{API}/issue/10000"))
        self.assertEqual(self.create(priority={"id": "4"})["key"], "OPS-2")
        issue = self.json_of(self.call("GET", f"{API}/issue/OPS-1"), 200)
        f = issue["fields"]
        self.assertEqual((f["summary"], f["labels"], f["priority"]["name"],
                          f["status"]["name"], f["issuetype"]["name"], f["project"]["key"]),
                         ("Disk full", ["ferry", "db"], "High", "To Do", "Task", "OPS"))
        self.assertEqual(f["description"], NOTES_EXAMPLE)
        self.assertEqual(f["customfield_10050"], "idem-1")
        part = self.json_of(self.call("GET", f"{API}/issue/10000?fields=summary,status"), 200)
        self.assertEqual(set(part["fields"]), {"summary", "status"})
        body = self.errors_of(self.call("GET", f"{API}/issue/OPS-99"), 404)
        self.assertEqual(body["errorMessages"],
                         ["Issue does not exist or you do not have permission to see it."])
        self.assertEqual(self.mock.state()["jira"]["issues"][0]["fields"]["summary"],
                         "Disk full")

    def test_create_errors(self):
        body = self.errors_of(self.call("POST", f"{API}/issue", {"fields": {}}))
        self.assertEqual(body["errors"], {"project": "Specify a valid project ID or key",
                                          "summary": "You must specify a summary of the issue.",
                                          "issuetype": "Specify an issue type"})
        base = {"project": {"key": "OPS"}, "issuetype": {"name": "Task"}, "summary": "s"}
        cases = [
            ({"description": "plain text"}, "description", ADF_ERROR),
            ({"description": doc(para(text("")))}, "description", ADF_ERROR),
            ({"description": dict(doc(), version=2)}, "description", ADF_ERROR),
            ({"labels": ["a b"]}, "labels", "The label 'a b' contains spaces which is invalid."),
            ({"labels": "ferry"}, "labels", "Specify the value for labels in an array of strings"),
            ({"priority": "High"}, "priority",
             "Specify the Priority (id or name) in the string format"),
            ({"status": {"name": "Done"}}, "status",
             "Field 'status' cannot be set. It is not on the appropriate screen, or unknown."),
            ({"summary": "two\nlines"}, "summary",
             "The summary is invalid because it contains newline characters."),
            ({"summary": 5}, "summary", "Operation value must be a string"),
            ({"issuetype": {"name": "Nope"}}, "issuetype", "The issue type selected is invalid."),
            ({"project": {"key": "bad key"}}, "project", "Specify a valid project ID or key"),
        ]
        for extra, field, message in cases:
            r = self.call("POST", f"{API}/issue", {"fields": dict(base, **extra)})
            self.assertEqual(self.errors_of(r)["errors"], {field: message}, extra)
        r = self.call("POST", f"{API}/issue", {"fields": dict(base, description=doc(text("x")))})
        self.assertIn("$.content[0]", r.headers["x-mock-note"])
        r = self.call("POST", f"{API}/issue", body="{}", headers={"Content-Type": "text/plain"})
        self.assertStatus(r, 415)
        self.mock.config(jira_projects=["OPS"])
        r = self.call("POST", f"{API}/issue", {"fields": dict(base, project={"key": "ZZZ"})})
        self.assertEqual(self.errors_of(r)["errors"], {"project": "Specify a valid project ID "
                                                                  "or key"})
        self.assertEqual(self.mock.state()["jira"]["issues"], [])

    def test_edit(self):
        self.create(labels=["a"])
        r = self.call("PUT", f"{API}/issue/OPS-1", {"fields": {"summary": "new"},
                                                    "update": {"labels": [{"add": "b"},
                                                                          {"remove": "a"}]}})
        self.assertStatus(r, 204)
        self.assertNotIn("content-length", r.headers)
        f = self.json_of(self.call("GET", f"{API}/issue/OPS-1"), 200)["fields"]
        self.assertEqual((f["summary"], f["labels"]), ("new", ["b"]))
        body = self.errors_of(self.call("PUT", f"{API}/issue/OPS-1",
                                        {"fields": {"status": {"name": "Done"}}}))
        self.assertIn("status", body["errors"])
        body = self.errors_of(self.call("PUT", f"{API}/issue/OPS-1", {
            "fields": {"labels": ["x"]}, "update": {"labels": [{"add": "y"}]}}))
        self.assertIn("labels", body["errors"])
        r = self.call("PUT", f"{API}/issue/OPS-1?returnIssue=true", {"fields": {"summary": "z"}})
        self.assertEqual(self.json_of(r, 200)["fields"]["summary"], "z")

    def test_comments(self):
        self.create()
        r = self.call("POST", f"{API}/issue/OPS-1/comment", {"body": NOTES_EXAMPLE})
        c = self.json_of(r, 201)
        self.assertEqual((c["id"], c["body"]), ("10000", NOTES_EXAMPLE))
        self.assertIn("/rest/api/3/issue/10000/comment/10000", c["self"])
        body = self.errors_of(self.call("POST", f"{API}/issue/OPS-1/comment", {"body": "hi"}))
        self.assertEqual(body["errors"], {"comment": ADF_ERROR})
        body = self.errors_of(self.call("POST", f"{API}/issue/OPS-1/comment", {}))
        self.assertEqual(body["errors"], {"comment": "Comment body can not be empty!"})
        got = self.json_of(self.call("GET", f"{API}/issue/OPS-1/comment"), 200)
        self.assertEqual(got["total"], 1)
        self.mock.config(jira_comment_limit=1)
        self.errors_of(self.call("POST", f"{API}/issue/OPS-1/comment",
                                 {"body": NOTES_EXAMPLE}), 413)
        self.assertEqual(self.mock.state()["jira"]["issues"][0]["comments"], [NOTES_EXAMPLE])

    def test_transitions(self):
        self.create()
        path = f"{API}/issue/OPS-1/transitions"

        def available():
            got = self.json_of(self.call("GET", path), 200)["transitions"]
            return [(t["id"], t["to"]["name"]) for t in got]

        # "Blocked" is global: offered in every status, its own included.
        self.assertEqual(available(), [("21", "In Progress"), ("41", "Blocked")])
        body = self.errors_of(self.call("POST", path, {"transition": {"id": "31"}}))
        self.assertEqual(body["errorMessages"], ["Transition id '31' is not valid for this "
                                                 "issue."])
        self.assertStatus(self.call("POST", path, {"transition": {"id": "21"}}), 204)
        self.assertEqual(available(), [("31", "Done"), ("11", "To Do"), ("41", "Blocked")])
        self.assertStatus(self.call("POST", path, {"transition": {"id": "31"}, "update": {
            "comment": [{"add": {"body": NOTES_EXAMPLE}}]}}), 204)
        f = self.json_of(self.call("GET", f"{API}/issue/OPS-1"), 200)["fields"]
        self.assertEqual((f["status"]["name"], f["resolution"]["name"], f["comment"]["total"]),
                         ("Done", "Done", 1))
        self.assertStatus(self.call("POST", path, {"transition": {"id": "11"}}), 204)
        self.assertEqual(self.mock.state()["jira"]["issues"][0]["status"], "To Do")

    def test_properties(self):
        self.create()
        path = f"{API}/issue/OPS-1/properties/ferry"
        self.assertStatus(self.call("PUT", path, {"value": "idem-1"}), 201)
        self.assertStatus(self.call("PUT", path, {"value": "idem-2"}), 200)
        self.assertEqual(self.json_of(self.call("GET", path), 200),
                         {"key": "ferry", "value": {"value": "idem-2"}})
        self.errors_of(self.call("GET", f"{API}/issue/OPS-1/properties/none"), 404)
        keys = self.json_of(self.call("GET", f"{API}/issue/OPS-1/properties"), 200)["keys"]
        self.assertEqual([k["key"] for k in keys], ["ferry"])
        # Set with the create, as Jira takes them; a malformed list is refused.
        body = {"fields": {"project": {"key": "OPS"}, "issuetype": {"name": "Task"},
                           "summary": "with a property"},
                "properties": [{"key": "ferry.idempotency", "value": {"value": "k-9"}}]}
        made = self.json_of(self.call("POST", f"{API}/issue", body), 201)
        self.assertEqual(self.json_of(self.call(
            "GET", f"{API}/issue/{made['key']}/properties/ferry.idempotency"), 200),
            {"key": "ferry.idempotency", "value": {"value": "k-9"}})
        body["properties"] = [{"value": 1}]
        self.assertIn("properties", self.errors_of(self.call("POST", f"{API}/issue", body))["errors"])

    def search(self, jql, status=200, **params):
        q = urllib.parse.urlencode(dict(params, jql=jql))
        return self.json_of(self.call("GET", f"{API}/search/jql?{q}"), status)

    def test_search(self):
        for i in range(3):
            self.create(summary=f"Disk full {i}", labels=["ferry"] if i else ["other"])
        self.create(project="SEC", summary="intrusion")
        self.call("PUT", f"{API}/issue/OPS-2/properties/ferry", {"value": "k-2"})
        got = self.search("project = OPS")
        self.assertEqual(got["issues"], [{"id": "10002"}, {"id": "10001"}, {"id": "10000"}])
        self.assertTrue(got["isLast"])
        self.assertNotIn("nextPageToken", got)
        got = self.search('project = OPS AND labels = "ferry" ORDER BY key ASC',
                          fields="summary,labels")
        self.assertEqual([(i["key"], i["fields"]["summary"]) for i in got["issues"]],
                         [("OPS-2", "Disk full 1"), ("OPS-3", "Disk full 2")])
        got = self.search('issue.property[ferry].value = "k-2"', fields="key")
        self.assertEqual([i["key"] for i in got["issues"]], ["OPS-2"])
        r = self.call("POST", f"{API}/search/jql", {"jql": 'summary ~ "intrusion"',
                                                   "fields": ["summary"]})
        self.assertEqual([i["key"] for i in self.json_of(r, 200)["issues"]], ["SEC-1"])
        # pagination with nextPageToken
        keys, token = [], None
        while True:
            params = {"maxResults": 2, "fields": "key"}
            if token:
                params["nextPageToken"] = token
            page = self.search("project IN (OPS, SEC) ORDER BY key", **params)
            keys += [i["key"] for i in page["issues"]]
            if page["isLast"]:
                break
            token = page["nextPageToken"]
        self.assertEqual(sorted(keys), ["OPS-1", "OPS-2", "OPS-3", "SEC-1"])
        errors = {
            "": "Unbounded JQL queries are not allowed here. Please add a search restriction "
                "to your query.",
            "ORDER BY created DESC": "Unbounded JQL queries are not allowed here. Please add "
                                     "a search restriction to your query.",
            "nosuch = 1": "Field 'nosuch' does not exist or you do not have permission to "
                          "view it.",
            "project = NOPE": "The value 'NOPE' does not exist for the field 'project'.",
            'summary = "x"': "The operator '=' is not supported by the 'summary' field.",
        }
        for jql, message in errors.items():
            self.assertEqual(self.search(jql, 400)["errorMessages"], [message], jql)
        self.assertIn("OR", self.search("project = OPS OR project = SEC", 400)
                      ["errorMessages"][0])
        self.errors_of(self.call("GET", f"{API}/search?jql=project%3DOPS"), 410)

    def test_search_lag_and_reconcile(self):
        self.mock.config(jira_search_lag_ms=60_000)
        made = self.create()
        self.assertEqual(self.search("project = OPS")["issues"], [])
        got = self.search("project = OPS", reconcileIssues=made["id"])
        self.assertEqual(got["issues"], [{"id": made["id"]}])
        # The notes' limits: at most 50 reconcileIssues and 5 properties.
        many = ",".join(str(10000 + i) for i in range(51))
        self.assertIn("at most 50", self.search("project = OPS", 400,
                                                reconcileIssues=many)["errorMessages"][0])
        self.assertIn("at most 5", self.search("project = OPS", 400,
                                               properties="a,b,c,d,e,f")["errorMessages"][0])

    def test_priority_and_myself(self):
        got = self.json_of(self.call("GET", f"{API}/priority"), 200)
        self.assertEqual([(p["id"], p["name"]) for p in got],
                         [("1", "Highest"), ("2", "High"), ("3", "Medium"), ("4", "Low"),
                          ("5", "Lowest")])
        self.assertIn("accountId", self.json_of(self.call("GET", f"{API}/myself"), 200))
        self.assertStatus(self.call("DELETE", f"{API}/priority"), 405)
