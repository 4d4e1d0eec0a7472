package compress

import (
	"archive/zip"
	"bytes"
	stdgzip "compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/klauspost/compress/snappy"
)

// uuidName matches the entry name of a ZIP object: a canonical random UUID.
const uuidName = `[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}`

func TestRoundTrip(t *testing.T) {
	writes := []struct {
		name string
		step func() int
	}{
		{"one write", whole},
		{"record writes", recordSizes(7)},
	}
	for _, f := range Formats() {
		for _, in := range testInputs() {
			for _, w := range writes {
				t.Run(fmt.Sprintf("%s/%s/%s", f, in.name, w.name), func(t *testing.T) {
					b := encode(t, f, Config{}, in.data, w.step)
					sameBytes(t, decode(t, f, b), in.data)
				})
			}
		}
	}
}

func TestEncoderReuse(t *testing.T) {
	inputs := testInputs()
	for _, f := range Formats() {
		t.Run(string(f), func(t *testing.T) {
			e, err := NewEncoder(f, Config{})
			if err != nil {
				t.Fatal(err)
			}
			// A Reset in the middle of an object discards it.
			e.Reset(io.Discard)
			writeChunks(t, e, inputs[3].data[:100000], whole)
			for _, in := range inputs {
				var buf bytes.Buffer
				e.Reset(&buf)
				writeChunks(t, e, in.data, recordSizes(9))
				if err := e.Close(); err != nil {
					t.Fatalf("Close: %v", err)
				}
				sameBytes(t, decode(t, f, buf.Bytes()), in.data)
			}
		})
	}
}

func TestEncoderLifecycle(t *testing.T) {
	for _, f := range Formats() {
		t.Run(string(f), func(t *testing.T) {
			e, err := NewEncoder(f, Config{})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := e.Write([]byte("x")); !errors.Is(err, ErrClosed) {
				t.Errorf("Write before Reset = %v, want ErrClosed", err)
			}
			var buf bytes.Buffer
			e.Reset(&buf)
			if _, err := e.Write([]byte("abc")); err != nil {
				t.Fatal(err)
			}
			if err := e.Close(); err != nil {
				t.Fatal(err)
			}
			n := buf.Len()
			if err := e.Close(); err != nil {
				t.Errorf("second Close = %v, want nil", err)
			}
			if _, err := e.Write([]byte("x")); !errors.Is(err, ErrClosed) {
				t.Errorf("Write after Close = %v, want ErrClosed", err)
			}
			if buf.Len() != n {
				t.Errorf("object grew from %d to %d bytes after Close", n, buf.Len())
			}
			sameBytes(t, decode(t, f, buf.Bytes()), []byte("abc"))
		})
	}
}

// failWriter accepts limit bytes, then fails.
type failWriter struct{ limit int }

var errSink = errors.New("sink failed")

func (w *failWriter) Write(p []byte) (int, error) {
	if len(p) > w.limit {
		n := w.limit
		w.limit = 0
		return n, errSink
	}
	w.limit -= len(p)
	return len(p), nil
}

func TestWriterErrorIsSticky(t *testing.T) {
	data := randomBytes(1<<20, 11)
	for _, f := range Formats() {
		t.Run(string(f), func(t *testing.T) {
			w, err := NewWriter(f, &failWriter{limit: 1000}, Config{})
			if err != nil {
				t.Fatal(err)
			}
			_, werr := w.Write(data)
			cerr := w.Close()
			if !errors.Is(werr, errSink) && !errors.Is(cerr, errSink) {
				t.Fatalf("Write = %v, Close = %v; want one to wrap the sink's error", werr, cerr)
			}
			if _, err := w.Write([]byte("more")); err == nil {
				t.Errorf("Write after a failure succeeded")
			}
		})
	}
}

func TestEmptyObjectBytes(t *testing.T) {
	tests := []struct {
		format Format
		want   []byte
	}{
		{Uncompressed, nil},
		{Snappy, []byte("\x82SNAPPY\x00\x00\x00\x00\x01\x00\x00\x00\x01")},
		{HadoopSnappy, []byte{0, 0, 0, 0}},
	}
	for _, tt := range tests {
		got := encode(t, tt.format, Config{}, nil, whole)
		if diff := cmp.Diff(tt.want, got, cmp.Comparer(bytes.Equal)); diff != "" {
			t.Errorf("empty %s object (-want +got):\n%s", tt.format, diff)
		}
	}
}

// TestSnappyFraming checks the block structure of both snappy formats, parsed
// here independently of the package's reader.
func TestSnappyFraming(t *testing.T) {
	data := logLines(3*hadoopBlockSize+12345, 21)

	t.Run("Snappy", func(t *testing.T) {
		b := encode(t, Snappy, Config{}, data, recordSizes(3))
		if !bytes.HasPrefix(b, []byte(xerialHeader)) {
			t.Fatalf("object starts % x, want the xerial header", b[:16])
		}
		var sizes []int
		for p := b[16:]; len(p) > 0; {
			n := int(binary.BigEndian.Uint32(p))
			d, err := snappy.DecodedLen(p[4 : 4+n])
			if err != nil {
				t.Fatal(err)
			}
			sizes = append(sizes, d)
			p = p[4+n:]
		}
		want := make([]int, len(data)/xerialBlockSize)
		for i := range want {
			want[i] = xerialBlockSize
		}
		want = append(want, len(data)%xerialBlockSize)
		if diff := cmp.Diff(want, sizes); diff != "" {
			t.Errorf("uncompressed block sizes (-want +got):\n%s", diff)
		}
	})

	t.Run("HADOOP_SNAPPY", func(t *testing.T) {
		for _, in := range []input{{"log lines", data}, {"random", randomBytes(3*hadoopBlockSize+5, 22)}} {
			b := encode(t, HadoopSnappy, Config{}, in.data, recordSizes(4))
			var sizes []int
			for p := b; len(p) > 0; {
				u := int(binary.BigEndian.Uint32(p))
				n := int(binary.BigEndian.Uint32(p[4:]))
				if n > hadoopBufferSize {
					t.Errorf("%s: chunk of %d bytes exceeds Hadoop's %d-byte buffer", in.name, n, hadoopBufferSize)
				}
				d, err := snappy.DecodedLen(p[8 : 8+n])
				if err != nil {
					t.Fatal(err)
				}
				if d != u {
					t.Errorf("%s: block declares %d bytes, its one chunk holds %d", in.name, u, d)
				}
				sizes = append(sizes, u)
				p = p[8+n:]
			}
			want := []int{hadoopBlockSize, hadoopBlockSize, hadoopBlockSize, len(in.data) - 3*hadoopBlockSize}
			if diff := cmp.Diff(want, sizes); diff != "" {
				t.Errorf("%s: block sizes (-want +got):\n%s", in.name, diff)
			}
		}
	})
}

func TestHadoopBlockSizeIsHadoops(t *testing.T) {
	if hadoopBlockSize != 218422 {
		t.Errorf("hadoopBlockSize = %d, want 262144 - (262144/6 + 32) = 218422", hadoopBlockSize)
	}
}

func TestZipLayout(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 34, 56, 0, time.UTC)
	clock := func() time.Time { return now }
	tests := []struct {
		name    string
		cfg     Config
		pattern string
	}{
		{"random UUID name", Config{Now: clock}, uuidName},
		{"configured name", Config{Now: clock, ZipEntryName: "records.json"}, `records\.json`},
	}
	data := logLines(300000, 31)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := encode(t, Zip, tt.cfg, data, recordSizes(5))
			zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
			if err != nil {
				t.Fatal(err)
			}
			if len(zr.File) != 1 {
				t.Fatalf("%d entries, want 1", len(zr.File))
			}
			fh := zr.File[0].FileHeader
			if !regexp.MustCompile(`^` + tt.pattern + `$`).MatchString(fh.Name) {
				t.Errorf("entry name %q does not match %s", fh.Name, tt.pattern)
			}
			if fh.Method != zip.Deflate {
				t.Errorf("method %d, want deflate (8)", fh.Method)
			}
			if fh.Flags&0x8 == 0 {
				t.Errorf("flags %#x lack the data descriptor bit", fh.Flags)
			}
			if !fh.Modified.Equal(now) {
				t.Errorf("modified %v, want %v", fh.Modified, now)
			}
			if fh.UncompressedSize64 != uint64(len(data)) {
				t.Errorf("uncompressed size %d, want %d", fh.UncompressedSize64, len(data))
			}
			if !bytes.HasPrefix(b, []byte("PK\x03\x04")) {
				t.Errorf("object starts % x, want a local file header", b[:4])
			}
		})
	}

	t.Run("fresh name per object", func(t *testing.T) {
		e, err := NewEncoder(Zip, Config{})
		if err != nil {
			t.Fatal(err)
		}
		names := map[string]bool{}
		for range 3 {
			var buf bytes.Buffer
			e.Reset(&buf)
			if err := e.Close(); err != nil {
				t.Fatal(err)
			}
			zr, err := zip.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
			if err != nil {
				t.Fatal(err)
			}
			names[zr.File[0].Name] = true
		}
		if len(names) != 3 {
			t.Errorf("3 objects got %d distinct entry names", len(names))
		}
	})
}

func TestGzipIsOneMember(t *testing.T) {
	for _, concurrency := range []int{0, 4} {
		t.Run(fmt.Sprintf("concurrency %d", concurrency), func(t *testing.T) {
			testGzipIsOneMember(t, Config{Concurrency: concurrency})
		})
	}
}

func testGzipIsOneMember(t *testing.T, cfg Config) {
	data := logLines(5<<20, 41) // several parallel blocks
	b := encode(t, Gzip, cfg, data, recordSizes(6))
	br := bytes.NewReader(b)
	zr, err := stdgzip.NewReader(br)
	if err != nil {
		t.Fatal(err)
	}
	zr.Multistream(false)
	got, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	sameBytes(t, got, data)
	if br.Len() != 0 {
		t.Errorf("%d bytes follow the first gzip member", br.Len())
	}
	if zr.Name != "" || zr.Comment != "" || !zr.ModTime.IsZero() {
		t.Errorf("header has name %q, comment %q, mtime %v; want none", zr.Name, zr.Comment, zr.ModTime)
	}
}

func TestDeflateLevels(t *testing.T) {
	data := logLines(2<<20, 51)
	for _, f := range []Format{Gzip, Zip} {
		sizes := map[int]int{}
		for _, level := range []int{BestSpeed, DefaultLevel, BestCompression} {
			b := encode(t, f, Config{Level: level, ZipEntryName: "x"}, data, whole)
			sameBytes(t, decode(t, f, b), data)
			sizes[level] = len(b)
		}
		if !(sizes[BestCompression] <= sizes[DefaultLevel] && sizes[DefaultLevel] < sizes[BestSpeed]) {
			t.Errorf("%s sizes by level %v: want level 9 <= default < level 1", f, sizes)
		}
	}
}

func TestDeterministicOutput(t *testing.T) {
	data := logLines(400000, 61)
	cfg := Config{ZipEntryName: "x", Now: func() time.Time { return time.Unix(1700000000, 0) }}
	for _, f := range Formats() {
		a := encode(t, f, cfg, data, whole)
		b := encode(t, f, cfg, data, recordSizes(8))
		if !bytes.Equal(a, b) {
			t.Errorf("%s: output depends on how the input was split into writes", f)
		}
	}
}

func TestReaderRejectsCorrupt(t *testing.T) {
	xerial := encode(t, Snappy, Config{}, logLines(100000, 71), whole)
	hadoop := encode(t, HadoopSnappy, Config{}, logLines(100000, 72), whole)
	gz := encode(t, Gzip, Config{}, logLines(100000, 73), whole)
	var twoEntries bytes.Buffer
	zw := zip.NewWriter(&twoEntries)
	for _, name := range []string{"a", "b"} {
		w, _ := zw.Create(name)
		_, _ = w.Write([]byte(name))
	}
	_ = zw.Close()

	hadoopOverlong := bytes.Clone(hadoop)
	binary.BigEndian.PutUint32(hadoopOverlong, 10) // block declares fewer bytes than its chunk holds

	tests := []struct {
		name   string
		format Format
		data   []byte
	}{
		{"xerial truncated header", Snappy, xerial[:10]},
		{"xerial bad magic", Snappy, append([]byte("\x83"), xerial[1:]...)},
		{"xerial version 0", Snappy, append(append([]byte(xerialHeader[:8]), 0, 0, 0, 0, 0, 0, 0, 1), xerial[16:]...)},
		{"xerial truncated block", Snappy, xerial[:len(xerial)-3]},
		{"xerial truncated length", Snappy, xerial[:18]},
		{"xerial garbage block", Snappy, append([]byte(xerialHeader), 0, 0, 0, 3, 0xff, 0xff, 0xff)},
		{"google framing", Snappy, []byte("\xff\x06\x00\x00sNaPpY")},
		{"hadoop truncated chunk", HadoopSnappy, hadoop[:len(hadoop)-1]},
		{"hadoop truncated block", HadoopSnappy, hadoop[:6]},
		{"hadoop chunk overruns block", HadoopSnappy, hadoopOverlong},
		{"hadoop missing chunk", HadoopSnappy, []byte{0, 0, 0, 5}},
		{"hadoop huge declared chunk", HadoopSnappy, []byte{0, 0, 0, 5, 0x7f, 0xff, 0xff, 0xff, 0}},
		{"gzip garbage", Gzip, []byte("not gzip at all")},
		{"gzip truncated", Gzip, gz[:len(gz)-5]},
		{"zip two entries", Zip, twoEntries.Bytes()},
		{"zip garbage", Zip, []byte("PK not really")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := NewReader(tt.format, bytes.NewReader(tt.data))
			if err == nil {
				_, err = io.ReadAll(r)
			}
			if err == nil {
				t.Fatalf("read succeeded, want an error")
			}
			if tt.format != Gzip && !errors.Is(err, ErrCorrupt) {
				t.Errorf("error %v does not wrap ErrCorrupt", err)
			}
		})
	}
}

func TestReaderAcceptsOtherWriters(t *testing.T) {
	// Shapes other writers produce and our own writer does not.
	block := snappy.Encode(nil, []byte("hello, "))
	block2 := snappy.Encode(nil, []byte("world"))
	be := func(n int) []byte { return binary.BigEndian.AppendUint32(nil, uint32(n)) }
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	tests := []struct {
		name   string
		format Format
		data   []byte
	}{
		{"xerial concatenated streams", Snappy, cat([]byte(xerialHeader), be(len(block)), block, []byte(xerialHeader), be(len(block2)), block2)},
		{"xerial empty input", Snappy, nil},
		{"hadoop two chunks in one block", HadoopSnappy, cat(be(12), be(len(block)), block, be(len(block2)), block2)},
		{"hadoop empty block between blocks", HadoopSnappy, cat(be(7), be(len(block)), block, be(0), be(5), be(len(block2)), block2)},
		{"hadoop empty input", HadoopSnappy, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := string(decode(t, tt.format, tt.data))
			if want := "hello, world"; len(tt.data) > 0 && got != want {
				t.Errorf("got %q, want %q", got, want)
			}
			if len(tt.data) == 0 && got != "" {
				t.Errorf("got %q from empty input", got)
			}
		})
	}
}

// TestLeafPackage keeps compress a leaf: it imports no package of this module.
func TestLeafPackage(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go command not on PATH")
	}
	out, err := exec.Command(goTool, "list", "-deps", "-f", "{{.ImportPath}}", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	const module = "github.com/hydrant-dev/hydrant/"
	for _, p := range strings.Fields(string(out)) {
		if strings.HasPrefix(p, module) && p != module+"internal/compress" {
			t.Errorf("internal/compress imports %s; it must stay a leaf", p)
		}
	}
}
