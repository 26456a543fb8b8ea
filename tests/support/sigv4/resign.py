#!/usr/bin/python3
"""Re-sign a captured HTTP request with botocore and print the Authorization header.

Usage: resign.py REQUEST_FILE SECRET_ACCESS_KEY

REQUEST_FILE holds the raw request bytes our C client sent (request line, headers, blank
line, body). The access key id, date, region and service come from the captured
Authorization header's credential scope; the session token (if any) from the captured
X-Amz-Security-Token header. botocore 1.29 takes the signing time from
datetime.datetime.utcnow(), so it is frozen to the captured X-Amz-Date. The request is
rebuilt with exactly the headers named in SignedHeaders (less x-amz-date, which botocore
adds itself). Run with Debian's /usr/bin/python3 and python3-botocore.
"""
import datetime
import sys

import botocore.auth
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials


def parse(raw):
    head, sep, body = raw.partition(b"\r\n\r\n")
    if not sep:
        raise SystemExit("resign.py: no end of headers in the captured request")
    lines = head.decode("latin-1").split("\r\n")
    method, target, _version = lines[0].split(" ", 2)
    headers = {}
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if not colon:
            raise SystemExit("resign.py: bad header line %r" % line)
        lname = name.strip().lower()
        if lname in headers:
            raise SystemExit("resign.py: repeated header %s" % lname)
        headers[lname] = value.strip()
    return method, target, headers, body


def main():
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    with open(sys.argv[1], "rb") as f:
        method, target, headers, body = parse(f.read())
    secret = sys.argv[2]

    auth = headers["authorization"]
    algo, _, rest = auth.partition(" ")
    if algo != "AWS4-HMAC-SHA256":
        raise SystemExit("resign.py: unexpected algorithm %s" % algo)
    fields = dict(p.strip().split("=", 1) for p in rest.split(","))
    access_key, _day, region, service, _term = fields["Credential"].split("/")
    signed = fields["SignedHeaders"].split(";")
    amz_date = headers["x-amz-date"]

    class FrozenDatetime(datetime.datetime):
        @classmethod
        def utcnow(cls):
            return cls.strptime(amz_date, "%Y%m%dT%H%M%SZ")

    botocore.auth.datetime.datetime = FrozenDatetime

    req_headers = {}
    for name in signed:
        if name == "x-amz-date":
            continue
        req_headers[name] = headers[name]
    url = "http://%s%s" % (headers["host"], target)
    request = AWSRequest(method=method, url=url, data=body, headers=req_headers)
    token = headers.get("x-amz-security-token")
    SigV4Auth(Credentials(access_key, secret, token), service, region).add_auth(request)
    print(request.headers["Authorization"])


if __name__ == "__main__":
    main()
