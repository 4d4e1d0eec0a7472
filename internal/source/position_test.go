package source

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestPositionRoundTrip(t *testing.T) {
	tests := []Position{
		{Source: "arn:aws:kinesis:us-east-1:123456789012:stream/s"},
		{Source: "arn:aws:kinesis:us-east-1:123456789012:stream/s", Entries: map[string]Entry{
			"shardId-000000000000": {Value: "49590338271490256608559692538361571095921575989136588898"},
			"shardId-000000000001": {Value: "49590338271490256608559692538361571095921575989136588899", Done: true},
			"shardId-000000000002": {},
		}},
		{Source: "arn:aws:kafka:us-east-1:123456789012:cluster/c/uuid topic", Entries: map[string]Entry{
			"0": {Value: "0"}, "1": {Value: "9223372036854775807"}, "10": {Value: "12"},
		}},
	}
	for _, p := range tests {
		got, err := ParsePosition(p.Marshal())
		if err != nil {
			t.Fatalf("ParsePosition(Marshal(%+v)): %v", p, err)
		}
		if diff := cmp.Diff(p, got, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("round trip (-want +got):\n%s", diff)
		}
	}
}

func TestParsePositionRejects(t *testing.T) {
	good := Position{Source: "s", Entries: map[string]Entry{"a": {Value: "1"}, "b": {Value: "2", Done: true}}}.Marshal()
	cat := func(parts ...[]byte) []byte {
		var b []byte
		for _, p := range parts {
			b = append(b, p...)
		}
		return b
	}
	tests := []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"version 2", cat([]byte{2}, good[1:])},
		{"truncated", good[:len(good)-1]},
		{"trailing byte", cat(good, []byte{0})},
		{"keys out of order", []byte{1, 1, 's', 2, 1, 'b', 0, 0, 1, 'a', 0, 0}},
		{"repeated key", []byte{1, 1, 's', 2, 1, 'a', 0, 0, 1, 'a', 0, 0}},
		{"unknown flag", []byte{1, 1, 's', 1, 1, 'a', 0, 2}},
		{"overlong varint", []byte{1, 0x81, 0x00, 's', 0}},
		{"count over bytes", []byte{1, 1, 's', 100}},
		{"value too long", cat([]byte{1, 1, 's', 1, 1, 'a', 0x81, 0x01}, make([]byte, 129), []byte{0})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := ParsePosition(tt.b); !errors.Is(err, ErrBadPosition) {
				t.Errorf("ParsePosition(%x) = %v, want ErrBadPosition", tt.b, err)
			}
		})
	}
}

func FuzzParsePosition(f *testing.F) {
	f.Add(Position{Source: "s"}.Marshal())
	f.Add(Position{Source: "arn", Entries: map[string]Entry{"shardId-1": {Value: "495903"}, "shardId-2": {Done: true}}}.Marshal())
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParsePosition(b)
		if err != nil {
			return
		}
		if again := p.Marshal(); string(again) != string(b) {
			t.Fatalf("re-encode differs:\n%x\n%x", b, again)
		}
	})
}
