#!/usr/bin/python3
"""meson install (issue 7): binaries, units, etc/ files and sql/ land in the FHS places
under the configured prefix, and the installed units name the installed binaries; installing
again (an upgrade) keeps the configuration in sysconfdir and refreshes only the examples
(staged DESTDIR installs of this build, so nothing touches the machine)."""
import os
import re
import subprocess
import tempfile
import unittest

BUILD = os.environ["APPT_BUILD_ROOT"]
SBINDIR = os.environ["APPT_UNIT_SBINDIR"]
BINDIR = os.environ["APPT_UNIT_BINDIR"]
SYSCONFDIR = os.environ["APPT_UNIT_SYSCONFDIR"]
DATADIR = os.environ["APPT_UNIT_DATADIR"]
SRC = os.environ["APPT_SOURCE_ROOT"]
CONF_FILES = ("appointmentd.conf", "dev.conf", "staging.conf", "prod.conf")


def meson_install(dest):
    """meson install of this build into the staging directory dest; returns the lines of
    scripts/install-conf.sh (meson 1.0 prints them only on failure; its log has them)."""
    log = os.path.join(BUILD, "meson-logs", "install-conf.txt")
    if os.path.exists(log):
        os.remove(log)
    r = subprocess.run(["meson", "install", "-C", BUILD, "--destdir", dest, "--no-rebuild",
                        "--quiet"], capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        raise AssertionError("meson install failed: %s%s" % (r.stdout, r.stderr))
    with open(log) as f:
        return f.read()


class InstallTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.dest = cls.tmp.name
        meson_install(cls.dest)
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
        for name in CONF_FILES:
            self.assertIn(os.path.join(SYSCONFDIR, "appointmentd", name), self.files)
            self.assertIn(os.path.join(DATADIR, "appointmentd", "examples", name), self.files)
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

    def test_upgrade_keeps_the_configuration(self):
        # docs/operations.md, section 5: an upgrade is `meson install` of a new build. The
        # operator's files stay; a file they removed comes back; the examples are the new ones.
        with tempfile.TemporaryDirectory() as dest:
            meson_install(dest)
            conf = dest + os.path.join(SYSCONFDIR, "appointmentd")
            examples = dest + os.path.join(DATADIR, "appointmentd", "examples")
            edited = os.path.join(conf, "appointmentd.conf")
            with open(edited, "a") as f:
                f.write("# the operator's edit\n")
            with open(edited) as f:
                mine = f.read()
            os.remove(os.path.join(conf, "dev.conf"))
            os.makedirs(examples, exist_ok=True)
            with open(os.path.join(examples, "prod.conf"), "w") as f:
                f.write("# the previous release's sample\n")
            out = meson_install(dest)
            with open(edited) as f:
                self.assertEqual(f.read(), mine, "meson install replaced the operator's file")
            for name in CONF_FILES:
                with open(os.path.join(SRC, "etc", name)) as f:
                    shipped = f.read()
                with open(os.path.join(examples, name)) as f:
                    self.assertEqual(f.read(), shipped, "example %s is not the new one" % name)
                if name != "appointmentd.conf":
                    with open(os.path.join(conf, name)) as f:
                        self.assertEqual(f.read(), shipped, name)
                self.assertEqual(os.stat(os.path.join(conf, name)).st_mode & 0o777, 0o644, name)
            self.assertIn("installed %s\n" % os.path.join(conf, "dev.conf"), out)
            self.assertRegex(out, r"(?m)^kept %s \(differs from %s\)" % (
                re.escape(edited), re.escape(os.path.join(examples, "appointmentd.conf"))))
            self.assertRegex(out, r"(?m)^kept %s$" % re.escape(os.path.join(conf, "prod.conf")))


if __name__ == "__main__":
    unittest.main(verbosity=2)
