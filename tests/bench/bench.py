#!/usr/bin/python3
"""tests/bench/bench.py — the runner of scripts/bench (issue 13). scripts/bench starts a
private local stack, builds, exports the stack's environment and calls this; it:

- makes a deployment (databases, provision, migrate, seed) whose SNS and SQS are on fauxqs
  and EventBridge/SSM on moto, the split scripts/up runs (docs/local-stack.md): the country
  topics and queues on fauxqs, the completion and error queues on moto (EventBridge
  delivers only to moto's queues);
- starts appointment-api (READY=1 time through a NOTIFY_SOCKET), drives it with wrk at
  c = 1/8/32 (POST, then GET of a 20-item list, then GET /schedules at offset 0 and 2000), reads its CPU (utime + stime of
  /proc/PID/stat) around each POST run and its RSS (VmRSS idle, VmHWM peak);
- times single GETs (median of sequential requests) of an insuredId with --hot (10 000)
  appointments, written straight into the table, at offset 0 and near the end through a
  cursor, against one with 10;
- runs the limit loops (tests/bench/bench_floor.c, our own clients, same concurrency):
  schedule SELECT + PutItem + Publish, and one bare Query of the same 20 items;
- GET of one item (200, and 304 through If-None-Match) against a consistent GetItem loop;
- end to end under steady load (tests/bench/latency.py): the backend hops of one appointment
  timed one by one (bench_hops), then POSTs at a steady rate timed from send to completedAt;
- times the pipeline: N appointments POSTed, then until all are `completed`, with the
  workers and completion daemon running; once on the split stack and (unless skipped) once
  with SNS/SQS on moto as the old default stack had it;
- prints the goal table of the issue (figure, ours, limit, ratio, goal, met?) and writes it
  as markdown (--out).

Figures only: nothing here asserts a time. --quick runs each step briefly (scripts/test
checks that it runs and prints the table)."""
import argparse
import concurrent.futures
import http.client
import json
import os
import platform
import re
import resource
import subprocess
import sys
import time
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
import harness  # noqa: E402
import latency  # noqa: E402

HZ = os.sysconf("SC_CLK_TCK")
BENCH = os.path.dirname(os.path.abspath(__file__))
SCHEDULE = 100  # a seeded PE schedule: POSTs are checked against it, never booked (no worker)
GET_INSURED = "09999"
WARM_SECONDS = 4  # untimed wrk run before the POST and the GET rows (DynamoDB Local's JIT)


T0 = time.monotonic()


def log(msg):
    print("bench: [%.0f s] %s" % (time.monotonic() - T0, msg), flush=True)


def stat_fields(path):
    """The fields of a /proc stat file after the command name: [1] the parent's pid, [11]
    utime, [12] stime, [13] cutime, [14] cstime (ticks)."""
    with open(path) as f:
        return f.read().rsplit(")", 1)[1].split()


def proc_cpu_s(pid):
    fields = stat_fields("/proc/%d/stat" % pid)
    return (int(fields[11]) + int(fields[12])) / HZ  # utime, stime


def http_threads_ticks(pid):
    """{tid: utime + stime ticks} of the API's HTTP threads (libmicrohttpd's MHD-*)."""
    out = {}
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/comm" % (pid, tid)) as f:
                if not f.read().startswith("MHD-"):
                    continue
            fields = stat_fields("/proc/%d/task/%s/stat" % (pid, tid))
        except OSError:
            continue
        out[tid] = int(fields[11]) + int(fields[12])
    return out


def stack_cpu_s():
    """CPU seconds used so far by each emulator of the bench's stack (the pid files of
    scripts/stack.sh in APPT_RUN_DIR), children included: PostgreSQL's backends are the
    postmaster's children, live (utime + stime) or reaped (cutime + cstime)."""
    run_dir = os.environ["APPT_RUN_DIR"]
    stats = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stats[int(entry)] = stat_fields("/proc/%s/stat" % entry)
            except OSError:
                continue
    out = {}
    for name in ("moto", "dynamodb", "fauxqs", "postgres"):
        try:
            with open(os.path.join(run_dir, name + ".pid")) as f:
                pid = int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            continue
        if pid not in stats:
            continue
        ticks = sum(int(x) for x in stats[pid][11:15])
        ticks += sum(int(fl[11]) + int(fl[12]) for fl in stats.values() if int(fl[1]) == pid)
        out[name] = ticks / HZ
    return out


def cpu_split(before, after, n, ours):
    """'moto 4.1, dynamodb 2.0, ..., ours 1.2' ms of CPU per message between two
    stack_cpu_s() readings; ours = our own process's CPU seconds over the same span."""
    parts = ["%s %.1f" % (k, 1000 * (after[k] - before.get(k, 0)) / max(n, 1))
             for k in after]
    parts.append("ours %.1f" % (1000 * ours / max(n, 1)))
    return ", ".join(parts)


def children_cpu_s():
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def proc_kib(pid, key):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def smaps_kib(pid):
    """/proc/PID/smaps_rollup as {field: KiB}: Pss, Private_Dirty, Shared_Clean..."""
    out = {}
    with open("/proc/%d/smaps_rollup" % pid) as f:
        for line in f:
            parts = line.split()
            if len(parts) == 3 and parts[2] == "kB":
                out[parts[0].rstrip(":")] = int(parts[1])
    return out


def wrk(port, conns, seconds, script=None, path="/", header=None):
    """Runs wrk; returns (requests, req/s, non-2xx, p50 ms)."""
    threads = min(conns, 2)
    cmd = ["wrk", "-t%d" % threads, "-c%d" % conns, "-d%ds" % seconds, "--latency"]
    if header:
        cmd += ["-H", header]
    if script:
        cmd += ["-s", script]
    cmd.append("http://127.0.0.1:%d%s" % (port, path))
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60).stdout
    reqs = int(re.search(r"(\d+) requests in", out).group(1))
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    p50 = re.search(r"50%\s+([\d.]+)(us|ms|s)", out)
    lat = None
    if p50:
        lat = float(p50.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[p50.group(2)]
    return reqs, rps, int(m.group(1)) if m else 0, lat


def floor(build, env, mode, conns, seconds):
    exe = os.path.join(build, "tests", "bench", "bench_floor")
    r = subprocess.run([exe, mode, str(conns), str(seconds)], env=env, capture_output=True,
                       text=True, timeout=seconds + 60)
    if r.returncode != 0:
        raise RuntimeError("bench_floor %s failed: %s" % (mode, r.stderr[-2000:]))
    return json.loads(r.stdout.strip().splitlines()[-1])


def floor_cpu_ms(f):
    """The floor loop's own CPU (its process's user + system time) per op, in ms."""
    return f["cpu_s"] * 1000 / max(f["ops"], 1)


class Api:
    """appointment-api with its READY=1 time measured from just before exec."""

    def __init__(self, d, env):
        self.notify = harness.NotifySocket(os.path.join(d.dir, "notify-api-" + harness.rand(4)))
        log_path = os.path.join(d.dir, "api.log")
        env = dict(env, NOTIFY_SOCKET=self.notify.path)
        t0 = time.monotonic()
        with open(log_path, "a") as lf:
            self.proc = subprocess.Popen([harness.binary("appointment-api"), "--config",
                                          d.config], env=env, stdout=lf, stderr=lf,
                                         start_new_session=True)
        while not self.notify.seen("READY=1"):
            if self.proc.poll() is not None or time.monotonic() - t0 > 20:
                raise RuntimeError("appointment-api did not start (log %s)" % log_path)
            time.sleep(0.001)
        self.ready_ms = (time.monotonic() - t0) * 1000
        self.port = d.port
        self.pid = self.proc.pid

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.notify.close()


def post(port, insured, schedule, conn=None):
    c = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    body = json.dumps({"insuredId": insured, "scheduleId": schedule, "countryISO": "PE"})
    c.request("POST", "/appointments", body=body, headers={"Content-Type": "application/json"})
    r = c.getresponse()
    data = r.read()
    if conn is None:
        c.close()
    return r.status, data


def seed_insured(d, template, insured, n):
    """n appointments of insured written straight into the appointments table (clones of
    template, the item of a real POST, with their own ids and createdAt, 25 per
    BatchWriteItem), and the insured's counters item as the API keeps it."""
    ddb = harness.aws_client("dynamodb")
    table = "medical-appointment-scheduling-appointments-" + d.stage
    base = time.time() - n
    for first in range(0, n, 25):
        reqs = []
        for i in range(first, min(first + 25, n)):
            item = dict(template)
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(base + i)) + ".000Z"
            item.update({"appointmentId": {"S": "%08d-0000-4000-8000-%s" % (i, insured * 2 + "00")},
                         "insuredId": {"S": insured}, "createdAt": {"S": stamp},
                         "updatedAt": {"S": stamp}})
            reqs.append({"PutRequest": {"Item": item}})
        left = {table: reqs}
        while left:
            left = ddb.batch_write_item(RequestItems=left).get("UnprocessedItems") or None
    status = template["status"]["S"]
    ddb.put_item(TableName="medical-appointment-scheduling-counters-" + d.stage,
                 Item={"key": {"S": insured}, "all": {"N": str(n)}, status: {"N": str(n)}})


def get_latency_ms(port, path, reps):
    """Median latency (ms) of reps sequential GETs of path on one kept-alive connection."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    times = []
    try:
        for _ in range(reps):
            t0 = time.monotonic()
            conn.request("GET", path)
            r = conn.getresponse()
            r.read()
            assert r.status == 200, (path, r.status)
            times.append((time.monotonic() - t0) * 1000)
    finally:
        conn.close()
    times.sort()
    return times[len(times) // 2]


def deep_cursor(port, insured, n):
    """The nextCursor of the last full page of insured's n-item list (walked 100 at a time,
    or 20 when n < 2 000, so that a few pages come before the last)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    cursor, last = None, None
    step = 100 if n >= 2000 else 20
    try:
        while True:
            q = "?limit=%d" % step + ("&cursor=" + urllib.parse.quote(cursor) if cursor else "")
            conn.request("GET", "/appointments/%s%s" % (insured, q))
            r = conn.getresponse()
            doc = json.loads(r.read())
            nxt = doc["pagination"].get("nextCursor")
            if not nxt:
                return last
            last, cursor = cursor, nxt
    finally:
        conn.close()


def hot_insured(d, port, n, reps):
    """GET latency (20 items) of an insured with n appointments against one with 10, at
    offset 0 and 20 items deep through a cursor near the end of the n."""
    ddb = harness.aws_client("dynamodb")
    table = "medical-appointment-scheduling-appointments-" + d.stage
    template = ddb.query(TableName=table, IndexName="insuredId-createdAt-index",
                         KeyConditionExpression="insuredId = :i",
                         ExpressionAttributeValues={":i": {"S": GET_INSURED}},
                         Limit=1)["Items"][0]
    seed_insured(d, template, "07777", 10)
    t0 = time.monotonic()
    seed_insured(d, template, "08888", n)
    log("hot insured: %d items written in %.1f s" % (n, time.monotonic() - t0))
    small = get_latency_ms(port, "/appointments/07777", reps)
    big = get_latency_ms(port, "/appointments/08888", reps)
    cursor = deep_cursor(port, "08888", n)
    if cursor is None:
        raise RuntimeError("hot insured: no cursor before the last page of %d items" % n)
    deep = get_latency_ms(port, "/appointments/08888?cursor=" + urllib.parse.quote(cursor),
                          reps)
    log("GET latency p50: 10 items %.2f ms, %d items %.2f ms, near the end by cursor %.2f ms"
        % (small, n, big, deep))
    return {"n": n, "small_ms": small, "big_ms": big, "deep_ms": deep}


def fresh_stack():
    """Restarts the bench's own stack (scripts/bench exported its run dir and ports): each
    phase meets emulators as fresh as the first did. DynamoDB Local makes every write to a
    table with a stream pay for the stream records of its other tables, deleted ones too
    (docs/local-stack.md): after one deployment's runs, the next one's writes cost several
    times their CPU."""
    stack = os.path.join(harness.SRC, "scripts", "stack.sh")
    subprocess.run(["bash", stack, "stop"], check=True, capture_output=True, timeout=120)
    subprocess.run(["bash", stack, "start"], check=True, capture_output=True, timeout=180)


def split_env(base, sns_sqs):
    """base with SNS and SQS on the given endpoint (EventBridge, SSM and DynamoDB as set)."""
    env = dict(base)
    env["AWS_ENDPOINT_URL_SNS"] = env["AWS_ENDPOINT_URL_SQS"] = sns_sqs
    return env


def completed_count(d):
    ddb = harness.aws_client("dynamodb")
    n, start = 0, None
    while True:
        kw = dict(TableName="medical-appointment-scheduling-appointments-" + d.stage,
                  IndexName="status-createdAt-index", KeyConditionExpression="#s = :c",
                  ExpressionAttributeNames={"#s": "status"},
                  ExpressionAttributeValues={":c": {"S": "completed"}}, Select="COUNT")
        if start:
            kw["ExclusiveStartKey"] = start
        r = ddb.query(**kw)
        n += r["Count"]
        start = r.get("LastEvaluatedKey")
        if not start:
            return n


PIPELINE_WARM = 200  # appointments through the pipeline before the timed ones
COMPLETED_LOG = re.compile(r'"msg":"appointment completed"')


def post_many(port, n, first_schedule, first_insured):
    """n POSTs on distinct PE schedules from first_schedule, 8 clients; the refused count."""
    def chunk(k):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        bad = 0
        for i in range(k, n, 8):
            status, _ = post(port, "%05d" % (first_insured + i), first_schedule + i, conn)
            bad += status != 201
        conn.close()
        return bad

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        return sum(pool.map(chunk, range(8)))


def wait_logged(path, skip, pat, want, t0, timeout):
    """Waits until a daemon's log (after its first skip bytes) has want lines matching pat
    (a daemon logs each message once it is done), or timeout s from t0; the number seen.
    Reads each byte once: rescanning the whole log every 10 ms took CPU from the daemons
    it times (0.6 ms a scan at 2 000 lines)."""
    done, rest = 0, b""
    while not os.path.exists(path) and time.monotonic() - t0 < timeout:
        time.sleep(0.01)
    if not os.path.exists(path):
        return 0
    with open(path, "rb") as fh:
        fh.seek(skip)
        while time.monotonic() - t0 < timeout:
            chunk = fh.read()
            if chunk:
                lines = (rest + chunk).split(b"\n")
                rest = lines.pop()  # an unfinished last line waits for its end
                done += sum(1 for ln in lines if pat.search(ln.decode(errors="replace")))
                if done >= want:
                    break
            else:
                time.sleep(0.01)
    return done


def daemons_cpu_s(api, d):
    """CPU seconds used so far by the API and the deployment's running daemons."""
    return sum(proc_cpu_s(p.pid) for p in [api.proc] + [dm.proc for dm in d.daemons])


def pipeline(d, n, api_env, worker_env, completion_env, timeout):
    """POSTs n appointments on distinct PE schedules (8 clients), waits until all are
    completed. Returns (seconds, appointments/s, completed). PIPELINE_WARM (at most n)
    appointments go through first, untimed, so that the emulators' JITs (DynamoDB Local's JVM, fauxqs's
    node) are warm, as they are in a running stack. Completion is read from the completion
    daemon's log (a poll of the status index every 0.5 s cost DynamoDB Local more CPU than
    the daemons did), then checked once on the table."""
    d.start("appointment-worker", "--country", "pe", env=worker_env)
    comp = d.start("appointment-completion", env=completion_env)
    api = Api(d, api_env)
    try:
        skip = os.path.getsize(comp.log_path) if os.path.exists(comp.log_path) else 0
        t0 = time.monotonic()
        warm_n = min(PIPELINE_WARM, n)
        warm_bad = post_many(api.port, warm_n, 1000 + n, 60000)
        warm = wait_logged(comp.log_path, skip, COMPLETED_LOG, warm_n - warm_bad, t0, timeout)
        log("pipeline: %d warm-up appointments completed in %.1f s"
            % (warm, time.monotonic() - t0))
        skip = os.path.getsize(comp.log_path)
        c0 = stack_cpu_s()
        ours0 = daemons_cpu_s(api, d)
        t0 = time.monotonic()
        bad = post_many(api.port, n, 1000, 20000)
        posted = time.monotonic() - t0
        done = wait_logged(comp.log_path, skip, COMPLETED_LOG, n - bad, t0, timeout)
        secs = time.monotonic() - t0
        ours = daemons_cpu_s(api, d)
        split = cpu_split(c0, stack_cpu_s(), done, ours - ours0)
        in_table = completed_count(d) - warm
        log("pipeline: %d POSTed in %.1f s (%d refused), %d completed in %.1f s (%d completed "
            "in the table); CPU ms per appointment: %s (API, worker and completion)"
            % (n, posted, bad, done, secs, in_table, split))
        done = min(done, in_table)
        return secs, done / secs, done
    finally:
        api.stop()
        for dm in reversed(d.daemons):
            dm.stop()
        d.daemons = []


def sqs_queue_url(endpoint, name):
    """GetQueueUrl in SQS's JSON protocol (fauxqs speaks no other; botocore 1.29 would use
    the query protocol)."""
    req = urllib.request.Request(endpoint + "/", data=json.dumps({"QueueName": name}).encode(),
                                 headers={"X-Amz-Target": "AmazonSQS.GetQueueUrl",
                                          "Content-Type": "application/x-amz-json-1.0",
                                          "Authorization": "AWS4-HMAC-SHA256 Credential=test/"
                                          "20260101/us-east-1/sqs/aws4_request, "
                                          "SignedHeaders=host, Signature=0"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())["QueueUrl"]


def backlog(d, env, n, first):
    """n appointments POSTed with no worker running: n messages wait in the PE queue."""
    api = Api(d, env)
    try:
        def chunk(k):
            conn = http.client.HTTPConnection("127.0.0.1", api.port, timeout=30)
            for i in range(k, n, 8):
                post(api.port, "%05d" % (30000 + first + i), first + i, conn)
            conn.close()
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            list(pool.map(chunk, range(8)))
    finally:
        api.stop()


def empty_completion_queue(d, moto):
    """Purges the completion queue on moto. No completion daemon runs in the worker rows, so
    each run's events stay there, and moto's SendMessage costs O(messages in the queue)
    (its Queue.attributes counts them on every send: a PutEvents cost moto ~5 ms of CPU
    per event into an empty queue, ~13 ms into one holding 600-900, on 2026-12-04): without this each run would pay for the ones before it."""
    import botocore.session
    sqs = botocore.session.get_session().create_client(
        "sqs", region_name=os.environ.get("AWS_REGION", "us-east-1"), endpoint_url=moto,
        aws_access_key_id="test", aws_secret_access_key="test")
    url = sqs.get_queue_url(QueueName="medical-appointment-scheduling-appointments-completion-"
                            + d.stage)["QueueUrl"]
    sqs.purge_queue(QueueUrl=url)


def worker_ratio(d, n, env, moto, timeout, first):
    """The bare loop on a backlog of n, the same loop with the item's DynamoDB work
    (workertx) on another n, then the worker daemon (PE) alone on a third n, each starting
    on an empty completion queue. Returns (worker msgs/s, floor msgs/s, floor with the
    item's work msgs/s). The loops go first and the deployment is fresh: a daemon stopped
    during its long poll leaves that receive pending in the emulator, which then hands the
    next message to nobody until its visibility timeout (10 s here)."""
    queue = sqs_queue_url(env["AWS_ENDPOINT_URL_SQS"],
                          "medical-appointment-scheduling-appointments-pe-" + d.stage)
    fenv = dict(env, BENCH_QUEUE_URL=queue, BENCH_BUS="medical-appointment-scheduling-" + d.stage,
                BENCH_DB="e2e_%s_pe" % d.stage,
                BENCH_TABLE="medical-appointment-scheduling-appointments-" + d.stage,
                BENCH_COUNTERS="medical-appointment-scheduling-counters-" + d.stage)
    backlog(d, env, n, first)
    empty_completion_queue(d, moto)
    c0, o0 = stack_cpu_s(), children_cpu_s()
    f = floor(harness.BUILD, fenv, "worker", 10, int(timeout))
    log("bare loop, CPU ms per message: " + cpu_split(c0, stack_cpu_s(), n, children_cpu_s() - o0))
    backlog(d, env, n, first + n)
    empty_completion_queue(d, moto)
    c0, o0 = stack_cpu_s(), children_cpu_s()
    ftx = floor(harness.BUILD, fenv, "workertx", 10, int(timeout))
    log("loop with the item's work, CPU ms per message: "
        + cpu_split(c0, stack_cpu_s(), n, children_cpu_s() - o0))
    backlog(d, env, n, first + 2 * n)
    empty_completion_queue(d, moto)
    c0 = stack_cpu_s()
    log_path = os.path.join(d.dir, "appointment-worker-pe.log")  # harness.Daemon appends
    skip = os.path.getsize(log_path) if os.path.exists(log_path) else 0
    w = d.start("appointment-worker", "--country", "pe", env=env)
    t0 = time.monotonic()
    # its own log says when each message is done (the status index, polled, lagged)
    done = wait_logged(w.log_path, skip, re.compile(r'"msg":"appointment (processed|failed)"'),
                       n, t0, timeout)
    secs = time.monotonic() - t0
    log("worker, CPU ms per message: " + cpu_split(c0, stack_cpu_s(), max(done, 1),
                                                  proc_cpu_s(w.proc.pid)))
    w.stop()
    d.daemons = []
    log("worker: %d messages in %.1f s (%.1f/s); bare loop %.1f/s (%d errors); with the "
        "item's read and status change %.1f/s (%d errors)"
        % (done, secs, done / secs, f["rps"], f["errors"], ftx["rps"], ftx["errors"]))
    return done / secs, f["rps"], ftx["rps"]


def e2e(d, args, split, moto, fauxqs, first):
    """The hops of one appointment one by one (no daemon running), then the steady load
    with the PE worker and the completion daemon (on moto's SQS) running."""
    name = "medical-appointment-scheduling-appointments-pe-" + d.stage
    topic = [t["TopicArn"] for t in harness.aws_client("sns").list_topics()["Topics"]
             if t["TopicArn"].endswith(":" + name)][0]
    completion = sqs_queue_url(moto, "medical-appointment-scheduling-appointments-completion-"
                               + d.stage)
    h = latency.hops(d, split, args.hops, first, topic, sqs_queue_url(fauxqs, name),
                     completion, moto)
    log("hops p50 (ms, %d of %d rounds): %s; on the path %.1f ms, of which moto %.1f ms"
        % (h["ok"], h["rounds"], ", ".join("%s %.2f" % kv for kv in h["p50_ms"].items()),
           h["path_ms"], h["moto_ms"]))
    d.start("appointment-worker", "--country", "pe", env=split)
    d.start("appointment-completion", env=split_env(d.env, moto))
    api = Api(d, split)
    try:
        e = latency.steady(api.port, args.e2e_rate, args.e2e_seconds, first + args.hops, log)
    finally:
        api.stop()
        for dm in reversed(d.daemons):
            dm.stop()
        d.daemons = []
    return h, e


def run(args):
    base = dict(os.environ)
    fauxqs, moto = base["APPT_FAUXQS_URL"], base["AWS_ENDPOINT_URL_SQS"]
    if "APPT_BENCH_MOTO_URL" in base:
        moto = base["APPT_BENCH_MOTO_URL"]
    split = split_env(base, fauxqs)
    conns = (1, 8, 32)
    dur = args.duration
    res = {"conns": conns, "post": {}, "floor_post": {}, "floor_posttx": {}, "get": {},
           "floor_get": {}, "slots": {}, "slots_deep": {},
           "cpu_ms": {}, "floor_cpu_ms": {}, "lat": {}}
    e2e_first = (1000 + max(args.pipeline, args.moto_pipeline) + 3 * args.worker + PIPELINE_WARM
                 + 50)
    seed = e2e_first + args.hops + int(args.e2e_rate * args.e2e_seconds) + 50
    res["seed"] = seed

    def deployment(env, then_moto):
        # on the split stack: provision on fauxqs first (topics, country queues), then the
        # events group on moto (scripts/up does the same): the completion and error queues
        # and the EventBridge targets end up on moto, the only one that delivers events
        os.environ.update(env)
        d = harness.Deployment(seed_count=seed,
                               extra_config="[general]\nlog_level = info\n",
                               countries=("PE",))
        if then_moto:
            d.ctl("provision", "--only", "events", env=split_env(d.env, moto))
        return d

    d = deployment(split, True)
    api = None
    try:
        api = Api(d, split)
        res["ready_ms"] = api.ready_ms
        status, body = post(api.port, GET_INSURED, SCHEDULE)
        assert status == 201, status
        one_id = json.loads(body)["appointmentId"]
        for _ in range(19):
            post(api.port, GET_INSURED, SCHEDULE)
        time.sleep(0.5)
        res["rss_idle_kib"] = proc_kib(api.pid, "VmRSS")
        res["smaps_idle"] = smaps_kib(api.pid)
        lua = os.path.join(BENCH, "post.lua")
        # untimed first: DynamoDB Local's JIT takes a few thousand calls to warm, and the
        # first timed run (ours, c = 1) paid for it while the floors after it did not
        wrk(api.port, 8, WARM_SECONDS, lua, "/appointments")
        fenv = dict(split, BENCH_TABLE="medical-appointment-scheduling-appointments-" + d.stage,
                    BENCH_SCHEDULE=str(SCHEDULE), BENCH_DB="e2e_%s_pe" % d.stage,
                    BENCH_INSURED=GET_INSURED,
                    BENCH_COUNTERS="medical-appointment-scheduling-counters-" + d.stage)
        name = "medical-appointment-scheduling-appointments-pe-" + d.stage
        fenv["BENCH_TOPIC_ARN"] = [t["TopicArn"] for t in
                                   harness.aws_client("sns").list_topics()["Topics"]
                                   if t["TopicArn"].endswith(":" + name)][0]
        # each c: ours, then its two floors right after it, as the GET rows do, so that a
        # ratio's two sides run seconds apart, not minutes (the emulators' speed drifts)
        for c in conns:
            cpu0 = proc_cpu_s(api.pid)
            reqs, rps, bad, lat = wrk(api.port, c, dur, lua, "/appointments")
            cpu = proc_cpu_s(api.pid) - cpu0
            res["post"][c] = rps
            res["lat"][c] = lat
            res["cpu_ms"][c] = cpu * 1000 / max(reqs, 1)
            log("POST c=%d: %.0f req/s (%d requests, %d not 2xx), %.3f ms CPU/POST"
                % (c, rps, reqs, bad, res["cpu_ms"][c]))
            f = floor(harness.BUILD, fenv, "post", c, dur)
            res["floor_post"][c] = f["rps"]
            log("floor POST c=%d: %.0f ops/s (%d errors), %.3f ms CPU/op"
                % (c, f["rps"], f["errors"], floor_cpu_ms(f)))
            f = floor(harness.BUILD, fenv, "posttx", c, dur)
            res["floor_posttx"][c] = f["rps"]
            res["floor_cpu_ms"][c] = floor_cpu_ms(f)
            log("floor POST, create as TransactWriteItems with counters, c=%d: %.0f ops/s "
                "(%d errors), %.3f ms CPU/op" % (c, f["rps"], f["errors"],
                                                 res["floor_cpu_ms"][c]))
        # the HTTP hop with nothing behind it: at c = 1 latencies add, so a figure that is
        # the hop plus a floor's calls is at most hop / (hop + floor) of that floor
        res["hop"] = {c: wrk(api.port, c, dur, None, "/healthz")[1] for c in conns}
        log("GET /healthz c = 1 / 8 / 32: %s req/s"
            % " / ".join("%.0f" % res["hop"][c] for c in conns))
        wrk(api.port, 8, WARM_SECONDS, None, "/appointments/" + GET_INSURED)  # as above
        res["get_threads"] = {}
        for c in conns:
            ticks0 = http_threads_ticks(api.pid)
            reqs, rps, bad, _ = wrk(api.port, c, dur, None, "/appointments/" + GET_INSURED)
            ticks1 = http_threads_ticks(api.pid)
            # threads that did any work: wrk's c connections share fewer when libmicrohttpd's
            # workers accept them unevenly (docs/performance.md, "The evening runs")
            res["get_threads"][c] = (sum(1 for t, v in ticks1.items() if v > ticks0.get(t, v)),
                                     len(ticks1))
            res["get"][c] = rps
            f = floor(harness.BUILD, fenv, "get", c, dur)
            res["floor_get"][c] = f["rps"]
            log("GET c=%d: %.0f req/s (%d not 2xx), %d of %d HTTP threads busy; floor Query "
                "%.0f/s" % ((c, rps, bad) + res["get_threads"][c] + (f["rps"],)))
        # GET of one item (200, then 304 through If-None-Match) against a consistent GetItem
        one = "/appointments/%s/%s" % (GET_INSURED, one_id)
        conn = http.client.HTTPConnection("127.0.0.1", api.port, timeout=30)
        conn.request("GET", one)
        r = conn.getresponse()
        r.read()
        etag = r.getheader("ETag")
        conn.close()
        res.update(getone={}, floor_getone={}, getone_304={})
        for c in conns:
            reqs, rps, bad, _ = wrk(api.port, c, dur, None, one)
            res["getone"][c] = rps
            reqs, rps304, bad304, _ = wrk(api.port, c, dur, None, one, "If-None-Match: " + etag)
            res["getone_304"][c] = rps304
            f = floor(harness.BUILD, dict(fenv, BENCH_ID=one_id), "getone", c, dur)
            res["floor_getone"][c] = f["rps"]
            log("GET one item c=%d: %.0f req/s (%d not 2xx), 304: %.0f req/s (%d errors); "
                "floor GetItem %.0f/s (%d errors)" % (c, rps, bad, rps304, bad304, f["rps"],
                                                     f["errors"]))
        # GET /schedules (issue 16): the first page of the seeded PE slots, and a page 2 000
        # slots deep (the page walks the index: O(offset + limit); the total counts the window)
        for c in conns:
            res["slots"][c] = wrk(api.port, c, dur, None, "/schedules?countryISO=PE")[1]
            res["slots_deep"][c] = wrk(api.port, c, dur, None,
                                       "/schedules?countryISO=PE&offset=2000")[1]
            log("GET /schedules c=%d: %.0f req/s, offset 2000: %.0f req/s"
                % (c, res["slots"][c], res["slots_deep"][c]))
        res["hot"] = hot_insured(d, api.port, args.hot, 30 if args.quick else 200)
        res["rss_peak_kib"] = proc_kib(api.pid, "VmHWM")
    finally:
        if api is not None:  # also when a step fails: stopped by its pid
            api.stop()
        d.close()
    # the pipeline on a deployment of its own, on fresh emulators: no backlog of the runs
    # above in its queues, no table of theirs in DynamoDB Local's heap
    if args.pipeline > 0:
        fresh_stack()
        d = deployment(split, True)
        try:
            secs, rate, done = pipeline(d, args.pipeline, split, split,
                                        split_env(d.env, moto), args.pipeline_timeout)
            res["pipe"] = (args.pipeline, secs, rate, done)
        finally:
            d.close()
    if args.e2e_rate > 0:
        if not args.quick:
            fresh_stack()
        d = deployment(split, True)
        try:
            res["hops"], res["e2e"] = e2e(d, args, split, moto, fauxqs, e2e_first)
        finally:
            d.close()
    if args.worker > 0:
        if not args.quick:
            fresh_stack()
        d = deployment(split, True)
        try:
            res["worker"] = worker_ratio(d, args.worker, split, moto, args.pipeline_timeout,
                                         1000 + args.pipeline)
        finally:
            d.close()
    if args.moto_pipeline > 0:
        # the old default stack: everything but DynamoDB on moto
        allmoto = split_env(base, moto)
        fresh_stack()
        d = deployment(allmoto, False)
        try:
            secs, rate, done = pipeline(d, args.moto_pipeline, allmoto, allmoto, allmoto,
                                        args.pipeline_timeout)
            res["moto_pipe"] = (args.moto_pipeline, secs, rate, done)
            # POST on that stack, after the pipeline (its queue holds no backlog then)
            api = Api(d, allmoto)
            try:
                res["moto_post8"] = wrk(api.port, 8, dur, os.path.join(BENCH, "post.lua"),
                                        "/appointments")[1]
            finally:
                api.stop()
            log("moto stack: POST c=8 %.0f req/s" % res["moto_post8"])
        finally:
            d.close()
    os.environ.clear()
    os.environ.update(base)
    return res


def table(res, args):
    rows = []

    def row(fig, ours, limit, ratio, goal, met):
        rows.append("| %s | %s | %s | %s | %s | %s |" % (fig, ours, limit, ratio, goal,
                                                          "yes" if met else "**no**"))

    c = res["conns"]
    ratios = [res["post"][k] / res["floor_post"][k] for k in c]
    row("POST req/s ÷ floor (PG SELECT + PutItem + Publish), c = 1 / 8 / 32",
        " / ".join("%.0f" % res["post"][k] for k in c),
        " / ".join("%.0f" % res["floor_post"][k] for k in c),
        " / ".join("%.2f" % r for r in ratios), "≥ 0.9 at every c", min(ratios) >= 0.9)
    tx = [res["post"][k] / res["floor_posttx"][k] for k in c]
    row("POST req/s ÷ the same floor with the create as the API makes it (TransactWriteItems "
        "of the item and its insured's counters)",
        " / ".join("%.0f" % res["post"][k] for k in c),
        " / ".join("%.0f" % res["floor_posttx"][k] for k in c),
        " / ".join("%.2f" % r for r in tx), "(not a goal: where the gap is)", min(tx) >= 0.9)
    cpu = [res["cpu_ms"][k] for k in c]
    fcpu = [res["floor_cpu_ms"][k] for k in c]
    row("API CPU per POST (ms), c = 1 / 8 / 32; limit: the transaction floor loop's own CPU "
        "per op (the same three calls through the same clients, no HTTP server)",
        " / ".join("%.2f" % x for x in cpu), " / ".join("%.2f" % x for x in fcpu),
        " / ".join("%.2f" % (x / max(y, 1e-9)) for x, y in zip(cpu, fcpu)), "≤ 0.3",
        max(cpu) <= 0.3)
    g = [res["get"][k] / res["floor_get"][k] for k in c]
    row("GET (20 items) req/s ÷ one bare Query, c = 1 / 8 / 32",
        " / ".join("%.0f" % res["get"][k] for k in c),
        " / ".join("%.0f" % res["floor_get"][k] for k in c),
        " / ".join("%.2f" % r for r in g), "≥ 0.85", min(g) >= 0.85)
    busy = res["get_threads"]
    row("HTTP threads that served the GET run (of all), c = 1 / 8 / 32",
        " / ".join("%d of %d" % busy[k] for k in c), "", "",
        "(not a goal: how wrk's connections were spread)", True)
    hop = res["hop"]
    row("the HTTP hop alone (GET /healthz, nothing behind it) req/s, c = 1 / 8 / 32; the "
        "most it leaves at c = 1 (latencies add): POST ÷ floor, GET ÷ Query",
        " / ".join("%.0f" % hop[k] for k in c) + "; %.2f, %.2f"
        % (hop[1] / (hop[1] + res["floor_post"][1]), hop[1] / (hop[1] + res["floor_get"][1])),
        "", "", "(not a goal: the ceiling the hop sets)", True)
    latency.getone_row(row, res, c)
    h = res["hot"]
    row("GET latency p50 (20 items), %d items ÷ 10 items, offset 0 / near the end by cursor"
        % h["n"], "%.2f / %.2f ms" % (h["big_ms"], h["deep_ms"]), "%.2f ms" % h["small_ms"],
        "%.2f× / %.2f×" % (h["big_ms"] / h["small_ms"], h["deep_ms"] / h["small_ms"]), "≤ 2×",
        max(h["big_ms"], h["deep_ms"]) <= 2 * h["small_ms"])
    row("GET /schedules (20 free slots of %d) req/s, offset 0 → 2000, c = 1 / 8 / 32"
        % res["seed"], " / ".join("%.0f → %.0f" % (res["slots"][k], res["slots_deep"][k])
                                  for k in c), "", "", "(a figure, not a goal)", True)
    if "moto_post8" in res:
        row("default local stack: POST req/s at c = 8 (before: SNS/SQS on moto → now)",
            "%.0f" % res["post"][8], "%.0f (moto)" % res["moto_post8"],
            "%.1f×" % (res["post"][8] / res["moto_post8"]), "≥ 400", res["post"][8] >= 400)
    else:
        row("default local stack: POST req/s at c = 8", "%.0f" % res["post"][8], "", "",
            "≥ 400", res["post"][8] >= 400)
    if "pipe" in res:
        n, secs, rate, done = res["pipe"]
        before = ""
        if "moto_pipe" in res:
            mn, msecs, mrate, mdone = res["moto_pipe"]
            before = "%.1f/s (moto: %d in %.0f s)" % (mrate, mn, msecs)
        row("pipeline POST → completed, appointments/s (%d queued)" % n,
            "%.1f/s (%d in %.1f s)" % (rate, done, secs), before, "", "≥ 150", rate >= 150)
    if "worker" in res:
        w, f, ftx = res["worker"]
        row("worker msgs/s ÷ bare Receive + PG booking + PutEvents + Delete loop (10 threads, "
            "%d queued)" % args.worker, "%.1f" % w, "%.1f" % f, "%.2f" % (w / f), "≥ 0.9",
            w / f >= 0.9)
        row("worker msgs/s ÷ the same loop with the item's read and its status change "
            "(TransactWriteItems with the counters) as SPEC has the worker do",
            "%.1f" % w, "%.1f" % ftx, "%.2f" % (w / ftx), "(not a goal: where the gap is)",
            w / ftx >= 0.9)
    if "e2e" in res:
        latency.e2e_row(row, res["e2e"], res["hops"])
    row("API RSS idle / peak (MB)", "%.1f / %.1f" % (res["rss_idle_kib"] / 1024,
                                                     res["rss_peak_kib"] / 1024), "", "",
        "≤ 12 / ≤ 30", res["rss_idle_kib"] <= 12 * 1024 and res["rss_peak_kib"] <= 30 * 1024)
    sm = res["smaps_idle"]
    # VmRSS counts the clean pages of shared libraries (libcrypto, libc, gnutls, krb5...)
    # that every process mapping them shares; PSS and private dirty are what one API adds
    row("API idle: private dirty / PSS / shared clean library pages (MB)",
        "%.1f / %.1f / %.1f" % (sm.get("Private_Dirty", 0) / 1024, sm.get("Pss", 0) / 1024,
                                sm.get("Shared_Clean", 0) / 1024),
        "", "", "(not a goal: what VmRSS is made of)", True)
    row("READY=1 after exec (ms)", "%.0f" % res["ready_ms"], "", "", "", True)
    head = ["**scripts/bench%s**, %s." % (" --quick" if args.quick else "",
                                          time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())),
            "",
            "Machine: %s, %d CPUs, %s; build %s; %d s per run."
            % (platform.node(), os.cpu_count(), platform.platform(),
               os.path.basename(os.path.normpath(harness.BUILD)),
               args.duration),
            "",
            "| figure | ours | limit | ratio | goal | met? |", "|---|---|---|---|---|---|"]
    return "\n".join(head + rows) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", help="write the table (markdown) here too")
    ap.add_argument("--json", help="write the raw figures here")
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--pipeline", type=int, default=2000)
    ap.add_argument("--moto-pipeline", type=int, default=2000)
    ap.add_argument("--pipeline-timeout", type=float, default=600)
    ap.add_argument("--worker", type=int, default=1000, help="backlog of the worker rows")
    ap.add_argument("--hot", type=int, default=10000,
                    help="appointments of the hot insuredId of the GET latency row")
    ap.add_argument("--e2e-rate", type=float, default=20,
                    help="POSTs/s of the end-to-end row (0: no such row)")
    ap.add_argument("--e2e-seconds", type=float, default=30)
    ap.add_argument("--hops", type=int, default=100,
                    help="rounds of the hops timed one by one (end-to-end row)")
    args = ap.parse_args()
    if args.hot < 100:
        ap.error("--hot must be at least 100 (the cursor row reads a page near the end)")
    if args.quick:
        args.duration, args.pipeline, args.moto_pipeline, args.worker = 2, 50, 0, 50
        args.hot = 1000
        args.e2e_rate, args.e2e_seconds, args.hops = 10, 3, 10
        args.pipeline_timeout = 60
    res = run(args)
    text = table(res, args)
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=1, default=str)


if __name__ == "__main__":
    main()
