"""Jira Cloud REST API v3 of the mock vendor server (routes under /rest/api/3).

Issues (create/get/edit/delete), comments, transitions, issue properties, /search/jql with a
small JQL subset, /priority and /myself. Error bodies are {"errorMessages": [...],
"errors": {...}} with the texts of the Jira section of the vendor notes; see README.md.
"""

import base64
import collections
import json
import re
import time
import urllib.parse

from mock_core import (MAX_ITEMS, BadJSON, Response, jira_time, reason)
import mock_adf
import mock_jql

NAME = "jira"
API = "/rest/api/3"

ADF_ERROR = "Operation value must be an Atlassian Document (see the Atlassian Document Format)"
NO_ISSUE = "Issue does not exist or you do not have permission to see it."
NOT_ON_SCREEN = "Field '{}' cannot be set. It is not on the appropriate screen, or unknown."
PRIORITIES = [("1", "Highest"), ("2", "High"), ("3", "Medium"), ("4", "Low"), ("5", "Lowest")]
STATUSES = {  # name -> (id, category id, category key, colour)
    "To Do": ("10000", 2, "new", "blue-gray"),
    "In Progress": ("3", 4, "indeterminate", "yellow"),
    "Done": ("10001", 3, "done", "green"),
    "Blocked": ("10002", 4, "indeterminate", "yellow"),
}
CATEGORY_NAMES = {"new": "To Do", "indeterminate": "In Progress", "done": "Done"}
TRANSITIONS = {"11": "To Do", "21": "In Progress", "31": "Done", "41": "Blocked"}
# A transition's name is the status it leads to, as in Jira's simplified workflows, but
# for the classic workflow's "Start Progress": a name that matches no status.
TRANSITION_NAMES = {"21": "Start Progress"}
# "Blocked" is a global ("all statuses") transition: Jira offers it in every status,
# its own target included.
GLOBAL = {"41"}
AVAILABLE = {"To Do": ["21", "41"], "In Progress": ["31", "11", "41"], "Done": ["11", "41"],
             "Blocked": ["21", "41"]}
AUTHOR = {"accountId": "5b10a2844c20165700ede21g", "displayName": "Ferry Mock",
          "active": True, "accountType": "atlassian", "timeZone": "UTC"}
SETTABLE = {"project", "issuetype", "summary", "description", "environment", "priority",
            "labels", "assignee", "reporter", "duedate", "components", "fixVersions",
            "versions", "parent", "security", "timetracking"}
CUSTOM = re.compile(r"customfield_\d+")


# --------------------------------------------------------------------------- module interface

def matches(path):
    return path == API or path.startswith(API + "/")


def needs_auth(req):
    return True


class State:
    def __init__(self):
        self.issues = collections.OrderedDict()    # id -> issue
        self.keys = {}                             # KEY -> id
        self.projects = {}                         # KEY -> id
        self.counters = collections.Counter()      # project KEY -> last number
        self.next_id = 10000
        self.next_comment = 10000


def new_state():
    return State()


def snapshot(state):
    """Issues as stored: fields as sent (priority as {id, name}), status name, comment bodies,
    properties."""
    out = []
    for i in state.issues.values():
        fields = dict(i["fields"])
        pid = fields.get("priority") or "3"
        fields["priority"] = {"id": pid, "name": dict(PRIORITIES)[pid]}
        out.append({"id": i["id"], "key": i["key"], "project": i["project"],
                    "status": i["status"], "fields": fields,
                    "comments": [c["body"] for c in i["comments"]],
                    "properties": i["properties"]})
    return {"issues": out}


def errors(status=400, messages=(), fields=None):
    return Response.json(status, {"errorMessages": list(messages), "errors": fields or {}})


def auth_error(app, req, problem):
    return Response.text(401, "Client must be authenticated to access this resource.")


def error_response(req, status):
    if status == 429:  # the notes: Retry-After (seconds) and X-RateLimit-Reset (ISO 8601)
        reset = time.strftime("%Y-%m-%dT%H:%MZ", time.gmtime(time.time() + 60))
        resp = errors(429, ["Rate limit exceeded."])
        resp.headers += [("Retry-After", "1"), ("X-RateLimit-Reset", reset),
                         ("RateLimit-Reason", "jira-burst-based")]
        return resp
    return errors(status, [reason(status)])


# --------------------------------------------------------------------------- routing

def handle(app, req):
    state = app.data[NAME]
    parts = [urllib.parse.unquote(p) for p in req.path[len(API):].strip("/").split("/")]
    method = req.method
    route = parts[0] if parts else ""
    if route == "issue" and len(parts) == 1:
        return _method(method, {"POST": lambda: create(app, state, req)})
    if route == "issue" and len(parts) >= 2:
        issue = find(state, parts[1])
        if issue is None:
            return errors(404, [NO_ISSUE])
        rest = parts[2:]
        if not rest:
            return _method(method, {
                "GET": lambda: Response.json(200, render(state, req, issue,
                                                         _wanted(req.query.get("fields")))),
                "PUT": lambda: edit(app, state, req, issue),
                "DELETE": lambda: delete(state, issue)})
        if rest == ["comment"]:
            return _method(method, {"GET": lambda: list_comments(req, issue),
                                    "POST": lambda: add_comment(app, state, req, issue)})
        if rest == ["transitions"]:
            return _method(method, {"GET": lambda: list_transitions(req, issue),
                                    "POST": lambda: transition(app, state, req, issue)})
        if rest == ["properties"]:
            return _method(method, {"GET": lambda: list_properties(req, issue)})
        if len(rest) == 2 and rest[0] == "properties":
            return _method(method, {"GET": lambda: get_property(issue, rest[1]),
                                    "PUT": lambda: put_property(req, issue, rest[1]),
                                    "DELETE": lambda: delete_property(issue, rest[1])})
    if parts == ["search", "jql"]:
        return _method(method, {"GET": lambda: search(app, state, req, False),
                                "POST": lambda: search(app, state, req, True)})
    if parts == ["search"]:
        return errors(410, ["The requested API has been removed. Please migrate to the "
                            "/rest/api/3/search/jql API."])
    if parts == ["priority"]:
        return _method(method, {"GET": lambda: Response.json(200, [
            _priority(req, pid) for pid, _ in PRIORITIES])})
    if parts == ["myself"]:
        return _method(method, {"GET": lambda: Response.json(200, dict(
            AUTHOR, self=f"{req.base_url}{API}/user?accountId={AUTHOR['accountId']}"))})
    return errors(404, [f"No resource found for {req.path} (mock)"])


def _method(method, table):
    if method in table:
        return table[method]()
    return Response.empty(405, {"Allow": ", ".join(sorted(table))})


def find(state, id_or_key):
    issue_id = state.keys.get(id_or_key.upper(), id_or_key)
    return state.issues.get(issue_id)


def _json_body(req, allow_any=False):
    """Parsed body, or an error Response (415 without JSON content type, 400 when not JSON)."""
    if req.media_type() != "application/json":
        return errors(415, ["Unsupported Media Type: send Content-Type: application/json"])
    try:
        body = req.json()
    except BadJSON:
        return errors(400, ["Unexpected character in the request body: it is not valid JSON."])
    if not allow_any and not isinstance(body, dict):
        return errors(400, ["The request body must be a JSON object."])
    return body


# --------------------------------------------------------------------------- fields

def _project(app, state, value):
    if not isinstance(value, dict):
        return None
    allowed = app.config["jira_projects"]
    if "key" in value and isinstance(value["key"], str):
        key = value["key"].upper()
        if key in state.projects:
            return key
        if (allowed is None and re.fullmatch(r"[A-Z][A-Z0-9_]{0,9}", key)) or \
                (allowed is not None and key in allowed):
            state.projects[key] = str(10000 + len(state.projects))
            return key
        return None
    if "id" in value:
        ids = {v: k for k, v in state.projects.items()}
        return ids.get(str(value["id"]))
    return None


def issue_types(config):
    """[{"id", "name"}] of the configured issue types (ids 10001, 10002, ...)."""
    return [{"id": str(10001 + i), "name": t} for i, t in enumerate(config["jira_issue_types"])]


def _issuetype(app, value):
    if isinstance(value, dict):
        for t in issue_types(app.config):
            if (isinstance(value.get("name"), str) and t["name"].lower() == value["name"].lower()) \
                    or ("id" in value and str(value["id"]) == t["id"]):
                return t
    return None


def _check(app, state, name, value, errs, creating):
    """Validate one field value; returns the value to store (errors go into errs)."""
    if name == "project":
        if not creating:
            errs[name] = NOT_ON_SCREEN.format(name)
            return None
        key = _project(app, state, value)
        if key is None:
            errs[name] = "Specify a valid project ID or key"
        return key
    if name == "issuetype":
        t = _issuetype(app, value)
        if t is None:
            errs[name] = "The issue type selected is invalid."
        return t
    if name == "summary":
        if not isinstance(value, str):
            errs[name] = "Operation value must be a string"
        elif not value.strip():
            errs[name] = "You must specify a summary of the issue."
        elif "\n" in value or "\r" in value:
            errs[name] = "The summary is invalid because it contains newline characters."
        elif len(value) >= 255:
            errs[name] = "Summary must be less than 255 characters."
        return value
    if name in ("description", "environment") or name in app.config["jira_adf_fields"]:
        if value is not None:
            why = mock_adf.problem(value) if isinstance(value, dict) else "not an ADF object"
            if why:
                errs[name] = ADF_ERROR
                errs.setdefault("_adf", f"{name} {why}")
        return value
    if name == "priority":
        if not isinstance(value, dict) or not (isinstance(value.get("name"), str)
                                               or isinstance(value.get("id"), str)):
            errs[name] = "Specify the Priority (id or name) in the string format"
            return None
        for pid, pname in PRIORITIES:
            if value.get("id") == pid or str(value.get("name", "")).lower() == pname.lower():
                return pid
        errs[name] = "The priority selected is invalid."
        return None
    if name == "labels":
        if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
            errs[name] = "Specify the value for labels in an array of strings"
            return None
        for label in value:
            if re.search(r"\s", label) or not label:
                errs[name] = f"The label '{label}' contains spaces which is invalid."
                return None
        return list(dict.fromkeys(value))
    if name == "duedate" and value is not None and not (
            isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value)):
        errs[name] = f"Error parsing date string: {value}"
        return None
    if name in SETTABLE or CUSTOM.fullmatch(name):
        return value
    errs[name] = NOT_ON_SCREEN.format(name)
    return None


def _collect(app, state, body, creating, extra_settable=()):
    """(fields to set, comments to add, errors) from a create/edit/transition body."""
    errs, out, comments = {}, {}, []
    fields = body.get("fields", {})
    update = body.get("update", {})
    if not isinstance(fields, dict) or not isinstance(update, dict):
        return out, comments, {"fields": "fields and update must be objects"}
    for name, value in fields.items():
        if name in extra_settable:
            out[name] = value
        else:
            out[name] = _check(app, state, name, value, errs, creating)
    for name, ops in update.items():
        if name in fields:
            errs[name] = f"Field '{name}' cannot be set in both the fields and update sections."
            continue
        if not isinstance(ops, list) or not all(isinstance(o, dict) and len(o) == 1
                                                for o in ops):
            errs[name] = "Field update operations must be a list of {operation: value}."
            continue
        for op in ops:
            (verb, value), = op.items()
            if name == "comment" and verb == "add":
                body_adf = value.get("body") if isinstance(value, dict) else None
                why = mock_adf.problem(body_adf) if isinstance(body_adf, dict) else "no ADF body"
                if why:
                    errs["comment"] = ADF_ERROR
                else:
                    comments.append(value)
            elif name == "labels" and verb in ("add", "remove", "set"):
                vals = value if verb == "set" else [value]
                checked = _check(app, state, "labels", vals, errs, creating)
                if checked is not None:
                    out.setdefault("__labels__", []).append((verb, checked))
            elif verb == "set":
                out[name] = _check(app, state, name, value, errs, creating)
            else:
                errs[name] = f"Operation '{verb}' is not supported for field '{name}'."
    return out, comments, errs


def _store(issue, values):
    for name, value in values.items():
        if name == "__labels__":
            labels = list(issue["fields"].get("labels", []))
            for verb, vals in value:
                if verb == "set":
                    labels = list(vals)
                elif verb == "add":
                    labels += [v for v in vals if v not in labels]
                else:
                    labels = [v for v in labels if v not in vals]
            issue["fields"]["labels"] = labels
        else:
            issue["fields"][name] = value


def _adf_failure(errs):
    detail = errs.pop("_adf", None)
    resp = errors(400, [], errs)
    resp.note = detail
    return resp


# --------------------------------------------------------------------------- issues

def create(app, state, req):
    body = _json_body(req)
    if isinstance(body, Response):
        return body
    if len(state.issues) >= MAX_ITEMS:
        return errors(507, [f"The mock keeps at most {MAX_ITEMS} issues; POST /_mock/reset"])
    values, comments, errs = _collect(app, state, body, True)
    fields = body.get("fields") if isinstance(body.get("fields"), dict) else {}
    if "project" not in fields:
        errs.setdefault("project", "Specify a valid project ID or key")
    if "summary" not in fields:
        errs.setdefault("summary", "You must specify a summary of the issue.")
    if "issuetype" not in fields:
        errs.setdefault("issuetype", "Specify an issue type")
    # Issue properties set with the create: [{"key": K, "value": JSON}], as Jira takes them.
    props = body.get("properties", [])
    if not isinstance(props, list) or not all(
            isinstance(p, dict) and isinstance(p.get("key"), str) and p["key"] and "value" in p
            for p in props):
        errs.setdefault("properties", "properties must be a list of {\"key\", \"value\"}")
    if errs:
        return _adf_failure(errs)
    project = values.pop("project")
    state.counters[project] += 1
    issue_id = str(state.next_id)
    state.next_id += 1
    now = time.time()
    issue = {"id": issue_id, "key": f"{project}-{state.counters[project]}", "project": project,
             "project_id": state.projects[project],
             "status": "To Do", "created_t": now, "created": jira_time(now),
             "updated": jira_time(now), "resolutiondate": None, "comments": [],
             "properties": {}, "fields": {"labels": [], "priority": "3", "description": None}}
    _store(issue, values)
    for p in props:
        issue["properties"][p["key"]] = p["value"]
    for c in comments:
        _new_comment(state, req, issue, c)
    state.issues[issue_id] = issue
    state.keys[issue["key"]] = issue_id
    return Response.json(201, {"id": issue_id, "key": issue["key"],
                               "self": f"{req.base_url}{API}/issue/{issue_id}"})


def edit(app, state, req, issue):
    body = _json_body(req)
    if isinstance(body, Response):
        return body
    values, comments, errs = _collect(app, state, body, False)
    if errs:
        return _adf_failure(errs)
    _store(issue, values)
    for c in comments:
        _new_comment(state, req, issue, c)
    issue["updated"] = jira_time()
    if req.query.get("returnIssue", "false").lower() == "true":
        return Response.json(200, render(state, req, issue, None))
    return Response.empty(204)


def delete(state, issue):
    del state.issues[issue["id"]]
    state.keys.pop(issue["key"], None)
    return Response.empty(204)


def _priority(req, pid):
    name = dict(PRIORITIES)[pid]
    return {"self": f"{req.base_url}{API}/priority/{pid}", "id": pid, "name": name,
            "iconUrl": f"{req.base_url}/images/icons/priorities/{name.lower()}.svg",
            "statusColor": "#ffab00", "description": name}


def _status(req, name):
    sid, cid, ckey, colour = STATUSES[name]
    return {"self": f"{req.base_url}{API}/status/{sid}", "description": "", "name": name,
            "id": sid, "statusCategory": {"self": f"{req.base_url}{API}/statuscategory/{cid}",
                                          "id": cid, "key": ckey, "colorName": colour,
                                          "name": CATEGORY_NAMES[ckey]}}


def _wanted(spec):
    """fields parameter -> set of names, or None for every field."""
    if spec is None:
        return None
    names = spec if isinstance(spec, list) else str(spec).split(",")
    names = {n.strip() for n in names if isinstance(n, str) and n.strip()}
    if names & {"*all", "*navigable"}:
        return None
    return names


def render(state, req, issue, wanted):
    base = f"{req.base_url}{API}"
    f = dict(issue["fields"])
    itype = issue["fields"]["issuetype"]
    f.update({
        "project": {"self": f"{base}/project/{state.projects[issue['project']]}",
                    "id": state.projects[issue["project"]], "key": issue["project"],
                    "name": issue["project"], "projectTypeKey": "software"},
        "issuetype": {"self": f"{base}/issuetype/{itype['id']}", "id": itype["id"],
                      "name": itype["name"], "subtask": False},
        "priority": _priority(req, f.get("priority") or "3"),
        "status": _status(req, issue["status"]),
        "created": issue["created"], "updated": issue["updated"],
        "resolution": {"self": f"{base}/resolution/10000", "id": "10000", "name": "Done"}
        if issue["status"] == "Done" else None,
        "resolutiondate": issue["resolutiondate"],
        "comment": {"comments": issue["comments"], "self": f"{base}/issue/{issue['id']}/comment",
                    "maxResults": len(issue["comments"]), "total": len(issue["comments"]),
                    "startAt": 0},
    })
    f.setdefault("assignee", None)
    f.setdefault("reporter", dict(AUTHOR))
    if wanted is not None:
        f = {k: v for k, v in f.items() if k in wanted}
    return {"expand": "renderedFields,names,schema,operations,editmeta,changelog",
            "id": issue["id"], "self": f"{base}/issue/{issue['id']}", "key": issue["key"],
            "fields": f}


# --------------------------------------------------------------------------- comments

def _new_comment(state, req, issue, body):
    cid = str(state.next_comment)
    state.next_comment += 1
    now = jira_time()
    comment = {"self": f"{req.base_url}{API}/issue/{issue['id']}/comment/{cid}", "id": cid,
               "author": dict(AUTHOR), "body": body["body"], "updateAuthor": dict(AUTHOR),
               "created": now, "updated": now, "jsdPublic": True}
    if "visibility" in body:
        comment["visibility"] = body["visibility"]
    issue["comments"].append(comment)
    issue["updated"] = now
    return comment


def add_comment(app, state, req, issue):
    body = _json_body(req)
    if isinstance(body, Response):
        return body
    if "body" not in body or body["body"] in (None, ""):
        return errors(400, [], {"comment": "Comment body can not be empty!"})
    why = mock_adf.problem(body["body"]) if isinstance(body["body"], dict) \
        else "not an ADF object"
    if why:
        resp = errors(400, [], {"comment": ADF_ERROR})
        resp.note = f"body {why}"
        return resp
    vis = body.get("visibility")
    if vis is not None and not (isinstance(vis, dict) and vis.get("type") in ("role", "group")
                                and isinstance(vis.get("value") or vis.get("identifier"), str)):
        return errors(400, [], {"visibility": "Specify a visibility of type role or group "
                                              "with a value."})
    if len(issue["comments"]) >= app.config["jira_comment_limit"]:
        return errors(413, ["The maximum number of comments for this issue has been reached."])
    return Response.json(201, _new_comment(state, req, issue, body))


def list_comments(req, issue):
    return Response.json(200, {"comments": issue["comments"], "startAt": 0,
                               "maxResults": len(issue["comments"]),
                               "total": len(issue["comments"])})


# --------------------------------------------------------------------------- transitions

def _transition(req, tid):
    to = TRANSITIONS[tid]
    return {"id": tid, "name": TRANSITION_NAMES.get(tid, to), "to": _status(req, to), "hasScreen": False,
            "isGlobal": tid in GLOBAL, "isInitial": False, "isAvailable": True,
            "isConditional": False, "isLooped": False}


def list_transitions(req, issue):
    return Response.json(200, {"expand": "transitions", "transitions": [
        _transition(req, t) for t in AVAILABLE[issue["status"]]]})


def transition(app, state, req, issue):
    body = _json_body(req)
    if isinstance(body, Response):
        return body
    t = body.get("transition")
    tid = str(t.get("id")) if isinstance(t, dict) and t.get("id") is not None else None
    if tid is None:
        return errors(400, ["Missing 'transition' identifier"])
    if tid not in AVAILABLE[issue["status"]]:
        return errors(400, [f"Transition id '{tid}' is not valid for this issue."])
    values, comments, errs = _collect(app, state, body, False, ("resolution",))
    if errs:
        return _adf_failure(errs)
    values.pop("resolution", None)
    _store(issue, values)
    for c in comments:
        _new_comment(state, req, issue, c)
    issue["status"] = TRANSITIONS[tid]
    issue["updated"] = jira_time()
    issue["resolutiondate"] = issue["updated"] if issue["status"] == "Done" else None
    return Response.empty(204)


# --------------------------------------------------------------------------- properties

def list_properties(req, issue):
    base = f"{req.base_url}{API}/issue/{issue['id']}/properties"
    return Response.json(200, {"keys": [{"self": f"{base}/{urllib.parse.quote(k)}", "key": k}
                                        for k in issue["properties"]]})


def get_property(issue, key):
    if key not in issue["properties"]:
        return errors(404, [f"The property with key '{key}' does not exist."])
    return Response.json(200, {"key": key, "value": issue["properties"][key]})


def put_property(req, issue, key):
    if len(key) > 255:
        return errors(400, ["The property key cannot be longer than 255 characters."])
    if len(req.body) > 32768:
        return errors(400, ["The property value cannot be longer than 32768 bytes."])
    value = _json_body(req, allow_any=True)
    if isinstance(value, Response):
        return value
    created = key not in issue["properties"]
    issue["properties"][key] = value
    return Response.empty(201 if created else 200)


def delete_property(issue, key):
    if issue["properties"].pop(key, None) is None:
        return errors(404, [f"The property with key '{key}' does not exist."])
    return Response.empty(204)


# --------------------------------------------------------------------------- search

def search(app, state, req, post):
    if post:
        body = _json_body(req)
        if isinstance(body, Response):
            return body
        params = body
    else:
        params = dict(req.query)
        params["fields"] = [v for k, v in req.query_pairs if k == "fields"] or None
        params["fields"] = ",".join(params["fields"]) if params["fields"] else None
    jql = params.get("jql") or ""
    if not isinstance(jql, str):
        return errors(400, ["jql must be a string"])
    try:
        query = mock_jql.parse(jql)
        query.check(state, app.config)
    except mock_jql.JQLError as e:
        return errors(400, [str(e)])
    try:
        limit = int(params.get("maxResults", 50))
    except (TypeError, ValueError):
        return errors(400, ["maxResults must be an integer"])
    limit = max(1, min(limit, 100))
    offset = 0
    token = params.get("nextPageToken")
    if token:
        try:
            data = json.loads(base64.urlsafe_b64decode(str(token).encode()).decode())
            offset, token_jql = int(data["o"]), data["q"]
        except (ValueError, KeyError, TypeError):
            return errors(400, ["The provided next page token is invalid or expired."])
        if token_jql != jql:
            return errors(400, ["The provided next page token is invalid or expired."])
    reconcile = params.get("reconcileIssues") or []
    if isinstance(reconcile, str):
        reconcile = reconcile.split(",")
    reconcile = {str(x).strip() for x in reconcile}
    if len(reconcile) > 50:  # the notes' limits: reconcileIssues <= 50, properties <= 5
        return errors(400, ["reconcileIssues accepts at most 50 issue ids."])
    lag = app.config["jira_search_lag_ms"] / 1000.0
    horizon = time.time() - lag
    visible = [i for i in state.issues.values()
               if not lag or i["created_t"] <= horizon or i["id"] in reconcile]
    found = query.run(visible)
    page = found[offset:offset + limit]
    spec = params.get("fields")
    wanted = {"id"} if spec in (None, "", []) else _wanted(spec)   # default: id only
    out = {"issues": [], "isLast": offset + limit >= len(found)}
    props = params.get("properties") or []
    if isinstance(props, str):
        props = [p for p in props.split(",") if p]
    if len(props) > 5:
        return errors(400, ["properties accepts at most 5 property keys."])
    for issue in page:
        if wanted is not None and wanted <= {"id"}:
            item = {"id": issue["id"]}
        else:
            item = render(state, req, issue, wanted)
        if props:
            item["properties"] = {k: issue["properties"][k] for k in props
                                  if k in issue["properties"]}
        out["issues"].append(item)
    if not out["isLast"]:
        out["nextPageToken"] = base64.urlsafe_b64encode(
            json.dumps({"o": offset + limit, "q": jql}).encode()).decode()
    return Response.json(200, out)
