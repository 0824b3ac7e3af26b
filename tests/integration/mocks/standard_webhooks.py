"""Standard Webhooks v1 signing and verification (symmetric "v1," signatures only).

    sign(secret, msg_id, timestamp, body) -> "v1,<base64 HMAC-SHA256>"
    verify(secrets, headers, body, tolerance=300, now=None) -> bool
    why_invalid(...) -> None when valid, else a short reason (same arguments as verify)

The signed content is "{webhook-id}.{webhook-timestamp}.{body}" over the exact body bytes;
the HMAC key is the base64-decoded part of the secret after "whsec_". Header names are
matched case-insensitively; webhook-signature may hold several space-separated entries
(secret rotation) and is valid when any v1 entry matches any secret. Timestamps further
than `tolerance` seconds from `now` (either way) are rejected, as the reference libraries do.
Python 3 standard library only.
"""

import base64
import binascii
import hashlib
import hmac
import time

__all__ = ["sign", "verify", "why_invalid", "secret_key"]


def secret_key(secret):
    """The HMAC key of a secret: bytes are used as they are, "whsec_<base64>" is decoded
    (a string without the prefix is taken as base64 too, like the reference libraries)."""
    if isinstance(secret, (bytes, bytearray)):
        return bytes(secret)
    s = secret[len("whsec_"):] if secret.startswith("whsec_") else secret
    try:
        return base64.b64decode(s, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("a webhook secret must be whsec_<base64>") from None


def _bytes(body):
    return body.encode("utf-8") if isinstance(body, str) else bytes(body)


def sign(secret, msg_id, timestamp, body):
    """The "v1,<signature>" entry for this message id, timestamp (int seconds) and body."""
    msg_id, timestamp = str(msg_id), str(int(timestamp))
    content = msg_id.encode("utf-8") + b"." + timestamp.encode("ascii") + b"." + _bytes(body)
    digest = hmac.new(secret_key(secret), content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def why_invalid(secrets, headers, body, tolerance=300, now=None):
    """None when the Standard Webhooks headers verify against one of `secrets`, else why not."""
    if isinstance(secrets, (str, bytes, bytearray)):
        secrets = [secrets]
    h = {str(k).lower(): v for k, v in dict(headers).items()}
    msg_id = h.get("webhook-id")
    stamp = h.get("webhook-timestamp")
    header = h.get("webhook-signature")
    if not msg_id or not stamp or not header:
        return "missing webhook-id, webhook-timestamp or webhook-signature"
    try:
        ts = int(stamp)
    except (TypeError, ValueError):
        return "webhook-timestamp is not an integer"
    now = time.time() if now is None else now
    if ts < now - tolerance:
        return "webhook-timestamp too old"
    if ts > now + tolerance:
        return "webhook-timestamp too new"
    if not secrets:
        return "no secret to verify with"
    wanted = [sign(s, msg_id, ts, body).encode("ascii") for s in secrets]
    for entry in str(header).split(" "):
        version, _, _sig = entry.partition(",")
        if version != "v1":
            continue
        for w in wanted:
            if hmac.compare_digest(entry.encode("utf-8", errors="replace"), w):
                return None
    return "no matching v1 signature"


def verify(secrets, headers, body, tolerance=300, now=None):
    """True when the headers carry a valid, timely v1 signature of `body` (bytes or str)."""
    return why_invalid(secrets, headers, body, tolerance, now) is None
