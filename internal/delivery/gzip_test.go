package delivery

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/hydrant-dev/hydrant/internal/compress"
	"github.com/hydrant-dev/hydrant/internal/membudget"
)

// gzipRecords appends n JSON-lines records of about 1 KiB, in messages of 100, and returns
// them concatenated.
func gzipRecords(t *testing.T, ctx context.Context, n int, appendTo func([][]byte)) []byte {
	t.Helper()
	var all []byte
	var msg [][]byte
	for i := range n {
		rec := fmt.Appendf(nil, `{"id":%d,"service":"checkout","msg":"request %d completed","pad":%q}`+"\n",
			i, i*7919%1000003, strings.Repeat(fmt.Sprintf("%08x ", uint32(i*2654435761)), 100)[:900])
		all = append(all, rec...)
		msg = append(msg, rec)
		if len(msg) == 100 || i == n-1 {
			appendTo(msg)
			msg = nil
		}
	}
	return all
}

func gunzip(t *testing.T, b []byte) []byte {
	t.Helper()
	r, err := compress.NewReader(compress.Gzip, bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestGzipCompressedWhileFilling: a GZIP buffer above the chunk size holds its records
// compressed, not as they came, while it fills (what it holds of the memory budget shows it);
// the object it becomes is byte for byte what compressing the records at once writes.
func TestGzipCompressedWhileFilling(t *testing.T) {
	ctx := context.Background()
	j := openJournal(t)
	spec := testSpec(t)
	spec.Legs[0].Compression, spec.Legs[0].SizeBytes = compress.Gzip, 64<<20
	want := gzipRecords(t, ctx, 20_000, func(m [][]byte) { // about 20 MB
		if _, err := j.Append(ctx, "s", time.Now(), m); err != nil {
			t.Fatal(err)
		}
	})
	budget := membudget.New(1 << 30)
	out := newStore()
	r := run(t, Deps{Log: j, State: j, Objects: out, Budget: budget, Compression: compress.Config{Concurrency: 2}}, spec)
	waitFor(t, "every record in the open buffer", func() bool {
		legs, _ := r.Status("s")
		return len(legs) > 0 && legs[0].BufferedRecords == 20_000
	})
	held := budget.Stats().Used
	if held > int64(len(want))/2 {
		t.Errorf("the open buffer holds %d bytes of memory for %d bytes of records", held, len(want))
	}
	r.flush(t, "s")
	objs := out.under("b/p/")
	if len(objs) != 1 {
		t.Fatalf("%d objects, want 1", len(objs))
	}
	var body []byte
	for _, v := range objs {
		body = []byte(v)
	}
	if got := gunzip(t, body); !bytes.Equal(got, want) {
		t.Fatalf("object holds %d bytes of records, want %d in order", len(got), len(want))
	}
	k, err := newKitPool(compress.Config{Concurrency: 2}).get(compress.Gzip)
	if err != nil {
		t.Fatal(err)
	}
	at, err := k.encode(want)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(body, at) {
		t.Errorf("object compressed while filling (%d bytes) differs from the records compressed at once (%d bytes)", len(body), len(at))
	}
	t.Logf("%d bytes of records, %d compressed; %d bytes held while open", len(want), len(body), held)
}

// TestGzipCompressedBufferToErrorOutput: an object compressed while it filled that can never
// be written still sends every record, as it came, to the error output.
func TestGzipCompressedBufferToErrorOutput(t *testing.T) {
	ctx := context.Background()
	j := openJournal(t)
	spec := testSpec(t)
	spec.Legs[0].Compression, spec.Legs[0].SizeBytes = compress.Gzip, 8<<20
	want := gzipRecords(t, ctx, 12_000, func(m [][]byte) {
		if _, err := j.Append(ctx, "s", time.Now(), m); err != nil {
			t.Fatal(err)
		}
	})
	out := newStore()
	out.fail = func(key string) error {
		if strings.HasPrefix(key, "p/") {
			return permanent(key)
		}
		return nil
	}
	r := run(t, Deps{Log: j, State: j, Objects: out, Compression: compress.Config{Concurrency: 2}}, spec)
	r.flush(t, "s")
	if n := len(out.under("b/p/")); n != 0 {
		t.Fatalf("%d data objects stored through a refusing store", n)
	}
	var got []byte
	for _, k := range keys(out.under("b/e/processing-failed/")) {
		for line := range strings.SplitSeq(strings.TrimSpace(string(gunzip(t, []byte(out.snapshot()[k])))), "\n") {
			var doc struct {
				RawData   string `json:"rawData"`
				ErrorCode string `json:"errorCode"`
			}
			if err := json.Unmarshal([]byte(line), &doc); err != nil {
				t.Fatalf("error document %q: %v", line, err)
			}
			if doc.ErrorCode != "S3.InvalidObject" {
				t.Errorf("errorCode %q, want S3.InvalidObject", doc.ErrorCode)
			}
			raw, err := base64.StdEncoding.DecodeString(doc.RawData)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, raw...)
		}
	}
	// Error objects are listed by key (time, then a random id), so compare records, not order.
	if diff := cmp.Diff(lines(map[string]string{"": string(want)}), lines(map[string]string{"": string(got)})); diff != "" {
		t.Errorf("records in the error output (-want +got):\n%s", diff)
	}
}
