#!/usr/bin/python3
"""Daemon lifecycle as systemd sees it: a NOTIFY_SOCKET harness receives READY=1,
RELOADING=1, STOPPING=1 and WATCHDOG=1; bad configuration exits 78 with one line."""
import os
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

SRC = os.environ.get("APPT_SOURCE_ROOT", ".")
CONF = os.path.join(SRC, "etc", "appointmentd.conf")
binary = harness.binary


class LifecycleTest(unittest.TestCase):
    """Ready, reload, stop and the watchdog on a provisioned deployment (the daemons
    report READY=1 only once their queue / listener is set up)."""

    @classmethod
    def setUpClass(cls):
        cls.d = harness.Deployment(seed_count=5)

    @classmethod
    def tearDownClass(cls):
        cls.d.close()

    def start(self, name, args, env_extra=None):
        env = dict(self.d.env)
        env.update(env_extra or {})
        notify = harness.NotifySocket(os.path.join(self.d.dir, "lc-" + harness.rand(6)))
        self.addCleanup(notify.close)
        env["NOTIFY_SOCKET"] = notify.path
        env.pop("WATCHDOG_PID", None)
        p = subprocess.Popen([binary(name), "--config", self.d.config] + args, env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.addCleanup(self.reap, p)
        return p, notify

    @staticmethod
    def reap(p):
        if p.poll() is None:
            p.kill()
        p.wait()

    def test_ready_reload_stop(self):
        for name, extra in (("appointment-api", []), ("appointment-completion", []),
                            ("appointment-worker", ["--country", "pe"])):
            with self.subTest(daemon=name):
                p, notify = self.start(name, extra)
                notify.wait_for("READY=1", proc=p)
                self.assertTrue(notify.seen("STATUS="))
                p.send_signal(signal.SIGHUP)
                notify.wait_for("RELOADING=1")
                time.sleep(0.5)
                self.assertGreaterEqual(sum("READY=1" in m for m in notify.messages), 2)
                self.assertIsNone(p.poll(), "a reload must not stop the daemon")
                t0 = time.monotonic()
                p.send_signal(signal.SIGTERM)
                notify.wait_for("STOPPING=1")
                self.assertEqual(p.wait(timeout=10), 0)
                self.assertLess(time.monotonic() - t0, 3.0)

    def test_watchdog_pings(self):
        for name, extra in (("appointment-api", []), ("appointment-worker", ["--country", "cl"])):
            with self.subTest(daemon=name):
                p, notify = self.start(name, extra, {"WATCHDOG_USEC": "1000000"})
                notify.wait_for("READY=1", proc=p)
                notify.wait_for("WATCHDOG=1", timeout=4)
                p.send_signal(signal.SIGTERM)
                self.assertEqual(p.wait(timeout=10), 0)

    def test_bad_config_exits_78_with_one_line(self):
        with tempfile.TemporaryDirectory() as d:
            bad = os.path.join(d, "bad.conf")
            with open(bad, "w") as f:
                f.write("[country PE]\n[api]\nrate_limit = fast\n")
            for name, extra in (("appointment-api", []), ("appointment-completion", []),
                                ("appointment-worker", ["--country", "pe"])):
                with self.subTest(daemon=name):
                    r = subprocess.run([binary(name), "--config", bad] + extra,
                                       capture_output=True, text=True, timeout=10)
                    self.assertEqual(r.returncode, 78)
                    lines = r.stderr.strip().splitlines()
                    self.assertEqual(len(lines), 1, r.stderr)
                    self.assertIn(bad + ":3: [api] rate_limit: not an integer", lines[0])

    def test_bad_environment_exits_78(self):
        env = dict(os.environ, APPOINTMENTS_PE_QUEUE_URL="ftp://nope")
        r = subprocess.run([binary("appointment-api"), "--config", CONF], env=env,
                           capture_output=True, text=True, timeout=10)
        self.assertEqual(r.returncode, 78)
        self.assertIn("environment APPOINTMENTS_PE_QUEUE_URL: not an http(s) URL", r.stderr)

    def test_worker_country_argument(self):
        r = subprocess.run([binary("appointment-worker"), "--config", CONF],
                           capture_output=True, text=True, timeout=10)
        self.assertEqual(r.returncode, 64)
        r = subprocess.run([binary("appointment-worker"), "--config", CONF, "--country", "mx"],
                           capture_output=True, text=True, timeout=10)
        self.assertEqual(r.returncode, 78)
        self.assertIn("no [country MX] section", r.stderr)

    def test_usage_errors(self):
        r = subprocess.run([binary("appointment-api"), "--nope"], capture_output=True,
                           text=True, timeout=10)
        self.assertEqual(r.returncode, 64)
        r = subprocess.run([binary("appointmentctl"), "--config", CONF, "frobnicate"],
                           capture_output=True, text=True, timeout=10)
        self.assertEqual(r.returncode, 64)
        self.assertIn("unknown command 'frobnicate'", r.stderr)
        r = subprocess.run([binary("appointmentctl"), "--config", CONF, "check",
                            "--print-config"],
                           capture_output=True, text=True, timeout=10)
        self.assertEqual(r.returncode, 0)
        self.assertIn("[country CL]", r.stdout)


if __name__ == "__main__":
    unittest.main(verbosity=2)
