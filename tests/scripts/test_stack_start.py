#!/usr/bin/python3
"""scripts/stack.sh start, run again on a stack that is up but for one emulator, and failing
to bring that one up: it must stop what it launched itself and nothing else. Its EXIT trap
called `stop`, which stopped every emulator and PostgreSQL of the run directory and deleted
the cluster (the README promises that running `scripts/up` again is safe).

A real stack on free loopback ports in a throwaway run directory; the failure is real too
(APPT_STACK_TIMEOUT=0: the relaunched fauxqs is not ready in time). Stopped in every case.
"""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

ROOT = os.environ.get("APPT_SOURCE_ROOT") or os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))
import harness  # noqa: E402  (free_port)

STACK = os.path.join(ROOT, "scripts", "stack.sh")


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


class StackStartTest(unittest.TestCase):
    def setUp(self):
        # under /tmp: the run directory's path must fit a Unix socket for PostgreSQL
        self.run_dir = tempfile.mkdtemp(prefix="appt-stack-")
        port = harness.free_port
        self.env = dict(os.environ, APPT_RUN_DIR=self.run_dir, APPT_PG_PORT=str(port()),
                        APPT_DDB_PORT=str(port()), APPT_MOTO_PORT=str(port()),
                        APPT_FAUXQS_PORT=str(port()))
        self.addCleanup(shutil.rmtree, self.run_dir, True)
        self.addCleanup(self.stack, "stop")

    def stack(self, *args, env=None):
        return subprocess.run(["bash", STACK, *args], env=env or self.env, capture_output=True,
                              text=True, timeout=180)

    def pid(self, name):
        with open(os.path.join(self.run_dir, name + ".pid")) as f:
            return int(f.read().split()[0])

    def test_a_failed_start_stops_only_what_it_launched(self):
        r = self.stack("start")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        with open(os.path.join(self.run_dir, "pg.area")) as f:
            data = os.path.join(f.read().strip(), "data", "PG_VERSION")
        kept = {name: self.pid(name) for name in ("postgres", "dynamodb", "moto")}
        fauxqs = self.pid("fauxqs")
        os.kill(fauxqs, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while alive(fauxqs) and time.monotonic() < deadline:
            time.sleep(0.1)
        self.assertFalse(alive(fauxqs), "fauxqs did not stop")

        r = self.stack("start", env=dict(self.env, APPT_STACK_TIMEOUT="0"))
        self.assertNotEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("fauxqs not ready", r.stderr)
        for name, pid in kept.items():
            self.assertTrue(alive(pid), "%s (pid %d) was stopped by the failed start:\n%s"
                            % (name, pid, r.stderr))
        self.assertTrue(os.path.exists(data), "the PostgreSQL cluster was deleted:\n" + r.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.run_dir, "fauxqs.pid"))
                         and alive(self.pid("fauxqs")), "the relaunched fauxqs was left running")

        r = self.stack("start")  # the stack mends with an ordinary start
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
