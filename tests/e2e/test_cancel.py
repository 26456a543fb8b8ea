#!/usr/bin/python3
"""Cancellation end to end (issue 16 part 3, SPEC §3 DELETE and §4): every daemon running on
the local stack. A cancel travels like a creation: the item turns `cancelling`, a cancel
message goes to the country queue, the worker releases the slot in PostgreSQL (one
transaction, idempotent), marks the item `cancelled` and puts "Appointment Cancelled" on the
bus. The freed slot is listed by GET /schedules and can be booked again. A cancel that
overtakes its creation ends `cancelled` with no slot held, in either order the worker sees
the two messages (the messages are put straight into the country queue, as
test_exactly_once.py does, so the order is the test's)."""
import json
import os
import sys
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


def accept_cancel(aid, insured, schedule, country="PE"):
    """What DELETE does before the worker: the item turns cancelling (conditionally), then the
    cancel message goes out."""
    DDB.update_item(TableName=TABLE, Key={"appointmentId": {"S": aid}},
                    UpdateExpression="SET #s = :c",
                    ConditionExpression="#s IN (:p, :pr, :co)",
                    ExpressionAttributeNames={"#s": "status"},
                    ExpressionAttributeValues={":c": {"S": "cancelling"}, ":p": {"S": "pending"},
                                               ":pr": {"S": "processed"},
                                               ":co": {"S": "completed"}})
    send(aid, insured, schedule, "cancel", country)


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
        accept_cancel(aid, "04001", 120)
        it = wait_item_status(aid, "cancelled")
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
        accept_cancel(aid, "04011", 121)
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
        accept_cancel(aid, "04041", 124, "CL")
        send(aid, "04041", 124, "cancel", "CL")
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
            accept_cancel(aid, "04051", 125)
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


if __name__ == "__main__":
    unittest.main(verbosity=2)
