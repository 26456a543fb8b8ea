#!/usr/bin/python3
"""GET /appointments/{insuredId} at any size (issue 13, SPEC §3): a page costs O(page)
DynamoDB reads whatever the insured's total. Proven by what the API asks DynamoDB
(appointmentd_aws_calls_total: Query and GetItem calls per GET), not by timing: one Query
for a list that fits its page, one Query plus one GetItem of the insured's counters for a
heavy one at any cursor depth; `pagination.nextCursor` walks the whole list in the order of
offset pages; the counters follow every create and status change through the pipeline.

Every daemon started here is stopped by pid and must exit 0 (the ASan build)."""
import os
import sys
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from test_api import Api, ddb_client, metric, table_of  # noqa: E402

CALLS = "appointmentd_aws_calls_total"
STATUSES = ("pending", "processed", "completed", "failed")
D = API = PAGED = None


def setUpModule():
    global D, API, PAGED
    D = harness.Deployment(seed_count=20)
    try:
        API = Api(D)
        PAGED = Api(D, "[api]\nlist_page_size = 2\n")  # Query pages of 2 items
    except Exception:
        D.close()
        raise


def tearDownModule():
    for api in (API, PAGED):
        if api is not None:
            api.stop()
    D.close()


def stamp(i):
    """createdAt of item i, newest last; items 6..9 share one (a run of ties)."""
    j = 6 if 6 <= i <= 9 else i
    return "2026-02-%02dT%02d:%02d:00.000Z" % (1 + j // 1440, (j // 60) % 24, j % 60)


def put_items(insured, n, counters=True):
    """n items of insured straight into the table (statuses in turn) and, as the API
    would have kept them, its counters item. Returns them newest first, as listed."""
    ddb = ddb_client()
    table = table_of(D)
    items = []
    for i in range(n):
        st = STATUSES[i % 4]
        aid = str(uuid.uuid4())
        items.append({"appointmentId": {"S": aid}, "insuredId": {"S": insured},
                      "scheduleId": {"N": str(100 + i)}, "countryISO": {"S": "PE"},
                      "status": {"S": st}, "createdAt": {"S": stamp(i)},
                      "updatedAt": {"S": stamp(i)}, "processedAt": {"NULL": True}})
    for k in range(0, n, 25):
        batch = [{"PutRequest": {"Item": it}} for it in items[k:k + 25]]
        while batch:
            left = ddb.batch_write_item(RequestItems={table: batch})["UnprocessedItems"]
            batch = left.get(table, [])
    if counters:
        counts = {"all": {"N": str(n)}}
        for st in STATUSES:
            counts[st] = {"N": str(sum(1 for it in items if it["status"]["S"] == st))}
        counts["key"] = {"S": insured}
        ddb.put_item(TableName=table_of(D, "counters"), Item=counts)
    view = [(it["createdAt"]["S"], it["appointmentId"]["S"], it["status"]["S"]) for it in items]
    view.sort(reverse=True)
    return view


class Calls:
    """DynamoDB calls the API made between two points (its own /metrics)."""

    def __init__(self, api):
        self.api = api
        self.before = self.read()

    def read(self):
        text = self.api.metrics()
        return {op: metric(text, CALLS, service="dynamodb", operation=op, outcome="ok")
                for op in ("Query", "GetItem")}

    def delta(self):
        now = self.read()
        return {op: int(now[op] - self.before[op]) for op in now}


class ListingTest(unittest.TestCase):
    def get(self, api, insured, query=""):
        r = api.call("GET", "/appointments/%s%s" % (insured, query))
        self.assertEqual(r.status, 200, r)
        return r.json

    def walk(self, api, insured, query, want):
        """Follows nextCursor from the first page; checks each page against want."""
        got, pages, cursor = [], 0, None
        sep = "&" if query else ""
        while True:
            q = query + ("%scursor=%s" % (sep, cursor) if cursor else "")
            body = self.get(api, insured, "?" + q if q else "")
            p = body["pagination"]
            self.assertEqual(p["offset"], len(got), p)
            self.assertEqual(p["total"], len(want), p)
            self.assertEqual(body["meta"]["totalFiltered"], len(want))
            got += [a["appointmentId"] for a in body["appointments"]]
            pages += 1
            self.assertEqual(p["hasMore"], len(got) < len(want), p)
            cursor = p["nextCursor"]
            if not p["hasMore"]:
                self.assertIsNone(cursor)
                break
            self.assertTrue(cursor)
        self.assertEqual(got, want)
        return pages

    def test_cursor_walks_every_page_in_order(self):
        view = put_items("05001", 43)
        ids = [v[1] for v in view]
        for api in (API, PAGED):
            for limit in (1, 4, 20):
                with self.subTest(api=api.name, limit=limit):
                    pages = self.walk(api, "05001", "limit=%d" % limit, ids)
                    self.assertEqual(pages, -(-len(ids) // limit))
            with self.subTest(api=api.name, filter="status"):
                want = [v[1] for v in view if v[2] == "failed"]
                self.walk(api, "05001", "status=failed&limit=3", want)
            with self.subTest(api=api.name, filter="dates"):
                lo, hi = stamp(3), stamp(30)
                want = [v[1] for v in view if lo <= v[0] <= hi]
                self.walk(api, "05001", "startDate=%s&endDate=%s&limit=5" % (lo, hi), want)
        # a cursor and an offset together, or a cursor made up: 400
        for q, field, code in (("?cursor=1.1.abc&offset=0", "offset", "not_allowed"),
                               ("?cursor=abc", "cursor", "invalid_format"),
                               ("?cursor=1.99999999999999999.abc", "cursor", "invalid_format")):
            r = API.call("GET", "/appointments/05001" + q)
            self.assertEqual(r.status, 400, r)
            self.assertEqual([e["code"] for e in r.json["error"]["fields"][field]], [code])

    def test_a_page_costs_one_query_at_any_size(self):
        small = put_items("05002", 12)
        heavy = put_items("05003", 1500)
        # a list that fits its page: one Query, no counters, no COUNT
        c = Calls(API)
        body = self.get(API, "05002")
        self.assertEqual(c.delta(), {"Query": 1, "GetItem": 0})
        self.assertEqual(body["total"], 12)
        self.assertEqual([a["appointmentId"] for a in body["appointments"]],
                         [v[1] for v in small])
        # a heavy one: one Query and the counters, first page and deep through the cursor
        c = Calls(API)
        body = self.get(API, "05003")
        self.assertEqual(c.delta(), {"Query": 1, "GetItem": 1})
        self.assertEqual((body["total"], body["pagination"]["totalPages"]), (1500, 75))
        self.assertEqual([a["appointmentId"] for a in body["appointments"]],
                         [v[1] for v in heavy[:20]])
        cursor = body["pagination"]["nextCursor"]
        for _ in range(3):
            c = Calls(API)
            body = self.get(API, "05003", "?limit=100&cursor=" + cursor)
            self.assertEqual(c.delta(), {"Query": 1, "GetItem": 1})
            cursor = body["pagination"]["nextCursor"]
        self.assertEqual(body["pagination"]["offset"], 220)
        self.assertEqual([a["appointmentId"] for a in body["appointments"]],
                         [v[1] for v in heavy[220:320]])
        # near the end: the walk reaches it, and knows the total without the counters
        body = self.get(API, "05003", "?offset=1490")
        self.assertEqual([a["appointmentId"] for a in body["appointments"]],
                         [v[1] for v in heavy[1490:]])
        self.assertEqual(body["total"], 1500)
        # status filter: its counter, and the counters' "all" as totalAvailable
        c = Calls(API)
        body = self.get(API, "05003", "?status=completed&limit=10")
        self.assertEqual(c.delta()["GetItem"], 1)
        self.assertEqual(body["total"], 375)
        self.assertEqual(body["meta"]["totalAvailable"], 1500)
        self.assertEqual([a["appointmentId"] for a in body["appointments"]],
                         [v[1] for v in heavy if v[2] == "completed"][:10])
        # offset stays, at its documented cost: it reads what it skips (1000 per Query)
        c = Calls(API)
        body = self.get(API, "05003", "?offset=1200&limit=20")
        self.assertEqual(c.delta(), {"Query": 2, "GetItem": 1})
        self.assertEqual([a["appointmentId"] for a in body["appointments"]],
                         [v[1] for v in heavy[1200:1220]])

    def test_the_last_page_by_cursor_reads_its_totals(self):
        # A cursor's position is what the list was when its page was served: items created
        # since (newest first, so before the cursor) or a position altered by the client must
        # not make the totals of the last page up. It reads the counters, one GetItem.
        ddb = ddb_client()
        view = put_items("05006", 30)
        first = self.get(API, "05006", "?limit=20")
        cursor = first["pagination"]["nextCursor"]
        newer = str(uuid.uuid4())
        ddb.put_item(TableName=table_of(D), Item={
            "appointmentId": {"S": newer}, "insuredId": {"S": "05006"},
            "scheduleId": {"N": "150"}, "countryISO": {"S": "PE"}, "status": {"S": "pending"},
            "createdAt": {"S": "2026-03-01T00:00:00.000Z"},
            "updatedAt": {"S": "2026-03-01T00:00:00.000Z"}, "processedAt": {"NULL": True}})
        ddb.update_item(TableName=table_of(D, "counters"), Key={"key": {"S": "05006"}},
                        UpdateExpression="ADD #a :one, #p :one",
                        ExpressionAttributeNames={"#a": "all", "#p": "pending"},
                        ExpressionAttributeValues={":one": {"N": "1"}})
        pos, rest = cursor.split(".", 1)
        self.assertEqual(pos, "20")
        for c in (cursor, "500." + rest):
            with self.subTest(cursor=c):
                calls = Calls(API)
                body = self.get(API, "05006", "?limit=20&cursor=" + c)
                self.assertEqual(calls.delta(), {"Query": 1, "GetItem": 1})
                self.assertEqual([a["appointmentId"] for a in body["appointments"]],
                                 [v[1] for v in view[20:]])
                p = body["pagination"]
                self.assertEqual((body["total"], p["total"], p["totalPages"], p["hasMore"]),
                                 (31, 31, 2, False), p)
                self.assertEqual(body["meta"]["totalFiltered"], 31)
        # with a status filter, the same from that status's counter
        body = self.get(API, "05006", "?status=pending&limit=5")
        want = [v[1] for v in view if v[2] == "pending"]
        body = self.get(API, "05006", "?status=pending&limit=5&cursor="
                        + body["pagination"]["nextCursor"])
        self.assertEqual([a["appointmentId"] for a in body["appointments"]], want[4:])
        self.assertEqual((body["total"], body["meta"]["totalAvailable"]), (9, 31))

    def test_without_counters_the_totals_are_counted(self):
        # items older than the counters (none kept for them): COUNT, as before
        view = put_items("05004", 30, counters=False)
        body = self.get(API, "05004", "?limit=5")
        self.assertEqual(body["total"], 30)
        self.assertEqual(body["pagination"]["totalPages"], 6)
        self.assertEqual([a["appointmentId"] for a in body["appointments"]],
                         [v[1] for v in view[:5]])

    def test_counters_follow_the_pipeline(self):
        d = harness.Deployment(seed_count=20)
        try:
            d.start_all()
            made = []
            for sched in (100, 101, 102):
                code, _, body, _ = d.post("5005", sched, "PE")
                self.assertEqual(code, 201, body)
                made.append(body["appointmentId"])
            d.wait_status("05005", made, "completed", timeout=60)
            item = ddb_client().get_item(TableName=table_of(d, "counters"),
                                         Key={"key": {"S": "05005"}},
                                         ConsistentRead=True)["Item"]
            got = {k: int(v["N"]) for k, v in item.items() if "N" in v}
            self.assertEqual(got, {"all": 3, "pending": 0, "processed": 0, "completed": 3})
            code, _, body, _ = d.list("5005", "?limit=1")
            self.assertEqual((code, body["total"]), (200, 3))
        finally:
            d.close()


if __name__ == "__main__":
    unittest.main()
