#!/usr/bin/python3
"""The client's side of exactly-once (SPEC §3, issue 10), end to end on real sockets: the
built appointment-api against DynamoDB Local through tests/support/faultproxy, which drops
replies after DynamoDB applied the write, and clients that retry with the same body (and
Idempotency-Key) as SPEC tells them. Whatever is lost in between, the retries end in one
appointment and every answer that carries one carries the same appointmentId. Plus the
consumers' side of SPEC §4's invariants: no slot held by an appointment that is not in the
table, a missing table is transient (never a reason to drop a message), and PostgreSQL's
created_at is the appointment's createdAt.

Every daemon started here is stopped by pid and must exit 0 (under the ASan build of
scripts/test a leak or a memory error makes it exit otherwise)."""
import hashlib
import http.client
import json
import os
import sys
import threading
import time
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

D = None


class Api:
    """One appointment-api on deployment d: its own port and config (the deployment's plus
    extra), its own environment (env overrides, e.g. an endpoint through a proxy)."""

    def __init__(self, d, extra="", env=None):
        self.port = harness.free_port()
        self.config = os.path.join(d.dir, "api-%s.conf" % harness.rand(5))
        with open(self.config, "w") as f:
            f.write(d.config_text(extra + "\n[api]\nlisten = 127.0.0.1:%d\n" % self.port))
        self.daemon = harness.Daemon("appointment-api", ["--config", self.config],
                                     dict(d.env, **(env or {})), d.dir)

    def call(self, method, path, body=None, headers=None, timeout=90):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        h = {"Content-Type": "application/json"} if body is not None else {}
        h.update(headers or {})
        try:
            conn.request(method, path, body=json.dumps(body) if body is not None else None,
                         headers=h)
            r = conn.getresponse()
            raw = r.read()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, \
                json.loads(raw) if raw else None
        finally:
            conn.close()

    def post_like_a_client(self, insured, schedule, country, key=None, attempts=5):
        """POSTs, retrying with the same body and key on no answer, a connection error or a
        5xx, as SPEC §3 tells a client to; returns every (status, body) in order."""
        headers = {"Idempotency-Key": key} if key else {}
        body = {"insuredId": insured, "scheduleId": schedule, "countryISO": country}
        out = []
        for i in range(attempts):
            try:
                status, _, doc = self.call("POST", "/appointments", body, headers)
            except (OSError, http.client.HTTPException) as e:
                out.append((None, str(e)))
            else:
                out.append((status, doc))
                if status < 500:
                    break
            time.sleep(0.2 * (i + 1))
        return out

    def appointments(self, insured):
        status, _, doc = self.call("GET", "/appointments/%s?limit=100" % insured)
        assert status == 200, (status, doc)
        return doc["appointments"]

    def stop(self):
        return self.daemon.stop()

    def logs(self):
        return self.daemon.logs()


def setUpModule():
    global D, QUEUES, SQS
    D = harness.Deployment(seed_count=40)
    QUEUES = harness.read_env_file(os.path.join(D.dir, "env"))
    SQS = harness.aws_client("sqs")


def stop_clean(test, daemon):
    """Stops daemon (by pid) and fails test unless it exited 0 without a sanitizer report."""
    if daemon in D.daemons:
        D.daemons.remove(daemon)
    rc = daemon.stop()
    logs = daemon.logs()
    test.assertEqual(rc, 0, "%s exited %s; log tail:\n%s" % (daemon.name, rc, logs[-3000:]))
    for bad in ("AddressSanitizer", "runtime error:", "LeakSanitizer", "ThreadSanitizer"):
        test.assertNotIn(bad, logs)


def wait_for(what, fn, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = fn()
        if got:
            return got
        time.sleep(0.3)
    raise AssertionError("no %s within %ss" % (what, timeout))


def creation_message(appointment_id, insured, schedule, country="PE"):
    """The SNS message of SPEC §4 as a raw SQS body (the worker accepts both forms)."""
    return json.dumps({"appointmentId": appointment_id, "countryISO": country,
                       "eventType": "AppointmentCreated", "insuredId": insured,
                       "scheduleId": schedule, "timestamp": "2026-01-01T00:00:00.000Z"})


def slot(schedule, country="PE"):
    """(is_available, [(appointment_id, status)...]) of one slot in PostgreSQL."""
    db = "e2e_%s_%s" % (D.stage, country.lower())
    avail = harness.psql(db, "SELECT is_available FROM schedules WHERE schedule_id = %d"
                         % schedule)
    rows = harness.psql(db, "SELECT appointment_id || ' ' || status FROM appointments "
                            "WHERE schedule_id = %d ORDER BY 1" % schedule)
    return avail == "t", [tuple(r.split()) for r in rows.splitlines() if r]


def processing_errors(ids, timeout=60):
    """Receives (and deletes) Processing Error events from the error queue until one names
    each of ids; returns {id: reason}. Others' events are dropped."""
    found = {}

    def more():
        for m in harness.drain_queue(SQS, QUEUES["APPOINTMENTS_ERROR_QUEUE_URL"], 1, timeout=2):
            detail = json.loads(m["Body"])["detail"]
            for i in ids:
                if i in detail.get("reason", "") or i in detail.get("body", ""):
                    found[i] = detail["reason"]
        return len(found) == len(ids)

    wait_for("Processing Error for %s" % ", ".join(ids), more, timeout)
    return found


def tearDownModule():
    if D is not None:
        D.close()


class LostReplyTest(unittest.TestCase):
    """DynamoDB applied the write, its reply never came back."""

    def setUp(self):
        self.proxy = harness.FaultProxy(os.environ["AWS_ENDPOINT_URL_DYNAMODB"])
        self.addCleanup(self.proxy.close)
        self.api = Api(D, env={"AWS_ENDPOINT_URL_DYNAMODB": self.proxy.url})
        self.addCleanup(self.stop_clean)

    def stop_clean(self):
        rc = self.api.stop()
        logs = self.api.logs()
        self.assertEqual(rc, 0, "appointment-api exited %s; log tail:\n%s" % (rc, logs[-3000:]))
        for bad in ("AddressSanitizer", "runtime error:", "LeakSanitizer"):
            self.assertNotIn(bad, logs)

    def assert_one_appointment(self, insured, replies):
        """Every answer that carries an appointment carries the same id, and the insured
        has exactly that one appointment."""
        ids = {doc["appointmentId"] for status, doc in replies
               if status in (200, 201) and isinstance(doc, dict)}
        self.assertEqual(len(ids), 1, replies)
        stored = [a["appointmentId"] for a in self.api.appointments(insured)]
        self.assertEqual(stored, list(ids), replies)
        return ids.pop()

    def test_appointment_put_reply_lost(self):
        # the core retries the create (a TransactWriteItems: the item and its insured's
        # counters); the retry meets our own item and counts nothing twice
        self.proxy.rules({"op": "TransactWriteItems", "contains": "-appointments-",
                          "fault": "dropreply",
                          "count": 1})
        replies = self.api.post_like_a_client("501", 101, "PE")
        self.assertEqual(replies[0][0], 201, replies)
        self.assert_one_appointment("00501", replies)
        self.assertEqual(self.proxy.stats()["faulted"], 1)

    def test_appointment_put_reply_lost_with_key(self):
        self.proxy.rules({"op": "TransactWriteItems", "contains": "-appointments-",
                          "fault": "dropreply",
                          "count": 1})
        replies = self.api.post_like_a_client("502", 102, "PE", key="lost-" + harness.rand())
        self.assertEqual(replies[0][0], 201, replies)
        self.assert_one_appointment("00502", replies)


class DeadFirstAttemptTest(unittest.TestCase):
    """A first attempt that stored its item and was killed (-9) inside its SNS Publish,
    which a loopback proxy holds: the client's retry goes to another API while the dead
    attempt's claim of the key is still live, waits out its half budget, answers the stored
    item (200, replayed) and publishes it, since nothing says the dead attempt did. Before,
    that answer left the item pending until the reconciler came round (tests/e2e/
    test_scaleout.py's kill -9 under load lost such an appointment for its 120 s)."""

    def test_retry_publishes_the_item_of_an_attempt_killed_in_its_publish(self):
        sns = harness.FaultProxy(os.environ["AWS_ENDPOINT_URL_SNS"])
        self.addCleanup(sns.close)
        sns.rules({"op": "Publish", "fault": "slow:30000", "count": 1})
        first = Api(D, "[api]\naws_budget_ms = 8000\n", env={"AWS_ENDPOINT_URL_SNS": sns.url})
        self.addCleanup(first.daemon.stop)
        retry = Api(D)
        D.daemons.append(retry.daemon)
        self.addCleanup(stop_clean, self, retry.daemon)
        body = {"insuredId": "707", "scheduleId": 139, "countryISO": "PE"}
        key = "dead-first-" + harness.rand()
        out = []
        threading.Thread(target=lambda: out.append(self.call_quietly(first, body, key)),
                         daemon=True).start()
        wait_for("the first attempt's Publish held by the proxy",
                 lambda: sns.stats()["faulted"] == 1, timeout=20)
        stored = retry.appointments("00707")
        self.assertEqual((len(stored), out), (1, []), stored)  # stored, not answered
        first.daemon.proc.kill()
        first.daemon.proc.wait()
        sns.close()  # the held Publish is never forwarded
        status, headers, doc = retry.call("POST", "/appointments", body, {"Idempotency-Key": key})
        self.assertEqual((status, doc.get("appointmentId")), (200, stored[0]["appointmentId"]), doc)
        self.assertEqual(headers.get("idempotent-replayed"), "true")
        wait_for("the creation message of %s on the PE queue" % stored[0]["appointmentId"],
                 lambda: any(stored[0]["appointmentId"] in m["Body"] for m in harness.drain_queue(
                     SQS, QUEUES["APPOINTMENTS_PE_QUEUE_URL"], 1, timeout=2)), timeout=15)

    @staticmethod
    def call_quietly(api, body, key):
        try:
            return api.call("POST", "/appointments", body, {"Idempotency-Key": key}, timeout=60)
        except (OSError, http.client.HTTPException) as e:
            return e


class KeyClaimTest(unittest.TestCase):
    """The Idempotency-Key's claim under lost replies, abandoned claims and twins (SPEC §3,
    issue 10): a claim whose put meets itself is ours; a take-over keeps the claimed id;
    a twin answers what the first request answered, or takes its claim over when it gave
    up. Each test has its own API behind its own proxy to DynamoDB."""

    def setUp(self):
        self.proxy = harness.FaultProxy(os.environ["AWS_ENDPOINT_URL_DYNAMODB"])
        self.addCleanup(self.proxy.close)

    def start_api(self, env=None):
        self.api = Api(D, env=dict({"AWS_ENDPOINT_URL_DYNAMODB": self.proxy.url}, **(env or {})))
        self.addCleanup(stop_clean, self, self.api.daemon)
        D.daemons.append(self.api.daemon)

    def post(self, insured, schedule, key, out, i):
        try:
            out[i] = self.api.call("POST", "/appointments", {"insuredId": insured,
                                                             "scheduleId": schedule,
                                                             "countryISO": "PE"},
                                   {"Idempotency-Key": key})
        except Exception as e:  # noqa: BLE001 - reported by the assertion
            out[i] = (None, {}, repr(e))

    def twins(self, insured, schedule, key, gap=0.3):
        """A, then B with the same body and key gap seconds later; returns both answers."""
        out = [None, None]
        a = threading.Thread(target=self.post, args=(insured, schedule, key, out, 0))
        a.start()
        time.sleep(gap)
        self.post(insured, schedule, key, out, 1)
        a.join()
        return out

    def slow_claim_writes(self):
        """The first later write to a claim (response, refusal or release: an UpdateItem;
        a release was a DeleteItem before) takes 1 s: a twin arrives meanwhile."""
        return [{"op": op, "contains": "-idempotency-", "fault": "slow:1000", "count": 1}
                for op in ("UpdateItem", "DeleteItem")]

    def test_claim_put_reply_lost_is_ours(self):
        # the core retries the claim's PutItem; the retry meets our own claim, not a twin's
        self.start_api()
        self.proxy.rules({"op": "PutItem", "contains": "-idempotency-", "fault": "dropreply",
                          "count": 1})
        key = "claim-lost-" + harness.rand()
        replies = self.api.post_like_a_client("701", 131, "PE", key=key)
        self.assertEqual(self.proxy.stats()["faulted"], 1)
        self.assertEqual(replies[0][0], 201, replies)
        again = self.api.post_like_a_client("701", 131, "PE", key=key)
        self.assertEqual((again[0][0], again[0][1]["appointmentId"]),
                         (200, replies[0][1]["appointmentId"]), again)
        self.assertEqual([a["appointmentId"] for a in self.api.appointments("00701")],
                         [replies[0][1]["appointmentId"]])

    def test_claim_put_that_failed_is_released(self):
        # the claim's put applied, its reply lost and no retry left: the request answers
        # 503 and gives the claim up, so the client's retry takes it over at once instead
        # of waiting 20 s for it to go stale
        self.start_api({"AWS_MAX_ATTEMPTS": "1"})
        self.proxy.rules({"op": "PutItem", "contains": "-idempotency-", "fault": "dropreply",
                          "count": 1})
        replies = self.api.post_like_a_client("705", 135, "PE", key="claim-failed-" +
                                              harness.rand())
        self.assertEqual([r[0] for r in replies], [503, 201], replies)
        self.assertEqual([a["appointmentId"] for a in self.api.appointments("00705")],
                         [replies[1][1]["appointmentId"]])

    def test_takeover_keeps_the_claimed_id(self):
        # the first attempt stored its item under the claimed id, then died before it
        # stored its answer; an hour later the retry takes the claim over: the same id
        self.start_api()
        status, _, first = self.api.call("POST", "/appointments", {"insuredId": "702",
                                                                    "scheduleId": 132,
                                                                    "countryISO": "PE"})
        self.assertEqual(status, 201, first)
        key = "abandoned-" + harness.rand()
        now = int(time.time())
        harness.aws_client("dynamodb").put_item(
            TableName="medical-appointment-scheduling-idempotency-%s" % D.stage,
            Item={"key": {"S": hashlib.sha256(("#" + key).encode()).hexdigest()},
                  "requestHash": {"S": hashlib.sha256(b"00702|132|PE").hexdigest()},
                  "appointmentId": {"S": first["appointmentId"]}, "response": {"S": ""},
                  "claimToken": {"S": str(uuid.uuid4())},
                  "claimedAt": {"N": str(now - 3600)}, "expiresAt": {"N": str(now + 86000)}})
        # meanwhile the worker and the completion daemon took the appointment on: the
        # replay is still the original 201 body (SPEC §3: "same body"), status pending, not
        # the item's status beside "Appointment scheduling is in process"
        harness.aws_client("dynamodb").update_item(
            TableName=QUEUES["APPOINTMENTS_TABLE_NAME"],
            Key={"appointmentId": {"S": first["appointmentId"]}},
            UpdateExpression="SET #s = :c", ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":c": {"S": "completed"}})
        for _ in range(2):  # the take-over, then the answer it stored
            status, headers, doc = self.api.call("POST", "/appointments",
                                                 {"insuredId": "702", "scheduleId": 132,
                                                  "countryISO": "PE"},
                                                 {"Idempotency-Key": key})
            self.assertEqual((status, doc.get("appointmentId")), (200, first["appointmentId"]),
                             doc)
            self.assertEqual(headers.get("idempotent-replayed"), "true")
            self.assertEqual(doc, first)
        self.assertEqual([a["appointmentId"] for a in self.api.appointments("00702")],
                         [first["appointmentId"]])

    def test_twin_answers_the_refusal(self):
        # A is refused (no such schedule) while B waits on A's claim: B answers the same
        self.start_api()
        self.proxy.rules(*self.slow_claim_writes())
        a, b = self.twins("703", 9999999, "refused-" + harness.rand())
        for status, _, doc in (a, b):
            self.assertEqual((status, doc["error"]["errorCode"]), (404, "SCHEDULE_NOT_FOUND"),
                             (a, b))

    def test_twin_still_at_work_past_the_wait_is_retried(self):
        # A's create is slowed 2.5 s; B, its twin, waits half of its 3 s budget and finds A
        # still at work with nothing stored. B's answer must be one a client following SPEC
        # §3 retries (503 with Retry-After), so that its retry replays A's appointment; a
        # 409 IDEMPOTENCY_CONFLICT ("used with a different body") told that client to stop,
        # with an appointment made under its key, and to try again under a new key: two.
        self.start_api()
        self.proxy.rules({"op": "TransactWriteItems", "contains": "-appointments-",
                          "fault": "slow:2500", "count": 1})
        key = "busy-twin-" + harness.rand()
        a, b = self.twins("708", 133, key)
        self.assertEqual(a[0], 201, (a, b))
        self.assertEqual((b[0], b[2]["error"]["errorCode"]), (503, "SERVICE_UNAVAILABLE"),
                         (a, b))
        self.assertEqual(b[1].get("retry-after"), "1", b)
        replies = self.api.post_like_a_client("708", 133, "PE", key=key)
        self.assertEqual((replies[-1][0], replies[-1][1].get("appointmentId")),
                         (200, a[2]["appointmentId"]), replies)
        self.assertEqual([x["appointmentId"] for x in self.api.appointments("00708")],
                         [a[2]["appointmentId"]])

    def test_twin_takes_over_a_released_claim(self):
        # A's create of the appointment (a TransactWriteItems with the insured's counters)
        # fails (a 500, no retry): A answers 503 and gives its claim up; B, waiting on it,
        # takes it over with A's id; A's retry replays it
        self.start_api({"AWS_MAX_ATTEMPTS": "1"})
        self.proxy.rules({"op": "TransactWriteItems", "contains": "-appointments-", "fault": "500",
                          "count": 1}, *self.slow_claim_writes())
        key = "released-" + harness.rand()
        a, b = self.twins("704", 134, key)
        self.assertEqual(a[0], 503, (a, b))
        self.assertEqual(b[0], 201, (a, b))
        status, _, doc = self.api.call("POST", "/appointments", {"insuredId": "704",
                                                                  "scheduleId": 134,
                                                                  "countryISO": "PE"},
                                       {"Idempotency-Key": key})
        self.assertEqual((status, doc.get("appointmentId")), (200, b[2]["appointmentId"]), doc)
        self.assertEqual([x["appointmentId"] for x in self.api.appointments("00704")],
                         [b[2]["appointmentId"]])

    def test_create_delayed_past_its_answer_stores_nothing(self):
        # A's create of the appointment is held 6 s in the network, past A's 3 s budget:
        # A answers 503 and gives its claim up. The slot then goes to someone else, so A's
        # retry takes the claim over and is refused (409). When A's create reaches DynamoDB
        # at last it must store nothing: the client was told there is no appointment. Before
        # the create was fenced by the claim it stored one (the fault suite's "DynamoDB
        # delay 1-6 s" row saw it: final 409 SCHEDULE_UNAVAILABLE, one appointment exists).
        self.start_api({"AWS_MAX_ATTEMPTS": "1"})
        self.proxy.rules({"op": "TransactWriteItems", "contains": "-appointments-",
                          "fault": "slow:6000", "count": 1})
        key = "late-create-" + harness.rand()
        body = {"insuredId": "706", "scheduleId": 138, "countryISO": "PE"}
        t0 = time.monotonic()
        status, _, doc = self.api.call("POST", "/appointments", body, {"Idempotency-Key": key})
        self.assertEqual(status, 503, doc)
        harness.psql("e2e_%s_pe" % D.stage,
                     "UPDATE schedules SET is_available = false WHERE schedule_id = 138")
        for _ in range(2):  # the take-over's refusal, then its replay
            status, _, doc = self.api.call("POST", "/appointments", body,
                                           {"Idempotency-Key": key})
            self.assertEqual((status, doc["error"]["errorCode"]),
                             (409, "SCHEDULE_UNAVAILABLE"), doc)
        time.sleep(max(0.0, t0 + 8 - time.monotonic()))  # the held create has landed
        self.assertEqual(self.proxy.stats()["faulted"], 1)
        self.assertEqual(self.api.appointments("00706"), [])


class TwinParkTest(unittest.TestCase):
    """A request that waits on a twin's claim of its Idempotency-Key holds no HTTP thread
    (SPEC §3): it is parked (run/http_park) and one poller reads the claim for all waiters.
    A runs on one API whose create of the appointment is slowed by the fault proxy; its twin
    B comes to a second API with one HTTP thread, which must go on answering other requests
    while B waits; B then answers A's appointment. Both APIs have an 8 s AWS budget, so B's
    wait (half of it) outlasts A's slowed write."""

    SLOW_MS = 2500

    def setUp(self):
        self.proxy = harness.FaultProxy(os.environ["AWS_ENDPOINT_URL_DYNAMODB"])
        self.addCleanup(self.proxy.close)
        env = {"AWS_ENDPOINT_URL_DYNAMODB": self.proxy.url}
        self.first = Api(D, "[api]\naws_budget_ms = 8000\n", env=env)
        D.daemons.append(self.first.daemon)
        self.addCleanup(stop_clean, self, self.first.daemon)
        self.single = Api(D, "[api]\nthreads = 1\naws_budget_ms = 8000\n", env=env)
        D.daemons.append(self.single.daemon)
        self.addCleanup(stop_clean, self, self.single.daemon)
        self.proxy.rules({"op": "TransactWriteItems", "contains": "-appointments-",
                          "fault": "slow:%d" % self.SLOW_MS, "count": 1})

    def post(self, api, body, key, out, i):
        try:
            out[i] = api.call("POST", "/appointments", body, {"Idempotency-Key": key})
        except Exception as e:  # noqa: BLE001 - reported by the assertion
            out[i] = (None, {}, repr(e))
        out[i] = out[i] + (time.monotonic(),)

    def start_twins(self, insured, schedule):
        """A on the first API, then B with the same body and key on the single-thread API
        once A holds the claim; returns (out, threads)."""
        body = {"insuredId": insured, "scheduleId": schedule, "countryISO": "PE"}
        key = "parked-" + harness.rand()
        out = [None, None]
        a = threading.Thread(target=self.post, args=(self.first, body, key, out, 0))
        a.start()
        time.sleep(0.5)  # A claimed the key and is in its slowed write
        b = threading.Thread(target=self.post, args=(self.single, body, key, out, 1))
        b.start()
        time.sleep(0.4)  # B met A's claim and waits
        return out, (a, b)

    def assert_same_appointment(self, out, insured):
        (sa, _, da, _), (sb, hb, db, _) = out
        self.assertEqual(sa, 201, out)
        self.assertEqual((sb, db.get("appointmentId")), (200, da["appointmentId"]), out)
        self.assertEqual(hb.get("idempotent-replayed"), "true", out)
        self.assertEqual([x["appointmentId"] for x in self.first.appointments(insured)],
                         [da["appointmentId"]])

    def test_other_requests_are_answered_while_a_twin_waits(self):
        out, threads = self.start_twins("801", 136)
        for path in ("/healthz", "/appointments/00801?limit=5"):
            t0 = time.monotonic()
            status, _, _ = self.single.call("GET", path, timeout=10)
            took = time.monotonic() - t0
            self.assertEqual(status, 200, path)
            # before parking, B held the only HTTP thread until A answered (~2 s more)
            self.assertLess(took, 0.5, "%s took %.2f s while a twin waited" % (path, took))
            self.assertIsNone(out[1], "B answered before A's slowed write was over: %r" % out)
        for t in threads:
            t.join()
        self.assertEqual(self.proxy.stats()["faulted"], 1)
        self.assert_same_appointment(out, "00801")

    def test_a_stop_answers_the_waiting_twin_first(self):
        # SIGTERM while B is parked: the drain counts it in flight, so B gets its answer
        # (A's appointment, once A stored it) before the API exits 0
        out, threads = self.start_twins("802", 137)
        self.assertIsNone(out[1], out)
        D.daemons.remove(self.single.daemon)
        rc = self.single.daemon.stop()
        self.assertEqual(rc, 0, self.single.logs()[-3000:])
        for t in threads:
            t.join()
        self.assert_same_appointment(out, "00802")


class ScheduleCheckTest(unittest.TestCase):
    """After PostgreSQL drops the API's connection (a restart), the next check reconnects
    instead of taking the database for down and skipping the check (issue 10)."""

    def test_dead_connection_is_reconnected_before_the_check_is_skipped(self):
        api = Api(D, "[api]\nthreads = 1\n")  # one HTTP thread: its connection is the one cut
        try:
            status, _, doc = api.call("POST", "/appointments", {"insuredId": "621",
                                                                 "scheduleId": 121,
                                                                 "countryISO": "PE"})
            self.assertEqual(status, 201, doc)
            killed = harness.psql("postgres", "SELECT count(*) FROM (SELECT pg_terminate_backend("
                                  "pid, 5000) AS t FROM pg_stat_activity WHERE datname = "
                                  "'e2e_%s_pe' AND application_name = 'appointment-api') x "
                                  "WHERE t" % D.stage)
            self.assertEqual(killed, "1")
            status, _, doc = api.call("POST", "/appointments", {"insuredId": "621",
                                                                 "scheduleId": 9999999,
                                                                 "countryISO": "PE"})
            self.assertEqual((status, doc["error"]["errorCode"]), (404, "SCHEDULE_NOT_FOUND"),
                             doc)
        finally:
            self.assertEqual(api.stop(), 0)


    def test_check_runs_again_soon_after_an_outage(self):
        """PostgreSQL refused for 15 s under POSTs (each accepted unchecked, SPEC §3): the
        connection's backoff grows with every failed connect. Two seconds after PostgreSQL is
        back, the check must run again: a slot that does not exist is 404, not accepted
        (with the default 30 s backoff cap it stayed skipped; seen in the fault suite)."""
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                                        "faults"))
        import proxyctl
        proxy = proxyctl.Proxy(harness.SRC, {"api.pg": "pg:%s:%s" % (
            os.environ["RDS_HOST"], os.environ["RDS_PORT"])}, D.dir)
        api = None
        try:
            api = Api(D, "[api]\nthreads = 1\n", env={"RDS_PORT": str(proxy.ports["api.pg"])})
            body = {"insuredId": "622", "scheduleId": 122, "countryISO": "PE"}
            status, _, doc = api.call("POST", "/appointments", body)
            self.assertEqual(status, 201, doc)
            rid = proxy.add(listener="api.pg", fault="refuse")
            end = time.monotonic() + 15
            while time.monotonic() < end:
                status, _, doc = api.call("POST", "/appointments", body)
                self.assertEqual(status, 201, doc)  # accepted, unchecked
                time.sleep(0.3)
            proxy.remove(rid)
            time.sleep(2)
            status, _, doc = api.call("POST", "/appointments", {"insuredId": "622",
                                                                 "scheduleId": 9999999,
                                                                 "countryISO": "PE"})
            self.assertEqual((status, (doc.get("error") or {}).get("errorCode")),
                             (404, "SCHEDULE_NOT_FOUND"), doc)
        finally:
            if api is not None:
                self.assertEqual(api.stop(), 0)
            proxy.close()


class DuplicateDeliveryTest(unittest.TestCase):
    """Two deliveries of one creation message (SQS delivers at least once) that book on
    either side of a cancel (SPEC §4 invariants): D1 reads A pending and is held by the
    fault proxy before its transaction begins; D2 finds A's slot held by X and fails A; X is
    cancelled and its slot released; then D1 books the free slot and commits. The item is
    failed, so D1 must give its booking back and announce what the table holds (failed),
    never "Appointment Processed". Before, it kept the row (a failed item holding a slot for
    ever) and sent a Processed event for a failed appointment."""

    HOLD_MS = 9000  # under the worker's 10 s statement timeout, over the steps below

    def test_delivery_that_books_after_its_twin_failed_the_item_gives_the_slot_back(self):
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                                        "faults"))
        import proxyctl
        schedule, db = 125, "e2e_%s_pe" % D.stage
        proxy = proxyctl.Proxy(harness.SRC, {"worker.pg": "pg:%s:%s" % (
            os.environ["RDS_HOST"], os.environ["RDS_PORT"])}, D.dir)
        self.addCleanup(proxy.close)
        api = Api(D)
        D.daemons.append(api.daemon)
        self.addCleanup(stop_clean, self, api.daemon)
        worker = D.start("appointment-worker", "--country", "pe",
                         env=dict(D.env, RDS_PORT=str(proxy.ports["worker.pg"])))
        self.addCleanup(stop_clean, self, worker)
        ddb = harness.aws_client("dynamodb")
        table = QUEUES["APPOINTMENTS_TABLE_NAME"]

        def status(aid):
            got = ddb.get_item(TableName=table, Key={"appointmentId": {"S": aid}},
                               ConsistentRead=True)["Item"]
            return got["status"]["S"]

        status_x, _, x = api.call("POST", "/appointments", {"insuredId": "631",
                                                             "scheduleId": schedule,
                                                             "countryISO": "PE"})
        self.assertEqual(status_x, 201, x)
        x = x["appointmentId"]
        wait_for("X processed", lambda: status(x) == "processed")
        # A as the API stores it: the API refuses a POST on a slot already booked, so A
        # stands for one posted while X was still pending
        a = str(uuid.uuid4())
        now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
        ddb.put_item(TableName=table, Item={
            "appointmentId": {"S": a}, "insuredId": {"S": "00632"},
            "scheduleId": {"N": str(schedule)}, "countryISO": {"S": "PE"},
            "status": {"S": "pending"}, "createdAt": {"S": now}, "updatedAt": {"S": now},
            "processedAt": {"NULL": True}})
        # the next transaction the worker begins (D1's booking) waits before its BEGIN
        # reaches PostgreSQL: no lock is taken meanwhile
        rid = proxy.add(listener="worker.pg", op="BEGIN", fault="delay", ms=self.HOLD_MS,
                        count=1)
        url = QUEUES["APPOINTMENTS_PE_QUEUE_URL"]
        SQS.send_message(QueueUrl=url, MessageBody=creation_message(a, "00632", schedule))
        wait_for("D1 held by the proxy",
                 lambda: proxy.stats()["rules"].get(str(rid)) == 1, timeout=20)
        held_until = time.monotonic() + self.HOLD_MS / 1000.0
        SQS.send_message(QueueUrl=url, MessageBody=creation_message(a, "00632", schedule))
        wait_for("A failed by D2", lambda: status(a) == "failed", timeout=5)
        code, _, doc = api.call("DELETE", "/appointments/00631/%s" % x)
        self.assertEqual(code, 202, doc)
        wait_for("X cancelled", lambda: status(x) == "cancelled", timeout=5)
        self.assertEqual(slot(schedule), (True, [(x, "cancelled")]))
        self.assertLess(time.monotonic(), held_until - 0.5,
                        "the preconditions took longer than D1 was held: nothing tested")

        def outcomes():
            return [line for line in worker.logs().splitlines()
                    if a in line and ('"msg":"appointment failed"' in line or
                                      '"msg":"appointment processed"' in line)]
        done = wait_for("both deliveries of A done", lambda: len(outcomes()) >= 2 and outcomes(),
                        timeout=30)
        wait_for("an empty PE queue", lambda: harness.queue_depth(SQS, url) == (0, 0))
        self.assertEqual(status(a), "failed")
        self.assertEqual(harness.psql(db, "SELECT count(*) FROM appointments WHERE "
                                          "appointment_id = '%s' AND status <> 'cancelled'" % a),
                         "0")
        self.assertEqual(slot(schedule)[0], True)
        self.assertTrue(all('"msg":"appointment failed"' in line for line in done), done)
        # X's Processed event shows the route to the completion queue works; none for A
        processed = []
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            got = harness.drain_queue(SQS, QUEUES["APPOINTMENTS_COMPLETION_QUEUE_URL"], 10,
                                      timeout=2)
            processed += [json.loads(m["Body"])["detail"]["appointmentId"] for m in got
                          if json.loads(m["Body"]).get("detail-type") == "Appointment Processed"]
            if x in processed and not got:
                break
        self.assertIn(x, processed)
        self.assertNotIn(a, processed)


class WorkerItemTest(unittest.TestCase):
    """The worker reads the appointment before it books (SPEC §4 invariants, issue 10)."""

    def test_message_for_a_missing_appointment_holds_no_slot(self):
        absent, booked = str(uuid.uuid4()), str(uuid.uuid4())
        db = "e2e_%s_pe" % D.stage
        # an earlier delivery booked slot 112 for an appointment the table no longer has
        harness.psql(db, "UPDATE schedules SET is_available = false WHERE schedule_id = 112; "
                         "INSERT INTO appointments (appointment_id, insured_id, schedule_id, "
                         "country_iso, status, created_at) VALUES ('%s', '00612', 112, 'PE', "
                         "'booked', now())" % booked)
        worker = D.start("appointment-worker", "--country", "pe")
        self.addCleanup(stop_clean, self, worker)
        url = QUEUES["APPOINTMENTS_PE_QUEUE_URL"]
        SQS.send_message(QueueUrl=url, MessageBody=creation_message(absent, "00611", 111))
        SQS.send_message(QueueUrl=url, MessageBody=creation_message(booked, "00612", 112))
        reasons = processing_errors([absent, booked])
        self.assertIn("is not in", reasons[absent])
        self.assertIn("released", reasons[booked])
        self.assertEqual(slot(111), (True, []))
        self.assertEqual(slot(112), (True, [(booked, "cancelled")]))
        wait_for("an empty PE queue", lambda: harness.queue_depth(SQS, url) == (0, 0))

    def test_pg_created_at_is_the_appointments_created_at(self):
        # the publish fails (SNS unreachable): the reconciler sends it later, so the SNS
        # message's timestamp is well after the appointment's createdAt
        api = Api(D, env={"AWS_ENDPOINT_URL_SNS": "http://127.0.0.1:%d" % harness.free_port(),
                          "AWS_MAX_ATTEMPTS": "1"})
        try:
            status, _, doc = api.call("POST", "/appointments", {"insuredId": "613",
                                                                 "scheduleId": 113,
                                                                 "countryISO": "PE"})
        finally:
            self.assertEqual(api.stop(), 0)
        self.assertEqual(status, 201, doc)
        time.sleep(1.2)
        worker = D.start("appointment-worker", "--country", "pe")
        self.addCleanup(stop_clean, self, worker)
        D.ctl("reconcile", "--older-than", "0")
        db = "e2e_%s_pe" % D.stage
        got = wait_for("the booking of %s" % doc["appointmentId"], lambda: harness.psql(
            db, "SELECT to_char(created_at AT TIME ZONE 'UTC', "
                "'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') FROM appointments "
                "WHERE appointment_id = '%s'" % doc["appointmentId"]))
        self.assertEqual(got, doc["createdAt"])


class MissingTableTest(unittest.TestCase):
    """A missing table (no such resource) is transient: the message is retried, never
    reported as poison and deleted, and nothing is booked meanwhile (issue 10). CL, whose
    queue no other test of this module uses."""

    def test_worker_and_completion_keep_their_messages(self):
        env = dict(D.env, APPOINTMENTS_TABLE_NAME="no-such-table-" + harness.rand())
        appointment = str(uuid.uuid4())
        worker = harness.Daemon("appointment-worker", ["--config", D.config, "--country", "cl"],
                                env, D.dir)
        self.addCleanup(stop_clean, self, worker)
        completion = harness.Daemon("appointment-completion", ["--config", D.config], env, D.dir)
        self.addCleanup(stop_clean, self, completion)
        SQS.send_message(QueueUrl=QUEUES["APPOINTMENTS_CL_QUEUE_URL"],
                         MessageBody=creation_message(appointment, "00614", 114, "CL"))
        SQS.send_message(QueueUrl=QUEUES["APPOINTMENTS_COMPLETION_QUEUE_URL"],
                         MessageBody=json.dumps({
                             "version": "0", "id": str(uuid.uuid4()),
                             "detail-type": "Appointment Processed",
                             "source": "medical.appointment.cl", "time": "2026-01-01T00:00:00Z",
                             "detail": {"appointmentId": appointment, "insuredId": "00614",
                                        "scheduleId": 114, "countryISO": "CL",
                                        "status": "PROCESSED"}}))
        for d in (worker, completion):
            wait_for("two retries in %s" % d.name,
                     lambda: d.logs().count("the table does not exist") >= 2)
        self.assertEqual(slot(114, "CL"), (True, []))
        events = harness.drain_queue(SQS, QUEUES["APPOINTMENTS_ERROR_QUEUE_URL"], 1, timeout=3)
        self.assertEqual([m for m in events if appointment in m["Body"]], [])
        for q in ("CL", "COMPLETION"):
            url = QUEUES["APPOINTMENTS_%s_QUEUE_URL" % q]
            dlq = QUEUES.get("APPOINTMENTS_%s_DLQ_URL" % q, url + "-dlq")
            kept = sum(harness.queue_depth(SQS, url)) + sum(harness.queue_depth(SQS, dlq))
            self.assertEqual(kept, 1, q)


if __name__ == "__main__":
    unittest.main(verbosity=2)
