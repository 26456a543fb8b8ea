#!/usr/bin/python3
"""docker-compose for real (suite compose, root): the `emulators` profile of docker-compose.yml
built and run on a private Docker engine, then used from this machine as a user would.

1. Installs what it lacks (docker.io, docker-compose, debootstrap) and starts its own dockerd,
   by pid, in one of 16 slots (a lock file each, so runs side by side never share anything):
   socket, exec root and pid file in /run/appointmentd-compose/<slot>, data root a tmpfs on
   /var/lib/appointmentd-compose/<slot>, networks from 10.231.<16*slot>.0/20. The engine
   has no default bridge and does not touch iptables (--bridge none --iptables=false): the
   image builds use the host's network (docker-compose.yml), the containers talk over the
   compose network, published ports (127.0.0.1 only) go through docker-proxy.
2. debian:12 from docker/debian-base.sh (its root file system cached in <build>/compose-cache).
3. `docker-compose --profile emulators build --parallel`, then `up --build -d` as the README
   says, and waits for every health check (provision: exited 0; reconcile, which has none:
   running, and its log shows a run).
4. From the host: POST -> `completed`, the GET of the list and of the item, the error queue
   and every DLQ empty (moto, published on a free loopback port), `appointmentctl info` in a
   provision container.
5. Always (also on failure, SIGTERM or the deadline): `down -v`, every container and network
   removed, dockerd stopped by its pid, its data and exec roots deleted, no interface of its
   address pool left. Prints the time of each step."""
import contextlib
import fcntl
import http.client
import ipaddress
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "systemd"))
import unitfiles  # noqa: E402  (ensure_package, SRC, BUILD)
from unitfiles import wait_until  # noqa: E402

SRC = unitfiles.SRC
BUILD = unitfiles.BUILD
COMPOSE_FILE = os.path.join(SRC, "docker-compose.yml")
PROJECT = "appointmentd-compose-test"
SLOTS = 16
RUN_BASE = "/run/appointmentd-compose"
DATA_BASE = "/var/lib/appointmentd-compose"
POOL_BASE = ipaddress.ip_network("10.231.0.0/16")
# The data root is a tmpfs of at most this size (the emulators profile needs ~3 GB).
DATA_ROOT_SIZE = "8g"
CACHE = os.path.join(BUILD, "compose-cache")
LOG = os.path.join(BUILD, "meson-logs", "compose-test.log")
# The whole run before cleanup, generous for a machine loaded by other work (an idle fresh
# machine needs ~4 min: debootstrap and every image build). Cleanup takes < 1 min on top,
# inside meson's timeout (tests/compose/meson.build).
DEADLINE_S = 900
SERVICES = ["moto", "dynamodb-local", "postgres", "provision", "api", "worker-pe",
            "worker-cl", "completion", "reconcile"]
# Running without a healthcheck (it serves nothing): its log says that it ran.
NO_HEALTHCHECK = ["reconcile"]
STAGE = "dev"
ERROR_QUEUE = "medical-appointment-scheduling-appointments-error-" + STAGE
PACKAGES = [("dockerd", "docker.io"), ("docker-compose", "docker-compose"),
            ("debootstrap", "debootstrap")]

TIMINGS = []


class Interrupted(KeyboardInterrupt):
    """SIGTERM/SIGINT/the deadline: unwind so the engine is still stopped and removed.
    A KeyboardInterrupt, because unittest would record anything else as one failure and go on."""


def _raise_interrupted(signum, frame):
    if signum == signal.SIGALRM:
        raise Interrupted("the test ran longer than %d s" % DEADLINE_S)
    raise Interrupted(signal.Signals(signum).name)


@contextlib.contextmanager
def timed(what):
    t0 = time.monotonic()
    try:
        yield
    finally:
        dt = time.monotonic() - t0
        TIMINGS.append((what, dt))
        # on a line of its own, also amid unittest's "test_x ... ok"
        print("\ncompose: %-44s %6.1f s" % (what, dt), flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Engine:
    """A private dockerd in one slot, started and stopped by its pid."""

    def __init__(self):
        self.slot = None
        self.lock = None
        self.proc = None

    def acquire_slot(self):
        os.makedirs(RUN_BASE, exist_ok=True)
        for i in range(SLOTS):
            f = open(os.path.join(RUN_BASE, "slot-%d.lock" % i), "w")
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                f.close()
                continue
            self.slot, self.lock = i, f
            return i
        raise AssertionError("all %d compose test slots are busy (%s)" % (SLOTS, RUN_BASE))

    @property
    def run_dir(self):
        return os.path.join(RUN_BASE, str(self.slot))

    @property
    def data_root(self):
        return os.path.join(DATA_BASE, str(self.slot))

    @property
    def sock(self):
        return os.path.join(self.run_dir, "docker.sock")

    @property
    def host(self):
        return "unix://" + self.sock

    @property
    def pidfile(self):
        return os.path.join(self.run_dir, "dockerd.pid")

    @property
    def pool(self):
        return list(POOL_BASE.subnets(new_prefix=20))[self.slot]

    @property
    def log_path(self):
        return os.path.join(self.run_dir, "dockerd.log")

    def env(self):
        return {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
                "HOME": os.environ.get("HOME", "/root"), "LANG": "C.UTF-8",
                "DOCKER_HOST": self.host}

    def docker(self, *args, timeout=60, check=True):
        r = subprocess.run(["docker"] + list(args), env=self.env(), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=timeout)
        if check and r.returncode != 0:
            raise AssertionError("docker %s: exit %d\n%s" % (" ".join(args), r.returncode,
                                                            r.stderr[-2000:]))
        return r

    def answers(self):
        try:
            return self.docker("version", "--format", "{{.Server.Version}}", timeout=10,
                               check=False).returncode == 0
        except subprocess.TimeoutExpired:
            return False

    def start(self):
        self.remove_leftovers()
        for net in pool_routes():
            if net.overlaps(self.pool):
                raise AssertionError("address pool %s of slot %d overlaps a route (%s)"
                                     % (self.pool, self.slot, net))
        self.launch()

    def launch(self):
        os.makedirs(self.run_dir, exist_ok=True)
        os.makedirs(self.data_root, exist_ok=True)
        if self.data_root not in mounts_under(self.data_root):
            # In memory: faster builds, and removing it is an unmount (deleting ~3 GB of
            # image layers file by file takes minutes on a busy disk).
            subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%s,mode=0711" % DATA_ROOT_SIZE,
                            "appointmentd-compose-%d" % self.slot, self.data_root], check=True)
        log = open(self.log_path, "a")
        self.proc = subprocess.Popen(
            ["dockerd", "--host", self.host, "--data-root", self.data_root,
             "--exec-root", os.path.join(self.run_dir, "exec"), "--pidfile", self.pidfile,
             "--bridge", "none", "--iptables=false", "--ip-forward=false", "--ip-masq=false",
             "--default-address-pool", "base=%s,size=24" % self.pool, "--log-level", "warn"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True)
        log.close()
        if not wait_until(lambda: self.proc.poll() is not None or self.answers(), 60, 0.2):
            raise AssertionError("dockerd did not answer within 60 s:\n" + self.log_tail())
        if self.proc.poll() is not None:
            raise AssertionError("dockerd exited %d:\n%s" % (self.proc.returncode, self.log_tail()))

    def log_tail(self, n=30):
        try:
            with open(self.log_path) as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return "(no log)"

    def remove_everything(self):
        """Every container, network and volume of this engine (it is ours alone)."""
        ids = self.docker("ps", "-aq", check=False).stdout.split()
        if ids:
            self.docker("rm", "-f", "-v", *ids, timeout=120, check=False)
        self.docker("network", "prune", "-f", check=False)
        self.docker("volume", "prune", "-f", check=False)

    def stop(self):
        """Stops our dockerd by its pid (TERM, then KILL); containerd is its child."""
        pid = self.proc.pid if self.proc else read_pid(self.pidfile)
        if not pid or not pid_is_dockerd(pid, self.sock):
            return
        os.kill(pid, signal.SIGTERM)
        if not wait_until(lambda: not pid_is_dockerd(pid, self.sock), 30, 0.2):
            os.kill(pid, signal.SIGKILL)
            wait_until(lambda: not pid_is_dockerd(pid, self.sock), 10, 0.2)
        if self.proc:
            self.proc.wait(timeout=10)

    def remove_leftovers(self):
        """What a run of this slot killed before its cleanup left: its dockerd (found by the pid
        file and checked by its command line) or, when that is gone too, its data root (an
        engine started on it once more removes the containers it still knows), then the roots
        and any interface of the slot's address pool."""
        pid = read_pid(self.pidfile)
        if pid and pid_is_dockerd(pid, self.sock):
            if self.answers():
                self.remove_everything()
            self.stop()
        elif os.path.isdir(self.data_root) and os.listdir(self.data_root):
            try:
                self.launch()
                self.remove_everything()
            finally:
                self.stop()
                self.proc = None
        self.remove_roots()

    def remove_roots(self):
        for d in (self.data_root, self.run_dir):
            if os.path.isdir(d):
                # the data root's tmpfs, and what a killed engine left mounted under the roots
                for m in sorted(mounts_under(d), key=len, reverse=True):
                    subprocess.run(["umount", "-l", m], stderr=subprocess.DEVNULL)
                shutil.rmtree(d, ignore_errors=True)
        for ifname in interfaces_in(self.pool):
            subprocess.run(["ip", "link", "delete", ifname], stderr=subprocess.DEVNULL)

    def cleanup(self):
        """Returns what is left (empty when everything is gone)."""
        left = []
        if self.slot is None:
            return left
        try:
            if self.proc and self.proc.poll() is None and self.answers():
                with timed("containers, networks, volumes removed"):
                    self.remove_everything()
        finally:
            with timed("dockerd stopped"):
                self.stop()
            with timed("data root, exec root, interfaces removed"):
                self.remove_roots()
        if os.path.exists(self.data_root):
            left.append(self.data_root)
        left += ["interface %s" % i for i in interfaces_in(self.pool)]
        if self.proc and self.proc.poll() is None:
            left.append("dockerd pid %d" % self.proc.pid)
        return left


def read_pid(path):
    try:
        with open(path) as f:
            s = f.read().strip()
        return int(s) if s.isdigit() else None
    except OSError:
        return None


def pid_is_dockerd(pid, sock):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            argv = f.read().split(b"\0")
        with open("/proc/%d/stat" % pid) as f:
            if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                return False
    except OSError:
        return False
    return argv and os.path.basename(argv[0].decode()) == "dockerd" and \
        ("unix://" + sock).encode() in argv


def mounts_under(d):
    out = []
    with open("/proc/self/mounts") as f:
        for line in f:
            mnt = line.split()[1].replace("\\040", " ")
            if mnt == d or mnt.startswith(d + "/"):
                out.append(mnt)
    return out


def pool_routes():
    """The IPv4 routes of this machine (networks), to keep our pool clear of them."""
    r = subprocess.run(["ip", "-j", "-4", "route", "show", "table", "all"],
                       stdout=subprocess.PIPE, text=True, check=True)
    nets = []
    for route in json.loads(r.stdout or "[]"):
        dst = route.get("dst", "")
        if dst in ("", "default") or route.get("type") in ("local", "broadcast"):
            continue
        try:
            nets.append(ipaddress.ip_network(dst if "/" in dst else dst + "/32", strict=False))
        except ValueError:
            pass
    return nets


def interfaces_in(pool):
    """Interfaces holding an address of pool (the bridges of our networks)."""
    r = subprocess.run(["ip", "-j", "-4", "addr"], stdout=subprocess.PIPE, text=True)
    names = []
    for link in json.loads(r.stdout or "[]"):
        for a in link.get("addr_info", []):
            if ipaddress.ip_address(a["local"]) in pool:
                names.append(link["ifname"])
    return names


class ComposeEmulatorsTest(unittest.TestCase):
    """Ordered steps on one deployment (unittest runs test_NN_* in name order)."""

    engine = None
    ports = None
    up_ok = False

    @classmethod
    def setUpClass(cls):
        if os.geteuid() != 0:
            raise unittest.SkipTest("needs root (its own dockerd, apt-get)")
        with timed("install docker.io docker-compose debootstrap"):
            for cmd, pkg in PACKAGES:
                unitfiles.ensure_package(cmd, pkg)
        os.makedirs(os.path.dirname(LOG), exist_ok=True)
        with open(LOG, "w"):
            pass
        cls.engine = Engine()
        slot = cls.engine.acquire_slot()
        with timed("start dockerd (slot %d)" % slot):
            cls.engine.start()
        with timed("debian:12 (docker/debian-base.sh)"):
            r = subprocess.run(["bash", os.path.join(SRC, "docker", "debian-base.sh"), CACHE],
                               env=cls.engine.env(), stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, timeout=400)
            print(r.stdout.strip(), flush=True)
            if r.returncode != 0:
                raise AssertionError("docker/debian-base.sh failed")
        cls.ports = {"APPT_API_PORT": free_port(), "APPT_AWS_PORT": free_port(),
                     "APPT_DYNAMODB_PORT": free_port()}

    @classmethod
    def compose(cls, *args, timeout=120, check=True):
        """docker-compose with the emulators profile on our engine; its output is also kept in
        <build>/meson-logs/compose-test.log."""
        env = cls.engine.env()
        env.update({k: str(v) for k, v in cls.ports.items()})
        # docker-py builds (the same whichever docker CLI is on PATH), side by side
        env["COMPOSE_DOCKER_CLI_BUILD"] = "0"
        r = subprocess.run(["docker-compose", "-f", COMPOSE_FILE, "--project-directory", SRC,
                            "-p", PROJECT, "--profile", "emulators"] + list(args),
                           env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True, timeout=timeout)
        with open(LOG, "a") as f:
            f.write("$ docker-compose %s  (exit %d)\n%s\n" % (" ".join(args), r.returncode,
                                                              r.stdout))
        if check and r.returncode != 0:
            raise AssertionError("docker-compose %s: exit %d\n%s" % (
                " ".join(args), r.returncode, r.stdout[-6000:]))
        return r

    @classmethod
    def states(cls):
        """service -> (status, health, exit code) of its container."""
        ids = cls.compose("ps", "-q", check=False).stdout.split()
        if not ids:
            return {}
        r = cls.engine.docker("inspect", *ids)
        out = {}
        for c in json.loads(r.stdout):
            svc = c["Config"]["Labels"].get("com.docker.compose.service")
            st = c["State"]
            out[svc] = (st["Status"], (st.get("Health") or {}).get("Status"), st["ExitCode"])
        return out

    def diagnose(self):
        r = self.compose("ps", check=False)
        logs = self.compose("logs", "--no-color", "--tail", "25", check=False)
        return r.stdout + logs.stdout[-8000:]

    def request(self, method, path, body=None, timeout=30):
        conn = http.client.HTTPConnection("127.0.0.1", self.ports["APPT_API_PORT"],
                                          timeout=timeout)
        try:
            headers = {"Content-Type": "application/json"} if body is not None else {}
            conn.request(method, path, body=json.dumps(body) if body is not None else None,
                         headers=headers)
            resp = conn.getresponse()
            raw = resp.read().decode()
            return resp.status, (json.loads(raw) if raw else None), raw
        finally:
            conn.close()

    def distinct_builds(self):
        """One service per image to build (the five app services share one Dockerfile: built
        side by side, each would compile it again)."""
        import yaml
        model = yaml.safe_load(self.compose("config").stdout)
        seen = {}
        for name, svc in sorted(model["services"].items()):
            if "build" in svc and "emulators" in svc.get("profiles", ["emulators"]):
                b = svc["build"]
                seen.setdefault((b["context"], b.get("dockerfile", "Dockerfile")), name)
        return sorted(seen.values())

    def test_01_up_and_healthy(self):
        type(self).up_ok = False
        builds = self.distinct_builds()
        with timed("build --parallel %s" % " ".join(builds)):
            self.compose("build", "--parallel", *builds, timeout=DEADLINE_S)
        with timed("up --build -d"):
            r = self.compose("up", "--build", "-d", timeout=300, check=False)
            if r.returncode != 0:
                self.fail("up failed:\n%s\n%s" % (r.stdout[-4000:], self.diagnose()))

        def all_healthy():
            st = self.states()
            if st.get("provision", ("",))[0] == "exited" and st["provision"][2] != 0:
                raise AssertionError("provision exited %d" % st["provision"][2])
            def ok(s):
                if s == "provision":
                    return st.get(s, ("",))[0] == "exited" and st[s][2] == 0
                want = ("running", None if s in NO_HEALTHCHECK else "healthy")
                return st.get(s, ("", ""))[:2] == want
            return all(ok(s) for s in SERVICES) and st
        with timed("every health check"):
            try:
                st = wait_until(all_healthy, 180, 1)
            except AssertionError as e:
                self.fail("%s\n%s" % (e, self.diagnose()))
            self.assertTrue(st, "not healthy within 180 s: %s\n%s" % (self.states(),
                                                                     self.diagnose()))
        self.assertEqual(sorted(st), sorted(SERVICES), "exactly the emulators profile runs")
        type(self).up_ok = True

    def test_02_post_reaches_completed(self):
        self.assertTrue(self.up_ok, "the deployment is not up")
        with timed("POST -> completed (GET)"):
            insured = "%05d" % (os.getpid() % 100000)
            code, body, raw = self.request("POST", "/appointments", {
                "insuredId": insured, "scheduleId": 100, "countryISO": "PE"})
            self.assertEqual(code, 201, raw)
            self.assertEqual(body["status"], "pending")
            aid = body["appointmentId"]

            def listed():
                code, listing, raw = self.request("GET", "/appointments/%s" % insured)
                self.assertEqual(code, 200, raw)
                return listing

            def finished():
                listing = listed()
                items = listing["appointments"]
                return listing if items and items[0]["status"] in ("completed", "failed") else None
            done = wait_until(finished, 90, 0.5)
            self.assertTrue(done, "not completed within 90 s: %s\n%s" % (listed(),
                                                                        self.diagnose()))
            self.assertEqual([a["appointmentId"] for a in done["appointments"]], [aid])
            item = done["appointments"][0]
            self.assertEqual(item["status"], "completed", item)
            self.assertIsNotNone(item["processedAt"])
            self.assertIsNotNone(item["completedAt"])
            self.assertEqual(item["schedule"]["scheduleId"], 100)

    def test_03_error_queue_empty(self):
        self.assertTrue(self.up_ok, "the deployment is not up")
        import botocore.session  # Debian's python3-botocore
        s = botocore.session.get_session()
        sqs = s.create_client("sqs", region_name="us-east-1", aws_access_key_id="test",
                              aws_secret_access_key="test",
                              endpoint_url="http://127.0.0.1:%d" % self.ports["APPT_AWS_PORT"])
        urls = sqs.list_queues(QueueNamePrefix="medical-appointment-scheduling-").get(
            "QueueUrls", [])
        names = {u.rsplit("/", 1)[1]: u for u in urls}
        self.assertIn(ERROR_QUEUE, names, sorted(names))
        for name, url in sorted(names.items()):
            if name != ERROR_QUEUE and not name.endswith("-dlq"):
                continue
            with self.subTest(queue=name):
                a = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[
                    "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])
                self.assertEqual(a["Attributes"], {"ApproximateNumberOfMessages": "0",
                                                   "ApproximateNumberOfMessagesNotVisible": "0"})

    def test_05_reconciler_runs(self):
        self.assertTrue(self.up_ok, "the deployment is not up")
        # its first run starts at once (SPEC §6: nothing stays pending for good under compose)
        done = wait_until(lambda: "reconciled appointments created before" in self.compose(
            "logs", "--no-color", "reconcile", check=False).stdout, 60, 1)
        self.assertTrue(done, self.compose("logs", "--no-color", "reconcile", check=False).stdout)
        self.assertEqual(self.states()["reconcile"][:2], ("running", None))

    def test_04_appointmentctl_info_in_provision(self):
        self.assertTrue(self.up_ok, "the deployment is not up")
        with timed("appointmentctl info (provision container)"):
            r = self.compose("run", "--rm", "--no-deps", "provision", "appointmentctl", "info",
                             timeout=120)
        self.assertRegex(r.stdout, r"(?m)^queue +%s +exists +0 visible, 0 in flight" % ERROR_QUEUE)
        self.assertRegex(r.stdout, r"(?m)^database +PE +reachable +postgres:5432/appointments_pe")


_cleaned = False


def cleanup():
    """down -v, then the engine and everything it made; safe to call twice."""
    global _cleaned
    if _cleaned:
        return True
    _cleaned = True
    signal.alarm(0)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    e = ComposeEmulatorsTest.engine
    if e is None or e.slot is None:
        return True
    left = []
    if not os.path.isdir(os.path.dirname(LOG)):
        os.makedirs(os.path.dirname(LOG), exist_ok=True)
    try:
        if ComposeEmulatorsTest.ports and e.proc and e.proc.poll() is None:
            with timed("down -v"):
                r = ComposeEmulatorsTest.compose("down", "-v", "-t", "10", timeout=180,
                                                 check=False)
            if r.returncode != 0:
                left.append("docker-compose down: exit %d" % r.returncode)
    except (subprocess.TimeoutExpired, OSError) as ex:
        left.append("docker-compose down: %s" % ex)
    finally:
        left += e.cleanup()
    if left:
        sys.stderr.write("compose: left behind: %s\n" % left)
    return not left


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _raise_interrupted)
    signal.signal(signal.SIGINT, _raise_interrupted)
    signal.signal(signal.SIGALRM, _raise_interrupted)
    signal.alarm(DEADLINE_S)
    t0 = time.monotonic()
    ok = False
    skipped = False
    try:
        prog = unittest.main(verbosity=2, exit=False)
        res = prog.result
        skipped = bool(res.skipped) and res.wasSuccessful() and res.testsRun <= len(res.skipped)
        ok = res.wasSuccessful() and res.testsRun > 0
    finally:
        clean = cleanup()
        print("compose: timings")
        for what, dt in TIMINGS:
            print("compose:   %-44s %6.1f s" % (what, dt))
        print("compose: total %.1f s" % (time.monotonic() - t0), flush=True)
    if skipped and clean:
        sys.exit(77)            # meson: SKIP (not root), never counted as passed
    sys.exit(0 if ok and clean else 1)
