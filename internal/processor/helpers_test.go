package processor

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/md5"
	"encoding/binary"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// t0 is the arrival time of test records.
var t0 = time.Date(2026, 7, 3, 4, 5, 6, 0, time.UTC)

// tEnd is the fixed clock of test pipelines.
var tEnd = t0.Add(time.Minute)

func fixedNow() time.Time { return tEnd }

// recs builds records "r0", "r1", ... from payloads.
func recs(payloads ...string) []Record {
	out := make([]Record, len(payloads))
	for i, p := range payloads {
		out[i] = Record{Data: []byte(p), Arrival: t0, ID: "r" + string(rune('0'+i))}
	}
	return out
}

// datas returns the payloads of records as strings.
func datas(rs []Record) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = string(r.Data)
	}
	return out
}

// ids returns the IDs of records.
func ids(rs []Record) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.ID
	}
	return out
}

// failView is the comparable summary of a Failure.
type failView struct {
	ID, Raw, Code, Type string
	Attempts            int
}

func failViews(fs []Failure) []failView {
	var out []failView
	for _, f := range fs {
		out = append(out, failView{ID: f.Raw.ID, Raw: string(f.Raw.Data), Code: f.Code, Type: f.OutputType, Attempts: f.Attempts})
	}
	return out
}

// mustNew builds a pipeline or fails the test.
func mustNew(t testing.TB, cfg Config, inv Invoker) *Pipeline {
	t.Helper()
	if cfg.Sleep == nil {
		cfg.Sleep = func(context.Context, time.Duration) error { return nil }
	}
	if cfg.NewInvocationID == nil {
		cfg.NewInvocationID = func() string { return "11111111-2222-3333-4444-555555555555" }
	}
	p, err := New(cfg, inv, fixedNow)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return p
}

// process runs p or fails the test.
func process(t testing.TB, p *Pipeline, in []Record) ([]Record, []Failure) {
	t.Helper()
	out, failed, err := p.Process(context.Background(), in)
	if err != nil {
		t.Fatalf("Process: %v", err)
	}
	return out, failed
}

// gz gzips s.
func gz(t testing.TB, s string) string {
	t.Helper()
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	if _, err := w.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// cwl returns a CloudWatch Logs subscription message.
func cwl(t testing.TB, messageType string, messages ...string) string {
	t.Helper()
	type event struct {
		ID        string `json:"id"`
		Timestamp int64  `json:"timestamp"`
		Message   string `json:"message"`
	}
	env := struct {
		MessageType         string   `json:"messageType"`
		Owner               string   `json:"owner"`
		LogGroup            string   `json:"logGroup"`
		LogStream           string   `json:"logStream"`
		SubscriptionFilters []string `json:"subscriptionFilters"`
		LogEvents           []event  `json:"logEvents"`
	}{messageType, "123456789012", "/aws/lambda/f", "2026/07/03/[$LATEST]abc", []string{"f"}, []event{}}
	for i, m := range messages {
		env.LogEvents = append(env.LogEvents, event{ID: "3195310660696698337880902507980421114328961542429822156" + string(rune('0'+i)), Timestamp: 1432826855000, Message: m})
	}
	b, err := json.Marshal(env)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Protobuf encoding by hand, for KPL test records.

func pbKey(b []byte, field, wire int) []byte { return binary.AppendUvarint(b, uint64(field<<3|wire)) }

func pbVarint(b []byte, field int, v uint64) []byte {
	return binary.AppendUvarint(pbKey(b, field, 0), v)
}

func pbBytes(b []byte, field int, v []byte) []byte {
	b = binary.AppendUvarint(pbKey(b, field, 2), uint64(len(v)))
	return append(b, v...)
}

// kplSub is one user record of a KPL aggregate.
type kplSub struct {
	pk   uint64
	data string
}

// kplBody encodes an AggregatedRecord protobuf.
func kplBody(pks []string, subs []kplSub) []byte {
	var b []byte
	for _, pk := range pks {
		b = pbBytes(b, 1, []byte(pk))
	}
	for _, s := range subs {
		var r []byte
		r = pbVarint(r, 1, s.pk)
		r = pbBytes(r, 3, []byte(s.data))
		var tag []byte
		tag = pbBytes(tag, 1, []byte("k"))
		r = pbBytes(r, 4, tag)
		b = pbBytes(b, 3, r)
	}
	return b
}

// kplWrap frames a protobuf body as a KPL aggregated record.
func kplWrap(body []byte) []byte {
	sum := md5.Sum(body)
	out := append([]byte{0xF3, 0x89, 0x9A, 0xC2}, body...)
	return append(out, sum[:]...)
}

// diff compares with cmp, treating nil and empty slices alike.
func diff(want, got any) string { return cmp.Diff(want, got, cmpopts.EquateEmpty()) }
