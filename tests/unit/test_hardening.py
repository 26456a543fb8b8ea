#!/usr/bin/python3
"""The built daemons carry the hardening of meson.build (issue 12, docs/security.md): full
RELRO (a GNU_RELRO segment and immediate binding), stack protector canaries and
_FORTIFY_SOURCE checked functions. Read with readelf from binutils."""
import os
import re
import subprocess
import unittest

BUILD = os.environ.get("APPT_BUILD_ROOT", "build")
DAEMONS = ("appointment-api", "appointment-worker", "appointment-completion", "appointmentctl")


def readelf(*args):
    return subprocess.run(["readelf", "-W"] + list(args), check=True, capture_output=True,
                          text=True).stdout


class HardeningTest(unittest.TestCase):
    def binaries(self):
        paths = [os.path.join(BUILD, "daemons", d, d) for d in DAEMONS]
        for p in paths:
            self.assertTrue(os.path.exists(p), "%s is not built" % p)
        return paths

    def test_full_relro(self):
        for path in self.binaries():
            with self.subTest(binary=os.path.basename(path)):
                self.assertIn("GNU_RELRO", readelf("-l", path))
                dyn = readelf("-d", path)
                self.assertRegex(dyn, r"\(FLAGS\)\s+.*BIND_NOW|\(FLAGS_1\)\s+.*\bNOW\b")

    def test_stack_protector_and_fortify(self):
        for path in self.binaries():
            with self.subTest(binary=os.path.basename(path)):
                syms = readelf("--dyn-syms", path)
                self.assertIn("__stack_chk_fail", syms)
                fortified = set(re.findall(r"\b(__\w+_chk)\b", syms)) - {"__stack_chk_fail"}
                self.assertTrue(fortified, "no _FORTIFY_SOURCE checked function is linked")


if __name__ == "__main__":
    unittest.main(verbosity=2)
