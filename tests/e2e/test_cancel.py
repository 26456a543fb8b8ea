#!/usr/bin/python3
"""Cancellation end to end (issue 16 part 3, SPEC §3 DELETE and §4): every daemon running on
the local stack. A cancel travels like a creation: the item turns `cancelling`, a cancel
message goes to the country queue, the worker releases the slot in PostgreSQL (one
transaction, idempotent), marks the item `cancelled` and puts "Appointment Cancelled" on the
bus. The freed slot is listed by GET /schedules and can be booked again. DELETE answers 202
(cancelling), 200 (already), 409 (failed), 404 and 400; a failed publish is 202 all the
same and the reconciler sends the cancel. A cancel that
overtakes its creation ends `cancelled` with no slot held, in either order the worker sees
the two messages (the messages are put straight into the country queue, as
test_exactly_once.py does, so the order is the test's)."""
import http.client
import json
import os
import sys
import threading
import time
import unittest
import urllib.request
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

D = None


def setUpModule():
    global D, VALUES, SQS, DDB, TABLE, METRICS_PORT
    D = harness.Deployment(seed_count=60)
    try:
        VALUES = harness.read_env_file(os.path.join(D.dir, "env"))
        TABLE = VALUES["APPOINTMENTS_TABLE_NAME"]
        SQS = harness.aws_client("sqs")
        DDB = harness.aws_client("dynamodb")
        D.start_all()
        # the PE worker serves /metrics (the cancel counters)
        METRICS_PORT = harness.free_port()
        D.workers["PE"].stop()
        D.env["APPOINTMENTD_WORKER_METRICS_LISTEN"] = "127.0.0.1:%d" % METRICS_PORT
        try:
            D.workers["PE"] = D.start("appointment-worker", "--country", "pe")
        finally:
            del D.env["APPOINTMENTD_WORKER_METRICS_LISTEN"]
    except Exception:
        D.close()
        raise


def tearDownModule():
    D.close()


def db_of(cc):
    return "e2e_%s_%s" % (D.stage, cc.lower())


def message(aid, insured, schedule, kind, country="PE"):
    """A creation or cancel message of SPEC §4 as a raw SQS body."""
    m = {"appointmentId": aid, "countryISO": country,
         "eventType": "AppointmentCancelled" if kind == "cancel" else "AppointmentCreated",
         "insuredId": insured, "scheduleId": schedule, "timestamp": "2026-01-01T00:00:00.000Z"}
    if kind == "cancel":
        m["type"] = "cancel"
    return json.dumps(m)


def send(aid, insured, schedule, kind, country="PE"):
    SQS.send_message(QueueUrl=VALUES["APPOINTMENTS_%s_QUEUE_URL" % country],
                     MessageBody=message(aid, insured, schedule, kind, country))


def item(aid):
    return DDB.get_item(TableName=TABLE, Key={"appointmentId": {"S": aid}},
                        ConsistentRead=True).get("Item")


def own_queue(name):
    """A queue of the test's own (to tap a topic or a rule): (url, arn)."""
    url = SQS.create_queue(QueueName=name)["QueueUrl"]
    return url, SQS.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]


def put_pending(insured, schedule, country="PE"):
    """An appointment as the API stores it (no counters: the test's insureds are its own)."""
    aid = str(uuid.uuid4())
    t = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
    DDB.put_item(TableName=TABLE, Item={
        "appointmentId": {"S": aid}, "insuredId": {"S": insured},
        "scheduleId": {"N": str(schedule)}, "countryISO": {"S": country},
        "status": {"S": "pending"}, "createdAt": {"S": t}, "updatedAt": {"S": t},
        "processedAt": {"NULL": True}})
    return aid


def cancel(insured, aid, port=None):
    """DELETE /appointments/{insuredId}/{appointmentId}: (status, headers, body)."""
    if port is None:
        code, headers, body, _ = D.request("DELETE", "/appointments/%s/%s" % (insured, aid))
        return code, headers, body
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("DELETE", "/appointments/%s/%s" % (insured, aid))
    r = conn.getresponse()
    raw = r.read()
    conn.close()
    return r.status, {k.lower(): v for k, v in r.getheaders()}, json.loads(raw) if raw else None


def wait_item_status(aid, want, timeout=60):
    deadline = time.monotonic() + timeout
    it = None
    while time.monotonic() < deadline:
        it = item(aid)
        if it is not None and it["status"]["S"] == want:
            return it
        time.sleep(0.3)
    raise AssertionError("%s is %s, not %s" % (aid, it and it["status"]["S"], want))


def wait_log(daemon, aid, msg, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in daemon.logs().splitlines():
            if aid in line and '"msg":"%s"' % msg in line:
                return
        time.sleep(0.3)
    raise AssertionError("no '%s' for %s in the log" % (msg, aid))


def slot(schedule, country="PE"):
    """(is_available, {appointment_id: status}) of one slot in PostgreSQL."""
    avail = harness.psql(db_of(country), "SELECT is_available FROM schedules WHERE "
                                         "schedule_id = %d" % schedule)
    rows = harness.psql(db_of(country), "SELECT appointment_id || ' ' || status FROM "
                                        "appointments WHERE schedule_id = %d" % schedule)
    return avail == "t", dict(r.split() for r in rows.splitlines() if r)


def free_listed(schedule, country="PE"):
    code, _, body, raw = D.request("GET", "/schedules?countryISO=%s&limit=100" % country)
    assert code == 200, raw
    return schedule in [s["scheduleId"] for s in body["schedules"]]


class CancelTest(unittest.TestCase):
    def completed(self, insured, schedule, country="PE"):
        """POSTs an appointment and waits until it is completed; returns its id."""
        code, _, body, raw = D.post(insured, schedule, country)
        self.assertEqual(code, 201, raw)
        D.wait_status(insured, [body["appointmentId"]], "completed")
        return body["appointmentId"]

    def assert_released(self, aid, schedule, country="PE"):
        """The invariant: a cancelled appointment holds no slot (its row, if any, is
        cancelled) and the slot is free for others."""
        free, rows = slot(schedule, country)
        self.assertTrue(free, (schedule, rows))
        self.assertIn(rows.get(aid, "cancelled"), ("cancelled",), rows)
        self.assertNotIn("booked", rows.values(), rows)

    def test_1_book_complete_cancel_rebook(self):
        aid = self.completed("04001", 120, "PE")
        self.assertEqual(slot(120), (False, {aid: "booked"}))
        self.assertFalse(free_listed(120))
        code, headers, body = cancel("4001", aid)
        self.assertEqual(code, 202, body)
        self.assertEqual(body["status"], "cancelling")
        self.assertEqual(body["appointmentId"], aid)
        self.assertIsNotNone(body["completedAt"])
        self.assertIsNone(body["cancelledAt"])
        self.assertIn("etag", headers)
        # the client learns the end with one GET
        code, _, done, raw = D.request("GET", "/appointments/04001/%s?waitFor=cancelled&timeout=20"
                                       % aid.upper())
        self.assertEqual(code, 200, raw)
        self.assertEqual(done["status"], "cancelled")
        it = wait_item_status(aid, "cancelled")
        self.assertEqual(done["cancelledAt"], it["cancelledAt"]["S"])
        # a repeat is 200 with the item, and sends nothing
        code, _, body = cancel("04001", aid)
        self.assertEqual(code, 200, body)
        self.assertEqual(body, done)
        self.assertIn("cancelledAt", it)
        self.assertIn("completedAt", it)  # history stays
        self.assert_released(aid, 120)
        self.assertEqual(slot(120), (True, {aid: "cancelled"}))
        # the listing shows it, with cancelledAt; the freed slot is offered again
        code, _, lst, raw = D.list("04001", "?status=cancelled")
        self.assertEqual(code, 200, raw)
        self.assertEqual([a["appointmentId"] for a in lst["appointments"]], [aid])
        self.assertEqual(lst["appointments"][0]["cancelledAt"], it["cancelledAt"]["S"])
        self.assertTrue(free_listed(120))
        # and booked again, by someone else, to the end
        code, _, body, raw = D.post("04002", 120, "PE")
        self.assertEqual(code, 201, raw)
        again = body["appointmentId"]
        D.wait_status("04002", [again], "completed")
        self.assertEqual(slot(120), (False, {aid: "cancelled", again: "booked"}))
        wait_log(D.workers["PE"], aid, "appointment cancelled")
        # the cancel's outcome is counted by the worker
        text = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % METRICS_PORT,
                                      timeout=5).read().decode()
        self.assertRegex(text, r'appointmentd_worker_outcomes_total\{queue="pe",'
                               r'outcome="cancelled"\} [1-9]')

    def test_2_cancel_handled_before_its_creation(self):
        aid = put_pending("04011", 121)
        code, _, body = cancel("04011", aid)
        self.assertEqual(code, 202, body)
        self.assertEqual(body["status"], "cancelling")
        wait_item_status(aid, "cancelled")
        send(aid, "04011", 121, "create")
        wait_log(D.workers["PE"], aid, "appointment is cancelled: nothing booked")
        self.assertEqual(item(aid)["status"]["S"], "cancelled")
        self.assertEqual(slot(121), (True, {}))
        self.assertTrue(free_listed(121))

    def test_3_creation_handled_after_the_cancel_was_accepted(self):
        aid = put_pending("04021", 122)
        DDB.update_item(TableName=TABLE, Key={"appointmentId": {"S": aid}},
                        UpdateExpression="SET #s = :c", ExpressionAttributeNames={"#s": "status"},
                        ExpressionAttributeValues={":c": {"S": "cancelling"}})
        send(aid, "04021", 122, "create")
        wait_log(D.workers["PE"], aid, "appointment is cancelling: nothing booked")
        self.assertEqual(slot(122), (True, {}))
        send(aid, "04021", 122, "cancel")
        wait_item_status(aid, "cancelled")
        self.assertEqual(slot(122), (True, {}))

    def test_4_a_slot_booked_before_the_cancel_is_given_back_by_the_creation(self):
        # an earlier delivery booked, then died before it wrote processed; the cancel came
        # in meanwhile: the redelivered creation gives the slot back
        aid = put_pending("04031", 123)
        harness.psql(db_of("PE"), "INSERT INTO appointments (appointment_id, insured_id,"
                                  " schedule_id, country_iso, status, created_at) VALUES"
                                  " ('%s', '04031', 123, 'PE', 'booked', now()); UPDATE schedules"
                                  " SET is_available = false WHERE schedule_id = 123" % aid)
        DDB.update_item(TableName=TABLE, Key={"appointmentId": {"S": aid}},
                        UpdateExpression="SET #s = :c", ExpressionAttributeNames={"#s": "status"},
                        ExpressionAttributeValues={":c": {"S": "cancelling"}})
        send(aid, "04031", 123, "create")
        wait_log(D.workers["PE"], aid, "appointment is cancelling: nothing booked")
        self.assertEqual(slot(123), (True, {aid: "cancelled"}))
        send(aid, "04031", 123, "cancel")
        wait_item_status(aid, "cancelled")
        self.assert_released(aid, 123)

    def test_5_two_cancels(self):
        aid = self.completed("04041", 124, "CL")
        first_code = cancel("04041", aid)[0]
        second_code = cancel("04041", aid)[0]
        self.assertEqual((first_code, second_code), (202, 200))
        send(aid, "04041", 124, "cancel", "CL")  # and a duplicate of its message
        first = wait_item_status(aid, "cancelled")
        self.assert_released(aid, 124, "CL")
        send(aid, "04041", 124, "cancel", "CL")
        time.sleep(2)
        self.assertEqual(item(aid)["cancelledAt"], first["cancelledAt"])
        self.assertEqual(slot(124, "CL"), (True, {aid: "cancelled"}))

    def test_6_cancel_while_the_worker_restarts(self):
        aid = self.completed("04051", 125, "PE")
        worker = D.workers["PE"]
        D.daemons.remove(worker)
        self.assertEqual(worker.stop(), 0)
        try:
            self.assertEqual(cancel("04051", aid)[0], 202)
            time.sleep(1)
            self.assertEqual(item(aid)["status"]["S"], "cancelling")
        finally:
            D.workers["PE"] = D.start("appointment-worker", "--country", "pe")
        # a long poll the stopped worker left open may hold the message for the visibility
        # timeout (10 s here) before it comes back: at least once
        wait_item_status(aid, "cancelled", timeout=60)
        self.assert_released(aid, 125)

    def test_7_cancel_of_an_appointment_never_cancelled_is_poison(self):
        aid = self.completed("04061", 126, "PE")
        send(aid, "04061", 126, "cancel")
        wait_log(D.workers["PE"], aid, "message not done (poison)")
        self.assertEqual(item(aid)["status"]["S"], "completed")
        self.assertEqual(slot(126), (False, {aid: "booked"}))


    def test_8_refusals(self):
        # a failed appointment is not cancellable
        taken = self.completed("04071", 127)
        # the loser of a race for the slot, as the worker leaves it
        lost = put_pending("04072", 127)
        DDB.update_item(TableName=TABLE, Key={"appointmentId": {"S": lost}},
                        UpdateExpression="SET #s = :f, failureReason = :r",
                        ExpressionAttributeNames={"#s": "status"},
                        ExpressionAttributeValues={":f": {"S": "failed"},
                                                   ":r": {"S": "schedule_unavailable"}})
        code, _, body = cancel("04072", lost)
        self.assertEqual(code, 409, body)
        self.assertEqual(body["error"]["errorCode"], "APPOINTMENT_NOT_CANCELLABLE")
        self.assertEqual(item(lost)["status"]["S"], "failed")
        # absent, or another insured's: 404, and nothing changes
        for insured, aid in (("04071", str(uuid.uuid4())), ("04072", taken), ("1", taken)):
            code, _, body = cancel(insured, aid)
            self.assertEqual(code, 404, (insured, aid, body))
            self.assertEqual(body["error"]["errorCode"], "APPOINTMENT_NOT_FOUND")
        self.assertEqual(item(taken)["status"]["S"], "completed")
        # bad ids, and any query parameter: 400 naming each
        code, _, body = cancel("12a", "nope")
        self.assertEqual(code, 400, body)
        self.assertEqual(sorted(body["error"]["fields"]), ["appointmentId", "insuredId"])
        code, _, body, _ = D.request("DELETE", "/appointments/04071/%s?force=1" % taken)
        self.assertEqual(code, 400, body)
        self.assertEqual(list(body["error"]["fields"]), ["unknown"])
        self.assertEqual(slot(127), (False, {taken: "booked"}))

    def test_9_publish_failure_left_to_the_reconciler(self):
        aid = self.completed("04081", 128)
        port = harness.free_port()
        config = os.path.join(D.dir, "api-sns-down.conf")
        with open(config, "w") as f:
            f.write(D.config_text("\n[api]\nlisten = 127.0.0.1:%d\n" % port))
        env = dict(D.env, AWS_ENDPOINT_URL_SNS="http://127.0.0.1:%d" % harness.free_port(),
                   AWS_MAX_ATTEMPTS="2")
        api = harness.Daemon("appointment-api", ["--config", config], env, D.dir)
        try:
            deadline = time.monotonic() + 20
            while True:
                try:
                    code, _, body = cancel("04081", aid, port=port)
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.2)
            # accepted all the same: the item is cancelling and will be cancelled
            self.assertEqual(code, 202, body)
            self.assertEqual(body["status"], "cancelling")
            self.assertIn("publish failed; stored as cancelling", api.logs())
        finally:
            self.assertEqual(api.stop(), 0)
        time.sleep(1)
        self.assertEqual(item(aid)["status"]["S"], "cancelling")
        self.assertEqual(slot(128), (False, {aid: "booked"}))
        out = D.ctl("reconcile", "--older-than", "0").stdout
        self.assertIn("cancelling PE: 1 re-sent, 0 failed", out.splitlines())
        wait_item_status(aid, "cancelled")
        self.assert_released(aid, 128)


    def test_10_a_released_booking_is_never_booked_again(self):
        # the appointment's row was released (by hand here; by a cancel that won a race in
        # life) while its item says pending: the creation books nothing and reports it
        aid = put_pending("04091", 129)
        harness.psql(db_of("PE"), "INSERT INTO appointments (appointment_id, insured_id,"
                                  " schedule_id, country_iso, status, created_at) VALUES"
                                  " ('%s', '04091', 129, 'PE', 'cancelled', now())" % aid)
        send(aid, "04091", 129, "create")
        wait_log(D.workers["PE"], aid, "message not done (poison)")
        self.assertEqual(slot(129), (True, {aid: "cancelled"}))
        self.assertEqual(item(aid)["status"]["S"], "pending")


    def test_11_appointment_cancelled_on_the_bus(self):
        # no rule of ours routes it: the test's own rule sends it to the test's own queue
        events = harness.aws_client("events")
        name = "cancel-test-%s" % D.stage
        url, arn = own_queue(name)
        bus = VALUES["EVENTBRIDGE_BUS_NAME"]
        events.put_rule(Name=name, EventBusName=bus, EventPattern=json.dumps(
            {"source": ["medical.appointment.pe"], "detail-type": ["Appointment Cancelled"]}))
        events.put_targets(Rule=name, EventBusName=bus, Targets=[{"Id": "q", "Arn": arn}])
        try:
            aid = self.completed("04101", 130)
            code, headers, _ = cancel("04101", aid)
            self.assertEqual(code, 202)
            it = wait_item_status(aid, "cancelled")
            got = harness.drain_queue(SQS, url, 1, timeout=30)
            details = [json.loads(m["Body"])["detail"] for m in got]
            mine = [d for d in details if d["appointmentId"] == aid]
            self.assertEqual(len(mine), 1, details)
            d = mine[0]
            self.assertEqual((d["status"], d["insuredId"], d["scheduleId"], d["countryISO"]),
                             ("CANCELLED", "04101", 130, "PE"))
            self.assertEqual(d["cancelledAt"], it["cancelledAt"]["S"])
            self.assertNotIn("processedAt", d)
            # the API's requestId travels with the cancel, as with a creation
            self.assertEqual(d["requestId"], headers["x-request-id"])
        finally:
            events.remove_targets(Rule=name, EventBusName=bus, Ids=["q"])
            events.delete_rule(Name=name, EventBusName=bus)
            SQS.delete_queue(QueueUrl=url)

    def test_12_repeated_cancel_sends_what_a_killed_api_did_not(self):
        # the first DELETE turned the item cancelling and was killed (-9) inside its
        # Publish, which a loopback proxy holds; the client's repeat, on another API,
        # answers 200 (already cancelling) and sends the cancel again, so the worker closes
        # it without waiting for the reconciler (none runs here). Before, the repeat left
        # the item cancelling and the slot booked.
        aid = self.completed("04121", 131)
        sns = harness.FaultProxy(D.env["AWS_ENDPOINT_URL_SNS"])
        self.addCleanup(sns.close)
        sns.rules({"op": "Publish", "fault": "slow:30000", "count": 1})
        port = harness.free_port()
        config = os.path.join(D.dir, "api-killed-in-cancel.conf")
        with open(config, "w") as f:
            f.write(D.config_text("\n[api]\nlisten = 127.0.0.1:%d\naws_budget_ms = 8000\n"
                                  % port))
        first = harness.Daemon("appointment-api", ["--config", config],
                               dict(D.env, AWS_ENDPOINT_URL_SNS=sns.url), D.dir)
        self.addCleanup(first.stop)
        out = []

        def delete():
            try:
                out.append(cancel("04121", aid, port=port)[0])
            except (OSError, http.client.HTTPException) as e:
                out.append(e)

        threading.Thread(target=delete, daemon=True).start()
        deadline = time.monotonic() + 20
        while sns.stats()["faulted"] == 0:
            self.assertLess(time.monotonic(), deadline, "the cancel's Publish never came")
            time.sleep(0.1)
        self.assertEqual((item(aid)["status"]["S"], out), ("cancelling", []))
        first.proc.kill()
        first.proc.wait()
        sns.close()  # the held Publish is never forwarded
        code, _, body = cancel("04121", aid)
        self.assertEqual((code, body["status"]), (200, "cancelling"), body)
        wait_item_status(aid, "cancelled", timeout=30)
        self.assert_released(aid, 131)

    def test_13_cancel_answers_the_item_as_written(self):
        # the worker books the appointment between the API's read of the item and its
        # conditional write (a loopback proxy holds the write): the 202 shows the item as
        # written, processed fields and all, not the pending one the API read. Before, it
        # answered processedAt null and no schedule.
        aid = put_pending("04131", 133)
        ddb = harness.FaultProxy(D.env["AWS_ENDPOINT_URL_DYNAMODB"])
        self.addCleanup(ddb.close)
        ddb.rules({"op": "TransactWriteItems", "contains": "cancelling", "fault": "slow:1500",
                   "count": 1})
        port = harness.free_port()
        config = os.path.join(D.dir, "api-cancel-race.conf")
        with open(config, "w") as f:
            f.write(D.config_text("\n[api]\nlisten = 127.0.0.1:%d\n" % port))
        api = harness.Daemon("appointment-api", ["--config", config],
                             dict(D.env, AWS_ENDPOINT_URL_DYNAMODB=ddb.url), D.dir)
        self.addCleanup(api.stop)
        out = []
        t = threading.Thread(target=lambda: out.append(cancel("04131", aid, port=port)),
                             daemon=True)
        t.start()
        deadline = time.monotonic() + 20
        while ddb.stats()["faulted"] == 0:
            self.assertLess(time.monotonic(), deadline, "the cancel's write never came")
            time.sleep(0.05)
        at = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
        DDB.update_item(
            TableName=TABLE, Key={"appointmentId": {"S": aid}},
            UpdateExpression="SET #s = :p, processedAt = :t, updatedAt = :t, schedule = :sch",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={
                ":p": {"S": "processed"}, ":t": {"S": at},
                ":sch": {"M": {"centerId": {"N": "1"},
                               "specialtyId": {"N": "1"}, "medicId": {"N": "1"},
                               "date": {"S": "2030-01-01T09:00:00.000Z"}}}})
        t.join(30)
        self.assertEqual(len(out), 1, "the DELETE did not answer")
        code, _, body = out[0]
        self.assertEqual(code, 202, body)
        self.assertEqual(body["status"], "cancelling", body)
        # the PE worker of this module may already have taken the cancel's message and
        # finished it (cancelled, a later updatedAt) by the time the item is read here
        stored = item(aid)
        self.assertIn(stored["status"]["S"], ("cancelling", "cancelled"), stored)
        if stored["status"]["S"] == "cancelling":
            self.assertEqual(body["updatedAt"], stored["updatedAt"]["S"])
        self.assertEqual(body["processedAt"], at, body)
        self.assertEqual(body["schedule"]["scheduleId"], 133, body)

    def test_14_the_eventType_attribute_says_what_the_message_is(self):
        # SPEC §4: the message attribute eventType names the message, so a subscription can
        # filter on it; a cancel travels "like a creation, same attributes" - the same
        # names, each saying what this message is. A tap queue on the PE topic (raw
        # delivery on: the attributes arrive as SQS message attributes) gets the creation
        # and the cancel of one appointment: each attribute equals its body's eventType.
        # Before, publish_appointment (lib/app/publish.c) sent AppointmentCreated for the
        # cancel too, so a filter on eventType took a cancel for a creation.
        sns = harness.aws_client("sns")
        url, arn = own_queue("tap-%s" % D.stage)
        sub = sns.subscribe(TopicArn=VALUES["APPOINTMENTS_PE_TOPIC_ARN"], Protocol="sqs",
                            Endpoint=arn, Attributes={"RawMessageDelivery": "true"},
                            ReturnSubscriptionArn=True)["SubscriptionArn"]
        try:
            aid = self.completed("04141", 134)
            code, _, _ = cancel("04141", aid)
            self.assertEqual(code, 202)
            wait_item_status(aid, "cancelled")
            seen = {}
            deadline = time.monotonic() + 30
            while len(seen) < 2 and time.monotonic() < deadline:
                r = SQS.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                        WaitTimeSeconds=1, MessageAttributeNames=["All"])
                for m in r.get("Messages", []):
                    body = json.loads(m["Body"])
                    if body["appointmentId"] == aid:
                        attrs = {k: v["StringValue"]
                                 for k, v in m.get("MessageAttributes", {}).items()}
                        seen[body["eventType"]] = (body.get("type"), attrs)
            self.assertEqual(sorted(seen), ["AppointmentCancelled", "AppointmentCreated"], seen)
            for event_type, (kind, attrs) in seen.items():
                self.assertEqual(attrs.get("eventType"), event_type, seen)
                self.assertEqual(attrs.get("countryISO"), "PE", seen)
                self.assertIn("requestId", attrs, seen)
            self.assertEqual(seen["AppointmentCancelled"][0], "cancel", seen)
        finally:
            sns.unsubscribe(SubscriptionArn=sub)
            SQS.delete_queue(QueueUrl=url)


if __name__ == "__main__":
    unittest.main(verbosity=2)
