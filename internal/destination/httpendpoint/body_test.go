package httpendpoint

import (
	"bytes"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

var bodyTime = time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC)

// readBody reads a body whole, in reads of every size from one byte up.
func readBody(t *testing.T, r io.Reader) []byte {
	t.Helper()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestBodyReader(t *testing.T) {
	for _, tc := range []struct {
		name    string
		records [][]byte
		want    string
	}{
		{"none", nil, `{"requestId":"id","timestamp":1796284800000,"records":[]}`},
		{"empty record", [][]byte{{}}, `{"requestId":"id","timestamp":1796284800000,"records":[{"data":""}]}`},
		{"three", [][]byte{[]byte("a"), []byte("bc"), {0, 255}}, `{"requestId":"id","timestamp":1796284800000,"records":[{"data":"YQ=="},{"data":"YmM="},{"data":"AP8="}]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			br := newBodyReader("id", bodyTime, tc.records)
			if got := br.size(); got != int64(len(tc.want)) {
				t.Errorf("size = %d, want %d", got, len(tc.want))
			}
			if got := string(readBody(t, iotest.OneByteReader(br))); got != tc.want {
				t.Errorf("body read a byte at a time\n got %s\nwant %s", got, tc.want)
			}
			again, _ := br.again()
			if got := string(readBody(t, again)); got != tc.want {
				t.Errorf("body read again\n got %s\nwant %s", got, tc.want)
			}
		})
	}
}

func FuzzBody(f *testing.F) {
	f.Add("id", []byte("abc"), []byte{})
	f.Add("\"\\\u2028", []byte{0, 255}, []byte("x"))
	f.Fuzz(func(t *testing.T, id string, a, b []byte) {
		br := newBodyReader(id, bodyTime, [][]byte{a, b})
		body := readBody(t, iotest.HalfReader(br))
		if int64(len(body)) != br.size() {
			t.Fatalf("body of %d bytes, size said %d", len(body), br.size())
		}
		var v struct {
			RequestID string `json:"requestId"`
			Timestamp int64  `json:"timestamp"`
			Records   []struct {
				Data []byte `json:"data"`
			} `json:"records"`
		}
		if err := json.Unmarshal(body, &v); err != nil {
			t.Fatalf("body %q does not parse: %v", body, err)
		}
		if strings.ToValidUTF8(id, "\ufffd") == id && v.RequestID != id {
			t.Fatalf("requestId %q, want %q", v.RequestID, id)
		}
		if v.Timestamp != bodyTime.UnixMilli() || len(v.Records) != 2 || !bytes.Equal(v.Records[0].Data, a) || !bytes.Equal(v.Records[1].Data, b) {
			t.Fatalf("body %q does not round-trip", body)
		}
	})
}
