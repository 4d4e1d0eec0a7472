package firehoseio_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/passert"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/transforms/batch"
	"github.com/google/go-cmp/cmp"
	"github.com/hydrant-dev/hydrant/firehoseio"
)

func init() {
	register.Function2x0(splitKV)
	register.Emitter2[string, string]()
	register.Function2x1(summary)
	register.Function2x1(eventSummary)
	register.Function1x2(keyStrings)
	register.Function1x2(keyInts)
	beam.RegisterType(reflect.TypeOf((*event)(nil)).Elem())
}

// keyStrings and keyInts key a batch, as the Python test's tuples (1, [...]), (2, [...]).
func keyStrings(b []string) (int, []string) { return 1, b }

func keyInts(b []int) (int, []int) { return 2, b }

// splitKV turns "1:one" into KV("1", "one"). (GroupIntoBatches wants a key coder that
// Beam Go knows to be deterministic; int's is not.)
func splitKV(s string, emit func(string, string)) {
	k, v, _ := strings.Cut(s, ":")
	emit(k, v)
}

// summary is a failed record and its FailedRecord in one comparable line.
func summary(r string, f firehoseio.FailedRecord) string {
	return fmt.Sprintf("%s: %s %s %d", r, f.Data, f.ErrorCode, f.Attempts)
}

// eventSummary is summary for event records.
func eventSummary(e event, f firehoseio.FailedRecord) string {
	return fmt.Sprintf("%d/%s: %s %s %d", e.ID, e.Name, f.Data, f.ErrorCode, f.Attempts)
}

// event is a struct record, sent with Jsonify.
type event struct {
	ID   int    `json:"id"`
	Name string `json:"name"`
}

// batchesIn reports whether got is the concatenation of want's batches in some order
// (each PutRecordBatch is stored as a unit, but batches may arrive in any order).
func batchesIn(got string, want []string) bool {
	if len(want) == 0 {
		return got == ""
	}
	for i, w := range want {
		if rest, ok := strings.CutPrefix(got, w); ok && batchesIn(rest, slices.Delete(slices.Clone(want), i, i+1)) {
			return true
		}
	}
	return false
}

// TestWrite runs each pipeline shape against one stream per case and checks what the
// stream delivered: the Python connector's tests, in Go.
func TestWrite(t *testing.T) {
	h := startHydrant(t)
	tests := []struct {
		name  string
		build func(s beam.Scope, stream string, opts ...firehoseio.Option) beam.PCollection
		opts  []firehoseio.Option
		want  []string // the batches as delivered
	}{
		{
			name: "list elements multilined in batches of 2",
			build: func(s beam.Scope, stream string, opts ...firehoseio.Option) beam.PCollection {
				col := beam.Create(s, "one", "two", "three", "four")
				return firehoseio.Write(s, stream, firehoseio.Batch(s, col, 2), opts...)
			},
			opts: []firehoseio.Option{firehoseio.Multiline(true)},
			want: []string{"one\ntwo\n", "three\nfour\n"},
		},
		{
			name: "KV elements from GroupIntoBatches multilined",
			build: func(s beam.Scope, stream string, opts ...firehoseio.Option) beam.PCollection {
				kvs := beam.ParDo(s, splitKV, beam.Create(s, "1:one", "2:three", "1:two", "2:four"))
				return firehoseio.Write(s, stream, batch.GroupIntoBatches(s, batch.Params{BatchSize: 2}, kvs), opts...)
			},
			opts: []firehoseio.Option{firehoseio.Multiline(true)},
			want: []string{"one\ntwo\n", "three\nfour\n"},
		},
		{
			name: "list of strings jsonified",
			build: func(s beam.Scope, stream string, opts ...firehoseio.Option) beam.PCollection {
				return firehoseio.Write(s, stream, beam.Create(s, []string{"one", "two", "three", "four"}), opts...)
			},
			opts: []firehoseio.Option{firehoseio.Jsonify(true)},
			want: []string{`"one""two""three""four"`},
		},
		{
			name: "list of ints jsonified",
			build: func(s beam.Scope, stream string, opts ...firehoseio.Option) beam.PCollection {
				return firehoseio.Write(s, stream, beam.Create(s, []int{1, 2, 3, 4}), opts...)
			},
			opts: []firehoseio.Option{firehoseio.Jsonify(true)},
			want: []string{"1234"},
		},
		{
			name: "list of byte slices unchanged",
			build: func(s beam.Scope, stream string, opts ...firehoseio.Option) beam.PCollection {
				return firehoseio.Write(s, stream, beam.Create(s, [][]byte{[]byte("a,1"), []byte("b,2")}), opts...)
			},
			opts: []firehoseio.Option{firehoseio.Jsonify(true), firehoseio.Multiline(true)},
			want: []string{"a,1\nb,2\n"},
		},
		{
			name: "structs as JSON lines, as Python's json.dumps",
			build: func(s beam.Scope, stream string, opts ...firehoseio.Option) beam.PCollection {
				col := beam.Create(s, event{1, "a"}, event{2, "é"})
				return firehoseio.Write(s, stream, firehoseio.Batch(s, col, 10), opts...)
			},
			opts: []firehoseio.Option{firehoseio.Jsonify(true), firehoseio.Multiline(true)},
			want: []string{`{"id": 1, "name": "a"}` + "\n" + `{"id": 2, "name": "\u00e9"}` + "\n"},
		},
		{
			name: "structs as compact JSON lines",
			build: func(s beam.Scope, stream string, opts ...firehoseio.Option) beam.PCollection {
				col := beam.Create(s, event{1, "a"}, event{2, "é"})
				return firehoseio.Write(s, stream, firehoseio.Batch(s, col, 10), opts...)
			},
			opts: []firehoseio.Option{firehoseio.Jsonify(true), firehoseio.Multiline(true), firehoseio.CompactJSON(true)},
			want: []string{`{"id":1,"name":"a"}` + "\n" + `{"id":2,"name":"é"}` + "\n"},
		},
		{
			name: "KV elements with a list value",
			build: func(s beam.Scope, stream string, opts ...firehoseio.Option) beam.PCollection {
				kvs := beam.ParDo(s, splitKV, beam.Create(s, "1:x"))
				grouped := batch.GroupIntoBatches(s, batch.Params{BatchSize: 5}, kvs)
				return firehoseio.Write(s, stream, grouped, opts...)
			},
			want: []string{"x"},
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stream := fmt.Sprintf("write-%d", i)
			h.createStream(t, stream)
			p, s := beam.NewPipelineWithRoot()
			opts := append([]firehoseio.Option{firehoseio.Endpoint(h.URL)}, tt.opts...)
			failed := tt.build(s, stream, opts...)
			passert.Empty(s, failed)
			ptest.RunAndValidate(t, p)
			if got := h.delivered(t, stream); !batchesIn(got, tt.want) {
				t.Errorf("delivered %q, want the batches %q in any order", got, tt.want)
			}
		})
	}
}

// TestWriteGroupByKey writes the values of each key of a GroupByKey as one batch.
func TestWriteGroupByKey(t *testing.T) {
	h := startHydrant(t)
	h.createStream(t, "grouped")
	p, s := beam.NewPipelineWithRoot()
	kvs := beam.ParDo(s, splitKV, beam.Create(s, "1:one", "2:three", "1:two", "2:four"))
	failed := firehoseio.Write(s, "grouped", beam.GroupByKey(s, kvs), firehoseio.Endpoint(h.URL), firehoseio.Multiline(true))
	passert.Empty(s, failed)
	ptest.RunAndValidate(t, p)

	lines := strings.SplitAfter(h.delivered(t, "grouped"), "\n")
	lines = lines[:len(lines)-1]
	slices.Sort(lines)
	if diff := cmp.Diff([]string{"four\n", "one\n", "three\n", "two\n"}, lines); diff != "" {
		t.Errorf("delivered lines (-want +got):\n%s", diff)
	}
}

// TestWriteReturnsFailedRecords lets only the first record of each call succeed: after
// three attempts one record is left, and Write's output is exactly that record, typed
// as in the input, with its FailedRecord.
func TestWriteReturnsFailedRecords(t *testing.T) {
	h := startHydrant(t)
	h.createStream(t, "faulty")
	h.faults(t, "faulty", `{"succeedPerCall":1}`)
	p, s := beam.NewPipelineWithRoot()
	col := firehoseio.Batch(s, beam.Create(s, "one", "two", "three", "four"), 4)
	failed := firehoseio.Write(s, "faulty", col, firehoseio.Endpoint(h.URL), firehoseio.MaxTrials(3))
	passert.Equals(s, beam.ParDo(s, summary, failed), "four: four ServiceUnavailableException 3")
	ptest.RunAndValidate(t, p)
	if got, want := h.delivered(t, "faulty"), "onetwothree"; got != want {
		t.Errorf("delivered %q, want %q", got, want)
	}
}

// TestWriteReprocessesFailedRecords writes structs to a stream that takes one record a
// call, and sends the records that failed, as they were, to a second stream: the
// pipeline re-processes what it wrote.
func TestWriteReprocessesFailedRecords(t *testing.T) {
	h := startHydrant(t)
	h.createStream(t, "takes-one")
	h.createStream(t, "rescue")
	h.faults(t, "takes-one", `{"succeedPerCall":1}`)
	p, s := beam.NewPipelineWithRoot()
	col := firehoseio.Batch(s, beam.Create(s, event{1, "a"}, event{2, "b"}, event{3, "c"}), 3)
	opts := []firehoseio.Option{firehoseio.Endpoint(h.URL), firehoseio.Jsonify(true), firehoseio.Multiline(true)}
	failed := firehoseio.Write(s, "takes-one", col, append(opts, firehoseio.MaxTrials(2))...)
	passert.Equals(s, beam.ParDo(s, eventSummary, failed), "3/c: {\"id\": 3, \"name\": \"c\"}\n ServiceUnavailableException 2")
	again := firehoseio.Write(s, "rescue", firehoseio.Batch(s, beam.DropValue(s, failed), 10), opts...)
	passert.Empty(s, again)
	ptest.RunAndValidate(t, p)
	if got, want := h.delivered(t, "rescue"), `{"id": 3, "name": "c"}`+"\n"; got != want {
		t.Errorf("rescue delivered %q, want %q", got, want)
	}
}

// TestWriteKVElementsJsonified is the Python connector's third test case
// (test_write_to_firehose_with_tuple_elements): KV elements (1, ["one", "two", "three",
// "four"]) and (2, [1, 2, 3, 4]) written with jsonify; the keys are ignored and each
// value is one batch of JSON records.
func TestWriteKVElementsJsonified(t *testing.T) {
	h := startHydrant(t)
	h.createStream(t, "tuples")
	p, s := beam.NewPipelineWithRoot()
	strs := beam.ParDo(s, keyStrings, beam.Create(s, []string{"one", "two", "three", "four"}))
	ints := beam.ParDo(s, keyInts, beam.Create(s, []int{1, 2, 3, 4}))
	opts := []firehoseio.Option{firehoseio.Endpoint(h.URL), firehoseio.Jsonify(true)}
	passert.Empty(s, firehoseio.Write(s, "tuples", strs, opts...))
	passert.Empty(s, firehoseio.Write(s, "tuples", ints, opts...))
	ptest.RunAndValidate(t, p)
	if got, want := h.delivered(t, "tuples"), []string{`"one""two""three""four"`, "1234"}; !batchesIn(got, want) {
		t.Errorf("delivered %q, want the batches %q in any order", got, want)
	}
}

// TestWriteUnsupportedElements checks that Write refuses, when the pipeline is built,
// elements that are not batches and records it cannot send.
func TestWriteUnsupportedElements(t *testing.T) {
	tests := []struct {
		name string
		col  func(s beam.Scope) beam.PCollection
		opts []firehoseio.Option
		err  error
	}{
		{"single strings", func(s beam.Scope) beam.PCollection { return beam.Create(s, "one", "two") }, nil, firehoseio.ErrUnsupportedElement},
		{"single byte slices", func(s beam.Scope) beam.PCollection { return beam.Create(s, []byte("one")) }, nil, firehoseio.ErrUnsupportedElement},
		{"ints", func(s beam.Scope) beam.PCollection { return beam.Create(s, 1, 2) }, []firehoseio.Option{firehoseio.Jsonify(true)}, firehoseio.ErrUnsupportedElement},
		{"list of ints without Jsonify", func(s beam.Scope) beam.PCollection { return beam.Create(s, []int{1, 2}) }, nil, firehoseio.ErrUnsupportedElement},
		{"KV of single strings", func(s beam.Scope) beam.PCollection {
			return beam.ParDo(s, splitKV, beam.Create(s, "1:one"))
		}, nil, firehoseio.ErrUnsupportedElement},
		{"CoGroupByKey of two", func(s beam.Scope) beam.PCollection {
			a := beam.ParDo(s, splitKV, beam.Create(s, "1:one"))
			b := beam.ParDo(s, splitKV, beam.Create(s, "1:two"))
			return beam.CoGroupByKey(s, a, b)
		}, nil, firehoseio.ErrUnsupportedElement},
		{"MaxTrials 0", func(s beam.Scope) beam.PCollection { return beam.Create(s, []string{"one"}) }, []firehoseio.Option{firehoseio.MaxTrials(0)}, firehoseio.ErrInvalidOption},
		{"access key without secret", func(s beam.Scope) beam.PCollection { return beam.Create(s, []string{"one"}) },
			[]firehoseio.Option{firehoseio.Credentials("AKIDONLY", "", "")}, firehoseio.ErrInvalidOption},
		{"session token alone", func(s beam.Scope) beam.PCollection { return beam.Create(s, []string{"one"}) },
			[]firehoseio.Option{firehoseio.Credentials("", "", "token")}, firehoseio.ErrInvalidOption},
		{"credentials and profile", func(s beam.Scope) beam.PCollection { return beam.Create(s, []string{"one"}) },
			[]firehoseio.Option{firehoseio.Credentials("AKID", "SECRET", ""), firehoseio.Profile("p")}, firehoseio.ErrInvalidOption},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := beam.NewPipeline().Root()
			_, err := firehoseio.TryWrite(s, "stream", tt.col(s), tt.opts...)
			if !errors.Is(err, tt.err) {
				t.Fatalf("TryWrite: got %v, want %v", err, tt.err)
			}
			defer func() {
				if r := recover(); r == nil {
					t.Errorf("Write did not panic")
				} else if e, ok := r.(error); !ok || !errors.Is(e, tt.err) {
					t.Errorf("Write panicked with %v, want %v", r, tt.err)
				}
			}()
			firehoseio.Write(s, "stream", tt.col(s), tt.opts...)
		})
	}
}

// TestBatch checks batch sizes within one bundle.
func TestBatch(t *testing.T) {
	p, s := beam.NewPipelineWithRoot()
	batches := firehoseio.Batch(s, beam.Create(s, "a", "b", "c", "d", "e"), 2)
	passert.Equals(s, batches, []string{"a", "b"}, []string{"c", "d"}, []string{"e"})
	ptest.RunAndValidate(t, p)

	s2 := beam.NewPipeline().Root()
	if _, err := firehoseio.TryBatch(s2, beam.Create(s2, "a"), 0); !errors.Is(err, firehoseio.ErrInvalidOption) {
		t.Errorf("TryBatch size 0: got %v, want ErrInvalidOption", err)
	}
}

// TestExample runs examples/write against Hydrant, as the README shows, and checks
// that it prints the 100 records it sent as JSON lines.
func TestExample(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the example with every Beam runner")
	}
	h := startHydrant(t)
	bin := filepath.Join(t.TempDir(), "write")
	if out, err := exec.Command("go", "build", "-o", bin, "./examples/write").CombinedOutput(); err != nil {
		t.Fatalf("go build ./examples/write: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "--firehose_endpoint", h.URL, "--bucket_dir", filepath.Join(h.DataDir, "s3", "firehoseio-example"))
	cmd.Dir = t.TempDir()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("example: %v\n%s", err, stderr.Bytes())
	}
	ids := map[int]bool{}
	for line := range strings.Lines(string(out)) {
		var e struct {
			ID        int    `json:"id"`
			Name      string `json:"name"`
			CreatedAt string `json:"created_at"`
		}
		if !strings.HasPrefix(line, "{") {
			continue
		}
		if err := json.Unmarshal([]byte(line), &e); err != nil || len(e.Name) != 5 || e.CreatedAt == "" {
			t.Errorf("line %q: not a record (%v)", line, err)
		}
		ids[e.ID] = true
	}
	if len(ids) != 100 {
		t.Errorf("example printed %d distinct records, want 100:\n%s", len(ids), out)
	}
}
