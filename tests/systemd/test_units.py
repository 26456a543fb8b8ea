#!/usr/bin/python3
"""Fast offline checks of the generated systemd units (suite unit, no booted systemd):
`systemd-analyze verify` finds nothing to say, `systemd-analyze security --offline=true` scores
every service at 2.0 or better, and the settings SPEC §7/§9 and docs/operations.md promise are
there. Both analyze commands write to /run/systemd: they run in a private mount namespace with
a tmpfs on /run (../shared/SYSTEMD-NOTES.md)."""
import os
import re
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import unitfiles  # noqa: E402

MAX_EXPOSURE = 2.0


def analyze(args, cwd):
    """systemd-analyze ARGS in cwd, under a private mount namespace with /run on tmpfs."""
    unshare = ["unshare", "-m"] if os.geteuid() == 0 else ["unshare", "-r", "-m"]
    script = 'mount -t tmpfs tmpfs /run && cd "$1" && shift && exec systemd-analyze "$@"'
    return subprocess.run(unshare + ["sh", "-c", script, "sh", cwd] + args,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)


class UnitFilesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        missing = unitfiles.missing_units()
        if missing:
            raise AssertionError("units not generated in %s: %s (run ninja)"
                                 % (unitfiles.generated_dir(), missing))
        cls.tmp = tempfile.TemporaryDirectory(prefix="appt-units-")
        cls.dir = unitfiles.prepare(cls.tmp.name, unitfiles.BUILD, "/etc/appointmentd")

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def path(self, unit):
        return os.path.join(self.dir, unit)

    def values(self, unit, key):
        return unitfiles.unit_property_lines(self.path(unit), key)

    def value(self, unit, key):
        v = self.values(unit, key)
        self.assertEqual(len(v), 1, "%s: expected one %s=, found %r" % (unit, key, v))
        return v[0]

    def test_no_placeholder_left(self):
        for u in unitfiles.UNITS:
            with open(os.path.join(unitfiles.generated_dir(), u), encoding="utf-8") as f:
                text = f.read()
            self.assertIsNone(re.search(r"@[A-Za-z_]+@", text), u)

    def test_verify_is_silent(self):
        # Every binary must exist for verify: the copies point into this build tree.
        for name in unitfiles.DAEMONS + unitfiles.TOOLS:
            self.assertTrue(os.access(os.path.join(unitfiles.BUILD, "daemons", name, name), os.X_OK),
                            "%s not built" % name)
        names = [u for u in unitfiles.UNITS] + ["appointment-worker@pe.service",
                                                 "appointment-worker@cl.service"]
        r = analyze(["verify", "--man=no"] + names, self.dir)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        # Warnings ("Invalid syntax, ignoring", unknown keys) do not change the exit status.
        self.assertEqual((r.stdout + r.stderr).strip(), "", "systemd-analyze verify warned")

    def test_security_exposure(self):
        for svc in unitfiles.SERVICES:
            with self.subTest(service=svc):
                r = analyze(["security", "--offline=true", "--threshold=%d" % (MAX_EXPOSURE * 10),
                             "--no-pager", svc], self.dir)
                m = re.search(r"Overall exposure level for %s: ([0-9.]+)" % re.escape(svc), r.stdout)
                self.assertIsNotNone(m, r.stdout[-2000:] + r.stderr)
                score = float(m.group(1))
                self.assertLessEqual(score, MAX_EXPOSURE, r.stdout)
                self.assertEqual(r.returncode, 0, r.stderr)

    def test_lifecycle_settings(self):
        # unit: (WatchdogSec, TimeoutStopSec)
        long_running = {
            "appointment-api.service": ("30s", "30s"),
            "appointment-worker@.service": ("90s", "60s"),
            "appointment-completion.service": ("90s", "60s"),
        }
        for u, (watchdog, stop) in long_running.items():
            with self.subTest(unit=u):
                self.assertEqual(self.value(u, "Type"), "notify")
                self.assertEqual(self.value(u, "NotifyAccess"), "main")
                self.assertEqual(self.value(u, "WatchdogSec"), watchdog)
                self.assertEqual(self.value(u, "TimeoutStopSec"), stop)
                self.assertEqual(self.value(u, "Restart"), "on-failure")
                self.assertIn("78", self.value(u, "RestartPreventExitStatus").split())
                self.assertEqual(self.value(u, "ExecReload"), "/bin/kill -HUP $MAINPID")
                self.assertTrue(self.values(u, "StartLimitIntervalSec"))
                self.assertTrue(self.values(u, "StartLimitBurst"))
                self.assertEqual(self.values(u, "EnvironmentFile"),
                                 ["-/etc/appointmentd/provisioned.env",
                                  "-/etc/appointmentd/environment"])
                self.assertEqual(self.value(u, "PartOf"), "appointmentd.target")
        self.assertTrue(self.value("appointment-worker@.service", "ExecStart").endswith(" --country %i"))
        self.assertEqual(self.value("appointment-reconcile.service", "Type"), "oneshot")
        self.assertTrue(self.value("appointment-reconcile.service", "ExecStart").endswith(" reconcile"))

    def test_credentials_never_fatal(self):
        # systemd 252 fails a unit whose LoadCredential= names a missing absolute path
        # (243/CREDENTIALS); a credential-store name that is not found is skipped.
        for u in unitfiles.UNITS:
            for v in self.values(u, "LoadCredential"):
                cred_id, _, source = v.partition(":")
                self.assertTrue(source and not source.startswith("/"),
                                "%s: %s must name a credential store entry" % (u, v))
                self.assertTrue(source.startswith("appointmentd-"), "%s: %s" % (u, v))
        for u in ("appointment-api.service", "appointment-worker@.service"):
            self.assertIn("rds-password:appointmentd-rds-password",
                          self.values(u, "LoadCredential"), u)
        self.assertIn("api-keys:appointmentd-api-keys",
                      self.values("appointment-api.service", "LoadCredential"))
        for u in ("appointment-completion.service", "appointment-reconcile.service"):
            self.assertEqual(self.values(u, "LoadCredential"), [], "%s needs no password" % u)

    def test_sandbox_settings(self):
        want = {
            "DynamicUser": "yes", "ProtectSystem": "strict", "ProtectHome": "yes",
            "PrivateTmp": "yes", "PrivateDevices": "yes", "PrivateUsers": "yes",
            "NoNewPrivileges": "yes", "CapabilityBoundingSet": "", "AmbientCapabilities": "",
            "MemoryDenyWriteExecute": "yes", "LockPersonality": "yes", "UMask": "0077",
            "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
            "SystemCallArchitectures": "native", "DevicePolicy": "closed",
            "ProtectProc": "invisible", "ProcSubset": "pid",
        }
        for u in ("appointment-api.service", "appointment-worker@.service",
                  "appointment-completion.service", "appointment-reconcile.service"):
            for k, v in want.items():
                with self.subTest(unit=u, key=k):
                    self.assertEqual(self.value(u, k), v)
            self.assertEqual(self.values(u, "SystemCallFilter"),
                             ["@system-service", "~@privileged @resources"], u)
            self.assertEqual(self.values(u, "IPAddressDeny"), [], "%s must reach AWS" % u)

    def test_default_config_is_the_units(self):
        # A binary run by hand without --config reads the file the units pass: both follow
        # the configured sysconfdir (/etc/appointmentd unless -Dsysconfdir says otherwise).
        want = os.path.join(unitfiles.SYSCONFDIR, "appointmentd", "appointmentd.conf")
        for u in ("appointment-api.service", "appointment-worker@.service",
                  "appointment-completion.service", "appointment-reconcile.service"):
            with open(os.path.join(unitfiles.generated_dir(), u), encoding="utf-8") as f:
                m = re.search(r"(?m)^ExecStart=.* --config (\S+)", f.read())
            self.assertIsNotNone(m, u)
            self.assertEqual(m.group(1), want, u)
        for name in unitfiles.DAEMONS + unitfiles.TOOLS:
            with self.subTest(binary=name):
                r = subprocess.run([os.path.join(unitfiles.BUILD, "daemons", name, name), "--help"],
                                   capture_output=True, text=True, timeout=30)
                self.assertEqual(r.returncode, 0, r.stderr)
                m = re.search(r"--config PATH +configuration file \(default (\S+)\)", r.stdout)
                self.assertIsNotNone(m, r.stdout)
                self.assertEqual(m.group(1), want)

    def test_keys_file_sample_is_the_credential(self):
        # The API keys reach the dynamic user as a credential, never as a world-readable file
        # in /etc: the sample's keys_file names where systemd puts the api-keys credential.
        creds = [v.partition(":")[0] for v in self.values("appointment-api.service",
                                                          "LoadCredential")]
        self.assertIn("api-keys", creds)
        with open(os.path.join(unitfiles.SRC, "etc", "appointmentd.conf"), encoding="utf-8") as f:
            m = re.search(r"(?m)^# *keys_file *= *(\S+)", f.read())
        self.assertIsNotNone(m, "etc/appointmentd.conf shows no keys_file")
        self.assertEqual(m.group(1), "/run/credentials/appointment-api.service/api-keys")

    def test_socket_timer_target(self):
        self.assertEqual(self.values("appointment-api.socket", "ListenStream"), ["127.0.0.1:8080"])
        self.assertEqual(self.value("appointment-api.service", "Requires"), "appointment-api.socket")
        self.assertEqual(self.value("appointment-reconcile.timer", "OnCalendar"), "*:0/5")
        wants = " ".join(self.values("appointmentd.target", "Wants")).split()
        for w in ("appointment-api.socket", "appointment-api.service",
                  "appointment-worker@pe.service", "appointment-worker@cl.service",
                  "appointment-completion.service", "appointment-reconcile.timer"):
            self.assertIn(w, wants)


if __name__ == "__main__":
    unittest.main(verbosity=2)
