#!/usr/bin/python3
"""The whole flow on the local stack with every daemon running (issue: consumer daemons):
POST -> DynamoDB pending -> SNS -> country queue -> worker (PostgreSQL booking, processed,
EventBridge) -> completion queue -> completed. Plus races, poison, retries into the DLQ,
drain on SIGTERM and redelivery."""
import json
import os
import subprocess
import sys
import threading
import time
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


client = harness.aws_client
read_env_file = harness.read_env_file
drain_queue = harness.drain_queue
queue_depth = harness.queue_depth


class FlowTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = harness.Deployment(seed_count=350)
        cls.values = read_env_file(os.path.join(cls.d.dir, "env"))
        cls.sqs = client("sqs")
        cls.d.start_all()
        # the completion daemon serves /metrics on its own listener
        cls.metrics_port = harness.free_port()
        cls.d.completion.stop()
        env_name = "APPOINTMENTD_WORKER_METRICS_LISTEN"
        cls.d.env[env_name] = "127.0.0.1:%d" % cls.metrics_port
        try:
            cls.d.completion = cls.d.start("appointment-completion")
        finally:
            del cls.d.env[env_name]

    @classmethod
    def tearDownClass(cls):
        cls.d.close()

    def test_1_many_appointments_complete(self):
        ids = {}
        for i in range(100):
            for cc in ("PE", "CL"):
                insured = "%05d" % (10000 + i)
                code, headers, body, raw = self.d.post(insured, 100 + i, cc)
                self.assertEqual(code, 201, raw)
                self.assertEqual(body["status"], "pending")
                ids.setdefault(insured, []).append((body["appointmentId"], cc))
        for insured, pairs in ids.items():
            items = self.d.wait_status(insured, [p[0] for p in pairs], "completed", timeout=90)
            for aid, cc in pairs:
                a = items[aid]
                self.assertEqual(a["countryISO"], cc)
                self.assertIsNotNone(a["processedAt"])
                self.assertIsNotNone(a["completedAt"])
                self.assertIsNotNone(a["schedule"])
        for cc, other in (("PE", "CL"), ("CL", "PE")):
            mine = [p[0] for pairs in ids.values() for p in pairs if p[1] == cc]
            self.assertEqual(int(self.d.db_rows(cc)), 100)
            self.assertEqual(int(self.d.db_rows(cc, "appointment_id IN (%s)" % ",".join(
                "'%s'" % a for a in mine))), 100)
            theirs = [p[0] for pairs in ids.values() for p in pairs if p[1] == other]
            self.assertEqual(int(self.d.db_rows(cc, "appointment_id IN (%s)" % ",".join(
                "'%s'" % a for a in theirs))), 0)
        # every completion came through the completion daemon once (redeliveries aside)
        done = self.d.completion.logs().count('"msg":"appointment completed"')
        self.assertGreaterEqual(done, 200)

    def test_2_same_slot_race(self):
        self.d.workers["PE"].stop()
        try:
            a = self.d.post("20001", 210, "PE")
            b = self.d.post("20002", 210, "PE")
            self.assertEqual(a[0], 201, a[3])
            self.assertEqual(b[0], 201, b[3])
        finally:
            self.d.workers["PE"] = self.d.start("appointment-worker", "--country", "pe")
        # a long poll the stopped worker had open may still take a message on the emulator's
        # side; it comes back after the visibility timeout (10 s here): at least once
        deadline = time.monotonic() + 45
        while time.monotonic() < deadline:
            sa = self.d.list("20001")[2]["appointments"][0]
            sb = self.d.list("20002")[2]["appointments"][0]
            if {sa["status"], sb["status"]} == {"completed", "failed"}:
                break
            time.sleep(0.3)
        self.assertEqual({sa["status"], sb["status"]}, {"completed", "failed"})
        loser = sa if sa["status"] == "failed" else sb
        self.assertEqual(loser["failureReason"], "schedule_unavailable")
        self.assertEqual(int(self.d.db_rows("PE", "schedule_id = 210")), 1)

    def test_3_poison_messages_go_to_the_error_queue_masked(self):
        pe_url = self.values["APPOINTMENTS_PE_QUEUE_URL"]
        err_url = self.values["APPOINTMENTS_ERROR_QUEUE_URL"]
        bad = [
            "{not json",
            json.dumps({"appointmentId": "0b9d6d36-6a4b-4c1e-9a53-7f1f0f3b5e11", "countryISO": "CL",
                        "eventType": "AppointmentCreated", "insuredId": "01234",
                        "scheduleId": 100, "timestamp": "2026-11-25T10:00:00.000Z"}),
            json.dumps({"insuredId": "05678", "countryISO": "PE"}),
            json.dumps({"insuredId": "09876", "pad": "x" * 200000}),
            # the key written with an escape is the same key once parsed (issue 12)
            '{"insured\\u0049d": "04321", "countryISO": "PE"}',
        ]
        for body in bad:
            self.sqs.send_message(QueueUrl=pe_url, MessageBody=body)
        got = drain_queue(self.sqs, err_url, len(bad), timeout=60)
        self.assertEqual(len(got), len(bad))
        reasons = []
        for m in got:
            ev = json.loads(m["Body"])
            self.assertEqual(ev["detail-type"], "Processing Error")
            self.assertEqual(ev["source"], "medical.appointment")
            d = ev["detail"]
            self.assertEqual(d["queue"], "pe")
            self.assertLessEqual(len(d["body"].encode()), 4096)
            for insured in ("01234", "05678", "09876", "04321"):
                self.assertNotIn(insured, d["body"])
            reasons.append(d["reason"])
        self.assertTrue(any("country CL" in r for r in reasons), reasons)
        # deleted from the source
        time.sleep(1)
        self.assertEqual(queue_depth(self.sqs, pe_url), (0, 0))

    def test_10_completion_event_of_another_insured_is_poison(self):
        # a forged (or malformed) "Appointment Processed": a real appointment, another
        # insuredId. No retry can mend it, so it is a Processing Error and deleted (SPEC §5),
        # not retried into the DLQ unreported; the appointment is left as it was. The
        # daemon's poison line names the request id, appointment and (masked) insured the
        # event carries, so it can be tied to the POST (SPEC §7); a body that is not an
        # event at all gets a line that says so.
        rid = "req-poison-" + harness.rand()
        unreadable = "{not an event: " + harness.rand() + "}"
        ddb = client("dynamodb")
        table = self.values["APPOINTMENTS_TABLE_NAME"]
        aid = str(uuid.uuid4())
        t = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
        ddb.put_item(TableName=table, Item={
            "appointmentId": {"S": aid}, "insuredId": {"S": "00642"},
            "scheduleId": {"N": "346"}, "countryISO": {"S": "PE"},
            "status": {"S": "pending"}, "createdAt": {"S": t}, "updatedAt": {"S": t},
            "processedAt": {"NULL": True}})
        before = ddb.get_item(TableName=table, Key={"appointmentId": {"S": aid}},
                              ConsistentRead=True)["Item"]
        url = self.values["APPOINTMENTS_COMPLETION_QUEUE_URL"]
        self.sqs.send_message(QueueUrl=url, MessageBody=json.dumps({
            "version": "0", "id": str(uuid.uuid4()),
            "detail-type": "Appointment Processed", "source": "medical.appointment.pe",
            "time": t, "detail": {"appointmentId": aid, "insuredId": "99999",
                                  "scheduleId": 346, "countryISO": "PE",
                                  "status": "PROCESSED", "processedAt": t,
                                  "requestId": rid}}))
        self.sqs.send_message(QueueUrl=url, MessageBody=unreadable)
        found = None
        found_unreadable = None
        deadline = time.monotonic() + 30
        while (found is None or found_unreadable is None) and time.monotonic() < deadline:
            for m in drain_queue(self.sqs, self.values["APPOINTMENTS_ERROR_QUEUE_URL"], 1,
                                 timeout=2):
                ev = json.loads(m["Body"])
                if aid in ev["detail"].get("body", ""):
                    found = ev
                if ev["detail"].get("body", "") == unreadable:
                    found_unreadable = ev
        self.assertIsNotNone(found, "no Processing Error for the forged completion event")
        self.assertIsNotNone(found_unreadable, "no Processing Error for the unreadable body")
        self.assertEqual(found["detail-type"], "Processing Error")
        self.assertEqual(found["detail"]["queue"], "completion")
        self.assertIn(aid, found["detail"]["reason"])
        self.assertIn("insuredId", found["detail"]["reason"])
        for insured in ("99999", "00642"):
            self.assertNotIn(insured, json.dumps(found["detail"]))
        dlq = self.values.get("APPOINTMENTS_COMPLETION_DLQ_URL", url + "-dlq")
        time.sleep(1)
        self.assertEqual(queue_depth(self.sqs, url), (0, 0))
        self.assertEqual(queue_depth(self.sqs, dlq), (0, 0))
        after = ddb.get_item(TableName=table, Key={"appointmentId": {"S": aid}},
                             ConsistentRead=True)["Item"]
        self.assertEqual(after, before)
        poison = [json.loads(line) for line in self.d.completion.logs().splitlines()
                  if line.startswith("{") and "unprocessable message on completion" in line]
        mine = [p for p in poison if p.get("requestId") == rid]
        self.assertEqual(len(mine), 1, poison)
        self.assertEqual(mine[0]["level"], "error")
        self.assertEqual(mine[0]["appointmentId"], aid)
        self.assertEqual(mine[0]["insuredId"], "***99")
        self.assertEqual(mine[0]["messageId"], found["detail"]["messageId"])
        self.assertIn("insuredId", mine[0]["error"])
        other = [p for p in poison if p.get("messageId") == found_unreadable["detail"]["messageId"]]
        self.assertEqual(len(other), 1, poison)
        self.assertIn("not an event", other[0]["msg"])
        for k in ("requestId", "appointmentId", "insuredId"):
            self.assertNotIn(k, other[0])

    def completed_then_redelivered(self, insured, schedule, pause=0.0):
        """POSTs a CL appointment, waits until it is completed, then (after pause seconds)
        puts its creation message in the CL queue again, as a redelivery. Returns the
        appointment as first completed."""
        code, _, body, raw = self.d.post(insured, schedule, "CL")
        self.assertEqual(code, 201, raw)
        aid = body["appointmentId"]
        first = self.d.wait_status(insured, [aid], "completed")[aid]
        msg = {"appointmentId": aid, "countryISO": "CL", "eventType": "AppointmentCreated",
               "insuredId": insured, "scheduleId": schedule, "timestamp": body["createdAt"]}
        time.sleep(pause)
        self.sqs.send_message(QueueUrl=self.values["APPOINTMENTS_CL_QUEUE_URL"],
                              MessageBody=json.dumps(msg))
        return first

    def test_4_redelivery_changes_nothing(self):
        first = self.completed_then_redelivered("30001", 211)
        aid = first["appointmentId"]
        time.sleep(3)
        again = self.d.wait_status("30001", [aid], "completed")[aid]
        self.assertEqual(again["completedAt"], first["completedAt"])
        self.assertEqual(int(self.d.db_rows("CL", "schedule_id = 211")), 1)

    def test_4b_redelivery_announces_the_items_processed_at(self):
        # SPEC §4: the "Appointment Processed" Detail carries the appointment's processedAt.
        # A redelivered creation (an at-least-once duplicate, a crash before the delete)
        # announces the outcome again; the repeat must carry the processedAt the item has,
        # as the reconciler's re-announcement does, not the time of the redelivery. A test
        # rule taps the CL Processed events. Before, the worker's record() stamped the
        # repeat with its own clock.
        events = client("events")
        bus = self.values["EVENTBRIDGE_BUS_NAME"]
        name = "processed-tap-%s" % self.d.stage
        url = self.sqs.create_queue(QueueName=name)["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]
        events.put_rule(Name=name, EventBusName=bus, EventPattern=json.dumps(
            {"source": ["medical.appointment.cl"], "detail-type": ["Appointment Processed"]}))
        events.put_targets(Rule=name, EventBusName=bus, Targets=[{"Id": "q", "Arn": arn}])
        try:
            # a pause: the redelivery's own clock is visibly later
            first = self.completed_then_redelivered("30011", 212, pause=1.1)
            aid = first["appointmentId"]
            got = []
            deadline = time.monotonic() + 30
            while len(got) < 2 and time.monotonic() < deadline:
                for m in drain_queue(self.sqs, url, 1, timeout=2):
                    detail = json.loads(m["Body"])["detail"]
                    if detail["appointmentId"] == aid:
                        got.append(detail)
            self.assertEqual(len(got), 2, got)
            self.assertEqual([d["processedAt"] for d in got], [first["processedAt"]] * 2, got)
            self.assertEqual([d["status"] for d in got], ["PROCESSED"] * 2, got)
        finally:
            events.remove_targets(Rule=name, EventBusName=bus, Ids=["q"])
            events.delete_rule(Name=name, EventBusName=bus)
            self.sqs.delete_queue(QueueUrl=url)

    def test_5_sigterm_drains_in_flight_and_releases_the_rest(self):
        worker = self.d.workers["PE"]
        db = "e2e_%s_pe" % self.d.stage
        env = dict(os.environ, PGPASSWORD=os.environ["RDS_PASSWORD"])
        locker = subprocess.Popen(["psql", "-X", "-q", "-h", os.environ["RDS_HOST"], "-p",
                                   os.environ["RDS_PORT"], "-U", os.environ["RDS_USERNAME"],
                                   "-d", db], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL, text=True, env=env)
        try:
            locker.stdin.write("BEGIN; LOCK TABLE schedules IN ACCESS EXCLUSIVE MODE;\n")
            locker.stdin.flush()
            time.sleep(1)
            ids = []
            for i in range(15):
                code, _, body, raw = self.d.post("4%04d" % i, 220 + i, "PE")
                self.assertEqual(code, 201, raw)
                ids.append(("4%04d" % i, body["appointmentId"]))
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline and "10 in flight" not in worker.notify.last_status():
                worker.notify.poll(0.3)
            self.assertIn("10 in flight", worker.notify.last_status())
            t0 = time.monotonic()
            worker.proc.send_signal(15)
            threading.Timer(0.5, lambda: (locker.stdin.write("COMMIT;\n"),
                                          locker.stdin.flush())).start()
            self.assertEqual(worker.proc.wait(timeout=10), 0)
            self.assertLess(time.monotonic() - t0, 5.0)
        finally:
            try:
                locker.stdin.write("COMMIT;\n")
                locker.stdin.close()
            except (BrokenPipeError, ValueError):
                pass
            locker.wait(timeout=10)
        self.d.workers["PE"] = self.d.start("appointment-worker", "--country", "pe")
        for insured, aid in ids:
            self.d.wait_status(insured, [aid], "completed", timeout=30)
        self.assertEqual(int(self.d.db_rows("PE", "schedule_id BETWEEN 220 AND 234")), 15)

    def test_7_postgresql_down_for_10_seconds(self):
        stack = os.path.join(harness.SRC, "scripts", "stack.sh")
        ids = []
        for i in range(20):
            code, _, body, raw = self.d.post("5%04d" % i, 300 + i, "PE" if i % 2 else "CL")
            self.assertEqual(code, 201, raw)
            ids.append(("5%04d" % i, body["appointmentId"]))
        subprocess.run(["bash", stack, "pg-down"], check=True, timeout=60, capture_output=True)
        try:
            # posted while the database is down: accepted, decided by the worker later
            for i in range(20, 30):
                code, _, body, raw = self.d.post("5%04d" % i, 300 + i, "PE" if i % 2 else "CL")
                self.assertEqual(code, 201, raw)
                ids.append(("5%04d" % i, body["appointmentId"]))
            time.sleep(10)
            for w in self.d.workers.values():
                self.assertTrue(w.alive(), "a worker died while PostgreSQL was down")
            statuses = [w.notify.last_status() for w in self.d.workers.values()]
            self.assertTrue(any("waiting for PostgreSQL" in st for st in statuses), statuses)
        finally:
            subprocess.run(["bash", stack, "pg-up"], check=True, timeout=60, capture_output=True)
        for insured, aid in ids:
            self.d.wait_status(insured, [aid], "completed", timeout=60)
        for cc in ("PE", "CL"):
            self.assertEqual(int(self.d.db_rows(cc, "schedule_id BETWEEN 300 AND 329")), 15)
            self.assertEqual(self.d.db_rows(
                cc, "schedule_id BETWEEN 300 AND 329 GROUP BY appointment_id HAVING count(*) > 1"
            ).replace("0", "").strip(), "")

    def test_8_worker_metrics(self):
        import urllib.request
        code, _, body, raw = self.d.post("80001", 345, "PE")
        self.assertEqual(code, 201, raw)
        self.d.wait_status("80001", [body["appointmentId"]], "completed")
        port = self.metrics_port
        text = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5).read().decode()
        self.assertIn('appointmentd_messages_received_total{queue="completion"}', text)
        self.assertIn('appointmentd_messages_succeeded_total{queue="completion"}', text)
        self.assertIn("appointmentd_handler_duration_seconds_bucket", text)
        # the status change and the insured's counters, in one transaction
        self.assertIn('appointmentd_aws_calls_total{service="dynamodb",'
                      'operation="TransactWriteItems",outcome="ok"}', text)
        self.assertIn('appointmentd_aws_calls_total{service="sqs",operation="ReceiveMessage",'
                      'outcome="ok"}', text)
        self.assertRegex(text, r'appointmentd_queue_oldest_message_age_seconds\{queue="completion"\} [0-9.e+-]+')
        body = urllib.request.urlopen("http://127.0.0.1:%d/healthz" % port, timeout=5).read()
        self.assertEqual(json.loads(body), {"status": "ok"})

    def test_9_request_traceable_across_daemons(self):
        rid = "trace-" + harness.rand(10)
        tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        code, headers, body, raw = self.d.post("70001", 340, "CL",
                                               headers={"X-Request-Id": rid, "traceparent": tp})
        self.assertEqual(code, 201, raw)
        self.assertEqual(headers["x-request-id"], rid)
        self.d.wait_status("70001", [body["appointmentId"]], "completed")
        for daemon in (self.d.api, self.d.workers["CL"], self.d.completion):
            lines = [json.loads(l) for l in daemon.logs().splitlines()
                     if l.startswith("{") and rid in l]
            self.assertTrue(lines, "%s has no line with the request id" % daemon.tag)
            for line in lines:
                self.assertEqual(line["requestId"], rid)
                self.assertNotIn("70001", json.dumps(line))  # insuredId masked
        for daemon in (self.d.workers["CL"], self.d.completion):
            self.assertIn(tp, daemon.logs())

    def test_6_sigterm_during_idle_long_poll_exits_fast(self):
        worker = self.d.workers["CL"]
        time.sleep(1)
        t0 = time.monotonic()
        self.assertEqual(worker.stop(), 0)
        self.assertLess(time.monotonic() - t0, 2.0)
        self.d.workers["CL"] = self.d.start("appointment-worker", "--country", "cl")


class DeadLetterTest(unittest.TestCase):
    """A message whose processing fails transiently on every receive ends in the DLQ
    after maxReceiveCount (3), with its body intact, and nothing else is lost."""

    def setUp(self):
        closed = harness.free_port()
        # the PE database is unreachable for this deployment: every booking is transient,
        # and the worker does not hold messages waiting for it
        self.d = harness.Deployment(seed_count=5, migrate=False, extra_config=(
            "[country PE]\ndb_port = %d\n[worker]\ndependency_wait_seconds = 0\n" % closed))
        self.addCleanup(self.d.close)
        self.values = read_env_file(os.path.join(self.d.dir, "env"))
        self.sqs = client("sqs")

    def test_three_transient_failures_dead_letter_the_message(self):
        self.d.api = self.d.start("appointment-api")
        worker = self.d.start("appointment-worker", "--country", "pe")
        code, _, body, raw = self.d.post("60001", 100, "PE")
        self.assertEqual(code, 201, raw)  # the API accepts while the database is unreachable
        got = drain_queue(self.sqs, self.values["APPOINTMENTS_PE_DLQ_URL"], 1, timeout=60)
        self.assertEqual(len(got), 1)
        envelope = json.loads(got[0]["Body"])
        self.assertEqual(envelope["Type"], "Notification")
        msg = json.loads(envelope["Message"])
        self.assertEqual(msg["appointmentId"], body["appointmentId"])
        self.assertEqual(msg["insuredId"], "60001")
        self.assertEqual(msg["scheduleId"], 100)
        self.assertTrue(worker.alive())
        self.assertIn("will retry", worker.logs())
        code, _, listing, _ = self.d.list("60001")
        self.assertEqual(listing["appointments"][0]["status"], "pending")


if __name__ == "__main__":
    unittest.main(verbosity=2)
