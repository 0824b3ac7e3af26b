"""Self-tests of the ServiceNow Table API, OAuth and the auth kinds (run via test_mocks.py)."""

import base64
import re
import time
import urllib.parse

from mocktest_util import SN_TIME, SYS_ID, MockCase

TABLE = "/api/now/table/incident"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def basic(user, password):
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


class ServiceNowTest(MockCase):
    def create(self, table="incident", **fields):
        return self.json_of(self.call("POST", f"/api/now/table/{table}", fields), 201)["result"]

    def test_create_incident(self):
        r = self.call("POST", TABLE, {"short_description": "Disk full", "urgency": 1,
                                      "impact": 2, "active": True, "correlation_id": None})
        self.assertStatus(r, 201)
        rec = r.json()["result"]
        self.assertTrue(r.headers["location"].endswith(f"{TABLE}/{rec['sys_id']}"))
        self.assertRegex(rec["sys_id"], SYS_ID)
        self.assertRegex(rec["number"], r"^INC\d{7}$")
        self.assertRegex(rec["sys_created_on"], SN_TIME)
        self.assertEqual((rec["state"], rec["urgency"], rec["active"], rec["correlation_id"]),
                         ("1", "1", "true", ""))
        self.assertEqual(rec["priority"], "2")            # impact 2 x urgency 1
        for value in rec.values():                        # every value a string or a reference
            self.assertTrue(isinstance(value, str) or set(value) == {"link", "value"}, value)

    def test_other_tables_and_v2_path(self):
        chg = self.create("change_request", short_description="patch")
        self.assertRegex(chg["number"], r"^CHG\d{7}$")
        self.assertEqual(chg["state"], "-5")
        self.assertRegex(self.create("problem")["number"], r"^PRB\d{7}$")
        self.assertRegex(self.create("sc_task")["number"], r"^SCTASK\d{7}$")
        self.assertNotIn("number", self.create("cmdb_ci", name="db01"))
        r = self.call("POST", "/api/now/v2/table/incident", {"short_description": "v2"})
        self.assertStatus(r, 201)
        self.assertIn("/api/now/v2/table/incident/", r.headers["location"])
        state = self.mock.state()["servicenow"]
        self.assertEqual(len(state["incident"]), 1)
        self.assertEqual(state["cmdb_ci"][0]["name"], "db01")

    def test_invalid_table_and_configured_table(self):
        body = self.json_of(self.call("GET", "/api/now/table/u_ferry"), 400)
        self.assertEqual(body, {"error": {"message": "Invalid table u_ferry", "detail": None},
                                "status": "failure"})
        self.mock.config(servicenow_tables=["u_ferry"])
        self.assertEqual(self.create("u_ferry", u_key="k")["u_key"], "k")

    def test_list_query_order_paging(self):
        for i, (urg, desc) in enumerate([("1", "db down"), ("2", "disk full"),
                                         ("1", "DB slow"), ("3", "printer")]):
            self.create(urgency=urg, short_description=desc, correlation_id=f"c{i}")
        q = urllib.parse.urlencode({"sysparm_query": "urgency=1^ORDERBYDESCnumber",
                                    "sysparm_fields": "number,urgency,nope"})
        r = self.call("GET", f"{TABLE}?{q}")
        rows = self.json_of(r, 200)["result"]
        self.assertEqual(r.headers["x-total-count"], "2")
        self.assertEqual([x["number"] for x in rows], ["INC0010003", "INC0010001"])
        self.assertEqual(set(rows[0]), {"number", "urgency"})      # unknown names ignored
        r = self.call("GET", f"{TABLE}?sysparm_query=ORDERBYnumber&sysparm_limit=3"
                             "&sysparm_offset=0&sysparm_fields=number")
        self.assertEqual(len(r.json()["result"]), 3)
        self.assertEqual(r.headers["x-total-count"], "4")
        links = dict((rel, url) for url, rel in re.findall(r'<([^>]*)>;rel="(\w+)"',
                                                           r.headers["link"]))
        self.assertIn("sysparm_offset=3", links["next"])
        self.assertNotIn("prev", links)
        nxt = urllib.parse.urlsplit(links["next"])
        rows = self.json_of(self.call("GET", f"{nxt.path}?{nxt.query}"), 200)["result"]
        self.assertEqual([x["number"] for x in rows], ["INC0010004"])
        # plain field=value parameters, operators, OR, an unknown field that is ignored
        cases = {"correlation_id=c2": 1, "sysparm_query=short_descriptionLIKEdb": 2,
                 "sysparm_query=urgencyIN2,3": 2, "sysparm_query=urgency=3^ORurgency=2": 2,
                 "sysparm_query=short_descriptionSTARTSWITHdisk": 1,
                 "sysparm_query=assigned_toISEMPTY^urgency!=1": 2,
                 "sysparm_query=u_typo=1^urgency=1": 2,
                 "sysparm_query=urgency=1^NQurgency=3": 3,
                 "sysparm_query=urgency=9": 0}
        for query, n in cases.items():
            r = self.call("GET", f"{TABLE}?{query}")
            self.assertEqual(len(self.json_of(r, 200)["result"]), n, query)

    def test_display_value_and_reference_links(self):
        rec = self.create(assignment_group="a" * 32, short_description="x")
        self.assertEqual(rec["assignment_group"]["value"], "a" * 32)
        self.assertTrue(rec["assignment_group"]["link"].endswith(
            "/api/now/table/sys_user_group/" + "a" * 32))
        path = f"{TABLE}/{rec['sys_id']}"
        r = self.json_of(self.call("GET", path + "?sysparm_exclude_reference_link=true"), 200)
        self.assertEqual(r["result"]["assignment_group"], "a" * 32)
        r = self.json_of(self.call("GET", path + "?sysparm_display_value=true"), 200)
        self.assertEqual(r["result"]["state"], "New")
        r = self.json_of(self.call("GET", path + "?sysparm_display_value=all"), 200)
        self.assertEqual(r["result"]["state"], {"display_value": "New", "value": "1"})

    def test_get_put_patch_delete(self):
        rec = self.create(short_description="a")
        path = f"{TABLE}/{rec['sys_id']}"
        self.assertEqual(self.json_of(self.call("GET", path), 200)["result"]["number"],
                         rec["number"])
        r = self.json_of(self.call("PUT", path, {"state": 2, "work_notes": "looking"}), 200)
        self.assertEqual((r["result"]["state"], r["result"]["sys_mod_count"]), ("2", "1"))
        r = self.json_of(self.call("PATCH", path, {"comments": "fixed", "state": "6"}), 200)
        self.assertEqual(r["result"]["state"], "6")
        self.assertEqual(r["result"]["work_notes"], "")
        journal = self.mock.state()["servicenow"]["sys_journal_field"]
        self.assertEqual([(j["element"], j["value"], j["element_id"]) for j in journal],
                         [("work_notes", "looking", rec["sys_id"]),
                          ("comments", "fixed", rec["sys_id"])])
        r = self.json_of(self.call("GET", path + "?sysparm_display_value=true"
                                                 "&sysparm_fields=work_notes"), 200)
        self.assertIn("(Work notes)\nlooking", r["result"]["work_notes"])
        r = self.assertStatus(self.call("DELETE", path), 204)
        self.assertEqual((r.body, "content-length" in r.headers), (b"", False))
        for method in ("GET", "PUT", "DELETE"):
            body = self.json_of(self.call(method, path, {} if method == "PUT" else None), 404)
            self.assertEqual(body["error"]["message"], "No Record found")
            self.assertEqual(body["status"], "failure")

    def test_bad_bodies_and_no_response_body(self):
        r = self.call("POST", TABLE, body="{nope", headers={"Content-Type": "application/json"})
        body = self.json_of(r, 400)
        self.assertEqual(body["error"]["message"], "Exception while reading request")
        self.assertStatus(self.call("POST", TABLE, body="<x/>",
                                    headers={"Content-Type": "application/xml"}), 415)
        self.assertStatus(self.call("GET", TABLE, headers={"Accept": "application/xml"}), 406)
        r = self.call("POST", TABLE, {"short_description": "quiet"},
                      headers={"X-no-response-body": "true"})
        self.assertStatus(r, 201)
        self.assertEqual((r.body, r.headers["content-length"]), (b"", "0"))
        self.assertIn("location", r.headers)


class OAuthTest(MockCase):
    start_config = {"auth": {"type": "oauth2", "client_id": "ferry", "client_secret": "s3cret"}}

    def token(self, **extra):
        form = dict({"grant_type": "client_credentials", "client_id": "ferry",
                     "client_secret": "s3cret"}, **extra)
        return self.call("POST", "/oauth_token.do", body=urllib.parse.urlencode(form),
                         headers=FORM)

    def test_issue_use_revoke(self):
        tok = self.json_of(self.token(), 200)
        self.assertEqual((tok["token_type"], tok["expires_in"], tok["scope"]),
                         ("Bearer", 1799, "useraccount"))
        self.assertEqual(self.token().json()["access_token"], tok["access_token"])  # reused
        bearer = {"Authorization": "Bearer " + tok["access_token"]}
        self.assertStatus(self.call("GET", TABLE, headers=bearer), 200)
        body = self.json_of(self.call("GET", TABLE), 401)
        self.assertEqual(body["error"], {"message": "User Not Authenticated",
                                         "detail": "Required to provide Auth information"})
        self.assertStatus(self.call("GET", TABLE, headers={"Authorization": "Bearer x"}), 401)
        self.assertEqual(self.mock.revoke_tokens(), {"revoked": 1})
        self.assertStatus(self.call("GET", TABLE, headers=bearer), 401)
        fresh = self.json_of(self.token(), 200)["access_token"]
        self.assertNotEqual(fresh, tok["access_token"])
        self.assertStatus(self.call("GET", TABLE, headers={"Authorization": "Bearer " + fresh}),
                          200)

    def test_refused_token_requests(self):
        failure = {"error_description": "access_denied", "error": "server_error"}
        self.assertEqual(self.json_of(self.token(client_secret="bad"), 401), failure)
        r = self.call("POST", "/oauth_token.do", {"grant_type": "client_credentials",
                                                  "client_id": "ferry",
                                                  "client_secret": "s3cret"})
        self.assertEqual(self.json_of(r, 401), failure)                 # JSON body
        self.assertEqual(self.json_of(self.token(grant_type="magic"), 401), failure)

    def test_password_refresh_and_expiry(self):
        tok = self.json_of(self.token(grant_type="password", username="u", password="p"), 200)
        self.assertIn("refresh_token", tok)
        self.mock.revoke_tokens()
        self.assertStatus(self.token(grant_type="refresh_token",
                                     refresh_token=tok["refresh_token"]), 401)
        tok = self.json_of(self.token(grant_type="password", username="u", password="p"), 200)
        again = self.json_of(self.token(grant_type="refresh_token",
                                        refresh_token=tok["refresh_token"]), 200)
        self.assertEqual(again["refresh_token"], tok["refresh_token"])
        self.mock.config(auth=dict(self.start_config["auth"], expires_in=1))
        self.mock.revoke_tokens()
        short = self.json_of(self.token(), 200)
        self.assertEqual(short["expires_in"], 1)
        time.sleep(1.1)
        self.assertStatus(self.call("GET", TABLE, headers={
            "Authorization": "Bearer " + short["access_token"]}), 401)


class AuthKindsTest(MockCase):
    def test_basic(self):
        self.mock.config(auth={"type": "basic", "username": "svc", "password": "pw"})
        self.assertStatus(self.call("GET", TABLE, headers=basic("svc", "pw")), 200)
        r = self.assertStatus(self.call("GET", TABLE, headers=basic("svc", "no")), 401)
        self.assertIn("realm", r.headers["www-authenticate"])
        self.assertEqual(r.json()["error"]["message"], "User Not Authenticated")
        r = self.call("POST", TABLE, {"short_description": "by svc"},
                      headers=basic("svc", "pw"))
        self.assertEqual(self.json_of(r, 201)["result"]["sys_created_by"], "svc")
        r = self.assertStatus(self.call("GET", "/rest/api/3/priority"), 401)
        self.assertEqual(r.text, "Client must be authenticated to access this resource.")

    def test_bearer_and_api_key(self):
        self.mock.config(auth={"type": "bearer", "token": "tok"})
        self.assertStatus(self.call("GET", "/rest/api/3/priority",
                                    headers={"Authorization": "Bearer tok"}), 200)
        self.assertStatus(self.call("GET", "/rest/api/3/priority",
                                    headers={"Authorization": "Bearer nope"}), 401)
        self.mock.config(auth={"type": "api_key", "header": "X-Api-Key", "value": "k1"})
        self.assertStatus(self.call("POST", "/siem/events", {"a": 1},
                                    headers={"x-api-key": "k1"}), 200)
        self.assertEqual(self.json_of(self.call("POST", "/siem/events", {"a": 1}), 401),
                         {"error": "unauthorized"})
        self.assertStatus(self.call("POST", "/siem/events", {"a": 1},
                                    headers={"X-Api-Key": "k2"}), 401)

    def test_splunk(self):
        self.mock.config(auth={"type": "splunk", "token": "guid-1"})
        ev = {"event": "x"}
        path = "/services/collector/event"
        cases = [({}, 401, 2), ({"Authorization": "Bearer guid-1"}, 401, 3),
                 ({"Authorization": "Splunk nope"}, 403, 4),
                 ({"Authorization": "Splunk guid-1"}, 200, 0),
                 (basic("anyone", "guid-1"), 200, 0)]
        for headers, status, code in cases:
            self.assertEqual(self.json_of(self.call("POST", path, ev, headers=headers),
                                          status)["code"], code, headers)
        self.assertEqual(self.json_of(self.call("POST", path + "?token=guid-1", ev), 400),
                         {"text": "Query string authorization is not enabled", "code": 16})
        self.assertStatus(self.call("GET", "/services/collector/health"), 200)  # no auth
