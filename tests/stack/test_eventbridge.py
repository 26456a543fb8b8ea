"""EventBridge as the worker -> completion path uses it, against moto: a custom bus, a rule on
source + detail-type targeting an SQS queue, PutEvents over the JSON 1.1 protocol as the C
client sends it; only matching events arrive, in the EventBridge envelope."""

import json
import time
import unittest
import uuid

from awsraw import Sqs, client, endpoint, json_call


class MotoEventBridge(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.url = endpoint("AWS_ENDPOINT_URL_EVENTBRIDGE")
        cls.events = client("events", cls.url)
        cls.sqs = Sqs(endpoint("AWS_ENDPOINT_URL_SQS"))

    def put_events(self, entries):
        return json_call(self.url, "events", "AWSEvents.PutEvents", {"Entries": entries},
                         content_type="application/x-amz-json-1.1")

    def bus_to_queue(self, pattern):
        """A new bus whose one rule (pattern) targets a new queue: (bus, queue URL)."""
        name = f"stackcheck-{uuid.uuid4().hex[:10]}"
        self.events.create_event_bus(Name=name)
        q = self.sqs.create_queue(name)
        self.events.put_rule(Name=name, EventBusName=name, EventPattern=json.dumps(pattern))
        out = self.events.put_targets(Rule=name, EventBusName=name,
                                      Targets=[{"Id": "completion", "Arn": self.sqs.queue_arn(q)}])
        self.assertEqual(out["FailedEntryCount"], 0)
        return name, q

    def test_rule_routes_only_matching_events_to_sqs(self):
        bus, q = self.bus_to_queue(
            {"source": ["medical.appointment.pe"], "detail-type": ["Appointment Processed"]})

        detail = {"appointmentId": "2f1c4e2a-0d5b-4b8e-9a59-3f6f0f5e8c11", "insuredId": "00123",
                  "scheduleId": 100, "countryISO": "PE", "status": "PROCESSED",
                  "processedAt": "2026-11-25T13:45:27.000Z"}
        now = int(time.time())
        # non-matching first (wrong detail-type, then wrong source), then the matching one
        r = self.put_events([
            {"EventBusName": bus, "Source": "medical.appointment.pe", "DetailType": "Appointment Failed",
             "Detail": json.dumps({"failureReason": "schedule_unavailable"}), "Time": now},
            {"EventBusName": bus, "Source": "medical.appointment.cl", "DetailType": "Appointment Processed",
             "Detail": json.dumps(detail), "Time": now}])
        self.assertEqual(r["FailedEntryCount"], 0)
        r = self.put_events([{"EventBusName": bus, "Source": "medical.appointment.pe",
                              "DetailType": "Appointment Processed", "Detail": json.dumps(detail),
                              "Time": now}])
        self.assertEqual(r["FailedEntryCount"], 0)
        event_id = r["Entries"][0]["EventId"]

        got = self.sqs.receive_until(q, 3, timeout=3)
        self.assertEqual(len(got), 1, [m["Body"] for m in got])
        env = json.loads(got[0]["Body"])
        self.assertEqual(env["detail-type"], "Appointment Processed")
        self.assertEqual(env["source"], "medical.appointment.pe")
        self.assertEqual(env["detail"], detail)
        self.assertEqual(env["id"], event_id)
        self.assertEqual(env["version"], "0")
        self.assertRegex(env["time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")

    def test_each_delivered_event_carries_its_own_fields(self):
        # moto builds each delivered event from a template of JSONPath expressions, parsed
        # once through tests/support/moto_server.py: no event may carry another's values.
        bus, q = self.bus_to_queue({"source": [{"prefix": "medical.appointment."}]})
        sent = {}
        for call in range(2):
            entries = [{"EventBusName": bus, "Source": "medical.appointment." + cc,
                        "DetailType": "Appointment %d.%d" % (call, i),
                        "Detail": json.dumps({"appointmentId": "a-%d-%d" % (call, i)}),
                        "Time": int(time.time())}
                       for i, cc in enumerate(("pe", "cl", "pe", "cl", "pe"))]
            r = self.put_events(entries)
            self.assertEqual(r["FailedEntryCount"], 0)
            for e, out in zip(entries, r["Entries"]):
                sent[out["EventId"]] = e
        got = self.sqs.receive_until(q, len(sent), timeout=5)
        self.assertEqual(len(got), len(sent))
        for m in got:
            env = json.loads(m["Body"])
            e = sent.pop(env["id"])
            self.assertEqual((env["source"], env["detail-type"], env["detail"]),
                             (e["Source"], e["DetailType"], json.loads(e["Detail"])))
        self.assertEqual(sent, {})

    def test_put_events_to_missing_bus_fails(self):
        with self.assertRaises(self.events.exceptions.ResourceNotFoundException):
            self.events.put_events(Entries=[{"EventBusName": f"stackcheck-missing-{uuid.uuid4().hex[:8]}",
                                             "Source": "a", "DetailType": "b", "Detail": "{}"}])


if __name__ == "__main__":
    unittest.main()
