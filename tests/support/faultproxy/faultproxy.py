#!/usr/bin/python3
"""Loopback fault-injecting proxy for HTTP (the AWS services) and the PostgreSQL wire
protocol. Stdlib only; loopback only; stops on SIGTERM or when its stdin closes.

Two ways to run it.

1. One HTTP upstream, faults planned request by request (tests/integration/test_sqs.c):

     faultproxy.py --upstream http://127.0.0.1:15000 [--port 0]

   prints "PORT <n>" once ready. Control, on the proxy's own port:
     POST /__faultproxy/plan    body "throttle,503,ok": faults for the next requests, in order
     POST /__faultproxy/rules   body [{"op": "PutItem", "contains": "-appointments-",
                                "fault": "dropreply", "count": 1}, ...]: per-operation faults
                                (op: the operation, see below; contains: optional text the
                                request body must hold; count: how many matching requests get
                                the fault, -1 = all). A matching rule wins over the plan; an
                                empty list clears the rules.
     GET  /__faultproxy/stats   {"seen": n, "faulted": n, "forwarded": n, "plan": [...],
                                 "rules": [...]}
   Planned faults (anything else, or "ok": forward normally):
     throttle   400 {"__type": "...#ThrottlingException"}            (not forwarded)
     503        503 {"__type": "ServiceUnavailable"}                  (not forwarded)
     500        500 with an empty body                                (not forwarded)
     html502    502 with an nginx-style HTML page                     (not forwarded)
     html200    200 with an HTML page                                 (not forwarded)
     close      close the connection without an answer                (not forwarded)
     truncjson  forward; answer 200 with the first half of the JSON body
     cutbody    forward; declare the full length, send half the body, close
     dropreply  forward (the upstream acts); then close without answering
     slow:<ms>  wait, then forward

2. Many named listeners, faults by rule (tests/faults):

     faultproxy.py --control-port 0 [--port-base N] \\
         --listen api.dynamodb=http:http://127.0.0.1:8000 --listen api.pg-pe=pg:127.0.0.1:5432 ...

   prints "PORT <control port>", then "LISTEN <name> <port>" per listener, then "READY".
   Listener ports are the first free ones from --port-base up (0: any free port). Pick a base
   below the kernel's ephemeral range: a listener that "refuses" closes its socket and binds
   the same port again later, and no outgoing connection may take the port meanwhile.

   Control API (JSON over HTTP on the control port):
     GET    /listeners         {"<name>": {"kind", "port", "upstream"}}
     POST   /rules             one rule (below) -> {"id": n}
     DELETE /rules/<id>        remove one rule; DELETE /rules removes all
     GET    /stats             {"listeners": {"<name>": {"<op>": {"seen", "forwarded",
                                "faults": {"<fault>": n}}}}, "rules": {"<id>": hits},
                                "errors": [...]}
   A rule: {"listener": glob over listener names, "op": glob over operations (default "*"),
            "fault": refuse|blackhole|reset|delay|dropreply, "ms": delay, "jitter_ms": extra
            random delay, "rate": 0..1 (default 1), "count": at most this many hits,
            "match": substring the request body (HTTP) or SQL (PostgreSQL) must contain}
   The first active rule that matches a request decides its fate:
     refuse     the listener closes its socket (connections are refused) and resets every
                connection it holds; it listens again once no refuse rule matches it (op is
                ignored: a refused listener refuses everything)
     blackhole  read the request and never answer; the connection is reset when the rule goes
     reset      forward; send the first part of the answer, then reset the connection
     delay      wait ms (+ up to jitter_ms), then forward
     dropreply  forward and let the upstream apply it; read its whole answer, then close the
                connection without sending any of it (apply-then-drop-the-reply)

   Operations. HTTP: the X-Amz-Target operation (DynamoDB_20120810.PutItem -> PutItem,
   AmazonSQS.DeleteMessageBatch, AWSEvents.PutEvents), else the form's Action= (SNS Publish).
   PostgreSQL (frontend protocol 3): "startup" (a new connection), "BEGIN", "COMMIT",
   "ROLLBACK", "query" (another simple query), "extended" (Parse/Bind/Execute up to a Sync).
   A COMMIT rule sees the transaction's COMMIT only: dropreply on COMMIT forwards it, waits for
   the server's ReadyForQuery (the transaction is committed), then closes both connections.
"""
import argparse
import fnmatch
import http.client
import json
import os
import random
import signal
import socket
import struct
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HTML = (b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
        b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
        b"</body>\r\n</html>\r\n")
MAX_BODY = 16 * 1024 * 1024
MAX_HEAD = 64 * 1024
UPSTREAM_TIMEOUT = 120.0      # a long poll is 20 s; a black-holed upstream is our own doing
FAULTS = ("refuse", "blackhole", "reset", "delay", "dropreply")
LEGACY = ("throttle", "503", "500", "html502", "html200", "close", "truncjson", "cutbody",
          "dropreply")
PG_SSL_REQUEST = 80877103
PG_GSS_REQUEST = 80877104
PG_CANCEL_REQUEST = 80877102


def loopback(host):
    return host == "localhost" or host.startswith("127.") or host == "::1"


def close_sock(sock, reset=False):
    """Closes with a reset (RST), or with an orderly FIN."""
    if sock is None:
        return
    try:
        if reset:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        else:
            sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass


def wake(sock):
    """Wakes a thread blocked reading sock, without sending anything."""
    if sock is None:
        return
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.shutdown(socket.SHUT_RD)
    except OSError:
        pass


class Killed(Exception):
    """The connection was reset by the proxy (refuse, end of a black-hole)."""


# ---------------------------------------------------------------------------------------
# Rules and statistics

class Rule:
    def __init__(self, rid, doc):
        if not isinstance(doc, dict):
            raise ValueError("a rule is a JSON object")
        unknown = set(doc) - {"listener", "op", "fault", "ms", "jitter_ms", "rate", "count",
                              "match"}
        if unknown:
            raise ValueError("unknown rule keys: %s" % ", ".join(sorted(unknown)))
        self.id = rid
        self.listener = str(doc.get("listener", "*"))
        self.op = str(doc.get("op", "*"))
        self.fault = doc.get("fault")
        if self.fault not in FAULTS:
            raise ValueError("fault must be one of %s" % ", ".join(FAULTS))
        self.ms = int(doc.get("ms", 0))
        self.jitter_ms = int(doc.get("jitter_ms", 0))
        self.rate = float(doc.get("rate", 1.0))
        self.count = doc.get("count")
        self.match = doc.get("match")
        if not 0.0 <= self.rate <= 1.0 or self.ms < 0 or self.jitter_ms < 0:
            raise ValueError("rate is 0..1, ms and jitter_ms >= 0")
        self.hits = 0
        self.active = True

    def applies(self, listener, op, text):
        if not fnmatch.fnmatchcase(listener, self.listener):
            return False
        if not fnmatch.fnmatchcase(op, self.op):
            return False
        if self.match is not None and self.match not in text:
            return False
        return True

    def delay_s(self, rng):
        return (self.ms + (rng.randint(0, self.jitter_ms) if self.jitter_ms else 0)) / 1000.0


class Engine:
    """Rules, statistics and listeners of one proxy process."""

    def __init__(self, seed=None):
        self.lock = threading.Lock()
        self.changed = threading.Condition(self.lock)
        self.rules = []
        self.next_id = 1
        self.rng = random.Random(seed)
        self.stats = {}
        self.errors = []
        self.listeners = {}

    # rules
    def add_rule(self, doc):
        with self.lock:
            r = Rule(self.next_id, doc)
            self.next_id += 1
            self.rules.append(r)
            self.changed.notify_all()
        self.refresh_listeners()
        return r.id

    def remove_rules(self, rid=None):
        with self.lock:
            keep = []
            for r in self.rules:
                if rid is None or r.id == rid:
                    r.active = False
                else:
                    keep.append(r)
            found = len(keep) != len(self.rules)
            self.rules = keep
            self.changed.notify_all()
        self.refresh_listeners()
        return found

    def decide(self, listener, op, text=""):
        """The rule that takes this request (counted), or None: forward it."""
        with self.lock:
            st = self.stats.setdefault(listener, {}).setdefault(
                op, {"seen": 0, "forwarded": 0, "faults": {}})
            st["seen"] += 1
            for r in self.rules:
                if r.fault == "refuse" or not r.applies(listener, op, text):
                    continue
                if r.count is not None and r.hits >= int(r.count):
                    continue
                if r.rate < 1.0 and self.rng.random() >= r.rate:
                    continue
                r.hits += 1
                st["faults"][r.fault] = st["faults"].get(r.fault, 0) + 1
                return r
            return None

    def wants_text(self):
        with self.lock:
            return any(r.match is not None for r in self.rules)

    def forwarded(self, listener, op):
        with self.lock:
            self.stats[listener][op]["forwarded"] += 1

    def refused(self, listener):
        with self.lock:
            for r in self.rules:
                if r.fault == "refuse" and fnmatch.fnmatchcase(listener, r.listener):
                    return r
            return None

    def count_refusal(self, r, listener, n):
        """A refuse rule's hits are the connections it reset (the connection attempts it
        refuses never reach us)."""
        with self.lock:
            r.hits += n
            st = self.stats.setdefault(listener, {}).setdefault(
                "connect", {"seen": 0, "forwarded": 0, "faults": {}})
            st["seen"] += n
            st["faults"]["refuse"] = st["faults"].get("refuse", 0) + n

    def hold(self, rule, conn):
        """Black-hole: blocks until the rule is removed or the connection is killed."""
        with self.lock:
            while rule.active and not conn.killed:
                self.changed.wait(0.5)

    def error(self, msg):
        with self.lock:
            if len(self.errors) < 100:
                self.errors.append(msg)

    def refresh_listeners(self):
        for lst in list(self.listeners.values()):
            lst.refresh()

    def snapshot(self):
        with self.lock:
            return {"listeners": json.loads(json.dumps(self.stats)),
                    "rules": {str(r.id): r.hits for r in self.rules},
                    "errors": list(self.errors)}


# ---------------------------------------------------------------------------------------
# Listeners

class Conn:
    """One accepted connection and its upstream connection."""

    def __init__(self, down):
        self.down = down
        self.up = None
        self.killed = False
        self.lock = threading.Lock()

    def kill(self):
        with self.lock:
            self.killed = True
            wake(self.down)
            wake(self.up)

    def close(self, hard=False):
        with self.lock:
            reset = hard or self.killed
            close_sock(self.down, reset)
            close_sock(self.up, reset)
            self.down = self.up = None


class Listener:
    def __init__(self, engine, name, kind, upstream, port):
        self.engine = engine
        self.name = name
        self.kind = kind
        self.upstream = upstream      # (host, port)
        self.port = port
        self.sock = None
        self.conns = set()
        self.lock = threading.Lock()
        self.refusing = False

    def bind(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", self.port))
        s.listen(128)
        s.settimeout(0.2)
        self.port = s.getsockname()[1]
        self.sock = s

    def start(self):
        threading.Thread(target=self.accept_loop, daemon=True, name="accept-" + self.name).start()

    def refresh(self):
        """Applies a refuse rule at once: close the socket, reset what we hold."""
        r = self.engine.refused(self.name)
        with self.lock:
            if r is not None and not self.refusing:
                self.refusing = True
                if self.sock is not None:
                    self.sock.close()
                    self.sock = None
                conns = list(self.conns)
            else:
                conns = []
                if r is None:
                    self.refusing = False
        for c in conns:
            c.kill()
        if conns and r is not None:
            self.engine.count_refusal(r, self.name, len(conns))

    def accept_loop(self):
        rebind_errors = 0
        while True:
            with self.lock:
                refusing = self.refusing
                sock = self.sock
            if refusing:
                time.sleep(0.05)
                continue
            if sock is None:
                try:
                    with self.lock:
                        if not self.refusing and self.sock is None:
                            self.bind()
                    rebind_errors = 0
                except OSError as e:
                    rebind_errors += 1
                    if rebind_errors == 1:
                        self.engine.error("%s: cannot listen on %d again: %s"
                                          % (self.name, self.port, e))
                    time.sleep(0.1)
                continue
            try:
                down, _ = sock.accept()
            except socket.timeout:
                continue
            except OSError:
                continue  # closed by refresh()
            down.settimeout(None)
            down.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            c = Conn(down)
            with self.lock:
                self.conns.add(c)
            threading.Thread(target=self.serve, args=(c,), daemon=True).start()

    def serve(self, c):
        try:
            if self.kind == "http":
                HttpSession(self, c).run()
            else:
                PgSession(self, c).run()
        except (Killed, OSError, ValueError, EOFError):
            pass
        except Exception as e:  # a bug here must be visible, not a silent hang
            self.engine.error("%s: %s: %s" % (self.name, type(e).__name__, e))
        finally:
            c.close()
            with self.lock:
                self.conns.discard(c)

    def connect_upstream(self, c):
        up = socket.create_connection(self.upstream, timeout=UPSTREAM_TIMEOUT)
        up.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with c.lock:
            if c.killed:
                close_sock(up, reset=True)
                raise Killed()
            c.up = up
        return up


# ---------------------------------------------------------------------------------------
# HTTP

def read_head(f):
    """Reads a request or status line and headers: (first line, [(name, value)])."""
    line = f.readline(MAX_HEAD)
    if not line:
        raise EOFError()
    while line in (b"\r\n", b"\n"):
        line = f.readline(MAX_HEAD)
        if not line:
            raise EOFError()
    headers = []
    size = len(line)
    while True:
        h = f.readline(MAX_HEAD)
        size += len(h)
        if not h:
            raise EOFError()
        if size > MAX_HEAD:
            raise ValueError("head too large")
        if h in (b"\r\n", b"\n"):
            break
        name, _, value = h.decode("latin-1").partition(":")
        headers.append((name.strip(), value.strip()))
    return line.decode("latin-1").rstrip("\r\n"), headers


def header(headers, name):
    name = name.lower()
    for k, v in headers:
        if k.lower() == name:
            return v
    return None


def read_body(f, headers, until_eof=False):
    te = (header(headers, "Transfer-Encoding") or "").lower()
    if "chunked" in te:
        out = bytearray()
        while True:
            size_line = f.readline(1024)
            if not size_line:
                raise EOFError()
            n = int(size_line.split(b";")[0].strip() or b"0", 16)
            if n == 0:
                while f.readline(MAX_HEAD) not in (b"\r\n", b"\n", b""):
                    pass
                return bytes(out)
            out += f.read(n)
            f.readline(16)
            if len(out) > MAX_BODY:
                raise ValueError("body too large")
    n = header(headers, "Content-Length")
    if n is not None:
        n = int(n)
        if n > MAX_BODY:
            raise ValueError("body too large")
        data = f.read(n) if n else b""
        if len(data) != n:
            raise EOFError()
        return data
    if until_eof:
        return f.read()
    return b""


def aws_operation(headers, body):
    target = header(headers, "X-Amz-Target")
    if target:
        return target.rsplit(".", 1)[-1]
    for pair in body.split(b"&"):  # the Query protocol's form (SNS)
        if pair.startswith(b"Action="):
            return urllib.parse.unquote(pair[len(b"Action="):].decode("utf-8", "replace"))
    return "unknown"


HOP = ("connection", "content-length", "transfer-encoding", "keep-alive", "expect",
       "proxy-connection", "te", "trailer", "upgrade")


class HttpSession:
    def __init__(self, listener, conn):
        self.l = listener
        self.c = conn
        self.engine = listener.engine
        self.rfile = conn.down.makefile("rb", buffering=65536)

    def send_down(self, data):
        if self.c.killed:
            raise Killed()
        self.c.down.sendall(data)

    def answer(self, status, body, ctype="application/x-amz-json-1.0", close=True):
        head = ("HTTP/1.1 %d X\r\nContent-Type: %s\r\nContent-Length: %d\r\n"
                "x-amzn-RequestId: faultproxy\r\n%s\r\n"
                % (status, ctype, len(body), "Connection: close\r\n" if close else ""))
        self.send_down(head.encode() + body)

    def run(self):
        while not self.c.killed:
            try:
                line, headers = read_head(self.rfile)
            except (EOFError, OSError):
                return
            parts = line.split(" ")
            if len(parts) != 3:
                self.answer(400, b"{}")
                return
            method, path, version = parts
            if (header(headers, "Expect") or "").lower() == "100-continue":
                self.send_down(b"HTTP/1.1 100 Continue\r\n\r\n")
            body = read_body(self.rfile, headers)
            if self.c.killed:
                return
            if path.startswith("/__faultproxy/"):
                legacy_control(self, path, body)
                return
            client_close = ((header(headers, "Connection") or "").lower() == "close"
                            or version == "HTTP/1.0")
            if not self.one(method, path, headers, body, client_close):
                return
            if client_close:
                return

    def one(self, method, path, headers, body, client_close):
        """Handles one request; False when the connection must end."""
        legacy = isinstance(self.l, LegacyListener)
        op = aws_operation(headers, body)
        if legacy:
            planned = self.l.next_planned(op, body)
            if planned != "ok":
                return legacy_fault(self, planned, method, path, headers, body)
        text = body.decode("utf-8", "replace") if self.engine.wants_text() else ""
        rule = self.engine.decide(self.l.name, op, text)
        fault = rule.fault if rule is not None else None
        if fault == "blackhole":
            self.engine.hold(rule, self.c)
            self.c.kill()
            return False
        if fault == "delay":
            time.sleep(rule.delay_s(self.engine.rng))
        status, reason, rheaders, rbody = self.forward(method, path, headers, body)
        self.engine.forwarded(self.l.name, op)
        if legacy:
            self.l.count_forwarded()
        if fault == "dropreply":
            return False
        keep = not client_close and not legacy
        raw = self.render(status, reason, rheaders, rbody, keep)
        if fault == "reset":
            self.send_down(raw[:max(1, len(raw) // 2)])
            self.c.kill()
            return False
        self.send_down(raw)
        return keep

    def forward(self, method, path, headers, body):
        """Sends the request on a new upstream connection and reads the whole answer. A new
        connection each time: retrying on a kept-alive one that the server closed could
        apply a request twice, a fault of the proxy's own that no test asked for."""
        up = self.l.connect_upstream(self.c)
        try:
            up_file = up.makefile("rb", buffering=65536)
            head = "%s %s HTTP/1.1\r\n" % (method, path)
            for k, v in headers:
                if k.lower() in HOP:
                    continue
                if k.lower() == "host":
                    v = "%s:%d" % self.l.upstream
                head += "%s: %s\r\n" % (k, v)
            head += "Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body)
            up.sendall(head.encode("latin-1") + body)
            line, rheaders = read_head(up_file)
            parts = line.split(" ", 2)
            status = int(parts[1])
            reason = parts[2] if len(parts) > 2 else ""
            no_body = method == "HEAD" or status in (204, 304) or 100 <= status < 200
            rbody = b"" if no_body else read_body(up_file, rheaders, until_eof=True)
            return status, reason, rheaders, rbody
        except (EOFError, OSError):
            if self.c.killed:
                raise Killed()
            raise
        finally:
            with self.c.lock:
                if self.c.up is up:
                    self.c.up = None
            close_sock(up)

    @staticmethod
    def render(status, reason, rheaders, rbody, keep, declared=None):
        head = "HTTP/1.1 %d %s\r\n" % (status, reason or "X")
        for k, v in rheaders:
            if k.lower() in HOP:
                continue
            head += "%s: %s\r\n" % (k, v)
        head += "Content-Length: %d\r\n" % (declared if declared is not None else len(rbody))
        if not keep:
            head += "Connection: close\r\n"
        return head.encode("latin-1") + b"\r\n" + rbody


# Legacy plan mode (one listener, faults request by request) -------------------------------

def legacy_control(s, path, body):
    l = s.l
    if path == "/__faultproxy/plan":
        with l.plan_lock:
            l.plan = [f.strip() for f in body.decode().split(",") if f.strip()]
        s.answer(200, b"{}", "application/json")
    elif path == "/__faultproxy/rules":
        try:
            rules = json.loads(body or b"[]")
            for r in rules:
                r["count"] = int(r.get("count", -1))
                if not isinstance(r["op"], str) or not isinstance(r["fault"], str):
                    raise ValueError("op and fault are strings")
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            s.answer(400, json.dumps({"error": str(e)}).encode(), "application/json")
            return
        with l.plan_lock:
            l.rules = rules
        s.answer(200, b"{}", "application/json")
    elif path == "/__faultproxy/stats":
        with l.plan_lock:
            doc = {"seen": l.seen, "faulted": l.faulted, "forwarded": l.fwd, "plan": l.plan,
                   "rules": l.rules}
        s.answer(200, json.dumps(doc).encode(), "application/json")
    else:
        s.answer(404, b"{}", "application/json")


def legacy_fault(s, fault, method, path, headers, body):
    """The planned faults of mode 1; always ends the connection like the original proxy."""
    def forward():
        out = s.forward(method, path, headers, body)
        s.l.count_forwarded()
        return out

    if fault == "throttle":
        s.answer(400, b'{"__type":"com.amazonaws.sqs#ThrottlingException",'
                      b'"message":"Rate exceeded"}')
    elif fault == "503":
        s.answer(503, b'{"__type":"ServiceUnavailable","message":"try later"}')
    elif fault == "500":
        s.answer(500, b"")
    elif fault == "html502":
        s.answer(502, HTML, "text/html")
    elif fault == "html200":
        s.answer(200, HTML, "text/html")
    elif fault == "close":
        pass
    elif fault == "truncjson":
        status, reason, hdrs, data = forward()
        s.send_down(HttpSession.render(status, reason, hdrs, data[:max(1, len(data) // 2)],
                                       False))
    elif fault == "cutbody":
        status, reason, hdrs, data = forward()
        s.send_down(HttpSession.render(status, reason, hdrs, data[:len(data) // 2], False,
                                       declared=len(data) + 100))
    elif fault == "dropreply":
        forward()
    else:
        if fault.startswith("slow:"):
            time.sleep(int(fault[5:]) / 1000.0)
        status, reason, hdrs, data = forward()
        s.send_down(HttpSession.render(status, reason, hdrs, data, False))
    return False


class LegacyListener(Listener):
    legacy = True

    def __init__(self, engine, upstream, port):
        super().__init__(engine, "default", "http", upstream, port)
        self.plan_lock = threading.Lock()
        self.plan = []
        self.rules = []
        self.seen = self.faulted = self.fwd = 0

    def next_planned(self, op, body):
        """The first rule for this operation (and body) with hits left, else the plan."""
        with self.plan_lock:
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

    def count_forwarded(self):
        with self.plan_lock:
            self.fwd += 1


# ---------------------------------------------------------------------------------------
# PostgreSQL (frontend/backend protocol 3.0)

def recv_exact(sock, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise EOFError()
        buf += chunk
    return bytes(buf)


def sql_op(sql):
    # a simple query may hold several statements ("BEGIN; SET LOCAL ..."): the first names it
    s = sql.strip().split(";", 1)[0].strip().upper()
    word = s.split(None, 1)[0] if s else ""
    if word in ("COMMIT", "END") or s.startswith("COMMIT") or s == "END TRANSACTION":
        return "COMMIT"
    if word in ("BEGIN", "START"):
        return "BEGIN"
    if word in ("ROLLBACK", "ABORT"):
        return "ROLLBACK"
    return "query"


class PgSession:
    """The startup exchange in this thread; then two pumps: client->server (parsed, where
    faults are decided) and server->client (parsed, so a dropped or reset reply ends at a
    message boundary of our choosing)."""

    def __init__(self, listener, conn):
        self.l = listener
        self.c = conn
        self.engine = listener.engine
        self.lock = threading.Lock()
        self.reply_fault = None       # "dropreply" / "reset" for the reply in progress

    def run(self):
        down = self.c.down
        rule = self.engine.decide(self.l.name, "startup")
        if rule is not None and rule.fault == "blackhole":
            self.engine.hold(rule, self.c)
            self.c.kill()
            return
        if rule is not None and rule.fault == "delay":
            time.sleep(rule.delay_s(self.engine.rng))
        up = self.l.connect_upstream(self.c)
        self.engine.forwarded(self.l.name, "startup")
        if rule is not None and rule.fault in ("reset", "dropreply"):
            self.c.kill()
            return
        # untyped messages: SSLRequest / GSSENCRequest, each answered with one byte ('S'
        # switches to TLS, which we pass through unparsed), then StartupMessage or
        # CancelRequest
        while True:
            n = struct.unpack("!i", recv_exact(down, 4))[0]
            if n < 8 or n > 10000:
                raise ValueError("bad startup length")
            rest = recv_exact(down, n - 4)
            code = struct.unpack("!i", rest[:4])[0]
            self.send_up(struct.pack("!i", n) + rest)
            if code in (PG_SSL_REQUEST, PG_GSS_REQUEST):
                answer = recv_exact(up, 1)
                down.sendall(answer)
                if answer in (b"S", b"G"):
                    return self.opaque(down, up)
                continue
            if code == PG_CANCEL_REQUEST:
                return self.opaque(down, up)
            break
        back = threading.Thread(target=self.pump_back, daemon=True)
        back.start()
        try:
            self.pump_forward(down)
        finally:
            self.c.kill()
            back.join(5)

    def opaque(self, down, up):
        back = threading.Thread(target=self.passthrough, args=(up, down), daemon=True)
        back.start()
        self.passthrough(down, up)
        back.join(5)

    def send_up(self, data):
        if self.c.killed:
            raise Killed()
        self.c.up.sendall(data)

    def pump_forward(self, down):
        batch = []
        batch_op = "extended"
        while True:
            t = recv_exact(down, 1)
            n = struct.unpack("!i", recv_exact(down, 4))[0]
            if n < 4 or n > MAX_BODY:
                raise ValueError("bad message length")
            payload = recv_exact(down, n - 4)
            msg = t + struct.pack("!i", n) + payload
            if t == b"Q":
                sql = payload.rstrip(b"\0").decode("utf-8", "replace")
                self.flush(sql_op(sql), sql, msg)
            elif t == b"P":
                sql = payload.split(b"\0", 2)[1].decode("utf-8", "replace")
                if sql_op(sql) == "COMMIT":
                    batch_op = "COMMIT"
                batch.append(msg)
            elif t in (b"B", b"D", b"E", b"C"):
                batch.append(msg)
            elif t in (b"S", b"H"):
                batch.append(msg)
                self.flush(batch_op, "", b"".join(batch))
                batch = []
                batch_op = "extended"
            else:  # password, terminate, copy data...: no decision, straight through
                self.send_up(msg)

    def flush(self, op, text, data):
        rule = self.engine.decide(self.l.name, op, text)
        fault = rule.fault if rule is not None else None
        if fault == "blackhole":
            self.engine.hold(rule, self.c)
            self.c.kill()
            raise Killed()
        if fault == "delay":
            time.sleep(rule.delay_s(self.engine.rng))
        if fault in ("dropreply", "reset"):
            with self.lock:
                self.reply_fault = fault
        self.send_up(data)
        self.engine.forwarded(self.l.name, op)

    def pump_back(self):
        down, up = self.c.down, self.c.up
        try:
            while True:
                t = recv_exact(up, 1)
                n = struct.unpack("!i", recv_exact(up, 4))[0]
                if n < 4 or n > MAX_BODY:
                    raise ValueError("bad backend message length")
                msg = t + struct.pack("!i", n) + recv_exact(up, n - 4)
                with self.lock:
                    fault = self.reply_fault
                if fault == "dropreply":
                    if t == b"Z":   # the server is done with it: committed (or not)
                        self.c.kill()
                        return
                    continue
                down.sendall(msg)
                if fault == "reset":
                    self.c.kill()
                    return
        except (EOFError, OSError, ValueError):
            self.c.kill()

    def passthrough(self, src, dst):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        self.c.kill()


# ---------------------------------------------------------------------------------------
# Control API (mode 2)

class Control(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "faultproxy-control"

    def log_message(self, fmt, *args):
        pass

    def reply(self, status, doc):
        body = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def do_GET(self):
        eng = self.server.engine
        if self.path == "/listeners":
            self.reply(200, {n: {"kind": l.kind, "port": l.port,
                                 "upstream": "%s:%d" % l.upstream}
                             for n, l in eng.listeners.items()})
        elif self.path == "/stats":
            self.reply(200, eng.snapshot())
        else:
            self.reply(404, {"error": "no such path"})

    def do_POST(self):
        eng = self.server.engine
        if self.path != "/rules":
            self.reply(404, {"error": "no such path"})
            return
        try:
            rid = eng.add_rule(json.loads(self.body() or b"null"))
        except (ValueError, TypeError) as e:
            self.reply(400, {"error": str(e)})
            return
        self.reply(200, {"id": rid})

    def do_DELETE(self):
        eng = self.server.engine
        if self.path == "/rules":
            eng.remove_rules()
            self.reply(200, {})
        elif self.path.startswith("/rules/") and self.path[7:].isdigit():
            found = eng.remove_rules(int(self.path[7:]))
            self.reply(200 if found else 404, {})
        else:
            self.reply(404, {"error": "no such path"})


def parse_listen(spec):
    name, _, rest = spec.partition("=")
    kind, _, target = rest.partition(":")
    if not name or kind not in ("http", "pg") or not target:
        raise SystemExit("faultproxy: --listen NAME=http:URL or NAME=pg:HOST:PORT (%s)" % spec)
    if kind == "http":
        u = urllib.parse.urlsplit(target)
        if u.scheme != "http" or not u.hostname:
            raise SystemExit("faultproxy: %s: upstream must be http://host:port" % name)
        host, port = u.hostname, u.port or 80
    else:
        host, _, port = target.rpartition(":")
        port = int(port)
    if not loopback(host):
        raise SystemExit("faultproxy: loopback upstreams only (%s)" % spec)
    return name, kind, (host, port)


def bind_free(lst, base):
    if base == 0:
        lst.port = 0
        lst.bind()
        return
    for port in range(base, base + 2000):
        lst.port = port
        try:
            lst.bind()
            return
        except OSError:
            continue
    raise SystemExit("faultproxy: no free port from %d" % base)


def watch_stdin():
    # The parent holds our stdin; when it goes away, so do we.
    try:
        sys.stdin.buffer.read()
    finally:
        os._exit(0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--upstream", help="mode 1: the one HTTP upstream")
    ap.add_argument("--port", type=int, default=0, help="mode 1: the port (0: any free one)")
    ap.add_argument("--control-port", type=int, help="mode 2: the control API's port")
    ap.add_argument("--port-base", type=int, default=0, help="mode 2: first listener port")
    ap.add_argument("--listen", action="append", default=[], help="mode 2: NAME=KIND:TARGET")
    ap.add_argument("--seed", type=int, help="seed of the fault rates' random numbers")
    args = ap.parse_args()
    engine = Engine(args.seed)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    if args.upstream:
        u = urllib.parse.urlsplit(args.upstream)
        if u.scheme != "http" or not u.hostname:
            raise SystemExit("faultproxy: --upstream must be http://host:port")
        if not loopback(u.hostname):
            raise SystemExit("faultproxy: loopback upstreams only")
        lst = LegacyListener(engine, (u.hostname, u.port or 80), args.port)
        lst.bind()
        engine.listeners[lst.name] = lst
        threading.Thread(target=watch_stdin, daemon=True).start()
        print("PORT %d" % lst.port, flush=True)
        lst.accept_loop()
        return
    if args.control_port is None or not args.listen:
        raise SystemExit("faultproxy: --upstream URL, or --control-port N with --listen ...")
    port = args.port_base
    for spec in args.listen:
        name, kind, upstream = parse_listen(spec)
        if name in engine.listeners:
            raise SystemExit("faultproxy: listener %s twice" % name)
        lst = Listener(engine, name, kind, upstream, 0)
        bind_free(lst, port)
        if port:
            port = lst.port + 1
        engine.listeners[name] = lst
    srv = ThreadingHTTPServer(("127.0.0.1", args.control_port), Control)
    srv.daemon_threads = True
    srv.engine = engine
    threading.Thread(target=watch_stdin, daemon=True).start()
    print("PORT %d" % srv.server_address[1], flush=True)
    for name, lst in engine.listeners.items():
        print("LISTEN %s %d" % (name, lst.port), flush=True)
        lst.start()
    print("READY", flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
