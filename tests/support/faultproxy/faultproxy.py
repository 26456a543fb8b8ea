#!/usr/bin/python3
"""Loopback fault-injecting HTTP proxy for testing the AWS core's retries and its handling
of malformed answers against a real emulator.

Usage: faultproxy.py --upstream http://127.0.0.1:15000 [--port 0]

Listens on 127.0.0.1 (port 0 = any free one), prints "PORT <n>" on stdout once ready, and
forwards every request to the upstream, except that the next requests can be given faults
one by one. Control, on the proxy itself (our client only ever POSTs to "/"):

  POST /__faultproxy/plan    body "throttle,503,ok": faults for the next requests, in order
  POST /__faultproxy/rules   body [{"op": "PutItem", "contains": "-appointments-",
                             "fault": "dropreply", "count": 1}, ...]: per-operation faults
                             (op: the X-Amz-Target operation or the Query protocol's Action;
                             contains: optional text the request body must hold; count: how
                             many matching requests get the fault, -1 = all). A matching rule
                             wins over the plan; an empty list clears the rules.
  GET  /__faultproxy/stats   {"seen": n, "faulted": n, "forwarded": n, "plan": [...],
                              "rules": [...]}

Faults (anything else, or "ok": forward normally):
  throttle   400 {"__type": "...#ThrottlingException"}            (not forwarded)
  503        503 {"__type": "ServiceUnavailable"}                  (not forwarded)
  500        500 with an empty body                                (not forwarded)
  html502    502 with an nginx-style HTML page                     (not forwarded)
  html200    200 with an HTML page                                 (not forwarded)
  close      close the connection without an answer                (not forwarded)
  truncjson  forward; answer 200 with the first half of the JSON body (a complete HTTP
             answer whose JSON is cut)
  cutbody    forward; declare the full length, send half the body, close
  dropreply  forward (the upstream acts); then close without answering
  slow:<ms>  wait, then forward

Stdlib only; loopback only; stops on SIGTERM or when stdin closes.
"""
import argparse
import http.client
import json
import os
import signal
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HTML = (b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
        b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
        b"</body>\r\n</html>\r\n")
MAX_BODY = 16 * 1024 * 1024


class State:
    def __init__(self, upstream):
        self.lock = threading.Lock()
        self.plan = []
        self.rules = []
        self.seen = 0
        self.faulted = 0
        self.forwarded = 0
        self.upstream = upstream

    def next_fault(self, op, body):
        with self.lock:
            self.seen += 1
            fault = None
            for rule in self.rules:
                if rule["count"] == 0 or rule["op"] != op:
                    continue
                if rule.get("contains") and rule["contains"].encode() not in body:
                    continue
                if rule["count"] > 0:
                    rule["count"] -= 1
                fault = rule["fault"]
                break
            if fault is None:
                fault = self.plan.pop(0) if self.plan else "ok"
            if fault != "ok":
                self.faulted += 1
            return fault


def operation(headers, body):
    """The AWS operation of a request: X-Amz-Target's last part, or the form's Action."""
    target = headers.get("X-Amz-Target") or ""
    if target:
        return target.rsplit(".", 1)[-1]
    for pair in body.split(b"&"):
        if pair.startswith(b"Action="):
            return pair[len(b"Action="):].decode(errors="replace")
    return ""


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "faultproxy"

    def log_message(self, fmt, *args):  # quiet
        pass

    def raw(self, data):
        self.wfile.write(data)
        self.wfile.flush()
        self.close_connection = True

    def answer(self, status, body, ctype="application/x-amz-json-1.0"):
        head = ("HTTP/1.1 %d X\r\nContent-Type: %s\r\nContent-Length: %d\r\n"
                "x-amzn-RequestId: faultproxy\r\nConnection: close\r\n\r\n"
                % (status, ctype, len(body))).encode()
        self.raw(head + body)

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n > MAX_BODY:
            raise ValueError("body too large")
        return self.rfile.read(n) if n else b""

    def control(self, body):
        st = self.server.state
        if self.path == "/__faultproxy/plan":
            with st.lock:
                st.plan = [f.strip() for f in body.decode().split(",") if f.strip()]
            self.answer(200, b"{}", "application/json")
        elif self.path == "/__faultproxy/rules":
            try:
                rules = json.loads(body or b"[]")
                for r in rules:
                    r["count"] = int(r.get("count", -1))
                    if not isinstance(r["op"], str) or not isinstance(r["fault"], str):
                        raise ValueError("op and fault are strings")
            except (ValueError, KeyError, TypeError) as e:
                self.answer(400, json.dumps({"error": str(e)}).encode(), "application/json")
                return
            with st.lock:
                st.rules = rules
            self.answer(200, b"{}", "application/json")
        elif self.path == "/__faultproxy/stats":
            with st.lock:
                doc = {"seen": st.seen, "faulted": st.faulted,
                       "forwarded": st.forwarded, "plan": st.plan, "rules": st.rules}
            self.answer(200, json.dumps(doc).encode(), "application/json")
        else:
            self.answer(404, b"{}", "application/json")

    def forward(self, body):
        st = self.server.state
        u = urllib.parse.urlsplit(st.upstream)
        conn = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=60)
        headers = {k: v for k, v in self.headers.items()
                   if k.lower() not in ("connection", "content-length", "expect")}
        conn.request(self.command, self.path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        hdrs = [(k, v) for k, v in resp.getheaders()
                if k.lower() not in ("connection", "content-length", "transfer-encoding")]
        conn.close()
        with st.lock:
            st.forwarded += 1
        return resp.status, hdrs, data

    def send_upstream_answer(self, status, hdrs, data, declared=None, cut=None):
        head = "HTTP/1.1 %d X\r\n" % status
        for k, v in hdrs:
            head += "%s: %s\r\n" % (k, v)
        head += "Content-Length: %d\r\nConnection: close\r\n\r\n" % (
            declared if declared is not None else len(data))
        self.raw(head.encode() + (data[:cut] if cut is not None else data))

    def handle_any(self):
        try:
            body = self.read_body()
        except ValueError:
            self.answer(413, b"{}")
            return
        if self.path.startswith("/__faultproxy/"):
            self.control(body)
            return
        fault = self.server.state.next_fault(operation(self.headers, body), body)
        if fault == "throttle":
            self.answer(400, b'{"__type":"com.amazonaws.sqs#ThrottlingException",'
                             b'"message":"Rate exceeded"}')
        elif fault == "503":
            self.answer(503, b'{"__type":"ServiceUnavailable","message":"try later"}')
        elif fault == "500":
            self.answer(500, b"")
        elif fault == "html502":
            self.answer(502, HTML, "text/html")
        elif fault == "html200":
            self.answer(200, HTML, "text/html")
        elif fault == "close":
            self.close_connection = True
        elif fault == "truncjson":
            status, hdrs, data = self.forward(body)
            self.send_upstream_answer(status, hdrs, data[: max(1, len(data) // 2)])
        elif fault == "cutbody":
            status, hdrs, data = self.forward(body)
            self.send_upstream_answer(status, hdrs, data, declared=len(data) + 100,
                                      cut=len(data) // 2)
        elif fault == "dropreply":
            self.forward(body)
            self.close_connection = True
        else:
            if fault.startswith("slow:"):
                time.sleep(int(fault[5:]) / 1000.0)
            status, hdrs, data = self.forward(body)
            self.send_upstream_answer(status, hdrs, data)

    do_POST = handle_any
    do_GET = handle_any
    do_PUT = handle_any


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--port", type=int, default=0)
    args = ap.parse_args()
    u = urllib.parse.urlsplit(args.upstream)
    if u.scheme != "http" or not u.hostname:
        raise SystemExit("faultproxy: --upstream must be http://host:port")
    if not (u.hostname == "localhost" or u.hostname.startswith("127.")
            or u.hostname == "::1"):
        raise SystemExit("faultproxy: loopback upstreams only")
    srv = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    srv.daemon_threads = True
    srv.state = State(args.upstream)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))

    def watch_stdin():
        # The parent test holds our stdin; when it goes away, so do we.
        try:
            sys.stdin.buffer.read()
        finally:
            os._exit(0)

    threading.Thread(target=watch_stdin, daemon=True).start()
    print("PORT %d" % srv.server_address[1], flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
