"""Splunk HTTP Event Collector (HEC) of the mock vendor server.

POST /services/collector/event and /services/collector (concatenated JSON event objects),
POST /services/collector/raw (one event per line), POST /services/collector/ack,
GET /services/collector/health (no auth). Replies {"text": ..., "code": N} with the codes of
the vendor notes. A batch is all-or-nothing: when event i is invalid nothing is stored and the
reply names "invalid-event-number": i.
"""

import json
import re

from mock_core import MAX_ITEMS, Response, bounded_append, reason

NAME = "splunk"
PREFIX = "/services/collector"
CODES = {
    0: ("Success", 200), 1: ("Token disabled", 403), 2: ("Token is required", 401),
    3: ("Invalid authorization", 401), 4: ("Invalid token", 403), 5: ("No data", 400),
    6: ("Invalid data format", 400), 7: ("Incorrect index", 400),
    8: ("Internal server error", 500), 9: ("Server is busy", 503),
    10: ("Data channel is missing", 400), 11: ("Invalid data channel", 400),
    12: ("Event field is required", 400), 13: ("Event field cannot be blank", 400),
    14: ("ACK is disabled", 400), 15: ("Error in handling indexed fields", 400),
    16: ("Query string authorization is not enabled", 400), 17: ("HEC is healthy", 200),
    18: ("HEC is unhealthy, queues are full", 503),
}
GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
MAX_CHANNELS = 100


def reply(code, **extra):
    text, status = CODES[code]
    return Response.json(status, dict({"text": text, "code": code}, **extra))


# --------------------------------------------------------------------------- module interface

def matches(path):
    return path == PREFIX or path.startswith(PREFIX + "/")


def _route(path):
    p = path.rstrip("/")
    if p.endswith("/1.0"):
        p = p[:-4]
    return p[len(PREFIX):] or "/event"


def needs_auth(req):
    return _route(req.path) != "/health"


class State:
    def __init__(self):
        self.events = []
        self.channels = {}                  # channel -> {"next": int, "acked": set}


def new_state():
    return State()


def snapshot(state):
    return list(state.events)


def auth_error(app, req, problem):
    return reply({"missing": 2, "malformed": 3, "invalid": 4,
                  "query_token_disabled": 16}.get(problem, 3))


def error_response(req, status):
    code = {500: 8, 503: 9, 401: 3, 403: 4, 400: 6}.get(status)
    if code is not None:
        return Response.json(status, {"text": CODES[code][0], "code": code})
    return Response.json(status, {"text": reason(status), "code": status})


def handle(app, req):
    state = app.data[NAME]
    route = _route(req.path)
    if route == "/health":
        if req.method != "GET":
            return Response.json(405, {"text": "Method Not Allowed", "code": 405})
        return reply(17)
    if route not in ("/event", "/raw", "/ack"):
        return Response.json(404, {"text": "The requested URL was not found on this server.",
                                   "code": 404})
    if req.method != "POST":
        return Response.json(405, {"text": "Method Not Allowed", "code": 405})
    ack = app.config["splunk_ack"]
    channel = req.header("x-splunk-request-channel") or req.query.get("channel")
    if route == "/ack" and not ack:
        return reply(14)
    if ack:
        if not channel:
            return reply(10)
        if not GUID.fullmatch(channel):
            return reply(11)
    if route == "/ack":
        return _ack_status(state, req, channel)
    events = _events(req) if route == "/event" else _raw(req)
    if isinstance(events, Response):
        return events
    allowed = app.config["splunk_indexes"]
    for i, event in enumerate(events):
        if "index" in event and event["index"] not in allowed:
            return reply(7, **{"invalid-event-number": i})
    for event in events:
        bounded_append(state.events, event, MAX_ITEMS)
    if not ack:
        return reply(0)
    chan = state.channels.setdefault(channel, {"next": 0, "acked": set()})
    while len(state.channels) > MAX_CHANNELS:
        del state.channels[next(iter(state.channels))]
    ack_id = chan["next"]
    chan["next"] += 1
    chan["acked"].add(ack_id)               # indexed at once
    return reply(0, ackId=ack_id)


# --------------------------------------------------------------------------- bodies

def _events(req):
    """Parse concatenated JSON event objects; a list of events or an error Response."""
    try:
        text = req.body.decode("utf-8")
    except UnicodeDecodeError:
        return reply(6, **{"invalid-event-number": 0})
    decoder = json.JSONDecoder()
    events, pos = [], 0
    while True:
        while pos < len(text) and text[pos] in " \t\r\n":
            pos += 1
        if pos >= len(text):
            break
        n = len(events)
        try:
            obj, pos = decoder.raw_decode(text, pos)
        except (ValueError, RecursionError):
            return reply(6, **{"invalid-event-number": n})
        if not isinstance(obj, dict):
            return reply(6, **{"invalid-event-number": n})
        if "event" not in obj or obj["event"] is None:
            return reply(12, **{"invalid-event-number": n})
        ev = obj["event"]
        if (isinstance(ev, str) and not ev.strip()) or ev in ({}, []):
            return reply(13, **{"invalid-event-number": n})
        if not isinstance(ev, (str, dict)):  # the notes: string or object
            return reply(6, **{"invalid-event-number": n})
        if "time" in obj and not _epoch_seconds(obj["time"]):
            return reply(6, **{"invalid-event-number": n})
        if "fields" in obj and not _flat_fields(obj["fields"]):
            return reply(15, **{"invalid-event-number": n})
        if "index" in obj and not isinstance(obj["index"], str):
            return reply(7, **{"invalid-event-number": n})
        events.append(obj)
    if not events:
        return reply(5)
    return events


def _epoch_seconds(t):
    """The notes: `time` is epoch seconds, may have decimals (a number or its text)."""
    if isinstance(t, bool):
        return False
    if isinstance(t, (int, float)):
        return True
    try:
        float(t)
        return isinstance(t, str)
    except (TypeError, ValueError):
        return False


def _flat_fields(fields):
    def scalar(v):
        return isinstance(v, (str, int, float)) and not isinstance(v, bool)
    return isinstance(fields, dict) and all(
        scalar(v) or (isinstance(v, list) and all(scalar(x) for x in v))
        for v in fields.values())


def _raw(req):
    """/raw: each non-empty line is an event; metadata from the query string."""
    lines = [ln for ln in req.body.decode("utf-8", errors="replace").splitlines()
             if ln.strip()]
    if not lines:
        return reply(5)
    meta = {k: req.query[k] for k in ("host", "source", "sourcetype", "index", "time")
            if k in req.query}
    return [dict(meta, event=line, raw=True) for line in lines]


def _ack_status(state, req, channel):
    try:
        ids = json.loads(req.body.decode("utf-8"))["acks"]
        ids = [int(i) for i in ids]
    except (ValueError, KeyError, TypeError):
        return reply(6)
    acked = state.channels.get(channel, {}).get("acked", set())
    return Response.json(200, {"acks": {str(i): i in acked for i in ids}})
