"""Standard Webhooks receiver (POST /webhook/{anything}) and generic JSON SIEM
(POST /siem/events) of the mock vendor server."""


from mock_core import MAX_ITEMS, BadJSON, Response, bounded_append, reason
import standard_webhooks

NAME = "webhooks"


def matches(path):
    return path.startswith("/webhook/") or path == "/siem/events"


def needs_auth(req):
    return True


class State:
    def __init__(self):
        self.webhooks = []
        self.siem = []


def new_state():
    return State()


def snapshot(state):
    return {"webhooks": list(state.webhooks), "siem": list(state.siem)}


def auth_error(app, req, problem):
    return Response.json(401, {"error": "unauthorized"})


def error_response(req, status):
    return Response.json(status, {"error": reason(status)})


def handle(app, req):
    if req.method != "POST":
        return Response.json(405, {"error": "method not allowed"}, {"Allow": "POST"})
    state = app.data[NAME]
    if req.path == "/siem/events":
        return siem(state, req)
    return webhook(app, state, req)


def webhook(app, state, req):
    """Verify the Standard Webhooks headers, record {headers, body, valid}, answer
    webhook_status (401 when the signature is invalid)."""
    secrets = app.config["webhook_secrets"]
    problem = None
    if secrets:
        problem = standard_webhooks.why_invalid(
            secrets, req.headers, req.body, tolerance=app.config["webhook_tolerance"])
    try:
        parsed = req.json()
    except BadJSON:
        parsed = None
    record = {"path": req.path, "headers": dict(req.headers), "body": req.text(),
              "json": parsed, "valid": None if not secrets else problem is None}
    if problem:
        record["error"] = problem
    bounded_append(state.webhooks, record, MAX_ITEMS)
    if problem:
        return Response.json(401, {"error": "invalid signature", "detail": problem})
    status = app.config["webhook_status"]
    if status in (204, 304):
        return Response.empty(status)
    return Response.json(status, {"status": status})


def siem(state, req):
    try:
        body = req.json()
    except BadJSON:
        return Response.json(400, {"error": "the body is not valid JSON"})
    events = body if isinstance(body, list) else [body]
    if not all(isinstance(e, dict) for e in events):
        return Response.json(400, {"error": "send a JSON object or an array of objects"})
    for e in events:
        bounded_append(state.siem, e, MAX_ITEMS)
    return Response.json(200, {"accepted": len(events)})
