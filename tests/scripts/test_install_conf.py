#!/usr/bin/python3
"""scripts/install-conf.sh, the last step of meson install (meson.build): it copies a sample
into the configuration directory only when nothing of that name is there, never writes
through a symlink, honours DESTDIR and leaves files any user can read (the units run as
dynamic users). The real script on files in a throwaway directory; tests/systemd/test_install.py
runs it through meson install."""
import os
import subprocess
import tempfile
import unittest

ROOT = os.environ.get("APPT_SOURCE_ROOT") or os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(ROOT, "scripts", "install-conf.sh")
EXAMPLES = "/usr/share/appointmentd/examples"
CONF = "/etc/appointmentd"


class InstallConfTest(unittest.TestCase):
    def setUp(self):
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        self.dest = tmp.name
        os.makedirs(self.dest + EXAMPLES)
        for name in ("a.conf", "b.conf"):
            self.write(self.dest + EXAMPLES + "/" + name, "# sample %s\n" % name)

    @staticmethod
    def write(path, text):
        with open(path, "w") as f:
            f.write(text)

    @staticmethod
    def read(path):
        with open(path) as f:
            return f.read()

    @staticmethod
    def env():
        """The environment without meson install's: no DESTDIR, no build tree to log into."""
        return {k: v for k, v in os.environ.items() if k not in ("DESTDIR", "MESON_BUILD_ROOT")}

    def run_script(self, *names, umask="022"):
        env = dict(self.env(), DESTDIR=self.dest)
        return subprocess.run(["sh", "-c", 'umask "$1"; shift; exec sh "$@"', "sh", umask,
                               SCRIPT, EXAMPLES, CONF] + list(names or ("a.conf", "b.conf")),
                              env=env, capture_output=True, text=True, timeout=30)

    def test_fresh_install_is_readable_by_everyone(self):
        r = self.run_script(umask="077")
        self.assertEqual(r.returncode, 0, r.stderr)
        conf = self.dest + CONF
        self.assertEqual(r.stdout, "installed %s/a.conf\ninstalled %s/b.conf\n" % (conf, conf))
        self.assertEqual(os.stat(conf).st_mode & 0o777, 0o755)
        for name in ("a.conf", "b.conf"):
            self.assertEqual(self.read(conf + "/" + name), "# sample %s\n" % name)
            self.assertEqual(os.stat(conf + "/" + name).st_mode & 0o777, 0o644)
        self.assertEqual(sorted(os.listdir(conf)), ["a.conf", "b.conf"], "temporary file left")

    def test_an_unwritable_build_log_does_not_fail_the_install(self):
        # the report's copy in <build>/meson-logs is a convenience: before, a log path the
        # shell could not open ended the script (dash exits on a redirection error of ':')
        build = os.path.join(self.dest, "build")
        os.makedirs(os.path.join(build, "meson-logs", "install-conf.txt"))  # a directory
        env = dict(self.env(), DESTDIR=self.dest, MESON_BUILD_ROOT=build)
        r = subprocess.run(["sh", SCRIPT, EXAMPLES, CONF, "a.conf"], env=env,
                           capture_output=True, text=True, timeout=30)
        self.assertEqual((r.returncode, r.stderr), (0, ""))
        self.assertEqual(r.stdout, "installed %s%s/a.conf\n" % (self.dest, CONF))

    def test_existing_file_is_kept(self):
        conf = self.dest + CONF
        os.makedirs(conf)
        self.write(conf + "/a.conf", "# mine\n")
        os.chmod(conf + "/a.conf", 0o640)
        self.write(conf + "/b.conf", "# sample b.conf\n")
        r = self.run_script()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "kept %s/a.conf (differs from %s/a.conf)\nkept %s/b.conf\n"
                         % (conf, self.dest + EXAMPLES, conf))
        self.assertEqual(self.read(conf + "/a.conf"), "# mine\n")
        self.assertEqual(os.stat(conf + "/a.conf").st_mode & 0o777, 0o640)

    def test_symlink_is_never_written_through(self):
        conf = self.dest + CONF
        os.makedirs(conf)
        elsewhere = os.path.join(self.dest, "elsewhere")
        os.symlink(elsewhere, conf + "/a.conf")            # dangling
        self.write(self.dest + "/other", "# other\n")
        os.symlink(self.dest + "/other", conf + "/b.conf")  # to an existing file
        r = self.run_script()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertFalse(os.path.lexists(elsewhere), "wrote through a dangling symlink")
        self.assertEqual(self.read(self.dest + "/other"), "# other\n")
        self.assertEqual(os.readlink(conf + "/a.conf"), elsewhere)
        self.assertEqual(r.stdout.splitlines()[0],
                         "kept %s/a.conf (a symlink, not followed)" % conf)

    def test_without_destdir(self):
        # Installing for real (no DESTDIR): the paths are used as they are.
        r = subprocess.run(["sh", SCRIPT, self.dest + EXAMPLES, self.dest + CONF, "a.conf"],
                           env=self.env(), capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "installed %s/a.conf\n" % (self.dest + CONF))

    def test_missing_sample_fails_in_one_line(self):
        r = self.run_script("a.conf", "nope.conf")
        self.assertNotEqual(r.returncode, 0)
        self.assertEqual(r.stderr.count("\n"), 1, r.stderr)
        self.assertIn("nope.conf", r.stderr)
        self.assertFalse(os.path.lexists(self.dest + CONF + "/nope.conf"))


if __name__ == "__main__":
    unittest.main(verbosity=2)
