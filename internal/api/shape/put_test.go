package shape

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// putResult is a comparable summary of a decode: what it produced or the error it returned.
type putResult struct {
	Name    string
	Records []string
	Total   int
	ErrType string
	Err     string
}

func summarize(b *PutBatch, err error) putResult {
	if err != nil {
		return putResult{ErrType: fmt.Sprintf("%T", err), Err: err.Error()}
	}
	r := putResult{Name: b.DeliveryStreamName, Total: b.TotalBytes}
	for _, rec := range b.Records {
		r.Records = append(r.Records, string(rec))
	}
	return r
}

// reference decodes body the slow, obviously correct way: Validate, then encoding/json.
func reference(tb testing.TB, body []byte, batch bool) putResult {
	tb.Helper()
	var dst PutBatch
	op := "PutRecord"
	if batch {
		op = "PutRecordBatch"
	}
	err := genericPut(op, body, &dst, batch)
	if err != nil {
		var se *SerializationError
		var ve *ValidationError
		if !errors.As(err, &se) && !errors.As(err, &ve) {
			tb.Fatalf("generic decode of a validated body failed: %v\nbody: %q", err, body)
		}
		if verr := Validate(op, body); verr == nil || verr.Error() != err.Error() {
			tb.Fatalf("generic decode error %v differs from Validate's %v", err, verr)
		}
	}
	return summarize(&dst, err)
}

// checkPut compares the exported decoder with the reference, with a fresh and a dirty dst, and
// reports whether the fast path handled the body.
func checkPut(tb testing.TB, body []byte, batch bool, dirty *PutBatch) bool {
	tb.Helper()
	want := reference(tb, body, batch)
	decode := DecodePutRecord
	if batch {
		decode = DecodePutRecordBatch
	}
	for _, dst := range []*PutBatch{{}, dirty} {
		err := decode(body, dst)
		if diff := cmp.Diff(want, summarize(dst, err)); diff != "" {
			tb.Fatalf("decode differs from Validate+encoding/json (-want +got):\n%s\nbody: %q", diff, body)
		}
	}
	var fresh PutBatch
	fresh.reset(len(body))
	fast := fastPut(body, &fresh, batch)
	if fast {
		if want.Err != "" {
			tb.Fatalf("fast path accepted a body Validate rejects: %s\nbody: %q", want.Err, body)
		}
		if diff := cmp.Diff(want, summarize(&fresh, nil)); diff != "" {
			tb.Fatalf("fast path differs (-want +got):\n%s\nbody: %q", diff, body)
		}
	}
	return fast
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// batchOf builds a PutRecordBatch body with n records whose data is "r<i>".
func batchOf(n int) string {
	var rs []string
	for i := range n {
		rs = append(rs, `{"Data":"`+b64(fmt.Sprint("r", i))+`"}`)
	}
	return `{"DeliveryStreamName":"s","Records":[` + strings.Join(rs, ",") + `]}`
}

func withRecordAt(n, at, size int) string {
	var rs []string
	for i := range n {
		d := b64("x")
		if i == at-1 {
			d = base64.StdEncoding.EncodeToString(make([]byte, size))
		}
		rs = append(rs, `{"Data":"`+d+`"}`)
	}
	return `{"DeliveryStreamName":"s","Records":[` + strings.Join(rs, ",") + `]}`
}

var putBatchCases = []struct {
	name string
	body string
	fast bool // the fast path must handle it
}{
	{"simple", `{"DeliveryStreamName": "s1", "Records": [{"Data": "aGVsbG8K"}, {"Data": "eyJhIjoxfQ=="}]}`, true},
	{"members reversed", `{"Records":[{"Data":"aGVsbG8K"}],"DeliveryStreamName":"s1"}`, true},
	{"whitespace everywhere", " \r\n\t{ \"DeliveryStreamName\" :\n\"s1\" , \"Records\" : [ { \"Data\" : \"QUJD\" } ,\t{\"Data\":\"\"} ] } \n", true},
	{"empty record", `{"DeliveryStreamName":"s","Records":[{"Data":""}]}`, true},
	{"escaped slash in data", `{"DeliveryStreamName":"s","Records":[{"Data":"` + strings.ReplaceAll(b64("\xff\xff\xfe??>"), "/", `\/`) + `"}]}`, true},
	{"unicode escape in data", `{"DeliveryStreamName":"s","Records":[{"Data":"\u0051UJD"}]}`, true},
	{"escaped name", `{"DeliveryStreamName":"s\u0031\/x","Records":[{"Data":"QUJD"}]}`, false},
	{"escaped valid name", `{"DeliveryStreamName":"\u0073\u0031","Records":[{"Data":"QUJD"}]}`, true},
	{"escaped keys", `{"Deliv\u0065ryStreamName":"s","Rec\u006frds":[{"D\u0061ta":"QUJD"}]}`, true},
	{"unknown members", `{"X":{"a":[1,-2.5e+3,true,false,null,{"b":"c\"\\\u00e9"}]},"DeliveryStreamName":"s","Records":[{"Extra":[[]],"Data":"QUJD","More":{}}],"Y":"z"}`, true},
	{"non-ascii unknown key", `{"Dé":1,"DeliveryStreamName":"s","Records":[{"Data":"QUJD"}]}`, true},
	{"duplicate Records, last wins", `{"DeliveryStreamName":"s","Records":[{"Data":"QUJD"},{"Data":"QUJD"}],"Records":[{"Data":"WFla"}]}`, true},
	{"duplicate Data, last wins", `{"DeliveryStreamName":"s","Records":[{"Data":"QUJDRA==","Data":"WFla"}]}`, true},
	{"duplicate name, last wins", `{"DeliveryStreamName":"bad name","DeliveryStreamName":"good","Records":[{"Data":"QUJD"}]}`, true},
	{"duplicate name, last invalid", `{"DeliveryStreamName":"good","DeliveryStreamName":"bad name","Records":[{"Data":"QUJD"}]}`, false},
	{"data then null", `{"DeliveryStreamName":"s","Records":[{"Data":"QUJD","Data":null}]}`, false},
	{"null then data", `{"DeliveryStreamName":"s","Records":[{"Data":null,"Data":"QUJD"}]}`, true},
	{"records then null", `{"DeliveryStreamName":"s","Records":[{"Data":"QUJD"}],"Records":null}`, false},
	{"lower-case key is unknown", `{"DeliveryStreamName":"s","records":[{"Data":"QUJD"}]}`, false},
	{"500 records", batchOf(500), true},
	{"501 records", batchOf(501), false},
	{"0 records", `{"DeliveryStreamName":"s","Records":[]}`, false},
	{"records null", `{"DeliveryStreamName":"s","Records":null}`, false},
	{"records string", `{"DeliveryStreamName":"s","Records":"QUJD"}`, false},
	{"records object", `{"DeliveryStreamName":"s","Records":{"Data":"QUJD"}}`, false},
	{"record null", `{"DeliveryStreamName":"s","Records":[null]}`, false},
	{"record array", `{"DeliveryStreamName":"s","Records":[["QUJD"]]}`, false},
	{"missing records", `{"DeliveryStreamName":"s"}`, false},
	{"missing data", `{"DeliveryStreamName":"s","Records":[{"Data":"QUJD"},{"data":"QUJD"}]}`, false},
	{"data number", `{"DeliveryStreamName":"s","Records":[{"Data":12}]}`, false},
	{"record 97 too big", withRecordAt(100, 97, 1024001), false},
	{"record of exactly 1024000", withRecordAt(3, 2, 1024000), true},
	{"invalid base64 padding", `{"DeliveryStreamName":"s","Records":[{"Data":"QUJ"}]}`, false},
	{"invalid base64 char", `{"DeliveryStreamName":"s","Records":[{"Data":"QU*D"}]}`, false},
	{"base64 with escaped newline", `{"DeliveryStreamName":"s","Records":[{"Data":"QU\nJD"}]}`, false},
	{"base64 with raw newline", "{\"DeliveryStreamName\":\"s\",\"Records\":[{\"Data\":\"QU\nJD\"}]}", false},
	{"base64 with escaped quote", `{"DeliveryStreamName":"s","Records":[{"Data":"QU\"JD"}]}`, false},
	{"name too long", `{"DeliveryStreamName":"` + strings.Repeat("n", 65) + `","Records":[{"Data":"QUJD"}]}`, false},
	{"name 64", `{"DeliveryStreamName":"` + strings.Repeat("n", 64) + `","Records":[{"Data":"QUJD"}]}`, true},
	{"name bad pattern", `{"DeliveryStreamName":"a b","Records":[{"Data":"QUJD"}]}`, false},
	{"name empty", `{"DeliveryStreamName":"","Records":[{"Data":"QUJD"}]}`, false},
	{"name unicode", `{"DeliveryStreamName":"é","Records":[{"Data":"QUJD"}]}`, false},
	{"name number", `{"DeliveryStreamName":1,"Records":[{"Data":"QUJD"}]}`, false},
	{"name null", `{"DeliveryStreamName":null,"Records":[{"Data":"QUJD"}]}`, false},
	{"everything wrong", `{"DeliveryStreamName":"` + strings.Repeat("!", 70) + `","Records":[]}`, false},
	{"empty body", ``, false},
	{"whitespace body", " \n", false},
	{"empty object", `{}`, false},
	{"top-level null", `null`, false},
	{"top-level array", `[]`, false},
	{"trailing garbage", `{"DeliveryStreamName":"s","Records":[{"Data":"QUJD"}]}x`, false},
	{"two values", `{"DeliveryStreamName":"s","Records":[{"Data":"QUJD"}]} {}`, false},
	{"trailing comma", `{"DeliveryStreamName":"s","Records":[{"Data":"QUJD"},]}`, false},
	{"truncated", `{"DeliveryStreamName":"s","Records":[{"Data":"QUJD"}`, false},
	{"bad number in unknown", `{"X":01,"DeliveryStreamName":"s","Records":[{"Data":"QUJD"}]}`, false},
	{"bad escape in unknown", `{"X":"\x","DeliveryStreamName":"s","Records":[{"Data":"QUJD"}]}`, false},
	{"control char in unknown", "{\"X\":\"\t\",\"DeliveryStreamName\":\"s\",\"Records\":[{\"Data\":\"QUJD\"}]}", false},
	{"deep unknown", `{"X":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `,"DeliveryStreamName":"s","Records":[{"Data":"QUJD"}]}`, false},
	{"unknown Record member ignored in batch", `{"Record":{"Data":1},"DeliveryStreamName":"s","Records":[{"Data":"QUJD"}]}`, true},
}

func TestDecodePutRecordBatch(t *testing.T) {
	dirty := &PutBatch{}
	if err := DecodePutRecordBatch([]byte(batchOf(7)), dirty); err != nil {
		t.Fatal(err)
	}
	for _, tt := range putBatchCases {
		t.Run(tt.name, func(t *testing.T) {
			if fast := checkPut(t, []byte(tt.body), true, dirty); fast != tt.fast {
				t.Errorf("fast path used = %v, want %v", fast, tt.fast)
			}
		})
	}
}

func TestDecodePutRecordBatchErrors(t *testing.T) {
	tests := []struct {
		name, body, want string
	}{
		{"501 records", batchOf(501), "1 validation error detected: Value '[" +
			strings.TrimSuffix(strings.Repeat("{Data: java.nio.HeapByteBuffer[pos=0 lim=2 cap=2]}, ", 10)+
				strings.Repeat("{Data: java.nio.HeapByteBuffer[pos=0 lim=3 cap=3]}, ", 90)+
				strings.Repeat("{Data: java.nio.HeapByteBuffer[pos=0 lim=4 cap=4]}, ", 401), ", ") +
			"]' at 'records' failed to satisfy constraint: Member must have length less than or equal to 500"},
		{"record 97", withRecordAt(100, 97, 1024001), "1 validation error detected: Value 'java.nio.HeapByteBuffer[pos=0 lim=1024001 cap=1024001]' " +
			"at 'records.97.member.data' failed to satisfy constraint: Member must have length less than or equal to 1024000"},
		{"missing both", `{}`, "2 validation errors detected: Value null at 'deliveryStreamName' failed to satisfy constraint: Member must not be null; " +
			"Value null at 'records' failed to satisfy constraint: Member must not be null"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var dst PutBatch
			err := DecodePutRecordBatch([]byte(tt.body), &dst)
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("err = %v, want *ValidationError", err)
			}
			if diff := cmp.Diff(tt.want, err.Error()); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecodePutRecord(t *testing.T) {
	tests := []struct {
		name string
		body string
		fast bool
	}{
		{"simple", `{"DeliveryStreamName":"s","Record":{"Data":"aGVsbG8K"}}`, true},
		{"empty data", `{"Record":{"Data":""},"DeliveryStreamName":"s"}`, true},
		{"unknown and escapes", `{"X":[{}],"DeliveryStreamName":"s","Record":{"Y":null,"Data":"\/\/\/\/"},"Records":[1]}`, true},
		{"missing record", `{"DeliveryStreamName":"s"}`, false},
		{"record null", `{"DeliveryStreamName":"s","Record":null}`, false},
		{"record list", `{"DeliveryStreamName":"s","Record":[{"Data":"QUJD"}]}`, false},
		{"missing data", `{"DeliveryStreamName":"s","Record":{}}`, false},
		{"too big", `{"DeliveryStreamName":"s","Record":{"Data":"` + base64.StdEncoding.EncodeToString(make([]byte, 1024001)) + `"}}`, false},
		{"bad base64", `{"DeliveryStreamName":"s","Record":{"Data":"A"}}`, false},
		{"empty body", ``, false},
	}
	dirty := &PutBatch{}
	if err := DecodePutRecordBatch([]byte(batchOf(3)), dirty); err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if fast := checkPut(t, []byte(tt.body), false, dirty); fast != tt.fast {
				t.Errorf("fast path used = %v, want %v", fast, tt.fast)
			}
		})
	}
}

// TestPutBoundsMatchModel ties the fast path's constants to the generated model.
func TestPutBoundsMatchModel(t *testing.T) {
	got := []any{shapes[sData].max, shapes[sPutRecordBatchRequestEntryList].min, shapes[sPutRecordBatchRequestEntryList].max,
		shapes[sDeliveryStreamName].min, shapes[sDeliveryStreamName].max, patterns[shapes[sDeliveryStreamName].pattern].java,
		shapes[sData].min}
	want := []any{float64(maxRecordBytes), 1.0, float64(maxBatchRecords), 1.0, float64(maxStreamNameLen), `[a-zA-Z0-9_.-]+`, 0.0}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("model bounds (-want +got):\n%s", diff)
	}
	for _, op := range []struct {
		op      shapeID
		members []member
	}{
		{sPutRecordBatchInput, []member{{"DeliveryStreamName", "deliveryStreamName", sDeliveryStreamName, true}, {"Records", "records", sPutRecordBatchRequestEntryList, true}}},
		{sPutRecordInput, []member{{"DeliveryStreamName", "deliveryStreamName", sDeliveryStreamName, true}, {"Record", "record", sRecord, true}}},
		{sRecord, []member{{"Data", "data", sData, true}}},
	} {
		if diff := cmp.Diff(op.members, shapes[op.op].members, cmp.AllowUnexported(member{})); diff != "" {
			t.Errorf("%s members (-want +got):\n%s", shapes[op.op].name, diff)
		}
	}
}

func TestDecodePutRecordBatchNoAllocs(t *testing.T) {
	bodies := map[string][]byte{
		"plain":   batchBody(t, 500, 1024),
		"escapes": []byte(`{"X":{"a":[1]},"Deliv\u0065ryStreamName":"s\u0031","Records":[{"Data":"\/\/\/\/","Y":"z"},{"Data":"QUJD"}]}`),
	}
	for name, body := range bodies {
		t.Run(name, func(t *testing.T) {
			var dst PutBatch
			if err := DecodePutRecordBatch(body, &dst); err != nil {
				t.Fatal(err)
			}
			allocs := testing.AllocsPerRun(20, func() {
				if err := DecodePutRecordBatch(body, &dst); err != nil {
					t.Fatal(err)
				}
			})
			if allocs != 0 {
				t.Errorf("allocs per reused decode = %v, want 0", allocs)
			}
		})
	}
}
