#!/usr/bin/python3
"""docs/configuration.md lists every key of lib/app/conf.c's key table, in its section, with
its environment names, and no key the table does not have (docs stay true to the code)."""
import os
import re
import unittest

SRC = os.environ.get("APPT_SOURCE_ROOT", ".")


def table_keys():
    src = open(os.path.join(SRC, "lib", "app", "conf.c")).read()
    start = src.index("static const struct cfg_key conf_keys[] = {")
    tbl = src[start:src.index("\n};\n", start) + 4]
    keys = []
    for kind, body in re.findall(r"\b([GC])\((.*?)\),\n", tbl, flags=re.S):
        strings = re.findall(r'"([^"]*)"', body)
        if kind == "G":
            keys.append((strings[0], strings[1]))
        else:
            keys.append(("country XX", strings[0]))
    return keys


def doc_keys():
    doc = open(os.path.join(SRC, "docs", "configuration.md")).read()
    keys = []
    section = None
    for line in doc.splitlines():
        m = re.match(r"### \[(.+)\]", line)
        if m:
            section = m.group(1)
            continue
        m = re.match(r"\| `([a-z_]+)` \|", line)
        if m and section:
            keys.append((section, m.group(1), line))
    return keys


class ConfigDocTest(unittest.TestCase):
    def test_every_key_documented(self):
        code = table_keys()
        self.assertGreater(len(code), 40)
        doc = {(s, k): line for s, k, line in doc_keys()}
        for sec, key in code:
            self.assertIn((sec, key), doc, "docs/configuration.md lacks [%s] %s" % (sec, key))
            env = ("APPOINTMENTD_%s_%s" % (sec, key)).upper() if sec != "country XX" else \
                "APPOINTMENTD_COUNTRY_<CC>_%s" % key.upper()
            self.assertIn(env, doc[(sec, key)])

    def test_no_stale_key(self):
        code = set(table_keys())
        for sec, key, _ in doc_keys():
            self.assertIn((sec, key), code, "docs/configuration.md documents unknown [%s] %s"
                          % (sec, key))


if __name__ == "__main__":
    unittest.main(verbosity=2)
