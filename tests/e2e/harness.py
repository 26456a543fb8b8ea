"""End-to-end harness: a private, provisioned copy of the product on the local stack.

Each Deployment gets a unique stage (so its tables, topics, queues and bus are its own),
its own country databases (created, migrated and seeded through appointmentctl), a
config file, and starts the built daemons the way systemd would (NOTIFY_SOCKET, READY=1).
Everything it starts is stopped by pid in close(), which tests register with addCleanup.
The stack itself (scripts/test) provides the endpoints in the environment; without them
the harness fails at once rather than reach anything that is not loopback.
"""
import http.client
import json
import os
import random
import shutil
import signal
import socket
import string
import subprocess
import tempfile
import threading
import time

BUILD = os.environ.get("APPT_BUILD_ROOT", "build")
SRC = os.environ.get("APPT_SOURCE_ROOT", ".")
def _children(pid):
    """The pids whose parent is pid (daemons run in sessions of their own, so a signal to
    the test's process group does not reach them)."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                stat = f.read()
        except OSError:
            continue
        if int(stat[stat.rindex(")") + 2:].split()[1]) == pid:
            out.append(int(d))
    return out


def _reaped(pid):
    try:
        return os.waitpid(pid, os.WNOHANG)[0] == pid
    except ChildProcessError:
        return True


def _stop_children_and_exit(signum, _frame):
    """SIGTERM (meson's timeout, a CI job cancelled): Python's default would exit without
    any cleanup and leave every daemon a test started running on. Stop them, then exit."""
    kids = _children(os.getpid())
    for pid in kids:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + 5
    while kids and time.monotonic() < deadline:
        kids = [k for k in kids if not _reaped(k)]
        time.sleep(0.05)
    for pid in kids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    os._exit(128 + signum)


signal.signal(signal.SIGTERM, _stop_children_and_exit)

REQUIRED_ENV = ("AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_SNS", "AWS_ENDPOINT_URL_SQS",
                "AWS_ENDPOINT_URL_EVENTBRIDGE", "AWS_ENDPOINT_URL_SSM", "RDS_HOST", "RDS_PORT",
                "RDS_USERNAME", "RDS_PASSWORD")


def binary(name):
    return os.path.join(BUILD, "daemons", name, name)


def socket_activated(argv, env, fds):
    """argv, env and pass_fds to start argv with the listening sockets fds passed as systemd
    does: as fd 3, 4, ..., LISTEN_FDS = their count, LISTEN_PID = the daemon's pid (the
    shell's $$ is the daemon's pid after exec)."""
    env = dict(env)
    dups = []
    for i, fd in enumerate(fds):
        env["APPT_LISTEN_FD_%d" % i] = str(fd)
        dups.append('%d<&"$APPT_LISTEN_FD_%d"' % (3 + i, i))
    script = 'exec %s; LISTEN_FDS=%d LISTEN_PID=$$ exec "$0" "$@"' % (" ".join(dups), len(fds))
    return ["/bin/sh", "-c", script] + list(argv), env, tuple(fds)


def require_stack():
    missing = [v for v in REQUIRED_ENV if not os.environ.get(v)]
    if missing:
        raise RuntimeError("local stack not in the environment (%s): run through scripts/test"
                           % ", ".join(missing))
    for v in REQUIRED_ENV[:5]:
        host = os.environ[v].split("//", 1)[1].split(":", 1)[0]
        if not host.startswith("127.") and host != "localhost":
            raise RuntimeError("%s is not a loopback address" % v)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def rand(n=8):
    return "".join(random.choice(string.ascii_lowercase + string.digits) for _ in range(n))


def stop_child(proc, timeout=10):
    """Stops a child we started, by its pid: SIGTERM, then SIGKILL after timeout seconds."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def psql(db, sql):
    env = dict(os.environ, PGPASSWORD=os.environ["RDS_PASSWORD"])
    r = subprocess.run(["psql", "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1",
                        "-h", os.environ["RDS_HOST"], "-p", os.environ["RDS_PORT"],
                        "-U", os.environ["RDS_USERNAME"], "-d", db, "-c", sql],
                       env=env, capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise RuntimeError("psql %s: %s" % (db, r.stderr.strip()))
    return r.stdout.strip()


def aws_client(service):
    """A botocore client of the local stack (sqs, sns, events, dynamodb, ssm)."""
    import botocore.session
    env_name = {"sqs": "AWS_ENDPOINT_URL_SQS", "sns": "AWS_ENDPOINT_URL_SNS",
                "events": "AWS_ENDPOINT_URL_EVENTBRIDGE",
                "dynamodb": "AWS_ENDPOINT_URL_DYNAMODB", "ssm": "AWS_ENDPOINT_URL_SSM"}[service]
    return botocore.session.get_session().create_client(
        service, region_name=os.environ.get("AWS_REGION", "us-east-1"),
        endpoint_url=os.environ[env_name], aws_access_key_id="test",
        aws_secret_access_key="test")


def read_env_file(path):
    values = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#") and "=" in line:
                k, v = line.split("=", 1)
                values[k.replace("export ", "")] = v.strip("'\"")
    return values


def drain_queue(sqs, url, want, timeout=30):
    """Receives (and deletes) until `want` messages came or the time is up."""
    got = []
    deadline = time.monotonic() + timeout
    while len(got) < want and time.monotonic() < deadline:
        r = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1,
                                AttributeNames=["All"])
        for m in r.get("Messages", []):
            got.append(m)
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return got


def queue_depth(sqs, url):
    a = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[
        "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
    return int(a["ApproximateNumberOfMessages"]), int(a["ApproximateNumberOfMessagesNotVisible"])


class NotifySocket:
    """Stands in for systemd's notify socket. Like systemd it reads all the time (a
    thread): sd_notify blocks a daemon whose notify socket is full."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.sock.settimeout(0.2)
        self.messages = []
        self.lock = threading.Lock()
        self.closed = False
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        while not self.closed:
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            with self.lock:
                self.messages.append(data.decode(errors="replace"))

    def seen(self, needle):
        with self.lock:
            return any(needle in m for m in self.messages)

    def wait_for(self, needle, timeout=20.0, proc=None):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.seen(needle):
                return
            if proc is not None and proc.poll() is not None:
                raise RuntimeError("daemon exited with %s before %s" % (proc.returncode, needle))
            time.sleep(0.05)
        with self.lock:
            tail = self.messages[-3:]
        raise RuntimeError("no %s within %ss (saw %r)" % (needle, timeout, tail))

    def poll(self, seconds):
        time.sleep(seconds)

    def last_status(self):
        with self.lock:
            msgs = list(self.messages)
        for m in reversed(msgs):
            for line in m.splitlines():
                if line.startswith("STATUS="):
                    return line[len("STATUS="):]
        return ""

    def close(self):
        self.closed = True
        self.reader.join(timeout=2)
        self.sock.close()


class Daemon:
    def __init__(self, name, args, env, logdir):
        self.name = name
        self.tag = (name + "-" + "-".join(a for a in args if not a.startswith("-")
                                          and "/" not in a)).strip("-")
        self.notify = NotifySocket(os.path.join(logdir, "notify-%s-%s" % (self.tag, rand(4))))
        self.log_path = os.path.join(logdir, self.tag + ".log")
        self.log = open(self.log_path, "a")
        env = dict(env, NOTIFY_SOCKET=self.notify.path)
        env.pop("WATCHDOG_USEC", None)
        env.pop("LISTEN_FDS", None)
        self.proc = subprocess.Popen([binary(name)] + args, env=env, stdout=self.log,
                                     stderr=self.log, start_new_session=True)
        self.notify.wait_for("READY=1", proc=self.proc)

    def alive(self):
        return self.proc.poll() is None

    def stop(self, timeout=15):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                if os.environ.get("APPT_E2E_GDB"):
                    subprocess.run(["gdb", "-p", str(self.proc.pid), "-batch", "-ex",
                                    "thread apply all bt"], stdout=self.log, stderr=self.log,
                                   timeout=60)
                self.proc.kill()
                self.proc.wait()
        self.notify.close()
        self.log.close()
        return self.proc.returncode

    def logs(self):
        with open(self.log_path) as f:
            return f.read()


class Deployment:
    """A provisioned, migrated and seeded copy of the product."""

    def __init__(self, seed_count=100, extra_config="", countries=("PE", "CL"), migrate=True):
        require_stack()
        self.stage = "e" + rand(7)
        self.dir = tempfile.mkdtemp(prefix="appt-e2e-")
        self.port = free_port()
        self.countries = countries
        self.daemons = []
        self.databases = []
        self.env = dict(os.environ)
        for k in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "CREDENTIALS_DIRECTORY", "JOURNAL_STREAM"):
            self.env.pop(k, None)
        self.env["AWS_EC2_METADATA_DISABLED"] = "true"
        try:
            for cc in countries:
                db = "e2e_%s_%s" % (self.stage, cc.lower())
                psql("postgres", "CREATE DATABASE %s" % db)
                self.databases.append(db)
            self.config = os.path.join(self.dir, "appointmentd.conf")
            with open(self.config, "w") as f:
                f.write(self.config_text(extra_config))
            self.ctl("provision", "--env-file", os.path.join(self.dir, "env"))
            if migrate:
                self.ctl("migrate")
                self.ctl("seed", "--count", str(seed_count))
        except Exception:
            self.close()
            raise

    def config_text(self, extra):
        lines = ["[general]", "stage = %s" % self.stage, "log_level = debug",
                 "[api]", "listen = 127.0.0.1:%d" % self.port, "rate_limit = 100000",
                 "burst = 100000", "db_check_timeout_ms = 1000",
                 "[worker]", "visibility_timeout = 10", "backoff_min_seconds = 1",
                 "backoff_max_seconds = 4",
                 "[rds]", "host = %s" % os.environ["RDS_HOST"], "port = %s" % os.environ["RDS_PORT"],
                 "username = %s" % os.environ["RDS_USERNAME"],
                 "database = e2e_%s_{cc}" % self.stage]
        for cc in self.countries:
            lines.append("[country %s]" % cc)
        text = "\n".join(lines) + "\n"
        # extra sections/keys are appended as whole sections by the test
        return text + extra

    def ctl(self, *args, check=True, timeout=120, env=None):
        r = subprocess.run([binary("appointmentctl"), "--config", self.config] + list(args),
                           env=env or self.env, capture_output=True, text=True, timeout=timeout)
        if check and r.returncode != 0:
            raise RuntimeError("appointmentctl %s failed (%d): %s%s" %
                               (" ".join(args), r.returncode, r.stdout, r.stderr))
        return r

    def start(self, name, *args, env=None):
        """Starts a daemon; env (default: the deployment's) lets a test route one daemon
        through its own endpoints (tests/faults puts a fault proxy in front of each)."""
        d = Daemon(name, ["--config", self.config] + list(args), env or self.env, self.dir)
        self.daemons.append(d)
        return d

    def start_all(self):
        self.api = self.start("appointment-api")
        self.workers = {cc: self.start("appointment-worker", "--country", cc.lower())
                        for cc in self.countries}
        self.completion = self.start("appointment-completion")

    def close(self):
        for d in reversed(self.daemons):
            d.stop()
        self.daemons = []
        try:
            self.ctl("destroy", "--yes", check=False, timeout=120)
        except Exception:
            pass
        for db in self.databases:
            try:
                psql("postgres", "DROP DATABASE IF EXISTS %s WITH (FORCE)" % db)
            except Exception:
                pass
        self.databases = []
        if not os.environ.get("APPT_E2E_KEEP"):
            shutil.rmtree(self.dir, ignore_errors=True)

    # ---- HTTP ----
    def request(self, method, path, body=None, headers=None, raw=None, timeout=30):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        h = {"Content-Type": "application/json"} if body is not None or raw is not None else {}
        h.update(headers or {})
        data = raw if raw is not None else (json.dumps(body) if body is not None else None)
        conn.request(method, path, body=data, headers=h)
        r = conn.getresponse()
        payload = r.read()
        conn.close()
        try:
            parsed = json.loads(payload) if payload else None
        except ValueError:
            parsed = None
        return r.status, dict((k.lower(), v) for k, v in r.getheaders()), parsed, payload

    def post(self, insured, schedule, country, headers=None):
        return self.request("POST", "/appointments",
                            {"insuredId": insured, "scheduleId": schedule, "countryISO": country},
                            headers=headers)

    def list(self, insured, query=""):
        return self.request("GET", "/appointments/%s%s" % (insured, query))

    def wait_status(self, insured, appointment_ids, status, timeout=60):
        """Waits until every id of insured has the status; returns the items."""
        deadline = time.monotonic() + timeout
        want = set(appointment_ids)
        items = {}
        while time.monotonic() < deadline:
            code, _, body, _ = self.list(insured, "?limit=100")
            if code == 200:
                items = {a["appointmentId"]: a for a in body["appointments"]
                         if a["appointmentId"] in want}
                if len(items) == len(want) and all(a["status"] == status for a in items.values()):
                    return items
            time.sleep(0.3)
        raise AssertionError("not all %s after %ss: %r" % (status, timeout,
                             {k: v["status"] for k, v in items.items()}))

    def db_rows(self, cc, where="true"):
        return psql("e2e_%s_%s" % (self.stage, cc.lower()),
                    "SELECT count(*) FROM appointments WHERE %s" % where)


class FaultProxy:
    """tests/support/faultproxy/faultproxy.py in front of one loopback upstream: give a
    daemon `url` as its endpoint, then inject faults per operation with rules(). Stopped
    by pid in close() (and it exits by itself when our end of its stdin closes)."""

    def __init__(self, upstream):
        script = os.path.join(SRC, "tests", "support", "faultproxy", "faultproxy.py")
        self.proc = subprocess.Popen(["/usr/bin/python3", script, "--upstream", upstream],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("PORT "):
            self.close()
            raise RuntimeError("faultproxy did not start: %r" % line)
        self.url = "http://127.0.0.1:%d" % int(line.split()[1])

    def control(self, path, body=None):
        u = self.url.split("//", 1)[1]
        host, port = u.split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        conn.request("POST" if body is not None else "GET", "/__faultproxy/" + path,
                     body=json.dumps(body) if body is not None else None)
        r = conn.getresponse()
        data = r.read()
        conn.close()
        if r.status != 200:
            raise RuntimeError("faultproxy %s: %d %r" % (path, r.status, data))
        return json.loads(data)

    def rules(self, *rules):
        """Each rule: {"op": "PutItem", "contains": "...", "fault": "dropreply", "count": n}."""
        self.control("rules", list(rules))

    def stats(self):
        return self.control("stats")

    def close(self):
        stop_child(self.proc)
        for f in (self.proc.stdin, self.proc.stdout):
            if f is not None:
                f.close()
