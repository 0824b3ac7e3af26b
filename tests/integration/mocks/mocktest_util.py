"""Helpers shared by the mock self-tests (test_mocks.py and the mocktests_*.py it imports)."""

import json
import os
import re
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import mock_core                      # noqa: E402
from mockctl import start_mock        # noqa: E402

SYS_ID = re.compile(r"[0-9a-f]{32}")
SN_TIME = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}")

# The Standard Webhooks test vector of the vendor notes (reference npm library 1.1.1).
VECTOR = {"secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
          "id": "msg_p5jXN8AQM9LWM0D4loKWxJek", "timestamp": 1614265330,
          "body": b'{"test": 2432232314}',
          "signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="}


def doc(*blocks):
    return {"type": "doc", "version": 1, "content": list(blocks)}


def para(*inline):
    return {"type": "paragraph", "content": list(inline)}


def text(t, *marks):
    node = {"type": "text", "text": t}
    if marks:
        node["marks"] = [m if isinstance(m, dict) else {"type": m} for m in marks]
    return node


class MockCase(unittest.TestCase):
    """One mock server per test class; reset and default config before every test."""

    mock = None
    start_config = None

    @classmethod
    def setUpClass(cls):
        cls.mock = start_mock(cls.start_config)

    @classmethod
    def tearDownClass(cls):
        if cls.mock:
            cls.mock.stop()

    def setUp(self):
        self.mock.reset()
        self.mock.config(**dict(mock_core.DEFAULT_CONFIG, **(self.start_config or {})))

    def call(self, method, path, json_body=None, **kw):
        return self.mock.call(method, path, json_body=json_body, **kw)

    def assertStatus(self, reply, status):
        self.assertEqual(reply.status, status, reply.text)
        return reply

    def json_of(self, reply, status):
        self.assertStatus(reply, status)
        return json.loads(reply.body)
