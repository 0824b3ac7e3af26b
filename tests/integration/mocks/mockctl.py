"""Start, drive and stop the mock vendor server (itsm_mock.py) from tests; make test certs.

    from mockctl import start_mock, make_certs

    with start_mock({"auth": {"type": "basic", "username": "u", "password": "p"}}) as mock:
        mock.url                        # http://127.0.0.1:PORT
        mock.fault(path="/api/now/table/incident", status=503, headers={"Retry-After": "1"})
        ...                             # point Ferry at mock.url
        mock.requests(); mock.state(); mock.reset(); mock.config(webhook_status=500)

    certs = make_certs(tmpdir)          # {ca, server_cert, server_key, client_cert, ...}
    with start_mock(tls=certs) as mock: ...                  # https
    with start_mock(tls=dict(certs, mtls=True)) as mock: ... # https + client certificates

Control calls use urllib (with the CA, and the client certificate under mTLS). The server is
a child process stopped by its PID: SIGTERM, wait, SIGKILL after a bound. Standard library
and the openssl CLI only.
"""

import atexit
import http.client
import json
import os
import secrets
import selectors
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import weakref

HERE = os.path.dirname(os.path.abspath(__file__))
MOCK = os.path.join(HERE, "itsm_mock.py")
START_TIMEOUT = 10      # seconds for the ready line
STOP_TIMEOUT = 5        # seconds after SIGTERM before SIGKILL
CALL_TIMEOUT = 10       # seconds for one control call
OPENSSL_TIMEOUT = 20    # seconds for one openssl command

_live = weakref.WeakSet()


class MockError(RuntimeError):
    pass


class Reply:
    """A response of Mock.call(): status, headers (lower-case names), body bytes."""

    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    @property
    def text(self):
        return self.body.decode("utf-8", errors="replace")

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def __repr__(self):
        return f"<Reply {self.status} {self.text[:200]!r}>"


def _tls_options(tls):
    """Normalise tls: accepts make_certs() names or cert/key/client_ca; mtls=True uses ca."""
    if not tls:
        return None
    t = dict(tls)
    opts = {"cert": t.get("cert") or t.get("server_cert"),
            "key": t.get("key") or t.get("server_key"),
            "ca": t.get("ca"),
            "client_ca": t.get("client_ca") or (t.get("ca") if t.get("mtls") else None),
            "client_cert": t.get("client_cert"), "client_key": t.get("client_key")}
    if not opts["cert"] or not opts["key"]:
        raise ValueError("tls needs cert and key (or server_cert and server_key)")
    return opts


class Mock:
    def __init__(self, proc, port, tls, workdir, stderr_file):
        self.proc = proc
        self.pid = proc.pid
        self.port = port
        self.tls = tls
        self.scheme = "https" if tls else "http"
        self.url = f"{self.scheme}://127.0.0.1:{port}"
        self._workdir = workdir
        self._stderr_file = stderr_file
        self._stderr_text = None
        _live.add(self)

    # ---- lifecycle

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        """SIGTERM by PID, wait; SIGKILL if it has not exited after STOP_TIMEOUT. Idempotent."""
        if self.proc.poll() is None:
            try:
                os.kill(self.pid, signal.SIGTERM)
                self.proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.proc.wait(timeout=STOP_TIMEOUT)
            except ProcessLookupError:
                self.proc.wait(timeout=STOP_TIMEOUT)
        if self.proc.stdout:
            self.proc.stdout.close()
        if self._stderr_text is None:
            self._stderr_text = self.stderr()
            self._stderr_file.close()
            shutil.rmtree(self._workdir, ignore_errors=True)
        _live.discard(self)
        return self.proc.returncode

    def stderr(self):
        """What the server wrote on stderr (tracebacks; requests with verbose=True)."""
        if self._stderr_text is not None:
            return self._stderr_text
        try:
            with open(self._stderr_file.name, "rb") as f:
                return f.read().decode("utf-8", errors="replace")
        except OSError:
            return ""

    # ---- TLS

    def ssl_context(self, client_cert=True):
        """A client context trusting the CA (and presenting the client cert under mTLS)."""
        if not self.tls:
            return None
        ctx = ssl.create_default_context(cafile=self.tls["ca"]) if self.tls["ca"] \
            else ssl._create_unverified_context()
        if client_cert and self.tls["client_ca"] and self.tls["client_cert"]:
            ctx.load_cert_chain(self.tls["client_cert"], self.tls["client_key"])
        return ctx

    # ---- any request

    def call(self, method, path, body=None, headers=None, json_body=None, timeout=CALL_TIMEOUT):
        """One request on a new connection; a Reply whatever the status. json_body is
        serialised with Content-Type application/json; body may be bytes or str."""
        headers = dict(headers or {})
        if json_body is not None:
            body = json.dumps(json_body)
            headers.setdefault("Content-Type", "application/json")
        if isinstance(body, str):
            body = body.encode("utf-8")
        if self.tls:
            conn = http.client.HTTPSConnection("127.0.0.1", self.port, timeout=timeout,
                                               context=self.ssl_context())
        else:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            return Reply(resp.status, {k.lower(): v for k, v in resp.getheaders()}, data)
        finally:
            conn.close()

    # ---- control endpoints (urllib)

    def _control(self, method, path, payload=None):
        data = None if payload is None else json.dumps(payload).encode("utf-8")
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=CALL_TIMEOUT,
                                        context=self.ssl_context()) as resp:
                return json.loads(resp.read().decode("utf-8"))
        except urllib.error.HTTPError as e:
            raise MockError(f"{method} {path}: {e.code} {e.read().decode(errors='replace')}") \
                from None

    def requests(self, path=None, method=None):
        """The request log (control requests excluded), optionally filtered by path prefix
        and method: [{method, path, query, headers, body, t, status, ...}]."""
        q = {k: v for k, v in (("path", path), ("method", method)) if v}
        suffix = "?" + urllib.parse.urlencode(q) if q else ""
        return self._control("GET", "/_mock/requests" + suffix)

    def state(self):
        return self._control("GET", "/_mock/state")

    def fault(self, **spec):
        """Queue one fault: method, path (prefix), times, status/headers/body, action
        ("drop" | "drop_after_create"), delay_ms."""
        return self._control("POST", "/_mock/faults", spec)

    def faults(self):
        return self._control("GET", "/_mock/faults")

    def clear_faults(self):
        return self._control("DELETE", "/_mock/faults")

    def reset(self):
        return self._control("POST", "/_mock/reset", {})

    def config(self, **kv):
        """Replace config keys at run time; returns the whole config."""
        return self._control("POST", "/_mock/config", kv)

    def revoke_tokens(self):
        return self._control("POST", "/_mock/revoke_tokens", {})


def start_mock(config=None, tls=None, verbose=False, timeout=START_TIMEOUT):
    """Start itsm_mock.py on a free port; returns a Mock once it accepts connections.

    config: dict of config keys (README.md). tls: None for plain HTTP, else a dict with
    cert/key (or make_certs()'s server_cert/server_key), ca (trusted by the control calls),
    client_ca or mtls=True (require client certs signed by client_ca / ca), and
    client_cert/client_key (presented by the control calls under mTLS)."""
    tls = _tls_options(tls)
    workdir = tempfile.mkdtemp(prefix="ferry-mock-")
    args = [sys.executable, MOCK, "--port", "0", "--exit-with-parent"]
    if verbose:
        args.append("--verbose")
    if config is not None:
        path = os.path.join(workdir, "config.json")
        with open(path, "w", encoding="utf-8") as f:
            json.dump(config, f)
        args += ["--config", path]
    if tls:
        args += ["--tls-cert", tls["cert"], "--tls-key", tls["key"]]
        if tls["client_ca"]:
            args += ["--client-ca", tls["client_ca"]]
    stderr_file = open(os.path.join(workdir, "stderr.log"), "wb")
    proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=stderr_file, close_fds=True)
    line = b""
    try:
        line = _read_line(proc, timeout)
        port = int(json.loads(line.decode("utf-8"))["port"])
    except (ValueError, KeyError, TypeError, OSError) as e:
        _kill(proc)
        stderr_file.close()
        with open(stderr_file.name, "rb") as f:
            err = f.read().decode("utf-8", errors="replace")
        shutil.rmtree(workdir, ignore_errors=True)
        raise MockError(f"itsm_mock.py did not start ({e}; stdout {line!r}): {err}") from None
    return Mock(proc, port, tls, workdir, stderr_file)


def _read_line(proc, timeout):
    deadline = time.monotonic() + timeout
    buf = b""
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        while b"\n" not in buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise OSError(f"no ready line within {timeout} s")
            if not sel.select(left):
                continue
            chunk = os.read(proc.stdout.fileno(), 4096)
            if not chunk:
                raise OSError(f"the server exited (status {proc.wait(timeout=STOP_TIMEOUT)})")
            buf += chunk
            if len(buf) > 4096:
                raise OSError("ready line too long")
    return buf.split(b"\n", 1)[0]


def _kill(proc):
    if proc.poll() is None:
        try:
            os.kill(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=STOP_TIMEOUT)
    if proc.stdout:
        proc.stdout.close()


@atexit.register
def _stop_all():
    for mock in list(_live):
        try:
            mock.stop()
        except Exception:   # best effort at interpreter exit
            pass


# --------------------------------------------------------------------------- certificates

_OPENSSL_CNF = """\
[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[server]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1,DNS:localhost
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid,issuer
[client]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid,issuer
"""


def _openssl(*args):
    try:
        subprocess.run(["openssl", *args], check=True, capture_output=True,
                       timeout=OPENSSL_TIMEOUT, stdin=subprocess.DEVNULL)
    except FileNotFoundError:
        raise MockError("the openssl command is not installed") from None
    except subprocess.CalledProcessError as e:
        raise MockError(f"openssl {' '.join(args[:2])} failed: "
                        f"{e.stderr.decode(errors='replace')}") from None


def make_certs(directory):
    """Write a test PKI into `directory` with the openssl CLI (P-256 keys, valid 2 days):
    a CA, a server cert for 127.0.0.1/localhost, a client cert, and a second client cert
    signed by a different CA (for the negative mTLS test). Returns a dict of paths:
    ca, server_cert, server_key, client_cert, client_key, other_ca, other_client_cert,
    other_client_key."""
    os.makedirs(directory, exist_ok=True)
    d = lambda name: os.path.join(directory, name)      # noqa: E731
    cnf = d("openssl.cnf")
    with open(cnf, "w", encoding="ascii") as f:
        f.write(_OPENSSL_CNF)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]

    def ca(name, cn):
        _openssl("req", "-x509", "-config", cnf, "-extensions", "ca", *ec, "-days", "2",
                 "-subj", f"/CN={cn}", "-keyout", d(name + ".key"), "-out", d(name + ".pem"))

    def leaf(name, cn, issuer, ext):
        _openssl("req", "-new", "-config", cnf, *ec, "-subj", f"/CN={cn}",
                 "-keyout", d(name + ".key"), "-out", d(name + ".csr"))
        _openssl("x509", "-req", "-in", d(name + ".csr"), "-CA", d(issuer + ".pem"),
                 "-CAkey", d(issuer + ".key"), "-set_serial", "0x" + secrets.token_hex(8),
                 "-days", "2", "-extfile", cnf, "-extensions", ext, "-out", d(name + ".pem"))
        os.remove(d(name + ".csr"))

    ca("ca", "Ferry Test CA")
    leaf("server", "127.0.0.1", "ca", "server")
    leaf("client", "ferry-client", "ca", "client")
    ca("other_ca", "Other Test CA")
    leaf("other_client", "other-client", "other_ca", "client")
    return {"ca": d("ca.pem"), "server_cert": d("server.pem"), "server_key": d("server.key"),
            "client_cert": d("client.pem"), "client_key": d("client.key"),
            "other_ca": d("other_ca.pem"), "other_client_cert": d("other_client.pem"),
            "other_client_key": d("other_client.key")}
