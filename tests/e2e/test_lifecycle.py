#!/usr/bin/python3
"""Daemon lifecycle as systemd sees it: a NOTIFY_SOCKET harness receives READY=1,
RELOADING=1, STOPPING=1 and WATCHDOG=1; bad configuration exits 78 with one line."""
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

BUILD = os.environ.get("APPT_BUILD_ROOT", "build")
SRC = os.environ.get("APPT_SOURCE_ROOT", ".")
CONF = os.path.join(SRC, "etc", "appointmentd.conf")


def binary(name):
    return os.path.join(BUILD, "daemons", name, name)


class NotifyHarness:
    """An AF_UNIX datagram socket standing in for systemd's notify socket."""

    def __init__(self):
        self.dir = tempfile.TemporaryDirectory()
        self.path = os.path.join(self.dir.name, "notify")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(0.2)
        self.messages = []

    def wait_for(self, needle, timeout=5.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for m in self.messages:
                if needle in m:
                    return m
            try:
                data, ancdata, _, _ = self.sock.recvmsg(4096, socket.CMSG_SPACE(64))
            except socket.timeout:
                continue
            for level, kind, payload in ancdata:  # close any fd systemd-notify passes
                if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                    for i in range(0, len(payload) - len(payload) % 4, 4):
                        os.close(int.from_bytes(payload[i:i + 4], sys.byteorder))
            self.messages.append(data.decode())
        raise AssertionError("no %r in notifications %r" % (needle, self.messages))

    def close(self):
        self.sock.close()
        self.dir.cleanup()


class LifecycleTest(unittest.TestCase):
    def start(self, name, args, env_extra=None):
        env = dict(os.environ)
        env.pop("JOURNAL_STREAM", None)
        env.pop("WATCHDOG_PID", None)
        env["NOTIFY_SOCKET"] = self.harness.path
        env.update(env_extra or {})
        p = subprocess.Popen([binary(name)] + args, env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        self.addCleanup(self.reap, p)
        return p

    @staticmethod
    def reap(p):
        if p.poll() is None:
            p.kill()
        p.communicate()

    def setUp(self):
        self.harness = NotifyHarness()
        self.addCleanup(self.harness.close)

    def test_ready_reload_stop(self):
        for name, extra in (("appointment-api", []), ("appointment-completion", []),
                            ("appointment-worker", ["--country", "pe"])):
            with self.subTest(daemon=name):
                self.harness.messages.clear()
                p = self.start(name, ["--config", CONF] + extra)
                ready = self.harness.wait_for("READY=1")
                self.assertIn("STATUS=", ready)
                self.harness.messages.clear()
                p.send_signal(signal.SIGHUP)
                self.harness.wait_for("RELOADING=1")
                self.harness.wait_for("READY=1")
                self.assertIsNone(p.poll(), "a reload must not stop the daemon")
                t0 = time.monotonic()
                p.send_signal(signal.SIGTERM)
                self.harness.wait_for("STOPPING=1")
                self.assertEqual(p.wait(timeout=5), 0)
                self.assertLess(time.monotonic() - t0, 3.0)

    def test_watchdog_pings(self):
        p = self.start("appointment-api", ["--config", CONF],
                       {"WATCHDOG_USEC": "1000000"})
        self.harness.wait_for("READY=1")
        self.harness.wait_for("WATCHDOG=1", timeout=4)
        p.send_signal(signal.SIGTERM)
        self.assertEqual(p.wait(timeout=5), 0)

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
        self.assertIn("no [country mx] section", r.stderr)

    def test_usage_errors(self):
        r = subprocess.run([binary("appointment-api"), "--nope"], capture_output=True,
                           text=True, timeout=10)
        self.assertEqual(r.returncode, 64)
        r = subprocess.run([binary("appointmentctl"), "--config", CONF, "frobnicate"],
                           capture_output=True, text=True, timeout=10)
        self.assertEqual(r.returncode, 64)
        self.assertIn("unknown command 'frobnicate'", r.stderr)
        r = subprocess.run([binary("appointmentctl"), "--config", CONF, "check"],
                           capture_output=True, text=True, timeout=10)
        self.assertEqual(r.returncode, 0)
        self.assertIn("[country CL]", r.stdout)


if __name__ == "__main__":
    unittest.main(verbosity=2)
