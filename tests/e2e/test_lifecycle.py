#!/usr/bin/python3
"""Daemon lifecycle as systemd sees it: a NOTIFY_SOCKET harness receives READY=1,
RELOADING=1, STOPPING=1 and WATCHDOG=1; bad configuration exits 78 with one line."""
import http.client
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.request
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "faults"))
import harness  # noqa: E402
import proxyctl  # noqa: E402

SRC = os.environ.get("APPT_SOURCE_ROOT", ".")
CONF = os.path.join(SRC, "etc", "appointmentd.conf")
binary = harness.binary


class LifecycleTest(unittest.TestCase):
    """Ready, reload, stop and the watchdog on a provisioned deployment (the daemons
    report READY=1 only once their queue / listener is set up)."""

    @classmethod
    def setUpClass(cls):
        cls.d = harness.Deployment(seed_count=5)

    @classmethod
    def tearDownClass(cls):
        cls.d.close()

    def start(self, name, args, env_extra=None, log=None):
        """Starts name with a notify socket of its own; its output goes to the file log, or
        nowhere."""
        env = dict(self.d.env)
        env.update(env_extra or {})
        notify = harness.NotifySocket(os.path.join(self.d.dir, "lc-" + harness.rand(6)))
        self.addCleanup(notify.close)
        env["NOTIFY_SOCKET"] = notify.path
        env.pop("WATCHDOG_PID", None)
        out = log if log is not None else subprocess.DEVNULL
        p = subprocess.Popen([binary(name), "--config", self.d.config] + args, env=env,
                             stdout=out, stderr=out)
        self.addCleanup(self.reap, p)
        return p, notify

    @staticmethod
    def reap(p):
        if p.poll() is None:
            p.kill()
        p.wait()

    def test_ready_reload_stop(self):
        for name, extra in (("appointment-api", []), ("appointment-completion", []),
                            ("appointment-worker", ["--country", "pe"])):
            with self.subTest(daemon=name):
                p, notify = self.start(name, extra)
                notify.wait_for("READY=1", proc=p)
                self.assertTrue(notify.seen("STATUS="))
                p.send_signal(signal.SIGHUP)
                notify.wait_for("RELOADING=1")
                time.sleep(0.5)
                self.assertGreaterEqual(sum("READY=1" in m for m in notify.messages), 2)
                self.assertIsNone(p.poll(), "a reload must not stop the daemon")
                t0 = time.monotonic()
                p.send_signal(signal.SIGTERM)
                notify.wait_for("STOPPING=1")
                self.assertEqual(p.wait(timeout=10), 0)
                self.assertLess(time.monotonic() - t0, 3.0)

    def test_watchdog_pings(self):
        for name, extra in (("appointment-api", []), ("appointment-worker", ["--country", "cl"])):
            with self.subTest(daemon=name):
                p, notify = self.start(name, extra, {"WATCHDOG_USEC": "1000000"})
                notify.wait_for("READY=1", proc=p)
                notify.wait_for("WATCHDOG=1", timeout=4)
                p.send_signal(signal.SIGTERM)
                self.assertEqual(p.wait(timeout=10), 0)

    def test_sighup_while_the_queue_resolves_is_applied_once_ready(self):
        """A consumer whose queue does not exist yet waits at start ("waiting for SQS queue
        …", no READY=1). A SIGHUP then (the configuration file changed meanwhile) used to be
        taken by that wait and dropped; it is applied once the daemon is ready: RELOADING=1
        after READY=1, and the reload's log line."""
        sqs = harness.aws_client("sqs")
        name = "%s-late-%s" % (self.d.stage, harness.rand(6))
        env = dict(self.d.env, APPOINTMENTD_AWS_COMPLETION_QUEUE_NAME=name)
        env.pop("APPOINTMENTS_COMPLETION_QUEUE_URL", None)
        env.pop("APPOINTMENTD_AWS_COMPLETION_QUEUE_URL", None)
        env.pop("WATCHDOG_PID", None)
        notify = harness.NotifySocket(os.path.join(self.d.dir, "lc-" + harness.rand(6)))
        self.addCleanup(notify.close)
        env["NOTIFY_SOCKET"] = notify.path
        log = tempfile.TemporaryFile(mode="w+")
        self.addCleanup(log.close)
        p = subprocess.Popen([binary("appointment-completion"), "--config", self.d.config],
                             env=env, stdout=log, stderr=log)
        self.addCleanup(self.reap, p)
        notify.wait_for("STATUS=waiting for SQS queue " + name, proc=p)
        p.send_signal(signal.SIGHUP)
        time.sleep(0.5)                   # the resolve wait takes it (it polls the signalfd)
        self.assertFalse(notify.seen("READY=1"))
        url = sqs.create_queue(QueueName=name)["QueueUrl"]
        self.addCleanup(sqs.delete_queue, QueueUrl=url)
        notify.wait_for("READY=1", proc=p)  # the next attempt (every 2 s) finds the queue
        with notify.lock:
            ready_at = next(i for i, m in enumerate(notify.messages) if "READY=1" in m)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            with notify.lock:
                later = notify.messages[ready_at + 1:]
            if any("RELOADING=1" in m for m in later):
                break
            time.sleep(0.05)
        else:
            log.seek(0)
            self.fail("the SIGHUP sent during the start was never applied:\n" + log.read()[-2000:])
        p.send_signal(signal.SIGTERM)
        self.assertEqual(p.wait(timeout=10), 0)
        log.seek(0)
        self.assertIn("configuration reloaded (1 so far)", log.read())

    def test_reload_is_confirmed_at_prod_log_level(self):
        """prod logs at warn (etc/prod.conf), and docs/operations.md tells the operator to
        confirm a reload in the journal: the confirmation is written at warn, so it is there
        at that level. It was info, hidden in prod."""
        log = tempfile.TemporaryFile(mode="w+")
        self.addCleanup(log.close)
        p, notify = self.start("appointment-completion", [], {"LOG_LEVEL": "warn"}, log=log)
        notify.wait_for("READY=1", proc=p)
        p.send_signal(signal.SIGHUP)
        notify.wait_for("RELOADING=1")
        deadline = time.monotonic() + 5
        while sum("READY=1" in m for m in notify.messages) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        p.send_signal(signal.SIGTERM)
        self.assertEqual(p.wait(timeout=10), 0)
        log.seek(0)
        text = log.read()
        self.assertIn("configuration reloaded (1 so far)", text)
        self.assertNotIn('"level":"info"', text, "LOG_LEVEL=warn must hide info lines")

    def test_consumer_counters_exist_at_start(self):
        """Every per-queue counter of a worker is on /metrics at 0 once it is ready, one
        series per label set: increase() misses the first increment of a series that appears
        with it (AppointmentMessagesDeadLettered), and a sum over no series is empty, not 0
        (AppointmentsStuckPending)."""
        port = harness.free_port()
        p, notify = self.start("appointment-worker", ["--country", "pe"],
                               {"APPOINTMENTD_WORKER_METRICS_LISTEN": "127.0.0.1:%d" % port})
        notify.wait_for("READY=1", proc=p)
        text = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port,
                                      timeout=10).read().decode()
        p.send_signal(signal.SIGTERM)
        self.assertEqual(p.wait(timeout=10), 0)
        want = ['appointmentd_messages_succeeded_total{queue="pe"}',
                'appointmentd_messages_failed_total{queue="pe",kind="transient"}',
                'appointmentd_messages_failed_total{queue="pe",kind="poison"}',
                'appointmentd_messages_dead_lettered_total{queue="pe"}',
                'appointmentd_messages_in_flight{queue="pe"}']
        want += ['appointmentd_worker_outcomes_total{queue="pe",outcome="%s"}' % o
                 for o in ("processed", "failed", "cancelled", "create_after_cancel")]
        lines = text.splitlines()
        for series in want:
            with self.subTest(series=series):
                self.assertEqual([ln for ln in lines if ln.startswith(series + " ")],
                                 [series + " 0"], text)
        for family in ("appointmentd_messages_failed_total", "appointmentd_worker_outcomes_total"):
            n = sum(1 for ln in lines if ln.startswith(family + "{"))
            self.assertEqual(n, 2 if family.endswith("failed_total") else 4, text)

    def test_every_daemon_exports_its_start_time(self):
        """process_start_time_seconds (seconds since the epoch, a float) on every daemon's
        /metrics, within a few seconds of its start: a consumer the watchdog kills and
        systemd restarts every 90 s or more never trips StartLimitBurst=, and `up` only
        blips; the alert AppointmentDaemonRestarting counts the changes of this value."""
        for name, extra in (("appointment-api", []), ("appointment-completion", []),
                            ("appointment-worker", ["--country", "pe"])):
            with self.subTest(daemon=name):
                port = self.d.port
                env = {}
                if name != "appointment-api":
                    port = harness.free_port()
                    env["APPOINTMENTD_WORKER_METRICS_LISTEN"] = "127.0.0.1:%d" % port
                before = time.time()
                p, notify = self.start(name, extra, env)
                notify.wait_for("READY=1", proc=p)
                text = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port,
                                              timeout=10).read().decode()
                after = time.time()
                p.send_signal(signal.SIGTERM)
                self.assertEqual(p.wait(timeout=10), 0)
                lines = [ln for ln in text.splitlines()
                         if ln.split(" ", 1)[0] == "process_start_time_seconds"]
                self.assertEqual(len(lines), 1, text)
                self.assertIn("# TYPE process_start_time_seconds gauge", text)
                started = float(lines[0].split(" ", 1)[1])
                self.assertGreaterEqual(started, before - 1.0)
                self.assertLessEqual(started, after + 1.0)

    def test_worker_that_cannot_start_exits_78_and_receives_nothing(self):
        """Issue 10: a worker thread whose state cannot be made (an empty database host
        made db_conn_new refuse) used to be retried forever while the receiver took
        messages nobody handled or heartbeated, the watchdog pinging all along. The
        consumer's start now fails on such a thread (tests/unit/test_consumer.c), and an
        empty database host is a missing value the configuration refuses (SPEC §2), before
        any thread: exit 78, one line naming the variable, no READY=1, and the message is
        left visible in the queue."""
        sqs = harness.aws_client("sqs")
        # a queue of its own: a long poll an earlier test's worker aborted may still be
        # open at the emulator and take a message sent to the deployment's queue
        url = sqs.create_queue(QueueName="%s-lc-%s" % (self.d.stage, harness.rand(6)),
                               Attributes={"VisibilityTimeout": "10"})["QueueUrl"]
        self.addCleanup(sqs.delete_queue, QueueUrl=url)
        sqs.send_message(QueueUrl=url, MessageBody='{"Message": "{}"}')
        env = dict(self.d.env, RDS_PE_HOST="", APPOINTMENTS_PE_QUEUE_URL=url)
        env.update({"WATCHDOG_USEC": "1000000"})
        notify = harness.NotifySocket(os.path.join(self.d.dir, "lc-" + harness.rand(6)))
        self.addCleanup(notify.close)
        env["NOTIFY_SOCKET"] = notify.path
        env.pop("WATCHDOG_PID", None)
        p = subprocess.Popen([binary("appointment-worker"), "--config", self.d.config,
                              "--country", "pe"], env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True)
        self.addCleanup(self.reap, p)
        try:
            _, err = p.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            self.fail("the worker kept running (READY=1 seen: %s, WATCHDOG=1 seen: %s)" %
                      (notify.seen("READY=1"), notify.seen("WATCHDOG=1")))
        self.assertEqual(p.returncode, 78, err)
        lines = err.strip().splitlines()
        self.assertEqual(len(lines), 1, err)
        self.assertIn("configuration error: environment RDS_PE_HOST: missing value", lines[0])
        self.assertFalse(notify.seen("READY=1"))
        self.assertEqual(harness.queue_depth(sqs, url), (1, 0),
                         "the message must stay visible: nothing was received")

    def start_without_ssm(self, name, args):
        """name with its PostgreSQL password only in SSM, which a loopback proxy answers with
        503 on every GetParameter (proxy.rules() lets it through). Returns the process, its
        notify socket, the proxy and the log's path."""
        ssm = harness.aws_client("ssm")
        param = "/medical-appointment/%s/rds/password" % self.d.stage
        ssm.put_parameter(Name=param, Value=os.environ["RDS_PASSWORD"], Type="SecureString",
                          Overwrite=True)
        self.addCleanup(ssm.delete_parameter, Name=param)
        proxy = harness.FaultProxy(self.d.env["AWS_ENDPOINT_URL_SSM"])
        self.addCleanup(proxy.close)
        proxy.rules({"op": "GetParameter", "fault": "503", "count": -1})
        env = dict(self.d.env, AWS_ENDPOINT_URL_SSM=proxy.url)
        for k in ("RDS_PASSWORD", "PGPASSWORD", "CREDENTIALS_DIRECTORY"):
            env.pop(k, None)
        notify = harness.NotifySocket(os.path.join(self.d.dir, "lc-" + harness.rand(6)))
        self.addCleanup(notify.close)
        env["NOTIFY_SOCKET"] = notify.path
        log = os.path.join(self.d.dir, "%s-ssm-%s.log" % (name, harness.rand(4)))
        with open(log, "w") as out:
            p = subprocess.Popen([binary(name), "--config", self.d.config] + args, env=env,
                                 stdout=out, stderr=out)
        self.addCleanup(self.reap, p)
        return p, notify, proxy, log

    def test_worker_waits_for_its_password_while_ssm_does_not_answer(self):
        """A worker whose PostgreSQL password is in SSM, started while SSM answers 503 (a
        loopback proxy), waits for it (STATUS= says so, no READY=1), then starts with it
        once SSM answers. Before, it logged "no PostgreSQL password found" and ran without
        it: every booking failed on authentication, into the DLQ, for ever."""
        p, notify, proxy, log = self.start_without_ssm("appointment-worker", ["--country", "pe"])
        deadline = time.monotonic() + 40
        while "waiting for the PostgreSQL password" not in notify.last_status():
            self.assertIsNone(p.poll(), "the worker exited")
            self.assertFalse(notify.seen("READY=1"), "ready without its password")
            self.assertLess(time.monotonic(), deadline, notify.last_status())
            time.sleep(0.1)
        self.assertFalse(notify.seen("READY=1"))
        proxy.rules()
        notify.wait_for("READY=1", timeout=60, proc=p)
        p.send_signal(signal.SIGTERM)
        self.assertEqual(p.wait(timeout=15), 0)
        with open(log) as f:
            text = f.read()
        self.assertIn("PostgreSQL password from ssm", text)
        self.assertNotIn("no PostgreSQL password found", text)

    def black_hole(self, name, op):
        """A fault proxy in front of DynamoDB (listener name) whose op requests are read and
        never answered; returns the proxy and a function that waits until the daemon p is
        held in one."""
        upstream = "http:" + self.d.env["AWS_ENDPOINT_URL_DYNAMODB"]
        proxy = proxyctl.Proxy(harness.SRC, {name: upstream}, self.d.dir)
        self.addCleanup(proxy.close)
        proxy.add(listener=name, op=op, fault="blackhole")

        def wait_held(p):
            deadline = time.monotonic() + 20
            while True:
                st = proxy.stats()["listeners"].get(name, {}).get(op, {})
                if st.get("faults", {}).get("blackhole", 0) >= 1:
                    return
                self.assertIsNone(p.poll(), "the daemon exited")
                self.assertLess(time.monotonic(), deadline, "no %s reached the proxy" % op)
                time.sleep(0.1)
        return proxy, wait_held

    def stop_at_deadline(self, p, log, notify, drain_s, what):
        """SIGTERM with a handler hung past the drain: the process must exit at the drain's
        deadline (plus the bounded abandon), status 0 (SPEC §5: a SIGTERM ends in exit 0),
        saying what it abandoned. Returns the log."""
        t0 = time.monotonic()
        p.send_signal(signal.SIGTERM)
        notify.wait_for("STOPPING=1")
        try:
            code = p.wait(timeout=60)
        except subprocess.TimeoutExpired:
            code = None
        took = time.monotonic() - t0
        log.seek(0)
        text = log.read()
        self.assertIsNotNone(code, "%s still running 60 s after SIGTERM:\n%s"
                             % (what, text[-3000:]))
        self.assertLess(took, drain_s + 3.0, "%s exited %.1f s after SIGTERM, past its %.1f s "
                        "drain:\n%s" % (what, took, drain_s, text[-3000:]))
        self.assertGreater(took, drain_s - 0.3, "%s did not drain" % what)
        self.assertEqual(code, 0, text[-3000:])
        self.assertIn("drain timed out after %d ms: exiting now, abandoning 1 in flight"
                      % int(drain_s * 1000), text)
        self.assertNotIn("LeakSanitizer", text)
        self.assertNotIn("AddressSanitizer", text)
        return text

    def test_worker_stop_ends_at_the_drain_deadline_with_a_hung_handler(self):
        """A handler hung past the drain (its DynamoDB read black-holed: the call's own
        bounds are ~10 s, the drain 2 s): the worker used to log "drain timed out" and then
        join the hung thread in its teardown, exiting only when the call gave up (or at
        systemd's SIGKILL). Now it exits at the deadline with status 0 and one line naming
        the abandoned handler; the message received ahead and not started is back in the
        queue at once, the hung one comes back after its visibility timeout."""
        sqs = harness.aws_client("sqs")
        url = sqs.create_queue(QueueName="%s-dl-%s" % (self.d.stage, harness.rand(6)),
                               Attributes={"VisibilityTimeout": "60"})["QueueUrl"]
        self.addCleanup(sqs.delete_queue, QueueUrl=url)
        for i in range(2):
            sqs.send_message(QueueUrl=url, MessageBody=json.dumps({
                "appointmentId": str(uuid.uuid4()), "countryISO": "PE",
                "eventType": "AppointmentCreated", "insuredId": "0090%d" % i,
                "scheduleId": 100 + i, "timestamp": "2026-01-01T00:00:00.000Z"}))
        proxy, wait_held = self.black_hole("w.ddb", "GetItem")
        log = tempfile.TemporaryFile(mode="w+")
        self.addCleanup(log.close)
        p, notify = self.start("appointment-worker", ["--country", "pe"], {
            "AWS_ENDPOINT_URL_DYNAMODB": proxy.url("w.ddb"), "APPOINTMENTS_PE_QUEUE_URL": url,
            "APPOINTMENTD_WORKER_MAX_IN_FLIGHT": "1",
            "APPOINTMENTD_WORKER_DRAIN_TIMEOUT_MS": "2000"}, log=log)
        notify.wait_for("READY=1", proc=p)
        wait_held(p)
        self.stop_at_deadline(p, log, notify, 2.0, "the worker")
        # one back at once (received ahead, or never received), one still invisible
        self.assertEqual(harness.queue_depth(sqs, url), (1, 1))

    def test_api_stop_ends_at_the_drain_deadline_with_a_hung_request(self):
        """A listing hung on a black-holed DynamoDB Query (~10 s of retries) past a 1.5 s
        drain: the API used to join libmicrohttpd's threads in its teardown and exit only
        once the request gave up. Now it exits at the deadline (status 0, one line), and the
        client's connection is closed by the exit."""
        proxy, wait_held = self.black_hole("a.ddb", "Query")
        port = harness.free_port()
        log = tempfile.TemporaryFile(mode="w+")
        self.addCleanup(log.close)
        p, notify = self.start("appointment-api", [], {
            "AWS_ENDPOINT_URL_DYNAMODB": proxy.url("a.ddb"),
            "APPOINTMENTD_API_LISTEN": "127.0.0.1:%d" % port,
            "APPOINTMENTD_API_DRAIN_TIMEOUT_MS": "1500"}, log=log)
        notify.wait_for("READY=1", proc=p)
        outcome = {}

        def get():
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            try:
                conn.request("GET", "/appointments/00901")
                outcome["status"] = conn.getresponse().status
            except (OSError, http.client.HTTPException) as e:
                outcome["error"] = e
            finally:
                conn.close()
        client = threading.Thread(target=get, daemon=True)
        client.start()
        wait_held(p)
        self.stop_at_deadline(p, log, notify, 1.5, "the API")
        client.join(timeout=10)
        self.assertFalse(client.is_alive(), "the client still waits for its answer")
        self.assertIn("error", outcome, outcome)

    def api_metrics(self):
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % self.d.port,
                                    timeout=10) as r:
            return r.read().decode()

    def start_api_without_ssm(self):
        """The API behind start_without_ssm, ready: it does not wait for SSM."""
        p, notify, proxy, log = self.start_without_ssm("appointment-api", [])
        notify.wait_for("READY=1", timeout=40, proc=p)
        return p, notify, proxy, log

    def test_api_gets_its_password_once_ssm_answers_without_a_restart(self):
        """The API started while SSM answers 503 (a loopback proxy) is up and accepts a POST
        unchecked; once SSM answers it has the password within seconds, and the schedule
        check refuses an unknown schedule, without a restart. Before, it asked SSM once at
        start and skipped every check (accepted unchecked) for the rest of its life."""
        p, notify, proxy, log = self.start_api_without_ssm()
        accepted = []
        # what it accepted reaches the PE queue: taken out again, or a later test's worker
        # would find it there
        queue = harness.read_env_file(os.path.join(self.d.dir, "env"))["APPOINTMENTS_PE_QUEUE_URL"]
        self.addCleanup(lambda: harness.drain_queue(harness.aws_client("sqs"), queue,
                                                    len(accepted), timeout=15))

        def post():
            r = self.d.post("00888", 99999, "PE")
            if r[0] == 201:
                accepted.append(r)
            return r

        def gauge():
            return [ln for ln in self.api_metrics().splitlines()
                    if ln.startswith("appointmentd_db_password_missing ")]

        seen = proxy.stats()["seen"]
        status, _, body, raw = post()
        self.assertEqual((status, body["status"]), (201, "pending"), raw)
        deadline = time.monotonic() + 5  # SSM asked again, and failing still (checked below)
        while proxy.stats()["seen"] == seen and time.monotonic() < deadline:
            time.sleep(0.1)
        asked_again = proxy.stats()["seen"] > seen
        proxy.rules()
        deadline = time.monotonic() + 15
        while True:
            status, _, body, raw = post()
            if status != 201 or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        self.assertEqual((status, (body or {}).get("error", {}).get("errorCode")),
                         (404, "SCHEDULE_NOT_FOUND"), raw)
        self.assertEqual(gauge(), ["appointmentd_db_password_missing 0"])
        deadline = time.monotonic() + 5  # STATUS= comes with the next tick
        while "no PostgreSQL password" in notify.last_status():
            self.assertLess(time.monotonic(), deadline, notify.last_status())
            time.sleep(0.1)
        p.send_signal(signal.SIGTERM)
        self.assertEqual(p.wait(timeout=15), 0)
        with open(log) as f:
            text = f.read()
        self.assertEqual(text.count("schedule checks are skipped while SSM is asked again"), 1,
                         text)
        self.assertTrue(asked_again, "SSM not asked again within 5 s while it failed")
        self.assertRegex(text, r"PostgreSQL password from SSM after [0-9]+ tries")

    def test_api_without_its_password_says_so_and_stops_at_once(self):
        """While SSM does not answer, /readyz stays 200, the gauge
        appointmentd_db_password_missing is 1 and STATUS= says so; a stop while an SSM call
        hangs (the proxy holds it 60 s) ends within a few seconds."""
        p, notify, proxy, _ = self.start_api_without_ssm()
        with urllib.request.urlopen("http://127.0.0.1:%d/readyz" % self.d.port,
                                    timeout=10) as r:
            self.assertEqual(r.status, 200)
        self.assertIn("\nappointmentd_db_password_missing 1\n", self.api_metrics())
        deadline = time.monotonic() + 10
        while "no PostgreSQL password" not in notify.last_status():
            self.assertLess(time.monotonic(), deadline, notify.last_status())
            time.sleep(0.1)
        seen = proxy.stats()["seen"]
        proxy.rules({"op": "GetParameter", "fault": "slow:60000", "count": -1})
        deadline = time.monotonic() + 20
        while proxy.stats()["seen"] == seen:  # the next attempt is in flight, held
            self.assertLess(time.monotonic(), deadline, "no SSM retry within 20 s")
            time.sleep(0.1)
        t0 = time.monotonic()
        p.send_signal(signal.SIGTERM)
        self.assertEqual(p.wait(timeout=15), 0)
        self.assertLess(time.monotonic() - t0, 3.0)

    def test_bad_config_exits_78_with_one_line(self):
        with tempfile.TemporaryDirectory() as d:
            bad = os.path.join(d, "bad.conf")
            with open(bad, "w") as f:
                f.write("[country PE]\n[api]\nrate_limit = fast\n")
            for name, extra in (("appointment-api", []), ("appointment-completion", []),
                                ("appointment-worker", ["--country", "pe"])):
                with self.subTest(daemon=name):
                    r = subprocess.run([binary(name), "--config", bad] + extra,
                                       capture_output=True, text=True, timeout=10)
                    self.assertEqual(r.returncode, 78)
                    lines = r.stderr.strip().splitlines()
                    self.assertEqual(len(lines), 1, r.stderr)
                    self.assertIn(bad + ":3: [api] rate_limit: not an integer", lines[0])

    def test_bad_environment_exits_78(self):
        env = dict(os.environ, APPOINTMENTS_PE_QUEUE_URL="ftp://nope")
        r = subprocess.run([binary("appointment-api"), "--config", CONF], env=env,
                           capture_output=True, text=True, timeout=10)
        self.assertEqual(r.returncode, 78)
        self.assertIn("environment APPOINTMENTS_PE_QUEUE_URL: not an http(s) URL", r.stderr)
        # a misspelt variable of ours is not silently ignored (before: exit 0, no word)
        for name in ("appointment-api", "appointment-completion", "appointmentctl"):
            with self.subTest(binary=name):
                env = dict(os.environ, APPOINTMENTD_API_RATE_LIMT="5")
                args = ["check"] if name == "appointmentctl" else ["--check-config"]
                r = subprocess.run([binary(name), "--config", CONF] + args, env=env,
                                   capture_output=True, text=True, timeout=10)
                self.assertEqual(r.returncode, 78, r.stderr)
                self.assertIn("environment APPOINTMENTD_API_RATE_LIMT: no such setting",
                              r.stderr)
                self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)

    def test_worker_country_argument(self):
        r = subprocess.run([binary("appointment-worker"), "--config", CONF],
                           capture_output=True, text=True, timeout=10)
        self.assertEqual(r.returncode, 64)
        r = subprocess.run([binary("appointment-worker"), "--config", CONF, "--country", "mx"],
                           capture_output=True, text=True, timeout=10)
        self.assertEqual(r.returncode, 78)
        self.assertIn("no [country MX] section", r.stderr)

    def test_usage_errors(self):
        r = subprocess.run([binary("appointment-api"), "--nope"], capture_output=True,
                           text=True, timeout=10)
        self.assertEqual(r.returncode, 64)
        r = subprocess.run([binary("appointmentctl"), "--config", CONF, "frobnicate"],
                           capture_output=True, text=True, timeout=10)
        self.assertEqual(r.returncode, 64)
        self.assertIn("unknown command 'frobnicate'", r.stderr)
        r = subprocess.run([binary("appointmentctl"), "--config", CONF, "check",
                            "--print-config"],
                           capture_output=True, text=True, timeout=10)
        self.assertEqual(r.returncode, 0)
        self.assertIn("[country CL]", r.stdout)


if __name__ == "__main__":
    unittest.main(verbosity=2)
