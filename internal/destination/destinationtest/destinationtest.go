// Package destinationtest is the conformance suite every object destination runs: whole
// objects, exact bytes, idempotent rewrites of a key, Exists, refusal of keys that cannot be
// stored as permanent failures, and a cancelled context as a transient one.
package destinationtest

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hydrant-dev/hydrant/internal/destination"
)

// Store is a destination under test together with a way to read back what it stored.
type Store interface {
	PutObject(ctx context.Context, o destination.Object) error
	// Exists reports whether bucket holds an object under key.
	Exists(ctx context.Context, bucket, key string) (bool, error)
	// ReadObject returns the stored bytes of bucket/key.
	ReadObject(ctx context.Context, bucket, key string) ([]byte, error)
}

// Option adjusts the suite to one destination.
type Option func(*options)

type options struct {
	permanentKeys []string
}

// PermanentKeys adds keys that this destination, unlike others, must refuse with a permanent
// error (destination.IsPermanent), such as a key with a segment longer than a file name can be.
func PermanentKeys(keys ...string) Option {
	return func(o *options) { o.permanentKeys = append(o.permanentKeys, keys...) }
}

// Run runs the conformance suite against the store that newStore returns for each subtest.
func Run(t *testing.T, newStore func(t *testing.T) Store, opts ...Option) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
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
	t.Run("exists", func(t *testing.T) {
		s := newStore(t)
		exists := func(bucket, key string) bool {
			t.Helper()
			ok, err := s.Exists(ctx, bucket, key)
			if err != nil {
				t.Fatalf("Exists(%s, %s): %v", bucket, key, err)
			}
			return ok
		}
		const key = "2026/11/21/22/s-1-2026-11-21-22-40-07-u"
		before := [...]bool{exists("b", key), exists("b", "2026"), exists("b", "2026/11")}
		if err := s.PutObject(ctx, destination.Object{Bucket: "b", Key: key, Body: []byte("x")}); err != nil {
			t.Fatalf("PutObject: %v", err)
		}
		// A prefix of the key is not an object, even where a directory now holds it.
		after := [...]bool{exists("b", key), exists("b", "2026"), exists("b", "2026/11"), exists("b", key+"-other"), exists("b1", key)}
		got := [...]any{before, after}
		want := [...]any{[...]bool{false, false, false}, [...]bool{true, false, false, false, false}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Exists {before PutObject (key, prefixes), after (key, prefixes, other key, other bucket)} (-want +got):\n%s", diff)
		}
	})
	t.Run("permanent errors", func(t *testing.T) {
		s := newStore(t)
		common := []string{"", "..", "a/../b", "./k", "dir/", strings.Repeat("k", destination.MaxKeyLen+1), "bad\xffutf8"}
		for _, key := range common {
			err := s.PutObject(ctx, destination.Object{Bucket: "b", Key: key, Body: []byte("x")})
			if !errors.Is(err, destination.ErrInvalidObject) || !destination.IsPermanent(err) {
				t.Errorf("PutObject(b, %.40q) = %v, want a permanent ErrInvalidObject", key, err)
			}
			ok, err := s.Exists(ctx, "b", key)
			if !errors.Is(err, destination.ErrInvalidObject) || !destination.IsPermanent(err) {
				t.Errorf("Exists(b, %.40q) = %v, %v, want a permanent ErrInvalidObject", key, ok, err)
			}
		}
		for _, key := range o.permanentKeys {
			if err := s.PutObject(ctx, destination.Object{Bucket: "b", Key: key, Body: []byte("x")}); err == nil || !destination.IsPermanent(err) {
				t.Errorf("PutObject(b, %.40q) = %v, want a permanent error", key, err)
			}
		}
	})
	t.Run("cancelled context", func(t *testing.T) {
		s := newStore(t)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		err := s.PutObject(cctx, destination.Object{Bucket: "b", Key: "k"})
		if err == nil {
			t.Error("PutObject with a cancelled context succeeded")
		} else if destination.IsPermanent(err) {
			t.Errorf("PutObject with a cancelled context = %v, classified permanent; want transient", err)
		}
		ok, err := s.Exists(cctx, "b", "k")
		if err == nil {
			t.Errorf("Exists with a cancelled context = %v, nil; want an error", ok)
		} else if destination.IsPermanent(err) {
			t.Errorf("Exists with a cancelled context = %v, classified permanent; want transient", err)
		}
	})
}
