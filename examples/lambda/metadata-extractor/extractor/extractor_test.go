package extractor_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/go-cmp/cmp"

	"github.com/hydrant-dev/hydrant/examples/lambda/metadata-extractor/extractor"
)

func keys(region, device, year, month, day, hour string) map[string]string {
	return map[string]string{"region": region, "device": device, "year": year, "month": month, "day": day, "hour": hour}
}

func TestPartitionKeys(t *testing.T) {
	tests := []struct {
		name string
		data string
		want map[string]string // nil: ProcessingFailed
	}{
		// The seed's sample record: 1565382027 is 2019-08-09T20:20:27Z.
		{"seed sample", `{"type":{"device":"mobile","event":"view"},"customer_id":"123456789012","event_timestamp":1565382027,"region":"us-east-1"}`,
			keys("us-east-1", "mobile", "2019", "08", "09", "20")},
		{"device at top level", `{"device":"tablet","event_timestamp":1565382027,"region":"eu-west-1"}`,
			keys("eu-west-1", "tablet", "2019", "08", "09", "20")},
		{"device_id string", `{"device_id":"d-42","event_timestamp":1565382027,"region":"eu-west-1"}`,
			keys("eu-west-1", "d-42", "2019", "08", "09", "20")},
		{"device_id number", `{"device_id":42,"event_timestamp":1565382027,"region":"eu-west-1"}`,
			keys("eu-west-1", "42", "2019", "08", "09", "20")},
		{"type.device wins over device", `{"type":{"device":"mobile"},"device":"pc","event_timestamp":0,"region":"r"}`,
			keys("r", "mobile", "1970", "01", "01", "00")},
		{"type without device falls back", `{"type":{"event":"view"},"device":"pc","event_timestamp":0,"region":"r"}`,
			keys("r", "pc", "1970", "01", "01", "00")},
		{"numeric string timestamp", `{"device":"pc","event_timestamp":"1704067199","region":"r"}`,
			keys("r", "pc", "2023", "12", "31", "23")},
		{"fractional timestamp", `{"device":"pc","event_timestamp":1704067199.999,"region":"r"}`,
			keys("r", "pc", "2023", "12", "31", "23")},
		{"RFC 3339 with offset is converted to UTC", `{"device":"pc","event_timestamp":"2024-03-01T01:30:00+02:00","region":"r"}`,
			keys("r", "pc", "2024", "02", "29", "23")},
		{"RFC 3339 fractional", `{"device":"pc","event_timestamp":"2024-03-01T05:06:07.123Z","region":"r"}`,
			keys("r", "pc", "2024", "03", "01", "05")},
		{"trailing newline (AppendDelimiterToRecord)", "{\"device\":\"pc\",\"event_timestamp\":0,\"region\":\"r\"}\n",
			keys("r", "pc", "1970", "01", "01", "00")},
		{"not JSON", `device=pc region=r`, nil},
		{"JSON array", `[{"device":"pc","event_timestamp":0,"region":"r"}]`, nil},
		{"JSON null", `null`, nil},
		{"two objects", `{"device":"pc","event_timestamp":0,"region":"r"}{"a":1}`, nil},
		{"no region", `{"device":"pc","event_timestamp":0}`, nil},
		{"empty region", `{"device":"pc","event_timestamp":0,"region":""}`, nil},
		{"region not a string", `{"device":"pc","event_timestamp":0,"region":1}`, nil},
		{"no device", `{"event_timestamp":0,"region":"r"}`, nil},
		{"device is an object", `{"device":{"x":1},"event_timestamp":0,"region":"r"}`, nil},
		{"no timestamp", `{"device":"pc","region":"r"}`, nil},
		{"timestamp not a date", `{"device":"pc","event_timestamp":"yesterday","region":"r"}`, nil},
		{"timestamp is a bool", `{"device":"pc","event_timestamp":true,"region":"r"}`, nil},
		{"timestamp in milliseconds is refused", `{"device":"pc","event_timestamp":1565382027000000,"region":"r"}`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := extractor.PartitionKeys([]byte(tt.data))
			if (err != nil) != (tt.want == nil) {
				t.Fatalf("PartitionKeys(%s) error = %v, want error %t", tt.data, err, tt.want == nil)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("PartitionKeys(%s) mismatch (-want +got):\n%s", tt.data, diff)
			}
		})
	}
}

func TestHandle(t *testing.T) {
	ok := []byte(`{"type":{"device":"mobile"},"event_timestamp":1565382027,"region":"us-east-1"}`)
	bad := []byte(`not json`)
	tests := []struct {
		name string
		in   []events.KinesisFirehoseEventRecord
		want []events.KinesisFirehoseResponseRecord
	}{
		{"empty batch", nil, []events.KinesisFirehoseResponseRecord{}},
		{"ok and failed keep order, ids and data",
			[]events.KinesisFirehoseEventRecord{{RecordID: "a", Data: ok}, {RecordID: "b", Data: bad}, {RecordID: "c", Data: ok}},
			[]events.KinesisFirehoseResponseRecord{
				{RecordID: "a", Result: events.KinesisFirehoseTransformedStateOk, Data: ok,
					Metadata: events.KinesisFirehoseResponseRecordMetadata{PartitionKeys: keys("us-east-1", "mobile", "2019", "08", "09", "20")}},
				{RecordID: "b", Result: events.KinesisFirehoseTransformedStateProcessingFailed, Data: bad},
				{RecordID: "c", Result: events.KinesisFirehoseTransformedStateOk, Data: ok,
					Metadata: events.KinesisFirehoseResponseRecordMetadata{PartitionKeys: keys("us-east-1", "mobile", "2019", "08", "09", "20")}},
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := extractor.Handle(context.Background(), events.KinesisFirehoseEvent{InvocationID: "inv", Records: tt.in})
			if err != nil {
				t.Fatalf("Handle: %v", err)
			}
			if diff := cmp.Diff(events.KinesisFirehoseResponse{Records: tt.want}, got); diff != "" {
				t.Errorf("Handle mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestHandleWire decodes a Firehose invocation payload (base64 data, epoch-ms timestamps) the
// way the Lambda runtime does and checks the JSON the function returns.
func TestHandleWire(t *testing.T) {
	in := `{"invocationId":"00540a87-5050-496a-84e4-e7d92bbaf5e2","deliveryStreamArn":"arn:aws:firehose:us-east-1:123456789012:deliverystream/PUT-S3-lambda","region":"us-east-1",
	"records":[{"recordId":"49546986683135544286507457936321625675700192471156785154","approximateArrivalTimestamp":1565382027000,
	"data":"eyJ0eXBlIjp7ImRldmljZSI6Im1vYmlsZSJ9LCJldmVudF90aW1lc3RhbXAiOjE1NjUzODIwMjcsInJlZ2lvbiI6InVzLWVhc3QtMSJ9"}]}`
	var ev events.KinesisFirehoseEvent
	if err := json.Unmarshal([]byte(in), &ev); err != nil {
		t.Fatal(err)
	}
	resp, err := extractor.Handle(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	out, err := json.Marshal(resp)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Records []struct {
			RecordID string `json:"recordId"`
			Result   string `json:"result"`
			Data     string `json:"data"`
			Metadata struct {
				PartitionKeys map[string]string `json:"partitionKeys"`
			} `json:"metadata"`
		} `json:"records"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Records) != 1 {
		t.Fatalf("got %d records, want 1: %s", len(got.Records), out)
	}
	r := got.Records[0]
	if r.RecordID != "49546986683135544286507457936321625675700192471156785154" || r.Result != "Ok" ||
		r.Data != "eyJ0eXBlIjp7ImRldmljZSI6Im1vYmlsZSJ9LCJldmVudF90aW1lc3RhbXAiOjE1NjUzODIwMjcsInJlZ2lvbiI6InVzLWVhc3QtMSJ9" {
		t.Errorf("record = %+v", r)
	}
	if diff := cmp.Diff(keys("us-east-1", "mobile", "2019", "08", "09", "20"), r.Metadata.PartitionKeys); diff != "" {
		t.Errorf("partitionKeys mismatch (-want +got):\n%s", diff)
	}
}
