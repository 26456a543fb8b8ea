#!/usr/bin/python3
"""AWS and PostgreSQL calls per appointment, counted on the wire (issue 14, docs/scaling.md).

Every daemon of one country (API, PE worker, completion) reaches DynamoDB, SNS, SQS,
EventBridge and PostgreSQL through tests/support/faultproxy with no fault set, which counts
each operation per daemon. N appointments are POSTed (with an Idempotency-Key, as SPEC tells
clients) and followed until `completed`; then one GET per appointment. Printed: calls per
appointment by daemon, service and operation, the idle long-poll rate, and the stored
sizes of the items one appointment writes (for WCU/RCU).

    eval "$(bash scripts/stack.sh env)"
    APPT_BUILD_ROOT=build-rel APPT_SOURCE_ROOT=. python3 tests/bench/calls.py [--n 100]
"""
import argparse
import concurrent.futures
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
sys.path.insert(0, os.path.join(HERE, "..", "faults"))
import harness  # noqa: E402
import proxyctl  # noqa: E402

SERVICES = {"dynamodb": "AWS_ENDPOINT_URL_DYNAMODB", "sns": "AWS_ENDPOINT_URL_SNS",
            "sqs": "AWS_ENDPOINT_URL_SQS", "events": "AWS_ENDPOINT_URL_EVENTBRIDGE"}
TOPOLOGY = {"api": ("dynamodb", "sns", "pg"), "worker": ("dynamodb", "sqs", "events", "pg"),
            "completion": ("dynamodb", "sqs", "events")}


def item_size(item):
    """DynamoDB's item size: attribute name bytes plus value bytes (strings as UTF-8,
    numbers about 1 byte per 2 digits + 1, maps/lists 3 bytes + their members)."""
    def value(v):
        (t, x), = v.items()
        if t == "S":
            return len(x.encode())
        if t == "N":
            return (len(x.lstrip("-").replace(".", "")) + 1) // 2 + 1
        if t == "BOOL" or t == "NULL":
            return 1
        if t == "M":
            return 3 + sum(len(k.encode()) + value(w) for k, w in x.items())
        if t == "L":
            return 3 + sum(1 + value(w) for w in x)
        return len(json.dumps(x))
    return sum(len(k.encode()) + value(v) for k, v in item.items())


CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_ms(proc):
    with open("/proc/%d/stat" % proc.pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000.0 / CLK_TCK


def rss_mb(proc):
    with open("/proc/%d/status" % proc.pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return 0.0


def counts(proxy):
    out = {}
    for name, ops in proxy.stats()["listeners"].items():
        for op, st in ops.items():
            out[(name, op)] = st.get("seen", 0)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--idle", type=float, default=25.0, help="seconds of idle long polls")
    args = ap.parse_args()
    if not 1 <= args.n <= 2000:
        sys.exit("calls.py: --n must be 1..2000")
    d = harness.Deployment(seed_count=args.n + 10, countries=("PE",))
    proxy = None
    try:
        listeners = {}
        for who, services in TOPOLOGY.items():
            for svc in services:
                listeners["%s.%s" % (who, svc)] = (
                    "pg:%s:%s" % (os.environ["RDS_HOST"], os.environ["RDS_PORT"]) if svc == "pg"
                    else "http:" + os.environ[SERVICES[svc]])
        proxy = proxyctl.Proxy(harness.SRC, listeners, d.dir)
        for who, services in TOPOLOGY.items():
            env = dict(d.env)
            for svc in services:
                if svc == "pg":
                    env["APPOINTMENTD_COUNTRY_PE_DB_HOST"] = "127.0.0.1"
                    env["APPOINTMENTD_COUNTRY_PE_DB_PORT"] = str(proxy.ports[who + ".pg"])
                else:
                    env[SERVICES[svc]] = proxy.url("%s.%s" % (who, svc))
            if who == "api":
                d.start("appointment-api", env=env)
            elif who == "worker":
                d.start("appointment-worker", "--country", "pe", env=env)
            else:
                d.start("appointment-completion", env=env)
        time.sleep(1.0)
        # idle: only long polls
        c0 = counts(proxy)
        time.sleep(args.idle)
        c1 = counts(proxy)
        idle = {k: (c1.get(k, 0) - c0.get(k, 0)) / args.idle for k in c1
                if c1.get(k, 0) != c0.get(k, 0)}
        t0 = time.monotonic()
        cpu0 = {x.name: cpu_ms(x.proc) for x in d.daemons}

        def post(i):
            st, _, doc, _ = d.post("%05d" % (40000 + i), 100 + i, "PE",
                                   headers={"Idempotency-Key": "calls-%d-%s" % (i, d.stage)})
            if st != 201:
                raise RuntimeError("POST %d: %d %r" % (i, st, doc))
            return doc["appointmentId"]
        with concurrent.futures.ThreadPoolExecutor(4) as ex:
            ids = list(ex.map(post, range(args.n)))
        # followed straight in DynamoDB (not through the API: that would count Queries)
        ddb = harness.aws_client("dynamodb")
        table = "medical-appointment-scheduling-appointments-%s" % d.stage
        deadline = time.monotonic() + 180
        while True:
            done = ddb.query(TableName=table, IndexName="status-createdAt-index",
                             KeyConditionExpression="#s = :c", Select="COUNT",
                             ExpressionAttributeNames={"#s": "status"},
                             ExpressionAttributeValues={":c": {"S": "completed"}})["Count"]
            if done >= len(ids):
                break
            if time.monotonic() > deadline:
                raise RuntimeError("%d of %d completed after 180 s" % (done, len(ids)))
            time.sleep(0.2)
        secs = time.monotonic() - t0
        c2 = counts(proxy)
        cpu1 = {x.name: cpu_ms(x.proc) for x in d.daemons}
        for i in range(args.n):
            st, _, _, _ = d.list("%05d" % (40000 + i))
            if st != 200:
                raise RuntimeError("GET %d: %d" % (i, st))
        c3 = counts(proxy)
        cpu2 = {x.name: cpu_ms(x.proc) for x in d.daemons}
        rss = {x.name: rss_mb(x.proc) for x in d.daemons}
        sizes = {}
        for table in ("appointments", "idempotency", "quota"):
            name = "medical-appointment-scheduling-%s-%s" % (table, d.stage)
            try:
                items = ddb.scan(TableName=name, Limit=20)["Items"]
            except Exception:  # noqa: BLE001 - a table this stage does not have
                continue
            if items:
                sizes[table] = max(item_size(it) for it in items)
        print("appointments: %d, POST to completed in %.1f s" % (args.n, secs))
        print()
        print("| daemon.service | operation | per appointment (POST to completed) | per GET |")
        print("|---|---|---|---|")
        keys = sorted(set(c2) | set(c3))
        for k in keys:
            during = c2.get(k, 0) - c1.get(k, 0) - idle.get(k, 0) * secs
            per_get = (c3.get(k, 0) - c2.get(k, 0)) / args.n
            if abs(during) < 0.5 and per_get == 0:
                continue
            print("| %s | %s | %.2f | %.2f |" % (k[0], k[1], max(0.0, during) / args.n, per_get))
        print()
        print("idle (no traffic), calls per second:")
        for k, v in sorted(idle.items()):
            print("  %s %s: %.3f/s" % (k[0], k[1], v))
        print()
        print("CPU ms per appointment (POST to completed; includes idle polling), per GET, "
              "peak RSS MB:")
        for name in sorted(cpu0):
            print("  %s: %.2f ms, %.2f ms per GET, %.1f MB" % (
                name, (cpu1[name] - cpu0[name]) / args.n, (cpu2[name] - cpu1[name]) / args.n,
                rss[name]))
        print()
        print("largest stored item (bytes, DynamoDB's size rule):", json.dumps(sizes))
    finally:
        d.close()
        if proxy is not None:
            proxy.close()


if __name__ == "__main__":
    main()
