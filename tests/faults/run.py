#!/usr/bin/python3
"""The fault suite (issue 10; docs/reliability.md): the daemons under a steady load of
SPEC-following clients, with a fault proxy between every daemon and every service, one fault
at a time; then quiescence and the invariants of SPEC §4 checked against DynamoDB,
PostgreSQL and the queues.

    run.py [--only REGEX] [--list] [--rate N] [--counts FILE] [--table FILE] [--update-doc]

Needs the local stack in the environment (scripts/test, or eval "$(scripts/stack.sh env)")
and the built daemons (APPT_BUILD_ROOT, default build). Loopback only. Prints one table row
per scenario and exits 0 when every row met its expectation: the invariants held, the fault
really hit traffic, and the rows listed in EXPECTED_FAILURES failed (a row listed there that
passes fails the run: take it off the list).
"""
import argparse
import json
import os
import re
import signal
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
sys.path.insert(0, HERE)
import harness  # noqa: E402
import invariants  # noqa: E402
import load as loadmod  # noqa: E402
import proxyctl  # noqa: E402

COUNTRIES = ("PE", "CL")
SERVICES = {  # service -> (environment variable, stack variable)
    "dynamodb": "AWS_ENDPOINT_URL_DYNAMODB",
    "sns": "AWS_ENDPOINT_URL_SNS",
    "sqs": "AWS_ENDPOINT_URL_SQS",
    "events": "AWS_ENDPOINT_URL_EVENTBRIDGE",
}
# who talks to what (architecture.md, "Processes and units"); ctl = appointmentctl (reconcile,
# redrive), routed through the proxy too, like the timer on another host would be
TOPOLOGY = {
    "api": ("dynamodb", "sns", "pg-pe", "pg-cl"),
    "worker-pe": ("dynamodb", "sqs", "events", "pg-pe"),
    "worker-cl": ("dynamodb", "sqs", "events", "pg-cl"),
    "completion": ("dynamodb", "sqs", "events"),
    "ctl": ("dynamodb", "sns", "sqs", "events"),
}
VISIBILITY = 10        # s, the queues' visibility timeout (the smallest the config allows)
MAX_RECEIVES = 20      # a fault window never dead-letters a message (SPEC's 3 is a setting)
WINDOW = 10.0          # s of fault per row
WARMUP = 3.0           # s of load before a phase's first fault (counted to that row)
DROP_RATE = 0.75       # share of the matching requests whose reply is dropped
ROW_DRAIN = 30.0       # s a row's clients get to finish, load paused, before the next row
QUIESCE_MAX = 150.0    # s a phase may take to settle after its load
RECONCILE_EVERY = 15.0  # s, the reconciler "timer" during the load...
RECONCILE_AGE = 30     # ...for items older than this
QUIET_RECONCILE_EVERY = 5.0
QUIET_RECONCILE_AGE = 10

# Rows that fail on the code as it is, with the reason; each must fail (a violation, not a
# harness error) or the run fails. Empty once issue 10's fixes are in.
EXPECTED_FAILURES = {}
# Rows that fail only sometimes on the code as it is (a defect they hit by chance): not run
# (counted as skipped) until the fix is in, unless --all.
HELD_BACK = {}

T0 = time.monotonic()


def say(msg):
    print("[%6.1fs] %s" % (time.monotonic() - T0, msg), flush=True)


# ---------------------------------------------------------------------------------------
# Scenario rows

class Row:
    def __init__(self, name, phase, action, fault_s):
        self.name = name
        self.phase = phase
        self.action = action
        self.fault_s = fault_s      # nominal seconds of fault (table column)
        self.t_start = self.t_end = None
        self.hits = 0
        self.errors = []        # the harness could not do what the row says
        self.violations = []    # the product misbehaved around the fault (exit codes, probes)
        self.result = None


def rule_row(listener, fault, window=WINDOW, probe=None, **params):
    """A proxy rule on for `window` seconds; then, for a country database, the schedule
    check must work again."""
    def action(ctx, row):
        rid = ctx.proxy.add(listener=listener, fault=fault, **params)
        try:
            ctx.sleep(window)
            row.hits = ctx.proxy.stats()["rules"].get(str(rid), 0)
        finally:
            ctx.proxy.remove(rid)
        if probe:
            probe_schedule_check(ctx, row, probe)
    return action


PROBES = 16  # twice the API's HTTP threads, so every thread's connection is tried


def probe_schedule_check(ctx, row, cc):
    """After the database is back, POSTs for a slot that does not exist must be refused
    with 404 SCHEDULE_NOT_FOUND on every API thread: a dead connection is reconnected
    before the API decides the database is down (issue 10)."""
    ctx.sleep(2.0)
    keys = [loadmod.Key(0, "9%04d" % (ctx.probes + i), 9999999, cc, None, False)
            for i in range(PROBES)]
    ctx.probes += PROBES
    threads = [threading.Thread(target=lambda k=k: setattr(
        k, "late", ctx.load._ask(k, time.monotonic() + 30))) for k in keys]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wrong = [k.late for k in keys if (k.late[0], k.late[2]) != (404, "SCHEDULE_NOT_FOUND")]
    if wrong:
        row.violations.append("after PostgreSQL %s came back, %d of %d POSTs for a slot that "
                              "does not exist were not 404 SCHEDULE_NOT_FOUND: %s" % (
                                  cc, len(wrong), PROBES, sorted({str(w[:1] + w[2:])
                                                                  for w in wrong})))


def pg_restart_row(cc):
    """PostgreSQL of cc restarts (1 s) while no request uses it: every connection the API
    holds dies idle, and the first POST on each must still get its schedule checked."""
    def action(ctx, row):
        ctx.load.pause()
        ctx.load.wait_idle(ROW_DRAIN)
        rid = ctx.proxy.add(listener="*.pg-%s" % cc.lower(), fault="refuse")
        try:
            ctx.sleep(1.0)
            row.hits = ctx.proxy.stats()["rules"].get(str(rid), 0)
        finally:
            ctx.proxy.remove(rid)
        probe_schedule_check(ctx, row, cc)
        ctx.load.resume()
        ctx.sleep(WINDOW / 2)
    return action


def kill_row(daemon, times=2, window=8.0):
    def action(ctx, row):
        for _ in range(times):
            ctx.sleep(window / times / 2)
            ctx.kill9(daemon)
            row.hits += 1
            ctx.sleep(window / times / 2)
    return action


def sigterm_batch_row(cc):
    """SIGTERM while the worker has a batch in flight (its database made slow for the
    moment): it must finish what it holds, give back the rest and exit 0 within the stop
    timeout; restarted, it carries on."""
    def action(ctx, row):
        name = "worker-" + cc
        d = ctx.daemons[name]
        rid = ctx.proxy.add(listener="%s.pg-%s" % (name, cc), fault="delay", ms=1500)
        try:
            deadline = time.monotonic() + 20
            n = 0
            while time.monotonic() < deadline:
                m = re.search(r"(\d+) in flight", d.notify.last_status())
                n = int(m.group(1)) if m else 0
                if n >= 3:
                    break
                time.sleep(0.2)
            if n < 3:
                row.errors.append("the worker never had 3 messages in flight (%r)"
                                  % d.notify.last_status())
            row.hits = n
            t0 = time.monotonic()
            d.proc.send_signal(signal.SIGTERM)
            ctx.sleep(2)
        finally:
            ctx.proxy.remove(rid)
        try:
            rc = d.proc.wait(timeout=60)
        except Exception:
            rc = "still running after 60 s"
        took = time.monotonic() - t0
        if rc != 0:
            row.violations.append("SIGTERM mid-batch: exit %s after %.1f s" % (rc, took))
        ctx.restart(name)
        ctx.sleep(max(0.0, WINDOW - (time.monotonic() - row.t_start)))
    return action


def sighup_row(window=8.0):
    def action(ctx, row):
        rounds = 4
        for _ in range(rounds):
            for name, d in ctx.daemons.items():
                if d.alive():
                    d.proc.send_signal(signal.SIGHUP)
                    row.hits += 1
            ctx.sleep(window / rounds)
        for name, d in ctx.daemons.items():
            if not d.alive():
                row.violations.append("%s died on SIGHUP (exit %s)" % (name,
                                                                      d.proc.returncode))
                ctx.restart(name)
            elif not d.notify.seen("RELOADING=1"):
                row.violations.append("%s never said RELOADING=1" % name)
    return action


def redrive_drop_row(cc):
    """apply-then-drop on SendMessage(Batch): the worker of cc is stopped, the messages
    that pile up in its queue are dead-lettered by hand (as SQS does after maxReceiveCount),
    and `appointmentctl redrive` moves them back while every SendMessage(Batch) reply is
    lost. It reports failure, so the operator runs it again with the proxy healthy."""
    def action(ctx, row):
        name = "worker-" + cc
        d = ctx.daemons[name]
        d.proc.send_signal(signal.SIGTERM)
        try:
            d.proc.wait(timeout=60)
        except Exception:
            pass
        ctx.sleep(WINDOW / 2)
        q, dlq = ctx.world.queues[cc.lower()], ctx.world.queues[cc.lower() + "-dlq"]
        moved = 0
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            msgs = ctx.world.sqs.receive(q, wait=1, visibility=60)
            if not msgs:
                break
            for m in msgs:
                ctx.world.sqs.send(dlq, m["Body"])
                ctx.world.sqs.delete(q, m["ReceiptHandle"])
                moved += 1
        if moved == 0:
            row.errors.append("no message to dead-letter in %s" % cc)
        rid = ctx.proxy.add(listener="ctl.sqs", op="SendMessage*", fault="dropreply")
        try:
            r = ctx.d.ctl("redrive", cc, check=False, env=ctx.envs["ctl"], timeout=180)
            row.hits = ctx.proxy.stats()["rules"].get(str(rid), 0)
        finally:
            ctx.proxy.remove(rid)
        say("    redrive with lost replies: exit %d: %s" % (r.returncode, r.stdout.strip()[-200:]))
        ctx.restart(name)
        r = ctx.d.ctl("redrive", cc, check=False, env=ctx.envs["ctl"], timeout=180)
        say("    redrive again: exit %d: %s" % (r.returncode, r.stdout.strip()[-200:]))
        if r.returncode != 0:
            row.violations.append("the second redrive failed: %s" % (r.stdout + r.stderr)[-300:])
    return action


def rows():
    out = []

    def add(name, phase, action, fault_s=WINDOW):
        out.append(Row(name, phase, action, fault_s))

    # each service: refuse, black-hole, reset mid-response, delay (1-6 s: around the
    # client's 5 s request timeout, so some requests arrive after their caller gave up);
    # apply-then-drop on the writes that service takes
    label = {"dynamodb": "DynamoDB", "sns": "SNS", "sqs": "SQS", "events": "EventBridge"}
    drops = {"dynamodb": ("PutItem", "UpdateItem", "TransactWriteItems"), "sns": ("Publish",),
             "sqs": ("DeleteMessage*",), "events": ("PutEvents",)}
    phase_of = {"dynamodb": "dynamodb", "sns": "sns+events", "events": "sns+events",
                "sqs": "sqs"}
    for svc in ("dynamodb", "sns", "events", "sqs"):
        glob = "*." + svc
        ph = phase_of[svc]
        add("%s refused" % label[svc], ph, rule_row(glob, "refuse"))
        add("%s black-hole" % label[svc], ph, rule_row(glob, "blackhole"))
        if svc == "dynamodb":
            # one operation down for longer than a POST's AWS budget ([api] aws_budget_ms):
            # the item is stored and answered, the Idempotency-Key's response is not
            add("DynamoDB black-hole UpdateItem only 15 s", ph,
                rule_row(glob, "blackhole", op="UpdateItem", window=15.0), fault_s=15)
        add("%s reset mid-response" % label[svc], ph, rule_row(glob, "reset", rate=0.5))
        add("%s delay 1-6 s" % label[svc], ph, rule_row(glob, "delay", ms=1000, jitter_ms=5000))
        for op in drops[svc]:
            add("%s apply-then-drop %s" % (label[svc], op.rstrip("*") + ("(Batch)" if op.endswith("*") else "")),
                ph, rule_row(glob, "dropreply", op=op, rate=DROP_RATE))
    add("SQS apply-then-drop SendMessage(Batch) (redrive)", "sqs", redrive_drop_row("cl"),
        fault_s=0)
    # PostgreSQL of one country (PE): every daemon's connections to it
    add("PostgreSQL PE stopped 15 s", "postgresql",
        rule_row("*.pg-pe", "refuse", window=15.0, probe="PE"), fault_s=15)
    add("PostgreSQL PE restarted while idle (1 s)", "postgresql", pg_restart_row("PE"),
        fault_s=1)
    add("PostgreSQL PE black-hole", "postgresql", rule_row("*.pg-pe", "blackhole", probe="PE"))
    add("PostgreSQL PE reset mid-response", "postgresql",
        rule_row("*.pg-pe", "reset", rate=0.3, probe="PE"))
    add("PostgreSQL PE slow (3 s a round trip > visibility/2)", "postgresql",
        rule_row("*.pg-pe", "delay", ms=3000, probe="PE"))
    add("PostgreSQL PE apply-then-drop COMMIT", "postgresql",
        rule_row("*.pg-pe", "dropreply", op="COMMIT", rate=DROP_RATE, probe="PE"))
    # processes
    for name in ("api", "worker-pe", "worker-cl", "completion"):
        add("kill -9 %s, restarted" % name, "processes", kill_row(name), fault_s=0)
    add("SIGTERM worker-cl mid-batch", "processes", sigterm_batch_row("cl"), fault_s=0)
    add("SIGHUP every daemon mid-load", "processes", sighup_row(), fault_s=0)
    return out


# ---------------------------------------------------------------------------------------
# The run

class Ctx:
    def __init__(self, args):
        self.args = args
        self.d = None
        self.proxy = None
        self.load = None
        self.monitor = None
        self.world = None
        self.daemons = {}
        self.envs = {}
        self.stop_reconciler = threading.Event()
        self.reconcile_every = RECONCILE_EVERY
        self.reconcile_age = RECONCILE_AGE
        self.reconcile_runs = 0
        self.reconcile_failures = 0
        self.probes = 0

    def sleep(self, s):
        time.sleep(s)

    def setup(self):
        seed_count = self.args.seed_count
        self.d = harness.Deployment(seed_count=seed_count, extra_config=(
            "[worker]\nvisibility_timeout = %d\nmax_receive_count = %d\n"
            % (VISIBILITY, MAX_RECEIVES)))
        listeners = {}
        for who, services in TOPOLOGY.items():
            for svc in services:
                if svc.startswith("pg-"):
                    listeners["%s.%s" % (who, svc)] = "pg:%s:%s" % (os.environ["RDS_HOST"],
                                                                    os.environ["RDS_PORT"])
                else:
                    listeners["%s.%s" % (who, svc)] = "http:" + os.environ[SERVICES[svc]]
        self.proxy = proxyctl.Proxy(harness.SRC, listeners, self.d.dir, seed=self.args.seed)
        for who, services in TOPOLOGY.items():
            env = dict(self.d.env)
            for svc in services:
                if svc.startswith("pg-"):
                    cc = svc[3:].upper()
                    env["APPOINTMENTD_COUNTRY_%s_DB_HOST" % cc] = "127.0.0.1"
                    env["APPOINTMENTD_COUNTRY_%s_DB_PORT" % cc] = str(
                        self.proxy.ports["%s.%s" % (who, svc)])
                else:
                    env[SERVICES[svc]] = self.proxy.url("%s.%s" % (who, svc))
            self.envs[who] = env
        for name in ("api", "worker-pe", "worker-cl", "completion"):
            self.daemons[name] = self._start(name)
        self.world = invariants.World(self.d)
        self.monitor = invariants.Monitor(self.world)
        self.load = loadmod.Load(self.d.port, self.args.rate, COUNTRIES, 100,
                                 100 + seed_count - 1)
        threading.Thread(target=self._reconciler, daemon=True).start()

    def _start(self, name):
        if name == "api":
            return self.d.start("appointment-api", env=self.envs[name])
        if name == "completion":
            return self.d.start("appointment-completion", env=self.envs[name])
        return self.d.start("appointment-worker", "--country", name.split("-")[1],
                            env=self.envs[name])

    def restart(self, name):
        old = self.daemons[name]
        old.stop(timeout=60)
        if old in self.d.daemons:
            self.d.daemons.remove(old)
        self.daemons[name] = self._start(name)

    def kill9(self, name):
        d = self.daemons[name]
        d.proc.kill()
        d.proc.wait()
        time.sleep(0.5)
        self.restart(name)

    def _reconciler(self):
        """What appointment-reconcile.timer does, at a test's pace."""
        while not self.stop_reconciler.wait(self.reconcile_every):
            try:
                r = self.d.ctl("reconcile", "--older-than", str(self.reconcile_age),
                               check=False, env=self.envs["ctl"], timeout=120)
                self.reconcile_runs += 1
                if r.returncode != 0:
                    self.reconcile_failures += 1
            except Exception:
                self.reconcile_failures += 1

    def close(self):
        self.stop_reconciler.set()
        if self.load is not None:
            self.load.stop()
        if self.monitor is not None:
            self.monitor.stop()
        if self.d is not None:
            self.d.close()
        if self.proxy is not None:
            self.proxy.close()


class Check:
    """A row of the table that is not a fault: a phase's quiescence, the late replay, a data
    check over everything."""

    def __init__(self, name, seconds, problems):
        self.name = name
        self.seconds = seconds
        self.problems = problems
        self.result = None


def quiesce(ctx, keys):
    """Waits, load paused, until every client is done, every appointment of these keys is
    final and every queue and DLQ is empty. Returns (seconds, problems, items not final)."""
    t0 = time.monotonic()
    if not ctx.load.wait_idle(loadmod.KEY_DEADLINE + 10):
        say("    clients still busy after %d s" % (loadmod.KEY_DEADLINE + 10))
    say("    clients done after %.1f s" % (time.monotonic() - t0))
    insureds = {k.insured for k in keys}
    ctx.reconcile_every, ctx.reconcile_age = QUIET_RECONCILE_EVERY, QUIET_RECONCILE_AGE
    try:
        while True:
            items = ctx.monitor.poll() or {}
            open_items = [a for a in items.values() if a.get("insuredId") in insureds and
                          a.get("status") not in invariants.FINAL]
            busy = {q: n for q, n in ctx.world.depths().items() if n}
            if (not open_items and not busy) or time.monotonic() - t0 > QUIESCE_MAX:
                break
            time.sleep(1.0)
    finally:
        ctx.reconcile_every, ctx.reconcile_age = RECONCILE_EVERY, RECONCILE_AGE
    took = time.monotonic() - t0
    problems = []
    if busy:
        problems.append("queues not empty after %.0f s: %s" % (took, busy))
        for q in busy:  # reported; the next phase starts clean
            ctx.world.drain(q)
    for a in open_items[:5]:
        problems.append("%s %s stays %s" % (a.get("countryISO"), a.get("appointmentId"),
                                            a.get("status")))
    for name, d in list(ctx.daemons.items()):
        if not d.alive():
            problems.append("%s died (exit %s)" % (name, d.proc.returncode))
            ctx.restart(name)
    return took, problems, open_items


def run_rows(ctx, prow):
    for i, r in enumerate(prow):
        ctx.load.set_row(r.name)
        ctx.load.resume()
        if i == 0:  # warm: connections open, as in steady traffic
            ctx.sleep(WARMUP)
        r.t_start = time.monotonic()
        say("row: %s" % r.name)
        try:
            r.action(ctx, r)
        except Exception as e:
            r.errors.append("harness: %s: %s" % (type(e).__name__, e))
        r.t_end = time.monotonic()
        # the row's clients finish before the next fault, so each key's fate is its own
        # row's doing
        ctx.load.pause()
        if not ctx.load.wait_idle(ROW_DRAIN):
            say("    %d clients still retrying %.0f s after the fault" % (ctx.load.in_flight(),
                                                                         ROW_DRAIN))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", help="run the rows whose name matches this regular expression")
    ap.add_argument("--list", action="store_true", help="list the rows and exit")
    ap.add_argument("--all", action="store_true", help="run the HELD_BACK rows too")
    ap.add_argument("--rate", type=float, default=3.0, help="new keys per second (3)")
    ap.add_argument("--seed", type=int, default=10, help="seed of the proxy's fault rates")
    ap.add_argument("--seed-count", type=int, default=0,
                    help="schedules per country (default: enough for the rows run)")
    ap.add_argument("--counts", help="write {passed, failed, skipped} (JSON) here")
    ap.add_argument("--table", help="write the table (Markdown) here")
    ap.add_argument("--update-doc", action="store_true",
                    help="put the table into docs/reliability.md")
    ap.add_argument("--update-doc-from", metavar="FILE",
                    help="put a table written by an earlier run into docs/reliability.md, "
                         "and run nothing")
    args = ap.parse_args()
    if args.update_doc_from:
        with open(args.update_doc_from) as f:
            update_doc(f.read())
        return 0
    all_rows = rows()
    selected = [r for r in all_rows if not args.only or re.search(args.only, r.name)]
    held = [r for r in selected if r.name in HELD_BACK and not args.all]
    selected = [r for r in selected if r not in held]
    if args.list:
        for r in all_rows:
            print("%-12s %s%s" % (r.phase, r.name,
                                  "  (expected to fail)" if r.name in EXPECTED_FAILURES else
                                  "  (held back)" if r.name in HELD_BACK else ""))
        for name in sorted(set(EXPECTED_FAILURES) - {r.name for r in all_rows}):
            print("%-12s %s  (expected to fail)" % ("checks", name))
        return 0
    if not selected:
        print("no row matches %r" % args.only)
        return 2
    unknown = (set(EXPECTED_FAILURES) | set(HELD_BACK)) - ({r.name for r in all_rows} |
                                                           set(CHECK_NAMES) |
                                                           {PHASE_CHECK % r.phase for r in all_rows})
    if unknown:
        print("EXPECTED_FAILURES names rows that do not exist: %s" % sorted(unknown))
        return 2
    if not args.seed_count:
        # keys per country over the run, with room
        args.seed_count = int(args.rate * len(selected) * 16 / len(COUNTRIES)) + 200
    harness.require_stack()

    def on_term(*_):
        raise SystemExit(143)
    signal.signal(signal.SIGTERM, on_term)

    ctx = Ctx(args)
    phases = []
    for r in selected:
        if not phases or phases[-1][0] != r.phase:
            phases.append((r.phase, []))
        phases[-1][1].append(r)
    checks = []
    try:
        say("setting up: deployment, fault proxy, daemons (%d rows, %d phases)"
            % (len(selected), len(phases)))
        ctx.setup()
        say("stage %s, API on %d, proxy listeners from %d" % (
            ctx.d.stage, ctx.d.port, min(ctx.proxy.ports.values())))
        for phase, prow in phases:
            run_rows(ctx, prow)
            say("phase %s: quiescence..." % phase)
            took, problems, _ = quiesce(ctx, ctx.load.keys_of({r.name for r in prow}))
            checks.append(Check(PHASE_CHECK % phase, took, problems))
            say("phase %s: %s after %.1f s" % (phase, "; ".join(problems) or "quiescent", took))
        ctx.load.stop()
        say("late replay: every answered key asked again...")
        t0 = time.monotonic()
        ctx.load.replay_all(ctx.load.keys)
        took, problems, _ = quiesce(ctx, ctx.load.keys)
        checks.append(Check(CHECK_LATE, time.monotonic() - t0, problems))
        items = ctx.monitor.poll() or ctx.world.scan()
        res, stray, created = invariants.check(ctx.world, ctx.load.keys, items,
                                               dict(ctx.monitor.final_at),
                                               {r.name: r for r in selected}, COUNTRIES)
        stats = ctx.proxy.stats()
        extra = stray + ["proxy: %s" % e for e in stats.get("errors", [])]
        if ctx.load.exhausted:
            extra.append("the load ran out of seeded schedules")
        checks.append(Check(CHECK_PG, None, extra))
        checks.append(Check(CHECK_CREATED, None, created))
        report(ctx, selected, res, checks, held, args)
        return verdict(selected, checks, held, args)
    finally:
        if ctx.d is not None:
            keep_logs(ctx.d.dir, out_dir(args, ctx))
        ctx.close()


CHECK_LATE = "late replay of every answered key (claims past their 20 s takeover age)"
CHECK_PG = "PostgreSQL slots and rows that belong to no key; proxy errors"
CHECK_CREATED = "PostgreSQL created_at = the appointment's createdAt"
CHECK_NAMES = (CHECK_LATE, CHECK_PG, CHECK_CREATED)
PHASE_CHECK = "%s: queues, DLQs, daemons at quiescence"


def out_dir(args, ctx):
    if args.table:
        return os.path.dirname(os.path.abspath(args.table))
    return os.path.join(os.environ.get("APPT_RUN_DIR") or ctx.d.dir, "faults")


def keep_logs(src, dst):
    """The daemons' and the proxy's logs outlive the deployment (it deletes its directory)."""
    dst = os.path.join(dst, "logs")
    os.makedirs(dst, exist_ok=True)
    for name in os.listdir(src):
        if name.endswith(".log"):
            with open(os.path.join(src, name), "rb") as f, \
                    open(os.path.join(dst, name), "wb") as g:
                g.write(f.read())


def expectation(name, bad):
    if name in EXPECTED_FAILURES:
        return "expected fail" if bad else "UNEXPECTED PASS"
    return "FAIL" if bad else "pass"


def report(ctx, selected, res, checks, held, args):
    head = ("| scenario | fault s | keys | accepted | completed | failed | cancelled | duplicates "
            "| stuck | lost | unanswered | hits | quiescence s | result |")
    lines = [head, "|" + "---|" * 14]
    for r in selected:
        x = res[r.name]
        bad = x.violations() > 0 or bool(r.violations)
        if r.errors:
            r.result = "ERROR"
        elif r.hits == 0:
            r.result = "NO FAULT"
        else:
            r.result = expectation(r.name, bad)
        lines.append("| %s | %s | %d | %d | %d | %d | %d | %d | %d | %d | %d | %d | %s | %s |" % (
            r.name, ("%.0f" % r.fault_s) if r.fault_s else "-", x.keys, x.accepted,
            x.completed, x.failed, x.cancelled, x.duplicates, x.stuck, x.lost, x.unanswered, r.hits,
            "%.1f" % x.quiesce_s if x.quiesce_s is not None else "-", r.result))
    for c in checks:
        c.result = expectation(c.name, bool(c.problems))
        lines.append("| *%s* | | | | | | | | | | | | %s | %s |" % (
            c.name, "%.1f" % c.seconds if c.seconds is not None else "", c.result))
    for r in held:
        lines.append("| %s | | | | | | | | | | | | | held back |" % r.name)
    table = "\n".join(lines)
    print()
    print(table)
    print()
    for r in selected:
        for msg in r.errors + r.violations + res[r.name].notes:
            print("  %s: %s" % (r.name, msg))
    for r in held:
        print("  %s: held back: %s" % (r.name, HELD_BACK[r.name]))
    for c in checks:
        for msg in c.problems[:8]:
            print("  %s: %s" % (c.name, msg))
        if len(c.problems) > 8:
            print("  %s: ... %d in all" % (c.name, len(c.problems)))
    print("  load: %d keys, %d shed, reconciler %d runs (%d failed)" % (
        len(ctx.load.keys), ctx.load.shed, ctx.reconcile_runs, ctx.reconcile_failures))
    stamp = time.strftime("%Y-%m-%d", time.gmtime())
    doc = ("Last run: %s, %d keys at %.0f/s, %.0f s in all.\n\n%s\n" % (
        stamp, len(ctx.load.keys), args.rate, time.monotonic() - T0, table))
    path = args.table or os.path.join(out_dir(args, ctx), "fault-table.md")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(doc)
    with open(os.path.join(os.path.dirname(path), "fault-keys.json"), "w") as f:
        json.dump([{"key": k.key, "row": k.row, "insuredId": k.insured, "country": k.country,
                    "scheduleId": k.schedule, "twin": k.twin, "final": k.final,
                    "finalCode": k.final_code, "late": k.late, "answers": [
                        [round(t - T0, 2), st, aid, code] for t, st, aid, code in k.answers]}
                   for k in ctx.load.keys], f, indent=0)
    say("table written to %s" % path)
    if args.update_doc:
        update_doc(doc)


def verdict(selected, checks, held, args):
    results = [r.result for r in selected] + [c.result for c in checks]
    passed = sum(1 for x in results if x in ("pass", "expected fail"))
    failed = len(results) - passed
    if args.counts:
        with open(args.counts, "w") as f:
            json.dump({"passed": passed, "failed": failed, "skipped": len(held)}, f)
    say("fault suite: %d passed, %d failed, %d held back" % (passed, failed, len(held)))
    return 0 if failed == 0 else 1


def update_doc(doc):
    path = os.path.join(harness.SRC, "docs", "reliability.md")
    begin, end = "<!-- fault-table:begin -->", "<!-- fault-table:end -->"
    with open(path) as f:
        text = f.read()
    if begin not in text or end not in text:
        raise SystemExit("%s has no %s ... %s markers" % (path, begin, end))
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    with open(path, "w") as f:
        f.write(head + begin + "\n" + doc + end + tail)
    say("docs/reliability.md updated")


if __name__ == "__main__":
    sys.exit(main())
