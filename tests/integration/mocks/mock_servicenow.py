"""ServiceNow Table API and OAuth token endpoint of the mock vendor server.

Routes: /api/now/table/{table}[/{sys_id}], /api/now/v{N}/table/..., POST /oauth_token.do.
Vendor facts (envelopes, codes, texts) follow the ServiceNow section of the vendor notes.
"""

import collections
import hmac
import json
import re
import time
import urllib.parse
import uuid

from mock_core import (MAX_ITEMS, BadJSON, Response, reason, sn_time)

NAME = "servicenow"

TABLE_RE = re.compile(r"^/api/now/(?:v\d+/)?table/([^/]+)(?:/([^/]+))?/?$")
TASK_TABLES = {  # table -> (number prefix, initial state)
    "incident": ("INC", "1"),
    "change_request": ("CHG", "-5"),
    "problem": ("PRB", "1"),
    "sc_task": ("SCTASK", "1"),
}
BUILTIN_TABLES = set(TASK_TABLES) | {"cmdb_ci", "cmdb_ci_server", "sys_journal_field"}
JOURNAL_FIELDS = {"work_notes": "Work notes", "comments": "Additional comments"}
ADMIN = "6816f79cc0a8016401c5a33be04be441"   # sys_id of the API user in opened_by

TASK_DEFAULTS = {
    "short_description": "", "description": "", "active": "true", "correlation_id": "",
    "correlation_display": "", "assignment_group": "", "assigned_to": "", "cmdb_ci": "",
    "company": "", "parent": "", "work_notes": "", "comments": "", "closed_at": "",
    "opened_by": ADMIN,
}
TABLE_DEFAULTS = {
    "incident": {"impact": "3", "urgency": "3", "priority": "5", "severity": "3",
                 "category": "inquiry", "caller_id": "", "close_code": "", "close_notes": "",
                 "resolved_at": "", "problem_id": "", "rfc": ""},
    "change_request": {"type": "normal", "risk": "3", "impact": "3", "urgency": "3",
                       "priority": "4", "start_date": "", "end_date": "",
                       "approval": "not requested"},
    "problem": {"impact": "3", "urgency": "3", "priority": "5"},
    "sc_task": {"priority": "4", "request_item": ""},
    "cmdb_ci": {"name": "", "operational_status": "1", "install_status": "1",
                "ip_address": "", "fqdn": "", "company": "", "location": ""},
}
REFERENCES = {  # reference field -> table it points to
    "assignment_group": "sys_user_group", "assigned_to": "sys_user", "caller_id": "sys_user",
    "opened_by": "sys_user", "closed_by": "sys_user", "resolved_by": "sys_user",
    "cmdb_ci": "cmdb_ci", "problem_id": "problem", "rfc": "change_request", "parent": "task",
    "company": "core_company", "location": "cmn_location", "request_item": "sc_req_item",
}
STATE_LABELS = {
    "incident": {"1": "New", "2": "In Progress", "3": "On Hold", "6": "Resolved",
                 "7": "Closed", "8": "Canceled"},
    "change_request": {"-5": "New", "-4": "Assess", "-3": "Authorize", "-2": "Scheduled",
                       "-1": "Implement", "0": "Review", "3": "Closed", "4": "Canceled"},
    "problem": {"1": "New", "2": "Assess", "3": "Root Cause Analysis", "4": "Fix in Progress",
                "6": "Resolved", "7": "Closed"},
    "sc_task": {"-5": "Pending", "1": "Open", "2": "Work in Progress", "3": "Closed Complete",
                "4": "Closed Incomplete", "7": "Closed Skipped"},
}
LEVEL_LABELS = {"1": "1 - High", "2": "2 - Medium", "3": "3 - Low"}
PRIORITY_LABELS = {"1": "1 - Critical", "2": "2 - High", "3": "3 - Moderate", "4": "4 - Low",
                   "5": "5 - Planning"}
PRIORITY_MATRIX = {("1", "1"): "1", ("1", "2"): "2", ("2", "1"): "2", ("1", "3"): "3",
                   ("2", "2"): "3", ("3", "1"): "3", ("2", "3"): "4", ("3", "2"): "4",
                   ("3", "3"): "5"}

OAUTH_FAILURE = {"error_description": "access_denied", "error": "server_error"}
NOT_FOUND = ("No Record found", "Record doesn't exist or ACL restricts the record retrieval")


# --------------------------------------------------------------------------- module interface

def matches(path):
    return path.startswith("/api/now/") or path == "/oauth_token.do"


def needs_auth(req):
    return req.path != "/oauth_token.do"


class State:
    def __init__(self):
        self.tables = collections.defaultdict(collections.OrderedDict)  # table -> sys_id -> rec
        self.counters = collections.defaultdict(lambda: 10000)


def new_state():
    return State()


def snapshot(state):
    return {t: [dict(r) for r in recs.values()] for t, recs in state.tables.items() if recs}


def error(status, message, detail, headers=None):
    return Response.json(status, {"error": {"message": message, "detail": detail},
                                  "status": "failure"}, headers)


def auth_error(app, req, problem):
    if req.path == "/oauth_token.do":
        return Response.json(401, OAUTH_FAILURE)
    auth = app.config.get("auth") or {}
    headers = {"WWW-Authenticate": 'BASIC realm="Service-now"'} \
        if auth.get("type") == "basic" else None
    return error(401, "User Not Authenticated", "Required to provide Auth information", headers)


def error_response(req, status):
    """The body a fault with this status sends when it names none."""
    if req.path == "/oauth_token.do":
        return Response.json(status, OAUTH_FAILURE)
    if status == 429:       # the notes: a denied request is 429 with Retry-After (seconds)
        now = int(time.time())
        reset = (now // 3600 + 1) * 3600
        return error(429, "Rate limit exceeded",
                     "Rate limit of 100 requests per hour for Table API exceeded",
                     {"Retry-After": str(reset - now), "X-RateLimit-Limit": "100",
                      "X-RateLimit-Reset": str(reset),
                      "X-RateLimit-Rule": "d8e3a3c1db5f2010c1b8f2e5ae9619a4"})
    return error(status, reason(status), None)


def handle(app, req):
    if req.path == "/oauth_token.do":
        return oauth_token(app, req)
    m = TABLE_RE.match(req.path)
    if not m:
        return error(400, "Requested URI does not represent any resource", None)
    table = urllib.parse.unquote(m.group(1))
    sys_id = urllib.parse.unquote(m.group(2)) if m.group(2) else None
    if table not in BUILTIN_TABLES and table not in app.config["servicenow_tables"]:
        return error(400, f"Invalid table {table}", None)
    if not _accepts_json(req):
        return error(406, "Not Acceptable", "The mock answers application/json only")
    state = app.data[NAME]
    records = state.tables[table]
    if sys_id is None:
        if req.method == "GET":
            return list_records(state, req, table)
        if req.method == "POST":
            return create(app, state, req, table)
        return error(405, "Method not Supported", f"{req.method} is not supported here")
    if req.method not in ("GET", "PUT", "PATCH", "DELETE"):
        return error(405, "Method not Supported", f"{req.method} is not supported here")
    rec = records.get(sys_id)
    if rec is None:
        return error(404, *NOT_FOUND)
    if req.method == "GET":
        return Response.json(200, {"result": render(state, req, table, rec)})
    if req.method == "DELETE":
        del records[sys_id]
        return Response.empty(204)
    body = _body_object(req)
    if isinstance(body, Response):
        return body
    _apply(state, table, rec, body, _user(req))
    rec["sys_updated_on"] = sn_time()
    rec["sys_updated_by"] = _user(req)
    rec["sys_mod_count"] = str(int(rec.get("sys_mod_count", "0") or 0) + 1)
    return Response.json(200, {"result": render(state, req, table, rec)})


# --------------------------------------------------------------------------- records

def _accepts_json(req):
    accept = req.header("accept")
    if not accept:
        return True
    types = [p.split(";")[0].strip().lower() for p in accept.split(",")]
    return any(t in ("application/json", "application/*", "*/*", "") for t in types)


def _user(req):
    return req.auth_user or "admin"


def _body_object(req):
    media = req.media_type()
    if req.body.strip() and media not in ("", "application/json"):
        return error(415, "Unsupported Media Type",
                     f"Content-Type {media} is not supported (the mock reads JSON only)")
    if not req.body.strip():
        return error(400, "Exception while reading request", "Empty request body")
    try:
        body = req.json()
    except BadJSON:
        return error(400, "Exception while reading request", "The payload is not valid JSON.")
    if not isinstance(body, dict):
        return error(400, "Exception while reading request",
                     "The payload is not a JSON object.")
    return body


def as_string(v):
    """ServiceNow returns every value as a string."""
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float, str)):
        return str(v)
    if isinstance(v, dict) and "value" in v:
        return as_string(v["value"])
    if isinstance(v, list):
        return ",".join(as_string(x) for x in v)
    return json.dumps(v)


def _apply(state, table, rec, body, user):
    for key, value in body.items():
        if not isinstance(key, str) or not re.fullmatch(r"[A-Za-z0-9_]+", key):
            continue
        if key.startswith("sys_"):
            continue                      # system-generated
        if key in JOURNAL_FIELDS and table != "sys_journal_field":
            text = as_string(value)
            if text:
                _journal(state, table, rec["sys_id"], key, text, user)
            continue
        rec[key] = as_string(value)
    if table in ("incident", "problem"):
        rec["priority"] = PRIORITY_MATRIX.get((rec.get("impact"), rec.get("urgency")),
                                              rec.get("priority", "5"))


def _journal(state, table, element_id, element, text, user):
    journal = state.tables["sys_journal_field"]
    entry = {"sys_id": uuid.uuid4().hex, "element": element, "element_id": element_id,
             "name": table, "value": text, "sys_created_on": sn_time(),
             "sys_created_by": user}
    journal[entry["sys_id"]] = entry
    while len(journal) > MAX_ITEMS:
        journal.popitem(last=False)


def create(app, state, req, table):
    body = _body_object(req)
    if isinstance(body, Response):
        return body
    records = state.tables[table]
    if len(records) >= MAX_ITEMS:
        return error(507, "Insufficient Storage", f"The mock keeps at most {MAX_ITEMS} records "
                                                  "per table; POST /_mock/reset")
    now, user = sn_time(), _user(req)
    rec = {"sys_id": uuid.uuid4().hex, "sys_class_name": table, "sys_created_on": now,
           "sys_created_by": user, "sys_updated_on": now, "sys_updated_by": user,
           "sys_mod_count": "0", "sys_tags": ""}
    if table in TASK_TABLES:
        prefix, initial = TASK_TABLES[table]
        state.counters[prefix] += 1
        rec.update(number=f"{prefix}{state.counters[prefix]:07d}", state=initial,
                   opened_at=now, **TASK_DEFAULTS)
    rec.update(TABLE_DEFAULTS.get(table, {}))
    _apply(state, table, rec, body, user)
    records[rec["sys_id"]] = rec
    collection = req.path.rstrip("/")
    headers = {"Location": f"{req.base_url}{collection}/{rec['sys_id']}"}
    if (req.header("x-no-response-body") or "").lower() == "true":
        return Response.empty(201, headers)
    return Response.json(201, {"result": render(state, req, table, rec)}, headers)


def _display(state, table, field, value, rec):
    if field in JOURNAL_FIELDS:
        entries = [e for e in state.tables["sys_journal_field"].values()
                   if e["element_id"] == rec["sys_id"] and e["element"] == field]
        return "".join(f"{e['sys_created_on']} - {e['sys_created_by']} "
                       f"({JOURNAL_FIELDS[field]})\n{e['value']}\n\n" for e in reversed(entries))
    if field == "state":
        return STATE_LABELS.get(table, {}).get(value, value)
    if field in ("impact", "urgency"):
        return LEVEL_LABELS.get(value, value)
    if field == "priority":
        return PRIORITY_LABELS.get(value, value)
    return value


def render(state, req, table, rec):
    """A record as the Table API returns it, honouring sysparm_fields, sysparm_display_value
    and sysparm_exclude_reference_link."""
    q = req.query
    fields = [f.strip() for f in q.get("sysparm_fields", "").split(",") if f.strip()]
    mode = q.get("sysparm_display_value", "false").lower()
    exclude = q.get("sysparm_exclude_reference_link", "false").lower() == "true"
    out = {}
    for field in fields or list(rec):
        if field not in rec:
            continue                      # unknown names are ignored
        value = rec[field]
        link = None
        if field in REFERENCES and value and not exclude:
            link = f"{req.base_url}/api/now/table/{REFERENCES[field]}/{value}"
        if mode == "true":
            shown = _display(state, table, field, value, rec)
            out[field] = {"display_value": shown, "link": link} if link else shown
        elif mode == "all":
            item = {"display_value": _display(state, table, field, value, rec), "value": value}
            if link:
                item["link"] = link
            out[field] = item
        else:
            out[field] = {"link": link, "value": value} if link else value
    return out


# --------------------------------------------------------------------------- queries

OPS = ["ISNOTEMPTY", "ISEMPTY", "ANYTHING", "NOT LIKE", "NOT IN", "STARTSWITH", "ENDSWITH",
       "LIKE", "IN", "!=", "<=", ">=", "=", "<", ">"]
TERM_RE = re.compile(r"([a-z0-9_.]+)(" + "|".join(re.escape(o) for o in OPS) + r")(.*)", re.S)


def _number(s):
    try:
        return float(s)
    except ValueError:
        return None


def _term(field, op, value):
    def test(rec):
        v = rec.get(field, "")
        lv, lval = v.lower(), value.lower()
        if op == "=":
            return v == value
        if op == "!=":
            return v != value
        if op == "LIKE":
            return lval in lv
        if op == "NOT LIKE":
            return lval not in lv
        if op == "STARTSWITH":
            return lv.startswith(lval)
        if op == "ENDSWITH":
            return lv.endswith(lval)
        if op == "IN":
            return v in value.split(",")
        if op == "NOT IN":
            return v not in value.split(",")
        if op == "ISEMPTY":
            return v == ""
        if op == "ISNOTEMPTY":
            return v != ""
        if op == "ANYTHING":
            return True
        a, b = _number(v), _number(value)
        if a is None or b is None:
            a, b = v, value
        return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]
    return test


def parse_query(query, known):
    """Encoded query -> ([[clause]] OR'ed groups of AND'ed clauses, [(field, desc)]).
    A clause is a list of OR'ed term tests. Terms on unknown fields are dropped."""
    groups, order = [], []
    query = query.replace("^^", "\x00")          # ^^ is an escaped caret
    for part in query.split("^NQ"):
        clauses = []
        for raw in part.split("^"):
            raw = raw.replace("\x00", "^")
            if not raw or raw == "EQ":
                continue
            if raw.startswith("ORDERBYDESC"):
                order.append((raw[len("ORDERBYDESC"):], True))
                continue
            if raw.startswith("ORDERBY"):
                order.append((raw[len("ORDERBY"):], False))
                continue
            is_or = raw.startswith("OR")
            m = TERM_RE.fullmatch(raw[2:] if is_or else raw)
            if not m or m.group(1) not in known:
                continue                          # invalid parts are silently ignored
            test = _term(m.group(1), m.group(2), m.group(3))
            if is_or and clauses:
                clauses[-1].append(test)
            else:
                clauses.append([test])
        groups.append(clauses)
    return groups, order


def _known_fields(state, table):
    known = set(TASK_DEFAULTS) | {"number", "state", "opened_at"} \
        if table in TASK_TABLES else set()
    known |= set(TABLE_DEFAULTS.get(table, {})) | {
        "sys_id", "sys_class_name", "sys_created_on", "sys_created_by", "sys_updated_on",
        "sys_updated_by", "sys_mod_count", "sys_tags"}
    for rec in state.tables[table].values():
        known |= set(rec)
    return known


def _int_param(v, default):
    try:
        return int(v)
    except (TypeError, ValueError):
        return default


def list_records(state, req, table):
    known = _known_fields(state, table)
    groups, order = parse_query(req.query.get("sysparm_query", ""), known)
    plain = [[_term(k, "=", v)] for k, v in req.query_pairs
             if not k.startswith("sysparm_") and k in known]
    recs = [r for r in state.tables[table].values()
            if all(any(t(r) for t in c) for c in plain)
            and (not groups or any(all(any(t(r) for t in c) for c in g) for g in groups))]
    for field, desc in reversed(order):
        if field in known:
            recs.sort(key=lambda r: (_number(r.get(field, "")) is None,
                                     _number(r.get(field, "")) or 0, r.get(field, "")),
                      reverse=desc)
    total = len(recs)
    offset = max(0, _int_param(req.query.get("sysparm_offset"), 0))
    limit = _int_param(req.query.get("sysparm_limit"), 10000)
    if limit <= 0:
        limit = 10000
    page = recs[offset:offset + limit]
    headers = []
    if req.query.get("sysparm_no_count", "false").lower() != "true":
        headers.append(("X-Total-Count", str(total)))
    if req.query.get("sysparm_suppress_pagination_header", "false").lower() != "true":
        headers.append(("Link", _links(req, offset, limit, total)))
    return Response.json(200, {"result": [render(state, req, table, r) for r in page]},
                         headers)


def _links(req, offset, limit, total):
    def url(off):
        pairs = [(k, v) for k, v in req.query_pairs
                 if k not in ("sysparm_offset", "sysparm_limit")]
        pairs += [("sysparm_limit", str(limit)), ("sysparm_offset", str(off))]
        return f"<{req.base_url}{req.path}?{urllib.parse.urlencode(pairs)}>"
    last = max(0, (total - 1) // limit * limit)
    parts = [f'{url(0)};rel="first"']
    if offset > 0:
        parts.append(f'{url(max(0, offset - limit))};rel="prev"')
    if offset + limit < total:
        parts.append(f'{url(offset + limit)};rel="next"')
    parts.append(f'{url(last)};rel="last"')
    return ",".join(parts)


# --------------------------------------------------------------------------- OAuth

def oauth_token(app, req):
    """POST /oauth_token.do, form-urlencoded: client_credentials, password, refresh_token."""
    auth = app.config.get("auth") or {}
    if req.method != "POST" or auth.get("type") != "oauth2" \
            or req.media_type() != "application/x-www-form-urlencoded":
        return Response.json(401, OAUTH_FAILURE)
    form = dict(urllib.parse.parse_qsl(req.text(), keep_blank_values=True))
    client_id = form.get("client_id", "")
    if not (_same(client_id, auth["client_id"])
            & _same(form.get("client_secret", ""), auth["client_secret"])):
        return Response.json(401, OAUTH_FAILURE)
    tokens, lifetime = app.tokens, auth["expires_in"]
    grant = form.get("grant_type")
    out = {"scope": form.get("scope") or auth.get("scope", "useraccount"),
           "token_type": "Bearer"}
    if grant == "client_credentials":
        pass
    elif grant == "password":
        if "username" in auth and not (
                _same(form.get("username", ""), auth["username"])
                & _same(form.get("password", ""), auth.get("password", ""))):
            return Response.json(401, OAUTH_FAILURE)
        out["refresh_token"], _ = tokens.issue(client_id, lifetime * 100, "refresh")
    elif grant == "refresh_token":
        refresh = form.get("refresh_token", "")
        if not tokens.valid(refresh, "refresh"):
            return Response.json(401, OAUTH_FAILURE)
        out["refresh_token"] = refresh
    else:
        return Response.json(401, OAUTH_FAILURE)
    out["access_token"], out["expires_in"] = tokens.issue(client_id, lifetime)
    return Response.json(200, out)


def _same(a, b):
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))
