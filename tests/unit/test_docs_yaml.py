#!/usr/bin/python3
"""The YAML documents of docs/ (the OpenAPI description, the alert rules) parse: a
description with ": " in a plain scalar broke docs/openapi.yaml once, and only the e2e
suite's schemathesis run, minutes later, said so. And answers schemathesis never meets (the
/readyz of a stopping daemon) fit the description."""
import os
import unittest

import yaml

ROOT = os.environ.get("APPT_SOURCE_ROOT") or os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


# The /readyz bodies of daemons/appointment-api/ops.c (api_readyz), by status: ready, a
# dependency failing, and the lame duck of a stop (SIGTERM), which schemathesis never sees.
READYZ_BODIES = [
    (200, {"status": "ready", "dependencies": {"dynamodb": "ok", "sns": "ok"},
           "topics": {"PE": "ok", "CL": "ok"}}),
    (503, {"status": "not ready", "failing": "sns",
           "dependencies": {"dynamodb": "ok", "sns": "failing"},
           "topics": {"PE": "ok", "CL": "failing"}}),
    (503, {"status": "stopping"}),
]


def schema_errors(doc, schema, value, where="$"):
    """What value breaks of schema (the keywords docs/openapi.yaml uses for these bodies:
    $ref, oneOf, type object/string, enum, required, properties, additionalProperties)."""
    if "$ref" in schema:
        node = doc
        for part in schema["$ref"].lstrip("#/").split("/"):
            node = node[part]
        return schema_errors(doc, node, value, where)
    if "oneOf" in schema:
        fits = [alt for alt in schema["oneOf"] if not schema_errors(doc, alt, value, where)]
        return [] if len(fits) == 1 else ["%s: fits %d of oneOf" % (where, len(fits))]
    errs = []
    want = schema.get("type")
    if want == "object" and not isinstance(value, dict) or \
            want == "string" and not isinstance(value, str):
        return ["%s: not %s" % (where, want)]
    if "enum" in schema and value not in schema["enum"]:
        errs.append("%s: %r not in %r" % (where, value, schema["enum"]))
    if isinstance(value, dict):
        props = schema.get("properties", {})
        errs += ["%s: %s missing" % (where, k) for k in schema.get("required", [])
                 if k not in value]
        for k, v in value.items():
            sub = props.get(k, schema.get("additionalProperties", True))
            if sub is False:
                errs.append("%s: %s not allowed" % (where, k))
            elif isinstance(sub, dict):
                errs += schema_errors(doc, sub, v, "%s.%s" % (where, k))
    return errs


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


    def test_readyz_bodies_fit(self):
        with open(os.path.join(ROOT, "docs", "openapi.yaml")) as f:
            doc = yaml.safe_load(f)
        responses = doc["paths"]["/readyz"]["get"]["responses"]
        for status, body in READYZ_BODIES:
            with self.subTest(status=status, body=body):
                schema = responses[str(status)]["content"]["application/json"]["schema"]
                self.assertEqual(schema_errors(doc, schema, body), [])
        # the checker refuses what the description does not allow
        schema = responses["503"]["content"]["application/json"]["schema"]
        self.assertTrue(schema_errors(doc, schema, {"status": "stopping", "failing": "sns"}))
        self.assertTrue(schema_errors(doc, schema, {"status": "ready"}))


if __name__ == "__main__":
    unittest.main()
