#!/usr/bin/python3
"""docker-compose.yml, Dockerfile and docker/ (suite unit). No Docker engine runs here, so
this checks what can be checked without one: Debian's docker-compose (1.29) accepts the file
with and without the `emulators` profile (`config -q`), and the resolved model says what
docs/operations.md promises (pinned token-free LocalStack, token passed through, the
emulators profile, healthchecks and depends_on conditions, loopback-only ports, stop grace
periods equal to the units' TimeoutStopSec); the Dockerfile is multi-stage with a non-root
runtime; the init scripts parse; the compose config file loads with the real loader."""
import os
import re
import subprocess
import sys
import unittest

import yaml

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "systemd"))
import unitfiles  # noqa: E402  (ensure_package, SRC, BUILD)

SRC = unitfiles.SRC
COMPOSE = os.path.join(SRC, "docker-compose.yml")
APP_SERVICES = ["provision", "api", "worker-pe", "worker-cl", "completion"]
DAEMONS = ["api", "worker-pe", "worker-cl", "completion"]
LOCALSTACK_LAST_FREE = (4, 14, 0)


def compose(*args, env_extra=None):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("LOCALSTACK_", "APPT_", "MOTO_", "DYNAMODB_", "COMPOSE_"))}
    env.update(env_extra or {})
    return subprocess.run(["docker-compose", "-f", COMPOSE, "--project-directory", SRC] +
                          list(args), cwd=SRC, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, timeout=60)


class ComposeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        unitfiles.ensure_package("docker-compose", "docker-compose")
        r = compose("config")
        if r.returncode != 0:
            raise AssertionError("docker-compose config:\n" + r.stderr)
        cls.model = yaml.safe_load(r.stdout)
        cls.svc = cls.model["services"]

    def test_config_quiet_both_profiles(self):
        for args in ([], ["--profile", "emulators"]):
            with self.subTest(profile=args):
                r = compose(*(args + ["config", "-q"]))
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertEqual(r.stdout, "")

    def test_localstack_pinned_token_free(self):
        image = self.svc["localstack"]["image"]
        m = re.fullmatch(r"localstack/localstack:(\d+)\.(\d+)\.(\d+)", image)
        self.assertIsNotNone(m, image)
        self.assertLessEqual(tuple(int(x) for x in m.groups()), LOCALSTACK_LAST_FREE)
        env = self.svc["localstack"]["environment"]
        self.assertEqual(set(env["SERVICES"].split(",")), {"dynamodb", "sns", "sqs", "events", "ssm"})
        self.assertIsNone(env.get("LOCALSTACK_AUTH_TOKEN"), "no token unless the user has one")
        with_token = yaml.safe_load(compose("config", env_extra={
            "LOCALSTACK_AUTH_TOKEN": "ls-test", "LOCALSTACK_TAG": "2026.3.0"}).stdout)
        ls = with_token["services"]["localstack"]
        self.assertEqual(ls["environment"]["LOCALSTACK_AUTH_TOKEN"], "ls-test")
        self.assertEqual(ls["image"], "localstack/localstack:2026.3.0")

    def test_emulators_profile(self):
        self.assertNotIn("profiles", self.svc["localstack"])
        self.assertEqual(self.svc["moto"]["profiles"], ["emulators"])
        self.assertEqual(self.svc["dynamodb-local"]["profiles"], ["emulators"])
        self.assertRegex(self.svc["moto"]["image"], r"^motoserver/moto:\d+\.\d+\.\d+$")
        self.assertRegex(self.svc["dynamodb-local"]["image"], r"^amazon/dynamodb-local:\d+\.\d+\.\d+$")

        def aliases(name):
            return set(self.svc[name]["networks"]["default"]["aliases"])
        # The daemons see the same two names whichever emulator runs.
        self.assertEqual(aliases("localstack"), {"aws", "dynamodb"})
        self.assertEqual(aliases("moto"), {"aws"})
        self.assertEqual(aliases("dynamodb-local"), {"dynamodb"})
        for s in APP_SERVICES:
            env = self.svc[s]["environment"]
            self.assertEqual(env["AWS_ENDPOINT_URL_DYNAMODB"], "http://dynamodb:4566", s)
            for k in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SNS", "AWS_ENDPOINT_URL_SQS",
                      "AWS_ENDPOINT_URL_EVENTBRIDGE", "AWS_ENDPOINT_URL_SSM"):
                self.assertEqual(env[k], "http://aws:4566", "%s %s" % (s, k))
            self.assertEqual(env["AWS_EC2_METADATA_DISABLED"], "true")

    def test_order_and_health(self):
        self.assertEqual(self.svc["provision"]["depends_on"]["postgres"]["condition"],
                         "service_healthy")
        self.assertIn("provision.sh", " ".join(self.svc["provision"]["command"]))
        for s in DAEMONS:
            self.assertEqual(self.svc[s]["depends_on"]["provision"]["condition"],
                             "service_completed_successfully", s)
        for s in DAEMONS + ["postgres", "localstack", "moto", "dynamodb-local"]:
            self.assertIn("test", self.svc[s].get("healthcheck", {}), "%s has no healthcheck" % s)
        self.assertEqual(self.svc["worker-pe"]["command"][-2:], ["--country", "pe"])
        self.assertEqual(self.svc["worker-cl"]["command"][-2:], ["--country", "cl"])
        # as the units' TimeoutStopSec: the drain must fit before SIGKILL
        self.assertEqual(self.svc["api"]["stop_grace_period"], "30s")
        for s in ("worker-pe", "worker-cl", "completion"):
            self.assertEqual(self.svc[s]["stop_grace_period"], "60s", s)

    def test_hardening_and_ports(self):
        for s in APP_SERVICES:
            self.assertTrue(self.svc[s]["read_only"], s)
            self.assertEqual(self.svc[s]["cap_drop"], ["ALL"], s)
            self.assertIn("no-new-privileges:true", self.svc[s]["security_opt"], s)
        for name, s in self.svc.items():
            for p in s.get("ports", []):
                self.assertTrue(str(p).startswith("127.0.0.1:"), "%s publishes %s" % (name, p))

    def test_dockerfile(self):
        with open(os.path.join(SRC, "Dockerfile"), encoding="utf-8") as f:
            text = f.read()
        froms = re.findall(r"^FROM\s+(\S+)(?:\s+AS\s+(\S+))?", text, re.M)
        self.assertEqual(len(froms), 2, froms)
        self.assertEqual(froms[0], ("debian:${DEBIAN_RELEASE}", "build"))
        self.assertEqual(froms[1][0], "debian:${DEBIAN_RELEASE}-slim")
        self.assertRegex(text, r"(?m)^ARG DEBIAN_RELEASE=12$")
        build, run = text.split(froms[1][0], 1)
        self.assertIn("meson setup", build)
        self.assertNotRegex(run, r"-dev\b", "no -dev package in the runtime image")
        users = re.findall(r"(?m)^USER\s+(\S+)", run)
        self.assertEqual(len(users), 1)
        self.assertNotIn(users[0].split(":")[0], ("0", "root"))
        self.assertIn("COPY --from=build", run)

    def test_scripts_and_config(self):
        for path in ("docker/provision.sh", "docker/postgres-init/10-appointmentd.sh"):
            full = os.path.join(SRC, path)
            self.assertTrue(os.access(full, os.X_OK), path)
            r = subprocess.run(["sh", "-n", full], stderr=subprocess.PIPE, text=True)
            self.assertEqual(r.returncode, 0, r.stderr)
        ctl = os.path.join(unitfiles.BUILD, "daemons", "appointmentctl", "appointmentctl")
        r = subprocess.run([ctl, "--config", os.path.join(SRC, "docker", "appointmentd.conf"),
                            "check", "--print-config"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("[country PE]", r.stdout)
        self.assertIn("[country CL]", r.stdout)


if __name__ == "__main__":
    unittest.main(verbosity=2)
