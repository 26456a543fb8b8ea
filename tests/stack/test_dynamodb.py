"""DynamoDB Local as the appointments table uses it: CreateTable with a GSI and a stream,
conditional writes (ConditionalCheckFailedException in the JSON error shape), Query on the GSI
newest first with pagination, conditional status updates, atomic ADD counters."""

import time
import unittest
import uuid

from awsraw import AwsError, client, endpoint, json_call


class DynamoDBLocal(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.url = endpoint("AWS_ENDPOINT_URL_DYNAMODB")
        cls.ddb = client("dynamodb", cls.url)
        cls.table = f"stackcheck-{uuid.uuid4().hex[:10]}"
        cls.ddb.create_table(
            TableName=cls.table, BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"}
                                  for n in ("appointmentId", "insuredId", "createdAt")],
            KeySchema=[{"AttributeName": "appointmentId", "KeyType": "HASH"}],
            GlobalSecondaryIndexes=[{
                "IndexName": "insuredId-createdAt-index",
                "KeySchema": [{"AttributeName": "insuredId", "KeyType": "HASH"},
                              {"AttributeName": "createdAt", "KeyType": "RANGE"}],
                "Projection": {"ProjectionType": "ALL"}}],
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})
        deadline = time.monotonic() + 10
        while cls.ddb.describe_table(TableName=cls.table)["Table"]["TableStatus"] != "ACTIVE":
            if time.monotonic() > deadline:
                raise AssertionError("table not ACTIVE after 10 s")
            time.sleep(0.2)

    def call(self, op, payload):
        return json_call(self.url, "dynamodb", "DynamoDB_20120810." + op, payload)

    def put_new(self, item):
        return self.call("PutItem", {"TableName": self.table, "Item": item,
                                     "ConditionExpression": "attribute_not_exists(appointmentId)"})

    def test_table_has_gsi_and_stream(self):
        t = self.ddb.describe_table(TableName=self.table)["Table"]
        self.assertEqual([g["IndexName"] for g in t["GlobalSecondaryIndexes"]], ["insuredId-createdAt-index"])
        self.assertEqual(t["StreamSpecification"]["StreamViewType"], "NEW_AND_OLD_IMAGES")
        self.assertEqual(t["BillingModeSummary"]["BillingMode"], "PAY_PER_REQUEST")

    def test_conditional_put_fails_on_existing_item(self):
        item = {"appointmentId": {"S": str(uuid.uuid4())}, "insuredId": {"S": "00001"},
                "createdAt": {"S": "2026-11-25T13:45:26.123Z"}, "status": {"S": "pending"}}
        self.put_new(item)
        with self.assertRaises(AwsError) as ctx:
            self.put_new(item)
        self.assertEqual(ctx.exception.status, 400)
        self.assertEqual(ctx.exception.type,
                         "com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException")

    def test_query_gsi_newest_first_with_pages(self):
        insured = f"9{uuid.uuid4().int % 10000:04d}"
        stamps = [f"2026-11-2{d}T10:00:00.000Z" for d in range(1, 6)]
        for s in stamps:
            self.put_new({"appointmentId": {"S": str(uuid.uuid4())}, "insuredId": {"S": insured},
                          "createdAt": {"S": s}, "status": {"S": "pending"}})
        self.put_new({"appointmentId": {"S": str(uuid.uuid4())}, "insuredId": {"S": "00002"},
                      "createdAt": {"S": stamps[0]}, "status": {"S": "pending"}})
        seen, start, pages = [], None, 0
        while True:
            q = {"TableName": self.table, "IndexName": "insuredId-createdAt-index",
                 "KeyConditionExpression": "insuredId = :i AND createdAt BETWEEN :a AND :b",
                 "ExpressionAttributeValues": {":i": {"S": insured}, ":a": {"S": stamps[1]},
                                               ":b": {"S": stamps[4]}},
                 "ScanIndexForward": False, "Limit": 2}
            if start:
                q["ExclusiveStartKey"] = start
            out = self.call("Query", q)
            pages += 1
            seen += [i["createdAt"]["S"] for i in out["Items"]]
            start = out.get("LastEvaluatedKey")
            if not start:
                break
            self.assertLess(pages, 10)
        self.assertEqual(seen, list(reversed(stamps[1:])))
        self.assertGreaterEqual(pages, 2)

    def test_conditional_status_update(self):
        aid = str(uuid.uuid4())
        self.put_new({"appointmentId": {"S": aid}, "insuredId": {"S": "00003"},
                      "createdAt": {"S": "2026-11-25T13:45:26.123Z"}, "status": {"S": "pending"}})
        upd = {"TableName": self.table, "Key": {"appointmentId": {"S": aid}},
               "UpdateExpression": "SET #s = :new, processedAt = :t",
               "ConditionExpression": "#s = :old",
               "ExpressionAttributeNames": {"#s": "status"},
               "ExpressionAttributeValues": {":new": {"S": "processed"}, ":old": {"S": "pending"},
                                             ":t": {"S": "2026-11-25T13:45:27.000Z"}},
               "ReturnValues": "ALL_NEW"}
        self.assertEqual(self.call("UpdateItem", upd)["Attributes"]["status"]["S"], "processed")
        with self.assertRaises(AwsError) as ctx:
            self.call("UpdateItem", upd)
        self.assertTrue(ctx.exception.type.endswith("#ConditionalCheckFailedException"))

    def test_atomic_add_counter(self):
        key = {"appointmentId": {"S": f"quota-{uuid.uuid4()}"}}
        for n in (1, 2, 3):
            out = self.call("UpdateItem", {"TableName": self.table, "Key": key,
                                           "UpdateExpression": "ADD #c :one",
                                           "ExpressionAttributeNames": {"#c": "count"},
                                           "ExpressionAttributeValues": {":one": {"N": "1"}},
                                           "ReturnValues": "UPDATED_NEW"})
            self.assertEqual(out["Attributes"]["count"]["N"], str(n))

    def test_missing_table_error_shape(self):
        with self.assertRaises(AwsError) as ctx:
            self.call("DescribeTable", {"TableName": f"stackcheck-missing-{uuid.uuid4().hex[:8]}"})
        self.assertEqual(ctx.exception.status, 400)
        self.assertEqual(ctx.exception.type, "com.amazonaws.dynamodb.v20120810#ResourceNotFoundException")


if __name__ == "__main__":
    unittest.main()
