#!/usr/bin/python3
"""The client's side of exactly-once (SPEC §3, issue 10), end to end on real sockets: the
built appointment-api against DynamoDB Local through tests/support/faultproxy, which drops
replies after DynamoDB applied the write, and clients that retry with the same body (and
Idempotency-Key) as SPEC tells them. Whatever is lost in between, the retries end in one
appointment and every answer that carries one carries the same appointmentId.

Every daemon started here is stopped by pid and must exit 0 (under the ASan build of
scripts/test a leak or a memory error makes it exit otherwise)."""
import http.client
import json
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

D = None


class Api:
    """One appointment-api on deployment d: its own port and config (the deployment's plus
    extra), its own environment (env overrides, e.g. an endpoint through a proxy)."""

    def __init__(self, d, extra="", env=None):
        self.port = harness.free_port()
        self.config = os.path.join(d.dir, "api-%s.conf" % harness.rand(5))
        with open(self.config, "w") as f:
            f.write(d.config_text(extra + "\n[api]\nlisten = 127.0.0.1:%d\n" % self.port))
        self.daemon = harness.Daemon("appointment-api", ["--config", self.config],
                                     dict(d.env, **(env or {})), d.dir)

    def call(self, method, path, body=None, headers=None, timeout=90):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        h = {"Content-Type": "application/json"} if body is not None else {}
        h.update(headers or {})
        try:
            conn.request(method, path, body=json.dumps(body) if body is not None else None,
                         headers=h)
            r = conn.getresponse()
            raw = r.read()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, \
                json.loads(raw) if raw else None
        finally:
            conn.close()

    def post_like_a_client(self, insured, schedule, country, key=None, attempts=5):
        """POSTs, retrying with the same body and key on no answer, a connection error or a
        5xx, as SPEC §3 tells a client to; returns every (status, body) in order."""
        headers = {"Idempotency-Key": key} if key else {}
        body = {"insuredId": insured, "scheduleId": schedule, "countryISO": country}
        out = []
        for i in range(attempts):
            try:
                status, _, doc = self.call("POST", "/appointments", body, headers)
            except (OSError, http.client.HTTPException) as e:
                out.append((None, str(e)))
            else:
                out.append((status, doc))
                if status < 500:
                    break
            time.sleep(0.2 * (i + 1))
        return out

    def appointments(self, insured):
        status, _, doc = self.call("GET", "/appointments/%s?limit=100" % insured)
        assert status == 200, (status, doc)
        return doc["appointments"]

    def stop(self):
        return self.daemon.stop()

    def logs(self):
        return self.daemon.logs()


def setUpModule():
    global D
    D = harness.Deployment(seed_count=40)


def tearDownModule():
    if D is not None:
        D.close()


class LostReplyTest(unittest.TestCase):
    """DynamoDB applied the write, its reply never came back."""

    def setUp(self):
        self.proxy = harness.FaultProxy(os.environ["AWS_ENDPOINT_URL_DYNAMODB"])
        self.addCleanup(self.proxy.close)
        self.api = Api(D, env={"AWS_ENDPOINT_URL_DYNAMODB": self.proxy.url})
        self.addCleanup(self.stop_clean)

    def stop_clean(self):
        rc = self.api.stop()
        logs = self.api.logs()
        self.assertEqual(rc, 0, "appointment-api exited %s; log tail:\n%s" % (rc, logs[-3000:]))
        for bad in ("AddressSanitizer", "runtime error:", "LeakSanitizer"):
            self.assertNotIn(bad, logs)

    def assert_one_appointment(self, insured, replies):
        """Every answer that carries an appointment carries the same id, and the insured
        has exactly that one appointment."""
        ids = {doc["appointmentId"] for status, doc in replies
               if status in (200, 201) and isinstance(doc, dict)}
        self.assertEqual(len(ids), 1, replies)
        stored = [a["appointmentId"] for a in self.api.appointments(insured)]
        self.assertEqual(stored, list(ids), replies)
        return ids.pop()

    def test_appointment_put_reply_lost(self):
        # the core retries the conditional PutItem; the retry meets our own item
        self.proxy.rules({"op": "PutItem", "contains": "-appointments-", "fault": "dropreply",
                          "count": 1})
        replies = self.api.post_like_a_client("501", 101, "PE")
        self.assertEqual(replies[0][0], 201, replies)
        self.assert_one_appointment("00501", replies)
        self.assertEqual(self.proxy.stats()["faulted"], 1)

    def test_appointment_put_reply_lost_with_key(self):
        self.proxy.rules({"op": "PutItem", "contains": "-appointments-", "fault": "dropreply",
                          "count": 1})
        replies = self.api.post_like_a_client("502", 102, "PE", key="lost-" + harness.rand())
        self.assertEqual(replies[0][0], 201, replies)
        self.assert_one_appointment("00502", replies)


if __name__ == "__main__":
    unittest.main(verbosity=2)
