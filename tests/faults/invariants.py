"""What the fault suite looks at, straight from the services (never through the proxy, never
through our API): the appointments table in DynamoDB, the country databases in PostgreSQL,
the depth of every queue and DLQ. And the invariants of SPEC §4 over them, per scenario row.
"""
import collections
import os
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "stack"))
import awsraw  # noqa: E402

FINAL = ("completed", "failed", "cancelled")


class World:
    def __init__(self, deployment):
        self.d = deployment
        self.table = "medical-appointment-scheduling-appointments-%s" % deployment.stage
        self.ddb = awsraw.endpoint("AWS_ENDPOINT_URL_DYNAMODB")
        self.sqs = awsraw.Sqs(awsraw.endpoint("AWS_ENDPOINT_URL_SQS"))
        r = self.sqs.call("ListQueues", {"QueueNamePrefix": "medical-appointment-scheduling-"})
        self.queues = {}
        for url in r.get("QueueUrls", []):
            name = url.rsplit("/", 1)[-1]
            if ("-%s" % deployment.stage) in name:
                short = name.replace("medical-appointment-scheduling-appointments-", "")
                self.queues[short.replace("-%s" % deployment.stage, "")] = url
        if len(self.queues) != 2 * (len(deployment.countries) + 2):
            raise RuntimeError("queues of stage %s: %s" % (deployment.stage, sorted(self.queues)))

    def scan(self):
        """Every item of the appointments table: {appointmentId: {...}}."""
        items = {}
        start = None
        while True:
            req = {"TableName": self.table, "ConsistentRead": True,
                   "ProjectionExpression": "appointmentId, insuredId, scheduleId, countryISO, "
                                           "#s, failureReason, createdAt",
                   "ExpressionAttributeNames": {"#s": "status"}}
            if start:
                req["ExclusiveStartKey"] = start
            r = awsraw.json_call(self.ddb, "dynamodb", "DynamoDB_20120810.Scan", req)
            for it in r.get("Items", []):
                a = {k: list(v.values())[0] for k, v in it.items()}
                items[a["appointmentId"]] = a
            start = r.get("LastEvaluatedKey")
            if not start:
                return items

    def depths(self):
        """{queue: visible + in flight + delayed}."""
        out = {}
        for q, url in self.queues.items():
            a = self.sqs.call("GetQueueAttributes", {"QueueUrl": url, "AttributeNames": [
                "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
                "ApproximateNumberOfMessagesDelayed"]})["Attributes"]
            out[q] = sum(int(a.get(k, 0)) for k in (
                "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
                "ApproximateNumberOfMessagesDelayed"))
        return out

    def drain(self, queue):
        """Receives and deletes what a queue holds (after it was reported)."""
        url = self.queues[queue]
        for _ in range(50):
            msgs = self.sqs.receive(url, wait=0, visibility=30)
            if not msgs:
                return
            for m in msgs:
                self.sqs.delete(url, m["ReceiptHandle"])

    def pg(self, cc):
        """(rows {appointment_id: (schedule_id, created_at)}, taken slots {schedule_id})."""
        db = "e2e_%s_%s" % (self.d.stage, cc.lower())
        import harness
        rows = {}
        out = harness.psql(db, "SELECT appointment_id, schedule_id, to_char(created_at AT TIME "
                               "ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') "
                               "FROM appointments WHERE status <> 'cancelled'")
        for line in out.splitlines():
            if line:
                a, s, c = line.split("|")
                rows[a] = (int(s), c)
        taken = {int(s) for s in harness.psql(
            db, "SELECT schedule_id FROM schedules WHERE NOT is_available").split() if s}
        return rows, taken


class Monitor:
    """Scans the table every `period` seconds and remembers when each item was first seen
    in a final status (for the "seconds to quiescence" of each row)."""

    def __init__(self, world, period=2.0):
        self.world = world
        self.period = period
        self.lock = threading.Lock()
        self.final_at = {}
        self.items = {}
        self.errors = 0
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stopped.is_set():
            self.poll()
            self.stopped.wait(self.period)

    def poll(self):
        try:
            items = self.world.scan()
        except Exception:
            with self.lock:
                self.errors += 1
            return None
        now = time.monotonic()
        with self.lock:
            self.items = items
            for aid, a in items.items():
                if a.get("status") in FINAL:
                    self.final_at.setdefault(aid, now)
                else:
                    self.final_at.pop(aid, None)
        return items

    def stop(self):
        self.stopped.set()
        self.thread.join(10)


class RowResult:
    def __init__(self, row):
        self.row = row
        self.keys = 0
        self.accepted = 0
        self.completed = 0
        self.failed = 0
        self.cancelled = 0
        self.duplicates = 0
        self.stuck = 0
        self.lost = 0
        self.unanswered = 0
        self.split_ids = 0
        self.pg = 0
        self.quiesce_s = None
        self.notes = []

    def violations(self):
        return (self.duplicates + self.stuck + self.lost + self.unanswered + self.split_ids +
                self.pg)

    def note(self, msg):
        if len(self.notes) < 6:
            self.notes.append(msg)


def check(world, keys, items, final_at, rows_by_name, countries):
    """Applies the invariants to the keys of the given rows. items: a scan taken at
    quiescence; final_at: appointmentId -> monotonic time first final. Returns
    ({row: RowResult}, PostgreSQL facts that belong to no key, created_at mismatches)."""
    res = {name: RowResult(name) for name in rows_by_name}
    by_insured = collections.defaultdict(list)
    for a in items.values():
        by_insured[a.get("insuredId")].append(a)
    key_of_insured = {k.insured: k for k in keys}
    for k in keys:
        r = res[k.row]
        r.keys += 1
        mine = by_insured.get(k.insured, [])
        ids = k.ids()
        answered = bool(ids)
        if answered:
            r.accepted += 1
        if len(ids) > 1:
            r.split_ids += 1
            r.note("key %s answered %d different appointmentIds" % (k.key, len(ids)))
        cancel_ok = k.cancel is not None and k.cancel[0] in (200, 202)
        for a in mine:
            st = a.get("status")
            if cancel_ok and a["appointmentId"] in ids and st != "cancelled":
                r.stuck += 1
                r.note("%s %s was cancelled (%s) but is %s" % (
                    k.country, a["appointmentId"], k.cancel[0], st))
                continue
            # a DELETE applied whose answer was lost may end cancelled with no 2xx seen
            if st == "cancelled" and k.cancel is None:
                r.lost += 1
                r.note("%s %s is cancelled, but its client never cancelled" % (
                    k.country, a["appointmentId"]))
                continue
            if st == "completed":
                r.completed += 1
            elif st == "failed":
                r.failed += 1
            elif st == "cancelled":
                r.cancelled += 1
            else:
                r.stuck += 1
                r.note("%s %s stays %s" % (k.country, a["appointmentId"], st))
            if a.get("countryISO") != k.country or int(a.get("scheduleId", 0)) != k.schedule:
                r.pg += 1
                r.note("item %s does not match its request" % a["appointmentId"])
        if len(mine) > 1:
            r.duplicates += len(mine) - 1
            r.note("key %s has %d appointments (%s)" % (
                k.key, len(mine), ", ".join(sorted(a.get("status", "?") for a in mine))))
        if answered and not any(a["appointmentId"] in ids for a in mine):
            r.lost += 1
            r.note("key %s was answered %s, which is not in the table" % (k.key, sorted(ids)))
        if not answered and mine:
            r.lost += 1
            r.note("key %s got no appointment (final %s %s) but one exists" % (
                k.key, k.final, k.final_code or ""))
        if answered and k.late is not None and (k.late[0] != 200 or k.late[1] not in ids):
            r.unanswered += 1
            r.note("key %s asked again at the end: %s %s" % (k.key, k.late[0], k.late[2] or ""))
        if not answered and not mine:
            legit = k.twin and k.final == 409 and k.final_code == "SCHEDULE_UNAVAILABLE"
            if not legit:
                r.unanswered += 1
                r.note("key %s ended %s %s after %d attempts" % (
                    k.key, k.final, k.final_code or "", k.attempts))
        for a in mine:
            t = final_at.get(a["appointmentId"])
            end = rows_by_name[k.row].t_end
            if t is not None and end is not None:
                r.quiesce_s = max(r.quiesce_s or 0.0, max(0.0, t - end))
    # PostgreSQL: a row exactly for each processed/completed item, no slot held by a
    # missing, failed, cancelling or cancelled appointment (its live row names it; a slot taken
    # with no live row, e.g. a cancelled row whose slot stayed taken, is a stray below)
    stray = []
    created_mismatch = []
    for cc in countries:
        pg_rows, taken = world.pg(cc)
        holders = {}
        for aid, (sched, created) in pg_rows.items():
            a = items.get(aid)
            if a is not None and a.get("createdAt") != created:
                created_mismatch.append("%s: PostgreSQL created_at %s, createdAt %s" % (
                    aid, created, a.get("createdAt")))
            a = items.get(aid)
            k = key_of_insured.get(a.get("insuredId")) if a else None
            if a is None or a.get("status") not in ("processed", "completed") or \
                    int(a.get("scheduleId", -1)) != sched:
                what = "missing" if a is None else a.get("status")
                msg = "PostgreSQL %s holds slot %d for %s appointment %s" % (cc, sched, what, aid)
                if k is not None:
                    res[k.row].pg += 1
                    res[k.row].note(msg)
                else:
                    stray.append(msg)
            holders.setdefault(sched, []).append(aid)
        for aid, a in items.items():
            if a.get("countryISO") != cc or a.get("status") not in ("processed", "completed"):
                continue
            if aid not in pg_rows:
                k = key_of_insured.get(a.get("insuredId"))
                msg = "%s appointment %s has no PostgreSQL row" % (a.get("status"), aid)
                if k is not None:
                    res[k.row].pg += 1
                    res[k.row].note(msg)
                else:
                    stray.append(msg)
        for sched in taken:
            if sched not in holders:
                stray.append("PostgreSQL %s slot %d is taken by no appointment" % (cc, sched))
        for sched, aids in holders.items():
            if len(aids) > 1:
                stray.append("PostgreSQL %s slot %d held %d times" % (cc, sched, len(aids)))
    return res, stray, created_mismatch
