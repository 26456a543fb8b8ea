#!/usr/bin/python3
"""test_ctl.py - appointmentctl provision / destroy / migrate / seed against the local stack.

Runs the built binary with a throw-away stage (random name, so nothing collides with other
tests or a developer's stack) and checks what it made with botocore, independently of our C
clients: attributes, policies, subscriptions, rules and targets, the SSM SecureString, and
that messages really flow topic -> queue and bus -> completion/error queue. Databases are
created per run (ctltest_<random>_<cc>) and dropped at the end.

Needs the environment of `scripts/stack.sh env` (scripts/test exports it); without it every
test fails at once instead of reaching anything but loopback.
"""
import json
import os
import secrets
import socket
import stat
import subprocess
import tempfile
import time
import unittest
from urllib.parse import urlparse

import botocore.session
from botocore.exceptions import ClientError

REGION = "us-east-1"
PREFIX = "medical-appointment-scheduling"
COUNTRIES = ("pe", "cl")
RUN_TIMEOUT = 60  # seconds one appointmentctl run may take
HOLDER_APP = "ctltest_holder"  # application_name of the session that holds a lock
NEEDED = ("AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_SNS", "AWS_ENDPOINT_URL_SQS",
          "AWS_ENDPOINT_URL_EVENTBRIDGE", "AWS_ENDPOINT_URL_SSM", "AWS_ACCESS_KEY_ID",
          "AWS_SECRET_ACCESS_KEY", "RDS_HOST", "RDS_PORT", "RDS_USERNAME", "RDS_PASSWORD")


def stack_env_problem():
    """Why the stack environment is unusable, or None."""
    missing = [k for k in NEEDED if not os.environ.get(k)]
    if missing:
        return "stack environment missing (%s): run under scripts/test" % ", ".join(missing)
    for k in NEEDED[:5]:
        host = urlparse(os.environ[k]).hostname or ""
        if not (host.startswith("127.") or host in ("localhost", "::1")):
            return "%s=%s is not a loopback endpoint" % (k, os.environ[k])
    return None


def ctl_binary():
    root = os.environ.get("APPT_BUILD_ROOT") or os.path.join(
        os.path.dirname(__file__), "..", "..", "build")
    return os.path.join(root, "daemons", "appointmentctl", "appointmentctl")


def base_env():
    """The process environment without anything that would override the test's config."""
    env = dict(os.environ)
    for k in list(env):
        if (k.startswith(("APPOINTMENTS_", "APPOINTMENTD_")) or
                k in ("STAGE", "EVENTBRIDGE_BUS_NAME", "LOG_LEVEL", "RDS_DATABASE",
                      "CREDENTIALS_DIRECTORY") or
                (k.startswith("RDS_") and k.count("_") >= 2)):  # RDS_PE_DATABASE etc.
            del env[k]
    return env


def closed_port():
    """A loopback TCP port nothing listens on (bound, then released)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def progress(stdout):
    """The progress lines of a provision run (before the environment block)."""
    out = []
    for line in stdout.splitlines():
        if line.startswith("# environment"):
            break
        out.append(line)
    return out


def env_block(stdout):
    """NAME=value lines after the "# environment" comment, as a dict."""
    lines = stdout.splitlines()
    start = next(i for i, l in enumerate(lines) if l.startswith("# environment"))
    return dict(l.split("=", 1) for l in lines[start + 1:] if "=" in l)


class CtlBase(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        problem = stack_env_problem()
        if problem:
            raise RuntimeError(problem)
        cls.tag = secrets.token_hex(4)
        cls.stage = "t" + cls.tag
        cls.tmp = tempfile.TemporaryDirectory(prefix="ctltest-")
        cls.table = "%s-appointments-%s" % (PREFIX, cls.stage)
        cls.dbs = {cc: "ctltest_%s_%s" % (cls.tag, cc) for cc in COUNTRIES}
        cls.conf = os.path.join(cls.tmp.name, "appointmentd.conf")
        with open(cls.conf, "w") as f:
            f.write("[general]\nstage = %s\n" % cls.stage)
            for cc in COUNTRIES:
                f.write("\n[country %s]\ndb_name = %s\n" % (cc.upper(), cls.dbs[cc]))
        sess = botocore.session.get_session()

        def client(svc, var):
            return sess.create_client(svc, region_name=REGION, endpoint_url=os.environ[var])
        cls.ddb = client("dynamodb", "AWS_ENDPOINT_URL_DYNAMODB")
        cls.sqs = client("sqs", "AWS_ENDPOINT_URL_SQS")
        cls.sns = client("sns", "AWS_ENDPOINT_URL_SNS")
        cls.evb = client("events", "AWS_ENDPOINT_URL_EVENTBRIDGE")
        cls.ssm = client("ssm", "AWS_ENDPOINT_URL_SSM")

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def ctl(self, *args, env=None, check=None, conf=None):
        r = subprocess.run([ctl_binary(), "--config", conf or self.conf] + list(args),
                           env=env if env is not None else base_env(), capture_output=True,
                           text=True, timeout=RUN_TIMEOUT)
        if check is not None:
            self.assertEqual(r.returncode, check,
                             "appointmentctl %s: exit %d\nstdout:\n%s\nstderr:\n%s"
                             % (" ".join(args), r.returncode, r.stdout, r.stderr))
        return r

    def one_line(self, r, code):
        """The one line a run that exited with code printed on stderr."""
        self.assertEqual(r.returncode, code, r.stdout + r.stderr)
        lines = r.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, r.stderr)
        self.assertTrue(lines[0].startswith("appointmentctl: "), lines[0])
        return lines[0]

    # names of the stage's resources (SPEC §4)
    def name(self, what):
        return "%s-appointments-%s-%s" % (PREFIX, what, self.stage)

    @property
    def bus(self):
        return "%s-%s" % (PREFIX, self.stage)


class TestProvisionDestroy(CtlBase):
    """provision twice, verify with botocore, deliveries, destroy twice, provision again."""

    def setUp(self):
        self.password = "pw-" + secrets.token_hex(8)
        self.env = base_env()
        self.env["RDS_PASSWORD"] = self.password
        self.addCleanup(self.ctl, "destroy", "--yes", env=self.env)

    def queue_url(self, name):
        return self.sqs.get_queue_url(QueueName=name)["QueueUrl"]

    def queue_attrs(self, name):
        return self.sqs.get_queue_attributes(QueueUrl=self.queue_url(name),
                                             AttributeNames=["All"])["Attributes"]

    def receive_one(self, url, seconds=15):
        """The first message on url within seconds (deleted), or fail."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            r = self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1, WaitTimeSeconds=2)
            for m in r.get("Messages", []):
                self.sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
                return m
        self.fail("no message on %s within %d s" % (url, seconds))

    def check_queue(self, name, dlq, policy_service, sources):
        a = self.queue_attrs(name)
        self.assertEqual(a["VisibilityTimeout"], "180", name)
        self.assertEqual(a["MessageRetentionPeriod"], "1209600", name)
        self.assertEqual(a["ReceiveMessageWaitTimeSeconds"], "20", name)
        rp = json.loads(a["RedrivePolicy"])
        self.assertEqual(rp["deadLetterTargetArn"], self.queue_attrs(dlq)["QueueArn"])
        self.assertEqual(int(rp["maxReceiveCount"]), 3)
        d = self.queue_attrs(dlq)
        self.assertEqual(d["MessageRetentionPeriod"], "1209600", dlq)
        self.assertNotIn("RedrivePolicy", d)
        pol = json.loads(a["Policy"])
        self.assertEqual(len(pol["Statement"]), 1)
        st = pol["Statement"][0]
        self.assertEqual(st["Effect"], "Allow")
        self.assertEqual(st["Principal"], {"Service": policy_service + ".amazonaws.com"})
        self.assertEqual(st["Action"], "sqs:SendMessage")
        self.assertEqual(st["Resource"], a["QueueArn"])
        self.assertEqual(sorted(st["Condition"]["ArnEquals"]["aws:SourceArn"]), sorted(sources))
        return a

    def verify_resources(self, env_lines):
        # DynamoDB: the appointments table of SPEC §4 and the two side tables with TTL
        t = self.ddb.describe_table(TableName=self.table)["Table"]
        self.assertEqual(t["KeySchema"], [{"AttributeName": "appointmentId", "KeyType": "HASH"}])
        self.assertEqual(t["BillingModeSummary"]["BillingMode"], "PAY_PER_REQUEST")
        self.assertEqual(t["StreamSpecification"],
                         {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})
        gsis = {g["IndexName"]: g for g in t["GlobalSecondaryIndexes"]}
        self.assertEqual(set(gsis), {"insuredId-createdAt-index", "status-createdAt-index",
                                     "countryISO-createdAt-index"})
        for n, g in gsis.items():
            self.assertEqual(g["Projection"]["ProjectionType"], "ALL")
            self.assertEqual(g["KeySchema"][0]["AttributeName"], n.split("-")[0])
            self.assertEqual(g["KeySchema"][1], {"AttributeName": "createdAt", "KeyType": "RANGE"})
        for side in ("idempotency", "quota", "counters"):
            tn = "%s-%s-%s" % (PREFIX, side, self.stage)
            st = self.ddb.describe_table(TableName=tn)["Table"]
            self.assertEqual(st["KeySchema"], [{"AttributeName": "key", "KeyType": "HASH"}])
            ttl = self.ddb.describe_time_to_live(TableName=tn)["TimeToLiveDescription"]
            self.assertEqual((ttl["TimeToLiveStatus"], ttl["AttributeName"]),
                             ("ENABLED", "expiresAt"))

        # EventBridge: the bus, one rule per country -> completion, one error rule -> error
        self.evb.describe_event_bus(Name=self.bus)
        rules = {r["Name"]: r for r in self.evb.list_rules(EventBusName=self.bus)["Rules"]}
        completion_arn = self.queue_attrs(self.name("completion"))["QueueArn"]
        error_arn = self.queue_attrs(self.name("error"))["QueueArn"]
        wanted = {"appointment-processed-%s" % cc: (
            {"source": ["medical.appointment.%s" % cc], "detail-type": ["Appointment Processed"]},
            completion_arn) for cc in COUNTRIES}
        wanted["appointment-processing-error"] = (
            {"source": ["medical.appointment"], "detail-type": ["Processing Error"]}, error_arn)
        self.assertEqual(set(rules), set(wanted))
        for rn, (pattern, target) in wanted.items():
            self.assertEqual(json.loads(rules[rn]["EventPattern"]), pattern)
            tg = self.evb.list_targets_by_rule(Rule=rn, EventBusName=self.bus)["Targets"]
            self.assertEqual([x["Arn"] for x in tg], [target])

        # SQS: completion and error queues, policies naming exactly their rules
        self.check_queue(self.name("completion"), self.name("completion") + "-dlq", "events",
                         [rules["appointment-processed-%s" % cc]["Arn"] for cc in COUNTRIES])
        self.check_queue(self.name("error"), self.name("error") + "-dlq", "events",
                         [rules["appointment-processing-error"]["Arn"]])

        # per country: topic, queue + DLQ, policy naming the topic, subscription raw off
        for cc in COUNTRIES:
            q = self.name(cc)
            topic_arn = env_lines["APPOINTMENTS_%s_TOPIC_ARN" % cc.upper()]
            self.sns.get_topic_attributes(TopicArn=topic_arn)
            self.assertTrue(topic_arn.endswith(":" + q))
            a = self.check_queue(q, q + "-dlq", "sns", [topic_arn])
            self.assertEqual(env_lines["APPOINTMENTS_%s_QUEUE_URL" % cc.upper()], self.queue_url(q))
            self.assertEqual(env_lines["APPOINTMENTS_%s_DLQ_URL" % cc.upper()],
                             self.queue_url(q + "-dlq"))
            subs = self.sns.list_subscriptions_by_topic(TopicArn=topic_arn)["Subscriptions"]
            self.assertEqual([(s["Protocol"], s["Endpoint"]) for s in subs],
                             [("sqs", a["QueueArn"])])
            sa = self.sns.get_subscription_attributes(
                SubscriptionArn=subs[0]["SubscriptionArn"])["Attributes"]
            self.assertEqual(sa.get("RawMessageDelivery", "false"), "false")

        # SSM: the SecureString decrypts to the password given
        p = self.ssm.get_parameter(Name="/medical-appointment/%s/rds/password" % self.stage,
                                   WithDecryption=True)["Parameter"]
        self.assertEqual((p["Type"], p["Value"]), ("SecureString", self.password))

        self.assertEqual(env_lines["APPOINTMENTS_COMPLETION_QUEUE_URL"],
                         self.queue_url(self.name("completion")))
        self.assertEqual(env_lines["APPOINTMENTS_ERROR_QUEUE_URL"],
                         self.queue_url(self.name("error")))
        self.assertEqual(env_lines["EVENTBRIDGE_BUS_NAME"], self.bus)
        self.assertEqual(env_lines["APPOINTMENTS_TABLE_NAME"],
                         self.table)

    def verify_deliveries(self, env_lines):
        # SNS -> country queue, with the SNS envelope (raw delivery off)
        msg = json.dumps({"appointmentId": secrets.token_hex(8), "countryISO": "PE",
                          "eventType": "AppointmentCreated"})
        self.sns.publish(TopicArn=env_lines["APPOINTMENTS_PE_TOPIC_ARN"], Message=msg,
                         MessageAttributes={"countryISO": {"DataType": "String",
                                                           "StringValue": "PE"}})
        m = self.receive_one(env_lines["APPOINTMENTS_PE_QUEUE_URL"])
        body = json.loads(m["Body"])
        self.assertEqual(body["Type"], "Notification")
        self.assertEqual(body["Message"], msg)
        self.assertEqual(body["TopicArn"], env_lines["APPOINTMENTS_PE_TOPIC_ARN"])

        # "Appointment Processed" on the bus -> completion queue, as the EventBridge envelope
        detail = {"appointmentId": secrets.token_hex(8), "status": "PROCESSED"}
        r = self.evb.put_events(Entries=[{"Source": "medical.appointment.cl",
                                          "DetailType": "Appointment Processed",
                                          "Detail": json.dumps(detail),
                                          "EventBusName": self.bus}])
        self.assertEqual(r["FailedEntryCount"], 0)
        m = self.receive_one(env_lines["APPOINTMENTS_COMPLETION_QUEUE_URL"])
        ev = json.loads(m["Body"])
        self.assertEqual((ev["source"], ev["detail-type"], ev["detail"]),
                         ("medical.appointment.cl", "Appointment Processed", detail))

        # "Processing Error" -> error queue
        r = self.evb.put_events(Entries=[{"Source": "medical.appointment",
                                          "DetailType": "Processing Error",
                                          "Detail": json.dumps({"reason": "test"}),
                                          "EventBusName": self.bus}])
        self.assertEqual(r["FailedEntryCount"], 0)
        ev = json.loads(self.receive_one(env_lines["APPOINTMENTS_ERROR_QUEUE_URL"])["Body"])
        self.assertEqual(ev["detail-type"], "Processing Error")

    def verify_gone(self):
        def gone(fn, **kw):
            with self.assertRaises(ClientError, msg="%s %s still there" % (fn.__name__, kw)):
                fn(**kw)
        gone(self.ddb.describe_table, TableName=self.table)
        for side in ("idempotency", "quota", "counters"):
            gone(self.ddb.describe_table, TableName="%s-%s-%s" % (PREFIX, side, self.stage))
        for q in [self.name(cc) for cc in COUNTRIES] + [self.name("completion"),
                                                       self.name("error")]:
            gone(self.sqs.get_queue_url, QueueName=q)
            gone(self.sqs.get_queue_url, QueueName=q + "-dlq")
        gone(self.evb.describe_event_bus, Name=self.bus)
        gone(self.ssm.get_parameter, Name="/medical-appointment/%s/rds/password" % self.stage)
        topics = [t["TopicArn"] for t in self.sns.list_topics()["Topics"]]
        self.assertEqual([t for t in topics if t.endswith("-" + self.stage)], [])

    def test_provision_twice_destroy_provision_again(self):
        t0 = time.monotonic()
        env_file = os.path.join(self.tmp.name, "appointmentd.env")

        # first run: everything is created, nothing printed the password
        r = self.ctl("provision", "--password-from-env", "--env-file", env_file, env=self.env,
                     check=0)
        lines = progress(r.stdout)
        self.assertEqual(len(lines), 18 + 7 * len(COUNTRIES), r.stdout)
        for l in lines:
            self.assertRegex(l, r"^(created|skipped) (table|pitr|ttl|dlq|queue|topic|"
                                r"queue-policy|subscription|bus|rule|target|ssm-parameter) ")
        self.assertIn("created ssm-parameter /medical-appointment/%s/rds/password" % self.stage,
                      lines)
        self.assertNotIn(self.password, r.stdout + r.stderr)
        self.assertEqual(r.stderr, "")
        env_lines = env_block(r.stdout)

        # --env-file: same lines, mode 0600
        st = os.stat(env_file)
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o600)
        with open(env_file) as f:
            text = f.read()
        self.assertEqual(dict(l.split("=", 1) for l in text.splitlines()
                              if l and not l.startswith("#")), env_lines)
        self.assertNotIn(self.password, text)

        # second run: nothing created, every resource says exists (PITR: skipped on
        # DynamoDB Local), and the same environment
        r = self.ctl("provision", "--password-from-env", env=self.env, check=0)
        lines = progress(r.stdout)
        self.assertEqual(len(lines), 18 + 7 * len(COUNTRIES), r.stdout)
        for l in lines:
            self.assertRegex(l, r"^(exists|skipped pitr) ", r.stdout)
        self.assertEqual(env_block(r.stdout), env_lines)

        self.verify_resources(env_lines)
        self.verify_deliveries(env_lines)

        # destroy: everything deleted; again: everything absent
        r = self.ctl("destroy", "--yes", env=self.env, check=0)
        lines = r.stdout.splitlines()
        self.assertEqual(len(lines), 12 + 6 * len(COUNTRIES), r.stdout)
        for l in lines:
            self.assertRegex(l, r"^deleted ", r.stdout)
        self.verify_gone()
        r = self.ctl("destroy", "--yes", env=self.env, check=0)
        for l in r.stdout.splitlines():
            self.assertRegex(l, r"^absent ", r.stdout)

        # provision works again after a destroy
        r = self.ctl("provision", env=self.env, check=0)
        lines = progress(r.stdout)
        for l in lines:
            self.assertRegex(l, r"^(created|skipped) ", r.stdout)
        self.assertIn("skipped ssm-parameter /medical-appointment/%s/rds/password: no password "
                      "given (--password-from-env or the rds-password credential)" % self.stage,
                      lines)
        self.assertLess(time.monotonic() - t0, 90)

    def test_converges_a_changed_queue(self):
        self.ctl("provision", env=self.env, check=0)
        url = self.queue_url(self.name("pe"))
        self.sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "30"})
        r = self.ctl("provision", env=self.env, check=0)
        self.assertIn("updated queue %s (VisibilityTimeout)" % self.name("pe"),
                      progress(r.stdout))
        self.assertEqual(self.queue_attrs(self.name("pe"))["VisibilityTimeout"], "180")
        # and the policy is in place whatever the endpoint did with it on that update
        self.assertIn("Policy", self.queue_attrs(self.name("pe")))


class TestSharedBus(CtlBase):
    """Two stages configured on one bus ([aws] event_bus_name): the rule names carry no
    stage, so the second stage must neither re-point the first stage's rules at its own
    queues (provision refuses, exit 1) nor delete them (destroy keeps them and the bus)."""

    def setUp(self):
        self.shared = "ctltest-shared-" + self.tag
        self.stage2 = self.stage + "b"
        self.conf_a = os.path.join(self.tmp.name, "shared-a.conf")
        self.conf_b = os.path.join(self.tmp.name, "shared-b.conf")
        for path, stage in ((self.conf_a, self.stage), (self.conf_b, self.stage2)):
            with open(path, "w") as f:
                f.write("[general]\nstage = %s\n\n[aws]\nevent_bus_name = %s\n" %
                        (stage, self.shared))
                for cc in COUNTRIES:
                    f.write("\n[country %s]\n" % cc.upper())
        # cleanups run last first: the second stage goes before the first
        self.addCleanup(self.ctl, "destroy", "--yes", conf=self.conf_a)
        self.addCleanup(self.ctl, "destroy", "--yes", conf=self.conf_b)

    def queue_arn(self, what, stage):
        url = self.sqs.get_queue_url(
            QueueName="%s-appointments-%s-%s" % (PREFIX, what, stage))["QueueUrl"]
        return self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]

    def targets(self):
        """{rule: [target ARN, ...]} of our rules on the shared bus."""
        rules = self.evb.list_rules(EventBusName=self.shared)["Rules"]
        return {r["Name"]: [t["Arn"] for t in self.evb.list_targets_by_rule(
            Rule=r["Name"], EventBusName=self.shared)["Targets"]] for r in rules}

    def assert_first_stage_intact(self, completion_a, error_a):
        self.assertEqual(self.targets(), dict(
            {"appointment-processed-%s" % cc: [completion_a] for cc in COUNTRIES},
            **{"appointment-processing-error": [error_a]}))

    def test_second_stage_leaves_the_first_stages_rules_alone(self):
        self.ctl("provision", conf=self.conf_a, check=0)
        completion_a = self.queue_arn("completion", self.stage)
        error_a = self.queue_arn("error", self.stage)
        self.assert_first_stage_intact(completion_a, error_a)

        # the second stage's provision refuses, in one line that says why and what to do
        r = self.ctl("provision", conf=self.conf_b)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        err = r.stderr.strip().splitlines()
        self.assertEqual(len(err), 1, r.stderr)
        self.assertTrue(err[0].startswith("appointmentctl: "), err[0])
        self.assertIn("appointment-processed-", err[0])
        self.assertIn(completion_a, err[0])
        self.assertIn("another stage", err[0])
        self.assertIn("event_bus_name", err[0])
        self.assertNotIn("updated target", r.stdout)
        self.assert_first_stage_intact(completion_a, error_a)

        # the second stage's destroy keeps the first stage's rules, their targets and the bus
        r = self.ctl("destroy", "--yes", conf=self.conf_b, check=0)
        lines = r.stdout.splitlines()
        self.assertEqual(len(lines), 12 + 6 * len(COUNTRIES), r.stdout)
        for cc in COUNTRIES:
            self.assertIn("kept rule appointment-processed-%s (it delivers to %s of another "
                          "stage)" % (cc, completion_a), lines)
        self.assertIn("kept rule appointment-processing-error (it delivers to %s of another "
                      "stage)" % error_a, lines)
        self.assertTrue(any(l.startswith("kept bus %s " % self.shared) for l in lines),
                        r.stdout)
        self.evb.describe_event_bus(Name=self.shared)
        self.assert_first_stage_intact(completion_a, error_a)

        # and the first stage still gets its events
        url = self.sqs.get_queue_url(QueueName=self.name("completion"))["QueueUrl"]
        detail = {"appointmentId": secrets.token_hex(8), "status": "PROCESSED"}
        out = self.evb.put_events(Entries=[{"Source": "medical.appointment.pe",
                                            "DetailType": "Appointment Processed",
                                            "Detail": json.dumps(detail),
                                            "EventBusName": self.shared}])
        self.assertEqual(out["FailedEntryCount"], 0)
        got = self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1, WaitTimeSeconds=5)
        self.assertEqual([json.loads(m["Body"])["detail"] for m in got.get("Messages", [])],
                         [detail])

        # the first stage's own destroy then deletes its rules and the bus, now empty
        r = self.ctl("destroy", "--yes", conf=self.conf_a, check=0)
        for l in r.stdout.splitlines():
            self.assertRegex(l, r"^(deleted |absent ssm-parameter )", r.stdout)
        with self.assertRaises(ClientError):
            self.evb.describe_event_bus(Name=self.shared)


    def test_a_target_whose_queue_is_gone_is_set_back(self):
        # a queue that no longer exists is nobody's: provision re-points the target as before
        self.ctl("provision", conf=self.conf_a, check=0)
        completion_a = self.queue_arn("completion", self.stage)
        gone = completion_a.rsplit(":", 1)[0] + ":" + self.name("gone")
        self.evb.put_targets(Rule="appointment-processed-pe", EventBusName=self.shared,
                             Targets=[{"Id": "completion-queue", "Arn": gone}])
        r = self.ctl("provision", conf=self.conf_a, check=0)
        self.assertIn("updated target appointment-processed-pe/completion-queue (queue %s)"
                      % self.name("completion"), progress(r.stdout))
        self.assert_first_stage_intact(completion_a, self.queue_arn("error", self.stage))


class TestProvisionOnly(CtlBase):
    """provision --only LIST makes its groups and nothing else (scripts/up provisions
    tables,countries with SNS/SQS on fauxqs and events,password on moto); a bad LIST is
    refused before anything is made."""

    COUNTRY_KINDS = ("dlq", "queue", "topic", "queue-policy", "subscription")
    TABLE_KINDS = ("table", "pitr", "ttl")
    EVENT_KINDS = ("dlq", "queue", "bus", "rule", "queue-policy", "target")

    def setUp(self):
        self.env = base_env()
        self.env["RDS_PASSWORD"] = "pw-" + secrets.token_hex(8)
        self.addCleanup(self.ctl, "destroy", "--yes", env=self.env)

    def exists(self, fn, **kw):
        try:
            fn(**kw)
            return True
        except ClientError:
            return False

    def queue_exists(self, what, dlq=False):
        return self.exists(self.sqs.get_queue_url,
                           QueueName=self.name(what) + ("-dlq" if dlq else ""))

    def assert_lines(self, stdout, verbs, kinds, n):
        lines = progress(stdout)
        self.assertEqual(len(lines), n, stdout)
        for l in lines:
            verb, kind = l.split(" ", 2)[:2]
            self.assertIn(verb, verbs, l)
            self.assertIn(kind, kinds, l)
        return lines

    def test_each_group_alone_then_all_of_them(self):
        n = len(COUNTRIES)
        table = "%s-appointments-%s" % (PREFIX, self.stage)
        parameter = "/medical-appointment/%s/rds/password" % self.stage

        # countries: the country queues, DLQs, topics, policies, subscriptions; no table,
        # no EventBridge, no completion or error queue
        r = self.ctl("provision", "--only", "countries", env=self.env, check=0)
        self.assert_lines(r.stdout, ("created",), self.COUNTRY_KINDS, 5 * n)
        env_lines = env_block(r.stdout)
        self.assertEqual(sorted(env_lines), sorted(
            "APPOINTMENTS_%s_%s" % (cc.upper(), k) for cc in COUNTRIES
            for k in ("TOPIC_ARN", "QUEUE_URL", "DLQ_URL")))
        for cc in COUNTRIES:
            self.assertTrue(self.queue_exists(cc))
            self.assertTrue(self.queue_exists(cc, dlq=True))
            self.sns.get_topic_attributes(TopicArn=env_lines["APPOINTMENTS_%s_TOPIC_ARN"
                                                             % cc.upper()])
        self.assertFalse(self.exists(self.evb.describe_event_bus, Name=self.bus))
        for q in ("completion", "error"):
            self.assertFalse(self.queue_exists(q), q)
            self.assertFalse(self.queue_exists(q, dlq=True), q)
        self.assertFalse(self.exists(self.ddb.describe_table, TableName=table))
        self.assertEqual(r.stderr, "")

        # events: its queues, the bus, the rules, the queues' policies, the targets
        r = self.ctl("provision", "--only=events", env=self.env, check=0)
        self.assert_lines(r.stdout, ("created",), self.EVENT_KINDS, 9 + 2 * n)
        self.assertEqual(sorted(env_block(r.stdout)), [
            "APPOINTMENTS_COMPLETION_QUEUE_URL", "APPOINTMENTS_ERROR_QUEUE_URL",
            "EVENTBRIDGE_BUS_NAME"])
        self.evb.describe_event_bus(Name=self.bus)
        self.assertFalse(self.exists(self.ddb.describe_table, TableName=table))

        # tables and password together (and a repeated name counts once): no environment
        # line but the table's
        r = self.ctl("provision", "--only", "password,tables,password", "--password-from-env",
                     env=self.env, check=0)
        self.assert_lines(r.stdout, ("created", "skipped"),
                          self.TABLE_KINDS + ("ssm-parameter",), 9)
        self.assertEqual(list(env_block(r.stdout)), ["APPOINTMENTS_TABLE_NAME"])
        self.ddb.describe_table(TableName=table)
        self.assertEqual(self.ssm.get_parameter(Name=parameter, WithDecryption=True)[
            "Parameter"]["Value"], self.env["RDS_PASSWORD"])

        # password alone prints no environment block at all
        r = self.ctl("provision", "--only", "password", "--password-from-env", env=self.env,
                     check=0)
        self.assertEqual(r.stdout, "exists ssm-parameter %s\n" % parameter)

        # a repeated --only adds up (before, the last one replaced the others)
        r = self.ctl("provision", "--only", "password", "--only=tables", "--password-from-env",
                     env=self.env, check=0)
        self.assert_lines(r.stdout, ("exists", "skipped"), self.TABLE_KINDS + ("ssm-parameter",),
                          9)

        # the groups together are the whole: the default run finds every resource there
        r = self.ctl("provision", "--password-from-env", env=self.env, check=0)
        lines = progress(r.stdout)
        self.assertEqual(len(lines), 18 + 7 * n, r.stdout)
        for l in lines:
            self.assertRegex(l, r"^(exists|skipped pitr) ", r.stdout)

    def test_a_bad_list_is_refused_and_changes_nothing(self):
        for args, says in (
                (("--only", "countries,nope"), "unknown group 'nope'"),
                (("--only", "Countries"), "unknown group 'Countries'"),
                (("--only", ""), "--only needs a comma-separated list of groups"),
                (("--only",), "--only needs a comma-separated list of groups"),
                (("--only", "countries,"), "an empty group name"),
                (("--only", ",countries"), "an empty group name"),
                (("--only", "countries", "--env-file", os.path.join(self.tmp.name, "e")),
                 "--only must include tables, countries and events"),
                (("--only", "tables", "--password-from-env"),
                 "--password-from-env is for the password group")):
            r = self.ctl("provision", *args, env=self.env)
            self.assertIn(says, self.one_line(r, 64), args)
            self.assertEqual(r.stdout, "", args)
        self.assertIn("tables, countries, events, password",
                      self.one_line(self.ctl("provision", "--only", "nope"), 64))
        self.assertFalse(os.path.exists(os.path.join(self.tmp.name, "e")))
        for q in COUNTRIES + ("completion", "error"):
            self.assertFalse(self.queue_exists(q), q)
        self.assertFalse(self.exists(self.evb.describe_event_bus, Name=self.bus))


class TestMigrateSeed(CtlBase):
    """migrate twice (second applies 0), seed twice, rows checked with psql."""

    def psql(self, db, sql):
        env = dict(os.environ, PGPASSWORD=os.environ["RDS_PASSWORD"])
        r = subprocess.run(["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1",
                            "-h", os.environ["RDS_HOST"], "-p", os.environ["RDS_PORT"],
                            "-U", os.environ["RDS_USERNAME"], "-d", db, "-c", sql],
                           env=env, capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout.strip()

    def setUp(self):
        for cc in COUNTRIES:
            self.psql("postgres", "create database %s" % self.dbs[cc])
            self.addCleanup(self.psql, "postgres",
                            "drop database if exists %s with (force)" % self.dbs[cc])

    def test_migrate_twice_seed_twice(self):
        sql_dir = os.path.join(os.environ.get("APPT_SOURCE_ROOT",
                                              os.path.join(os.path.dirname(__file__), "..", "..")),
                               "sql")
        n_files = len([f for f in os.listdir(sql_dir) if f.endswith(".sql") and f[:3].isdigit()])
        self.assertGreater(n_files, 0)

        # run from the build directory, migrate defaults to the source tree's sql/
        r = self.ctl("migrate", check=0)
        first = r.stdout.splitlines()[0]
        self.assertTrue(first.startswith("sql directory "), first)
        self.assertEqual(os.path.realpath(first[len("sql directory "):]),
                         os.path.realpath(sql_dir))
        for cc in COUNTRIES:
            self.assertRegex(r.stdout, r"(?m)^migrated %s \S+/%s: %d applied, 0 already applied$"
                             % (cc.upper(), self.dbs[cc], n_files))
        r = self.ctl("migrate", "--sql-dir", sql_dir, check=0)
        for cc in COUNTRIES:
            self.assertRegex(r.stdout, r"(?m)^migrated %s \S+/%s: 0 applied, %d already applied$"
                             % (cc.upper(), self.dbs[cc], n_files))
        self.assertNotIn("\napplied ", "\n" + r.stdout)

        r = self.ctl("seed", check=0)
        for cc in COUNTRIES:
            self.assertIn("seeded %s " % cc.upper(), r.stdout)
            self.assertRegex(r.stdout, r"(?m)^seeded %s \S+/%s: schedules 100\.\.199: 100 inserted"
                             % (cc.upper(), self.dbs[cc]))
        r = self.ctl("seed", "--count", "100", check=0)
        for cc in COUNTRIES:
            self.assertRegex(r.stdout, r"(?m)^seeded %s \S+: schedules 100\.\.199: 0 inserted, "
                             r"0 refreshed, 100 kept$" % cc.upper())
        for cc in COUNTRIES:
            row = self.psql(self.dbs[cc], "select count(*), min(schedule_id), max(schedule_id), "
                                          "bool_and(available_at > now()), "
                                          "bool_and(country_iso = '%s'), bool_and(is_available) "
                                          "from schedules" % cc.upper())
            self.assertEqual(row, "100|100|199|t|t|t")
            self.assertEqual(self.psql(self.dbs[cc], "select count(*) from schema_migrations"),
                             str(n_files))

    def hold_lock(self, db, sql):
        """A psql session (application_name ctltest_holder) left in a transaction that ran
        sql, holding its locks until the returned process's stdin is closed. Returns (process,
        backend pid)."""
        env = dict(os.environ, PGPASSWORD=os.environ["RDS_PASSWORD"], PGAPPNAME=HOLDER_APP)
        p = subprocess.Popen(["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1",
                              "-h", os.environ["RDS_HOST"], "-p", os.environ["RDS_PORT"],
                              "-U", os.environ["RDS_USERNAME"], "-d", db],
                             env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.addCleanup(p.stdout.close)
        self.addCleanup(p.wait, 30)
        self.addCleanup(p.stdin.close)
        p.stdin.write("BEGIN;\n%s;\nSELECT pg_backend_pid();\n" % sql)
        p.stdin.flush()
        lines = [p.stdout.readline().strip() for _ in range(2)]
        return p, int(lines[-1])

    def lock_dir(self):
        """The shipped sql/ plus 900_lock_probe.sql, an ALTER TABLE of schedules."""
        src = os.path.join(os.environ.get("APPT_SOURCE_ROOT",
                                          os.path.join(os.path.dirname(__file__), "..", "..")),
                           "sql")
        d = os.path.join(self.tmp.name, "sql-lock-" + secrets.token_hex(4))
        os.mkdir(d)
        for f in os.listdir(src):
            if f.endswith(".sql"):
                with open(os.path.join(src, f), "rb") as i, open(os.path.join(d, f), "wb") as o:
                    o.write(i.read())
        with open(os.path.join(d, "900_lock_probe.sql"), "w") as f:
            f.write("ALTER TABLE schedules ADD COLUMN lock_probe int;\n")
        return d

    def test_migrate_lock_held(self):
        # An operator's session holds a lock on schedules: migrate retries the file, says who
        # holds the lock, gives up in bounded time with one line, and applies it once the
        # session ends during the retries.
        self.ctl("migrate", check=0)
        d = self.lock_dir()
        holder, pid = self.hold_lock(self.dbs["pe"], "SELECT count(*) FROM schedules")
        who = r"pid %d \(%s, idle in transaction since \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\)" % (
            pid, HOLDER_APP)
        t0 = time.monotonic()
        r = self.ctl("migrate", "--sql-dir", d, "--lock-timeout", "1", "--lock-tries", "2",
                     check=1)
        took = time.monotonic() - t0
        # 2 waits of 1 s and one backoff of at most 1 s (the default's first), plus room
        self.assertLess(took, 2 + 1 + 5, r.stdout + r.stderr)
        self.assertRegex(r.stdout, r"(?m)^retry PE 900_lock_probe\.sql: waits for a lock, "
                         r"likely held by %s; try 2 of 2 in \d+\.\d s$" % who)
        err = r.stderr.strip().splitlines()
        self.assertEqual(len(err), 1, r.stderr)
        self.assertRegex(err[0], r"^appointmentctl: migrate PE \S+/%s: migration "
                         r"900_lock_probe\.sql: gave up after 2 tries with lock_timeout 1 s, "
                         r"the lock likely held by %s: .*SQLSTATE 55P03" % (self.dbs["pe"], who))
        self.assertEqual(self.psql(self.dbs["pe"], "select count(*) from schema_migrations "
                                                   "where version = 900"), "0")

        # the session ends 2.5 s into a run with more tries: a later try applies the file
        p = subprocess.Popen([ctl_binary(), "--config", self.conf, "migrate", "--sql-dir", d,
                              "--lock-timeout", "1", "--lock-tries", "20"],
                             env=base_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
        time.sleep(2.5)
        holder.stdin.close()
        holder.wait(30)
        out, err = p.communicate(timeout=RUN_TIMEOUT)
        self.assertEqual(p.returncode, 0, out + err)
        self.assertRegex(out, r"(?m)^retry PE 900_lock_probe\.sql: waits for a lock")
        self.assertRegex(out, r"(?m)^applied PE 900_lock_probe\.sql \(\d+\.\d ms, try "
                              r"([2-9]|1\d|20) of 20\)$")
        self.assertRegex(out, r"(?m)^applied CL 900_lock_probe\.sql \(\d+\.\d ms\)$")
        for cc in COUNTRIES:
            self.assertEqual(self.psql(self.dbs[cc], "select count(*) from schema_migrations "
                                                     "where version = 900"), "1")

    def test_wrong_password_one_line(self):
        # a wrong password: the one line names the country and its database
        env = base_env()
        env["RDS_PASSWORD"] = "wrong-" + secrets.token_hex(4)
        env.pop("PGPASSWORD", None)
        r = self.ctl("migrate", env=env)
        self.assertNotEqual(r.returncode, 0)
        err = r.stderr.strip().splitlines()
        self.assertEqual(len(err), 1, r.stderr)
        self.assertIn("migrate PE", err[0])
        self.assertNotIn(env["RDS_PASSWORD"], r.stdout + r.stderr)


class TestBadInputs(CtlBase):
    def test_destroy_needs_yes(self):
        line = self.one_line(self.ctl("destroy"), 64)
        self.assertIn("--yes", line)

    def test_unknown_command_and_options(self):
        self.assertIn("unknown command 'frobnicate'", self.one_line(self.ctl("frobnicate"), 64))
        self.one_line(self.ctl("provision", "--nope"), 64)
        self.one_line(self.ctl("seed", "--count", "0"), 64)
        self.one_line(self.ctl("seed", "--count", "12x"), 64)
        self.one_line(self.ctl("migrate", "--sql-dir"), 64)
        self.one_line(self.ctl("migrate", "--lock-timeout", "-1"), 64)
        self.one_line(self.ctl("migrate", "--lock-timeout", "3601"), 64)
        self.one_line(self.ctl("migrate", "--lock-tries", "0"), 64)
        self.one_line(self.ctl("migrate", "--lock-tries"), 64)

    def test_password_from_env_needs_it(self):
        env = base_env()
        env.pop("RDS_PASSWORD", None)
        self.assertIn("RDS_PASSWORD", self.one_line(
            self.ctl("provision", "--password-from-env", env=env), 64))

    def test_bad_config(self):
        bad = os.path.join(self.tmp.name, "bad.conf")
        with open(bad, "w") as f:
            f.write("[general]\nstage = %s\nno_such_key = 1\n" % self.stage)
        r = subprocess.run([ctl_binary(), "--config", bad, "provision"], env=base_env(),
                           capture_output=True, text=True, timeout=RUN_TIMEOUT)
        line = self.one_line(r, 78)
        self.assertIn(bad, line)
        self.assertIn("no_such_key", line)

    def test_unreachable_dynamodb_names_the_table(self):
        env = base_env()
        env["AWS_ENDPOINT_URL_DYNAMODB"] = "http://127.0.0.1:%d" % closed_port()
        t0 = time.monotonic()
        r = self.ctl("provision", env=env)
        self.assertNotEqual(r.returncode, 0)
        line = self.one_line(r, r.returncode)
        self.assertIn("create table %s:" % self.table, line)
        self.assertLess(time.monotonic() - t0, 30)

    def test_check_print_config_still_works(self):
        r = self.ctl("check", "--print-config", check=0)
        self.assertIn("stage = %s" % self.stage, r.stdout)
        self.assertIn("[country CL]", r.stdout)
        self.assertIn("db_name = %s" % self.dbs["cl"], r.stdout)


if __name__ == "__main__":
    unittest.main(verbosity=2)
