package compress

import (
	"bytes"
	"io"
	"testing"
)

// FuzzReader feeds arbitrary bytes to the snappy framing parsers: they must
// return content or an error, never panic or allocate without bound.
func FuzzReader(f *testing.F) {
	for _, data := range [][]byte{nil, []byte("x"), logLines(70000, 81)} {
		for _, format := range []Format{Snappy, HadoopSnappy} {
			var buf bytes.Buffer
			w, err := NewWriter(format, &buf, Config{})
			if err != nil {
				f.Fatal(err)
			}
			_, _ = w.Write(data)
			_ = w.Close()
			f.Add(format == Snappy, buf.Bytes())
		}
	}
	f.Add(true, []byte(xerialHeader+xerialHeader))
	f.Add(false, []byte{0, 0, 0, 5, 0, 0, 0, 7, 5, 16, 104, 101, 108, 108, 111})
	f.Fuzz(func(t *testing.T, xerial bool, data []byte) {
		format := HadoopSnappy
		if xerial {
			format = Snappy
		}
		r, err := NewReader(format, bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, r)
	})
}

// FuzzRoundTrip writes arbitrary content in every format, split into writes
// of arbitrary size, and requires it to read back unchanged.
func FuzzRoundTrip(f *testing.F) {
	f.Add([]byte(""), uint16(1))
	f.Add([]byte("abcabcabc"), uint16(2))
	f.Add(logLines(5000, 91), uint16(333))
	f.Fuzz(func(t *testing.T, data []byte, step uint16) {
		size := int(step)%8192 + 1
		for _, format := range Formats() {
			b := encode(t, format, Config{ZipEntryName: "x"}, data, func() int { return size })
			sameBytes(t, decode(t, format, b), data)
		}
	})
}
