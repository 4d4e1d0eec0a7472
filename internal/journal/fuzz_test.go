package journal

import (
	"encoding/binary"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// testPut is one put of a frame built by a test.
type testPut struct {
	Arrival int64 // unix ms
	Records [][]byte
}

// encodeV1 builds a version 1 frame, as written before group commit.
func encodeV1(p testPut) []byte {
	b := []byte{frameV1}
	b = binary.BigEndian.AppendUint64(b, uint64(p.Arrival))
	return appendPutBody(b, p.Records)
}

// encodeV2 builds a version 2 frame with the functions the committer uses.
func encodeV2(lseq uint64, puts []testPut) []byte {
	b := appendFrameHeader(nil, frameV2, lseq, len(puts))
	var prev int64
	for i, p := range puts {
		b = appendArrival(b, i == 0, prev, p.Arrival)
		prev = p.Arrival
		b = appendPutBody(b, p.Records)
	}
	return b
}

// encodeV3 builds a version 3 frame with the functions a positioned append uses.
func encodeV3(lseq uint64, puts []testPut, position []byte) []byte {
	b := appendFrameHeader(nil, frameV3, lseq, len(puts))
	var prev int64
	for i, p := range puts {
		b = appendArrival(b, i == 0, prev, p.Arrival)
		prev = p.Arrival
		b = appendPutBody(b, p.Records)
	}
	return appendPosition(b, position)
}

// putsOf splits a decoded frame back into its puts.
func putsOf(f frame) []testPut {
	var puts []testPut
	for k, s := range f.puts {
		end := len(f.records)
		if k+1 < len(f.puts) {
			end = f.puts[k+1].first
		}
		puts = append(puts, testPut{Arrival: s.arrival, Records: f.records[s.first:end:end]})
	}
	return puts
}

var putsCmp = cmp.Options{cmp.Comparer(recordsEqual)}

func TestFrameRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		lseq uint64
		puts []testPut
	}{
		{"one put, no records", 1, []testPut{{Arrival: 1_700_000_000_999}}},
		{"one empty record", 2, []testPut{{Arrival: 5, Records: [][]byte{{}}}}},
		{"mixed", 300, []testPut{{Arrival: 1_700_000_000_999, Records: [][]byte{[]byte("a"), {}, make([]byte, 200), make([]byte, 20000)}}}},
		{"500 records", 1 << 40, []testPut{{Arrival: 7, Records: records(500, 100, 3)}}},
		{"several puts, arrivals out of order", 9, []testPut{
			{Arrival: 1_700_000_000_000, Records: [][]byte{[]byte("a")}},
			{Arrival: 1_700_000_000_000},
			{Arrival: 1_699_999_999_000, Records: [][]byte{[]byte("b"), []byte("c")}},
			{Arrival: 1_700_000_100_000, Records: records(3, 10, 1)},
			{Arrival: -5},
		}},
		{"64 single-record puts", 1, func() []testPut {
			var ps []testPut
			for i := range 64 {
				ps = append(ps, testPut{Arrival: 1_700_000_000_000 + int64(i%3), Records: records(1, 100, byte(i))})
			}
			return ps
		}()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := decodeFrame(encodeV2(tt.lseq, tt.puts))
			if err != nil {
				t.Fatal(err)
			}
			if f.lseq != tt.lseq {
				t.Errorf("lseq = %d, want %d", f.lseq, tt.lseq)
			}
			if diff := cmp.Diff(tt.puts, putsOf(f), putsCmp); diff != "" {
				t.Errorf("puts (-want +got):\n%s", diff)
			}
			// Each record's arrival is its put's.
			i := 0
			for k, p := range tt.puts {
				for range p.Records {
					if got := f.arrivalOf(i); got != p.Arrival {
						t.Errorf("arrival of record %d (put %d) = %d, want %d", i, k, got, p.Arrival)
					}
					i++
				}
			}
			if len(tt.puts) == 1 {
				// The same put as a version 1 frame decodes the same, with lseq 0.
				f1, err := decodeFrame(encodeV1(tt.puts[0]))
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(tt.puts, putsOf(f1), putsCmp); diff != "" || f1.lseq != 0 {
					t.Errorf("version 1: lseq %d, puts (-want +got):\n%s", f1.lseq, diff)
				}
			}
		})
	}
}

func TestPutBodyLen(t *testing.T) {
	for _, rs := range [][][]byte{nil, {{}}, records(500, 1000, 1), records(2, 200, 1)} {
		if got, want := putBodyLen(rs), len(appendPutBody(nil, rs)); got != want {
			t.Errorf("putBodyLen = %d, encoded %d", got, want)
		}
	}
	// The header bound holds for the largest values.
	if n := len(appendFrameHeader(nil, frameV2, ^uint64(0), 1<<31)); n > frameV2MaxHeader {
		t.Errorf("header of %d bytes over frameV2MaxHeader %d", n, frameV2MaxHeader)
	}
}

func TestDecodeFrameRejects(t *testing.T) {
	v1 := encodeV1(testPut{Arrival: 5, Records: [][]byte{[]byte("abc")}})
	v2 := encodeV2(3, []testPut{{Arrival: 5, Records: [][]byte{[]byte("abc")}}, {Arrival: 6, Records: [][]byte{[]byte("d")}}})
	cat := func(parts ...[]byte) []byte {
		var b []byte
		for _, p := range parts {
			b = append(b, p...)
		}
		return b
	}
	v3 := encodeV3(3, []testPut{{Arrival: 5, Records: [][]byte{[]byte("abc")}}}, []byte("pos"))
	tooMany := appendFrameHeader(nil, frameV2, 1, 1)
	tooMany = binary.BigEndian.AppendUint64(tooMany, 0)
	tooMany = binary.AppendUvarint(tooMany, maxRecordsPerFrame+1)
	tooMany = append(tooMany, make([]byte, maxRecordsPerFrame+1)...)
	tooManyAcross := encodeV2(1, []testPut{{Records: make([][]byte, maxRecordsPerFrame)}, {Records: [][]byte{{}}}})
	tests := []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"bad version", cat([]byte{4}, v1[1:])},
		{"v1 short header", v1[:5]},
		{"v1 no count", v1[:9]},
		{"v1 truncated record", v1[:len(v1)-1]},
		{"v1 trailing byte", cat(v1, []byte{0})},
		{"v1 huge count", cat(v1[:9], []byte{0xff, 0xff, 0xff, 0xff, 0x0f})},
		{"v1 overlong count", cat(v1[:9], []byte{0x81, 0x00, 3}, []byte("abc"))},
		{"v2 version only", v2[:1]},
		{"v2 lseq 0", cat([]byte{frameV2, 0}, v2[2:])},
		{"v2 overlong lseq", cat([]byte{frameV2, 0x83, 0x00}, v2[2:])},
		{"v2 no puts", []byte{frameV2, 1, 0}},
		{"v2 put count over bytes", cat([]byte{frameV2, 3, 100}, v2[3:])},
		{"v2 short arrival", v2[:7]},
		{"v2 truncated record", v2[:len(v2)-1]},
		{"v2 trailing byte", cat(v2, []byte{0})},
		{"v2 missing put", v2[:len(v2)-3]},
		{"v2 overlong arrival delta", cat(v2[:3+8+5], []byte{0x82, 0x00}, v2[3+8+5+1:])},
		{"v2 over 65,536 records in one put", tooMany},
		{"v2 over 65,536 records across puts", tooManyAcross},
		{"v3 without position", cat([]byte{frameV3}, v2[1:])},
		{"v3 empty position", cat([]byte{frameV3}, v2[1:], []byte{0})},
		{"v3 truncated position", v3[:len(v3)-1]},
		{"v3 overlong position length", cat([]byte{frameV3}, v2[1:], []byte{0x83, 0x00}, []byte("pos"))},
		{"v3 trailing byte", cat(v3, []byte{0})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := decodeFrame(tt.b); err == nil {
				t.Errorf("decodeFrame(%x) succeeded", tt.b)
			}
		})
	}
	// The base frames themselves decode.
	for _, b := range [][]byte{v1, v2, v3} {
		if _, err := decodeFrame(b); err != nil {
			t.Errorf("decodeFrame(%x) = %v", b, err)
		}
	}
}

func FuzzDecodeFrame(f *testing.F) {
	f.Add(encodeV1(testPut{}))
	f.Add(encodeV1(testPut{Arrival: 1_700_000_000_000, Records: [][]byte{[]byte("hello"), {}}}))
	f.Add(encodeV2(1, []testPut{{}}))
	f.Add(encodeV2(77, []testPut{{Arrival: 1_700_000_000_000, Records: [][]byte{[]byte("hello"), {}}}, {Arrival: 1_699_000_000_000}, {Arrival: 1_700_000_000_001, Records: [][]byte{[]byte("x")}}}))
	f.Add(encodeV3(5, []testPut{{Arrival: 1_700_000_000_000, Records: [][]byte{[]byte("r")}}, {Arrival: 1_699_999_999_000}}, []byte("shard-1=49590338271490256608559692538361571095921575989136588898")))
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, err := decodeFrame(b)
		if err != nil {
			return
		}
		// What decodes re-encodes to the same bytes.
		var again []byte
		switch b[0] {
		case frameV1:
			again = encodeV1(putsOf(fr)[0])
		case frameV3:
			again = encodeV3(fr.lseq, putsOf(fr), fr.position)
		default:
			again = encodeV2(fr.lseq, putsOf(fr))
		}
		if string(again) != string(b) {
			t.Fatalf("re-encode differs:\n%x\n%x", b, again)
		}
		for i := range fr.records {
			_ = fr.arrivalOf(i)
		}
	})
}
