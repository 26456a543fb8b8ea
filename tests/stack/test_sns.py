"""SNS -> SQS delivery as the API -> worker path uses it, against moto and fauxqs: the SNS
envelope with raw delivery off (what provision sets up), the bare message with it on."""

import json
import unittest
import uuid

from awsraw import Sqs, client, endpoint

MESSAGE = json.dumps({"appointmentId": "2f1c4e2a-0d5b-4b8e-9a59-3f6f0f5e8c11", "countryISO": "PE",
                      "eventType": "AppointmentCreated", "insuredId": "00123", "scheduleId": 100,
                      "timestamp": "2026-11-25T13:45:26.123Z"})
ATTRIBUTES = {"countryISO": {"DataType": "String", "StringValue": "PE"},
              "eventType": {"DataType": "String", "StringValue": "AppointmentCreated"}}


class SnsChecks:
    SQS_VAR = ""
    SNS_VAR = ""

    @classmethod
    def setUpClass(cls):
        cls.sqs = Sqs(endpoint(cls.SQS_VAR))
        cls.sns = client("sns", endpoint(cls.SNS_VAR))

    def subscribed_queue(self, raw):
        sfx = uuid.uuid4().hex[:10]
        topic = self.sns.create_topic(Name=f"stackcheck-{sfx}")["TopicArn"]
        q = self.sqs.create_queue(f"stackcheck-{sfx}")
        sub = self.sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=self.sqs.queue_arn(q),
                                 ReturnSubscriptionArn=True)["SubscriptionArn"]
        attrs = self.sns.get_subscription_attributes(SubscriptionArn=sub)["Attributes"]
        self.assertEqual(attrs["RawMessageDelivery"], "false")
        self.assertEqual(attrs["PendingConfirmation"], "false")
        if raw:
            self.sns.set_subscription_attributes(SubscriptionArn=sub, AttributeName="RawMessageDelivery",
                                                 AttributeValue="true")
        return topic, q

    def test_envelope_when_raw_delivery_off(self):
        topic, q = self.subscribed_queue(raw=False)
        published = self.sns.publish(TopicArn=topic, Message=MESSAGE, MessageAttributes=ATTRIBUTES)
        got = self.sqs.receive_until(q, 1, timeout=5)
        self.assertEqual(len(got), 1)
        env = json.loads(got[0]["Body"])
        self.assertEqual(env["Type"], "Notification")
        self.assertEqual(env["TopicArn"], topic)
        self.assertEqual(env["MessageId"], published["MessageId"])
        self.assertIsInstance(env["Message"], str)
        self.assertEqual(env["Message"], MESSAGE)
        self.assertEqual(env["MessageAttributes"], {
            "countryISO": {"Type": "String", "Value": "PE"},
            "eventType": {"Type": "String", "Value": "AppointmentCreated"}})
        self.assertIn("Timestamp", env)

    def test_bare_message_when_raw_delivery_on(self):
        topic, q = self.subscribed_queue(raw=True)
        self.sns.publish(TopicArn=topic, Message=MESSAGE, MessageAttributes=ATTRIBUTES)
        got = self.sqs.receive_until(q, 1, timeout=5)
        self.assertEqual(len(got), 1)
        self.assertEqual(got[0]["Body"], MESSAGE)
        # with raw delivery the SNS attributes become SQS message attributes
        self.assertEqual(got[0]["MessageAttributes"]["countryISO"],
                         {"DataType": "String", "StringValue": "PE"})

    def test_publish_to_missing_topic_fails(self):
        arn = self.sns.create_topic(Name="stackcheck-x")["TopicArn"].rsplit(":", 1)[0]
        with self.assertRaises(self.sns.exceptions.NotFoundException):
            self.sns.publish(TopicArn=f"{arn}:stackcheck-missing-{uuid.uuid4().hex[:8]}", Message="x")


class MotoSns(SnsChecks, unittest.TestCase):
    SQS_VAR = "AWS_ENDPOINT_URL_SQS"
    SNS_VAR = "AWS_ENDPOINT_URL_SNS"


class FauxqsSns(SnsChecks, unittest.TestCase):
    SQS_VAR = SNS_VAR = "APPT_FAUXQS_URL"


if __name__ == "__main__":
    unittest.main()
