"""The AWS SDK Firehose scenario's metric check, with boto3, against Hydrant.

Puts known records, then reads IncomingRecords and IncomingBytes with
cloudwatch.get_metric_statistics exactly as the scenario does, and prints the sums as JSON.
"""
import json
import sys
import time
from datetime import datetime, timedelta, timezone

import boto3

endpoint, stream = sys.argv[1], sys.argv[2]
kw = dict(endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
firehose = boto3.client("firehose", **kw)
cloudwatch = boto3.client("cloudwatch", **kw)

firehose.create_delivery_stream(
    DeliveryStreamName=stream,
    ExtendedS3DestinationConfiguration={"RoleARN": "arn:aws:iam::000000000000:role/r", "BucketARN": "arn:aws:s3:::scenario"},
)
while firehose.describe_delivery_stream(DeliveryStreamName=stream)["DeliveryStreamDescription"]["DeliveryStreamStatus"] != "ACTIVE":
    time.sleep(0.05)

records = [json.dumps({"id": i, "note": "x" * (i % 17)}).encode() + b"\n" for i in range(120)]
for r in records[:20]:
    firehose.put_record(DeliveryStreamName=stream, Record={"Data": r})
for i in range(20, len(records), 50):
    out = firehose.put_record_batch(DeliveryStreamName=stream, Records=[{"Data": r} for r in records[i:i + 50]])
    assert out["FailedPutCount"] == 0, out

now = datetime.now(timezone.utc)
sums = {"put_records": len(records), "put_bytes": sum(len(r) for r in records)}
for name in ("IncomingRecords", "IncomingBytes"):
    resp = cloudwatch.get_metric_statistics(
        Namespace="AWS/Firehose",
        MetricName=name,
        Dimensions=[{"Name": "DeliveryStreamName", "Value": stream}],
        StartTime=now - timedelta(minutes=10),
        EndTime=now + timedelta(minutes=1),
        Period=60,
        Statistics=["Sum"],
    )
    sums[name] = sum(dp["Sum"] for dp in resp["Datapoints"])
print(json.dumps(sums))
