package compress

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"
	"time"
)

// input is a named test object.
type input struct {
	name string
	data []byte
}

// testInputs returns the objects every format is tested with.
func testInputs() []input {
	return []input{
		{"empty", nil},
		{"one byte", []byte("x")},
		{"1 MiB random", randomBytes(1<<20, 1)},
		{"5 MiB log lines", logLines(5<<20, 2)},
		{"over two Hadoop blocks", logLines(2*hadoopBlockSize+17, 3)},
		{"exactly one xerial block", logLines(xerialBlockSize, 4)},
		{"exactly one Hadoop block", randomBytes(hadoopBlockSize, 5)},
	}
}

// randomBytes returns n incompressible bytes, the same for the same seed.
func randomBytes(n int, seed uint64) []byte {
	b := make([]byte, n)
	r := rand.NewChaCha8([32]byte{byte(seed)})
	_, _ = r.Read(b)
	return b
}

// logLines returns n bytes of JSON-lines application logs, the same for the
// same seed: realistic Firehose records with timestamps, ids and free text.
func logLines(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	levels := []string{"INFO", "INFO", "INFO", "DEBUG", "WARN", "ERROR"}
	services := []string{"checkout", "cart", "auth", "search", "inventory", "payments"}
	methods := []string{"GET", "GET", "GET", "POST", "PUT", "DELETE"}
	paths := []string{"/api/v1/items", "/api/v1/cart", "/api/v2/search", "/login", "/api/v1/orders", "/healthz"}
	agents := []string{
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15",
		"okhttp/4.12.0",
		"aws-sdk-go-v2/1.30.0 os/linux lang/go#1.26",
	}
	messages := []string{"request completed", "cache miss", "upstream timeout, retrying", "user not found", "order placed", "rate limited"}
	t := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	var b bytes.Buffer
	b.Grow(n + 512)
	for b.Len() < n {
		t = t.Add(time.Duration(r.IntN(5000)) * time.Microsecond)
		fmt.Fprintf(&b, `{"ts":%q,"level":%q,"service":%q,"request_id":"%016x%016x","method":%q,"path":"%s/%d","status":%d,"latency_ms":%.3f,"bytes":%d,"user_agent":%q,"client_ip":"10.%d.%d.%d","msg":%q}`+"\n",
			t.Format(time.RFC3339Nano), levels[r.IntN(len(levels))], services[r.IntN(len(services))],
			r.Uint64(), r.Uint64(), methods[r.IntN(len(methods))], paths[r.IntN(len(paths))], r.IntN(100000),
			[]int{200, 200, 200, 201, 204, 301, 400, 404, 500, 503}[r.IntN(10)], r.Float64()*250, r.IntN(1<<20),
			agents[r.IntN(len(agents))], r.IntN(256), r.IntN(256), r.IntN(256), messages[r.IntN(len(messages))])
	}
	return b.Bytes()[:n]
}

// writeChunks writes data to w in pieces of the sizes step returns in turn,
// as a delivery worker writes one record at a time.
func writeChunks(tb testing.TB, w io.Writer, data []byte, step func() int) {
	tb.Helper()
	for len(data) > 0 {
		n := min(step(), len(data))
		if _, err := w.Write(data[:n]); err != nil {
			tb.Fatalf("Write: %v", err)
		}
		data = data[n:]
	}
}

// encode returns data as one object in format f, written in pieces of the
// sizes step returns.
func encode(tb testing.TB, f Format, cfg Config, data []byte, step func() int) []byte {
	tb.Helper()
	var buf bytes.Buffer
	w, err := NewWriter(f, &buf, cfg)
	if err != nil {
		tb.Fatalf("NewWriter(%s): %v", f, err)
	}
	writeChunks(tb, w, data, step)
	if err := w.Close(); err != nil {
		tb.Fatalf("Close: %v", err)
	}
	return buf.Bytes()
}

// decode returns the content of object b in format f, read with NewReader.
func decode(tb testing.TB, f Format, b []byte) []byte {
	tb.Helper()
	r, err := NewReader(f, bytes.NewReader(b))
	if err != nil {
		tb.Fatalf("NewReader(%s): %v", f, err)
	}
	got, err := io.ReadAll(r)
	if err != nil {
		tb.Fatalf("read %s: %v", f, err)
	}
	if err := r.Close(); err != nil {
		tb.Fatalf("close %s reader: %v", f, err)
	}
	return got
}

// sameBytes fails tb unless got equals want, naming the first difference
// rather than printing megabytes.
func sameBytes(tb testing.TB, got, want []byte) {
	tb.Helper()
	if bytes.Equal(got, want) {
		return
	}
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	tb.Errorf("content differs at byte %d: got %d bytes, want %d", i, len(got), len(want))
}

// whole writes everything at once.
func whole() int { return 1 << 62 }

// recordSizes returns a step function of record-like sizes from 1 byte to
// 4 KiB, the same sequence for the same seed.
func recordSizes(seed uint64) func() int {
	r := rand.New(rand.NewPCG(seed, seed))
	return func() int { return 1 + r.IntN(4096) }
}
