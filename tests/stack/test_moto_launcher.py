"""moto runs through tests/support/moto_server.py with both of its per-request costs made
once: an upgrade of moto or jsonpath-ng that removes what the launcher replaces makes it
log "... is gone" and run moto as it is, slower; this check makes that visible."""

import os
import unittest


class MotoLauncher(unittest.TestCase):
    def test_moto_runs_through_the_launcher_with_nothing_left_out(self):
        run_dir = os.environ.get("APPT_RUN_DIR")
        self.assertTrue(run_dir, "APPT_RUN_DIR is not set: run under eval \"$(scripts/stack.sh env)\"")
        with open(os.path.join(run_dir, "moto.pid"), encoding="utf-8") as f:
            pid = int(f.read().strip())
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            argv = f.read().split(b"\0")
        self.assertTrue(any(a.endswith(b"tests/support/moto_server.py") for a in argv), argv)
        with open(os.path.join(run_dir, "moto.log"), encoding="utf-8", errors="replace") as f:
            gone = [ln.strip() for ln in f if ln.startswith("moto_server.py:")]
        self.assertEqual(gone, [])


if __name__ == "__main__":
    unittest.main()
