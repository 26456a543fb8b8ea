#!/usr/bin/python3
"""The YAML documents of docs/ (the OpenAPI description, the alert rules) parse: a
description with ": " in a plain scalar broke docs/openapi.yaml once, and only the e2e
suite's schemathesis run, minutes later, said so."""
import os
import unittest

import yaml

ROOT = os.environ.get("APPT_SOURCE_ROOT") or os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class DocsYamlTest(unittest.TestCase):
    def test_each_parses(self):
        for name in ("openapi.yaml", "alerts.yml"):
            with self.subTest(doc=name), open(os.path.join(ROOT, "docs", name)) as f:
                doc = yaml.safe_load(f)
                self.assertIsInstance(doc, dict)

    def test_openapi_shape(self):
        with open(os.path.join(ROOT, "docs", "openapi.yaml")) as f:
            doc = yaml.safe_load(f)
        self.assertTrue(str(doc.get("openapi", "")).startswith("3."), doc.get("openapi"))
        for path, ops in doc["paths"].items():
            for method, op in ops.items():
                if method == "parameters":
                    continue
                for code, resp in op["responses"].items():
                    with self.subTest(op="%s %s %s" % (method.upper(), path, code)):
                        self.assertIsInstance(resp.get("description",
                                                       resp.get("$ref")), str)


if __name__ == "__main__":
    unittest.main()
