"""Shared pieces of the mock vendor server: limits, requests, responses, config, auth, tokens.

Python 3 standard library only. The vendor modules (mock_servicenow, mock_jira, mock_splunk,
mock_webhooks) import this module; itsm_mock.py ties them together.
"""

import base64
import binascii
import collections
import datetime
import hmac
import json
import re
import secrets
import time
import urllib.parse
from http import HTTPStatus

import standard_webhooks

# --------------------------------------------------------------------------- limits

MAX_BODY = 4 * 1024 * 1024        # request body (after un-gzipping too)
MAX_LOG = 2000                    # entries kept in the request log (oldest dropped)
MAX_LOG_BODY = 64 * 1024          # characters of a body kept in a request-log entry
MAX_FAULTS = 200                  # queued faults
MAX_DELAY_MS = 60_000             # a fault's delay_ms
MAX_ITEMS = 10_000                # records per table / issues / events / webhooks kept
MAX_TOKENS = 1000                 # OAuth tokens remembered
MAX_CONNECTIONS = 64              # concurrent connections (more are closed at once)
IDLE_TIMEOUT = 30                 # seconds a keep-alive connection may sit idle
HANDSHAKE_TIMEOUT = 10            # seconds for a TLS handshake

DROP = object()                   # handler result: close the connection, send nothing


# --------------------------------------------------------------------------- time formats

def sn_time(t=None):
    """ServiceNow date-time: YYYY-MM-DD HH:MM:SS (UTC)."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(time.time() if t is None else t))


def jira_time(t=None):
    """Jira date-time: 2024-01-31T10:00:00.000+0000."""
    t = time.time() if t is None else t
    d = datetime.datetime.fromtimestamp(t, datetime.timezone.utc)
    return d.strftime("%Y-%m-%dT%H:%M:%S.") + f"{d.microsecond // 1000:03d}+0000"


# --------------------------------------------------------------------------- requests

class BadJSON(ValueError):
    pass


class Request:
    """One parsed HTTP request as the vendor handlers see it."""

    def __init__(self, method, target, headers, body, scheme, host, client_cert=None):
        if target.startswith(("http://", "https://")):         # absolute-form target
            split = urllib.parse.urlsplit(target)
            path, query = split.path, split.query
        else:
            path, _, query = target.split("#", 1)[0].partition("?")
        self.method = method.upper()
        self.target = target
        self.path = path or "/"
        self.raw_query = query
        self.query_pairs = urllib.parse.parse_qsl(query, keep_blank_values=True)
        self.query = dict(self.query_pairs)          # last value wins
        self.headers = headers                       # {lower-case name: value}
        self.body = body                             # bytes
        self.scheme = scheme
        self.host = host
        self.client_cert = client_cert               # CN of the TLS client cert, if any
        self.auth_user = None                        # set by the auth check (basic auth)

    @property
    def base_url(self):
        return f"{self.scheme}://{self.host}"

    def header(self, name, default=None):
        return self.headers.get(name.lower(), default)

    def media_type(self):
        return self.header("content-type", "").split(";")[0].strip().lower()

    def text(self):
        return self.body.decode("utf-8", errors="replace")

    def json(self):
        """The body parsed as JSON; BadJSON when it is not (NaN/Infinity are rejected)."""
        try:
            return json.loads(self.body.decode("utf-8"), parse_constant=_no_constant)
        except (UnicodeDecodeError, ValueError, RecursionError) as e:
            raise BadJSON(str(e) or "nested too deeply") from None


def _no_constant(name):
    raise ValueError(f"{name} is not valid JSON")


# --------------------------------------------------------------------------- responses

class Response:
    """status, headers [(name, value)], body bytes. 204/304 never carry a body."""

    def __init__(self, status, body=b"", headers=None, content_type=None):
        self.status = int(status)
        self.body = body if isinstance(body, bytes) else str(body).encode("utf-8")
        self.headers = list(headers.items() if isinstance(headers, dict) else headers or [])
        if content_type and self.body and not self.has_header("content-type"):
            self.headers.append(("Content-Type", content_type))
        self.note = None                             # mock-only explanation (X-Mock-Note)

    def has_header(self, name):
        return any(k.lower() == name.lower() for k, _ in self.headers)

    @classmethod
    def json(cls, status, obj, headers=None):
        return cls(status, json.dumps(obj).encode("utf-8"), headers,
                   "application/json;charset=UTF-8")

    @classmethod
    def text(cls, status, text, headers=None, content_type="text/plain;charset=UTF-8"):
        return cls(status, text.encode("utf-8"), headers, content_type)

    @classmethod
    def empty(cls, status, headers=None):
        return cls(status, b"", headers)


def reason(status):
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


# --------------------------------------------------------------------------- config

AUTH_KEYS = {
    "none": set(),
    "basic": {"username", "password"},
    "bearer": {"token"},
    "api_key": {"header", "value"},
    "splunk": {"token"},
    "oauth2": {"client_id", "client_secret"},
}
AUTH_OPTIONAL = {"oauth2": {"expires_in", "scope", "username", "password"},
                 "splunk": {"query_token"}}

DEFAULT_CONFIG = {
    "auth": None,                      # see AUTH_KEYS; None = no auth
    "servicenow_tables": [],           # extra ServiceNow tables
    "splunk_indexes": ["main", "security"],
    "splunk_ack": False,               # indexer acknowledgement (channels, ackId)
    "webhook_secrets": [],             # whsec_... ; empty = signatures not checked
    "webhook_status": 204,
    "webhook_tolerance": 300,          # seconds
    "jira_projects": None,             # None = any key is a project; else a list of keys
    "jira_issue_types": ["Task", "Bug", "Story", "Epic", "Incident", "Service Request"],
    "jira_adf_fields": [],             # custom fields that take ADF (textarea)
    "jira_comment_limit": 5000,        # comments per issue, then 413
    "jira_search_lag_ms": 0,           # new issues invisible to search for this long
}


class ConfigError(ValueError):
    pass


def _str_list(v, key, pattern=None):
    if not isinstance(v, list) or not all(isinstance(x, str) and x for x in v):
        raise ConfigError(f"{key} must be a list of non-empty strings")
    if pattern:
        for x in v:
            if not re.fullmatch(pattern, x):
                raise ConfigError(f"{key}: invalid entry {x!r}")
    return list(v)


def _int(v, key, lo, hi):
    if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= hi:
        raise ConfigError(f"{key} must be an integer {lo}..{hi}")
    return v


def validate_auth(auth):
    if auth is None:
        return None
    if not isinstance(auth, dict) or auth.get("type") not in AUTH_KEYS:
        raise ConfigError(f"auth.type must be one of {sorted(AUTH_KEYS)}")
    kind = auth["type"]
    if kind == "none":
        return None
    required = AUTH_KEYS[kind]
    allowed = required | AUTH_OPTIONAL.get(kind, set()) | {"type"}
    missing = required - set(auth)
    extra = set(auth) - allowed
    if missing or extra:
        raise ConfigError(f"auth {kind}: missing {sorted(missing)}, unknown {sorted(extra)}")
    for k in required:
        if not isinstance(auth[k], str) or not auth[k]:
            raise ConfigError(f"auth.{k} must be a non-empty string")
    out = dict(auth)
    if kind == "oauth2":
        out["expires_in"] = _int(auth.get("expires_in", 1799), "auth.expires_in", 1, 10**7)
        out.setdefault("scope", "useraccount")
    return out


def validate_config(update, base=None):
    """Merge `update` over `base` (default DEFAULT_CONFIG) after checking every key."""
    cfg = json.loads(json.dumps(base if base is not None else DEFAULT_CONFIG))
    if not isinstance(update, dict):
        raise ConfigError("config must be a JSON object")
    for key, v in update.items():
        if key not in DEFAULT_CONFIG:
            raise ConfigError(f"unknown config key {key!r}")
        if key == "auth":
            v = validate_auth(v)
        elif key == "servicenow_tables":
            v = _str_list(v, key, r"[a-z][a-z0-9_]*")
        elif key == "splunk_indexes":
            v = _str_list(v, key)
        elif key == "splunk_ack":
            if not isinstance(v, bool):
                raise ConfigError("splunk_ack must be true or false")
        elif key == "webhook_secrets":
            v = _str_list(v, key)
            for s in v:
                try:
                    standard_webhooks.secret_key(s)
                except ValueError as e:
                    raise ConfigError(f"webhook_secrets: {e}") from None
        elif key == "webhook_status":
            v = _int(v, key, 200, 599)
        elif key == "webhook_tolerance":
            v = _int(v, key, 0, 10**7)
        elif key == "jira_projects":
            v = None if v is None else _str_list(v, key, r"[A-Z][A-Z0-9_]{0,9}")
        elif key in ("jira_issue_types", "jira_adf_fields"):
            v = _str_list(v, key) if v else []
        elif key == "jira_comment_limit":
            v = _int(v, key, 0, 10**6)
        elif key == "jira_search_lag_ms":
            v = _int(v, key, 0, 600_000)
        cfg[key] = v
    return cfg




# --------------------------------------------------------------------------- OAuth tokens

class TokenStore:
    """Access and refresh tokens issued by /oauth_token.do (bounded, oldest forgotten)."""

    def __init__(self):
        self.tokens = collections.OrderedDict()   # token -> {kind, client_id, expires_at, revoked}

    def clear(self):
        self.tokens.clear()

    def _add(self, kind, client_id, lifetime):
        token = secrets.token_urlsafe(64)[:86]
        self.tokens[token] = {"kind": kind, "client_id": client_id,
                              "expires_at": time.time() + lifetime, "revoked": False}
        while len(self.tokens) > MAX_TOKENS:
            self.tokens.popitem(last=False)
        return token

    def valid(self, token, kind="access"):
        info = self.tokens.get(token)
        return bool(info and info["kind"] == kind and not info["revoked"]
                    and info["expires_at"] > time.time())

    def current(self, client_id, kind="access"):
        """The newest still-valid token of this client (ServiceNow hands it out again)."""
        for token in reversed(self.tokens):
            info = self.tokens[token]
            if info["client_id"] == client_id and self.valid(token, kind):
                return token, info
        return None, None

    def issue(self, client_id, lifetime, kind="access"):
        token, info = self.current(client_id, kind)
        if token is None:
            token = self._add(kind, client_id, lifetime)
            info = self.tokens[token]
        return token, max(1, int(info["expires_at"] - time.time() + 0.5))

    def revoke_all(self):
        n = 0
        for info in self.tokens.values():
            if not info["revoked"]:
                info["revoked"] = True
                n += 1
        return n


# --------------------------------------------------------------------------- auth

def check_auth(auth, req, tokens):
    """None when `req` satisfies `auth`, else "missing" | "malformed" | "invalid"."""
    if not auth:
        return None
    kind = auth["type"]
    if kind == "api_key":
        got = req.header(auth["header"])
        if got is None:
            return "missing"
        return None if hmac.compare_digest(got.encode(), auth["value"].encode()) else "invalid"
    header = req.header("authorization")
    if kind == "splunk" and header is None and "token" in req.query:
        if not auth.get("query_token"):
            return "query_token_disabled"
        header = "Splunk " + req.query["token"]
    if header is None:
        return "missing"
    scheme, _, cred = header.strip().partition(" ")
    scheme, cred = scheme.lower(), cred.strip()
    if kind == "basic" or (kind == "splunk" and scheme == "basic"):
        if scheme != "basic":
            return "malformed"
        try:
            user, sep, password = base64.b64decode(cred, validate=True).decode(
                "utf-8").partition(":")
        except (binascii.Error, ValueError):
            return "malformed"
        if not sep:
            return "malformed"
        req.auth_user = user
        if kind == "splunk":   # Splunk accepts the token as a basic-auth password
            return None if _same(password, auth["token"]) else "invalid"
        ok = _same(user, auth["username"]) & _same(password, auth["password"])
        return None if ok else "invalid"
    if kind == "splunk":
        if scheme != "splunk" or not cred:
            return "malformed"
        return None if _same(cred, auth["token"]) else "invalid"
    if scheme != "bearer" or not cred:
        return "malformed"
    if kind == "bearer":
        return None if _same(cred, auth["token"]) else "invalid"
    return None if tokens.valid(cred) else "invalid"     # oauth2


def _same(a, b):
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


# --------------------------------------------------------------------------- misc

def bounded_append(seq, item, limit=MAX_ITEMS):
    """Append to a list kept to `limit` items (oldest dropped)."""
    seq.append(item)
    if len(seq) > limit:
        del seq[: len(seq) - limit]
