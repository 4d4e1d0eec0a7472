package compress

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/klauspost/compress/s2"
)

// benchSize is the object size of the benchmarks: 8 MiB of JSON-lines logs.
const benchSize = 8 << 20

// countWriter counts and discards what it is given.
type countWriter struct{ n int64 }

func (w *countWriter) Write(p []byte) (int, error) {
	w.n += int64(len(p))
	return len(p), nil
}

// records splits data after each newline, as a delivery worker sees records.
func records(data []byte) [][]byte {
	var recs [][]byte
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n') + 1
		if i == 0 {
			i = len(data)
		}
		recs = append(recs, data[:i])
		data = data[i:]
	}
	return recs
}

// BenchmarkEncode writes one 8 MiB object per iteration, one record per
// Write, with a reused Encoder. It reports throughput on the uncompressed
// bytes and the compression ratio (uncompressed/compressed).
func BenchmarkEncode(b *testing.B) {
	data := logLines(benchSize, 101)
	recs := records(data)
	cases := []struct {
		name   string
		format Format
		cfg    Config
	}{
		{"UNCOMPRESSED", Uncompressed, Config{}},
		{"GZIP/default", Gzip, Config{}},
		{"GZIP/level1", Gzip, Config{Level: BestSpeed}},
		{"GZIP/level9", Gzip, Config{Level: BestCompression}},
		{"ZIP/default", Zip, Config{}},
		{"ZIP/level1", Zip, Config{Level: BestSpeed}},
		{"Snappy", Snappy, Config{}},
		{"HADOOP_SNAPPY", HadoopSnappy, Config{}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			e, err := NewEncoder(c.format, c.cfg)
			if err != nil {
				b.Fatal(err)
			}
			var out countWriter
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				out.n = 0
				e.Reset(&out)
				for _, r := range recs {
					if _, err := e.Write(r); err != nil {
						b.Fatal(err)
					}
				}
				if err := e.Close(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(data))/float64(out.n), "ratio")
		})
	}
}

// BenchmarkDecode reads one 8 MiB object per iteration with NewReader.
func BenchmarkDecode(b *testing.B) {
	data := logLines(benchSize, 101)
	for _, f := range Formats() {
		obj := encode(b, f, Config{}, data, whole)
		b.Run(string(f), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			var out countWriter
			for b.Loop() {
				r, err := NewReader(f, bytes.NewReader(obj))
				if err != nil {
					b.Fatal(err)
				}
				if _, err := bytes.NewBuffer(nil).ReadFrom(r); err != nil {
					b.Fatal(err)
				}
				out.n++
			}
		})
	}
}

// BenchmarkSnappyBlockEncoders compares the snappy-compatible block encoders
// of s2 on our block sizes; it backs the choice of s2.EncodeSnappy.
func BenchmarkSnappyBlockEncoders(b *testing.B) {
	data := logLines(benchSize, 101)
	encoders := []struct {
		name string
		fn   func(dst, src []byte) []byte
	}{
		{"EncodeSnappy", s2.EncodeSnappy},
		{"EncodeSnappyBetter", s2.EncodeSnappyBetter},
	}
	for _, size := range []int{xerialBlockSize, hadoopBlockSize} {
		for _, enc := range encoders {
			b.Run(fmt.Sprintf("%s/block%d", enc.name, size), func(b *testing.B) {
				dst := make([]byte, s2.MaxEncodedLen(size))
				var n int
				b.SetBytes(int64(len(data)))
				for b.Loop() {
					n = 0
					for p := data; len(p) > 0; {
						k := min(size, len(p))
						n += len(enc.fn(dst, p[:k]))
						p = p[k:]
					}
				}
				b.ReportMetric(float64(len(data))/float64(n), "ratio")
			})
		}
	}
}
