"""tests/bench/latency.py — two rows of scripts/bench (issue 13), run by bench.py:

- end to end under steady load ÷ the sum of the backend hops: POSTs at a steady rate well
  below what the pipeline sustains, each appointment timed from its POST's send to its
  completedAt (written by the completion daemon on the machine's clock, the one this
  process reads); the hops are the calls the pipeline makes for one appointment, timed one
  by one by tests/bench/bench_hops.c on the same deployment just before (medians);
- GET /appointments/{insuredId}/{appointmentId} req/s (200, and 304 through If-None-Match)
  ÷ one bare consistent GetItem loop (bench_floor getone).

Figures only: nothing here asserts a time (docs/performance.md has the definitions)."""
import calendar
import concurrent.futures
import http.client
import json
import os
import subprocess
import threading
import time

import harness

# the hops between a POST's send and the completedAt stamp, in their order (bench_hops.c);
# the completion's own write comes after the stamp, the deletes are off the critical path
PATH_HOPS = ("check", "create", "publish", "sns_sqs", "read", "book", "processed",
             "put_events", "evb_sqs")
MOTO_HOPS = ("put_events", "evb_sqs")  # served by moto on the split stack


def iso_s(text):
    """'2026-12-04T11:20:33.123Z' -> epoch seconds (float)."""
    base, ms = text.rstrip("Z").split(".")
    return calendar.timegm(time.strptime(base, "%Y-%m-%dT%H:%M:%S")) + int(ms) / 1000.0


def median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2] if xs else float("nan")


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p))] if xs else float("nan")


def hops(d, env, rounds, first_schedule, topic, queue_url, completion_url, completion_sqs):
    """bench_hops on d's tables and queues (no daemon may consume them meanwhile)."""
    exe = os.path.join(harness.BUILD, "tests", "bench", "bench_hops")
    henv = dict(env, BENCH_TABLE="medical-appointment-scheduling-appointments-" + d.stage,
                BENCH_COUNTERS="medical-appointment-scheduling-counters-" + d.stage,
                BENCH_TOPIC_ARN=topic, BENCH_QUEUE_URL=queue_url,
                BENCH_BUS="medical-appointment-scheduling-" + d.stage,
                BENCH_COMPLETION_URL=completion_url, BENCH_COMPLETION_SQS=completion_sqs,
                BENCH_DB="e2e_%s_pe" % d.stage, BENCH_SCHEDULE=str(first_schedule))
    r = subprocess.run([exe, str(rounds)], env=henv, capture_output=True, text=True,
                       timeout=60 + rounds * 25)
    if r.returncode != 0:
        raise RuntimeError("bench_hops failed: %s" % r.stderr[-2000:])
    out = json.loads(r.stdout.strip().splitlines()[-1])
    p = out["p50_ms"]
    out["path_ms"] = sum(p[h] for h in PATH_HOPS)
    out["moto_ms"] = sum(p[h] for h in MOTO_HOPS)
    return out


def steady(port, rate, seconds, first_schedule, log):
    """POSTs rate/s for seconds (distinct insuredIds and free PE slots), each followed by a
    GET ?waitFor=completed&timeout=20 of its item. Returns the medians (ms) of: send ->
    completedAt (end to end), send -> createdAt, createdAt -> processedAt, processedAt ->
    completedAt, the POST's answer, and send -> the waiting GET's answer (what a client
    sees: the API reads a waiter's item every 200 ms)."""
    n = int(rate * seconds)
    local = threading.local()

    def conn():
        if not hasattr(local, "c"):
            local.c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        return local.c

    def one(i):
        insured = "%05d" % (40000 + i)
        body = json.dumps({"insuredId": insured, "scheduleId": first_schedule + i,
                           "countryISO": "PE"})
        c = conn()
        sent = time.time()
        c.request("POST", "/appointments", body=body,
                  headers={"Content-Type": "application/json"})
        r = c.getresponse()
        doc = json.loads(r.read() or b"{}")
        posted = time.time()
        if r.status != 201:
            return None
        c.request("GET", "/appointments/%s/%s?waitFor=completed&timeout=20"
                  % (insured, doc["appointmentId"]))
        r = c.getresponse()
        item = json.loads(r.read() or b"{}")
        seen = time.time()
        if r.status != 200 or item.get("status") != "completed":
            return None
        created, processed = iso_s(item["createdAt"]), iso_s(item["processedAt"])
        completed = iso_s(item["completedAt"])
        return {"e2e": completed - sent, "api": created - sent,
                "worker": processed - created, "completion": completed - processed,
                "post": posted - sent, "client": seen - sent}

    t0 = time.monotonic()
    futs = []
    with concurrent.futures.ThreadPoolExecutor(64) as pool:
        for i in range(n):
            delay = t0 + i / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            futs.append(pool.submit(one, i))
        got = [f.result() for f in futs]
    ok = [g for g in got if g is not None]
    res = {"rate": rate, "seconds": seconds, "n": n, "ok": len(ok)}
    for k in ("e2e", "api", "worker", "completion", "post", "client"):
        res[k + "_ms"] = median([g[k] * 1000 for g in ok])
    res["e2e_p90_ms"] = pct([g["e2e"] * 1000 for g in ok], 0.9)
    log("steady %g/s for %g s: %d of %d completed; end to end p50 %.1f ms (p90 %.1f): "
        "send->createdAt %.1f, ->processedAt %.1f, ->completedAt %.1f; POST %.1f; client "
        "(GET waitFor) %.1f ms" % (rate, seconds, len(ok), n, res["e2e_ms"], res["e2e_p90_ms"],
                                   res["api_ms"], res["worker_ms"], res["completion_ms"],
                                   res["post_ms"], res["client_ms"]))
    return res


def e2e_row(row, e, h):
    """The end-to-end row, and its breakdown as a figure row."""
    p = h["p50_ms"]
    ratio = e["e2e_ms"] / h["path_ms"]
    row("end-to-end p50 under steady load (%g POST/s for %g s, send → completedAt) ÷ sum of "
        "the backend hops' p50 (%d rounds one by one; of which moto's PutEvents and "
        "EventBridge → SQS %.1f ms)" % (e["rate"], e["seconds"], h["ok"], h["moto_ms"]),
        "%.1f ms (p90 %.1f; %d of %d)" % (e["e2e_ms"], e["e2e_p90_ms"], e["ok"], e["n"]),
        "%.1f ms" % h["path_ms"], "%.2f" % ratio, "≤ 1.5", ratio <= 1.5)
    row("end to end split at the items' stamps (p50 ms): send → createdAt / → processedAt / → "
        "completedAt; against the hops in each: none / check + create + publish + SNS→SQS + "
        "read + book / processed + PutEvents + EventBridge→SQS",
        "%.1f / %.1f / %.1f" % (e["api_ms"], e["worker_ms"], e["completion_ms"]),
        "— / %.1f / %.1f" % (sum(p[k] for k in PATH_HOPS[:6]),
                              sum(p[k] for k in PATH_HOPS[6:])),
        "", "(not a goal: where the time goes)", True)
    row("client's view: POST, then GET ?waitFor=completed answered (p50 ms; the API reads a "
        "waiter's item 200 ms after it parks, then every 200 ms, on a 100 ms poller period)", "%.1f" % e["client_ms"], "", "", "(a figure)", True)


def getone_row(row, res, conns):
    g, f, nm = res["getone"], res["floor_getone"], res["getone_304"]
    ratios = [g[k] / f[k] for k in conns]
    row("GET /appointments/{insuredId}/{appointmentId} req/s ÷ one bare consistent GetItem, "
        "c = 1 / 8 / 32; with If-None-Match (304)",
        " / ".join("%.0f" % g[k] for k in conns) + "; 304: " +
        " / ".join("%.0f" % nm[k] for k in conns),
        " / ".join("%.0f" % f[k] for k in conns), " / ".join("%.2f" % r for r in ratios),
        "(a figure, not a goal)", True)
