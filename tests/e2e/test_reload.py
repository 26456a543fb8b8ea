#!/usr/bin/python3
"""The daemon lifecycle under SIGHUP and SIGTERM (issue 11): a reload applies only the
reloadable keys (the rest is refused and logged), per-country state follows the country
code and not its section's position, reloads have no cap, a second SIGTERM exits at once,
and the API's watchdog pings stop while its HTTP threads cannot answer."""
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

NAME_PREFIX = "medical-appointment-scheduling-appointments-"


class ReloadTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.d = harness.Deployment(seed_count=20)
        cls.sqs = harness.aws_client("sqs")

    @classmethod
    def tearDownClass(cls):
        cls.d.close()

    # ---- helpers ----

    def write_config(self, path, countries=("PE", "CL"), extra=""):
        """The deployment's config with the [country] sections in the given order."""
        saved = self.d.countries
        self.d.countries = countries
        try:
            text = self.d.config_text(extra)
        finally:
            self.d.countries = saved
        with open(path, "w") as f:
            f.write(text)

    def start_api(self, config, env_extra=None, port=None):
        """The API on its own config file and port, as systemd runs it."""
        env = dict(self.d.env)
        env.update(env_extra or {})
        notify = harness.NotifySocket(os.path.join(self.d.dir, "rl-" + harness.rand(6)))
        self.addCleanup(notify.close)
        env["NOTIFY_SOCKET"] = notify.path
        log = open(os.path.join(self.d.dir, "api-%s.log" % harness.rand(4)), "a+")
        self.addCleanup(log.close)
        p = subprocess.Popen([harness.binary("appointment-api"), "--config", config], env=env,
                             stdout=log, stderr=log, start_new_session=True)
        self.addCleanup(self.reap, p)
        notify.wait_for("READY=1", proc=p)
        return p, notify, log

    @staticmethod
    def reap(p):
        if p.poll() is None:
            p.kill()
        p.wait()

    @staticmethod
    def logs(log):
        log.flush()
        log.seek(0)
        return log.read()

    @staticmethod
    def readies(notify):
        with notify.lock:
            return sum("READY=1" in m for m in notify.messages)

    def reload(self, p, notify):
        """SIGHUP and wait for the READY=1 that ends the reload."""
        n = self.readies(notify)
        p.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 20
        while self.readies(notify) <= n:
            self.assertIsNone(p.poll(), "a reload must not stop the daemon")
            self.assertLess(time.monotonic(), deadline, "no READY=1 after SIGHUP")
            time.sleep(0.02)

    @staticmethod
    def request(port, method, path, body=None, headers=None, timeout=60):
        """One request to the API on port: (status, lower-case headers, parsed body)."""
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        h = {"Content-Type": "application/json"} if body is not None else {}
        h.update(headers or {})
        conn.request(method, path, body=json.dumps(body) if body is not None else None,
                     headers=h)
        r = conn.getresponse()
        payload = r.read()
        conn.close()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, \
            json.loads(payload) if payload else None

    def post(self, port, cc, schedule):
        return self.request(port, "POST", "/appointments",
                            {"insuredId": "%05d" % schedule, "scheduleId": schedule,
                             "countryISO": cc})

    def post_quietly(self, port, cc, schedule):
        """post() for a background thread: the API may be stopped under it."""
        try:
            self.post(port, cc, schedule)
        except (OSError, http.client.HTTPException):
            pass

    def queue_url(self, cc):
        return self.sqs.get_queue_url(
            QueueName="%s%s-%s" % (NAME_PREFIX, cc.lower(), self.d.stage))["QueueUrl"]

    def countries_on(self, cc, want):
        """The countryISO of the messages on country cc's queue (drained)."""
        got = harness.drain_queue(self.sqs, self.queue_url(cc), want, timeout=30)
        out = []
        for m in got:
            body = json.loads(m["Body"])
            msg = json.loads(body["Message"]) if "Message" in body else body
            out.append(msg["countryISO"])
        return sorted(out)

    # ---- the defects of issue 11 ----

    def test_reordered_countries_keep_their_topics(self):
        """[country] sections swapped + SIGHUP: a PE POST still goes to the PE topic."""
        cfg = os.path.join(self.d.dir, "reorder.conf")
        port = harness.free_port()
        self.write_config(cfg, ("PE", "CL"), "[api]\nlisten = 127.0.0.1:%d\n" % port)
        p, notify, _ = self.start_api(cfg)
        for q in ("PE", "CL"):
            harness.drain_queue(self.sqs, self.queue_url(q), 100, timeout=1)
        self.assertEqual(self.post(port, "PE", 100)[0], 201)
        self.assertEqual(self.post(port, "CL", 101)[0], 201)
        self.write_config(cfg, ("CL", "PE"), "[api]\nlisten = 127.0.0.1:%d\n" % port)
        self.reload(p, notify)
        self.assertEqual(self.post(port, "PE", 102)[0], 201)
        self.assertEqual(self.post(port, "CL", 103)[0], 201)
        self.assertEqual(self.countries_on("PE", 2), ["PE", "PE"])
        self.assertEqual(self.countries_on("CL", 2), ["CL", "CL"])

    def test_non_reloadable_change_is_refused_loudly(self):
        """A changed table_name is not applied by the API alone: it keeps writing where the
        workers read, and says which keys need a restart."""
        cfg = os.path.join(self.d.dir, "table.conf")
        port = harness.free_port()
        listen = "[api]\nlisten = 127.0.0.1:%d\n" % port
        self.write_config(cfg, extra=listen)
        p, notify, log = self.start_api(cfg)
        self.write_config(cfg, extra=listen + "[aws]\ntable_name = elsewhere-%s\n" % self.d.stage)
        self.reload(p, notify)
        code, _, body = self.post(port, "PE", 104)
        self.assertEqual(code, 201, body)
        text = self.logs(log)
        self.assertIn("aws.table_name", text)
        self.assertIn("restart", text)

    def test_no_reload_cap(self):
        """70 reloads in a row, then a reloadable change still takes effect."""
        cfg = os.path.join(self.d.dir, "many.conf")
        port = harness.free_port()
        listen = "[api]\nlisten = 127.0.0.1:%d\n" % port
        self.write_config(cfg, extra=listen)
        p, notify, log = self.start_api(cfg)
        for _ in range(70):
            self.reload(p, notify)
        self.write_config(cfg, extra=listen + "cors_origins = https://x.example\n")
        self.reload(p, notify)
        code, headers, _ = self.request(port, "GET", "/healthz",
                                        headers={"Origin": "https://x.example"})
        self.assertEqual(code, 200)
        self.assertEqual(headers.get("access-control-allow-origin"), "https://x.example")
        self.assertNotIn("reload failed", self.logs(log))

    def test_second_term_exits_now(self):
        """While a drain waits (a client holds an accepted connection that never sends its
        request), a second SIGTERM ends the process at once."""
        cfg = os.path.join(self.d.dir, "term.conf")
        port = harness.free_port()
        self.write_config(cfg, extra="[api]\nlisten = 127.0.0.1:%d\n" % port)
        p, notify, _ = self.start_api(cfg)
        slow = socket.create_connection(("127.0.0.1", port))
        self.addCleanup(slow.close)
        slow.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # the head never ends
        time.sleep(0.3)
        p.send_signal(signal.SIGTERM)
        notify.wait_for("STOPPING=1")
        time.sleep(0.5)
        self.assertIsNone(p.poll(), "the first SIGTERM drains: the held connection is waited for")
        t0 = time.monotonic()
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=3)
        except subprocess.TimeoutExpired:
            self.fail("a second SIGTERM did not end the process within 3 s")
        self.assertLess(time.monotonic() - t0, 3)

    def test_watchdog_stops_while_http_threads_are_stuck(self):
        """One HTTP thread, held by POSTs whose DynamoDB write hangs: the self-probe gets no
        answer, so WATCHDOG=1 stops; it comes back once the thread is free."""
        proxy = harness.FaultProxy(os.environ["AWS_ENDPOINT_URL_DYNAMODB"])
        self.addCleanup(proxy.close)
        cfg = os.path.join(self.d.dir, "watchdog.conf")
        port = harness.free_port()
        # the budget of each POST as long as it was (10 s): the thread stays held that long
        self.write_config(cfg, extra="[api]\nlisten = 127.0.0.1:%d\nthreads = 1\n"
                          "aws_budget_ms = 10000\n" % port)
        p, notify, _ = self.start_api(cfg, {"WATCHDOG_USEC": "4000000",
                                            "AWS_ENDPOINT_URL_DYNAMODB": proxy.url})
        notify.wait_for("WATCHDOG=1", timeout=10)
        proxy.rules({"op": "TransactWriteItems", "fault": "slow:30000", "count": -1})  # the create
        stuck = [threading.Thread(target=self.post_quietly, args=(port, "PE", 105 + i), daemon=True)
                 for i in range(3)]
        for t in stuck:
            t.start()
        time.sleep(4)  # the thread is busy; pings already sent may still be in flight
        with notify.lock:
            before = sum("WATCHDOG=1" in m for m in notify.messages)
        time.sleep(6)
        with notify.lock:
            after = sum("WATCHDOG=1" in m for m in notify.messages)
        self.assertEqual(after, before, "WATCHDOG=1 went on while no HTTP thread could answer")
        proxy.rules()
        for t in stuck:
            t.join(timeout=60)
        notify_deadline = time.monotonic() + 20
        while time.monotonic() < notify_deadline:
            with notify.lock:
                if sum("WATCHDOG=1" in m for m in notify.messages) > after:
                    break
            time.sleep(0.2)
        else:
            self.fail("WATCHDOG=1 did not come back once the HTTP thread was free")


if __name__ == "__main__":
    unittest.main(verbosity=2)
