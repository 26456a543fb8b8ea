#!/usr/bin/python3
"""docs/alerts.yml (suite unit): a valid Prometheus rule file whose every rule has alert, expr,
for, labels.severity and annotations.summary, names only metrics the daemons export (checked
against the names in lib/ and daemons/, plus the exporter gauges that arrive with
`appointmentctl info`), covers the alarms issue 7 and the observability review ask for, and
uses label values the code emits (AWS outcomes, API routes, the waitFor route label).
promtool is not used: Debian ships it only inside the ~100 MB prometheus package."""
import glob
import os
import re
import unittest

import yaml

SRC = os.path.abspath(os.environ.get("APPT_SOURCE_ROOT", "."))
RULES = os.path.join(SRC, "docs", "alerts.yml")
SEVERITIES = {"page", "ticket"}
PROMQL_WORDS = {"sum", "by", "rate", "increase", "histogram_quantile", "and", "or", "unless",
                "on", "ignoring", "le", "max", "min", "avg", "count", "without"}
# What issue 7 asks alerts for: a name fragment of the metric each must use.
REQUIRED = {
    "5xx rate": "appointmentd_http_requests_total",
    "handler duration": "appointmentd_handler_duration_seconds_bucket",
    "DLQ depth": "appointmentd_queue_depth",
    "old messages": "appointmentd_queue_oldest_message_age_seconds",
    "stuck pending": "appointmentd_appointments_by_status",
    # the observability review
    "database down": "appointmentd_database_up",
    "resource missing": "appointmentd_resource_up",
    "publish deferred": "appointmentd_publish_deferred_total",
    "poison messages": 'appointmentd_messages_failed_total{kind="poison"}',
    "error queue": 'appointmentd_queue_depth{queue="error"}',
    "bookings failing": 'appointmentd_worker_outcomes_total{outcome="failed"}',
    "restart loop": 'changes(process_start_time_seconds{job=~"appointment-.*"}',
}
# AWS call outcomes that are answers, not failures (api_dep_mark in
# daemons/appointment-api/api.c counts them as the service up).
AWS_ANSWERS = {"ok", "conflict", "notfound", "inval"}
# The API's operational routes: a 503 there is a state it reports, not a failed request.
OPS_ROUTES = {"/healthz", "/readyz", "/metrics"}
DURATION = re.compile(r"^[0-9]+(ms|s|m|h|d|w|y)$")


def code_metric_names():
    names = set()
    for path in glob.glob(os.path.join(SRC, "lib", "**", "*.c"), recursive=True) + \
            glob.glob(os.path.join(SRC, "daemons", "**", "*.c"), recursive=True):
        with open(path, encoding="utf-8", errors="replace") as f:
            names.update(re.findall(r'"((?:appointmentd|process)_[a-z_]+)"', f.read()))
    return names


def rc_names():
    """The outcome label values of appointmentd_aws_calls_total: rc_name's strings."""
    with open(os.path.join(SRC, "lib", "base", "rc.c"), encoding="utf-8") as f:
        body = f.read().split("const char *rc_name(", 1)[1].split("\n}\n", 1)[0]
    return set(re.findall(r'return "([a-z]+)";', body)) - {"unknown"}


def api_routes():
    with open(os.path.join(SRC, "daemons", "appointment-api", "handlers.c"), encoding="utf-8") as f:
        return set(re.findall(r'\{"[A-Z]+", "(/[^"]*)"', f.read()))


def rule(rules, name):
    return next(str(r["expr"]) for r in rules if r["alert"] == name)


def metric_names(expr):
    """Identifiers in a PromQL expression that name series (not functions, labels, keywords)."""
    expr = re.sub(r'"[^"]*"', '""', expr)               # label values
    expr = re.sub(r"\{[^}]*\}", "{}", expr)            # label matchers
    expr = re.sub(r"\[[^\]]*\]", "[]", expr)           # ranges
    expr = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", "", expr)  # grouping labels
    out = set()
    for m in re.finditer(r"\b([a-zA-Z_:][a-zA-Z0-9_:]*)\b\s*(\(?)", expr):
        word, call = m.group(1), m.group(2)
        if call or word in PROMQL_WORDS:
            continue
        out.add(word)
    return out


class AlertRulesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        with open(RULES, encoding="utf-8") as f:
            cls.doc = yaml.safe_load(f)
        cls.rules = [r for g in cls.doc["groups"] for r in g["rules"]]

    def test_shape(self):
        self.assertEqual(set(self.doc), {"groups"})
        names = set()
        for g in self.doc["groups"]:
            self.assertTrue(g["name"] and g["rules"], g)
        for r in self.rules:
            with self.subTest(alert=r.get("alert")):
                self.assertEqual(set(r) - {"alert", "expr", "for", "labels", "annotations"}, set())
                self.assertRegex(r["alert"], r"^[A-Z][A-Za-z0-9]+$")
                self.assertNotIn(r["alert"], names)
                names.add(r["alert"])
                self.assertTrue(str(r["expr"]).strip())
                self.assertRegex(str(r["for"]), DURATION)
                self.assertIn(r["labels"]["severity"], SEVERITIES)
                self.assertTrue(r["annotations"]["summary"].strip())
                self.assertTrue(r["annotations"].get("description", "").strip())

    def test_metrics_exist(self):
        known = code_metric_names()
        self.assertIn("appointmentd_http_requests_total", known, "metric scan found nothing")
        for r in self.rules:
            for name in metric_names(r["expr"]):
                base = re.sub(r"_(bucket|sum|count)$", "", name)
                with self.subTest(alert=r["alert"], metric=name):
                    self.assertTrue(name == "up" or base in known,
                                    "%s: no daemon exports %s" % (r["alert"], name))

    def test_required_alarms(self):
        exprs = "\n".join(str(r["expr"]) for r in self.rules)
        for what, metric in REQUIRED.items():
            self.assertIn(metric, exprs, "no alert for %s" % what)
        self.assertTrue(any('queue=~".+-dlq"' in str(r["expr"]) and "> 0" in str(r["expr"])
                            for r in self.rules), "DLQ depth > 0")

    def test_aws_failures_are_failed_calls(self):
        """conflict and notfound are normal answers (replays, duplicate deliveries, cancel
        races): the alert counts the outcomes of calls that failed, each one the code emits."""
        expr = rule(self.rules, "AppointmentAwsCallsFailing")
        self.assertNotIn('outcome!="ok"', expr)
        m = re.search(r'appointmentd_aws_calls_total\{outcome=~"([a-z|]+)"\}', expr)
        self.assertIsNotNone(m, expr)
        failed = set(m.group(1).split("|"))
        self.assertEqual(failed, rc_names() - AWS_ANSWERS)

    def test_5xx_counts_only_the_api_routes(self):
        """Not the consumers' /healthz 503s, nor the API's /readyz 503s of a lame duck."""
        expr = rule(self.rules, "AppointmentApiHigh5xxRate")
        routes = api_routes()
        self.assertLessEqual(OPS_ROUTES, routes, "the API's operational routes moved")
        selectors = re.findall(r"appointmentd_http_requests_total\{([^}]*)\}", expr)
        self.assertEqual(len(selectors), 2, expr)
        for sel in selectors:
            self.assertIn('job="appointment-api"', sel)
            m = re.search(r'route!~"([^"]*)"', sel)
            self.assertIsNotNone(m, sel)
            self.assertEqual(set(m.group(1).split("|")), OPS_ROUTES)

    def test_latency_leaves_out_the_long_polls(self):
        """A waitFor request is held up to 20 s on purpose and recorded under its route with
        the park's suffix (daemons/appointment-api/appointment_get.c, wait_park_ops): the p99
        alert must leave those series out and keep every plain /appointments route."""
        with open(os.path.join(SRC, "daemons", "appointment-api", "appointment_get.c"),
                  encoding="utf-8") as f:
            m = re.search(r'wait_park_ops = \{[^}]*"([^"]+)"\}', f.read())
        self.assertIsNotNone(m, "wait_park_ops has no route_suffix")
        suffix = m.group(1)
        expr = rule(self.rules, "AppointmentApiSlowRequests")
        sel = re.search(r"appointmentd_http_request_duration_seconds_bucket\{([^}]*)\}", expr)
        self.assertIsNotNone(sel, expr)
        keep = re.search(r'route=~"([^"]*)"', sel.group(1))
        drop = re.search(r'route!~"([^"]*)"', sel.group(1))
        self.assertIsNotNone(keep, sel.group(1))
        self.assertIsNotNone(drop, "the long polls are not left out: " + sel.group(1))
        plain = {r for r in api_routes() if r.startswith("/appointments")}
        self.assertIn("/appointments/{insuredId}/{appointmentId}", plain)
        for route in plain:  # PromQL regexes are anchored at both ends
            with self.subTest(route=route):
                self.assertTrue(re.fullmatch(keep.group(1), route))
                self.assertFalse(re.fullmatch(drop.group(1), route))
                self.assertTrue(re.fullmatch(drop.group(1), route + suffix))

    def test_stuck_pending_without_any_success_series(self):
        """The sum over no series (no worker ever succeeded since its start) is empty: the
        rule must compare a 0 then, not nothing."""
        expr = rule(self.rules, "AppointmentsStuckPending")
        self.assertRegex(expr, r"\(sum\(increase\(appointmentd_messages_succeeded_total[^\n]*\)\)"
                               r" or vector\(0\)\) == 0")
        self.assertRegex(expr, r"> 0\s+and\s+\(")


if __name__ == "__main__":
    unittest.main(verbosity=2)
