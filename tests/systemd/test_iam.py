#!/usr/bin/python3
"""docs/iam/*.json (suite unit): one least-privilege IAM policy per binary. Each parses, has
Version 2012-10-17, never grants a wildcard action, names resources by the SPEC §4 names (no
bare "*" except for the one action AWS cannot scope), and grants what its binary calls and
nothing of the others' jobs."""
import json
import os
import re
import unittest

SRC = os.path.abspath(os.environ.get("APPT_SOURCE_ROOT", "."))
IAM = os.path.join(SRC, "docs", "iam")
# Actions AWS gives no resource-level permission, so "Resource": "*" is the only form.
UNSCOPABLE = {"events:ListRules"}
NAME = "medical-appointment"
POLICIES = {
    "appointment-api": {
        "must": {"dynamodb:PutItem", "dynamodb:Query", "dynamodb:GetItem", "sns:Publish",
                 "dynamodb:UpdateItem", "ssm:GetParameter",
                 # the create's transaction checks the Idempotency-Key claim (idem_fence)
                 "dynamodb:ConditionCheckItem",
                 # the look at a topic before publishing (publish_topic_subscribed)
                 "sns:GetTopicAttributes", "sns:ListSubscriptionsByTopic"},
        "never": {"sqs:", "events:", "dynamodb:DeleteTable", "dynamodb:CreateTable",
                  "ssm:PutParameter"},
    },
    "appointment-worker": {
        "must": {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility",
                 "dynamodb:UpdateItem", "events:PutEvents", "ssm:GetParameter"},
        "never": {"sns:", "dynamodb:PutItem", "dynamodb:DeleteItem", "dynamodb:CreateTable",
                  "sqs:SendMessage", "sqs:DeleteQueue", "ssm:PutParameter"},
    },
    "appointment-completion": {
        "must": {"sqs:ReceiveMessage", "sqs:DeleteMessage", "dynamodb:UpdateItem",
                 "events:PutEvents"},
        "never": {"sns:", "ssm:", "kms:", "dynamodb:PutItem", "dynamodb:DeleteItem",
                  "sqs:SendMessage"},
    },
    "appointmentctl": {
        "must": {"dynamodb:CreateTable", "sqs:CreateQueue", "sns:CreateTopic",
                 "sns:Subscribe", "events:CreateEventBus", "events:PutRule",
                 "events:PutTargets", "ssm:PutParameter", "sqs:SendMessage",
                 "sqs:ReceiveMessage", "sqs:GetQueueAttributes", "sns:Publish",
                 "dynamodb:Query", "dynamodb:DeleteTable", "events:PutEvents",
                 # reconcile's look at a topic before publishing (publish_topic_subscribed)
                 "sns:GetTopicAttributes", "sns:ListSubscriptionsByTopic"},
        "never": {"iam:", "dynamodb:Scan"},
    },
}


def as_list(v):
    return v if isinstance(v, list) else [v]


class IamPoliciesTest(unittest.TestCase):
    def load(self, name):
        with open(os.path.join(IAM, name + ".json"), encoding="utf-8") as f:
            return json.load(f)

    def test_every_file_is_known(self):
        files = {f[:-5] for f in os.listdir(IAM) if f.endswith(".json")}
        self.assertEqual(files, set(POLICIES))

    def test_policies(self):
        for name, want in POLICIES.items():
            with self.subTest(policy=name):
                doc = self.load(name)
                self.assertEqual(doc["Version"], "2012-10-17")
                self.assertEqual(set(doc) - {"Version", "Statement"}, set())
                sids, actions = set(), set()
                for st in doc["Statement"]:
                    self.assertEqual(st["Effect"], "Allow")
                    self.assertNotIn(st["Sid"], sids)
                    sids.add(st["Sid"])
                    self.assertNotIn("NotAction", st)
                    self.assertNotIn("NotResource", st)
                    acts = as_list(st["Action"])
                    for a in acts:
                        self.assertRegex(a, r"^[a-z0-9]+:[A-Za-z]+$", "wildcard or bad action")
                    actions.update(acts)
                    for res in as_list(st["Resource"]):
                        if res == "*":
                            self.assertTrue(set(acts) <= UNSCOPABLE, st["Sid"])
                            continue
                        self.assertRegex(res, r"^arn:aws:(dynamodb|sqs|sns|events|ssm|kms):")
                        service = res.split(":")[2]
                        for a in acts:
                            self.assertEqual(a.split(":")[0], service, "%s on %s" % (a, res))
                        if service != "kms":
                            self.assertIn(NAME, res, "not scoped to SPEC §4 names")
                        else:
                            # kms only through SSM, only for the password parameter.
                            cond = st["Condition"]["StringLike"]
                            self.assertEqual(cond["kms:ViaService"], "ssm.*.amazonaws.com")
                            self.assertIn("/rds/password", cond["kms:EncryptionContext:PARAMETER_ARN"])
                missing = want["must"] - actions
                self.assertEqual(missing, set(), "%s lacks %s" % (name, missing))
                for prefix in want["never"]:
                    self.assertFalse([a for a in actions if a.startswith(prefix)],
                                     "%s must not have %s" % (name, prefix))

    def test_worker_queues_exclude_completion_and_error(self):
        # ?? = a two-letter country code: completion/error queues do not match.
        pattern = [r for st in self.load("appointment-worker")["Statement"]
                   for r in as_list(st["Resource"]) if r.startswith("arn:aws:sqs")]
        self.assertEqual(len(pattern), 1)
        rx = "^" + re.escape(pattern[0].split(":")[-1]).replace(r"\?", ".").replace(r"\*", ".*") + "$"
        base = "medical-appointment-scheduling-appointments-"
        self.assertRegex(base + "pe-prod", rx)
        self.assertNotRegex(base + "completion-prod", rx)
        self.assertNotRegex(base + "error-prod", rx)


if __name__ == "__main__":
    unittest.main(verbosity=2)
