#!/usr/bin/python3
"""tests/e2e/harness.py: a test process stopped by SIGTERM (meson's timeout sends it, then
SIGKILL) stops the daemons it started. They run in sessions of their own, so the signal to
the test's process group missed them, and Python's default exit ran no cleanup: after a
timed-out test its daemons ran on, polling a stack that scripts/test then stopped."""
import os
import signal
import subprocess
import sys
import time
import unittest

ROOT = os.environ.get("APPT_SOURCE_ROOT") or os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

CHILD = """
import subprocess, sys, time
sys.path.insert(0, %r)
import harness
p = subprocess.Popen(["sleep", "300"], start_new_session=True)
print(p.pid, flush=True)
time.sleep(300)
""" % os.path.join(ROOT, "tests", "e2e")


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


class HarnessSigtermTest(unittest.TestCase):
    def test_sigterm_stops_the_daemons_a_test_started(self):
        test = subprocess.Popen([sys.executable, "-c", CHILD], stdout=subprocess.PIPE, text=True)
        daemon = int(test.stdout.readline())
        self.addCleanup(lambda: alive(daemon) and os.kill(daemon, signal.SIGKILL))
        self.assertTrue(alive(daemon))
        test.send_signal(signal.SIGTERM)
        self.assertEqual(test.wait(timeout=10), 128 + signal.SIGTERM)
        deadline = time.monotonic() + 5
        while alive(daemon) and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertFalse(alive(daemon), "the daemon (pid %d) outlived its test" % daemon)


if __name__ == "__main__":
    unittest.main(verbosity=2)
