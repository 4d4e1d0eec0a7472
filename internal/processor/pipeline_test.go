package processor

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestCanonicalOrder lists every processor backwards and checks that they
// run in Firehose's order: KPL, Decompression, CloudWatchLogProcessing,
// RecordDeAggregation, Lambda, MetadataExtraction, AppendDelimiterToRecord.
func TestCanonicalOrder(t *testing.T) {
	specs := []Spec{
		{Type: TypeAppendDelimiterToRecord},
		{Type: TypeMetadataExtraction, Parameters: map[string]string{"MetadataExtractionQuery": `{who:.who, lambda:.lambda}`, "JsonParsingEngine": "JQ-1.6"}},
		lambdaSpec(),
		{Type: TypeRecordDeAggregation, Parameters: map[string]string{"SubRecordType": "JSON"}},
		{Type: TypeCloudWatchLogProcessing, Parameters: map[string]string{"DataMessageExtraction": "true"}},
		{Type: TypeDecompression, Parameters: map[string]string{"CompressionFormat": "GZIP"}},
	}
	// The Lambda sees de-aggregated JSON and adds "lambda":"yes".
	inv := &fakeInvoker{respond: func(_ int, req lambdaRequest) ([]byte, error) {
		var rs []resp
		for _, r := range req.Records {
			var m map[string]any
			if err := json.Unmarshal(r.Data, &m); err != nil {
				return nil, err
			}
			m["lambda"] = "yes"
			b, _ := json.Marshal(m)
			rs = append(rs, resp{id: r.RecordID, result: "Ok", data: string(b), keys: map[string]string{"l": r.RecordID}})
		}
		return response(rs...), nil
	}}
	p := mustNew(t, Config{Processors: specs}, inv)
	env := gz(t, cwl(t, "DATA_MESSAGE", `{"who":"a"}{"who":"b"}`, `{"who":"c"}`))
	bad := gz(t, cwl(t, "DATA_MESSAGE", `{"who":"d"}`, `not json`, `also not`))
	kpl := kplWrap(kplBody([]string{"pk"}, []kplSub{{0, gz(t, cwl(t, "DATA_MESSAGE", `{"who":"e"}`))}}))
	out, failed := process(t, p, recs(env, bad, string(kpl)))
	wantData := []string{
		`{"lambda":"yes","who":"a"}` + "\n",
		`{"lambda":"yes","who":"b"}` + "\n",
		`{"lambda":"yes","who":"c"}` + "\n",
		`{"lambda":"yes","who":"d"}` + "\n",
		`{"lambda":"yes","who":"e"}` + "\n",
	}
	if d := diff(wantData, datas(out)); d != "" {
		t.Errorf("data (-want +got):\n%s", d)
	}
	if d := diff([]string{"r0.0.0", "r0.0.1", "r0.1.0", "r1.0.0", "r2.0.0.0"}, ids(out)); d != "" {
		t.Errorf("ids (-want +got):\n%s", d)
	}
	for _, r := range out {
		if r.Query["who"] == "" || r.Query["lambda"] != "yes" || r.Lambda["l"] != r.ID {
			t.Errorf("record %s: Query %v Lambda %v", r.ID, r.Query, r.Lambda)
		}
	}
	// Two messages of one envelope fail: the compressed envelope is written
	// once.
	want := []failView{{ID: "r1", Raw: bad, Code: CodeDeaggregationInvalidJSON, Type: OutputProcessingFailed, Attempts: 1}}
	if d := diff(want, failViews(failed)); d != "" {
		t.Errorf("failures (-want +got):\n%s", d)
	}
}

// TestSeed004 runs the processors of the seed 004 stream: RecordDeAggregation
// JSON, AppendDelimiterToRecord listed before Lambda, Lambda partition keys.
func TestSeed004(t *testing.T) {
	specs := []Spec{
		{Type: "RecordDeAggregation", Parameters: map[string]string{"SubRecordType": "JSON"}},
		{Type: "AppendDelimiterToRecord", Parameters: map[string]string{}},
		{Type: "Lambda", Parameters: map[string]string{
			"LambdaArn":               testARN,
			"NumberOfRetries":         "3",
			"RoleArn":                 "arn:aws:iam::123456789012:role/service-role/KinesisFirehoseServiceRole-PUT-S3-lambda-us-east-1",
			"BufferSizeInMBs":         "3",
			"BufferIntervalInSeconds": "300",
		}},
	}
	inv := &fakeInvoker{respond: func(_ int, req lambdaRequest) ([]byte, error) {
		var rs []resp
		for _, r := range req.Records {
			var v struct {
				Region string `json:"region"`
				TS     int64  `json:"event_timestamp"`
			}
			if err := json.Unmarshal(r.Data, &v); err != nil {
				return nil, err
			}
			ts := time.Unix(v.TS, 0).UTC()
			rs = append(rs, resp{id: r.RecordID, result: "Ok", data: string(r.Data), keys: map[string]string{
				"region": v.Region, "year": ts.Format("2006"), "month": ts.Format("01"), "day": ts.Format("02"), "hour": ts.Format("15")}})
		}
		return response(rs...), nil
	}}
	p := mustNew(t, Config{Processors: specs}, inv)
	in := `{"customer_id":"123456789012","event_timestamp":1565382027,"region":"us-east-1"}{"customer_id":"2","event_timestamp":1565382027,"region":"eu-west-1"}`
	out, failed := process(t, p, recs(in))
	if len(failed) != 0 || len(out) != 2 {
		t.Fatalf("out %v failed %+v", datas(out), failed)
	}
	if !strings.HasSuffix(string(out[0].Data), "}\n") {
		t.Errorf("delimiter not appended last: %q", out[0].Data)
	}
	want := map[string]string{"region": "us-east-1", "year": "2019", "month": "08", "day": "09", "hour": "20"}
	if d := diff(want, out[0].Lambda); d != "" {
		t.Errorf("keys (-want +got):\n%s", d)
	}
	size, interval, _ := p.LambdaBuffering()
	if size != 3<<20 || interval != 300*time.Second {
		t.Errorf("LambdaBuffering = %d, %v", size, interval)
	}
}

func TestErrorDocument(t *testing.T) {
	tests := []struct {
		name string
		f    Failure
	}{
		{"lambda", Failure{
			Raw:  Record{ID: "r0", Data: []byte(`{"a":"<b>&"}`), Arrival: time.UnixMilli(1510254469419)},
			Code: CodeLambdaFunctionError, Message: msgLambdaFunctionError, Attempts: 4,
			LambdaARN: testARN, At: time.UnixMilli(1510254905224), OutputType: OutputProcessingFailed}},
		{"decompression", Failure{
			Raw:  Record{ID: "r1", Data: []byte("plain"), Arrival: time.UnixMilli(1700000000000)},
			Code: CodeDecompressionInvalidData, Message: "record is not valid GZIP data: gzip: invalid header", Attempts: 1,
			At: time.UnixMilli(1700000000123), OutputType: OutputDecompressionFailed}},
		{"empty raw", Failure{Raw: Record{ID: "r2", Arrival: time.UnixMilli(0)}, Code: CodeLambdaMissingRecordID, Message: msgLambdaMissing, Attempts: 1, LambdaARN: testARN, At: time.UnixMilli(1)}},
	}
	var got []byte
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := ErrorDocument(tt.f)
			if !json.Valid(doc) || doc[len(doc)-1] != '\n' {
				t.Fatalf("not a JSON line: %q", doc)
			}
			got = append(got, doc...)
		})
	}
	golden := filepath.Join("testdata", "error-documents.golden.jsonl")
	if os.Getenv("UPDATE_GOLDEN") != "" {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (regenerate with UPDATE_GOLDEN=1 go test ./internal/processor -run TestErrorDocument)", err)
	}
	if d := diff(string(want), string(got)); d != "" {
		t.Errorf("error documents (-want +got):\n%s", d)
	}
}
