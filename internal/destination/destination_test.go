package destination

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// coded is a store error that classifies itself.
type coded struct{ permanent bool }

func (c coded) Error() string   { return fmt.Sprintf("coded(%v)", c.permanent) }
func (c coded) Permanent() bool { return c.permanent }

func TestIsPermanent(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"ErrInvalidObject", ErrInvalidObject, true},
		{"wrapped ErrInvalidObject", fmt.Errorf("put b/k: %w", CheckKey("")), true},
		{"ErrInvalidObject over a transient classifier", fmt.Errorf("%w: %w", ErrInvalidObject, coded{false}), true},
		{"joined with ErrInvalidObject", errors.Join(errors.New("x"), ErrInvalidObject), true},
		{"classifier permanent", coded{true}, true},
		{"wrapped classifier permanent", fmt.Errorf("s3: %w", coded{true}), true},
		{"classifier transient", coded{false}, false},
		{"first classifier in the chain decides", fmt.Errorf("%w", fmt.Errorf("outer: %w", errors.Join(coded{false}, coded{true}))), false},
		{"context canceled", context.Canceled, false},
		{"deadline exceeded", fmt.Errorf("put: %w", context.DeadlineExceeded), false},
		{"cancellation over a permanent classifier", fmt.Errorf("%w: %w", coded{true}, context.Canceled), false},
		{"plain error", errors.New("connection reset"), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := IsPermanent(tc.err); got != tc.want {
				t.Errorf("IsPermanent(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}

func TestCheckKey(t *testing.T) {
	tests := []struct {
		name, key string
		wantErr   bool
	}{
		{"plain", "2026/11/21/22/s-1-2026-11-21-22-40-07-u", false},
		{"1,024 bytes", strings.Repeat("k", MaxKeyLen), false},
		{"1,024 bytes of 2-byte runes", strings.Repeat("é", MaxKeyLen/2), false},
		{"dots inside a segment", "a/..b/c.", false},
		{"empty", "", true},
		{"trailing slash", "dir/", true},
		{"dot segment", "a/./b", true},
		{"dot-dot segment", "..", true},
		{"1,025 bytes", strings.Repeat("k", MaxKeyLen+1), true},
		{"1,026 bytes of 2-byte runes", strings.Repeat("é", MaxKeyLen/2+1), true},
		{"invalid UTF-8", "bad\xffutf8", true},
		{"truncated rune", "é"[:1], true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckKey(tc.key)
			if got := err != nil; got != tc.wantErr {
				t.Fatalf("CheckKey(%.40q) = %v, want error %v", tc.key, err, tc.wantErr)
			}
			if err != nil && !(errors.Is(err, ErrInvalidObject) && IsPermanent(err)) {
				t.Errorf("CheckKey(%.40q) = %v, want a permanent ErrInvalidObject", tc.key, err)
			}
		})
	}
}
