#!/usr/bin/python3
"""meson install (issue 7): binaries, units, etc/ files and sql/ land in the FHS places
under the configured prefix, and the installed units name the installed binaries (a
staged DESTDIR install of this build, so nothing touches the machine)."""
import os
import re
import subprocess
import tempfile
import unittest

BUILD = os.environ["APPT_BUILD_ROOT"]
SBINDIR = os.environ["APPT_UNIT_SBINDIR"]
BINDIR = os.environ["APPT_UNIT_BINDIR"]
SYSCONFDIR = os.environ["APPT_UNIT_SYSCONFDIR"]


class InstallTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.dest = cls.tmp.name
        r = subprocess.run(["meson", "install", "-C", BUILD, "--destdir", cls.dest,
                            "--no-rebuild", "--quiet"], capture_output=True, text=True,
                           timeout=120)
        if r.returncode != 0:
            raise AssertionError("meson install failed: %s%s" % (r.stdout, r.stderr))
        cls.files = set()
        for root, _, names in os.walk(cls.dest):
            for n in names:
                cls.files.add("/" + os.path.relpath(os.path.join(root, n), cls.dest))

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_binaries(self):
        for name in ("appointment-api", "appointment-worker", "appointment-completion"):
            self.assertIn(os.path.join(SBINDIR, name), self.files)
        self.assertIn(os.path.join(BINDIR, "appointmentctl"), self.files)

    def test_config_and_sql(self):
        for name in ("appointmentd.conf", "dev.conf", "staging.conf", "prod.conf"):
            self.assertIn(os.path.join(SYSCONFDIR, "appointmentd", name), self.files)
        sql = sorted(f for f in self.files if re.search(r"/appointmentd/sql/\d{3}_\w+\.sql$", f))
        src = sorted(os.listdir(os.path.join(os.environ["APPT_SOURCE_ROOT"], "sql")))
        self.assertEqual([os.path.basename(f) for f in sql], src)

    def test_units_name_installed_binaries(self):
        units = [f for f in self.files if "/systemd/system/" in f]
        want = {"appointment-api.service", "appointment-api.socket",
                "appointment-worker@.service", "appointment-completion.service",
                "appointment-reconcile.service", "appointment-reconcile.timer",
                "appointmentd.target"}
        self.assertEqual({os.path.basename(u) for u in units}, want)
        for u in units:
            with open(self.dest + u) as f:
                text = f.read()
            for exe in re.findall(r"^ExecStart=[-@+!]*(\S+)", text, flags=re.M):
                self.assertIn(exe, self.files | {"/bin/kill"}, "%s runs %s" % (u, exe))


if __name__ == "__main__":
    unittest.main(verbosity=2)
