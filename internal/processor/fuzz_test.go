package processor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func FuzzJSONDeaggregate(f *testing.F) {
	for _, s := range []string{`{"a":1}{"b":2}`, "{\"a\":1}\n{\"b\":[1,2,{}]}\n", `{}`, ` `, `[1]`, `{"a":"\u00e9"} {"b":null}`, `{"a":1`, `{}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		subs, err := SplitJSON(data)
		if err != nil {
			if !errors.Is(err, ErrNotJSONObjects) {
				t.Fatalf("error %v does not wrap ErrNotJSONObjects", err)
			}
			return
		}
		for _, s := range subs {
			if !json.Valid(s) || s[0] != '{' {
				t.Fatalf("sub-record %q is not a JSON object", s)
			}
		}
		// Round trip: newline-joined sub-records split into the same ones.
		again, err := SplitJSON(bytes.Join(subs, []byte("\n")))
		if err != nil {
			t.Fatalf("re-split: %v", err)
		}
		if len(again) != len(subs) {
			t.Fatalf("re-split gave %d sub-records, want %d", len(again), len(subs))
		}
		for i := range subs {
			if !bytes.Equal(again[i], subs[i]) {
				t.Fatalf("sub-record %d: %q != %q", i, again[i], subs[i])
			}
		}
	})
}

func FuzzDelimited(f *testing.F) {
	f.Add([]byte("a####b####c"), []byte("####"))
	f.Add([]byte("a\nb\n"), []byte("\n"))
	f.Add([]byte("#####"), []byte("##"))
	f.Add([]byte(""), []byte(","))
	f.Fuzz(func(t *testing.T, data, delim []byte) {
		if len(delim) == 0 {
			return
		}
		parts := SplitDelimited(data, delim)
		total := 0
		for _, p := range parts {
			if len(p) == 0 {
				t.Fatal("empty sub-record")
			}
			if bytes.Contains(p, delim) {
				t.Fatalf("sub-record %q contains the delimiter", p)
			}
			total += len(p)
		}
		if want := len(bytes.Join(bytes.Split(data, delim), nil)); total != want {
			t.Fatalf("sub-records hold %d bytes, want %d", total, want)
		}
		if len(delim) == 1 {
			again := SplitDelimited(bytes.Join(parts, delim), delim)
			if len(again) != len(parts) {
				t.Fatalf("round trip: %d parts, want %d", len(again), len(parts))
			}
		}
	})
}

func FuzzKPL(f *testing.F) {
	f.Add(kplWrap(kplBody([]string{"pk"}, []kplSub{{0, "a"}, {0, "bb"}})))
	f.Add(kplWrap(kplBody([]string{"a", "b"}, []kplSub{{1, `{"x":1}`}})))
	f.Add(kplWrap([]byte{0x1a, 0x05, 0x08}))
	f.Add([]byte{0xF3, 0x89, 0x9A, 0xC2})
	f.Add([]byte("plain"))
	f.Fuzz(func(t *testing.T, data []byte) {
		subs, ok := DeaggregateKPL(data)
		if !ok {
			if subs != nil {
				t.Fatal("records returned with ok=false")
			}
		} else {
			if len(subs) == 0 {
				t.Fatal("ok with no records")
			}
			// Round trip: re-aggregate and de-aggregate again.
			parts := make([]kplSub, len(subs))
			for i, s := range subs {
				parts[i] = kplSub{0, string(s)}
			}
			again, ok := DeaggregateKPL(kplWrap(kplBody([]string{"pk"}, parts)))
			if !ok || len(again) != len(subs) {
				t.Fatalf("round trip failed: ok=%v n=%d want %d", ok, len(again), len(subs))
			}
			for i := range subs {
				if !bytes.Equal(again[i], subs[i]) {
					t.Fatalf("record %d differs", i)
				}
			}
		}
		// The protobuf body alone, with a valid MD5, must never panic either.
		if len(data) > 0 {
			DeaggregateKPL(kplWrap(data))
		}
	})
}

// FuzzJQFastPath checks that MetadataExtraction gives the same keys and the
// same error on the fast path as with gojq, for every record and query.
func FuzzJQFastPath(f *testing.F) {
	queries := []string{
		`{customer_id: .customer_id, region: .geo.region}`,
		`{a: .a, d: .b.c}`,
		`{k: .a."x-y"}`,
		`{k: .a["b"]}`,
		`{x: .a, y: .a.b, z: .a.b.c}`,
		`{a: .b, a: .a, "é": ."é", e: .["\u00e9"]."😀"}`,
		`{a, "b", c: .""}`,
		`{}`,
	}
	stages := make([]*metadataStage, len(queries))
	for i, q := range queries {
		stages[i] = metadataTestStage(f, q)
		if stages[i].fast == nil {
			f.Fatalf("query %q does not take the fast path", q)
		}
	}
	for _, s := range []string{
		`{"customer_id":"123456789012","geo":{"region":"eu-west-1","city":"Dublin"},"payload":[1,2,{"a":null}]}`,
		`{"a":"x","b":{"c":"y"}}`,
		" \t\n{ \"a\" : 1 , \"b\" : { \"c\" : true } }\r\n",
		`{"a":{"x-y":"1","b":{"c":2}},"a":{"b":null}}`,
		`{"a":{"b":1},"a":{"c":2}}`,
		`{"a":1,"b":{"c":1}}`,
		`{"a":"x","b":"s"}`,
		`{"a":[1],"b":{}}`,
		`{"a":null,"b":null}`,
		`{}`,
		`{"a":-0,"b":{"c":-0.0}}`,
		`{"a":123456789012345678901234567890,"b":{"c":1e400}}`,
		`{"a":1.5e300,"b":{"c":1E-7}}`,
		`{"a":0.1,"b":{"c":100000000000000000000000}}`,
		`{"a":"\u00e9\ud83d\ude00","é":"\ud800","\u00e9":"x"}`,
		`{"a":"\ud83dx","b":{"c":"\udc00\ud800"}}`,
		"{\"a\":\"\xff\xfe\",\"\xc3\xa9\":\"\xed\xa0\x80\"}",
		`{"a":"\"\\\/\b\f\n\r\t"}`,
		`{"":"empty","b":"x"}`,
		`{"\u0061":"escaped key"}`,
		`{"a":"1"}{"a":"2"}`,
		`{"a":"1"} {"a":"2"}`,
		`{"a":"1"}x`,
		`{"a":"1",}`,
		`{"a":01}`,
		`{"a":tru}`,
		`{"a":"1"`,
		"{\"a\":\"a\nb\"}",
		`{"a":"\x"}`,
		`[{"a":1}]`,
		`null`,
		`"a"`,
		`1`,
		``,
		`{"a":[[[[{"b":[]}]]]],"z":{"y":{"x":{}}}}`,
		`"\u00e9"`, `-0.0e-0`, `1E+2`, `{"b":{"c":"x"}}`, `[]`, `true`,
	} {
		f.Add([]byte(s))
	}
	ctx := context.Background()
	scanners := make([]*fastScanner, len(stages))
	for i, s := range stages {
		scanners[i] = s.fast.scanner()
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		// The input as a record, and as the value of every looked-up key
		// (most random values are not JSON objects).
		var wrapped []byte
		for i, part := range []string{`{"a":`, `,"b":{"c":`, `,"x-y":`, `},"customer_id":`, `,"geo":{"region":`, `}}`} {
			if i > 0 {
				wrapped = append(wrapped, data...)
			}
			wrapped = append(wrapped, part...)
		}
		for _, rec := range [][]byte{data, wrapped} {
			for i, s := range stages {
				want := result(s.extractJQ(ctx, rec))
				if d := cmp.Diff(want, result(s.extract(ctx, scanners[i], rec))); d != "" {
					t.Fatalf("query %q, record %q (-gojq +fast):\n%s", queries[i], rec, d)
				}
			}
		}
	})
}
