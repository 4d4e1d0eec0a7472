"""Records the requests CloudWatch clients send, as golden inputs for TestGolden.

Usage: python3 testdata/capture.py   (from internal/metrics/cloudwatch)

A local HTTP server records each request and answers 400 with an empty body (the clients'
errors are expected and ignored). boto3 is run in its default protocol (JSON 1.0) and, by
replacing botocore's protocol priority list at run time, in query and RPC v2 CBOR; the AWS CLI
is run as a subprocess. Hand-written requests live in testdata/requests/hand-*.json and are not
touched. Each recorded request is written to testdata/requests/<name>.json.
"""
import base64
import datetime
import http.server
import json
import os
import subprocess
import threading

import boto3
import botocore
import botocore.model
from botocore.config import Config

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "requests")
UTC = datetime.timezone.utc
T0 = datetime.datetime(2024, 1, 1, tzinfo=UTC)
T1 = T0 + datetime.timedelta(hours=1)
S1 = [{"Name": "DeliveryStreamName", "Value": "s1"}]
recorded = []


class Recorder(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        n = int(self.headers.get("content-length", 0))
        recorded.append((self.command, self.path, list(self.headers.items()), self.rfile.read(n)))
        self.send_response(400)
        self.send_header("content-length", "0")
        self.end_headers()

    do_GET = do_POST

    def log_message(self, *args):
        pass


def save(name, client, method, path, headers, body):
    rec = {"client": client, "method": method, "path": path,
           "headers": {k: v for k, v in headers if k.lower() not in ("host", "content-length")}}
    ctype = dict((k.lower(), v) for k, v in headers).get("content-type", "")
    if "cbor" in ctype:
        rec["body_base64"] = base64.b64encode(body).decode()
    else:
        rec["body"] = body.decode()
    with open(os.path.join(OUT, name + ".json"), "w") as f:
        json.dump(rec, f, indent=1, sort_keys=True)
        f.write("\n")


CALLS = {
    "get-metric-statistics-sum": ("get_metric_statistics", dict(
        Namespace="AWS/Firehose", MetricName="IncomingRecords", Dimensions=S1,
        StartTime=T0, EndTime=T1, Period=60, Statistics=["Sum"])),
    "get-metric-statistics-all": ("get_metric_statistics", dict(
        Namespace="AWS/Firehose", MetricName="IncomingRecords", Dimensions=S1,
        StartTime=T0, EndTime=T1, Period=300, Unit="Count",
        Statistics=["SampleCount", "Average", "Sum", "Minimum", "Maximum"])),
    "get-metric-statistics-p99": ("get_metric_statistics", dict(
        Namespace="AWS/Firehose", MetricName="IncomingRecords", Dimensions=S1,
        StartTime=T0, EndTime=T1, Period=3600, ExtendedStatistics=["p99", "p50"])),
    "get-metric-data": ("get_metric_data", dict(
        MetricDataQueries=[
            {"Id": "records", "MetricStat": {"Metric": {"Namespace": "AWS/Firehose", "MetricName": "IncomingRecords", "Dimensions": S1}, "Period": 60, "Stat": "Sum"}},
            {"Id": "bytes", "Label": "bytes s2", "ReturnData": True, "MetricStat": {"Metric": {"Namespace": "AWS/Firehose", "MetricName": "IncomingBytes", "Dimensions": [{"Name": "DeliveryStreamName", "Value": "s2"}]}, "Period": 300, "Stat": "Average", "Unit": "Bytes"}},
            {"Id": "p", "MetricStat": {"Metric": {"Namespace": "AWS/Firehose", "MetricName": "IncomingRecords", "Dimensions": S1}, "Period": 3600, "Stat": "p99"}},
            {"Id": "hidden", "ReturnData": False, "MetricStat": {"Metric": {"Namespace": "AWS/Firehose", "MetricName": "IncomingBytes", "Dimensions": S1}, "Period": 60, "Stat": "Sum"}},
        ],
        StartTime=T0, EndTime=T1, ScanBy="TimestampAscending")),
    "list-metrics": ("list_metrics", dict(Namespace="AWS/Firehose", Dimensions=[{"Name": "DeliveryStreamName"}])),
    "list-metrics-all": ("list_metrics", {}),
    "error-missing-namespace": ("get_metric_statistics", dict(
        MetricName="IncomingRecords", StartTime=T0, EndTime=T1, Period=60, Statistics=["Sum"])),
    "error-both-statistics": ("get_metric_statistics", dict(
        Namespace="AWS/Firehose", MetricName="IncomingRecords", StartTime=T0, EndTime=T1, Period=60,
        Statistics=["Sum"], ExtendedStatistics=["p99"])),
    "error-period": ("get_metric_statistics", dict(
        Namespace="AWS/Firehose", MetricName="IncomingRecords", StartTime=T0, EndTime=T1, Period=61,
        Statistics=["Sum"])),
    "error-too-many-datapoints": ("get_metric_statistics", dict(
        Namespace="AWS/Firehose", MetricName="IncomingRecords", StartTime=T0, EndTime=T0 + datetime.timedelta(days=2),
        Period=60, Statistics=["Sum"])),
    "error-expression": ("get_metric_data", dict(
        MetricDataQueries=[{"Id": "e1", "Expression": "SUM(METRICS())"}], StartTime=T0, EndTime=T1)),
}

PROTOCOLS = {"json": "json", "query": "query", "smithy-rpc-v2-cbor": "cbor"}


def main():
    os.makedirs(OUT, exist_ok=True)
    srv = http.server.HTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    url = "http://127.0.0.1:%d" % srv.server_port
    version = "boto3 %s botocore %s" % (boto3.__version__, botocore.__version__)
    for protocol, short in PROTOCOLS.items():
        botocore.model.PRIORITY_ORDERED_SUPPORTED_PROTOCOLS = (protocol,)
        c = boto3.client("cloudwatch", endpoint_url=url, region_name="us-east-1",
                         aws_access_key_id="x", aws_secret_access_key="x",
                         config=Config(retries={"max_attempts": 1}, parameter_validation=False))
        for name, (op, args) in CALLS.items():
            recorded.clear()
            try:
                getattr(c, op)(**args)
            except Exception:
                pass
            assert len(recorded) == 1, (protocol, name, len(recorded))
            save("boto3-%s-%s" % (short, name), "%s (%s)" % (version, protocol), *recorded[0])
    env = dict(os.environ, AWS_ACCESS_KEY_ID="x", AWS_SECRET_ACCESS_KEY="x", AWS_MAX_ATTEMPTS="1",
               AWS_CONFIG_FILE="/dev/null", AWS_SHARED_CREDENTIALS_FILE="/dev/null")
    cli = subprocess.run(["aws", "--version"], capture_output=True, text=True).stdout.strip()
    for name, argv in {
        "get-metric-statistics": ["get-metric-statistics", "--namespace", "AWS/Firehose", "--metric-name", "IncomingRecords",
                                  "--dimensions", "Name=DeliveryStreamName,Value=s1", "--start-time", "2024-01-01T00:00:00Z",
                                  "--end-time", "2024-01-01T01:00:00Z", "--period", "60", "--statistics", "Sum"],
        "list-metrics": ["list-metrics", "--namespace", "AWS/Firehose"],
    }.items():
        recorded.clear()
        subprocess.run(["aws", "--endpoint-url", url, "--region", "us-east-1", "cloudwatch"] + argv,
                       env=env, capture_output=True)
        assert len(recorded) == 1, (name, len(recorded))
        save("awscli-" + name, cli, *recorded[0])
    srv.shutdown()


if __name__ == "__main__":
    main()
