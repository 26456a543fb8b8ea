#!/usr/bin/python3
"""The local stack reconciles (issue 10): scripts/up runs `appointmentctl reconcile --every N`
beside the daemons, and the dev stage's reconcile_after_seconds is short enough that a stuck
appointment recovers within two minutes (production keeps 300 s). The loop is run here as
scripts/up runs it, against an appointment left `pending` (its publish lost), and the time
from its createdAt to `completed` is bounded."""
import datetime
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


if __name__ == "__main__":
    unittest.main(verbosity=2)
