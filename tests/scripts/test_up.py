#!/usr/bin/python3
"""scripts/up (README quick start, command 1): it can be run again, and then changes no
resource (no provision line says created or updated), and it fails when a daemon it starts
exits at once (here the API, whose listen port is taken: it printed a note and exited 0, so
the first command "succeeded" and its curl line reached whatever held the port); the curl
lines it prints reach its API.

The real script on the test build, with its stack on free loopback ports in a throwaway run
directory; scripts/down stops everything in every case.
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import unittest

ROOT = os.environ.get("APPT_SOURCE_ROOT") or os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))
import harness  # noqa: E402  (free_port)

BUILD = os.environ.get("APPT_BUILD_ROOT") or os.path.join(ROOT, "build")


def provision_lines(stdout):
    """The lines appointmentctl provision printed during an `up` ("<verb> <kind> <name>...",
    which up indents by four spaces)."""
    return [l[4:] for l in stdout.splitlines() if l.startswith("    ") and
            l[4:].split(" ", 1)[0] in ("created", "exists", "updated", "skipped")]


class UpTest(unittest.TestCase):
    def env(self, api_port):
        """A run directory and stack ports of the test's own; scripts/down in every case."""
        run_dir = tempfile.mkdtemp(prefix="appt-up-")
        self.addCleanup(shutil.rmtree, run_dir, True)
        port = harness.free_port
        env = dict(os.environ, APPT_BUILD_DIR=BUILD, APPT_RUN_DIR=run_dir,
                   APPT_PG_PORT=str(port()), APPT_DDB_PORT=str(port()),
                   APPT_MOTO_PORT=str(port()), APPT_FAUXQS_PORT=str(port()),
                   APPOINTMENTD_API_LISTEN="127.0.0.1:%d" % api_port)
        self.addCleanup(subprocess.run, ["bash", os.path.join(ROOT, "scripts", "down")],
                        env=env, capture_output=True, timeout=180)
        return env

    def up(self, env):
        return subprocess.run(["bash", os.path.join(ROOT, "scripts", "up")], env=env,
                              capture_output=True, text=True, timeout=900)

    def test_up_twice(self):
        # the README: running it again is safe, and changes nothing. Its provision runs in two
        # passes (tables and the countries' topics and queues with SNS/SQS on fauxqs, then
        # EventBridge, its queues and SSM on moto), each making only its own resources: on the
        # second `up` every resource exists, and no rule's target is ever moved.
        env = self.env(harness.free_port())
        runs = []
        for n, says in ((1, "appointment-api: running"),
                        (2, "appointment-api: already running")):
            r = self.up(env)
            self.assertEqual(r.returncode, 0, "up #%d:\n%s" % (n, (r.stdout + r.stderr)[-3000:]))
            self.assertIn(says, r.stdout)
            runs.append(provision_lines(r.stdout))
            if n == 1:
                self.try_lines(r.stdout)
        # the two passes make disjoint sets: each resource has one line per `up` (18 + 7 × 2
        # for the two countries of etc/appointmentd.conf)
        for n, lines in enumerate(runs, 1):
            names = [l.split(" ")[1:3] for l in lines]
            self.assertEqual(len(names), 32, "up #%d:\n%s" % (n, "\n".join(lines)))
            self.assertEqual(len(set(map(tuple, names))), len(names), "\n".join(lines))
        self.assertIn("exists bus medical-appointment-scheduling-dev", runs[1])
        self.assertEqual([l for l in runs[1] if not l.startswith(("exists ", "skipped "))], [],
                         "the second up changed resources:\n%s" % "\n".join(runs[1]))

    def try_lines(self, stdout):
        """The curl lines up prints under "Try:", run as printed: they reach this API (its
        listen is APPOINTMENTD_API_LISTEN here; they named 127.0.0.1:8080 whatever the API
        listened on, so they reached nothing, or whatever held 8080)."""
        lines = stdout.split("\nTry:\n", 1)[1].splitlines()
        post, get = [l.strip() for l in lines[:2]]
        self.assertTrue(post.startswith("curl ") and get.startswith("curl "), lines[:2])
        answers = []
        for line in (post, get):
            r = subprocess.run(["bash", "-c", line + " --max-time 10"], capture_output=True,
                               text=True, timeout=30)
            self.assertEqual(r.returncode, 0, "%s: exit %d %s" % (line, r.returncode, r.stderr))
            answers.append(json.loads(r.stdout))
        self.assertEqual(answers[0]["status"], "pending", answers[0])
        self.assertIn(answers[0]["appointmentId"],
                      [a["appointmentId"] for a in answers[1]["appointments"]], answers[1])

    def test_a_daemon_that_exits_at_start_fails_up(self):
        held = socket.socket()
        held.bind(("127.0.0.1", 0))
        held.listen(1)
        self.addCleanup(held.close)
        r = self.up(self.env(held.getsockname()[1]))
        out = r.stdout + r.stderr
        self.assertNotEqual(r.returncode, 0, out[-3000:])
        self.assertIn("appointment-api: exited at once", out)
        self.assertRegex(r.stderr, r"appointment-api exited right after start")
        self.assertIn("appointment-worker-pe: running", out)  # the others were started


if __name__ == "__main__":
    unittest.main(verbosity=2)
