#!/usr/bin/python3
"""The local stack reconciles (issue 10): scripts/up runs `appointmentctl reconcile --every N`
beside the daemons, and the dev stage's reconcile_after_seconds is short enough that a stuck
appointment recovers within two minutes (production keeps 300 s). The loop is run here as
scripts/up runs it, against an appointment left `pending` (its publish lost), and the time
from its createdAt to `completed` is bounded."""
import datetime
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import time
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

SRC = os.environ.get("APPT_SOURCE_ROOT", ".")
CONF = os.path.join(SRC, "etc", "appointmentd.conf")
RECOVERY_S = 120          # the promise: a stuck appointment is final within 2 minutes
PROCESSING_MARGIN_S = 20  # publish -> worker -> completion, with room for a slow CI


def config_value(key, stage=None):
    env = dict(os.environ)
    env.pop("APPOINTMENTD_WORKER_RECONCILE_AFTER_SECONDS", None)
    if stage:
        env["STAGE"] = stage
    r = subprocess.run([harness.binary("appointmentctl"), "--config", CONF, "check",
                        "--print-config"], env=env, capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    m = re.search(r"(?m)^%s = (\d+)$" % key, r.stdout)
    assert m, r.stdout
    return int(m.group(1))


def up_interval():
    """The --every of the reconciler scripts/up starts."""
    with open(os.path.join(SRC, "scripts", "up")) as f:
        m = re.search(r"\|reconcile --every (\d+)\b", f.read())
    assert m, "scripts/up starts no `appointmentctl reconcile --every N`"
    return int(m.group(1))


def iso(t):
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (t.microsecond // 1000)


class ReconcileLoopTest(unittest.TestCase):

    def test_dev_defaults_recover_within_two_minutes(self):
        dev = config_value("reconcile_after_seconds")
        self.assertEqual(config_value("reconcile_after_seconds", "prod"), 300)
        self.assertEqual(config_value("reconcile_after_seconds", "staging"), 300)
        # the worst case: stuck just after a run saw it too young
        self.assertLessEqual(dev + up_interval() + PROCESSING_MARGIN_S, RECOVERY_S)

    def test_stuck_pending_recovers(self):
        d = harness.Deployment(seed_count=5)
        self.addCleanup(d.close)
        ddb = harness.aws_client("dynamodb")
        table = harness.read_env_file(os.path.join(d.dir, "env"))["APPOINTMENTS_TABLE_NAME"]
        after, every = config_value("reconcile_after_seconds"), up_interval()
        # stored, never published (the API died between PutItem and Publish), and stuck
        # long enough that the loop's second run takes it: the test waits about `every` s
        created = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(
            seconds=after - 5)
        aid, t = str(uuid.uuid4()), iso(created)
        ddb.put_item(TableName=table, Item={
            "appointmentId": {"S": aid}, "insuredId": {"S": "%05d" % secrets.randbelow(99999)},
            "scheduleId": {"N": "101"}, "countryISO": {"S": "PE"}, "status": {"S": "pending"},
            "createdAt": {"S": t}, "updatedAt": {"S": t}, "processedAt": {"NULL": True}})
        d.start("appointment-worker", "--country", "pe")
        d.start("appointment-completion")
        # exactly as scripts/up runs it, with dev's threshold (the deployment's own stage
        # name gets dev's built-in defaults, not etc/dev.conf)
        env = dict(d.env, APPOINTMENTD_WORKER_RECONCILE_AFTER_SECONDS=str(after))
        log = open(os.path.join(d.dir, "reconcile.log"), "w+")
        self.addCleanup(log.close)
        loop = subprocess.Popen([harness.binary("appointmentctl"), "--config", d.config,
                                 "reconcile", "--every", str(every)], env=env, stdout=log,
                                stderr=subprocess.STDOUT)
        self.addCleanup(lambda: loop.poll() is None and (loop.kill(), loop.wait()))
        status = None
        deadline = created + datetime.timedelta(seconds=RECOVERY_S)
        while datetime.datetime.now(datetime.timezone.utc) < deadline:
            item = ddb.get_item(TableName=table, Key={"appointmentId": {"S": aid}},
                                ConsistentRead=True)["Item"]
            status = item["status"]["S"]
            if status == "completed":
                break
            self.assertIsNone(loop.poll(), "the reconciler loop exited")
            time.sleep(0.5)
        log.seek(0)
        out = log.read()
        self.assertEqual(status, "completed", "still %s %d s after createdAt; reconciler:\n%s"
                         % (status, RECOVERY_S, out))
        self.assertEqual(d.db_rows("PE", "appointment_id = '%s'" % aid), "1")
        self.assertGreaterEqual(out.count("\nreconciled appointments") +
                                out.startswith("reconciled appointments"), 2, out)
        self.assertIn("pending PE: 1 republished, 0 failed", out)
        # a stop ends the wait at once, exit 0
        t0 = time.monotonic()
        loop.send_signal(signal.SIGTERM)
        self.assertEqual(loop.wait(timeout=10), 0)
        self.assertLess(time.monotonic() - t0, 5)
        log.seek(0)
        self.assertIn("reconcile: stopped by signal %d" % signal.SIGTERM, log.read())

    def test_every_usage(self):
        for bad in ("0", "x", "-3"):
            r = subprocess.run([harness.binary("appointmentctl"), "--config", CONF, "reconcile",
                                "--every", bad], capture_output=True, text=True, timeout=10)
            self.assertEqual(r.returncode, 64, (bad, r.stderr))
            self.assertIn("--every needs seconds", r.stderr)


def json_lines(text):
    out = []
    for line in text.splitlines():
        if line.startswith("{"):
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
    return out


def lines_about(daemon, aid):
    """The JSON log lines of daemon that name appointment aid."""
    return [p for p in json_lines(daemon.logs()) if p.get("appointmentId") == aid]


def wait_for(pred, what, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.3)
    raise AssertionError("no %s within %d s" % (what, timeout))


class ReconcileTraceTest(unittest.TestCase):
    """SPEC §7: the request id (and the traceparent) travels with the appointment, also when
    its publish failed and the reconciler sent it later (docs/operations.md, "Logs";
    docs/reliability.md, "A reconciled appointment keeps its request id"). The API's Publish fails (a loopback fault proxy answers every Publish 503);
    the reconciler then publishes the creation, re-sends the cancel, and the worker and the
    completion daemon log every line about each appointment with the id of the request that
    made (or cancelled) it."""

    TP = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    TP_CANCEL = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"

    def setUp(self):
        self.d = harness.Deployment(seed_count=10)
        self.addCleanup(self.d.close)
        self.ddb = harness.aws_client("dynamodb")
        self.table = harness.read_env_file(os.path.join(self.d.dir, "env"))[
            "APPOINTMENTS_TABLE_NAME"]

    def item(self, aid):
        return self.ddb.get_item(TableName=self.table, Key={"appointmentId": {"S": aid}},
                                 ConsistentRead=True)["Item"]

    def wait_item(self, aid, status, timeout=60):
        wait_for(lambda: self.item(aid)["status"]["S"] == status,
                 "%s %s" % (aid, status), timeout)

    def assert_traced(self, daemon, aid, rid, tp, least=1):
        lines = lines_about(daemon, aid)
        self.assertGreaterEqual(len(lines), least, (daemon.name, aid, daemon.logs()[-3000:]))
        for p in lines:
            self.assertEqual(p.get("requestId"), rid, (daemon.name, p))
            self.assertEqual(p.get("traceparent"), tp, (daemon.name, p))

    def test_reconciled_appointments_keep_their_request_id(self):
        d = self.d
        proxy = harness.FaultProxy(os.environ["AWS_ENDPOINT_URL_SNS"])
        self.addCleanup(proxy.close)
        proxy.rules({"op": "Publish", "fault": "503", "count": -1})
        api = d.start("appointment-api", env=dict(d.env, AWS_ENDPOINT_URL_SNS=proxy.url,
                                                   AWS_MAX_ATTEMPTS="2"))
        rid = "reconciled-" + harness.rand(12)
        rid_post2, rid_cancel = "cancelled-" + harness.rand(12), "cancel-" + harness.rand(12)
        code, _, body, _ = d.post("07001", 101, "PE", headers={"X-Request-Id": rid,
                                                               "traceparent": self.TP})
        self.assertEqual(code, 201, body)
        aid = body["appointmentId"]
        code, _, body, _ = d.post("07002", 102, "PE", headers={"X-Request-Id": rid_post2})
        self.assertEqual(code, 201, body)
        aid2 = body["appointmentId"]
        code, _, body, _ = d.request("DELETE", "/appointments/07002/%s" % aid2,
                                     headers={"X-Request-Id": rid_cancel,
                                              "traceparent": self.TP_CANCEL})
        self.assertEqual(code, 202, body)
        self.assertEqual(api.logs().count("publish failed"), 3, api.logs()[-3000:])
        self.assertGreaterEqual(proxy.stats()["faulted"], 3)
        # the ids stay internal: SPEC §3's item shape, nothing more
        code, _, one, _ = d.request("GET", "/appointments/07001/%s" % aid)
        self.assertEqual(code, 200, one)
        self.assertEqual(sorted(one), sorted([
            "appointmentId", "insuredId", "countryISO", "scheduleId", "status", "schedule",
            "createdAt", "updatedAt", "processedAt", "completedAt", "cancelledAt"]))
        code, _, listed, _ = d.list("07002")
        self.assertEqual(code, 200, listed)
        self.assertNotIn(rid_post2, json.dumps(listed))
        self.assertNotIn(rid_cancel, json.dumps(listed))
        self.assertEqual(self.item(aid)["status"]["S"], "pending")
        self.assertEqual(self.item(aid2)["status"]["S"], "cancelling")

        worker = d.start("appointment-worker", "--country", "pe")
        completion = d.start("appointment-completion")
        r = d.ctl("reconcile", "--older-than", "0", check=False)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("pending PE: 1 republished, 0 failed", r.stdout.splitlines())
        self.assertIn("cancelling PE: 1 re-sent, 0 failed", r.stdout.splitlines())
        self.wait_item(aid, "completed")
        self.wait_item(aid2, "cancelled")
        wait_for(lambda: any(p.get("msg") == "appointment completed"
                             for p in lines_about(completion, aid)), "completion line")
        self.assert_traced(worker, aid, rid, self.TP)
        self.assert_traced(completion, aid, rid, self.TP)
        # the cancel's message carries the DELETE's ids, not the creation's
        self.assert_traced(worker, aid2, rid_cancel, self.TP_CANCEL)

    def test_messages_without_ids_take_the_items(self):
        """A message or event that names no request id (sent before the ids were stored,
        or by hand) is logged with the one the item keeps."""
        d = self.d
        sns, events = harness.aws_client("sns"), harness.aws_client("events")
        env = harness.read_env_file(os.path.join(d.dir, "env"))
        rid, rid2 = "stored-" + harness.rand(12), "stored-processed-" + harness.rand(12)
        now = iso(datetime.datetime.now(datetime.timezone.utc))
        aid, aid2 = str(uuid.uuid4()), str(uuid.uuid4())
        self.ddb.put_item(TableName=self.table, Item={
            "appointmentId": {"S": aid}, "insuredId": {"S": "07011"},
            "scheduleId": {"N": "103"}, "countryISO": {"S": "PE"}, "status": {"S": "pending"},
            "createdAt": {"S": now}, "updatedAt": {"S": now}, "processedAt": {"NULL": True},
            "requestId": {"S": rid}, "traceparent": {"S": self.TP}})
        self.ddb.put_item(TableName=self.table, Item={
            "appointmentId": {"S": aid2}, "insuredId": {"S": "07012"},
            "scheduleId": {"N": "104"}, "countryISO": {"S": "PE"},
            "status": {"S": "processed"}, "createdAt": {"S": now}, "updatedAt": {"S": now},
            "processedAt": {"S": now}, "requestId": {"S": rid2},
            "schedule": {"M": {"centerId": {"N": "1"}, "specialtyId": {"N": "1"},
                               "medicId": {"N": "1"}, "date": {"S": now}}}})
        worker = d.start("appointment-worker", "--country", "pe")
        completion = d.start("appointment-completion")
        sns.publish(TopicArn=env["APPOINTMENTS_PE_TOPIC_ARN"], Message=json.dumps({
            "appointmentId": aid, "countryISO": "PE", "eventType": "AppointmentCreated",
            "insuredId": "07011", "scheduleId": 103, "timestamp": now}),
            MessageAttributes={"countryISO": {"DataType": "String", "StringValue": "PE"}})
        events.put_events(Entries=[{
            "Source": "medical.appointment.pe", "DetailType": "Appointment Processed",
            "EventBusName": env["EVENTBRIDGE_BUS_NAME"], "Detail": json.dumps({
                "appointmentId": aid2, "insuredId": "07012", "scheduleId": 104,
                "countryISO": "PE", "status": "PROCESSED", "processedAt": now})}])
        self.wait_item(aid, "completed")
        self.wait_item(aid2, "completed")
        wait_for(lambda: len(lines_about(completion, aid)) >= 1, "completion line")
        self.assert_traced(worker, aid, rid, self.TP)
        self.assert_traced(completion, aid, rid, self.TP)
        lines = lines_about(completion, aid2)
        self.assertTrue(lines, completion.logs()[-3000:])
        for p in lines:
            self.assertEqual(p.get("requestId"), rid2, p)
            self.assertNotIn("traceparent", p)



class ReconcileEmptyTopicTest(unittest.TestCase):
    """The CL topic was deleted: the reconciler's CreateTopic by name makes it again, empty,
    and a Publish to it would succeed and reach no queue. The reconciler looks at a topic
    before it publishes to it (publish_topic_subscribed, as the API does): one error line
    names CL and the fix, the CL items are left as they are and counted, nothing is
    published to CL, the exit status is 1; PE goes on. After provision they go out."""

    def test_a_topic_without_subscription_is_not_published_to(self):
        d = harness.Deployment(seed_count=5)
        self.addCleanup(d.close)
        ddb, sns = harness.aws_client("dynamodb"), harness.aws_client("sns")
        env = harness.read_env_file(os.path.join(d.dir, "env"))
        table = env["APPOINTMENTS_TABLE_NAME"]
        old = iso(datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=1))

        def put(status, country, schedule):
            aid = str(uuid.uuid4())
            ddb.put_item(TableName=table, Item={
                "appointmentId": {"S": aid}, "insuredId": {"S": "%05d" % schedule},
                "scheduleId": {"N": str(schedule)}, "countryISO": {"S": country},
                "status": {"S": status}, "createdAt": {"S": old}, "updatedAt": {"S": old},
                "processedAt": {"NULL": True}})
            return aid
        cl = [put("pending", "CL", 100), put("pending", "CL", 101), put("cancelling", "CL", 102)]
        put("pending", "PE", 100)
        sns.delete_topic(TopicArn=env["APPOINTMENTS_CL_TOPIC_ARN"])
        proxy = harness.FaultProxy(os.environ["AWS_ENDPOINT_URL_SNS"])
        self.addCleanup(proxy.close)
        # counts (and lets through) every Publish to the CL topic
        proxy.rules({"op": "Publish", "contains": "-appointments-cl-%s" % d.stage,
                     "fault": "slow:1", "count": -1})
        run_env = dict(d.env, AWS_ENDPOINT_URL_SNS=proxy.url)

        r = d.ctl("reconcile", check=False, env=run_env)
        out = r.stdout.splitlines()
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertEqual(proxy.stats()["faulted"], 0, "published to the empty CL topic")
        said = [l for l in out if "appointmentctl provision" in l]
        self.assertEqual(len(said), 1, r.stdout)
        self.assertRegex(said[0], r"^failed topic CL: .*no confirmed subscription")
        self.assertIn("pending CL: 0 republished, 0 failed, 2 left (topic without "
                      "subscription)", out)
        self.assertIn("cancelling CL: 0 re-sent, 0 failed, 1 left (topic without "
                      "subscription)", out)
        self.assertIn("pending PE: 1 republished, 0 failed", out)
        self.assertRegex(r.stdout, r"(?m)^reconciled appointments created before \S+Z \(older "
                         r"than 300 s\): 1 pending republished, 0 processed re-announced, 0 "
                         r"cancelling re-sent, 0 failed, 3 left unsent$")
        self.assertRegex(r.stderr, r"^appointmentctl: reconcile: not everything went out "
                         r"\(first failure: .*CL.*appointmentctl provision")
        for aid, st in zip(cl, ("pending", "pending", "cancelling")):
            got = ddb.get_item(TableName=table, Key={"appointmentId": {"S": aid}},
                               ConsistentRead=True)["Item"]["status"]["S"]
            self.assertEqual(got, st)

        # the queue subscribed again: the next run sends them
        d.ctl("provision")
        r = d.ctl("reconcile", check=False, env=run_env)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("pending CL: 2 republished, 0 failed", r.stdout.splitlines())
        self.assertIn("cancelling CL: 1 re-sent, 0 failed", r.stdout.splitlines())
        self.assertEqual(proxy.stats()["faulted"], 3)
        sqs = harness.aws_client("sqs")
        got = harness.drain_queue(sqs, env["APPOINTMENTS_CL_QUEUE_URL"], 3, timeout=15)
        self.assertEqual(sorted(json.loads(json.loads(m["Body"])["Message"])["appointmentId"]
                                for m in got), sorted(cl))


if __name__ == "__main__":
    unittest.main(verbosity=2)
