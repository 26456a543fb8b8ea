#!/usr/bin/python3
"""scripts/lib.sh retry_step, the way scripts/deps.sh uses it: pip installing a hashed
requirement from a package index on loopback that mangles the first download of the wheel
(what a CI run once got from a mirror: a botocore wheel whose sha256 was not the pinned one).

Real pip in a throwaway venv, a real HTTP index, the real function; nothing mocked. One try
must fail on the hash (the fault is real), three must install on the second fetch.
"""
import hashlib
import http.server
import io
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import unittest
import zipfile

ROOT = os.environ.get("APPT_SOURCE_ROOT") or os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LIB = os.path.join(ROOT, "scripts", "lib.sh")
NAME, VERSION = "appt_retry_probe", "1.0"
WHEEL = f"{NAME}-{VERSION}-py3-none-any.whl"


def build_wheel():
    """A minimal valid wheel: one module, METADATA, WHEEL, RECORD."""
    files = {
        f"{NAME}.py": b"ANSWER = 42\n",
        f"{NAME}-{VERSION}.dist-info/METADATA":
            f"Metadata-Version: 2.1\nName: {NAME}\nVersion: {VERSION}\n".encode(),
        f"{NAME}-{VERSION}.dist-info/WHEEL":
            b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = "".join(f"{path},,\n" for path in files) + f"{NAME}-{VERSION}.dist-info/RECORD,,\n"
    files[f"{NAME}-{VERSION}.dist-info/RECORD"] = record.encode()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for path, data in files.items():
            z.writestr(path, data)
    return buf.getvalue()


class Index(http.server.ThreadingHTTPServer):
    """PEP 503 simple index of one wheel; the first `mangle` downloads get other bytes of
    the same length (a complete 200 answer, as a bad mirror gives)."""

    def __init__(self, wheel, mangle):
        super().__init__(("127.0.0.1", 0), Handler)
        self.wheel, self.mangle, self.fetches = wheel, mangle, 0
        self.lock = threading.Lock()


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        srv = self.server
        if self.path.rstrip("/") == "/simple/" + NAME.replace("_", "-"):
            body = f'<html><body><a href="/files/{WHEEL}">{WHEEL}</a></body></html>'.encode()
            ctype = "text/html"
        elif self.path == "/files/" + WHEEL:
            with srv.lock:
                srv.fetches += 1
                bad = srv.fetches <= srv.mangle
            body = bytes(b ^ 0x5A for b in srv.wheel) if bad else srv.wheel
            ctype = "application/octet-stream"
        else:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class RetryStepTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="appt-retry-")
        cls.venv = os.path.join(cls.tmp, "venv")
        subprocess.run([sys.executable, "-m", "venv", cls.venv], check=True, timeout=120)
        cls.wheel = build_wheel()
        cls.req = os.path.join(cls.tmp, "requirements.txt")
        with open(cls.req, "w") as f:
            f.write(f"{NAME}=={VERSION} --hash=sha256:{hashlib.sha256(cls.wheel).hexdigest()}\n")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def install(self, tries, mangle):
        """retry_step TRIES LOG pip install ...; returns (exit code, log text, wheel fetches)."""
        subprocess.run([os.path.join(self.venv, "bin", "python"), "-m", "pip", "uninstall",
                        "-q", "-y", NAME], capture_output=True, timeout=60)
        index = Index(self.wheel, mangle)
        thread = threading.Thread(target=index.serve_forever, daemon=True)
        thread.start()
        log = os.path.join(self.tmp, f"pip-{tries}-{mangle}.log")
        env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
        env.update(PIP_CONFIG_FILE=os.devnull, APPT_PROG="test_retry_step")
        try:
            script = ('source "$0" && retry_step "$1" "$2" "$3" -m pip install -q '
                      '--no-cache-dir --disable-pip-version-check --no-input --retries 0 '
                      '--index-url "$4" -r "$5"')
            rc = subprocess.run(
                ["bash", "-c", script, LIB, str(tries), log,
                 os.path.join(self.venv, "bin", "python"),
                 f"http://127.0.0.1:{index.server_address[1]}/simple/", self.req],
                env=env, timeout=120).returncode
        finally:
            index.shutdown()
            index.server_close()
        with open(log) as f:
            return rc, f.read(), index.fetches

    def installed(self):
        return subprocess.run([os.path.join(self.venv, "bin", "python"), "-c",
                               f"import {NAME}; print({NAME}.ANSWER)"],
                              capture_output=True, text=True, timeout=60).stdout.strip()

    def test_one_try_fails_on_the_mangled_wheel(self):
        rc, log, fetches = self.install(tries=1, mangle=1)
        self.assertNotEqual(rc, 0, log)
        self.assertIn("DO NOT MATCH THE HASHES", log)
        self.assertEqual(fetches, 1)
        self.assertEqual(self.installed(), "")

    def test_a_retry_fetches_again_and_installs(self):
        rc, log, fetches = self.install(tries=3, mangle=1)
        self.assertEqual(rc, 0, log)
        self.assertIn("DO NOT MATCH THE HASHES", log)
        self.assertIn("test_retry_step: attempt 1 of 3 failed; trying again in 2 s", log)
        self.assertEqual(fetches, 2)
        self.assertEqual(self.installed(), "42")

    def test_gives_up_after_its_tries(self):
        rc, log, fetches = self.install(tries=2, mangle=5)
        self.assertNotEqual(rc, 0, log)
        self.assertEqual(fetches, 2)
        self.assertEqual(log.count("failed; trying again"), 1, log)


if __name__ == "__main__":
    unittest.main(verbosity=2)
