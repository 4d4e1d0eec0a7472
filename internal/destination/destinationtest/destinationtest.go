// Package destinationtest is the conformance suite every object destination runs: whole
// objects, exact bytes, idempotent rewrites of a key, and refusal of keys that cannot be stored.
package destinationtest

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hydrant-dev/hydrant/internal/destination"
)

// Store is a destination under test together with a way to read back what it stored.
type Store interface {
	PutObject(ctx context.Context, o destination.Object) error
	// ReadObject returns the stored bytes of bucket/key.
	ReadObject(ctx context.Context, bucket, key string) ([]byte, error)
}

// Run runs the conformance suite against the store that newStore returns for each subtest.
func Run(t *testing.T, newStore func(t *testing.T) Store) {
	ctx := context.Background()
	tests := []struct {
		name string
		objs []destination.Object
		want map[string][]byte // bucket/key → bytes
	}{
		{
			name: "plain key",
			objs: []destination.Object{{Bucket: "b", Key: "2026/11/21/22/s-1-2026-11-21-22-40-07-u", Body: []byte("abcabc")}},
			want: map[string][]byte{"b/2026/11/21/22/s-1-2026-11-21-22-40-07-u": []byte("abcabc")},
		},
		{
			name: "empty object",
			objs: []destination.Object{{Bucket: "b", Key: "k", Body: nil}},
			want: map[string][]byte{"b/k": {}},
		},
		{
			name: "rewrite replaces whole",
			objs: []destination.Object{{Bucket: "b", Key: "k", Body: []byte("first, longer")}, {Bucket: "b", Key: "k", Body: []byte("second")}},
			want: map[string][]byte{"b/k": []byte("second")},
		},
		{
			name: "binary and large",
			objs: []destination.Object{{Bucket: "b", Key: "x/y.gz", Body: bytes.Repeat([]byte{0, 1, 2, 255}, 1<<18), ContentEncoding: "gzip"}},
			want: map[string][]byte{"b/x/y.gz": bytes.Repeat([]byte{0, 1, 2, 255}, 1<<18)},
		},
		{
			name: "two buckets",
			objs: []destination.Object{{Bucket: "b1", Key: "k", Body: []byte("1")}, {Bucket: "b2", Key: "k", Body: []byte("2")}},
			want: map[string][]byte{"b1/k": []byte("1"), "b2/k": []byte("2")},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			for _, o := range tc.objs {
				if err := s.PutObject(ctx, o); err != nil {
					t.Fatalf("PutObject(%s/%s): %v", o.Bucket, o.Key, err)
				}
			}
			got := map[string][]byte{}
			for bk := range tc.want {
				i := bytes.IndexByte([]byte(bk), '/')
				b, err := s.ReadObject(ctx, bk[:i], bk[i+1:])
				if err != nil {
					t.Fatalf("ReadObject(%s): %v", bk, err)
				}
				got[bk] = b
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("stored objects (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("invalid keys", func(t *testing.T) {
		s := newStore(t)
		for _, o := range []destination.Object{{Bucket: "b", Key: ""}, {Bucket: "", Key: "k"}, {Bucket: "b", Key: "a/../../escape"}, {Bucket: "b", Key: "dir/"}} {
			if err := s.PutObject(ctx, o); !errors.Is(err, destination.ErrInvalidObject) {
				t.Errorf("PutObject(%q, %q) = %v, want ErrInvalidObject", o.Bucket, o.Key, err)
			}
		}
	})
	t.Run("cancelled context", func(t *testing.T) {
		s := newStore(t)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if err := s.PutObject(cctx, destination.Object{Bucket: "b", Key: "k"}); err == nil {
			t.Error("PutObject with a cancelled context succeeded")
		}
	})
}
