#!/usr/bin/python3
"""The installed units under a real, booted systemd (suite e2e, root, the local stack of
scripts/test): a throwaway container (systemd-nspawn over a read-only view of the host's /,
every write on a tmpfs, ../shared/SYSTEMD-NOTES.md) with this build tree at /opt/appointmentd,
the generated units (paths rewritten) at /run/systemd/system, a private provisioned deployment
(tests/e2e/harness.py: own stage, tables, queues, databases) as /etc/appointmentd and the
PostgreSQL password in /etc/credstore only. The container shares the host's network
namespace, so the daemons reach the stack on 127.0.0.1 and nothing else.
Inside: appointmentd.target brings up everything; a POST reaches `completed`; socket
activation; the sandbox (dynamic uid, no capabilities, read-only /usr); the credential (and
its absence is not fatal); reload; restart and reload lose no request; exit 78 does not loop;
the reconciler runs sandboxed; stop within TimeoutStopSec; a hung loop is killed by the
watchdog; a masked country's worker leaves the target clean; an API that exits 78 is started
by its socket again until the start limit; appointmentctl run by hand as operations.md says. The container is always powered off, its cgroups and the deployment removed."""
import ctypes
import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
import unitfiles  # noqa: E402
from unitfiles import wait_until  # noqa: E402
import harness  # noqa: E402  (tests/e2e: a provisioned deployment on the local stack)

IN_BUILD = "/opt/appointmentd"        # the build tree inside the container
IN_CONF = "/etc/appointmentd"         # the test configuration inside the container
CGROUP_ROOTS = ("/sys/fs/cgroup/systemd", "/sys/fs/cgroup/unified")
DYNAMIC_UID_MIN, DYNAMIC_UID_MAX = 61184, 65519
SERVICES = ["appointment-api.service", "appointment-worker@pe.service",
            "appointment-worker@cl.service", "appointment-completion.service"]
TARGET_UNITS = SERVICES + ["appointment-api.socket", "appointment-reconcile.timer"]
# What the daemons get in /etc/appointmentd/environment: the stack's loopback endpoints and
# static keys. Not RDS_PASSWORD: the password must come through the credential.
PASS_ENV = ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
            "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_SNS",
            "AWS_ENDPOINT_URL_SQS", "AWS_ENDPOINT_URL_EVENTBRIDGE", "AWS_ENDPOINT_URL_SSM",
            "RDS_HOST", "RDS_PORT", "RDS_USERNAME")
SEED = 40
DEADLINE_S = 100                      # the whole run, cleanup excluded (< 2 min with it)

# The nspawn command: a private mount namespace with a tmpfs on /run (nspawn's bookkeeping
# must not touch the host's /run, which is on disk), / bound non-recursively read-only, and
# an overlay on top of that for the container's writes; the host's own PostgreSQL and Docker
# units stay masked. $1 = build dir, $2 = units, $3 = conf, $4 = credential store.
LAUNCH = r'''
set -e
mount -t tmpfs -o mode=0755 tmpfs /run
mkdir /run/appt-root
mount --bind / /run/appt-root
mount -o remount,bind,ro /run/appt-root
exec systemd-nspawn -D /run/appt-root --volatile=overlay --boot --register=no --keep-unit \
  --console=pipe --link-journal=no --bind-ro="$1":/opt/appointmentd \
  --bind-ro="$2":/run/systemd/system --bind-ro="$3":/etc/appointmentd \
  --bind-ro="$4":/etc/credstore \
  systemd.unit=basic.target systemd.mask=postgresql.service systemd.mask=docker.socket \
  systemd.mask=docker.service systemd.mask=containerd.service
'''


class Interrupted(KeyboardInterrupt):
    """SIGTERM/SIGINT (meson's timeout): unwind so the container is still powered off.
    A KeyboardInterrupt, because unittest records any other exception as one failed test
    and goes on with the next."""


def _raise_interrupted(signum, frame):
    if signum == signal.SIGALRM:
        raise Interrupted("the test ran longer than %d s" % DEADLINE_S)
    raise Interrupted(signal.Signals(signum).name)


def is_sanitized(path):
    with open(path, "rb") as f:
        return b"__asan_init" in f.read()


class Container:
    """One booted systemd, driven with nsenter (no host bus: machinectl and -M do not work)."""

    def __init__(self, build, units, conf, credstore):
        self.args = [build, units, conf, credstore]
        self.name = "appointmentd-systemd-test-%d" % os.getpid()
        self.cgroups = [os.path.join(r, self.name) for r in CGROUP_ROOTS]
        self.proc = None
        self.pid1 = None
        self.log = tempfile.TemporaryFile(mode="w+")

    def _child_setup(self):
        # In the forked child before exec: own cgroup in both hierarchies (nspawn nests its
        # payload/ and supervisor/ there), and die with the test (PR_SET_PDEATHSIG = 1):
        # nspawn takes SIGTERM as "power the container off".
        for cg in self.cgroups:
            with open(os.path.join(cg, "cgroup.procs"), "w") as f:
                f.write(str(os.getpid()))
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM, 0, 0, 0)

    def boot(self, timeout=30):
        for cg in self.cgroups:
            os.makedirs(cg, exist_ok=True)
        self.proc = subprocess.Popen(
            ["unshare", "-m", "--propagation", "private", "sh", "-c", LAUNCH, "sh"] + self.args,
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT,
            preexec_fn=self._child_setup, start_new_session=True)
        self.pid1 = wait_until(self._find_pid1, 15)
        if not self.pid1:
            raise AssertionError("container did not start:\n" + self.output())
        # Until PID 1 has its private bus socket, systemctl fails at once with no state.
        deadline = time.monotonic() + timeout
        while True:
            r = self.run("systemctl", "is-system-running", "--wait",
                         timeout=max(1, deadline - time.monotonic()), check=False)
            state = r.stdout.strip()
            if state or time.monotonic() >= deadline or self.proc.poll() is not None:
                break
            time.sleep(0.1)
        if state not in ("running", "degraded"):
            raise AssertionError("container state %r (%s):\n%s\n%s" % (
                state, r.stderr.strip(),
                self.run("systemctl", "--failed", "--no-pager", check=False).stdout,
                self.output()))
        return state

    def _find_pid1(self):
        if self.proc.poll() is not None:
            return None
        try:
            with open("/proc/%d/task/%d/children" % (self.proc.pid, self.proc.pid)) as f:
                kids = f.read().split()
        except OSError:
            return None
        for k in kids:
            try:
                with open("/proc/%s/comm" % k) as f:
                    if f.read().strip() == "systemd":
                        return int(k)
            except OSError:
                pass
        return None

    def output(self):
        self.log.seek(0)
        return self.log.read()[-4000:]

    def run(self, *argv, timeout=20, check=True, input=None):
        r = subprocess.run(["nsenter", "-t", str(self.pid1), "-a"] + list(argv), input=input,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           timeout=timeout)
        if check and r.returncode != 0:
            raise AssertionError("%s: exit %d\n%s%s" % (" ".join(argv), r.returncode, r.stdout,
                                                        r.stderr))
        return r

    def sh(self, script, **kw):
        return self.run("sh", "-c", script, **kw)

    def show(self, unit, *props):
        r = self.run("systemctl", "show", unit, "--property=" + ",".join(props))
        out = {}
        for line in r.stdout.splitlines():
            k, _, v = line.partition("=")
            out[k] = v
        return out

    def prop(self, unit, name):
        return self.show(unit, name).get(name, "")

    def main_pid(self, unit):
        return int(self.prop(unit, "MainPID"))

    def proc_status(self, pid):
        r = self.run("cat", "/proc/%d/status" % pid)
        return dict(line.split(":\t", 1) for line in r.stdout.splitlines() if ":\t" in line)

    def wait_active(self, unit, timeout=10):
        return wait_until(lambda: self.prop(unit, "ActiveState") == "active", timeout)

    def journal(self, lines=80):
        r = self.run("journalctl", "--no-pager", "-o", "short-monotonic", "-n", str(lines),
                     "-u", "appointment*", "-u", "appointmentd.target", check=False)
        return r.stdout + r.stderr

    def poweroff(self):
        if self.proc is None:
            return
        if self.proc.poll() is None and self.pid1:
            try:
                self.run("systemctl", "poweroff", "--no-block", timeout=10, check=False)
            except (subprocess.TimeoutExpired, OSError):
                pass
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.terminate()           # nspawn: SIGTERM = power off the container
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)   # our own session, by its id
                self.proc.wait(timeout=10)

    def remove_cgroups(self):
        """rmdir every directory under our cgroups, deepest first; returns what is left."""
        left = []
        for cg in self.cgroups:
            if not os.path.isdir(cg):
                continue
            for dirpath, _, _ in sorted(os.walk(cg), key=lambda t: -t[0].count("/")):
                try:
                    os.rmdir(dirpath)
                except OSError as e:
                    left.append("%s (%s)" % (dirpath, e.strerror))
        return left


def remove_stale_cgroups():
    """Empty cgroups of an earlier run killed before its cleanup (its pid no longer exists)."""
    for root in CGROUP_ROOTS:
        try:
            names = os.listdir(root)
        except OSError:
            continue
        for n in names:
            if not n.startswith("appointmentd-systemd-test-"):
                continue
            pid = n.rsplit("-", 1)[1]
            if pid.isdigit() and not os.path.exists("/proc/" + pid):
                for dirpath, _, _ in sorted(os.walk(os.path.join(root, n)),
                                            key=lambda t: -t[0].count("/")):
                    try:
                        os.rmdir(dirpath)
                    except OSError:
                        pass


class BootedSystemdTest(unittest.TestCase):
    """Ordered steps on one container (unittest runs test_NN_* in name order)."""

    c = None
    d = None
    tmp = None

    @classmethod
    def setUpClass(cls):
        if os.geteuid() != 0:
            raise AssertionError("needs root (systemd-nspawn, unshare -m, cgroups)")
        unitfiles.ensure_package("systemd-nspawn", "systemd-container")
        missing = unitfiles.missing_units()
        if missing:
            raise AssertionError("units not generated in %s: %s (run ninja)"
                                 % (unitfiles.generated_dir(), missing))
        for name in unitfiles.DAEMONS + unitfiles.TOOLS:
            path = os.path.join(unitfiles.BUILD, "daemons", name, name)
            if not os.access(path, os.X_OK):
                raise AssertionError("%s not built" % path)
        # The checkout may be anywhere (under /tmp too, which DynamicUser's PrivateTmp hides
        # from the services): the container sees the build tree at the fixed IN_BUILD, and no
        # binary may look for a library by a path of the checkout (libappointment is linked
        # in statically; the rest comes from the system's library directories).
        for name in unitfiles.DAEMONS + unitfiles.TOOLS:
            path = os.path.join(unitfiles.BUILD, "daemons", name, name)
            dyn = subprocess.run(["readelf", "-d", path], stdout=subprocess.PIPE, text=True,
                                 check=True).stdout
            if "(RPATH)" in dyn or "(RUNPATH)" in dyn:
                raise AssertionError("%s has a run path:\n%s" % (path, dyn))
        remove_stale_cgroups()
        # Provisioned, migrated and seeded on the host with the built appointmentctl.
        cls.d = harness.Deployment(seed_count=SEED)
        cls.port = cls.d.port
        cls.tmp = tempfile.TemporaryDirectory(prefix="appt-systemd-")
        units = cls.make_units(os.path.join(cls.tmp.name, "units"))
        conf = cls.make_conf(os.path.join(cls.tmp.name, "conf"))
        credstore = cls.make_credstore(os.path.join(cls.tmp.name, "credstore"))
        cls.c = Container(unitfiles.BUILD, units, conf, credstore)
        cls.c.boot()

    @classmethod
    def make_units(cls, d):
        unitfiles.prepare(d, IN_BUILD, IN_CONF)
        # The documented way to move the API socket (operations.md): a drop-in that resets
        # ListenStream=. The deployment's free port keeps the test off whatever holds 8080.
        os.makedirs(os.path.join(d, "appointment-api.socket.d"))
        with open(os.path.join(d, "appointment-api.socket.d", "50-test-port.conf"), "w") as f:
            f.write("[Socket]\nListenStream=\nListenStream=127.0.0.1:%d\n" % cls.port)
        # Sanitizer builds (scripts/test uses one): LeakSanitizer needs ptrace, which the
        # seccomp filter forbids, so leak checking is off here (the other e2e tests keep it).
        api = os.path.join(unitfiles.BUILD, "daemons", "appointment-api", "appointment-api")
        if is_sanitized(api):
            os.makedirs(os.path.join(d, "appointment-.service.d"))
            with open(os.path.join(d, "appointment-.service.d", "50-test-sanitizers.conf"),
                      "w") as f:
                f.write("[Service]\nEnvironment=ASAN_OPTIONS=detect_leaks=0\n")
        for dirpath, dirnames, filenames in os.walk(d):
            os.chmod(dirpath, 0o755)
            for n in filenames:
                os.chmod(os.path.join(dirpath, n), 0o644)
        return d

    @classmethod
    def make_conf(cls, d):
        """/etc/appointmentd: the deployment's config (readable by the dynamic users), the
        provisioned.env of provision and a root-only environment file, as operations.md says."""
        os.makedirs(d)
        os.chmod(d, 0o755)
        shutil.copy(cls.d.config, os.path.join(d, "appointmentd.conf"))
        os.chmod(os.path.join(d, "appointmentd.conf"), 0o644)
        # What `appointmentctl provision --env-file` wrote for the deployment (queue URLs,
        # topic ARNs, …), where operations.md puts it.
        provisioned = read_env_file(os.path.join(cls.d.dir, "env"))
        if not provisioned or "RDS_PASSWORD" in provisioned:
            raise AssertionError("unexpected provision --env-file output: %r" % sorted(provisioned))
        shutil.copy(os.path.join(cls.d.dir, "env"), os.path.join(d, "provisioned.env"))
        os.chmod(os.path.join(d, "provisioned.env"), 0o600)
        env = {k: os.environ[k] for k in PASS_ENV if os.environ.get(k)}
        env["AWS_EC2_METADATA_DISABLED"] = "true"
        for k, v in env.items():
            if k.startswith("AWS_ENDPOINT_URL") and not v.startswith(("http://127.", "http://localhost")):
                raise AssertionError("%s=%s is not loopback" % (k, v))
        fd = os.open(os.path.join(d, "environment"), os.O_WRONLY | os.O_CREAT, 0o600)
        os.write(fd, "".join('%s="%s"\n' % (k, v.replace("\\", "\\\\").replace('"', '\\"'))
                             for k, v in sorted(env.items())).encode())
        os.close(fd)
        return d

    @classmethod
    def make_credstore(cls, d):
        # As operations.md says: /etc/credstore 0700, the password file 0600, both root's.
        os.makedirs(d, mode=0o700)
        fd = os.open(os.path.join(d, "appointmentd-rds-password"), os.O_WRONLY | os.O_CREAT, 0o600)
        os.write(fd, (os.environ["RDS_PASSWORD"] + "\n").encode())
        os.close(fd)
        return d

    @classmethod
    def tearDownClass(cls):
        try:
            if cls.c is not None and cls.c.pid1 and cls.c.proc.poll() is None:
                sys.stdout.write("--- journal of the appointment units ---\n" + cls.c.journal())
        except Exception as e:  # noqa: BLE001 — diagnostics only
            sys.stdout.write("(no journal: %s)\n" % e)
        finally:
            cleanup()

    # --- helpers -----------------------------------------------------------------------
    def connect(self, timeout=2.0):
        with socket.create_connection(("127.0.0.1", self.port), timeout=timeout):
            pass

    def healthz(self, timeout=10.0):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request("GET", "/healthz")
            r = conn.getresponse()
            r.read()
            return r.status
        finally:
            conn.close()

    def drop_in(self, unit, name, text):
        self.c.sh('mkdir -p /etc/systemd/system/%s.d && cat > /etc/systemd/system/%s.d/%s'
                  % (unit, unit, name), input=text)
        self.c.run("systemctl", "daemon-reload")

    def remove_drop_in(self, unit, name):
        self.c.run("rm", "-f", "/etc/systemd/system/%s.d/%s" % (unit, name))
        self.c.run("systemctl", "daemon-reload")

    def journal_has(self, unit, needle):
        r = self.c.run("journalctl", "--no-pager", "-o", "cat", "-u", unit, check=False)
        return needle in r.stdout

    def hammer(self, action):
        """Runs action() while a thread sends GET /healthz back to back; returns the failures
        (a refused connection, a reset, a non-200) and how many requests were answered."""
        failures, answered, done = [], [0], threading.Event()

        def loop():
            while not done.is_set():
                try:
                    status = self.healthz()
                    if status != 200:
                        failures.append("HTTP %d" % status)
                    answered[0] += 1
                except OSError as e:
                    failures.append(repr(e))

        t = threading.Thread(target=loop)
        t.start()
        try:
            time.sleep(0.2)
            action()
            time.sleep(0.2)
        finally:
            done.set()
            t.join()
        return failures, answered[0]

    # --- steps -------------------------------------------------------------------------
    def test_00_binaries_resolve_in_the_container(self):
        for name in unitfiles.DAEMONS + unitfiles.TOOLS:
            with self.subTest(binary=name):
                r = self.c.run("ldd", "%s/daemons/%s/%s" % (IN_BUILD, name, name))
                self.assertNotIn("not found", r.stdout)
                self.assertNotIn(unitfiles.BUILD, r.stdout)
                self.assertNotIn("libappointment", r.stdout)

    def test_01_target_starts_everything(self):
        self.c.run("systemctl", "start", "appointmentd.target", timeout=90)
        for u in TARGET_UNITS:
            with self.subTest(unit=u):
                self.assertTrue(self.c.wait_active(u), "%s: %s" % (u, self.c.show(
                    u, "ActiveState", "SubState", "Result", "ExecMainStatus", "StatusText")))
        for u in SERVICES:
            st = self.c.show(u, "Type", "StatusText", "NRestarts")
            self.assertEqual(st["Type"], "notify", u)
            self.assertNotEqual(st["StatusText"], "", "%s sent no STATUS=" % u)
            self.assertEqual(st["NRestarts"], "0", u)

    def test_02_socket_activation(self):
        api = "appointment-api.service"
        pid = self.c.main_pid(api)
        environ = self.c.run("cat", "/proc/%d/environ" % pid).stdout.split("\0")
        self.assertIn("LISTEN_FDS=1", environ)
        self.assertIn("LISTEN_FDNAMES=appointment-api.socket", environ)
        self.assertTrue(self.c.run("readlink", "/proc/%d/fd/3" % pid).stdout.startswith("socket:"))
        self.assertEqual(self.healthz(), 200)
        # Service stopped, socket still listening: a request starts it and is answered.
        self.c.run("systemctl", "stop", api)
        self.assertEqual(self.c.prop(api, "ActiveState"), "inactive")
        self.assertEqual(self.c.prop("appointment-api.socket", "ActiveState"), "active")
        self.assertEqual(self.healthz(timeout=30), 200)
        # the answer can come before systemd has read READY=1 from the new process
        self.assertTrue(self.c.wait_active(api), self.c.show(api, "ActiveState", "SubState"))
        self.assertNotEqual(self.c.main_pid(api), pid)

    def test_03_sandbox(self):
        self.c.run("touch", "/usr/.appt-control")   # the container's own /usr is writable …
        self.c.run("rm", "/usr/.appt-control")
        self.c.run("touch", "/tmp/.appt-container-tmp")
        uids = set()
        for u in SERVICES:
            with self.subTest(unit=u):
                pid = self.c.main_pid(u)
                st = self.c.proc_status(pid)
                uid = st["Uid"].split()
                self.assertEqual(len(set(uid)), 1, st["Uid"])
                self.assertTrue(DYNAMIC_UID_MIN <= int(uid[0]) <= DYNAMIC_UID_MAX, st["Uid"])
                uids.add(uid[0])
                for cap in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
                    self.assertEqual(int(st[cap], 16), 0, "%s %s" % (cap, st[cap]))
                self.assertEqual(st["NoNewPrivs"].strip(), "1")
                self.assertEqual(st["Seccomp"].strip(), "2")      # filter mode
                # PrivateUsers=: a user namespace mapping root and the service's uid only.
                uid_map = self.c.run("cat", "/proc/%d/uid_map" % pid).stdout.split("\n")
                ranges = [line.split() for line in uid_map if line.strip()]
                self.assertTrue(ranges and all(r[2] == "1" for r in ranges), uid_map)
                # … the service's is not (ProtectSystem=strict), whoever writes.
                for path in ("/usr/.appt-test", "/etc/.appt-test"):
                    r = self.c.run("nsenter", "-t", str(pid), "-m", "touch", path, check=False)
                    self.assertNotEqual(r.returncode, 0, path)
                    self.assertIn("Read-only file system", r.stderr)
                opts = self.c.run("nsenter", "-t", str(pid), "-m", "findmnt", "-no", "OPTIONS",
                                  "-T", "/usr").stdout.strip()
                self.assertIn("ro", opts.split(","))
                # PrivateTmp: not the container's /tmp; ProtectHome: /root empty.
                r = self.c.run("nsenter", "-t", str(pid), "-m", "ls", "-A", "/tmp", "/root")
                self.assertNotIn(".appt-container-tmp", r.stdout)
        self.assertEqual(len(uids), len(SERVICES), "each unit gets its own dynamic uid")

    def test_04_credential_arrives(self):
        for u in ("appointment-api.service", "appointment-worker@pe.service"):
            with self.subTest(unit=u):
                pid = self.c.main_pid(u)
                path = "/run/credentials/%s/rds-password" % u
                self.assertEqual(self.c.run("cat", path).stdout, os.environ["RDS_PASSWORD"] + "\n")
                mode, owner = self.c.run("stat", "-c", "%a %u", path).stdout.split()
                self.assertEqual(mode, "400")
                self.assertEqual(owner, self.c.proc_status(pid)["Uid"].split()[0])
                environ = self.c.run("cat", "/proc/%d/environ" % pid).stdout.split("\0")
                self.assertIn("CREDENTIALS_DIRECTORY=/run/credentials/%s" % u, environ)
                self.assertFalse([e for e in environ if e.startswith("RDS_PASSWORD=")])
                self.assertTrue(self.journal_has(u, "PostgreSQL password from credential"),
                                self.c.run("journalctl", "--no-pager", "-o", "cat", "-u", u).stdout)
        # Least privilege: completion never talks to PostgreSQL and gets no password.
        r = self.c.run("test", "-e", "/run/credentials/appointment-completion.service/rds-password",
                       check=False)
        self.assertNotEqual(r.returncode, 0)

    def test_05_appointment_completes(self):
        # The whole flow under systemd; the worker books in PostgreSQL with the credential.
        code, _, body, raw = self.d.post("00042", 100, "PE")
        self.assertEqual(code, 201, raw)
        done = self.d.wait_status("00042", [body["appointmentId"]], "completed", timeout=60)
        self.assertEqual(done[body["appointmentId"]]["status"], "completed")
        self.assertEqual(self.d.db_rows("PE", "appointment_id = '%s'" % body["appointmentId"]), "1")

    def test_06_missing_credential_is_not_fatal(self):
        u = "appointment-worker@cl.service"
        self.drop_in(u, "50-test-absent.conf",
                     "[Service]\nLoadCredential=\nLoadCredential=rds-password:appointmentd-absent\n")
        try:
            self.c.run("systemctl", "restart", u, timeout=60)
            self.assertTrue(self.c.wait_active(u), self.c.show(u, "Result", "ExecMainStatus"))
            # No file at all: the daemon goes on to RDS_PASSWORD, then SSM (SPEC §2).
            r = self.c.run("test", "-e", "/run/credentials/%s/rds-password" % u, check=False)
            self.assertNotEqual(r.returncode, 0)
        finally:
            self.remove_drop_in(u, "50-test-absent.conf")
            self.c.run("systemctl", "restart", u, timeout=60)

    def test_07_reload_loses_nothing(self):
        for u in ("appointment-api.service", "appointment-worker@pe.service"):
            with self.subTest(unit=u):
                pid = self.c.main_pid(u)
                failures, answered = self.hammer(lambda: self.c.run("systemctl", "reload", u))
                self.assertEqual(failures, [])
                self.assertGreater(answered, 0)
                st = self.c.show(u, "ActiveState", "MainPID", "NRestarts")
                self.assertEqual(st, {"ActiveState": "active", "MainPID": str(pid),
                                      "NRestarts": "0"})

    def test_08_restart_loses_nothing(self):
        api = "appointment-api.service"
        pid = self.c.main_pid(api)
        failures, answered = self.hammer(lambda: self.c.run("systemctl", "restart", api, timeout=60))
        self.assertNotEqual(self.c.main_pid(api), pid)
        self.assertEqual(failures, [], "requests lost while the API restarted")
        self.assertGreater(answered, 0)

    def test_09_bad_config_does_not_loop(self):
        u = "appointment-worker@xx.service"        # no [country XX] section: exit 78
        r = self.c.run("systemctl", "start", u, check=False)
        self.assertNotEqual(r.returncode, 0)
        time.sleep(3)                             # RestartSec=2s would have fired by now
        st = self.c.show(u, "ActiveState", "ExecMainStatus", "NRestarts", "Result")
        self.assertEqual(st, {"ActiveState": "failed", "ExecMainStatus": "78", "NRestarts": "0",
                              "Result": "exit-code"})
        self.c.run("systemctl", "reset-failed", u)

    def test_10_reconciler_runs_sandboxed(self):
        timer = self.c.show("appointment-reconcile.timer", "ActiveState", "NextElapseUSecRealtime")
        self.assertEqual(timer["ActiveState"], "active")
        self.assertNotIn(timer["NextElapseUSecRealtime"], ("", "0", "n/a"))
        u = "appointment-reconcile.service"
        self.c.run("systemctl", "start", u, timeout=60, check=False)
        st = self.c.show(u, "ExecMainCode", "ExecMainStatus", "Result")
        # Code 1 = CLD_EXITED: the binary ran and chose its status. systemd's own 200-245
        # (EXEC, NAMESPACE, SECCOMP, CREDENTIALS, …) would mean the sandbox broke it.
        self.assertEqual(st["ExecMainCode"], "1", st)
        self.assertFalse(200 <= int(st["ExecMainStatus"]) <= 245, st)
        self.c.run("systemctl", "reset-failed", u, check=False)

    def test_11_stop_drains_within_timeout(self):
        expect = {"appointment-api.service": "30s", "appointment-worker@pe.service": "1min",
                  "appointment-worker@cl.service": "1min", "appointment-completion.service": "1min"}
        for u, v in expect.items():
            self.assertEqual(self.c.prop(u, "TimeoutStopUSec"), v, u)
        cursor = self.c.run("journalctl", "-n", "0", "--show-cursor", "--no-pager",
                            check=False).stdout.strip().rsplit("cursor: ", 1)[-1]
        t0 = time.monotonic()
        self.c.run("systemctl", "stop", "appointmentd.target", timeout=90)
        # The target stops first (it is ordered after what it wants); PartOf= then stops
        # every unit, which systemctl does not wait for.
        for u in TARGET_UNITS:
            self.assertTrue(wait_until(lambda: self.c.prop(u, "ActiveState") == "inactive", 60),
                            "%s: %s" % (u, self.c.show(u, "ActiveState", "SubState")))
        elapsed = time.monotonic() - t0
        self.assertLess(elapsed, 30, "stop took %.1f s" % elapsed)
        # SIGTERM → STOPPING=1 → drain → exit 0: never a stop timeout, never SIGKILL. (The
        # units' ExecMain* state may already be garbage-collected: read the journal.)
        for u in SERVICES:
            log = self.c.run("journalctl", "--no-pager", "-o", "cat", "--after-cursor", cursor,
                             "-u", u).stdout
            self.assertIn("Deactivated successfully", log, u)
            for bad in ("timed out", "Killing", "Failed with result"):
                self.assertNotIn(bad, log, u)

    def test_12_watchdog_kills_a_hung_loop(self):
        u = "appointment-completion.service"
        # 2 s instead of 90 s; a long RestartSec keeps the unit in auto-restart to be seen.
        self.drop_in(u, "50-test-watchdog.conf", "[Service]\nWatchdogSec=2s\nRestartSec=1h\n")
        try:
            self.c.run("systemctl", "start", u, timeout=60)
            pid = self.c.main_pid(u)
            time.sleep(3)                           # pings flow: still healthy after 1.5×
            self.assertEqual(self.c.show(u, "ActiveState", "MainPID"),
                             {"ActiveState": "active", "MainPID": str(pid)})
            self.c.run("kill", "-STOP", str(pid))   # the main loop hangs
            ok = wait_until(lambda: self.c.prop(u, "Result") == "watchdog", 10, 0.2)
            st = self.c.show(u, "Result", "SubState", "ActiveState")
            self.assertTrue(ok, st)
            self.assertEqual(st["SubState"], "auto-restart", st)   # Restart=on-failure
        finally:
            self.c.run("systemctl", "stop", u, check=False)
            self.remove_drop_in(u, "50-test-watchdog.conf")


    def test_13_a_masked_country_is_left_out(self):
        # A deployment without CL (operations.md, "Removing a country"): the target wants
        # worker@cl, which would exit 78 and leave a failed unit. Masked, it is skipped: the
        # target starts, nothing is failed, the system is not degraded by it.
        u = "appointment-worker@cl.service"
        self.c.run("systemctl", "mask", u)
        try:
            self.c.run("systemctl", "start", "appointmentd.target", timeout=90)
            self.assertEqual(self.c.prop("appointmentd.target", "ActiveState"), "active")
            self.assertTrue(self.c.wait_active("appointment-worker@pe.service"))
            self.assertEqual(self.c.show(u, "LoadState", "ActiveState"),
                             {"LoadState": "masked", "ActiveState": "inactive"})
            failed = self.c.run("systemctl", "list-units", "--failed", "--plain", "--no-legend",
                                "appointment*").stdout.strip()
            self.assertEqual(failed, "", "failed units with a masked country")
        finally:
            self.c.run("systemctl", "unmask", u, check=False)

    def test_14_api_exit_78_socket_retries_until_the_start_limit(self):
        # Exit 78 is never restarted by Restart=, but the socket stays listening: the next
        # connection (and the one the failed process left in the backlog) starts the API
        # again, each start exits 78, until StartLimitBurst= trips; then the socket fails too
        # (service-start-limit-hit) and connections are refused (operations.md, section 1).
        api, sock = "appointment-api.service", "appointment-api.socket"
        self.drop_in(api, "50-test-bad.conf", "[Service]\nEnvironment=APPOINTMENTD_API_RATE_LIMIT=0\n")
        try:
            self.c.run("systemctl", "stop", api, timeout=60)
            self.c.run("systemctl", "reset-failed", api, sock, check=False)
            self.assertEqual(self.c.prop(sock, "ActiveState"), "active")
            cursor = self.c.run("journalctl", "-n", "0", "--show-cursor", "--no-pager",
                                check=False).stdout.strip().rsplit("cursor: ", 1)[-1]
            with socket.create_connection(("127.0.0.1", self.port), timeout=5) as conn:
                conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                ok = wait_until(lambda: self.c.prop(sock, "ActiveState") == "failed", 30, 0.2)
            st = self.c.show(sock, "ActiveState", "Result")
            self.assertTrue(ok, st)
            self.assertEqual(st["Result"], "service-start-limit-hit")
            self.assertEqual(self.c.show(api, "ActiveState", "ExecMainStatus"),
                             {"ActiveState": "failed", "ExecMainStatus": "78"})
            log = self.c.run("journalctl", "--no-pager", "-o", "cat", "--after-cursor", cursor,
                             "-u", api).stdout
            starts = log.count("status=78/CONFIG")
            self.assertGreater(starts, 1, log)
            sys.stdout.write("\n(one connection, API exit 78: %d starts before the limit)\n"
                             % starts)
            with self.assertRaises(OSError):
                socket.create_connection(("127.0.0.1", self.port), timeout=2).close()
        finally:
            self.remove_drop_in(api, "50-test-bad.conf")
            self.c.run("systemctl", "reset-failed", api, sock, check=False)
            self.c.run("systemctl", "start", sock, check=False)
        self.assertEqual(self.healthz(timeout=30), 200)

    def test_15_appointmentctl_by_hand(self):
        # operations.md, "Running appointmentctl by hand": from a shell the units' environment
        # files are not read, so the region is missing (exit 78); with the units' environment
        # it is found, and systemd-run also hands over the password credential.
        ctl = "%s/daemons/appointmentctl/appointmentctl" % IN_BUILD
        conf = "%s/appointmentd.conf" % IN_CONF
        base = ["env", "-i", "PATH=/usr/sbin:/usr/bin:/sbin:/bin"]
        if is_sanitized(os.path.join(unitfiles.BUILD, "daemons", "appointmentctl",
                                     "appointmentctl")):
            base.append("ASAN_OPTIONS=detect_leaks=0")
        r = self.c.run(*(base + [ctl, "--config", conf, "check"]), timeout=60, check=False)
        self.assertEqual(r.returncode, 78, r.stdout + r.stderr)
        self.assertIn("no AWS region", r.stderr)
        region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
        # the shell way, as operations.md writes it: the same files in the units' order (no
        # credential)
        script = ('set -a\nfor f in %s/provisioned.env %s/environment; do\n'
                  '    [ ! -r "$f" ] || . "$f"\ndone\nset +a\n'
                  'exec "$0" --config "$1" check\n' % (IN_CONF, IN_CONF))
        r = self.c.run(*(base + ["sh", "-c", script, ctl, conf]), timeout=60, check=False)
        self.assertIn(r.returncode, (0, 1), r.stdout + r.stderr)
        self.assertRegex(r.stdout, r"(?m)^ok config .*region %s\)$" % region)
        # systemd-run, as operations.md's actl(): the environment files as the units read
        # them, and the credential. (--unit: a name the sanitizer drop-in
        # appointment-.service.d applies to.)
        r = self.c.run("systemd-run", "--quiet", "--pipe", "--wait", "--collect",
                       "--unit", "appointment-ctl-by-hand",
                       "-p", "EnvironmentFile=-%s/provisioned.env" % IN_CONF,
                       "-p", "EnvironmentFile=-%s/environment" % IN_CONF,
                       "-p", "LoadCredential=rds-password:appointmentd-rds-password",
                       ctl, "--config", conf, "check", timeout=60, check=False)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("ok password rds-password (from credential)", r.stdout)
        self.assertRegex(r.stdout, r"(?m)^ok database PE ")
        # and its exit status is appointmentctl's
        r = self.c.run("systemd-run", "--quiet", "--pipe", "--wait", "--collect",
                       "--unit", "appointment-ctl-by-hand", ctl, "--config", conf, "check",
                       timeout=60, check=False)
        self.assertEqual(r.returncode, 78, r.stdout + r.stderr)


def read_env_file(path):
    """KEY=value lines of an environment file (provision --env-file); comments skipped."""
    values = {}
    if not os.path.exists(path):
        return values
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#") and "=" in line:
                k, v = line.split("=", 1)
                values[k.replace("export ", "").strip()] = v.strip().strip("'\"")
    return values


_cleaned = False


def cleanup():
    """Power the container off, remove its cgroups and the temp dir; safe to call twice."""
    global _cleaned
    if _cleaned:
        return
    _cleaned = True
    # A second SIGTERM (or the deadline) must not cut the power-off and the cgroup removal short.
    signal.alarm(0)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    c = BootedSystemdTest.c
    try:
        if c is not None:
            c.poweroff()
            left = c.remove_cgroups()
            if left:
                sys.stderr.write("cgroups left behind: %s\n" % left)
    finally:
        if BootedSystemdTest.tmp is not None:
            BootedSystemdTest.tmp.cleanup()
        if BootedSystemdTest.d is not None:     # after poweroff: nothing uses it any more
            try:
                BootedSystemdTest.d.close()         # destroy the stage, drop its databases
            finally:
                shutil.rmtree(BootedSystemdTest.d.dir, ignore_errors=True)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _raise_interrupted)
    signal.signal(signal.SIGINT, _raise_interrupted)
    # Our own deadline, well inside meson's timeout (meson gives SIGTERM only 0.5 s before
    # SIGKILL, too little to power off and destroy the deployment): the run takes ~15 s.
    signal.signal(signal.SIGALRM, _raise_interrupted)
    signal.alarm(DEADLINE_S)
    ok = False
    try:
        prog = unittest.main(verbosity=2, exit=False)
        ok = prog.result.wasSuccessful() and prog.result.testsRun > 0
    finally:
        cleanup()
    sys.exit(0 if ok else 1)
