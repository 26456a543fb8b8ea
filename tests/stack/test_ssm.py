"""SSM SecureString as the RDS password fallback uses it, against moto: PutParameter, then
GetParameter WithDecryption over the JSON 1.1 protocol returns the plain value."""

import unittest
import uuid

from awsraw import AwsError, client, endpoint, json_call


class MotoSsm(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.url = endpoint("AWS_ENDPOINT_URL_SSM")
        cls.ssm = client("ssm", cls.url)

    def get(self, name, decrypt=True):
        return json_call(self.url, "ssm", "AmazonSSM.GetParameter", {"Name": name, "WithDecryption": decrypt},
                         content_type="application/x-amz-json-1.1")

    def test_secure_string_with_decryption(self):
        name = f"/medical-appointment/stackcheck{uuid.uuid4().hex[:8]}/rds/password"
        self.ssm.put_parameter(Name=name, Value="s3cr3t p@ss", Type="SecureString", Overwrite=True)
        p = self.get(name)["Parameter"]
        self.assertEqual(p["Type"], "SecureString")
        self.assertEqual(p["Value"], "s3cr3t p@ss")
        # without decryption the value is not the plain text
        self.assertNotEqual(self.get(name, decrypt=False)["Parameter"]["Value"], "s3cr3t p@ss")

    def test_missing_parameter(self):
        with self.assertRaises(AwsError) as ctx:
            self.get(f"/medical-appointment/stackcheck-missing-{uuid.uuid4().hex[:8]}")
        self.assertEqual(ctx.exception.status, 400)
        self.assertTrue(ctx.exception.type.endswith("ParameterNotFound"), ctx.exception.body)


if __name__ == "__main__":
    unittest.main()
