"""Signs requests with botocore's SigV4Auth for the Go tests (botocore_test.go).

Reads a JSON list of requests on stdin, each {"method", "url", "headers": [[name, value], ...],
"body" (base64), "access_key", "secret_key", "token", "region", "service", "time"
(yyyymmddTHHMMSSZ)}, and prints a JSON list of the signed headers ([[name, value], ...]).
"""
import base64
import datetime
import json
import sys

import botocore
import botocore.auth
import botocore.awsrequest
import botocore.credentials


def sign(r):
    now = datetime.datetime.strptime(r["time"], "%Y%m%dT%H%M%SZ")
    # SigV4Auth.add_auth takes its time from botocore.auth.get_current_datetime: freeze it.
    botocore.auth.get_current_datetime = lambda *args, **kwargs: now
    creds = botocore.credentials.Credentials(r["access_key"], r["secret_key"], r.get("token") or None)
    req = botocore.awsrequest.AWSRequest(method=r["method"], url=r["url"], data=base64.b64decode(r["body"] or ""))
    for name, value in r["headers"]:
        req.headers[name] = value  # HTTPHeaders appends: repeated names stay repeated
    botocore.auth.SigV4Auth(creds, r["service"], r["region"]).add_auth(req)
    return [[k, v] for k, v in req.headers.items()]


if __name__ == "__main__":
    json.dump({"version": botocore.__version__, "signed": [sign(r) for r in json.load(sys.stdin)]}, sys.stdout)
