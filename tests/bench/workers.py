#!/usr/bin/python3
"""Per-country booking throughput with 1, 2 and 4 workers (issue 14, docs/scaling.md).

For each run: a fresh deployment on the local stack (scripts/stack.sh env), the API and
the completion daemon up, no worker. N appointments of country PE are POSTed (so they wait
in the PE queue), then k workers start and the clock runs until the country's PostgreSQL
holds a decision for all N (a booked row, or the item `failed`). Reported: bookings/s, the
workers' CPU ms per message (utime + stime from /proc), their peak RSS (VmHWM), and the
same with every appointment on one of a few "hot" slots (the slot row lock is the
contention point: all but one per slot fail).

Loopback only, bounded: N (default 300) per run, 240 s at most per run.

    eval "$(bash scripts/stack.sh env)"
    APPT_BUILD_ROOT=build-test APPT_SOURCE_ROOT=. python3 tests/bench/workers.py [--n 300]
        [--workers 1,2,4] [--max-in-flight 10] [--hot-slots 5]

With --pg 1,2,4,10,20,40 it measures PostgreSQL alone instead (tests/bench/bench_pg.c: the
worker's booking transaction in a loop on that many connections, distinct slots and 5 hot
ones), which is the per-country limit the emulators hide in the rows above.
"""
import argparse
import concurrent.futures
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
import harness  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_ms(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000.0 / CLK_TCK


def peak_rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def decided(d, n):
    """Appointments of the run PostgreSQL decided: booked rows + failed items."""
    booked = int(d.db_rows("PE"))
    failed = 0
    if booked < n:
        ddb = harness.aws_client("dynamodb")
        r = ddb.query(TableName="medical-appointment-scheduling-appointments-%s" % d.stage,
                      IndexName="status-createdAt-index",
                      KeyConditionExpression="#s = :f",
                      ExpressionAttributeNames={"#s": "status"},
                      ExpressionAttributeValues={":f": {"S": "failed"}}, Select="COUNT")
        failed = r["Count"]
    return booked + failed


def run(n, k, max_in_flight, hot):
    d = harness.Deployment(seed_count=max(n, 10) + 10,
                           extra_config="[worker]\nmax_in_flight = %d\n" % max_in_flight)
    try:
        d.start("appointment-api")
        d.start("appointment-completion")

        def post(i):
            slot = 100 + (i % hot if hot else i)
            st, _, doc, _ = d.post("%05d" % (50000 + i), slot, "PE")
            if st != 201:
                raise RuntimeError("POST %d: %d %r" % (i, st, doc))
        with concurrent.futures.ThreadPoolExecutor(8) as ex:
            list(ex.map(post, range(n)))
        t0 = time.monotonic()
        workers = [d.start("appointment-worker", "--country", "pe") for _ in range(k)]
        cpu0 = {w.proc.pid: cpu_ms(w.proc.pid) for w in workers}
        deadline = t0 + 240
        while decided(d, n) < n:
            if time.monotonic() > deadline:
                raise RuntimeError("%d workers: only %d of %d decided after 240 s"
                                   % (k, decided(d, n), n))
            time.sleep(0.2)
        secs = time.monotonic() - t0
        cpu = sum(cpu_ms(w.proc.pid) - cpu0[w.proc.pid] for w in workers)
        rss = max(peak_rss_kb(w.proc.pid) for w in workers)
        return {"workers": k, "n": n, "hot_slots": hot, "max_in_flight": max_in_flight,
                "seconds": round(secs, 2), "bookings_per_s": round(n / secs, 1),
                "worker_cpu_ms_per_msg": round(cpu / n, 2), "worker_peak_rss_mb":
                round(rss / 1024.0, 1)}
    finally:
        d.close()


def pg_alone(connections, per_run, seconds):
    """tests/bench/bench_pg: the country's PostgreSQL alone (no emulator, no daemon), for
    each number of connections: per_run distinct slots booked (a range of their own), then
    5 hot slots booked for `seconds` (all but five attempts refused). Rows of dicts."""
    exe = os.path.join(harness.BUILD, "tests", "bench", "bench_pg")
    warm, stride = 1000, per_run + 5
    d = harness.Deployment(seed_count=warm + stride * len(connections) + 10, countries=("PE",))
    rows = []

    def bench(mode, c, first, secs):
        e = dict(env, BENCH_FIRST_SLOT=str(first))
        out = subprocess.run([exe, mode, str(c), str(secs)], env=e, capture_output=True,
                             text=True, timeout=secs + 60)
        if out.returncode != 0:
            raise RuntimeError("bench_pg %s %d: %s" % (mode, c, out.stderr.strip()))
        return json.loads(out.stdout)

    try:
        env = dict(d.env, BENCH_DB="e2e_%s_pe" % d.stage, BENCH_SLOTS=str(per_run),
                   BENCH_HOT_SLOTS="5")
        env["BENCH_SLOTS"] = str(warm)
        bench("distinct", 4, 100, seconds * 10)
        env["BENCH_SLOTS"] = str(per_run)  # warm-up: caches, plans (not reported)
        for i, c in enumerate(connections):
            first = 100 + warm + i * stride
            dist = bench("distinct", c, first, seconds * 10)
            hot = bench("hot", c, first + per_run, seconds)
            rows.append({"connections": c, "distinct_per_s": dist["rps"],
                         "distinct_booked": dist["booked"], "hot_per_s": hot["rps"],
                         "hot_booked": hot["booked"], "errors": dist["errors"] + hot["errors"]})
            print(json.dumps(rows[-1]), flush=True)
    finally:
        d.close()
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--workers", default="1,2,4")
    ap.add_argument("--max-in-flight", type=int, default=10)
    ap.add_argument("--hot-slots", type=int, default=5)
    ap.add_argument("--json", help="write the rows here too")
    ap.add_argument("--pg", default="",
                    help="instead: PostgreSQL alone (bench_pg) with these connection counts, "
                         "e.g. 1,2,4,10,20,40")
    ap.add_argument("--pg-slots", type=int, default=3000,
                    help="distinct slots booked per connection count (--pg)")
    args = ap.parse_args()
    if args.pg:
        rows = pg_alone([int(x) for x in args.pg.split(",")], args.pg_slots, 3)
        print()
        print("| connections | distinct slots: bookings/s | one of 5 hot slots: attempts/s |")
        print("|---|---|---|")
        for r in rows:
            print("| %d | %.0f (%d booked) | %.0f (%d booked, the rest refused) |" % (
                r["connections"], r["distinct_per_s"], r["distinct_booked"], r["hot_per_s"],
                r["hot_booked"]))
        if args.json:
            with open(args.json, "w") as f:
                json.dump(rows, f, indent=1)
        return
    if not 1 <= args.n <= 5000:
        sys.exit("workers.py: --n must be 1..5000")
    rows = []
    for k in [int(x) for x in args.workers.split(",")]:
        rows.append(run(args.n, k, args.max_in_flight, 0))
        print(json.dumps(rows[-1]), flush=True)
    for k in [int(x) for x in args.workers.split(",")]:
        rows.append(run(args.n, k, args.max_in_flight, args.hot_slots))
        print(json.dumps(rows[-1]), flush=True)
    print()
    print("| workers | slots | max_in_flight | bookings/s | s | worker CPU ms/msg | worker peak RSS MB |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print("| %d | %s | %d | %.1f | %.1f | %.2f | %.1f |" % (
            r["workers"], "%d hot" % r["hot_slots"] if r["hot_slots"] else "distinct",
            r["max_in_flight"], r["bookings_per_s"], r["seconds"],
            r["worker_cpu_ms_per_msg"], r["worker_peak_rss_mb"]))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
