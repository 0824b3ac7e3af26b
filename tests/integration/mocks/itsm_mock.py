#!/usr/bin/env python3
"""Mock vendor server for Ferry's integration tests (see README.md beside this file).

    python3 itsm_mock.py [--port 0] [--tls-cert C --tls-key K [--client-ca CA]]
                         [--config FILE.json] [--exit-with-parent] [--verbose]

One threaded HTTP/1.1 server on 127.0.0.1 playing ServiceNow (Table API + OAuth), Jira Cloud
v3, Splunk HEC, a Standard Webhooks receiver and a generic JSON SIEM, with /_mock/ control
endpoints (reset, request log, faults, token revocation, state, config). Prints one line
{"port": N} on stdout once it accepts connections; serves until SIGTERM/SIGINT.
Python 3 standard library only.
"""

import argparse
import collections
import json
import os
import signal
import socket
import socketserver
import ssl
import sys
import threading
import time
import traceback
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import mock_core as core                                    # noqa: E402
import mock_jira                                            # noqa: E402
import mock_servicenow                                      # noqa: E402
import mock_splunk                                          # noqa: E402
import mock_webhooks                                        # noqa: E402
from mock_core import DROP, Response                        # noqa: E402

VENDORS = [mock_servicenow, mock_jira, mock_splunk, mock_webhooks]
FAULT_KEYS = {"method", "path", "times", "status", "headers", "body", "action", "delay_ms"}
ACTIONS = {"drop", "drop_after_create"}
MAX_CHUNK_LINE = 1024


class ControlError(ValueError):
    pass


# --------------------------------------------------------------------------- the application

class App:
    """Everything the server remembers, behind one lock."""

    def __init__(self, config):
        self.lock = threading.RLock()
        self.config = config
        self.tokens = core.TokenStore()
        self.requests = collections.deque(maxlen=core.MAX_LOG)
        self.faults = []
        self.data = {}
        self.reset()

    def reset(self):
        with self.lock:
            self.requests.clear()
            self.faults.clear()
            self.tokens.clear()
            self.data = {v.NAME: v.new_state() for v in VENDORS}

    def state(self):
        with self.lock:
            hooks = mock_webhooks.snapshot(self.data["webhooks"])
            return {"servicenow": mock_servicenow.snapshot(self.data["servicenow"]),
                    "jira": mock_jira.snapshot(self.data["jira"]),
                    "splunk": mock_splunk.snapshot(self.data["splunk"]),
                    "webhooks": hooks["webhooks"], "siem": hooks["siem"]}

    # ---- one request

    def handle(self, req):
        """A Response, or DROP to close the connection without answering."""
        if req.path == "/_mock" or req.path.startswith("/_mock/"):
            return self.control(req)
        vendor = next((v for v in VENDORS if v.matches(req.path)), None)
        entry = self._log(req)
        fault = self._take_fault(req)
        action = None
        if fault:
            if fault.get("delay_ms"):
                time.sleep(fault["delay_ms"] / 1000.0)
            action = fault.get("action")
            if action == "drop":
                return self._finish(entry, DROP)
            if "status" in fault:
                return self._finish(entry, self._fault_response(vendor, req, fault))
        resp = self._process(vendor, req)
        return self._finish(entry, DROP if action == "drop_after_create" else resp)

    def _process(self, vendor, req):
        if vendor is None:
            return Response.json(404, {"error": f"no mock route for {req.path}"})
        with self.lock:
            if vendor.needs_auth(req):
                problem = core.check_auth(self.config.get("auth"), req, self.tokens)
                if problem:
                    return vendor.auth_error(self, req, problem)
            return vendor.handle(self, req)

    def _log(self, req):
        text = req.text()
        entry = {"method": req.method, "path": req.path, "query": dict(req.query),
                 "headers": dict(req.headers), "body": text[:core.MAX_LOG_BODY],
                 "t": time.time(), "status": None}
        if len(text) > core.MAX_LOG_BODY:
            entry["body_truncated"] = True
        if req.client_cert:
            entry["client_cert"] = req.client_cert
        with self.lock:
            self.requests.append(entry)
        return entry

    def _finish(self, entry, resp):
        with self.lock:
            if resp is DROP:
                entry["dropped"] = True
            else:
                entry["status"] = resp.status
        return resp

    # ---- faults

    def _take_fault(self, req):
        with self.lock:
            for i, f in enumerate(self.faults):
                if (f.get("method") in (None, req.method)
                        and req.path.startswith(f.get("path") or "/")):
                    f["times"] -= 1
                    if f["times"] <= 0:
                        del self.faults[i]
                    return f
        return None

    @staticmethod
    def _fault_response(vendor, req, fault):
        status = fault["status"]
        if "body" in fault:
            body = fault["body"]
            if body is None:
                resp = Response.empty(status)
            elif isinstance(body, (dict, list)):
                resp = Response.json(status, body)
            else:
                resp = Response.text(status, str(body))
        elif vendor is not None:
            resp = vendor.error_response(req, status)
        else:
            resp = Response.json(status, {"error": core.reason(status)})
        for name, value in fault.get("headers", {}).items():  # null: leave the header out
            resp.headers = [(k, v) for k, v in resp.headers if k.lower() != name.lower()]
            if value is not None:
                resp.headers.append((name, value))
        return resp

    @staticmethod
    def check_fault(spec):
        if not isinstance(spec, dict):
            raise ControlError("a fault is a JSON object")
        extra = set(spec) - FAULT_KEYS
        if extra:
            raise ControlError(f"unknown fault key(s) {sorted(extra)}")
        f = dict(spec)
        if f.get("method") is not None:
            if not isinstance(f["method"], str):
                raise ControlError("method must be a string")
            f["method"] = f["method"].upper()
        if f.get("path") is not None and (not isinstance(f["path"], str)
                                          or not f["path"].startswith("/")):
            raise ControlError("path must be a string starting with /")
        times = f.setdefault("times", 1)
        if not isinstance(times, int) or isinstance(times, bool) or not 1 <= times <= 10**6:
            raise ControlError("times must be an integer >= 1")
        if "status" in f and (not isinstance(f["status"], int) or isinstance(f["status"], bool)
                              or not 200 <= f["status"] <= 599):
            raise ControlError("status must be an integer 200..599")
        headers = f.get("headers", {})
        if not isinstance(headers, dict) or not all(
                isinstance(k, str) and (v is None or isinstance(v, str))
                and "\n" not in k + (v or "") and "\r" not in k + (v or "")
                for k, v in headers.items()):
            raise ControlError("headers must be an object of single-line strings (or null)")
        if f.get("action") is not None and f["action"] not in ACTIONS:
            raise ControlError(f"action must be one of {sorted(ACTIONS)}")
        delay = f.get("delay_ms", 0)
        if not isinstance(delay, int) or isinstance(delay, bool) or \
                not 0 <= delay <= core.MAX_DELAY_MS:
            raise ControlError(f"delay_ms must be an integer 0..{core.MAX_DELAY_MS}")
        if "status" in f and f.get("action"):
            raise ControlError("a fault has either a status or an action, not both")
        if ("headers" in f or "body" in f) and "status" not in f:
            raise ControlError("headers and body need a status")
        if "status" not in f and not f.get("action") and not delay:
            raise ControlError("a fault needs a status, an action or delay_ms")
        return f

    # ---- control endpoints

    def control(self, req):
        try:
            return self._control(req)
        except ControlError as e:
            return Response.json(400, {"error": str(e)})

    def _control_body(self, req):
        if not req.body.strip():
            return {}
        try:
            return req.json()
        except core.BadJSON as e:
            raise ControlError(f"the body is not JSON: {e}") from None

    def _control(self, req):
        route, m = req.path.rstrip("/"), req.method
        if route == "/_mock/reset" and m == "POST":
            self.reset()
            return Response.json(200, {"reset": True})
        if route == "/_mock/requests" and m == "GET":
            with self.lock:
                out = [dict(e) for e in self.requests
                       if e["path"].startswith(req.query.get("path", "/"))
                       and req.query.get("method", e["method"]).upper() == e["method"]]
                return Response.json(200, out)
        if route == "/_mock/faults":
            if m == "GET":
                with self.lock:
                    return Response.json(200, [dict(f) for f in self.faults])
            if m == "DELETE":
                with self.lock:
                    self.faults.clear()
                return Response.json(200, {"pending": 0})
            if m == "POST":
                body = self._control_body(req)
                specs = [self.check_fault(s) for s in (body if isinstance(body, list)
                                                       else [body])]
                with self.lock:
                    if len(self.faults) + len(specs) > core.MAX_FAULTS:
                        raise ControlError(f"at most {core.MAX_FAULTS} faults may be queued")
                    self.faults.extend(specs)
                    return Response.json(200, {"queued": len(specs),
                                               "pending": len(self.faults)})
        if route == "/_mock/revoke_tokens" and m == "POST":
            with self.lock:
                return Response.json(200, {"revoked": self.tokens.revoke_all()})
        if route == "/_mock/state" and m == "GET":
            return Response.json(200, self.state())
        if route == "/_mock/config":
            if m == "POST":
                body = self._control_body(req)
                with self.lock:
                    try:
                        self.config = core.validate_config(body, self.config)
                    except core.ConfigError as e:
                        raise ControlError(str(e)) from None
            if m in ("GET", "POST"):
                with self.lock:
                    return Response.json(200, self.config)
        known = {"/_mock/reset", "/_mock/requests", "/_mock/faults", "/_mock/revoke_tokens",
                 "/_mock/state", "/_mock/config"}
        if route in known:
            return Response.json(405, {"error": f"{m} is not allowed on {route}"})
        return Response.json(404, {"error": f"no control endpoint {route}"})


# --------------------------------------------------------------------------- HTTP

class BodyError(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "ferry-itsm-mock/1.0"
    sys_version = ""
    timeout = core.IDLE_TIMEOUT

    def version_string(self):
        return self.server_version

    def log_message(self, fmt, *args):
        if self.server.verbose:
            sys.stderr.write(f"{self.address_string()} {fmt % args}\n")

    def _serve(self):
        try:
            body = self._read_body()
        except BodyError as e:
            self.close_connection = True
            self._write(Response.json(e.status, {"error": e.message}))
            return
        headers = {}
        for name, value in self.headers.items():
            name = name.lower()
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        host = headers.get("host") or f"127.0.0.1:{self.server.server_address[1]}"
        req = core.Request(self.command, self.path, headers, body, self.server.scheme, host,
                           self._client_cn())
        try:
            resp = self.server.app.handle(req)
        except Exception as e:                       # a bug in the mock: say so, keep serving
            traceback.print_exc()
            resp = Response.json(500, {"error": "mock internal error", "detail": repr(e)})
        if resp is DROP:
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        self._write(resp)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

    def _write(self, resp):
        body = resp.body
        self.send_response(resp.status)
        for name, value in resp.headers:
            self.send_header(name, value)
        if resp.note:
            note = resp.note.encode("ascii", "replace").decode()[:200]
            self.send_header("X-Mock-Note", note.replace("\r", " ").replace("\n", " "))
        if resp.status in (204, 304):
            body = b""                  # no body and (RFC 9110) no Content-Length
        else:
            self.send_header("Content-Length", str(len(body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if body:
            self.wfile.write(body)

    def _client_cn(self):
        if not isinstance(self.connection, ssl.SSLSocket):
            return None
        cert = self.connection.getpeercert() or {}
        for rdn in cert.get("subject", ()):
            for key, value in rdn:
                if key == "commonName":
                    return value
        return None

    # ---- request bodies

    def _read_body(self):
        te = self.headers.get("Transfer-Encoding")
        if te is not None:
            if te.strip().lower() != "chunked":
                raise BodyError(501, f"Transfer-Encoding {te} is not supported")
            body = self._read_chunked()
        else:
            length = self.headers.get("Content-Length")
            if length is None:
                body = b""
            else:
                if not length.strip().isdigit():
                    raise BodyError(400, "invalid Content-Length")
                n = int(length)
                if n > core.MAX_BODY:
                    raise BodyError(413, f"request body over {core.MAX_BODY} bytes")
                body = self._read_exact(n)
        encoding = (self.headers.get("Content-Encoding") or "identity").strip().lower()
        if encoding in ("gzip", "x-gzip", "deflate"):
            body = self._inflate(body, encoding)
        elif encoding != "identity":
            raise BodyError(415, f"Content-Encoding {encoding} is not supported")
        return body

    def _read_exact(self, n):
        data = self.rfile.read(n)
        if len(data) != n:
            raise BodyError(400, "the request body ended early")
        return data

    def _read_chunked(self):
        body = bytearray()
        while True:
            line = self.rfile.readline(MAX_CHUNK_LINE + 1)
            if len(line) > MAX_CHUNK_LINE or not line.endswith(b"\n"):
                raise BodyError(400, "invalid chunk size line")
            size = line.split(b";", 1)[0].strip()
            if not size or any(c not in b"0123456789abcdefABCDEF" for c in size):
                raise BodyError(400, "invalid chunk size")
            n = int(size, 16)
            if n == 0:
                break
            if len(body) + n > core.MAX_BODY:
                raise BodyError(413, f"request body over {core.MAX_BODY} bytes")
            body += self._read_exact(n)
            if self.rfile.readline(3) not in (b"\r\n", b"\n"):
                raise BodyError(400, "chunk not followed by CRLF")
        for _ in range(100):                       # trailer fields, ignored
            line = self.rfile.readline(MAX_CHUNK_LINE + 1)
            if line in (b"\r\n", b"\n", b""):
                break
        else:
            raise BodyError(400, "too many trailer fields")
        return bytes(body)

    @staticmethod
    def _inflate(data, encoding):
        wbits = 16 + zlib.MAX_WBITS if encoding != "deflate" else zlib.MAX_WBITS
        try:
            d = zlib.decompressobj(wbits)
            out = d.decompress(data, core.MAX_BODY + 1)
            if len(out) > core.MAX_BODY or d.unconsumed_tail:
                raise BodyError(413, f"request body over {core.MAX_BODY} bytes once inflated")
            return out + d.flush()
        except zlib.error:
            raise BodyError(400, f"the body is not valid {encoding} data") from None


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, port, app, ssl_ctx=None, verbose=False):
        self.app = app
        self.ssl_ctx = ssl_ctx
        self.verbose = verbose
        self.scheme = "https" if ssl_ctx else "http"
        self.slots = threading.BoundedSemaphore(core.MAX_CONNECTIONS)
        super().__init__(("127.0.0.1", port), Handler)

    def server_bind(self):
        socketserver.TCPServer.server_bind(self)     # no reverse DNS lookup (getfqdn)
        self.server_name, self.server_port = self.server_address[:2]

    def process_request(self, request, client_address):
        if not self.slots.acquire(blocking=False):   # too many connections: refuse this one
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self.slots.release()
            raise

    def process_request_thread(self, request, client_address):
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.release()

    def finish_request(self, request, client_address):
        if self.ssl_ctx is None:
            return super().finish_request(request, client_address)
        request.settimeout(core.HANDSHAKE_TIMEOUT)
        try:    # the handshake runs here, in the connection's thread, not in accept()
            tls = self.ssl_ctx.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as e:
            if self.verbose:
                sys.stderr.write(f"TLS handshake with {client_address[0]} failed: {e}\n")
            return
        try:
            self.RequestHandlerClass(tls, client_address, self)
        finally:
            try:
                tls.close()
            except OSError:
                pass

    def handle_error(self, request, client_address):
        if self.verbose:
            super().handle_error(request, client_address)


# --------------------------------------------------------------------------- main

def tls_context(cert, key, client_ca=None):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert, key)
    if client_ca:
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(cafile=client_ca)
    return ctx


def main(argv=None):
    ap = argparse.ArgumentParser(description="Mock ITSM/SIEM vendor server (127.0.0.1 only)")
    ap.add_argument("--port", type=int, default=0, help="0 (default) picks a free port")
    ap.add_argument("--tls-cert", help="serve HTTPS with this certificate (PEM)")
    ap.add_argument("--tls-key", help="private key of --tls-cert (PEM)")
    ap.add_argument("--client-ca", help="require client certificates signed by this CA (mTLS)")
    ap.add_argument("--config", help="JSON object of config keys (see README.md)")
    ap.add_argument("--exit-with-parent", action="store_true",
                    help="stop when the parent process goes away")
    ap.add_argument("--verbose", action="store_true", help="log requests on stderr")
    args = ap.parse_args(argv)
    if bool(args.tls_cert) != bool(args.tls_key):
        ap.error("--tls-cert and --tls-key go together")
    if args.client_ca and not args.tls_cert:
        ap.error("--client-ca needs --tls-cert and --tls-key")
    config = core.validate_config({})
    if args.config:
        try:
            with open(args.config, encoding="utf-8") as f:
                config = core.validate_config(json.load(f))
        except (OSError, ValueError) as e:
            sys.stderr.write(f"itsm_mock: --config {args.config}: {e}\n")
            return 2
    try:
        ctx = tls_context(args.tls_cert, args.tls_key, args.client_ca) if args.tls_cert \
            else None
        server = Server(args.port, App(config), ctx, args.verbose)
    except (OSError, ssl.SSLError) as e:
        sys.stderr.write(f"itsm_mock: {e}\n")
        return 2
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    parent = os.getppid()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    print(json.dumps({"port": server.server_address[1]}), flush=True)
    while not stop.wait(0.5):
        if args.exit_with_parent and os.getppid() != parent:
            break
    server.shutdown()
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
