package processor

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
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
