#!/usr/bin/python3
"""GET /schedules over real HTTP against the local stack (issue 16 part 1, SPEC §3): the
body field by field against PostgreSQL, the order, the filters and the window, pagination
(the appointment list's object), a slot booked by a completed appointment leaves the list
while a pending appointment's slot stays, every validation error, the guard and CORS of the
other API routes, and the country database unreachable (503, the other country unharmed).

Every daemon started here is stopped by pid and must exit 0 (the ASan build)."""
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from test_api import Api, ApiTestCase, ISO_MS, closed_port  # noqa: E402

D = API = None
SEED = 40  # slots per country, all tomorrow (the seed's first day)


def setUpModule():
    global D, API
    D = harness.Deployment(seed_count=SEED)
    try:
        API = Api(D)
    except Exception:
        D.close()
        raise


def tearDownModule():
    if API is not None:
        API.stop()
    D.close()


def db_of(cc):
    return "e2e_%s_%s" % (D.stage, cc.lower())


def free_slots(cc, where="true"):
    """The oracle: the free future slots of cc, in list order, as the API shows them."""
    out = harness.psql(db_of(cc), "SELECT schedule_id, center_id, specialty_id, medic_id,"
                       " to_char(available_at AT TIME ZONE 'UTC',"
                       " 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') FROM schedules WHERE"
                       " country_iso = '%s' AND is_available AND available_at > now() AND (%s)"
                       " ORDER BY available_at, schedule_id" % (cc, where))
    rows = []
    for line in out.splitlines():
        sid, center, spec, medic, date = line.split("|")
        rows.append({"scheduleId": int(sid), "countryISO": cc, "centerId": int(center),
                     "specialtyId": int(spec), "medicId": int(medic), "date": date})
    return rows


def pagination(count, total, limit, offset):
    return {"count": count, "total": total, "limit": limit, "offset": offset,
            "hasMore": offset + limit < total,
            "totalPages": (total + limit - 1) // limit, "currentPage": offset // limit + 1,
            "nextCursor": None}


class SchedulesTest(ApiTestCase):

    def get(self, query, api=None, headers=None):
        return (api or API).call("GET", "/schedules" + query, headers=headers)

    def all_pages(self, query, limit):
        items, offset = [], 0
        while True:
            r = self.get("%s&limit=%d&offset=%d" % (query, limit, offset))
            self.assert_common(r, 200)
            items += r.json["schedules"]
            if not r.json["pagination"]["hasMore"]:
                return items
            offset += limit

    def test_01_listing_body_and_order(self):
        want = free_slots("PE")
        self.assertEqual(len(want), SEED)
        r = self.get("?countryISO=PE")
        self.assert_common(r, 200)
        self.assertEqual(r.headers["content-type"], "application/json; charset=utf-8")
        self.assertEqual(set(r.json), {"schedules", "pagination"})
        self.assertEqual(r.json["schedules"], want[:20])
        self.assertEqual(r.json["pagination"], pagination(20, SEED, 20, 0))
        for s in r.json["schedules"]:
            self.assertRegex(s["date"], ISO_MS)
        keys = [(s["date"], s["scheduleId"]) for s in r.json["schedules"]]
        self.assertEqual(keys, sorted(keys))
        # the seed puts 6 medics on each half hour: ties on date, listed by id
        self.assertEqual(r.json["schedules"][0]["date"], r.json["schedules"][1]["date"])
        # the other country's slots are its own
        cl = self.get("?countryISO=CL&limit=100")
        self.assert_common(cl, 200)
        self.assertEqual(cl.json["schedules"], free_slots("CL"))
        # a past slot and a taken one are not listed
        harness.psql(db_of("PE"), "UPDATE schedules SET available_at = now() - interval"
                     " '1 hour' WHERE schedule_id = 139")
        harness.psql(db_of("PE"), "UPDATE schedules SET is_available = false"
                     " WHERE schedule_id = 138")
        r = self.get("?countryISO=PE&limit=100")
        self.assertEqual([s["scheduleId"] for s in r.json["schedules"]], list(range(100, 138)))
        self.assertEqual(r.json["pagination"]["total"], SEED - 2)

    def test_02_filters_and_window(self):
        for param, col in (("medicId", "medic_id"), ("centerId", "center_id"),
                           ("specialtyId", "specialty_id")):
            with self.subTest(param=param):
                want = free_slots("PE", "%s = 2" % col)
                self.assertTrue(want)
                r = self.get("?countryISO=PE&%s=2&limit=100" % param)
                self.assert_common(r, 200)
                self.assertEqual(r.json["schedules"], want)
                self.assertEqual(r.json["pagination"]["total"], len(want))
        want = free_slots("PE", "medic_id = 2 AND center_id = %d" % free_slots(
            "PE", "medic_id = 2")[0]["centerId"])
        r = self.get("?countryISO=PE&medicId=2&centerId=%d" % want[0]["centerId"])
        self.assertEqual(r.json["schedules"], want)
        r = self.get("?countryISO=PE&medicId=999")
        self.assert_common(r, 200)
        self.assertEqual(r.json, {"schedules": [], "pagination": pagination(0, 0, 20, 0)})
        # an inclusive window: from the third slot's time to the ninth's
        every = free_slots("PE")
        lo, hi = every[6]["date"], every[12]["date"]
        want = [s for s in every if lo <= s["date"] <= hi]
        r = self.get("?countryISO=PE&from=%s&to=%s&limit=100" % (lo, hi))
        self.assert_common(r, 200)
        self.assertEqual(r.json["schedules"], want)
        self.assertEqual(r.json["pagination"]["total"], len(want))
        # a bare day for to: the whole day (the seed's slots are all tomorrow)
        r = self.get("?countryISO=PE&to=%s&limit=100" % lo[:10])
        self.assertEqual(r.json["schedules"], every)
        # the default window ends 30 days out; a window in the past is empty, not an error
        r = self.get("?countryISO=PE&from=2020-01-01&to=2020-01-31")
        self.assert_common(r, 200)
        self.assertEqual(r.json["schedules"], [])
        self.assertEqual(r.json["pagination"]["total"], 0)

    def test_03_pagination(self):
        every = free_slots("PE")
        n = len(every)
        self.assertEqual(self.all_pages("?countryISO=PE", 7), every)
        r = self.get("?countryISO=PE&limit=7&offset=7")
        self.assertEqual(r.json["schedules"], every[7:14])
        self.assertEqual(r.json["pagination"], pagination(7, n, 7, 7))
        self.assertEqual(r.json["pagination"]["currentPage"], 2)
        last = (n - 1) // 7 * 7
        r = self.get("?countryISO=PE&limit=7&offset=%d" % last)
        self.assertEqual(r.json["pagination"], pagination(n - last, n, 7, last))
        self.assertFalse(r.json["pagination"]["hasMore"])
        r = self.get("?countryISO=PE&limit=100&offset=1000000")
        self.assert_common(r, 200)
        self.assertEqual(r.json, {"schedules": [], "pagination": pagination(0, n, 100, 1000000)})

    def test_04_completed_booking_leaves_the_list_pending_stays(self):
        # PE: a worker and the completion daemon book and complete
        worker = D.start("appointment-worker", "--country", "pe")
        completion = D.start("appointment-completion")
        try:
            r = API.post("4242", 101, "PE")
            self.assert_common(r, 201)
            aid = r.json["appointmentId"]
            # CL has no worker: its appointment stays pending, its slot listed
            pending = API.post("4243", 101, "CL")
            self.assert_common(pending, 201)
            deadline = time.monotonic() + 60
            status = None
            while time.monotonic() < deadline and status != "completed":
                lst = API.call("GET", "/appointments/04242").json["appointments"]
                status = next((a["status"] for a in lst if a["appointmentId"] == aid), None)
                time.sleep(0.3)
            self.assertEqual(status, "completed")
            ids = [s["scheduleId"] for s in self.get("?countryISO=PE&limit=100").json["schedules"]]
            self.assertNotIn(101, ids)
            self.assertIn(100, ids)
            self.assertEqual(ids, [s["scheduleId"] for s in free_slots("PE")])
            lst = API.call("GET", "/appointments/04243").json["appointments"]
            self.assertEqual([a["status"] for a in lst], ["pending"])
            ids = [s["scheduleId"] for s in self.get("?countryISO=CL&limit=100").json["schedules"]]
            self.assertIn(101, ids)
        finally:
            for d in (worker, completion):
                D.daemons.remove(d)
                self.assertEqual(d.stop(), 0)

    def test_05_validation_errors(self):
        rows = [
            ("", {"countryISO": ["required"]}),
            ("?limit=5", {"countryISO": ["required"]}),
            ("?countryISO=pe", {"countryISO": ["not_allowed"]}),
            ("?countryISO=AR", {"countryISO": ["not_allowed"]}),
            ("?countryISO=PE&countryISO=CL", {"countryISO": ["duplicate_field"]}),
            ("?countryISO=PE&from=2027-01-02&to=2027-01-01", {"from": ["invalid_range"]}),
            ("?countryISO=PE&from=tomorrow", {"from": ["invalid_format"]}),
            ("?countryISO=PE&to=", {"to": ["invalid_format"]}),
            ("?countryISO=PE&centerId=0", {"centerId": ["out_of_range"]}),
            ("?countryISO=PE&specialtyId=1.5", {"specialtyId": ["invalid_format"]}),
            ("?countryISO=PE&medicId=2147483648", {"medicId": ["out_of_range"]}),
            ("?countryISO=PE&limit=0", {"limit": ["out_of_range"]}),
            ("?countryISO=PE&limit=101", {"limit": ["out_of_range"]}),
            ("?countryISO=PE&offset=-1", {"offset": ["invalid_format"]}),
            ("?countryISO=PE&offset=1000001", {"offset": ["out_of_range"]}),
            ("?countryISO=PE&cursor=x", {"unknown": ["unknown_field"]}),
            ("?countryISO=PE&from=" + "1" * 65, {"from": ["too_long"]}),
            ("?countryISO=XX&limit=0&zz=1", {"countryISO": ["not_allowed"],
                                             "limit": ["out_of_range"],
                                             "unknown": ["unknown_field"]}),
            ("?" + "&".join("p%d=1" % i for i in range(40)), {"query": ["too_many"]}),
        ]
        for query, fields in rows:
            with self.subTest(query=query[:60]):
                self.assert_error(self.get(query), "VALIDATION_ERROR", fields)

    def test_06_routes_guard_and_cors(self):
        r = API.call("POST", "/schedules", body={})
        self.assert_error(r, "METHOD_NOT_ALLOWED")
        self.assertEqual(r.headers.get("allow"), "GET,OPTIONS")
        self.assert_error(API.call("GET", "/schedules/100?countryISO=PE"), "ROUTE_NOT_FOUND")
        r = API.call("OPTIONS", "/schedules", headers={
            "Origin": "https://app.example", "Access-Control-Request-Method": "GET"})
        self.assert_common(r, 204)
        key = "k3y-" + harness.rand(20)
        path = os.path.join(D.dir, "schedules-keys")
        with open(path, "w") as f:
            f.write(key + "\n")
        api = Api(D, "[api]\nkeys_file = %s\nrate_limit = 1\nburst = 2\n"
                  "per_client_rate_limit = 1\nper_client_burst = 2\n" % path)
        try:
            self.assert_error(self.get("?countryISO=PE", api), "FORBIDDEN")
            good = {"X-Api-Key": key}
            self.assert_common(self.get("?countryISO=PE", api, good), 200)
            self.assert_common(self.get("?countryISO=PE", api, good), 200)
            self.assert_error(self.get("?countryISO=PE", api, good), "RATE_LIMIT_EXCEEDED")
        finally:
            self.stop_clean(api)

    def test_07_country_database_unreachable(self):
        api = Api(D, "[country PE]\ndb_port = %d\n" % closed_port())
        try:
            for _ in range(2):  # the first attempt, then the connection's backoff
                t0 = time.monotonic()
                r = self.get("?countryISO=PE", api)
                self.assert_error(r, "SERVICE_UNAVAILABLE")
                self.assertEqual(r.headers["retry-after"], "5")
                self.assertLess(time.monotonic() - t0, 3)
            # validation still comes first, and the other country is served
            self.assert_error(self.get("?countryISO=PE&limit=0", api), "VALIDATION_ERROR",
                              {"limit": ["out_of_range"]})
            self.assert_common(self.get("?countryISO=CL", api), 200)
            self.assertEqual(api.call("GET", "/healthz").status, 200)
            self.assertIn("GET /schedules", api.logs())
        finally:
            self.stop_clean(api)


if __name__ == "__main__":
    unittest.main(verbosity=2)
