"""Starts tests/support/faultproxy/faultproxy.py with one listener per (daemon, service) and
drives its control API. The proxy is our child: its stdin is a pipe we hold, so it exits
when we do, and close() stops it by pid."""
import json
import os
import queue
import subprocess
import threading
import time
import urllib.request

import harness

_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def port_base():
    """First listener port: below the ephemeral range (a refusing listener binds its port
    again later) and offset by the helper slot, read off the test stack's PostgreSQL port
    (15433 + 100 k), so parallel stacks do not meet."""
    try:
        slot = ((int(os.environ.get("RDS_PORT", "15433")) - 15400) // 100) % 10
    except ValueError:
        slot = 0
    return 21000 + 100 * slot


class Proxy:
    def __init__(self, source_root, listeners, logdir, seed=None):
        """listeners: {name: "http:URL" | "pg:HOST:PORT"}."""
        script = os.path.join(source_root, "tests", "support", "faultproxy", "faultproxy.py")
        args = ["/usr/bin/python3", script, "--control-port", "0", "--port-base",
                str(port_base())]
        if seed is not None:
            args += ["--seed", str(seed)]
        for name, target in listeners.items():
            args += ["--listen", "%s=%s" % (name, target)]
        self.log = open(os.path.join(logdir, "faultproxy.log"), "a")
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.log, text=True)
        self.ports = {}
        self.control = None
        lines = queue.Queue()
        # a thread reads: select() on a buffered pipe misses lines already in the buffer
        threading.Thread(target=lambda: [lines.put(x) for x in self.proc.stdout] +
                         [lines.put("")], daemon=True).start()
        deadline = time.monotonic() + 60
        try:
            while True:
                try:
                    line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    raise RuntimeError("faultproxy did not start within 60 s") from None
                if not line:
                    raise RuntimeError("faultproxy exited (%s)" % self.proc.wait())
                w = line.split()
                if w[0] == "PORT":
                    self.control = "http://127.0.0.1:%s" % w[1]
                elif w[0] == "LISTEN":
                    self.ports[w[1]] = int(w[2])
                elif w[0] == "READY":
                    break
        except Exception:
            self.close()
            raise

    def url(self, name):
        return "http://127.0.0.1:%d" % self.ports[name]

    def _call(self, method, path, doc=None):
        data = json.dumps(doc).encode() if doc is not None else None
        req = urllib.request.Request(self.control + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        with _OPENER.open(req, timeout=10) as r:
            body = r.read()
        return json.loads(body) if body else {}

    def add(self, **rule):
        return self._call("POST", "/rules", rule)["id"]

    def remove(self, rid):
        self._call("DELETE", "/rules/%d" % rid)

    def clear(self):
        self._call("DELETE", "/rules")

    def stats(self):
        return self._call("GET", "/stats")

    def close(self):
        try:
            self.proc.stdin.close()  # it exits by itself when its stdin closes...
        except OSError:
            pass
        harness.stop_child(self.proc)  # ...and by pid if it does not
        self.log.close()
