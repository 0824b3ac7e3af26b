"""Self-tests of the Splunk HEC mock, Standard Webhooks (module and receiver) and the SIEM
(run via test_mocks.py)."""

import gzip
import json
import time
import unittest

import standard_webhooks
from mocktest_util import VECTOR, MockCase

HEC = "/services/collector/event"
CHANNEL = "0b6e2a4c-5a1e-4c47-8d0a-1f7c3e0e9a11"


class StandardWebhooksTest(unittest.TestCase):
    def headers(self, signature=VECTOR["signature"], **extra):
        return dict({"webhook-id": VECTOR["id"], "webhook-timestamp": str(VECTOR["timestamp"]),
                     "webhook-signature": signature}, **extra)

    def test_vector(self):
        self.assertEqual(standard_webhooks.sign(VECTOR["secret"], VECTOR["id"],
                                                VECTOR["timestamp"], VECTOR["body"]),
                         VECTOR["signature"])
        self.assertEqual(standard_webhooks.sign(VECTOR["secret"], VECTOR["id"],
                                                str(VECTOR["timestamp"]),
                                                VECTOR["body"].decode()), VECTOR["signature"])

    def test_verify(self):
        now = VECTOR["timestamp"] + 10
        verify = standard_webhooks.verify
        self.assertTrue(verify([VECTOR["secret"]], self.headers(), VECTOR["body"], now=now))
        self.assertTrue(verify(VECTOR["secret"], {k.upper(): v for k, v in
                                                  self.headers().items()},
                               VECTOR["body"], now=now))
        rotated = "v1,AAAA" + " " + VECTOR["signature"]
        self.assertTrue(verify(VECTOR["secret"], self.headers(rotated), VECTOR["body"],
                               now=now))
        self.assertTrue(verify(["whsec_" + "QUJD" * 8, VECTOR["secret"]], self.headers(),
                               VECTOR["body"], now=now))
        self.assertFalse(verify(VECTOR["secret"], self.headers(), b'{"test": 2432232315}',
                                now=now))
        self.assertFalse(verify("whsec_" + "QUJD" * 8, self.headers(), VECTOR["body"],
                                now=now))
        self.assertFalse(verify(VECTOR["secret"], self.headers("v2," + VECTOR["signature"][3:]),
                                VECTOR["body"], now=now))
        self.assertEqual(standard_webhooks.why_invalid(
            VECTOR["secret"], self.headers(), VECTOR["body"], now=now + 301),
            "webhook-timestamp too old")
        self.assertEqual(standard_webhooks.why_invalid(
            VECTOR["secret"], self.headers(), VECTOR["body"], now=VECTOR["timestamp"] - 301),
            "webhook-timestamp too new")
        self.assertFalse(verify(VECTOR["secret"], {"webhook-id": VECTOR["id"]},
                                VECTOR["body"], now=now))


class SplunkTest(MockCase):
    def post(self, body, path=HEC, headers=None):
        return self.call("POST", path, body=body, headers=headers)

    def test_events_and_batches(self):
        self.assertEqual(self.json_of(self.post('{"event": "one"}'), 200),
                         {"text": "Success", "code": 0})
        batch = ('{"event": {"a": 1}, "sourcetype": "ferry", "index": "security", '
                 '"fields": {"k": "v", "n": [1, 2]}}{"event": "two", "time": 1700000000.5}\n'
                 '\n{"event": "three"}')
        self.assertStatus(self.post(batch, "/services/collector"), 200)
        self.assertStatus(self.post(gzip.compress(b'{"event": "zipped"}'),
                                    headers={"Content-Encoding": "gzip"}), 200)
        events = self.mock.state()["splunk"]
        self.assertEqual([e["event"] for e in events], ["one", {"a": 1}, "two", "three",
                                                        "zipped"])

    def test_error_codes(self):
        cases = [("", 400, {"text": "No data", "code": 5}),
                 (" \n ", 400, {"text": "No data", "code": 5}),
                 ('{"event": "a"}{"event": ', 400,
                  {"text": "Invalid data format", "code": 6, "invalid-event-number": 1}),
                 ('[{"event": "a"}]', 400,
                  {"text": "Invalid data format", "code": 6, "invalid-event-number": 0}),
                 ('{"event": "a"}{"host": "h"}', 400,
                  {"text": "Event field is required", "code": 12, "invalid-event-number": 1}),
                 ('{"event": "  "}', 400,
                  {"text": "Event field cannot be blank", "code": 13,
                   "invalid-event-number": 0}),
                 ('{"event": "a"}{"event": "b", "index": "secret"}', 400,
                  {"text": "Incorrect index", "code": 7, "invalid-event-number": 1}),
                 ('{"event": "a", "fields": {"nested": {"x": 1}}}', 400,
                  {"text": "Error in handling indexed fields", "code": 15,
                   "invalid-event-number": 0}),
                 # The notes: an event is a string or an object; time is epoch seconds.
                 ('{"event": "a"}{"event": 5}', 400,
                  {"text": "Invalid data format", "code": 6, "invalid-event-number": 1}),
                 ('{"event": [1, 2]}', 400,
                  {"text": "Invalid data format", "code": 6, "invalid-event-number": 0}),
                 ('{"event": "a", "time": "yesterday"}', 400,
                  {"text": "Invalid data format", "code": 6, "invalid-event-number": 0})]
        for body, status, want in cases:
            self.assertEqual(self.json_of(self.post(body), status), want, body)
        self.assertEqual(self.mock.state()["splunk"], [])          # batches are all-or-nothing
        self.mock.config(splunk_indexes=["secret"])
        self.assertStatus(self.post('{"event": "b", "index": "secret"}'), 200)
        self.assertStatus(self.post('{"event": "c", "time": "1796121845.394"}'), 200)
        self.assertStatus(self.post('{"event": {"d": 1}, "time": 1796121845.394}'), 200)

    def test_health_raw_and_ack(self):
        self.assertEqual(self.json_of(self.call("GET", "/services/collector/health"), 200),
                         {"text": "HEC is healthy", "code": 17})
        r = self.post("line one\nline two\n", "/services/collector/raw?sourcetype=syslog")
        self.assertStatus(r, 200)
        self.assertEqual([(e["event"], e["sourcetype"]) for e in self.mock.state()["splunk"]],
                         [("line one", "syslog"), ("line two", "syslog")])
        self.assertEqual(self.json_of(self.post('{"acks": [0]}', "/services/collector/ack"),
                                      400)["code"], 14)
        self.mock.config(splunk_ack=True)
        self.assertEqual(self.json_of(self.post('{"event": "a"}'), 400)["code"], 10)
        self.assertEqual(self.json_of(self.post('{"event": "a"}', headers={
            "X-Splunk-Request-Channel": "nope"}), 400)["code"], 11)
        ch = {"X-Splunk-Request-Channel": CHANNEL}
        self.assertEqual(self.json_of(self.post('{"event": "a"}', headers=ch), 200),
                         {"text": "Success", "code": 0, "ackId": 0})
        self.assertEqual(self.json_of(self.post('{"event": "b"}', headers=ch), 200)["ackId"], 1)
        r = self.post('{"acks": [0, 1, 7]}', f"/services/collector/ack?channel={CHANNEL}")
        self.assertEqual(self.json_of(r, 200), {"acks": {"0": True, "1": True, "7": False}})


class WebhookReceiverTest(MockCase):
    start_config = {"webhook_secrets": [VECTOR["secret"]]}

    def deliver(self, body=b'{"type": "ticket.created"}', msg_id="msg_1", ts=None,
                secret=VECTOR["secret"], path="/webhook/ferry", signature=None):
        ts = int(time.time()) if ts is None else ts
        sig = signature or standard_webhooks.sign(secret, msg_id, ts, body)
        return self.call("POST", path, body=body, headers={
            "Content-Type": "application/json", "webhook-id": msg_id,
            "webhook-timestamp": str(ts), "webhook-signature": sig})

    def test_valid_and_invalid(self):
        r = self.assertStatus(self.deliver(), 204)
        self.assertEqual(r.body, b"")
        self.assertStatus(self.deliver(secret="whsec_" + "QUJD" * 8), 401)
        self.assertStatus(self.deliver(ts=int(time.time()) - 301), 401)
        good = standard_webhooks.sign(VECTOR["secret"], "msg_2", int(time.time()), b"{}")
        self.assertStatus(self.deliver(body=b"{}", msg_id="msg_2",
                                       signature="v1,AAAA " + good), 204)
        hooks = self.mock.state()["webhooks"]
        self.assertEqual([h["valid"] for h in hooks], [True, False, False, True])
        self.assertEqual(hooks[0]["body"], '{"type": "ticket.created"}')
        self.assertEqual(hooks[0]["json"], {"type": "ticket.created"})
        self.assertEqual(hooks[0]["headers"]["webhook-id"], "msg_1")
        self.assertEqual(hooks[0]["path"], "/webhook/ferry")
        self.assertIn("error", hooks[1])

    def test_status_config_and_no_secrets(self):
        self.mock.config(webhook_status=500)
        self.assertEqual(self.json_of(self.deliver(), 500), {"status": 500})
        self.mock.config(webhook_status=410, webhook_secrets=[])
        self.assertStatus(self.deliver(signature="v1,garbage"), 410)
        self.assertIsNone(self.mock.state()["webhooks"][-1]["valid"])

    def test_siem(self):
        self.assertEqual(self.json_of(self.call("POST", "/siem/events", {"a": 1}), 200),
                         {"accepted": 1})
        self.assertEqual(self.json_of(self.call("POST", "/siem/events", [{"b": 2}, {"c": 3}]),
                                      200), {"accepted": 2})
        self.assertStatus(self.call("POST", "/siem/events", body="{x"), 400)
        self.assertStatus(self.call("POST", "/siem/events", [1, 2]), 400)
        self.assertEqual(self.mock.state()["siem"], [{"a": 1}, {"b": 2}, {"c": 3}])
        self.assertEqual(json.loads(self.mock.requests("/siem")[0]["body"]), {"a": 1})
