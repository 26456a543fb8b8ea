#!/usr/bin/python3
"""docker-compose.yml, the Dockerfiles and docker/ without an engine (suite unit; the engine
test is test_compose.py, suite compose): Debian's docker-compose (1.29) accepts the file with
the default profile and with `emulators` (`config -q`), and the resolved model says what
docs/operations.md promises (LocalStack pinned token-free, token passed through, the default
profile; the emulators profile built here on debian:12 with no image to pull; healthchecks
and depends_on conditions, loopback-only ports, stop grace periods equal to the units'
TimeoutStopSec, hardening); every Dockerfile builds on debian:12 only and runs as non-root;
the scripts parse; the compose config file loads with the real loader."""
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import unittest

import yaml

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "systemd"))
import unitfiles  # noqa: E402  (ensure_package, SRC, BUILD)

SRC = unitfiles.SRC
COMPOSE = os.path.join(SRC, "docker-compose.yml")
APP_SERVICES = ["provision", "api", "worker-pe", "worker-cl", "completion", "reconcile"]
DAEMONS = ["api", "worker-pe", "worker-cl", "completion"]
# Restarted after every failure: Docker's on-failure:N counts over the container's life (never
# reset by a healthy run), so a bounded count would leave a daemon down for good after N
# crashes spread over weeks; exit 78 retries with Docker's back-off (docker-compose.yml).
RESTART = "on-failure"
LOCALSTACK_LAST_FREE = (4, 14, 0)


def compose(*args, env_extra=None):
    return subprocess.run(["docker-compose", "-f", COMPOSE, "--project-directory", SRC] +
                          list(args), cwd=SRC, env=clean_env(env_extra), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, timeout=60)


# Which services `up` would run: Compose v1's own loader and profile selection (no engine).
ENABLED = """
import sys
import docker.errors
from compose.cli.command import get_profiles_from_options
from compose.config import config
from compose.config.environment import Environment
from compose.project import Project
src, path, profiles = sys.argv[1], sys.argv[2], sys.argv[3:]
env = Environment.from_env_file(src)
cfg = config.load(config.find(src, [path], env), interpolate=True)
enabled = get_profiles_from_options({"--profile": profiles}, env)


class NoEngine:
    def inspect_network(self, name):
        raise docker.errors.NotFound(name)


project = Project.from_config("x", cfg, NoEngine(), enabled_profiles=enabled)
print(" ".join(sorted(s.name for s in project.get_services())))
"""


def clean_env(extra=None):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("LOCALSTACK_", "APPT_", "MOTO_", "DYNAMODB_", "COMPOSE_"))}
    env.update(extra or {})
    return env


def enabled_services(profiles, env_extra=None):
    r = subprocess.run(["/usr/bin/python3", "-c", ENABLED, SRC, COMPOSE] + profiles,
                       env=clean_env(env_extra), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, timeout=60)
    if r.returncode != 0:
        raise AssertionError("compose loader: " + r.stderr[-2000:])
    return set(r.stdout.split())


def dockerfile_stages(path):
    """[(image, alias)] of every FROM line, ARG defaults substituted."""
    with open(os.path.join(SRC, path), encoding="utf-8") as f:
        text = f.read()
    args = dict(re.findall(r"(?m)^ARG\s+(\w+)=(\S+)$", text))
    out = []
    for image, alias in re.findall(r"(?m)^FROM\s+(\S+)(?:\s+AS\s+(\S+))?", text):
        out.append((re.sub(r"\$\{(\w+)\}", lambda m: args.get(m.group(1), m.group(0)), image),
                    alias))
    return text, out


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

    def test_profiles_select_one_aws_emulator(self):
        common = {"postgres"} | set(APP_SERVICES)
        # The default (COMPOSE_PROFILES=localstack in .env): LocalStack.
        self.assertEqual(enabled_services([]), common | {"localstack"})
        # A --profile replaces the default: the README's Docker line runs no LocalStack (its
        # image could not even be pulled where no registry is reachable).
        self.assertEqual(enabled_services(["emulators"]), common | {"moto", "dynamodb-local"})
        self.assertEqual(enabled_services([], {"COMPOSE_PROFILES": "emulators"}),
                         common | {"moto", "dynamodb-local"})

    def test_localstack_pinned_token_free(self):
        self.assertEqual(self.svc["localstack"]["profiles"], ["localstack"])
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

    def test_everything_but_localstack_is_built_here(self):
        for name, s in self.svc.items():
            if name == "localstack":
                continue
            with self.subTest(service=name):
                self.assertIn("build", s, "%s would be pulled" % name)
                self.assertRegex(s["image"], r"^appointmentd[\w-]*:local$")
                # builds reach Debian, PyPI and npm like the host (an engine without NAT too)
                self.assertEqual(s["build"].get("network"), "host")
                path = os.path.relpath(os.path.join(s["build"]["context"],
                                                    s["build"].get("dockerfile", "Dockerfile")),
                                       SRC)
                _, stages = dockerfile_stages(path)
                aliases = {a for _, a in stages if a}
                for image, _ in stages:
                    self.assertTrue(image == "debian:12" or image in aliases,
                                    "%s: FROM %s (debian:12 is the only base)" % (path, image))

    def test_emulators_profile(self):
        self.assertNotIn("emulators", self.svc["localstack"]["profiles"])
        self.assertEqual(self.svc["moto"]["profiles"], ["emulators"])
        self.assertEqual(self.svc["dynamodb-local"]["profiles"], ["emulators"])

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
        # The pinned versions of the local stack, not a tag of their own.
        with open(os.path.join(SRC, "docker", "moto", "Dockerfile"), encoding="utf-8") as f:
            self.assertIn("tests/support/requirements.txt", f.read())
        with open(os.path.join(SRC, "docker", "dynamodb-local", "Dockerfile"), encoding="utf-8") as f:
            self.assertIn("tests/support/package-lock.json", f.read())

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

    def test_reconciler(self):
        # SPEC §6: without it an appointment whose publish failed stays pending for ever.
        # What scripts/up runs, from the app image, once provision has completed.
        r = self.svc["reconcile"]
        self.assertEqual(r["image"], "appointmentd:local")
        self.assertEqual(r["command"], ["appointmentctl", "reconcile", "--every", "30"])
        self.assertEqual(r["depends_on"]["provision"]["condition"],
                         "service_completed_successfully")
        self.assertEqual(r["stop_grace_period"], "30s")   # appointment-reconcile.service
        self.assertNotIn("profiles", r)

    def test_restart_on_failure(self):
        for s in DAEMONS + ["reconcile"]:
            self.assertEqual(self.svc[s].get("restart"), RESTART, s)
        self.assertEqual(self.svc["provision"].get("restart"), "no")

    def test_hardening_and_ports(self):
        for s in APP_SERVICES + ["moto", "dynamodb-local", "postgres"]:
            with self.subTest(service=s):
                self.assertTrue(self.svc[s]["read_only"], s)
                self.assertEqual(self.svc[s]["cap_drop"], ["ALL"], s)
                self.assertIn("no-new-privileges:true", self.svc[s]["security_opt"], s)
        for name, s in self.svc.items():
            for p in s.get("ports", []):
                self.assertTrue(str(p).startswith("127.0.0.1:"), "%s publishes %s" % (name, p))

    def test_dockerfiles(self):
        text, stages = dockerfile_stages("Dockerfile")
        self.assertEqual(stages, [("debian:12", "build"), ("debian:12", "")])
        self.assertRegex(text, r"(?m)^ARG DEBIAN_RELEASE=12$")
        build, run = text.split("\nFROM debian:${DEBIAN_RELEASE}\n", 1)
        self.assertIn("meson setup", build)
        self.assertNotRegex(run, r"-dev\b", "no -dev package in the runtime image")
        self.assertIn("COPY --from=build", run)
        for path in ("Dockerfile", "docker/moto/Dockerfile", "docker/dynamodb-local/Dockerfile",
                     "docker/postgres/Dockerfile"):
            with self.subTest(dockerfile=path):
                text, stages = dockerfile_stages(path)
                last = text.rsplit("\nFROM ", 1)[-1]
                users = re.findall(r"(?m)^USER\s+(\S+)", last)
                self.assertEqual(len(users), 1, path)
                self.assertNotIn(users[0].split(":")[0], ("0", "root"), path)
                # BuildKit would fetch a `# syntax=` frontend image from a registry
                self.assertNotRegex(text, r"(?m)^#\s*syntax=", path)

    def test_no_two_stages_start_alike(self):
        # Built side by side (tests/compose), stages that start with the same instruction on
        # debian:12 each commit their own copy of that layer; a later build finds only one of
        # them in its cache and rebuilds everything after it. So no two stages share a first
        # instruction.
        firsts = {}
        for path in ("Dockerfile", "docker/moto/Dockerfile", "docker/dynamodb-local/Dockerfile",
                     "docker/postgres/Dockerfile"):
            text, _ = dockerfile_stages(path)
            for stage in re.split(r"(?m)^FROM .*\n", text)[1:]:
                lines = [ln for ln in stage.splitlines() if ln.strip() and not ln.startswith("#")]
                first = []
                for ln in lines:            # the instruction with its continuation lines
                    first.append(ln)
                    if not ln.endswith("\\"):
                        break
                key = "\n".join(first)
                self.assertFalse(key in firsts, "%s and %s both start a stage with %r"
                                 % (firsts.get(key), path, key))
                firsts[key] = path

    def test_build_context_keeps_the_pins(self):
        # The repository is the context of three images: .dockerignore (as Compose v1's
        # docker-py reads it) keeps the pinned versions and leaves build trees and
        # node_modules out.
        from docker.utils.build import exclude_paths
        with open(os.path.join(SRC, ".dockerignore"), encoding="utf-8") as f:
            patterns = [line.strip() for line in f if line.strip() and not line.startswith("#")]
        kept = exclude_paths(SRC, patterns)
        for p in ("tests/support/requirements.txt", "tests/support/package-lock.json",
                  "docker/provision.sh", "meson.build", "scripts/install-conf.sh"):
            self.assertIn(p, kept)
        for p in kept:
            self.assertFalse(p.startswith(("tests/support/node_modules", ".git/", "build")), p)

    def test_scripts_and_config(self):
        for path in ("docker/provision.sh", "docker/postgres/initdb.d/10-appointmentd.sh",
                     "docker/postgres/entrypoint.sh"):
            full = os.path.join(SRC, path)
            self.assertTrue(os.access(full, os.X_OK), path)
            r = subprocess.run(["sh", "-n", full], stderr=subprocess.PIPE, text=True)
            self.assertEqual(r.returncode, 0, r.stderr)
        r = subprocess.run(["bash", "-n", os.path.join(SRC, "docker", "debian-base.sh")],
                           stderr=subprocess.PIPE, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        ctl = os.path.join(unitfiles.BUILD, "daemons", "appointmentctl", "appointmentctl")
        r = subprocess.run([ctl, "--config", os.path.join(SRC, "docker", "appointmentd.conf"),
                            "check", "--print-config"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("[country PE]", r.stdout)
        self.assertIn("[country CL]", r.stdout)

    def test_debian_base_root_is_0755(self):
        # docker/debian-base.sh debootstraps into a mktemp -d directory (mode 0700) and tars
        # it from "."; the "./" entry kept 0700, so the image's / (and a chroot's, as
        # tests/scripts/fresh_debian.sh makes one) let no user but root reach anything: on
        # it `runuser -u postgres` could not even execute `test`, and scripts/up failed with
        # "no directory the postgres user can write for the cluster". Debian's / is 0755.
        # debootstrap and the engine are stand-ins here (the real ones: the compose suite).
        tmp = tempfile.mkdtemp(prefix="appt-debian-base-")
        self.addCleanup(shutil.rmtree, tmp, True)
        stubs = os.path.join(tmp, "bin")
        os.mkdir(stubs)
        for name, body in (
                ("debootstrap", 'root=$3\ncd "$root" && mkdir -p etc/apt/apt.conf.d '
                 'etc/apt/sources.list.d etc/dpkg/dpkg.cfg.d tmp dev var/log\n'
                 'chmod 1777 tmp\n'),
                ("docker", 'case "$1 $2" in\n"version "*) echo 24.0 ;;\n'
                 '"image inspect") exit 1 ;;\nimport*) exit 0 ;;\n*) exit 2 ;;\nesac\n')):
            path = os.path.join(stubs, name)
            with open(path, "w", encoding="utf-8") as f:
                f.write("#!/bin/sh\n" + body)
            os.chmod(path, 0o755)
        cache = os.path.join(tmp, "cache")
        env = dict(os.environ, PATH=stubs + os.pathsep + os.environ.get("PATH", ""))
        r = subprocess.run(["bash", os.path.join(SRC, "docker", "debian-base.sh"), cache],
                           env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout)
        with tarfile.open(os.path.join(cache, "debian-12.tar.gz")) as tar:
            modes = {m.name: m.mode for m in tar.getmembers() if m.name in (".", "./tmp")}
        self.assertEqual(modes, {".": 0o755, "./tmp": 0o1777},
                         {k: oct(v) for k, v in modes.items()})


if __name__ == "__main__":
    unittest.main(verbosity=2)
