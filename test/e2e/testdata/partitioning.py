"""Dynamic partitioning through boto3, as a Firehose user writes it.

Run by TestDynamicPartitioningBoto3 (partitioning_test.go):

    python3 testdata/partitioning.py HYDRANT_URL BUCKET

Creates two delivery streams to arn:aws:s3:::BUCKET, one partitioned by a JQ query
(MetadataExtraction) and one by the MetadataExtractor Lambda, waits until both are ACTIVE,
puts records, and prints one JSON object to stdout: for each stream the records it sent (as
text) and the index of those that must fail processing. The Go test flushes and checks MinIO.
"""

import datetime
import json
import sys
import time

import boto3

ROLE = "arn:aws:iam::000000000000:role/firehose"
LAMBDA_ARN = "arn:aws:lambda:us-east-1:000000000000:function:MetadataExtractor"
ERROR_PREFIX = "errors/!{firehose:error-output-type}/"


def params(**kv):
    return [{"ParameterName": k, "ParameterValue": v} for k, v in kv.items()]


def destination(bucket, prefix, processors):
    return {
        "RoleARN": ROLE,
        "BucketARN": "arn:aws:s3:::" + bucket,
        "Prefix": prefix,
        "ErrorOutputPrefix": ERROR_PREFIX,
        "BufferingHints": {"SizeInMBs": 64, "IntervalInSeconds": 60},
        "DynamicPartitioningConfiguration": {"Enabled": True, "RetryOptions": {"DurationInSeconds": 300}},
        "ProcessingConfiguration": {"Enabled": True, "Processors": processors},
    }


def wait_active(fh, name):
    deadline = time.monotonic() + 30
    while True:
        status = fh.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"]["DeliveryStreamStatus"]
        if status == "ACTIVE":
            return
        if time.monotonic() > deadline:
            raise SystemExit(f"{name}: still {status} after 30 s")
        time.sleep(0.1)


def put(fh, name, records):
    out = fh.put_record_batch(DeliveryStreamName=name, Records=[{"Data": r.encode()} for r in records])
    if out["FailedPutCount"] != 0 or len(out["RequestResponses"]) != len(records):
        raise SystemExit(f"{name}: put_record_batch: {out}")


def epoch(s):
    return int(datetime.datetime.fromisoformat(s).replace(tzinfo=datetime.timezone.utc).timestamp())


def main():
    url, bucket = sys.argv[1], sys.argv[2]
    fh = boto3.client("firehose", endpoint_url=url, region_name="us-east-1",
                      aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret")

    # (a) partition keys from a JQ query; customer_id 300 is a number, rendered "300".
    fh.create_delivery_stream(
        DeliveryStreamName="by-customer",
        DeliveryStreamType="DirectPut",
        ExtendedS3DestinationConfiguration=destination(
            bucket, "customer_id=!{partitionKeyFromQuery:customer_id}/", [
                {"Type": "MetadataExtraction", "Parameters": params(
                    MetadataExtractionQuery="{customer_id:.customer_id}", JsonParsingEngine="JQ-1.6")},
                {"Type": "AppendDelimiterToRecord", "Parameters": []},
            ]))
    wait_active(fh, "by-customer")
    customers = []
    for i in range(4):
        for cid in ("alice", "bob", 300):
            customers.append(json.dumps({"customer_id": cid, "seq": i, "item": f"sku-{i}"}))
    customers.append("this record is not JSON")
    put(fh, "by-customer", customers)

    # (b) partition keys from the Lambda; records carry their own newline.
    fh.create_delivery_stream(
        DeliveryStreamName="by-lambda",
        DeliveryStreamType="DirectPut",
        ExtendedS3DestinationConfiguration=destination(
            bucket,
            "region=!{partitionKeyFromLambda:region}/device=!{partitionKeyFromLambda:device}/"
            "year=!{partitionKeyFromLambda:year}/month=!{partitionKeyFromLambda:month}/"
            "day=!{partitionKeyFromLambda:day}/hour=!{partitionKeyFromLambda:hour}/", [
                {"Type": "Lambda", "Parameters": params(LambdaArn=LAMBDA_ARN, NumberOfRetries="1")},
            ]))
    wait_active(fh, "by-lambda")
    events = [
        {"region": "us-east-1", "type": {"device": "mobile", "event": "view"}, "event_timestamp": epoch("2026-11-20T07:30:00")},
        {"region": "us-east-1", "type": {"device": "mobile", "event": "buy"}, "event_timestamp": epoch("2026-11-20T08:10:00")},
        {"region": "us-east-1", "type": {"device": "mobile", "event": "view"}, "event_timestamp": epoch("2026-11-20T07:59:59")},
        {"region": "eu-west-1", "device": "desktop", "event_timestamp": epoch("2026-11-20T07:45:00")},
        {"region": "eu-west-1", "device": "desktop", "event_timestamp": "2026-11-20T09:05:00Z"},
        {"region": "eu-west-1", "device": "desktop", "event_timestamp": epoch("2026-11-20T23:00:00")},
    ]
    lambda_records = [json.dumps(e) + "\n" for e in events]
    lambda_records.append(json.dumps({"region": "us-east-1", "device": "mobile"}) + "\n")  # no event_timestamp
    put(fh, "by-lambda", lambda_records)

    json.dump({
        "by-customer": {"records": customers, "failing": [len(customers) - 1]},
        "by-lambda": {"records": lambda_records, "failing": [len(lambda_records) - 1]},
    }, sys.stdout)


if __name__ == "__main__":
    main()
