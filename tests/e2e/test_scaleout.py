#!/usr/bin/python3
"""Scale-out on one truth (issue 14): three API processes (one on its own port, two sharing
one port through SO_REUSEPORT), two workers per country and two completion daemons on one
local stack. Every shared fact lives in DynamoDB, SQS and PostgreSQL, so more processes
must change no answer: one Idempotency-Key sent to every API at once is one appointment and
one answer; a daily quota of Q is Q across all APIs; one slot booked through two APIs is one
booking; kill -9 of an API and of a worker per country mid-load loses and doubles nothing
for clients that retry on another API. The token bucket is per process (docs/scaling.md)
and tested as such. On a shared port each API's watchdog self-probe counts only its own
answer, whichever sibling the kernel hands a probe to.

Everything runs on loopback, bounded in count and time; every process started here is
stopped by pid (kill -9 ones are reaped)."""
import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

D = None
ANY = 0  # a port value meaning "pick one" in ApiProc


def call(port, method, path, body=None, headers=None, timeout=60):
    """One request on its own connection: (status, lower-case headers, parsed body)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
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


class ApiProc:
    """One appointment-api on deployment D with its own config (extra appended), port and
    log file; watchdog_usec set means it runs under a watchdog as systemd would."""

    def __init__(self, port=ANY, extra="", env=None, watchdog_usec=None, listen_fd=None):
        self.port = port or harness.free_port()
        self.config = os.path.join(D.dir, "api-%s.conf" % harness.rand(6))
        with open(self.config, "w") as f:
            f.write(D.config_text(extra + "\n[api]\nlisten = 127.0.0.1:%d\n" % self.port))
        self.notify = harness.NotifySocket(os.path.join(D.dir, "so-" + harness.rand(6)))
        self.log_path = os.path.join(D.dir, "api-%s.log" % harness.rand(6))
        self.log = open(self.log_path, "a")
        e = dict(D.env, **(env or {}))
        e["NOTIFY_SOCKET"] = self.notify.path
        e.pop("WATCHDOG_USEC", None)
        if watchdog_usec:
            e["WATCHDOG_USEC"] = str(watchdog_usec)
        argv = [harness.binary("appointment-api"), "--config", self.config]
        pass_fds = ()
        if listen_fd is not None:
            argv, e, pass_fds = harness.socket_activated(argv, e, [listen_fd])
        self.proc = subprocess.Popen(argv, env=e, stdout=self.log, stderr=self.log,
                                     pass_fds=pass_fds, start_new_session=True)
        self.notify.wait_for("READY=1", proc=self.proc)

    def pings(self):
        with self.notify.lock:
            return sum("WATCHDOG=1" in m for m in self.notify.messages)

    def logs(self):
        with open(self.log_path) as f:
            return f.read()

    def stop(self):
        """SIGTERM, then the exit status (a kill -9'd one reports -9)."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.notify.close()
        self.log.close()
        return self.proc.returncode


def setUpModule():
    global D
    D = harness.Deployment(seed_count=400)


def tearDownModule():
    if D is not None:
        D.close()


def items_of(insured):
    """Every item of insuredId in the table, straight from DynamoDB (its insuredId index)."""
    ddb = harness.aws_client("dynamodb")
    r = ddb.query(TableName="medical-appointment-scheduling-appointments-%s" % D.stage,
                  IndexName="insuredId-createdAt-index",
                  KeyConditionExpression="insuredId = :i",
                  ExpressionAttributeValues={":i": {"S": insured}})
    return [{k: list(v.values())[0] for k, v in it.items()} for it in r["Items"]]


def wait_final(insureds, timeout=90):
    """Waits until every item of these insuredIds is completed or failed; returns
    {insured: [items]}; fails the test with what is still open."""
    deadline = time.monotonic() + timeout
    while True:
        out = {i: items_of(i) for i in insureds}
        open_ = {i: [a["status"] for a in v] for i, v in out.items()
                 if any(a["status"] not in ("completed", "failed") for a in v)}
        if not open_:
            return out
        if time.monotonic() > deadline:
            raise AssertionError("not final after %d s: %r" % (timeout, open_))
        time.sleep(0.5)


class Fleet(unittest.TestCase):
    """A: own port; B and C: one port with reuse_port = true. Two workers per country and
    two completion daemons behind them."""

    @classmethod
    def setUpClass(cls):
        cls.procs = []
        try:
            cls.a = cls.api()
            shared = harness.free_port()
            cls.b = cls.api(port=shared, extra="[api]\nreuse_port = true\n")
            cls.c = cls.api(port=shared, extra="[api]\nreuse_port = true\n")
            cls.shared = shared
            cls.workers = {cc: [D.start("appointment-worker", "--country", cc.lower())
                                for _ in range(2)] for cc in D.countries}
            cls.completions = [D.start("appointment-completion") for _ in range(2)]
        except Exception:
            cls.tearDownClass()
            raise

    @classmethod
    def api(cls, **kw):
        p = ApiProc(**kw)
        cls.procs.append(p)
        return p

    @classmethod
    def tearDownClass(cls):
        for p in cls.procs:
            p.stop()
        for d in list(D.daemons):
            d.stop()
        D.daemons = []

    def ports(self):
        return [self.a.port, self.shared, self.shared]

    def test_1_same_key_on_every_api_at_once(self):
        """Three POSTs with one key, one per API, released together: one appointment, the
        same appointmentId in every answer (201 once, 200 replayed otherwise)."""
        for n in range(4):
            insured = "6100%d" % n
            key = "so-key-" + harness.rand(12)
            body = {"insuredId": insured, "scheduleId": 120 + n, "countryISO": "PE"}
            answers = [None] * 3
            go = threading.Barrier(3)

            def post(i, port):
                go.wait()
                answers[i] = call(port, "POST", "/appointments", body,
                                  {"Idempotency-Key": key})
            ts = [threading.Thread(target=post, args=(i, p)) for i, p in enumerate(self.ports())]
            for t in ts:
                t.start()
            for t in ts:
                t.join(timeout=90)
            statuses = sorted(a[0] for a in answers)
            self.assertEqual(statuses, [200, 200, 201], answers)
            ids = {a[2]["appointmentId"] for a in answers}
            self.assertEqual(len(ids), 1, answers)
            self.assertEqual([a["appointmentId"] for a in items_of(insured)], list(ids))
        wait_final(["6100%d" % n for n in range(4)])

    def test_2_one_slot_through_two_apis(self):
        """Two people book slot 140 at once, through A and through the shared port: exactly
        one completed, the other failed (schedule_unavailable); PostgreSQL books it once."""
        answers = {}
        go = threading.Barrier(2)

        def post(insured, port):
            go.wait()
            answers[insured] = call(port, "POST", "/appointments",
                                    {"insuredId": insured, "scheduleId": 140,
                                     "countryISO": "CL"})
        ts = [threading.Thread(target=post, args=("62001", self.a.port)),
              threading.Thread(target=post, args=("62002", self.shared))]
        for t in ts:
            t.start()
        for t in ts:
            t.join(timeout=90)
        self.assertEqual([answers[i][0] for i in ("62001", "62002")], [201, 201], answers)
        final = wait_final(["62001", "62002"])
        statuses = sorted(final[i][0]["status"] for i in ("62001", "62002"))
        self.assertEqual(statuses, ["completed", "failed"])
        loser = [final[i][0] for i in final if final[i][0]["status"] == "failed"][0]
        self.assertEqual(loser.get("failureReason"), "schedule_unavailable")
        self.assertEqual(int(D.db_rows("CL", "schedule_id = 140")), 1)

    def test_3_shared_port_spreads_connections(self):
        """The kernel hands connections on the shared port to both B and C."""
        for i in range(60):
            st, _, _ = call(self.shared, "GET", "/appointments/63000",
                            headers={"X-Request-Id": "spread-%d" % i})
            self.assertEqual(st, 200)
        nb = self.b.logs().count('"spread-')
        nc = self.c.logs().count('"spread-')
        self.assertEqual(nb + nc, 60, (nb, nc))
        self.assertGreater(nb, 0, "B got no connection on the shared port")
        self.assertGreater(nc, 0, "C got no connection on the shared port")

    def test_9_kill9_mid_load(self):
        """40 clients, each its own key and slot, spread over the APIs and retrying on
        another API on no answer or a 5xx; mid-load kill -9 of A and of one worker per
        country. Every client ends with one appointmentId, each is exactly one item that
        ends completed, and each country's PostgreSQL holds one row per appointment."""
        n_clients = 40
        results = {}
        ports = self.ports()

        def client(n):
            insured = "64%03d" % n
            cc = "PE" if n % 2 == 0 else "CL"
            body = {"insuredId": insured, "scheduleId": 200 + n, "countryISO": cc}
            key = "kill-%d-%s" % (n, harness.rand(8))
            ids, tries = set(), 0
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                port = ports[(n + tries) % len(ports)]
                tries += 1
                try:
                    st, _, doc = call(port, "POST", "/appointments", body,
                                      {"Idempotency-Key": key}, timeout=45)
                except (OSError, http.client.HTTPException):
                    time.sleep(0.2)
                    continue
                if st in (200, 201):
                    ids.add(doc["appointmentId"])
                    break
                if st < 500 and st not in (429, 409):
                    break
                time.sleep(0.3)
            results[n] = (insured, cc, ids, tries)

        ts = [threading.Thread(target=client, args=(n,)) for n in range(n_clients)]
        for i, t in enumerate(ts):
            t.start()
            if i == n_clients // 2:
                self.a.proc.kill()
                for cc in D.countries:
                    self.workers[cc][0].proc.kill()
            time.sleep(0.05)
        for t in ts:
            t.join(timeout=150)
        self.a.proc.wait()
        self.assertEqual(len(results), n_clients)
        for n, (insured, cc, ids, tries) in results.items():
            self.assertEqual(len(ids), 1, "client %d: %r after %d tries" % (n, ids, tries))
        final = wait_final([r[0] for r in results.values()], timeout=120)
        for n, (insured, cc, ids, _) in results.items():
            got = final[insured]
            self.assertEqual([a["appointmentId"] for a in got], list(ids), insured)
            self.assertEqual(got[0]["status"], "completed", got)
        for cc in D.countries:
            mine = [r for r in results.values() if r[1] == cc]
            rows = D.db_rows(cc, "schedule_id BETWEEN 200 AND %d" % (200 + n_clients))
            self.assertEqual(int(rows), len(mine), cc)
            dupes = harness.psql("e2e_%s_%s" % (D.stage, cc.lower()),
                                 "SELECT appointment_id FROM appointments GROUP BY "
                                 "appointment_id HAVING count(*) > 1")
            self.assertEqual(dupes.strip(), "", cc)


class Guards(unittest.TestCase):
    """What is shared (the quota, in DynamoDB) and what is not (the token bucket)."""

    def setUp(self):
        self.procs = []

    def tearDown(self):
        for p in self.procs:
            p.stop()

    def api(self, **kw):
        p = ApiProc(**kw)
        self.procs.append(p)
        return p

    def test_quota_is_global(self):
        """A key with a daily quota of 6: 18 concurrent requests spread over three APIs get
        exactly 6 answers and 12 QUOTA_EXCEEDED, whichever API each hits."""
        key = "so-quota-" + harness.rand(20)
        path = os.path.join(D.dir, "keys-" + harness.rand(4))
        with open(path, "w") as f:
            f.write(key + "\n")
        extra = "[api]\nkeys_file = %s\nkey_quota_per_day = 6\n" % path
        apis = [self.api(extra=extra) for _ in range(3)]
        answers = []
        lock = threading.Lock()
        go = threading.Barrier(18)

        def get(i):
            go.wait()
            r = call(apis[i % 3].port, "GET", "/appointments/65000", headers={"X-Api-Key": key})
            with lock:
                answers.append((i % 3, r[0], (r[2] or {}).get("error", {}).get("errorCode")))
        ts = [threading.Thread(target=get, args=(i,)) for i in range(18)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(timeout=60)
        ok = [a for a in answers if a[1] == 200]
        refused = [a for a in answers if a[1] == 429 and a[2] == "QUOTA_EXCEEDED"]
        self.assertEqual((len(ok), len(refused)), (6, 12), answers)
        # and the next one is refused on every API
        for a in apis:
            st, _, doc = call(a.port, "GET", "/appointments/65000", headers={"X-Api-Key": key})
            self.assertEqual((st, doc["error"]["errorCode"]), (429, "QUOTA_EXCEEDED"))

    def test_rate_limit_is_per_process(self):
        """rate_limit/burst is a token bucket per process (docs/scaling.md): two APIs with
        burst 3 and a refill of 1/s each let 3 requests through at once, so together 6 (the
        per-caller buckets are per process too; set as large here so the process's binds)."""
        extra = ("[api]\nrate_limit = 1\nburst = 3\nper_client_rate_limit = 1\n"
                 "per_client_burst = 3\n")
        apis = [self.api(extra=extra) for _ in range(2)]
        for a in apis:
            got = [call(a.port, "GET", "/appointments/66000")[0] for _ in range(4)]
            self.assertEqual(got, [200, 200, 200, 429], got)


class RollingStop(unittest.TestCase):
    """A rolling restart behind a load balancer: on SIGTERM with shutdown_delay_ms, /readyz
    turns 503 at once while every other route is still served, then the listener closes
    and the process drains and exits 0 (docs/operations.md)."""

    def test_readyz_flips_before_the_listener_closes(self):
        api = ApiProc(extra="[api]\nshutdown_delay_ms = 2000\n")
        try:
            deadline = time.monotonic() + 15
            while call(api.port, "GET", "/readyz")[0] != 200:
                self.assertLess(time.monotonic(), deadline, "never ready")
                time.sleep(0.2)
            t0 = time.monotonic()
            api.proc.terminate()
            time.sleep(0.3)
            st, headers, doc = call(api.port, "GET", "/readyz")
            self.assertEqual((st, doc), (503, {"status": "stopping"}))
            self.assertIn("retry-after", headers)
            self.assertEqual(call(api.port, "GET", "/appointments/68000")[0], 200)
            st, _, doc = call(api.port, "POST", "/appointments",
                              {"insuredId": "68000", "scheduleId": 150, "countryISO": "PE"})
            self.assertEqual(st, 201, doc)
            self.assertIsNone(api.proc.poll(), "exited before its shutdown delay")
            self.assertEqual(api.proc.wait(timeout=30), 0, api.logs()[-2000:])
            self.assertGreaterEqual(time.monotonic() - t0, 2.0)
            self.assertIn("stopping: not ready, serving 2000 ms more", api.logs())
        finally:
            api.stop()


class SharedPortProbe(unittest.TestCase):
    """Two APIs on one SO_REUSEPORT port, each under a 4 s watchdog, each with one HTTP
    thread. The kernel may hand an API's self-probe to its sibling: a sibling's answer
    must not count as a sign of life, and a stuck sibling must not hold the probe. The
    stuck API's AWS budget outlasts the proxy's 20 s hold, so its one thread stays in its
    first POST for the whole window: with the default 3 s it answered 503 every 3 s and
    served its own probe in between now and then (a ping the test took for a sibling's
    answer, seen under CPU starvation)."""

    def setUp(self):
        self.procs = []
        self.proxy = harness.FaultProxy(os.environ["AWS_ENDPOINT_URL_DYNAMODB"])
        self.port = harness.free_port()
        extra = "[api]\nreuse_port = true\nthreads = 1\n"
        self.stuck = ApiProc(port=self.port, extra=extra + "aws_budget_ms = 30000\n",
                             watchdog_usec=4000000,
                             env={"AWS_ENDPOINT_URL_DYNAMODB": self.proxy.url})
        self.procs.append(self.stuck)
        self.healthy = ApiProc(port=self.port, extra=extra, watchdog_usec=4000000)
        self.procs.append(self.healthy)
        self.stuck.notify.wait_for("WATCHDOG=1", timeout=10)
        self.healthy.notify.wait_for("WATCHDOG=1", timeout=10)

    def tearDown(self):
        self.proxy.rules()
        for p in self.procs:
            p.stop()
        self.proxy.close()

    def post_quietly(self, n):
        try:
            call(self.port, "POST", "/appointments",
                 {"insuredId": "67%03d" % n, "scheduleId": 300 + n, "countryISO": "PE"},
                 timeout=40)
        except (OSError, http.client.HTTPException):
            pass

    def test_probes_count_only_their_own_answer(self):
        self.proxy.rules({"op": "TransactWriteItems", "fault": "slow:20000", "count": -1})
        posts = [threading.Thread(target=self.post_quietly, args=(n,), daemon=True)
                 for n in range(12)]
        for t in posts:
            t.start()
        # some POSTs landed on the API behind the slow proxy: its one thread is held
        deadline = time.monotonic() + 10
        while self.proxy.stats()["faulted"] == 0:
            self.assertLess(time.monotonic(), deadline, "no POST reached the slow API")
            time.sleep(0.1)
        # the window opens once the stuck API has said it stopped pinging (its last answer
        # came just before its thread was taken, and it may ping for 3 s after that answer
        # is read: a fixed 4 s wait let a late tick's ping fall in the window under load)
        deadline = time.monotonic() + 15
        while "no progress" not in self.stuck.logs():
            self.assertLess(time.monotonic(), deadline, "the stuck API never said it was stuck")
            time.sleep(0.2)
        time.sleep(1)  # a ping sent just before that line may still be on its way to us
        s0, h0 = self.stuck.pings(), self.healthy.pings()
        time.sleep(10)
        s1, h1 = self.stuck.pings(), self.healthy.pings()
        self.assertEqual(s1, s0, "the stuck API went on pinging (a sibling answered its probe)")
        self.assertGreaterEqual(h1 - h0, 2, "the healthy API stopped pinging (its probe "
                                "waited on the stuck sibling)")
        self.proxy.rules()
        for t in posts:
            t.join(timeout=60)


class SharedSocketUnitProbe(SharedPortProbe):
    """The same, with the port shared the way socket units do it (one unit per API,
    ReusePort=yes, the socket passed in; [api] reuse_port left false): the probe reads
    SO_REUSEPORT off the socket. Until 2026-12-04 it went by the config key, so here it
    ran as on a private port, one probe with no timeout, and the first one the kernel
    gave the stuck sibling waited there for ever: the healthy API stopped pinging."""

    def setUp(self):
        self.procs = []
        self.proxy = harness.FaultProxy(os.environ["AWS_ENDPOINT_URL_DYNAMODB"])
        self.port = harness.free_port()
        socks = []
        for _ in range(2):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.addCleanup(s.close)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            s.bind(("127.0.0.1", self.port))
            s.listen(128)
            socks.append(s)
        extra = "[api]\nthreads = 1\n"
        self.stuck = ApiProc(extra=extra + "aws_budget_ms = 30000\n", watchdog_usec=4000000,
                             env={"AWS_ENDPOINT_URL_DYNAMODB": self.proxy.url},
                             listen_fd=socks[0].fileno())
        self.procs.append(self.stuck)
        self.healthy = ApiProc(extra=extra, watchdog_usec=4000000, listen_fd=socks[1].fileno())
        self.procs.append(self.healthy)
        for s in socks:  # the daemons hold their own copies
            s.close()
        self.stuck.notify.wait_for("WATCHDOG=1", timeout=10)
        self.healthy.notify.wait_for("WATCHDOG=1", timeout=10)


if __name__ == "__main__":
    unittest.main(verbosity=2)
