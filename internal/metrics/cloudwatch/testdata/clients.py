"""Runs real botocore clients against a Hydrant CloudWatch endpoint and prints what they parsed.

Usage: clients.py ENDPOINT_URL

botocore picks JSON 1.0 for CloudWatch; the query and RPC v2 CBOR runs replace botocore's
protocol priority list at run time, so every run uses botocore's own serializers and parsers.
Prints one JSON object: {protocol: {call: result}}.
"""
import datetime
import json
import sys

import boto3
import botocore.model
from botocore.config import Config
from botocore.exceptions import ClientError

UTC = datetime.timezone.utc
T0 = datetime.datetime(2024, 1, 1, tzinfo=UTC)
S1 = [{"Name": "DeliveryStreamName", "Value": "s1"}]


def plain(v):
    if isinstance(v, datetime.datetime):
        return v.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(v, dict):
        return {k: plain(x) for k, x in v.items() if k != "ResponseMetadata"}
    if isinstance(v, list):
        return [plain(x) for x in v]
    return v


def run(endpoint, protocol):
    botocore.model.PRIORITY_ORDERED_SUPPORTED_PROTOCOLS = (protocol,)
    c = boto3.client(
        "cloudwatch", endpoint_url=endpoint, region_name="us-east-1",
        aws_access_key_id="x", aws_secret_access_key="x",
        config=Config(retries={"max_attempts": 1}),
    )
    assert c.meta.service_model.resolved_protocol == protocol, c.meta.service_model.resolved_protocol
    out = {}
    out["get_metric_statistics"] = plain(c.get_metric_statistics(
        Namespace="AWS/Firehose", MetricName="IncomingRecords", Dimensions=S1,
        StartTime=T0, EndTime=T0 + datetime.timedelta(hours=1), Period=60, Statistics=["Sum"]))
    out["get_metric_statistics_all"] = plain(c.get_metric_statistics(
        Namespace="AWS/Firehose", MetricName="IncomingRecords", Dimensions=S1,
        StartTime=T0, EndTime=T0 + datetime.timedelta(hours=1), Period=300,
        Statistics=["SampleCount", "Average", "Sum", "Minimum", "Maximum"]))
    out["get_metric_statistics_p99"] = plain(c.get_metric_statistics(
        Namespace="AWS/Firehose", MetricName="IncomingRecords", Dimensions=S1,
        StartTime=T0, EndTime=T0 + datetime.timedelta(hours=1), Period=3600, ExtendedStatistics=["p99"]))
    out["get_metric_data"] = plain(c.get_metric_data(
        MetricDataQueries=[
            {"Id": "records", "MetricStat": {"Metric": {"Namespace": "AWS/Firehose", "MetricName": "IncomingRecords", "Dimensions": S1}, "Period": 60, "Stat": "Sum"}},
            {"Id": "bytes", "Label": "bytes s2", "MetricStat": {"Metric": {"Namespace": "AWS/Firehose", "MetricName": "IncomingBytes", "Dimensions": [{"Name": "DeliveryStreamName", "Value": "s2"}]}, "Period": 300, "Stat": "Average", "Unit": "Bytes"}},
            {"Id": "hidden", "ReturnData": False, "MetricStat": {"Metric": {"Namespace": "AWS/Firehose", "MetricName": "IncomingBytes", "Dimensions": S1}, "Period": 60, "Stat": "Sum"}},
        ],
        StartTime=T0, EndTime=T0 + datetime.timedelta(hours=1)))
    out["list_metrics"] = plain(c.list_metrics(Namespace="AWS/Firehose", Dimensions=[{"Name": "DeliveryStreamName", "Value": "s1"}]))
    try:
        c.get_metric_statistics(
            Namespace="AWS/Firehose", MetricName="IncomingRecords",
            StartTime=T0, EndTime=T0 + datetime.timedelta(days=2), Period=60, Statistics=["Sum"])
        out["too_many_datapoints"] = "no error"
    except ClientError as e:
        out["too_many_datapoints"] = {"Code": e.response["Error"]["Code"], "Message": e.response["Error"]["Message"],
                                      "HTTPStatusCode": e.response["ResponseMetadata"]["HTTPStatusCode"]}
    return out


def main():
    endpoint = sys.argv[1]
    print(json.dumps({p: run(endpoint, p) for p in ("json", "query", "smithy-rpc-v2-cbor")}, indent=1, sort_keys=True))


if __name__ == "__main__":
    main()
