"""Small helpers for the emulator checks: raw AWS JSON-protocol calls (as the C client makes
them) and botocore low-level clients, all pinned to loopback endpoints from the environment
that scripts/stack.sh env exports. Debian's /usr/bin/python3 + python3-botocore only."""

import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request

REGION = "us-east-1"
_LOOPBACK = ("127.", "localhost", "[::1]")
# Never use a proxy from the environment: every call here goes to loopback.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def endpoint(var):
    """The endpoint URL in environment variable VAR; refuses anything but loopback."""
    url = os.environ.get(var)
    if not url:
        raise RuntimeError(f"{var} is not set: run under scripts/test (or eval \"$(scripts/stack.sh env)\")")
    host = urllib.parse.urlsplit(url).netloc
    if not host.startswith(_LOOPBACK):
        raise RuntimeError(f"{var}={url} is not a loopback address")
    return url.rstrip("/")


def auth_header(service):
    # The emulators check no signature; moto picks the service from the credential scope.
    return (f"AWS4-HMAC-SHA256 Credential=test/20260101/{REGION}/{service}/aws4_request, "
            "SignedHeaders=host, Signature=00")


class AwsError(Exception):
    def __init__(self, status, body):
        self.status = status
        self.body = body
        self.type = ""
        try:
            doc = json.loads(body)
            self.type = doc.get("__type", "")
        except ValueError:
            pass
        super().__init__(f"HTTP {status}: {body[:300]!r}")


def json_call(url, service, target, payload, content_type="application/x-amz-json-1.0",
              timeout=30.0):
    """POST one JSON-protocol request to path / of URL; returns the decoded answer."""
    req = urllib.request.Request(
        url + "/", data=json.dumps(payload).encode(), method="POST",
        headers={"Content-Type": content_type, "X-Amz-Target": target,
                 "Authorization": auth_header(service),
                 "X-Amz-Date": time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())})
    try:
        with _OPENER.open(req, timeout=timeout) as resp:
            body = resp.read().decode()
    except urllib.error.HTTPError as e:
        raise AwsError(e.code, e.read().decode(errors="replace")) from None
    return json.loads(body) if body.strip() else {}


class Sqs:
    """SQS over the JSON protocol (X-Amz-Target: AmazonSQS.<Op>), the protocol our C client
    speaks; botocore 1.29 would use the query protocol instead."""

    def __init__(self, url):
        self.url = url

    def call(self, op, payload, timeout=30.0):
        return json_call(self.url, "sqs", "AmazonSQS." + op, payload, timeout=timeout)

    def create_queue(self, name, attributes=None):
        payload = {"QueueName": name}
        if attributes:
            payload["Attributes"] = {k: str(v) for k, v in attributes.items()}
        return self.call("CreateQueue", payload)["QueueUrl"]

    def queue_arn(self, queue_url):
        attrs = self.call("GetQueueAttributes", {"QueueUrl": queue_url,
                                                 "AttributeNames": ["QueueArn"]})["Attributes"]
        return attrs["QueueArn"]

    def send(self, queue_url, body, attributes=None):
        payload = {"QueueUrl": queue_url, "MessageBody": body}
        if attributes:
            payload["MessageAttributes"] = {
                k: {"DataType": "String", "StringValue": v} for k, v in attributes.items()}
        return self.call("SendMessage", payload)

    def receive(self, queue_url, wait=0, max_messages=10, visibility=None):
        payload = {"QueueUrl": queue_url, "MaxNumberOfMessages": max_messages,
                   "WaitTimeSeconds": wait, "MessageAttributeNames": ["All"],
                   "AttributeNames": ["All"], "MessageSystemAttributeNames": ["All"]}
        if visibility is not None:
            payload["VisibilityTimeout"] = visibility
        return self.call("ReceiveMessage", payload, timeout=wait + 10).get("Messages", [])

    def delete(self, queue_url, receipt_handle):
        return self.call("DeleteMessage", {"QueueUrl": queue_url, "ReceiptHandle": receipt_handle})

    def receive_until(self, queue_url, count, timeout, wait=1):
        """Receive until COUNT messages came or TIMEOUT seconds passed; deletes them."""
        got = []
        deadline = time.monotonic() + timeout
        while len(got) < count and time.monotonic() < deadline:
            for m in self.receive(queue_url, wait=wait):
                got.append(m)
                self.delete(queue_url, m["ReceiptHandle"])
        return got


def client(service, url):
    """A botocore low-level client on URL with static test credentials."""
    import botocore.config
    import botocore.session
    session = botocore.session.get_session()
    return session.create_client(
        service, endpoint_url=url, region_name=REGION,
        aws_access_key_id="test", aws_secret_access_key="test",
        config=botocore.config.Config(retries={"max_attempts": 1}, connect_timeout=5,
                                      read_timeout=30, proxies={}))
