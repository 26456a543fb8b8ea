"""SQS over the JSON protocol, as libappointment's consumer loop uses it, against moto and
fauxqs: queue errors, long polling, visibility, batch delete, redrive to the DLQ."""

import hashlib
import json
import threading
import time
import unittest
import uuid

from awsraw import AwsError, Sqs, endpoint


class SqsChecks:
    ENDPOINT_VAR = ""
    # fauxqs 1.9.2 answers DeleteMessageBatch with success for a malformed receipt handle
    # (AWS and moto report it under Failed with ReceiptHandleIsInvalid): docs/local-stack.md.
    BATCH_REPORTS_INVALID_HANDLE = True

    @classmethod
    def setUpClass(cls):
        cls.sqs = Sqs(endpoint(cls.ENDPOINT_VAR))

    def queue(self, attributes=None):
        name = f"stackcheck-{uuid.uuid4().hex[:10]}"
        return self.sqs.create_queue(name, attributes)

    def test_missing_queue_is_a_json_error(self):
        with self.assertRaises(AwsError) as ctx:
            self.sqs.call("GetQueueUrl", {"QueueName": f"stackcheck-missing-{uuid.uuid4().hex[:8]}"})
        self.assertEqual(ctx.exception.status, 400)
        self.assertTrue(ctx.exception.type.endswith("#QueueDoesNotExist"), ctx.exception.body)

    def test_send_receive_delete_with_attributes(self):
        q = self.queue()
        self.assertEqual(self.sqs.call("GetQueueUrl", {"QueueName": q.rsplit("/", 1)[1]})["QueueUrl"], q)
        body = '{"hello":"wörld"}'
        md5 = hashlib.md5(body.encode()).hexdigest()
        sent = self.sqs.send(q, body, {"countryISO": "PE"})
        self.assertEqual(sent["MD5OfMessageBody"], md5)
        msgs = self.sqs.receive(q, wait=1)
        self.assertEqual(len(msgs), 1)
        m = msgs[0]
        self.assertEqual(m["MessageId"], sent["MessageId"])
        self.assertEqual(m["Body"], body)
        self.assertEqual(m["MD5OfBody"], md5)
        self.assertEqual(m["MessageAttributes"]["countryISO"], {"DataType": "String", "StringValue": "PE"})
        self.assertEqual(m["Attributes"]["ApproximateReceiveCount"], "1")
        self.sqs.delete(q, m["ReceiptHandle"])
        self.assertEqual(self.sqs.receive(q, wait=0), [])

    def test_long_poll_waits_when_empty(self):
        q = self.queue()
        t0 = time.monotonic()
        self.assertEqual(self.sqs.receive(q, wait=2), [])
        elapsed = time.monotonic() - t0
        self.assertGreaterEqual(elapsed, 1.8)
        self.assertLess(elapsed, 4.5)

    def test_long_poll_returns_when_a_message_arrives(self):
        q = self.queue()
        result = {}

        def poll():
            t0 = time.monotonic()
            result["msgs"] = self.sqs.receive(q, wait=10)
            result["elapsed"] = time.monotonic() - t0

        th = threading.Thread(target=poll)
        th.start()
        time.sleep(0.5)
        self.sqs.send(q, "wake up")
        th.join(15)
        self.assertFalse(th.is_alive())
        self.assertEqual([m["Body"] for m in result["msgs"]], ["wake up"])
        self.assertLess(result["elapsed"], 4.0)

    def test_visibility_hides_then_shows_again(self):
        q = self.queue({"VisibilityTimeout": 30})
        self.sqs.send(q, "v")
        first = self.sqs.receive(q, wait=1, visibility=1)
        self.assertEqual(len(first), 1)
        self.assertEqual(self.sqs.receive(q, wait=0), [])      # hidden
        time.sleep(1.3)
        again = self.sqs.receive(q, wait=2, visibility=1)       # visible again
        self.assertEqual([m["Body"] for m in again], ["v"])
        self.assertEqual(again[0]["Attributes"]["ApproximateReceiveCount"], "2")
        # heartbeat: extending the visibility keeps it hidden past the first timeout
        self.sqs.call("ChangeMessageVisibility", {"QueueUrl": q, "ReceiptHandle": again[0]["ReceiptHandle"],
                                                  "VisibilityTimeout": 4})
        time.sleep(1.3)
        self.assertEqual(self.sqs.receive(q, wait=0), [])
        # returning it (visibility 0, as on SIGTERM) makes it visible at once
        self.sqs.call("ChangeMessageVisibility", {"QueueUrl": q, "ReceiptHandle": again[0]["ReceiptHandle"],
                                                  "VisibilityTimeout": 0})
        third = self.sqs.receive(q, wait=1)
        self.assertEqual([m["Body"] for m in third], ["v"])
        self.assertEqual(third[0]["Attributes"]["ApproximateReceiveCount"], "3")

    def test_delete_message_batch_partial(self):
        q = self.queue()
        self.sqs.send(q, "a")
        m = self.sqs.receive(q, wait=1)[0]
        out = self.sqs.call("DeleteMessageBatch", {"QueueUrl": q, "Entries": [
            {"Id": "good", "ReceiptHandle": m["ReceiptHandle"]},
            {"Id": "bad", "ReceiptHandle": "not-a-receipt-handle"}]})
        ok = [e["Id"] for e in out.get("Successful", [])]
        failed = {e["Id"]: e for e in out.get("Failed", [])}
        self.assertIn("good", ok)
        if self.BATCH_REPORTS_INVALID_HANDLE:
            self.assertEqual(failed["bad"]["Code"], "ReceiptHandleIsInvalid")
            self.assertTrue(failed["bad"]["SenderFault"])
        else:
            self.assertIn("bad", ok)       # the documented shortfall
        self.assertEqual(self.sqs.receive(q, wait=0), [])

    def test_redrive_to_dlq_after_max_receive_count(self):
        dlq = self.queue()
        dlq_arn = self.sqs.queue_arn(dlq)
        q = self.queue({"VisibilityTimeout": 1, "RedrivePolicy": json.dumps(
            {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2})})
        self.sqs.send(q, "poison")
        receives = []
        deadline = time.monotonic() + 8
        moved = []
        while time.monotonic() < deadline and not moved:
            for m in self.sqs.receive(q, wait=1):
                receives.append(int(m["Attributes"]["ApproximateReceiveCount"]))
            moved = self.sqs.receive(dlq, wait=0)
        self.assertEqual(receives, [1, 2])
        self.assertEqual([m["Body"] for m in moved], ["poison"])
        self.assertEqual(self.sqs.receive(q, wait=0), [])


class MotoSqs(SqsChecks, unittest.TestCase):
    ENDPOINT_VAR = "AWS_ENDPOINT_URL_SQS"


class FauxqsSqs(SqsChecks, unittest.TestCase):
    ENDPOINT_VAR = "APPT_FAUXQS_URL"
    BATCH_REPORTS_INVALID_HANDLE = False


if __name__ == "__main__":
    unittest.main()
