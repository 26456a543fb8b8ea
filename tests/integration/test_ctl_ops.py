#!/usr/bin/python3
"""test_ctl_ops.py - the operator commands of appointmentctl against the local stack: info
(human and --json), check (all ok, FAIL lines), redrive (moves N messages and loses none;
dry run moves nothing), reconcile (a stuck `pending` is republished and completes end to end
through the worker and completion daemons; a stuck `processed` is re-announced and
completes), logs (the journalctl argv, via --print), the PostgreSQL password order of SPEC §2
(credential file > RDS_PASSWORD > SSM), and progress decorations only on a terminal.

One private deployment (tests/e2e/harness.py: its own stage, databases, config) serves the
class; what a test puts into queues or the table it takes out again. Everything is checked
with botocore and psql, independently of our C clients. Loopback only.
"""
import datetime
import json
import os
import pty
import re
import secrets
import select
import shlex
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
import harness  # noqa: E402

import botocore.session  # noqa: E402
from botocore.exceptions import ClientError  # noqa: E402

REGION = "us-east-1"
PREFIX = "medical-appointment-scheduling"
RUN_TIMEOUT = 60  # seconds one appointmentctl run may take
KINDS = r"(config|endpoint|table|queue|dlq|topic|bus|ssm-parameter|password|database)"


def iso(dt):
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (dt.microsecond // 1000)


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


def check_lines(stdout):
    """{(kind, name): (ok, detail)} of `check` output; every line must have the shape."""
    out = {}
    for line in stdout.splitlines():
        m = re.fullmatch(r"(ok|FAIL) (\S+) (\S+) \((.*)\)", line)
        if m is None:
            raise AssertionError("not a check line: %r" % line)
        out[(m.group(2), m.group(3))] = (m.group(1) == "ok", m.group(4))
    return out


def run_pty(argv, env, timeout=RUN_TIMEOUT):
    """Runs argv with stdout on a pseudo-terminal; returns (exit, stdout, stderr) with the
    terminal's \\r\\n turned back into \\n (a bare \\r is the program's own)."""
    master, slave = pty.openpty()
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=slave, stderr=subprocess.PIPE,
                         env=env)
    os.close(slave)
    out = b""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.5)
            if not ready:
                if p.poll() is not None:
                    break
                continue
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            out += data
    finally:
        os.close(master)
    try:
        p.wait(timeout=max(1, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        raise
    err = p.stderr.read().decode()
    p.stderr.close()
    return p.returncode, out.decode().replace("\r\n", "\n"), err


class CtlOps(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = harness.Deployment(seed_count=20)
        cls.stage = cls.d.stage
        cls.table = "%s-appointments-%s" % (PREFIX, cls.stage)
        cls.tmp = tempfile.TemporaryDirectory(prefix="ctlops-")
        sess = botocore.session.get_session()

        def client(svc, var):
            return sess.create_client(svc, region_name=REGION, endpoint_url=os.environ[var],
                                      aws_access_key_id="test", aws_secret_access_key="test")
        cls.ddb = client("dynamodb", "AWS_ENDPOINT_URL_DYNAMODB")
        cls.sqs = client("sqs", "AWS_ENDPOINT_URL_SQS")
        cls.ssm = client("ssm", "AWS_ENDPOINT_URL_SSM")

    @classmethod
    def tearDownClass(cls):
        cls.d.close()
        cls.tmp.cleanup()

    # ---- helpers ----

    def ctl(self, *args, env=None, check=None, config=None):
        r = subprocess.run([harness.binary("appointmentctl"), "--config", config or self.d.config]
                           + list(args), env=env if env is not None else self.d.env,
                           capture_output=True, text=True, timeout=RUN_TIMEOUT)
        if check is not None:
            self.assertEqual(r.returncode, check, "appointmentctl %s: exit %d\nstdout:\n%s\n"
                             "stderr:\n%s" % (" ".join(args), r.returncode, r.stdout, r.stderr))
        return r

    def one_line(self, r):
        lines = r.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, r.stderr)
        self.assertTrue(lines[0].startswith("appointmentctl: "), lines[0])
        return lines[0]

    def qname(self, what, stage=None):
        return "%s-appointments-%s-%s" % (PREFIX, what, stage or self.stage)

    def qurl(self, name):
        return self.sqs.get_queue_url(QueueName=name)["QueueUrl"]

    def purge_later(self, *names):
        for n in names:
            self.addCleanup(self.sqs.purge_queue, QueueUrl=self.qurl(n))

    def drain(self, url, want, timeout=20):
        got = []
        deadline = time.monotonic() + timeout
        while len(got) < want and time.monotonic() < deadline:
            r = self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1,
                                         MessageAttributeNames=["All"])
            for m in r.get("Messages", []):
                got.append(m)
                self.sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        return got

    def depth(self, name):
        a = self.sqs.get_queue_attributes(QueueUrl=self.qurl(name), AttributeNames=["All"])
        return int(a["Attributes"]["ApproximateNumberOfMessages"])

    def put_item(self, status, country, created, schedule_id=100):
        """An appointment written straight into the table, in lib/app/store_item.c's shape."""
        aid = str(uuid.uuid4())
        t = iso(created)
        item = {"appointmentId": {"S": aid}, "insuredId": {"S": "%05d" % secrets.randbelow(99999)},
                "scheduleId": {"N": str(schedule_id)}, "countryISO": {"S": country},
                "status": {"S": status}, "createdAt": {"S": t}, "updatedAt": {"S": t},
                "processedAt": {"NULL": True}}
        if status in ("processed", "completed"):
            item["processedAt"] = {"S": t}
            item["schedule"] = {"M": {"centerId": {"N": "1"}, "specialtyId": {"N": "1"},
                                      "medicId": {"N": "1"}, "date": {"S": t}}}
        if status == "completed":
            item["completedAt"] = {"S": t}
        if status == "failed":
            item["failureReason"] = {"S": "schedule_unavailable"}
        self.ddb.put_item(TableName=self.table, Item=item)
        self.addCleanup(self.ddb.delete_item, TableName=self.table,
                        Key={"appointmentId": {"S": aid}})
        return aid

    def status_of(self, aid):
        it = self.ddb.get_item(TableName=self.table, Key={"appointmentId": {"S": aid}},
                               ConsistentRead=True)["Item"]
        return it["status"]["S"]

    def wait_status(self, aid, want, timeout=40):
        deadline = time.monotonic() + timeout
        st = None
        while time.monotonic() < deadline:
            st = self.status_of(aid)
            if st == want:
                return
            time.sleep(0.3)
        self.fail("%s is %s, not %s, after %d s" % (aid, st, want, timeout))

    def other_stage_config(self, stage):
        """A config for another stage on the deployment's databases."""
        path = os.path.join(self.tmp.name, stage + ".conf")
        with open(path, "w") as f:
            f.write(self.d.config_text("").replace("stage = %s\n" % self.stage,
                                                   "stage = %s\n" % stage))
        return path

    def password_env(self, rds_password=None, credential=None):
        """The environment with only the password sources given (libpq's own removed)."""
        env = dict(self.d.env)
        for k in ("RDS_PASSWORD", "PGPASSWORD", "PGPASSFILE", "CREDENTIALS_DIRECTORY"):
            env.pop(k, None)
        env["HOME"] = self.tmp.name  # no ~/.pgpass
        if rds_password is not None:
            env["RDS_PASSWORD"] = rds_password
        if credential is not None:
            cdir = tempfile.mkdtemp(dir=self.tmp.name)
            with open(os.path.join(cdir, "rds-password"), "w") as f:
                f.write(credential)
            env["CREDENTIALS_DIRECTORY"] = cdir
        return env

    # ---- info ----

    def test_info_reports_resources_depths_and_counts(self):
        before = json.loads(self.ctl("info", "--json", check=0).stdout)
        added = {"pending": 2, "processed": 1, "completed": 3, "failed": 1}
        now = utcnow()
        for st, n in added.items():
            for _ in range(n):
                self.put_item(st, "PE", now)
        self.purge_later(self.qname("completion") + "-dlq", self.qname("error"))
        for i in range(3):
            self.sqs.send_message(QueueUrl=self.qurl(self.qname("completion") + "-dlq"),
                                  MessageBody="dead %d" % i)
        for i in range(2):
            self.sqs.send_message(QueueUrl=self.qurl(self.qname("error")), MessageBody="e %d" % i)

        r = self.ctl("info", "--json", check=0)
        self.assertEqual(r.stderr, "")
        doc = json.loads(r.stdout)
        self.assertEqual((doc["config"], doc["stage"], doc["region"]),
                         (self.d.config, self.stage, REGION))
        self.assertEqual(set(doc["endpoints"]), {"dynamodb", "sns", "sqs", "eventbridge", "ssm"})
        for svc, ep in doc["endpoints"].items():
            self.assertTrue(ep["reachable"], svc)
            self.assertEqual(ep["url"].rstrip("/"), os.environ["AWS_ENDPOINT_URL_%s" % (
                "EVENTBRIDGE" if svc == "eventbridge" else svc.upper())].rstrip("/"))
        kinds = {}
        for res in doc["resources"]:
            kinds.setdefault(res["kind"], []).append(res["name"])
            if res["kind"] == "ssm-parameter":  # provisioned without a password: absent
                self.assertIs(res["exists"], False, res)
            else:
                self.assertIs(res["exists"], True, res)
        self.assertEqual(len(kinds["table"]), 4)
        self.assertEqual(sorted(kinds["queue"]), sorted(self.qname(q) for q in
                                                        ("completion", "error", "pe", "cl")))
        self.assertEqual(sorted(kinds["dlq"]), sorted(self.qname(q) + "-dlq" for q in
                                                      ("completion", "error", "pe", "cl")))
        self.assertEqual(len(kinds["topic"]), 2)
        self.assertEqual(len(kinds["subscription"]), 2)
        self.assertEqual(kinds["bus"], ["%s-%s" % (PREFIX, self.stage)])
        self.assertEqual(sorted(kinds["rule"]), ["appointment-processed-cl",
                                                 "appointment-processed-pe",
                                                 "appointment-processing-error"])
        self.assertEqual(len(kinds["target"]), 3)
        queues = {q["queue"]: q for q in doc["queues"]}
        self.assertEqual(set(queues), {"completion", "completion-dlq", "error", "error-dlq",
                                       "pe", "pe-dlq", "cl", "cl-dlq"})
        self.assertEqual((queues["completion-dlq"]["visible"], queues["completion-dlq"]["dlq"]),
                         (3, True))
        self.assertEqual((queues["error"]["visible"], queues["error"]["dlq"]), (2, False))
        self.assertEqual(queues["pe-dlq"]["visible"], 0)
        for st, n in added.items():
            self.assertEqual(doc["appointments"][st], before["appointments"][st] + n, st)
        self.assertEqual(doc["password"], {"source": "environment", "error": None})
        self.assertEqual([(db["country"], db["reachable"]) for db in doc["databases"]],
                         [("PE", True), ("CL", True)])
        for db in doc["databases"]:
            self.assertIsInstance(db["latencyMs"], float)
            self.assertTrue(db["target"].endswith("/e2e_%s_%s" % (self.stage,
                                                                  db["country"].lower())))

        # the same facts, one aligned line each
        r = self.ctl("info", check=0)
        lines = r.stdout.splitlines()
        self.assertRegex(r.stdout, r"(?m)^dlq +%s +exists +3 visible, 0 in flight, 0 delayed$"
                         % re.escape(self.qname("completion") + "-dlq"))
        self.assertRegex(r.stdout, r"(?m)^appointments +completed +%d$"
                         % doc["appointments"]["completed"])
        self.assertRegex(r.stdout, r"(?m)^database +PE +reachable +\S+/e2e_%s_pe \(select 1 in "
                         r"[0-9.]+ ms\)$" % self.stage)
        self.assertRegex(r.stdout, r"(?m)^config +%s +loaded +stage %s" % (
            re.escape(self.d.config), self.stage))
        starts = {len(re.match(r"\S+ +", l).group(0)) for l in lines}
        self.assertEqual(len(starts), 1, "the second column is aligned")

    def test_info_prometheus_gauges(self):
        r = self.ctl("info", "--prometheus")
        self.assertEqual(r.returncode, 0, r.stderr)
        text = r.stdout
        for name in ("appointmentd_queue_depth", "appointmentd_queue_in_flight",
                     "appointmentd_appointments_by_status", "appointmentd_resource_up",
                     "appointmentd_database_up"):
            self.assertIn("# TYPE %s gauge" % name, text)
        self.assertRegex(text, r'appointmentd_queue_depth\{queue="pe-dlq"\} \d+')
        self.assertRegex(text, r'appointmentd_appointments_by_status\{status="pending"\} \d+')
        self.assertIn('appointmentd_database_up{country="PE"} 1', text)

    def test_info_and_check_on_a_damaged_then_destroyed_stage(self):
        stage = "o" + secrets.token_hex(4)
        conf = self.other_stage_config(stage)
        env = dict(self.d.env)
        self.addCleanup(self.ctl, "destroy", "--yes", config=conf)
        self.ctl("provision", config=conf, check=0)
        doc = json.loads(self.ctl("info", "--json", config=conf, check=0).stdout)
        self.assertTrue(all(r["exists"] for r in doc["resources"]
                            if r["kind"] != "ssm-parameter"))

        # a queue deleted behind our back: one FAIL line, exit 1, the rest ok
        gone = self.qname("cl", stage)
        self.sqs.delete_queue(QueueUrl=self.qurl(gone))
        r = self.ctl("check", config=conf, env=env, check=1)
        lines = check_lines(r.stdout)
        self.assertEqual(lines[("queue", gone)], (False, "does not exist"))
        self.assertEqual([k for k, (ok, _) in lines.items() if not ok], [("queue", gone)])
        self.assertIn("1 of the checks above failed", self.one_line(r))
        doc = json.loads(self.ctl("info", "--json", config=conf, check=0).stdout)
        missing = [(r["kind"], r["name"]) for r in doc["resources"]
                   if r["exists"] is False and r["kind"] != "ssm-parameter"]
        self.assertEqual(missing, [("queue", gone)])

        # after destroy: everything missing, info still exits 0, check fails
        self.ctl("destroy", "--yes", config=conf, check=0)
        r = self.ctl("info", "--json", config=conf, check=0)
        doc = json.loads(r.stdout)
        self.assertEqual([r for r in doc["resources"] if r["exists"] is not False], [])
        self.assertIsNone(doc["appointments"])
        self.assertTrue(all(q["visible"] is None for q in doc["queues"]))
        self.assertEqual([db["reachable"] for db in doc["databases"]], [True, True])
        r = self.ctl("info", config=conf, check=0)
        self.assertRegex(r.stdout, r"(?m)^table +%s +missing$" % re.escape(
            "%s-appointments-%s" % (PREFIX, stage)))
        r = self.ctl("check", config=conf, check=1)
        lines = check_lines(r.stdout)
        self.assertEqual(lines[("bus", "%s-%s" % (PREFIX, stage))], (False, "does not exist"))
        self.assertTrue(lines[("database", "PE")][0])

    # ---- check ----

    def test_check_all_ok(self):
        r = self.ctl("check", check=0)
        self.assertEqual(r.stderr, "")
        lines = check_lines(r.stdout)
        for l in r.stdout.splitlines():
            self.assertRegex(l, r"^ok %s " % KINDS)
        kinds = [k for k, _ in lines]
        self.assertEqual(kinds.count("endpoint"), 5)
        self.assertEqual(kinds.count("table"), 4)
        self.assertEqual(kinds.count("queue") + kinds.count("dlq"), 8)
        self.assertEqual(kinds.count("topic"), 2)
        self.assertEqual(kinds.count("bus"), 1)
        self.assertEqual(kinds.count("database"), 2)
        self.assertEqual(lines[("password", "rds-password")], (True, "from environment"))
        self.assertEqual(len(r.stdout.splitlines()), 1 + 5 + 4 + 8 + 2 + 1 + 1 + 1 + 2)

        # the old dump, for scripts that want the effective values
        r = self.ctl("check", "--print-config", check=0)
        self.assertIn("stage = %s" % self.stage, r.stdout)
        self.assertIn("[country CL]", r.stdout)

    def test_check_unreachable_endpoint_and_bad_config(self):
        env = dict(self.d.env)
        env["AWS_ENDPOINT_URL_SQS"] = "http://127.0.0.1:%d" % harness.free_port()
        t0 = time.monotonic()
        r = self.ctl("check", env=env, check=1)
        lines = check_lines(r.stdout)
        self.assertFalse(lines[("endpoint", "sqs")][0])
        self.assertIn("NetworkError", lines[("endpoint", "sqs")][1])
        self.assertTrue(lines[("endpoint", "dynamodb")][0])
        # one unreachable endpoint is asked once, not once per queue
        self.assertEqual(sum(1 for (k, _), (ok, d) in lines.items()
                             if k in ("queue", "dlq") and "not asked" in d), 7)
        self.assertLess(time.monotonic() - t0, 30)

        bad = os.path.join(self.tmp.name, "bad.conf")
        with open(bad, "w") as f:
            f.write("[general]\nstage = %s\nno_such_key = 1\n" % self.stage)
        for cmd in (["check"], ["check", "--print-config"], ["info"], ["reconcile"],
                    ["redrive", "pe"]):
            r = self.ctl(*cmd, config=bad)
            self.assertEqual(r.returncode, 78, cmd)
            self.assertIn("no_such_key", self.one_line(r))

    # ---- password order (SPEC §2) ----

    def test_password_order(self):
        right = os.environ["RDS_PASSWORD"]
        wrong = "wrong-" + secrets.token_hex(4)
        param = "/medical-appointment/%s/rds/password" % self.stage

        def put_ssm(value):
            self.ssm.put_parameter(Name=param, Value=value, Type="SecureString", Overwrite=True)
        self.addCleanup(lambda: self.ssm.delete_parameter(Name=param))

        def expect(env, source, works):
            r = self.ctl("check", env=env)
            lines = check_lines(r.stdout)
            self.assertEqual(lines[("password", "rds-password")], (True, "from " + source),
                             r.stdout)
            for cc in ("PE", "CL"):
                self.assertEqual(lines[("database", cc)][0], works, r.stdout)
            self.assertEqual(r.returncode, 0 if works else 1, r.stdout + r.stderr)
            self.assertNotIn(wrong, r.stdout + r.stderr)
            return r

        # only the SSM parameter, right: used (and migrate works with it too)
        put_ssm(right)
        expect(self.password_env(), "ssm", True)
        r = self.ctl("migrate", env=self.password_env(), check=0)
        self.assertRegex(r.stdout, r"(?m)^migrated PE \S+: 0 applied")
        # only SSM, wrong: fails, so SSM really was what the database saw
        put_ssm(wrong)
        expect(self.password_env(), "ssm", False)
        # RDS_PASSWORD right beats a wrong SSM
        expect(self.password_env(rds_password=right), "environment", True)
        # a right credential beats a wrong RDS_PASSWORD (and a wrong SSM); a trailing newline
        # as `echo pw > file` leaves it is not part of the password
        expect(self.password_env(rds_password=wrong, credential=right + "\n"), "credential",
               True)
        # a wrong credential is used even though RDS_PASSWORD is right: the credential wins
        expect(self.password_env(rds_password=right, credential=wrong), "credential", False)
        r = self.ctl("migrate", env=self.password_env(rds_password=right, credential=wrong))
        self.assertEqual(r.returncode, 1)
        self.assertIn("migrate PE", self.one_line(r))

        # an empty credential file is a broken deployment, not a fallback to RDS_PASSWORD
        env = self.password_env(rds_password=right, credential="")
        r = self.ctl("check", env=env, check=1)
        ok, detail = check_lines(r.stdout)[("password", "rds-password")]
        self.assertFalse(ok)
        self.assertIn(os.path.join(env["CREDENTIALS_DIRECTORY"], "rds-password"), detail)
        r = self.ctl("migrate", env=env, check=1)
        self.assertIn("rds-password", self.one_line(r))

    # ---- redrive ----

    def test_redrive_moves_every_message_and_loses_none(self):
        src, dlq = self.qname("error"), self.qname("error") + "-dlq"
        self.purge_later(src, dlq)
        sent = set()
        for i in range(25):
            body = json.dumps({"n": i, "tag": secrets.token_hex(6), "text": "é ü \"q\""})
            attrs = {"kind": {"DataType": "String", "StringValue": "k%d" % (i % 3)},
                     "seq": {"DataType": "Number", "StringValue": str(i)}}
            if i % 5 == 0:
                attrs = {}
            self.sqs.send_message(QueueUrl=self.qurl(dlq), MessageBody=body,
                                  MessageAttributes=attrs)
            sent.add((body, tuple(sorted((k, v["DataType"], v["StringValue"])
                                         for k, v in attrs.items()))))

        # dry run: counts, peeks, moves nothing
        r = self.ctl("redrive", "error", "--dry-run", check=0)
        lines = r.stdout.splitlines()
        self.assertEqual(lines[0], "would move about 25 message(s) from %s to %s (0 more in "
                         "flight); dry run: nothing moved" % (dlq, src))
        self.assertEqual(len(lines), 11)
        for l in lines[1:]:
            self.assertRegex(l, r"^message \S+: first sent \d{4}-\d\d-\d\dT\S+Z, received \d+ "
                                r"times, \d+ bytes, [02] attributes$")
        self.assertEqual((self.depth(dlq), self.depth(src)), (25, 0))
        # a dry run of --max says what that run would move, not the whole DLQ
        r = self.ctl("redrive", "error", "--dry-run", "--max", "10", check=0)
        self.assertEqual(r.stdout.splitlines()[0],
                         "would move 10 of about 25 message(s) from %s to %s (--max; 0 more "
                         "in flight); dry run: nothing moved" % (dlq, src))
        self.assertEqual((self.depth(dlq), self.depth(src)), (25, 0))

        # --max moves exactly that many; the rest in one more run (QUEUE in any case)
        r = self.ctl("redrive", "error", "--max", "10", check=0)
        self.assertEqual(r.stdout, "moved 10 message(s) from %s to %s\n" % (dlq, src))
        self.assertEqual((self.depth(dlq), self.depth(src)), (15, 10))
        r = self.ctl("redrive", "ERROR", check=0)
        self.assertEqual(r.stdout, "moved 15 message(s) from %s to %s\n" % (dlq, src))
        self.assertEqual(r.stderr, "")

        got = self.drain(self.qurl(src), 25)
        moved = set((m["Body"], tuple(sorted((k, v["DataType"], v["StringValue"])
                                             for k, v in m.get("MessageAttributes", {}).items())))
                    for m in got)
        self.assertEqual(len(got), 25)
        self.assertEqual(moved, sent)
        self.assertEqual(self.depth(dlq), 0)
        self.assertEqual(self.drain(self.qurl(dlq), 1, timeout=2), [])

        # an empty DLQ: nothing to do, still success
        r = self.ctl("redrive", "error", check=0)
        self.assertEqual(r.stdout, "moved 0 message(s) from %s to %s\n" % (dlq, src))

    def test_redrive_country_with_progress_on_a_terminal(self):
        src, dlq = self.qname("cl"), self.qname("cl") + "-dlq"
        self.purge_later(src, dlq)
        for i in range(12):
            self.sqs.send_message(QueueUrl=self.qurl(dlq), MessageBody="m%d" % i)
        code, out, err = run_pty([harness.binary("appointmentctl"), "--config", self.d.config,
                                  "redrive", "CL"], self.d.env)
        self.assertEqual(code, 0, out + err)
        self.assertIn("\rmoving %s -> %s: " % (dlq, src), out)
        self.assertTrue(out.endswith("\r\x1b[Kmoved 12 message(s) from %s to %s\n" % (dlq, src)),
                        repr(out))
        self.assertEqual(len(self.drain(self.qurl(src), 12)), 12)

        r = self.ctl("redrive", "mx")
        self.assertEqual(r.returncode, 64)
        self.assertIn("unknown queue 'mx'", self.one_line(r))
        self.assertEqual(self.ctl("redrive").returncode, 64)
        self.assertEqual(self.ctl("redrive", "pe", "--max", "0").returncode, 64)

    def test_provision_progress_only_on_a_terminal(self):
        # the counter counts to exactly the lines printed, for the whole run and for each
        # --only subset (2 countries: tables 8, countries 10, events 13, password 1)
        for only, n in (((), 32), (("--only", "tables,countries"), 18),
                        (("--only", "events,password"), 14), (("--only", "countries"), 10),
                        (("--only", "password"), 1)):
            code, out, err = run_pty([harness.binary("appointmentctl"), "--config",
                                      self.d.config, "provision"] + list(only), self.d.env)
            self.assertEqual(code, 0, out + err)
            steps = [l for l in out.splitlines() if not l.startswith("#") and "=" not in l]
            self.assertEqual(len(steps), n, out)
            for i, l in enumerate(steps, 1):
                self.assertRegex(l, r"^\[%d/%d\] (exists|skipped) " % (i, n), only)
        r = self.ctl("provision", check=0)
        self.assertNotIn("[", r.stdout)
        self.assertNotIn("\r", r.stdout)

    # ---- reconcile ----

    def test_reconcile_completes_stuck_appointments_end_to_end(self):
        old = utcnow() - datetime.timedelta(hours=1)
        stuck_pending = self.put_item("pending", "PE", old, schedule_id=101)
        stuck_processed = self.put_item("processed", "CL", old, schedule_id=102)
        young_pending = self.put_item("pending", "PE", utcnow(), schedule_id=103)
        # a cancel accepted an hour ago whose message was lost: the slot is still held
        stuck_cancel = self.put_item("cancelling", "CL", old, schedule_id=104)
        # created long ago, cancelled just now: not stuck yet (updatedAt decides)
        young_cancel = self.put_item("cancelling", "CL", old, schedule_id=105)
        self.ddb.update_item(TableName=self.table, Key={"appointmentId": {"S": young_cancel}},
                             UpdateExpression="SET updatedAt = :u",
                             ExpressionAttributeValues={":u": {"S": iso(utcnow())}})
        cl_db = "e2e_%s_cl" % self.stage
        harness.psql(cl_db, "INSERT INTO appointments (appointment_id, insured_id, schedule_id,"
                            " country_iso, status, created_at) VALUES ('%s', '00001', 104, 'CL',"
                            " 'booked', now()); UPDATE schedules SET is_available = false"
                            " WHERE schedule_id = 104" % stuck_cancel)

        started = [self.d.start("appointment-worker", "--country", "pe"),
                   self.d.start("appointment-worker", "--country", "cl"),
                   self.d.start("appointment-completion")]

        def stop():
            for dmn in started:
                dmn.stop()
                self.d.daemons.remove(dmn)
        self.addCleanup(stop)

        r = self.ctl("reconcile", check=0)
        self.assertIn("pending PE: 1 republished, 0 failed", r.stdout.splitlines())
        self.assertIn("pending CL: 0 republished, 0 failed", r.stdout.splitlines())
        self.assertIn("processed CL: 1 re-announced, 0 failed", r.stdout.splitlines())
        self.assertIn("cancelling CL: 1 re-sent, 0 failed", r.stdout.splitlines())
        self.assertRegex(r.stdout, r"(?m)^reconciled appointments created before \S+Z \(older "
                         r"than 300 s\): 1 pending republished, 1 processed re-announced, 1 "
                         r"cancelling re-sent, 0 failed$")
        self.assertEqual(r.stderr, "")
        self.wait_status(stuck_pending, "completed")
        self.wait_status(stuck_processed, "completed")
        self.wait_status(stuck_cancel, "cancelled")
        self.assertEqual(self.d.db_rows("PE", "appointment_id = '%s'" % stuck_pending), "1")
        self.assertEqual(self.status_of(young_pending), "pending")
        self.assertEqual(self.status_of(young_cancel), "cancelling")
        # the worker gave the slot back
        self.assertEqual(harness.psql(cl_db, "SELECT status FROM appointments WHERE "
                                             "appointment_id = '%s'" % stuck_cancel), "cancelled")
        self.assertEqual(harness.psql(cl_db, "SELECT is_available FROM schedules WHERE "
                                             "schedule_id = 104"), "t")

        # nothing stuck any more: a second run sends nothing; --older-than 0 takes the young one
        r = self.ctl("reconcile", check=0)
        self.assertTrue(r.stdout.endswith(": 0 pending republished, 0 processed re-announced, "
                                          "0 cancelling re-sent, 0 failed\n"), r.stdout)
        self.assertIn("pending PE: 0 republished", r.stdout)
        r = self.ctl("reconcile", "--older-than", "0", check=0)
        self.assertIn("pending PE: 1 republished, 0 failed", r.stdout.splitlines())
        self.assertIn("cancelling CL: 1 re-sent, 0 failed", r.stdout.splitlines())
        self.wait_status(young_pending, "completed")
        self.wait_status(young_cancel, "cancelled")

    def test_reconcile_failures_exit_1_after_trying_all(self):
        old = utcnow() - datetime.timedelta(hours=1)
        aid_pe = self.put_item("pending", "PE", old)
        aid_mx = self.put_item("pending", "MX", old)
        aid_cl = self.put_item("processed", "CL", old)
        self.purge_later(self.qname("completion"))
        env = dict(self.d.env)
        env["AWS_ENDPOINT_URL_SNS"] = "http://127.0.0.1:%d" % harness.free_port()
        r = self.ctl("reconcile", env=env, check=1)
        out = r.stdout.splitlines()
        self.assertTrue(any(l.startswith("failed pending %s PE: " % aid_pe) for l in out), out)
        self.assertIn("failed pending %s MX: no [country MX] section in the configuration"
                      % aid_mx, out)
        self.assertIn("pending PE: 0 republished, 1 failed", out)
        self.assertIn("pending (unconfigured countries): 1 failed", out)
        # SNS down does not stop the re-announcements on EventBridge
        self.assertIn("processed CL: 1 re-announced, 0 failed", out)
        self.assertIn("not everything went out", self.one_line(r))
        self.assertEqual(self.status_of(aid_cl), "processed")  # no completion daemon running
        self.assertEqual(len(self.drain(self.qurl(self.qname("completion")), 1)), 1)

        self.assertEqual(self.ctl("reconcile", "--older-than", "-5").returncode, 64)
        self.assertEqual(self.ctl("reconcile", "--older-than", "x").returncode, 64)

    def test_reconcile_run_ends_within_its_time_limit(self):
        # SNS answers nothing (a listener that never accepts): each publish would take its
        # whole retry budget (10 s), and a run with many stuck items outlived the timer's
        # TimeoutStartSec and was killed without its summary. With --max-seconds 6 each walk
        # gets its share of the 6 s and a call under way ends with it; the EventBridge walk
        # after the stuck one still re-announces.
        hole = socket.socket()
        hole.bind(("127.0.0.1", 0))
        hole.listen(64)
        self.addCleanup(hole.close)
        old = utcnow() - datetime.timedelta(hours=1)
        pending = [self.put_item("pending", "PE", old) for _ in range(3)]
        aid_cl = self.put_item("processed", "CL", old)
        self.purge_later(self.qname("completion"))
        env = dict(self.d.env)
        env["AWS_ENDPOINT_URL_SNS"] = "http://127.0.0.1:%d" % hole.getsockname()[1]
        t0 = time.monotonic()
        r = self.ctl("reconcile", "--max-seconds", "6", env=env, check=1)
        took = time.monotonic() - t0
        out = r.stdout.splitlines()
        self.assertLess(took, 9, r.stdout)
        self.assertIn("pending: stopped at its share of the run's 6 s (--max-seconds); the "
                      "next run goes on", out)
        self.assertIn("processed CL: 1 re-announced, 0 failed", out)
        self.assertIn("not everything went out", self.one_line(r))
        self.assertEqual([self.status_of(a) for a in pending], ["pending"] * 3)
        self.assertEqual(self.status_of(aid_cl), "processed")
        self.assertEqual(len(self.drain(self.qurl(self.qname("completion")), 1)), 1)
        self.assertEqual(self.ctl("reconcile", "--max-seconds", "0").returncode, 64)

    # ---- logs ----

    def test_logs_print_the_journalctl_command(self):
        def argv(*args):
            r = self.ctl("logs", "--print", *args, check=0)
            return shlex.split(r.stdout)
        self.assertEqual(argv(), ["journalctl", "-u", "appointment-api.service",
                                  "-u", "appointment-worker@*.service",
                                  "-u", "appointment-completion.service",
                                  "-u", "appointment-reconcile.service"])
        self.assertEqual(argv("api", "PE", "worker@cl", "completion", "-f", "--request-id",
                              "req-123", "--since", "-1h", "-n", "50"),
                         ["journalctl", "-u", "appointment-api.service",
                          "-u", "appointment-worker@pe.service",
                          "-u", "appointment-worker@cl.service",
                          "-u", "appointment-completion.service", "-f",
                          "--since", "-1h", "-n", "50", "REQUEST_ID=req-123"])
        self.assertEqual(argv("worker", "--appointment-id=abc", "-o", "json"),
                         ["journalctl", "-u", "appointment-worker@*.service", "-o", "json",
                          "APPOINTMENT_ID=abc"])
        # the forms docs/operations.md shows
        self.assertEqual(argv("--request-id", "r-1")[-1], "REQUEST_ID=r-1")
        self.assertEqual(argv("--request-id", "r-1")[2:9:2], [
            "appointment-api.service", "appointment-worker@*.service",
            "appointment-completion.service", "appointment-reconcile.service"])
        self.assertEqual(argv("pe", "completion", "--since", "today", "-p", "warning"),
                         ["journalctl", "-u", "appointment-worker@pe.service",
                          "-u", "appointment-completion.service", "--since", "today",
                          "-p", "warning"])
        self.assertEqual(argv("worker", "-p", "warning", "--since", "-1h"),
                         ["journalctl", "-u", "appointment-worker@*.service", "-p", "warning",
                          "--since", "-1h"])
        for bad in (["nope"], ["--request-id"], ["--request-id", "a b"], ["--bogus"]):
            r = self.ctl("logs", "--print", *bad)
            self.assertEqual(r.returncode, 64, bad)
            self.one_line(r)


if __name__ == "__main__":
    unittest.main(verbosity=2)
