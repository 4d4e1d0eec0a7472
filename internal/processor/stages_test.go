package processor

import (
	"context"
	"strings"
	"testing"
)

func TestRecordDeAggregation(t *testing.T) {
	jsonSpec := Spec{Type: TypeRecordDeAggregation, Parameters: map[string]string{"SubRecordType": "JSON"}}
	delimSpec := Spec{Type: TypeRecordDeAggregation, Parameters: map[string]string{"SubRecordType": "DELIMITED", "Delimiter": "IyMjIw=="}}
	many := strings.Repeat(`{"a":1}`, 501)
	tests := []struct {
		name     string
		spec     Spec
		in       []Record
		wantData []string
		wantIDs  []string
		wantFail []failView
	}{
		{"concatenated", jsonSpec, recs(`{"a":1}{"b":2}{"c":{"d":[1,2]}}`),
			[]string{`{"a":1}`, `{"b":2}`, `{"c":{"d":[1,2]}}`}, []string{"r0.0", "r0.1", "r0.2"}, nil},
		{"newline separated", jsonSpec, recs("{\"a\":1}\n{\"b\": 2}\n\n  {\"c\":3}\n"),
			[]string{`{"a":1}`, `{"b": 2}`, `{"c":3}`}, []string{"r0.0", "r0.1", "r0.2"}, nil},
		{"single", jsonSpec, recs(`{"a":1}`, `{"b":2}`),
			[]string{`{"a":1}`, `{"b":2}`}, []string{"r0.0", "r1.0"}, nil},
		{"invalid JSON fails, others continue", jsonSpec, recs(`{"a":1}{"b":`, `{"ok":true}`),
			[]string{`{"ok":true}`}, []string{"r1.0"},
			[]failView{{ID: "r0", Raw: `{"a":1}{"b":`, Code: CodeDeaggregationInvalidJSON, Type: OutputProcessingFailed, Attempts: 1}}},
		{"array is not an object", jsonSpec, recs(`[1,2]`), nil, nil,
			[]failView{{ID: "r0", Raw: `[1,2]`, Code: CodeDeaggregationInvalidJSON, Type: OutputProcessingFailed, Attempts: 1}}},
		{"empty yields nothing", jsonSpec, recs(" \n"), nil, nil, nil},
		{"501 objects pass undivided", jsonSpec, recs(many), []string{many}, []string{"r0"}, nil},
		{"delimited ####", delimSpec, recs("a####bb####ccc"), []string{"a", "bb", "ccc"}, []string{"r0.0", "r0.1", "r0.2"}, nil},
		{"delimited empty pieces dropped", delimSpec, recs("####a########b####"), []string{"a", "b"}, []string{"r0.0", "r0.1"}, nil},
		{"delimited no delimiter", delimSpec, recs("abc"), []string{"abc"}, []string{"r0.0"}, nil},
		{"delimited overlapping", delimSpec, recs("a#####b"), []string{"a", "#b"}, []string{"r0.0", "r0.1"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustNew(t, Config{Processors: []Spec{tt.spec}}, nil)
			out, failed := process(t, p, tt.in)
			if d := diff(tt.wantData, datas(out)); d != "" {
				t.Errorf("data (-want +got):\n%s", d)
			}
			if d := diff(tt.wantIDs, ids(out)); d != "" {
				t.Errorf("ids (-want +got):\n%s", d)
			}
			if d := diff(tt.wantFail, failViews(failed)); d != "" {
				t.Errorf("failures (-want +got):\n%s", d)
			}
			for _, r := range out {
				if !r.Arrival.Equal(t0) {
					t.Errorf("arrival %v, want %v", r.Arrival, t0)
				}
			}
		})
	}
}

func TestKPL(t *testing.T) {
	good := kplWrap(kplBody([]string{"pk0", "pk1"}, []kplSub{{0, `{"a":1}`}, {1, "second"}, {0, ""}}))
	badMD5 := append([]byte(nil), good...)
	badMD5[len(badMD5)-1] ^= 0xFF
	badIndex := kplWrap(kplBody([]string{"pk0"}, []kplSub{{3, "x"}}))
	noRecords := kplWrap(kplBody([]string{"pk0"}, nil))
	truncated := kplWrap([]byte{0x1a, 0x05, 0x08}) // field 3, length 5, 1 byte
	tests := []struct {
		name     string
		cfg      Config
		in       string
		wantData []string
		wantIDs  []string
	}{
		{"aggregated", Config{KinesisSource: true}, string(good), []string{`{"a":1}`, "second", ""}, []string{"r0.0", "r0.1", "r0.2"}},
		{"with RecordDeAggregation", Config{Processors: []Spec{{Type: TypeRecordDeAggregation, Parameters: map[string]string{"SubRecordType": "DELIMITED", "Delimiter": "Cg=="}}}},
			string(kplWrap(kplBody([]string{"k"}, []kplSub{{0, "a\nb"}, {0, "c"}}))), []string{"a", "b", "c"}, []string{"r0.0.0", "r0.0.1", "r0.1.0"}},
		{"bad MD5 is plain", Config{KinesisSource: true}, string(badMD5), []string{string(badMD5)}, []string{"r0"}},
		{"bad index is plain", Config{KinesisSource: true}, string(badIndex), []string{string(badIndex)}, []string{"r0"}},
		{"no records is plain", Config{KinesisSource: true}, string(noRecords), []string{string(noRecords)}, []string{"r0"}},
		{"truncated protobuf is plain", Config{KinesisSource: true}, string(truncated), []string{string(truncated)}, []string{"r0"}},
		{"no magic", Config{KinesisSource: true}, "plain record", []string{"plain record"}, []string{"r0"}},
		{"DirectPut leaves KPL alone", Config{}, string(good), []string{string(good)}, []string{"r0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustNew(t, tt.cfg, nil)
			out, failed := process(t, p, recs(tt.in))
			if len(failed) != 0 {
				t.Fatalf("failures: %+v", failed)
			}
			if d := diff(tt.wantData, datas(out)); d != "" {
				t.Errorf("data (-want +got):\n%s", d)
			}
			if d := diff(tt.wantIDs, ids(out)); d != "" {
				t.Errorf("ids (-want +got):\n%s", d)
			}
		})
	}
}

func TestDecompressionAndCloudWatchLogs(t *testing.T) {
	dec := Spec{Type: TypeDecompression, Parameters: map[string]string{"CompressionFormat": "GZIP"}}
	extract := Spec{Type: TypeCloudWatchLogProcessing, Parameters: map[string]string{"DataMessageExtraction": "true"}}
	noExtract := Spec{Type: TypeCloudWatchLogProcessing, Parameters: map[string]string{"DataMessageExtraction": "false"}}
	data := cwl(t, "DATA_MESSAGE", "log message 1", `{"level":"info"}`)
	control := cwl(t, "CONTROL_MESSAGE", "CWL CONTROL MESSAGE: Checking health of destination Firehose.")
	tests := []struct {
		name     string
		specs    []Spec
		in       []Record
		wantData []string
		wantIDs  []string
		wantFail []failView
	}{
		{"messages out", []Spec{extract, dec}, recs(gz(t, data)),
			[]string{"log message 1", `{"level":"info"}`}, []string{"r0.0", "r0.1"}, nil},
		{"control dropped", []Spec{dec, extract}, recs(gz(t, control), gz(t, data)),
			[]string{"log message 1", `{"level":"info"}`}, []string{"r1.0", "r1.1"}, nil},
		{"decompression only", []Spec{dec}, recs(gz(t, "hello")), []string{"hello"}, []string{"r0"}, nil},
		{"extraction false keeps envelope", []Spec{dec, noExtract}, recs(gz(t, control)), []string{control}, []string{"r0"}, nil},
		{"not gzip", []Spec{dec, extract}, recs("plain", gz(t, data)),
			[]string{"log message 1", `{"level":"info"}`}, []string{"r1.0", "r1.1"},
			[]failView{{ID: "r0", Raw: "plain", Code: CodeDecompressionInvalidData, Type: OutputDecompressionFailed, Attempts: 1}}},
		{"truncated gzip", []Spec{dec}, recs(gz(t, "hello world")[:12]), nil, nil,
			[]failView{{ID: "r0", Raw: gz(t, "hello world")[:12], Code: CodeDecompressionInvalidData, Type: OutputDecompressionFailed, Attempts: 1}}},
		{"not an envelope", []Spec{dec, extract}, recs(gz(t, `{"x":1}`)), nil, nil,
			[]failView{{ID: "r0", Raw: gz(t, `{"x":1}`), Code: CodeCloudWatchLogsInvalidData, Type: OutputDecompressionFailed, Attempts: 1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustNew(t, Config{Processors: tt.specs}, nil)
			out, failed := process(t, p, tt.in)
			if d := diff(tt.wantData, datas(out)); d != "" {
				t.Errorf("data (-want +got):\n%s", d)
			}
			if d := diff(tt.wantIDs, ids(out)); d != "" {
				t.Errorf("ids (-want +got):\n%s", d)
			}
			if d := diff(tt.wantFail, failViews(failed)); d != "" {
				t.Errorf("failures (-want +got):\n%s", d)
			}
		})
	}
}

func TestMetadataExtraction(t *testing.T) {
	eventTime := `{year:.ts|strftime("%Y"), month:.ts|strftime("%m"), day:.ts|strftime("%d"), hour:.ts|strftime("%H")}`
	eventTimeISO := `{year:.ts|fromdateiso8601|strftime("%Y"), month:.ts|fromdateiso8601|strftime("%m"), day:.ts|fromdateiso8601|strftime("%d"), hour:.ts|fromdateiso8601|strftime("%H")}`
	wantTime := map[string]string{"year": "2019", "month": "08", "day": "09", "hour": "20"}
	tests := []struct {
		name    string
		query   string
		in      string
		want    map[string]string
		wantErr string // substring of the failure message
	}{
		{"customer_id", `{"customer_id":.customer_id}`, `{"customer_id":"123456789012","x":1}`, map[string]string{"customer_id": "123456789012"}, ""},
		{"number id keeps digits", `{customer_id:.customer_id}`, `{"customer_id":123456789012345678901}`, map[string]string{"customer_id": "123456789012345678901"}, ""},
		{"event time epoch", eventTime, `{"ts":1565382027}`, wantTime, ""},
		{"event time ISO", eventTimeISO, `{"ts":"2019-08-09T20:20:27Z"}`, wantTime, ""},
		{"nested and literal", `{device:.type.device, n:(.n*2), f:.f, b:.b, s:"x"}`, `{"type":{"device":"mobile"},"n":21,"f":1.5,"b":true}`,
			map[string]string{"device": "mobile", "n": "42", "f": "1.5", "b": "true", "s": "x"}, ""},
		{"float without exponent", `{v:(.v*1000)}`, `{"v":1565382027.5}`, map[string]string{"v": "1565382027500"}, ""},
		{"missing key", `{customer_id:.customer_id}`, `{"x":1}`, nil, "null or missing"},
		{"object value", `{t:.type}`, `{"type":{"a":1}}`, nil, "object"},
		{"not JSON", `{a:.a}`, `not json`, nil, "not valid JSON"},
		{"two values", `{a:.a}`, `{"a":"1"}{"a":"2"}`, nil, "more than one JSON value"},
		{"not an object", `.a`, `{"a":"1"}`, nil, "not an object"},
		{"query error", `{a:(.a|tonumber)}`, `{"a":"x"}`, nil, "query failed"},
		{"no result", `empty`, `{"a":"x"}`, nil, "no result"},
		{"too many keys", `[range(51)|{key:"k\(.)",value:"v"}]|from_entries`, `{}`, nil, "51 partition keys"},
		{"no env", `{e:($ENV.HOME // "none")}`, `{}`, map[string]string{"e": "none"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustNew(t, Config{Processors: []Spec{{Type: TypeMetadataExtraction, Parameters: map[string]string{"MetadataExtractionQuery": tt.query, "JsonParsingEngine": "JQ-1.6"}}}}, nil)
			out, failed := process(t, p, recs(tt.in))
			if tt.wantErr != "" {
				if len(out) != 0 || len(failed) != 1 {
					t.Fatalf("out %v failed %+v, want one failure", datas(out), failed)
				}
				f := failed[0]
				if f.Code != CodeMetadataExtractionFailed || !strings.Contains(f.Message, tt.wantErr) || string(f.Raw.Data) != tt.in {
					t.Errorf("failure %+v, want code %s and message containing %q", f, CodeMetadataExtractionFailed, tt.wantErr)
				}
				return
			}
			if len(failed) != 0 || len(out) != 1 {
				t.Fatalf("out %v failed %+v", datas(out), failed)
			}
			if d := diff(tt.want, out[0].Query); d != "" {
				t.Errorf("keys (-want +got):\n%s", d)
			}
			if string(out[0].Data) != tt.in {
				t.Errorf("data changed: %q", out[0].Data)
			}
		})
	}
}

func TestQueryKeys(t *testing.T) {
	tests := []struct {
		query string
		want  []string
	}{
		{`{customer_id:.customer_id}`, []string{"customer_id"}},
		{`{"year":.a, month:.b, "day":.c}`, []string{"day", "month", "year"}},
		{`{customer_id}`, []string{"customer_id"}},
		{`{(.k):.v}`, nil},
		{`{"k\(.x)":.v}`, nil},
		{`.a | {x:.}`, nil},
		{`{a:1} + {b:2}`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			p := mustNew(t, Config{Processors: []Spec{{Type: TypeMetadataExtraction, Parameters: map[string]string{"MetadataExtractionQuery": tt.query}}}}, nil)
			if d := diff(tt.want, p.QueryKeys()); d != "" {
				t.Errorf("QueryKeys (-want +got):\n%s", d)
			}
		})
	}
}

func TestAppendDelimiter(t *testing.T) {
	in := []Record{{ID: "a", Data: []byte("x{}y")}, {ID: "b", Data: nil}}
	// Sub-slices of one buffer must not be clobbered.
	p := mustNew(t, Config{Processors: []Spec{
		{Type: TypeAppendDelimiterToRecord},
		{Type: TypeRecordDeAggregation, Parameters: map[string]string{"SubRecordType": "DELIMITED", "Delimiter": "e30="}}, // "{}"
	}}, nil)
	out, _ := process(t, p, in)
	if d := diff([]string{"x\n", "y\n"}, datas(out)); d != "" {
		t.Errorf("data (-want +got):\n%s", d)
	}
	if string(in[0].Data) != "x{}y" {
		t.Errorf("input modified: %q", in[0].Data)
	}
	p = mustNew(t, Config{Processors: []Spec{{Type: TypeAppendDelimiterToRecord}}}, nil)
	out, _ = process(t, p, in)
	if d := diff([]string{"x{}y\n", "\n"}, datas(out)); d != "" {
		t.Errorf("data (-want +got):\n%s", d)
	}
}

func TestProcessCancelled(t *testing.T) {
	p := mustNew(t, Config{Processors: []Spec{{Type: TypeAppendDelimiterToRecord}}}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := p.Process(ctx, recs("a")); err != context.Canceled {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}
