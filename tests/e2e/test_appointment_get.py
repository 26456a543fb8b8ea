#!/usr/bin/python3
"""GET /appointments/{insuredId}/{appointmentId} over real HTTP on loopback against the local
stack (issue 16 part 2, SPEC §3): the item in the list's shape, 404 for another insured's or
an absent one, path and query validation, ETag / If-None-Match, API keys and throttling like
the other routes, and waitFor: answered as soon as the completion daemon completes the
appointment, at the timeout with the current state, 50 waiters parked on an API of 2 HTTP
threads while /healthz answers at once, a waiter whose client leaves freed, DynamoDB failing
under a waiter (reads retried; the timeout's read failing is 503), and SIGTERM answering
every parked waiter before a clean exit.

Every daemon started here is stopped by pid and must exit 0: under the ASan build a leak or
a memory error makes it exit otherwise."""
import concurrent.futures
import datetime
import os
import socket
import sys
import threading
import time
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from test_api import Api, call, ddb_client, metric, table_of  # noqa: E402

ITEM_KEYS = {"appointmentId", "insuredId", "countryISO", "scheduleId", "status", "schedule",
             "createdAt", "updatedAt", "processedAt", "completedAt", "cancelledAt"}
D = API = None


def setUpModule():
    global D, API
    D = harness.Deployment(seed_count=40)
    try:
        API = Api(D)
    except Exception:
        D.close()
        raise


def tearDownModule():
    if API is not None:
        API.stop()
    D.close()


def iso_ms(text):
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()


class Base(unittest.TestCase):
    slot = [99]  # seeded schedule ids start at 100 (pg/db_seed.h)

    def create(self, insured, api=None, country="PE"):
        """A pending appointment (no worker of its country runs unless the test starts one)."""
        Base.slot[0] += 1
        r = call((api or API).port, "POST", "/appointments",
                 {"insuredId": insured, "scheduleId": Base.slot[0], "countryISO": country})
        self.assertEqual(r.status, 201, r)
        return r.json["appointmentId"]

    def get(self, path, api=None, **kw):
        return call((api or API).port, "GET", path, **kw)

    def set_status(self, aid, status, stamp):
        """Moves the item straight in DynamoDB, as the worker or the completion daemon would."""
        now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        ddb_client().update_item(
            TableName=table_of(D), Key={"appointmentId": {"S": aid}},
            UpdateExpression="SET #s = :c, %s = :t, updatedAt = :t" % stamp,
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":c": {"S": status}, ":t": {"S": now}})

    def stop_clean(self, api):
        rc = api.stop()
        self.assertEqual(rc, 0, api.logs()[-3000:])


class ItemTest(Base):
    def test_found_is_the_list_item(self):
        aid = self.create("321")
        r = self.get("/appointments/00321/%s" % aid)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.headers["content-type"], "application/json; charset=utf-8")
        self.assertEqual(set(r.json), ITEM_KEYS)
        self.assertEqual(r.json["appointmentId"], aid)
        self.assertEqual(r.json["status"], "pending")
        listed = self.get("/appointments/321").json["appointments"]
        self.assertEqual([a for a in listed if a["appointmentId"] == aid], [r.json])
        # the padded rule and an upper-case id reach the same item
        self.assertEqual(self.get("/appointments/321/%s" % aid.upper()).json, r.json)
        self.assertIn("x-request-id", r.headers)
        self.assertEqual(r.headers["access-control-allow-origin"], "*")

    def test_other_insured_and_absent_are_404(self):
        aid = self.create("322")
        for path in ("/appointments/00323/%s" % aid, "/appointments/322/%s" % uuid.uuid4(),
                     "/appointments/322/%s?waitFor=completed&timeout=20" % uuid.uuid4(),
                     "/appointments/323/%s?waitFor=any-final" % aid):
            t0 = time.monotonic()
            r = self.get(path)
            self.assertEqual(r.status, 404, (path, r))
            self.assertLess(time.monotonic() - t0, 2.0, path)
            self.assertEqual(r.json["error"]["errorCode"], "APPOINTMENT_NOT_FOUND")
            self.assertEqual(r.json["error"]["message"], "No such appointment for that insuredId")
            self.assertNotIn("fields", r.json["error"])

    def test_bad_path_and_query_are_400(self):
        aid = str(uuid.uuid4())
        cases = [
            ("/appointments/12a/%s" % aid, {"insuredId"}),
            ("/appointments/123456/%s" % aid, {"insuredId"}),
            ("/appointments/1/nope", {"appointmentId"}),
            ("/appointments/1/%s" % ("a" * 5000), {"appointmentId"}),
            ("/appointments/1/%s0" % aid, {"appointmentId"}),
            ("/appointments/x/y", {"insuredId", "appointmentId"}),
            ("/appointments/1/%s?limit=1" % aid, {"unknown"}),
            ("/appointments/1/%s?waitFor=soon" % aid, {"waitFor"}),
            ("/appointments/1/%s?waitFor=pending" % aid, {"waitFor"}),
            ("/appointments/1/%s?waitFor=completed&timeout=0" % aid, {"timeout"}),
            ("/appointments/1/%s?waitFor=completed&timeout=21" % aid, {"timeout"}),
            ("/appointments/1/%s?timeout=1.5" % aid, {"timeout"}),
            ("/appointments/1/%s?waitFor=failed&waitFor=failed" % aid, {"waitFor"}),
            ("/appointments/x/%s?zz=1" % aid, {"insuredId", "unknown"}),
        ]
        for path, fields in cases:
            r = self.get(path)
            self.assertEqual(r.status, 400, (path[:80], r))
            self.assertEqual(r.json["error"]["errorCode"], "VALIDATION_ERROR")
            self.assertEqual(set(r.json["error"]["fields"]), fields, path[:80])

    def test_etag_and_if_none_match(self):
        aid = self.create("324")
        path = "/appointments/324/%s" % aid
        r = self.get(path)
        etag = r.headers["etag"]
        self.assertRegex(etag, r'^"[0-9a-f]{16}"$')
        self.assertEqual(self.get(path).headers["etag"], etag)  # stable
        for inm in (etag, "W/" + etag, '"other", ' + etag, "*"):
            nm = self.get(path, headers={"If-None-Match": inm})
            self.assertEqual(nm.status, 304, (inm, nm))
            self.assertEqual(nm.raw, b"")
            self.assertEqual(nm.headers["etag"], etag)
            self.assertNotIn("content-type", nm.headers)
            self.assertIn("x-request-id", nm.headers)
        for inm in ('"other"', etag[:-2] + '"', "garbage"):
            self.assertEqual(self.get(path, headers={"If-None-Match": inm}).status, 200, inm)
        # another item has another tag; a 404 has none
        other = self.get("/appointments/324/%s" % self.create("324"))
        self.assertNotEqual(other.headers["etag"], etag)
        gone = self.get("/appointments/324/%s" % uuid.uuid4(), headers={"If-None-Match": "*"})
        self.assertEqual(gone.status, 404)
        self.assertNotIn("etag", gone.headers)

    def test_options_preflight(self):
        r = call(API.port, "OPTIONS", "/appointments/1/%s" % uuid.uuid4(),
                 headers={"Origin": "https://app.example"})
        self.assertEqual(r.status, 204, r)
        self.assertIn("GET", r.headers["access-control-allow-methods"])
        r = call(API.port, "POST", "/appointments/1/%s" % uuid.uuid4(), body={})
        self.assertEqual(r.status, 405, r)
        self.assertIn("GET", r.headers["allow"])

    def test_keys_and_throttling_guard_it(self):
        key = "k3y-" + harness.rand(20)
        path = os.path.join(D.dir, "keys-get")
        with open(path, "w") as f:
            f.write(key + "\n")
        api = Api(D, "[api]\nkeys_file = %s\nrate_limit = 1\nburst = 3\n" % path)
        try:
            good = {"X-Api-Key": key}
            aid = self.create("329")  # through the unguarded API: same table
            item = "/appointments/329/%s" % aid
            r = self.get(item, api=api)
            self.assertEqual(r.status, 403, r)
            self.assertEqual(r.json["error"]["errorCode"], "FORBIDDEN")
            self.assertEqual(r.headers["access-control-allow-origin"], "*")
            codes = [self.get(item, api=api, headers=good).status for _ in range(5)]
            self.assertEqual(codes[0], 200)
            self.assertIn(429, codes)
            r = self.get(item, api=api, headers=good)
            if r.status == 429:
                self.assertEqual(r.json["error"]["errorCode"], "RATE_LIMIT_EXCEEDED")
                self.assertIn("retry-after", r.headers)
            # the preflight needs no key
            self.assertEqual(call(api.port, "OPTIONS", item).status, 204)
        finally:
            self.stop_clean(api)

    def test_wait_times_out_with_the_current_state(self):
        aid = self.create("325")  # no worker runs: it stays pending
        t0 = time.monotonic()
        r = self.get("/appointments/325/%s?waitFor=completed&timeout=2" % aid)
        took = time.monotonic() - t0
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["status"], "pending")
        self.assertGreaterEqual(took, 1.9)
        self.assertLess(took, 3.5)
        # a status that already matches answers at once
        t0 = time.monotonic()
        r = self.get("/appointments/325/%s?waitFor=any-final&timeout=1" % aid,
                     headers={"If-None-Match": r.headers["etag"]})
        self.assertEqual(r.status, 304, r)  # the wait ended unchanged: If-None-Match holds
        self.assertGreaterEqual(time.monotonic() - t0, 0.9)

    def test_a_wait_is_not_the_route_latency(self):
        """A waitFor request held ~1 s (an item that never changes, timeout=1) is recorded
        under its own route label ("…?waitFor"), not in the plain route's histogram: there
        a long poll held on purpose is latency, and once 1 % of the GETs wait the p99 alert
        (docs/alerts.yml, AppointmentApiSlowRequests) fires for ever."""
        api = Api(D)
        try:
            aid = self.create("334", api=api)
            route = "/appointments/{insuredId}/{appointmentId}"
            hist = "appointmentd_http_request_duration_seconds"

            def sample(text):
                return {(r, k): metric(text, hist + "_" + k, route=r)
                        for k in ("count", "sum") for r in (route, route + "?waitFor")}

            self.assertEqual(self.get("/appointments/334/%s" % aid, api=api).status, 200)
            before = sample(call(api.port, "GET", "/metrics").raw.decode())
            t0 = time.monotonic()
            r = self.get("/appointments/334/%s?waitFor=completed&timeout=1" % aid, api=api)
            self.assertGreaterEqual(time.monotonic() - t0, 0.9)
            self.assertEqual((r.status, r.json["status"]), (200, "pending"), r)
            after = sample(call(api.port, "GET", "/metrics").raw.decode())
            self.assertEqual(before[(route, "count")], 1)  # the plain GET above
            self.assertEqual(after[(route, "count")], 1, "the wait went into the route's histogram")
            self.assertLess(after[(route, "sum")], 0.5)
            self.assertEqual(after[(route + "?waitFor", "count")], 1)
            self.assertGreaterEqual(after[(route + "?waitFor", "sum")], 0.9)
            text = call(api.port, "GET", "/metrics").raw.decode()
            self.assertEqual(metric(text, "appointmentd_http_requests_total",
                                    route=route + "?waitFor", status="200"), 1)
        finally:
            self.stop_clean(api)

    def test_wait_for_cancelled_and_any_final(self):
        aid = self.create("333")
        base = "/appointments/333/%s?waitFor=" % aid
        with concurrent.futures.ThreadPoolExecutor(max_workers=3) as pool:
            t0 = time.monotonic()
            futs = {w: pool.submit(self.get, base + w + t) for w, t in (
                ("cancelled", "&timeout=15"), ("any-final", "&timeout=15"),
                ("completed", "&timeout=4"))}
            time.sleep(0.5)
            self.set_status(aid, "cancelling", "cancelledAt")  # not final: all still wait
            time.sleep(0.6)
            self.assertFalse(any(f.done() for f in futs.values()))
            self.set_status(aid, "cancelled", "cancelledAt")
            got = {w: f.result(timeout=20) for w, f in futs.items() if w != "completed"}
            took = time.monotonic() - t0
            self.assertFalse(futs["completed"].done())  # cancelled is not completed
        for w, r in got.items():
            self.assertEqual(r.status, 200, (w, r))
            self.assertEqual(r.json["status"], "cancelled", w)
        self.assertLess(took, 4.0)
        self.assertEqual(futs["completed"].result(timeout=30).json["status"], "cancelled")

    def test_many_waiters_hold_no_thread(self):
        api = Api(D, "[api]\nthreads = 2\n")
        try:
            aid = self.create("326", api=api)
            path = "/appointments/326/%s?waitFor=completed&timeout=4" % aid
            n = 50
            with concurrent.futures.ThreadPoolExecutor(max_workers=n) as pool:
                t0 = time.monotonic()
                futs = [pool.submit(self.get, path, api) for _ in range(n)]
                deadline = time.monotonic() + 3
                waiting = 0
                while time.monotonic() < deadline and waiting < n:
                    waiting = metric(call(api.port, "GET", "/metrics").raw.decode(),
                                     "appointmentd_appointment_waiters")
                    time.sleep(0.05)
                self.assertEqual(waiting, n)
                for _ in range(5):  # both HTTP threads are free while 50 requests wait
                    h0 = time.monotonic()
                    self.assertEqual(call(api.port, "GET", "/healthz").status, 200)
                    self.assertLess(time.monotonic() - h0, 0.5)
                    one = self.get("/appointments/326/%s" % aid, api=api)
                    self.assertEqual(one.status, 200)
                replies = [f.result(timeout=30) for f in futs]
                took = time.monotonic() - t0
            self.assertEqual([r.status for r in replies], [200] * n)
            self.assertTrue(all(r.json["status"] == "pending" for r in replies))
            self.assertLess(took, 8.0)
            text = call(api.port, "GET", "/metrics").raw.decode()
            self.assertEqual(metric(text, "appointmentd_appointment_waiters"), 0)
        finally:
            self.stop_clean(api)

    def waiters(self, api):
        return metric(call(api.port, "GET", "/metrics").raw.decode(),
                      "appointmentd_appointment_waiters")

    def test_a_waiter_that_leaves_is_freed(self):
        aid = self.create("332")
        s = socket.create_connection(("127.0.0.1", API.port), timeout=5)
        try:
            s.sendall(b"GET /appointments/332/%s?waitFor=failed&timeout=20 HTTP/1.1\r\n"
                      b"Host: x\r\n\r\n" % aid.encode())
            deadline = time.monotonic() + 5
            while self.waiters(API) < 1 and time.monotonic() < deadline:
                time.sleep(0.05)
            self.assertEqual(self.waiters(API), 1)
        finally:
            s.close()
        deadline = time.monotonic() + 3
        while self.waiters(API) > 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertEqual(self.waiters(API), 0)

    def test_sigterm_answers_parked_waiters(self):
        api = Api(D)
        aid = self.create("327", api=api)
        path = "/appointments/327/%s?waitFor=completed&timeout=20" % aid
        with concurrent.futures.ThreadPoolExecutor(max_workers=5) as pool:
            futs = [pool.submit(self.get, path, api) for _ in range(5)]
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                text = call(api.port, "GET", "/metrics").raw.decode()
                if metric(text, "appointmentd_appointment_waiters") == 5:
                    break
                time.sleep(0.05)
            t0 = time.monotonic()
            exit_codes = []
            stopper = threading.Thread(target=lambda: exit_codes.append(api.stop()))
            stopper.start()
            replies = [f.result(timeout=15) for f in futs]
            answered = time.monotonic() - t0
            stopper.join(timeout=40)
        self.assertEqual(exit_codes, [0], api.logs()[-3000:])
        self.assertEqual([r.status for r in replies], [200] * 5)
        self.assertTrue(all(r.json["status"] == "pending" for r in replies))
        self.assertLess(answered, 3.0)  # not held until the 20 s timeout
        self.assertFalse(stopper.is_alive())


class DynamoDBFaultTest(Base):
    """DynamoDB failing under a waiter (through the fault proxy): a failed read of the poller
    is tried again at its next poll; the timeout's read failing is 503 with Retry-After."""

    def setUp(self):
        self.proxy = harness.FaultProxy(os.environ["AWS_ENDPOINT_URL_DYNAMODB"])
        self.addCleanup(self.proxy.close)
        self.api = Api(D, env={"AWS_ENDPOINT_URL_DYNAMODB": self.proxy.url})
        self.addCleanup(lambda: self.stop_clean(self.api))

    def test_failed_reads_while_waiting_are_retried(self):
        aid = self.create("330", api=self.api)
        path = "/appointments/330/%s?waitFor=completed&timeout=15" % aid
        with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
            t0 = time.monotonic()
            fut = pool.submit(self.get, path, self.api)
            time.sleep(0.5)  # parked after its first read
            self.proxy.rules({"op": "GetItem", "fault": "503", "count": 12})
            self.set_status(aid, "completed", "completedAt")
            r = fut.result(timeout=30)
            took = time.monotonic() - t0
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["status"], "completed")
        self.assertLess(took, 12.0)
        self.assertEqual(self.proxy.stats()["faulted"], 12)

    def test_timeout_read_failing_is_503(self):
        aid = self.create("331", api=self.api)
        path = "/appointments/331/%s?waitFor=completed&timeout=2" % aid
        with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
            t0 = time.monotonic()
            fut = pool.submit(self.get, path, self.api)
            time.sleep(0.5)
            self.proxy.rules({"op": "GetItem", "fault": "503", "count": -1})
            r = fut.result(timeout=60)
            took = time.monotonic() - t0
        self.proxy.rules()
        self.assertEqual(r.status, 503, r)
        self.assertEqual(r.json["error"]["errorCode"], "SERVICE_UNAVAILABLE")
        self.assertIn("retry-after", r.headers)
        self.assertGreaterEqual(took, 1.9)
        self.assertLess(took, 20.0)
        self.assertEqual(self.get("/appointments/331/%s" % aid, api=self.api).status, 200)


class WaitForCompletionTest(Base):
    """The whole pipeline: the wait ends as the completion daemon completes the item."""

    def test_wait_ends_when_completed(self):
        completion = D.start("appointment-completion")
        try:
            aid = self.create("328")  # no worker yet: pending
            path = "/appointments/328/%s?waitFor=completed&timeout=20" % aid
            with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
                fut = pool.submit(self.get, path)
                anyf = pool.submit(self.get, path.replace("completed", "any-final"))
                time.sleep(1.0)
                self.assertFalse(fut.done())
                worker = D.start("appointment-worker", "--country", "pe")
                try:
                    r = fut.result(timeout=25)
                    got_at = time.time()
                    a = anyf.result(timeout=25)
                finally:
                    self.assertEqual(worker.stop(), 0, worker.logs()[-3000:])
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.json["status"], "completed")
            self.assertIsNotNone(r.json["completedAt"])
            self.assertIsNotNone(r.json["schedule"])
            # answered within a poll or two of the write, not at the timeout
            self.assertLess(got_at - iso_ms(r.json["updatedAt"]), 1.5)
            self.assertEqual(a.json["status"], "completed")
            self.assertEqual(a.headers["etag"], r.headers["etag"])
            fresh = self.get("/appointments/328/%s" % aid)
            self.assertEqual(fresh.json, r.json)
        finally:
            self.assertEqual(completion.stop(), 0, completion.logs()[-3000:])


if __name__ == "__main__":
    unittest.main(verbosity=2)
