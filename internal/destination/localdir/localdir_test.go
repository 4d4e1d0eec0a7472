package localdir

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hydrant-dev/hydrant/internal/destination"
	"github.com/hydrant-dev/hydrant/internal/destination/destinationtest"
)

type readable struct{ *Dir }

func (r readable) ReadObject(_ context.Context, bucket, key string) ([]byte, error) {
	p, err := r.Path(bucket, key)
	if err != nil {
		return nil, err
	}
	return os.ReadFile(p)
}

// fileSystemKeys are keys S3 accepts but a file system cannot hold: a local directory refuses
// them permanently (docs/design/destinations.md).
var fileSystemKeys = destinationtest.PermanentKeys(
	"a/"+strings.Repeat("s", 300)+"/k", // a segment over NAME_MAX
	strings.Repeat("s", 256),           // a file name over NAME_MAX
	"a/nul\x00byte",
)

func TestConformance(t *testing.T) {
	destinationtest.Run(t, func(t *testing.T) destinationtest.Store {
		d, err := New(t.TempDir(), nil)
		if err != nil {
			t.Fatal(err)
		}
		return readable{d}
	}, fileSystemKeys)
}

func TestConformanceMappedBuckets(t *testing.T) {
	destinationtest.Run(t, func(t *testing.T) destinationtest.Store {
		other := t.TempDir()
		d, err := New(t.TempDir(), map[string]string{"b": filepath.Join(other, "bucket-b"), "b2": filepath.Join(other, "bucket-b2")})
		if err != nil {
			t.Fatal(err)
		}
		return readable{d}
	}, fileSystemKeys)
}

// TestFileSystemLimits checks the limits a local directory adds to destination.CheckKey, at
// their bounds: a key within them is stored and found, one past them is refused permanently by
// PutObject and Exists.
func TestFileSystemLimits(t *testing.T) {
	root := t.TempDir()
	tests := []struct {
		name, bucket, key string
		wantErr           bool
	}{
		{"segment of 255 bytes", "b", "a/" + strings.Repeat("s", 255), false},
		{"segment of 256 bytes", "b", "a/" + strings.Repeat("s", 256), true},
		{"multi-byte segment of 255 bytes", "b", strings.Repeat("é", 127) + "s", false},
		{"multi-byte segment of 256 bytes", "b", strings.Repeat("é", 128), true},
		{"NUL byte", "b", "a\x00b", true},
		{"bucket of 256 bytes", strings.Repeat("b", 256), "k", true},
	}
	d, err := New(root, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			putErr := d.PutObject(ctx, destination.Object{Bucket: tc.bucket, Key: tc.key, Body: []byte("x")})
			ok, existsErr := d.Exists(ctx, tc.bucket, tc.key)
			if !tc.wantErr {
				if putErr != nil || existsErr != nil || !ok {
					t.Errorf("PutObject = %v; Exists = %v, %v; want stored and found", putErr, ok, existsErr)
				}
				return
			}
			for op, err := range map[string]error{"PutObject": putErr, "Exists": existsErr} {
				if !errors.Is(err, destination.ErrInvalidObject) || !destination.IsPermanent(err) {
					t.Errorf("%s = %v, want a permanent ErrInvalidObject", op, err)
				}
			}
		})
	}
}

// keyOfLen returns a valid key of n bytes made of segments of at most 200 bytes.
func keyOfLen(n int) string {
	var b strings.Builder
	for b.Len() < n {
		if b.Len() > 0 {
			b.WriteByte('/')
		}
		b.WriteString(strings.Repeat("k", min(200, n-b.Len())))
	}
	return b.String()
}

// TestPathLimit checks the whole-path limit. Under a short root no key of at most 1,024 bytes
// reaches it, so the root here is long (and never created).
func TestPathLimit(t *testing.T) {
	d := &Dir{root: "/" + strings.Repeat("r/", 1600)}
	base := len(filepath.Join(d.root, "b")) + 1
	tests := []struct {
		pathLen int
		wantErr bool
	}{
		{4094, false},
		{4095, false},
		{4096, true},
		{4097, true},
	}
	for _, tc := range tests {
		key := keyOfLen(tc.pathLen - base)
		p, err := d.Path("b", key)
		got := [...]any{len(p), errors.Is(err, destination.ErrInvalidObject)}
		want := [...]any{tc.pathLen, false}
		if tc.wantErr {
			want = [...]any{0, true}
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Path(b, key of %d bytes) {len, ErrInvalidObject} (-want +got):\n%s(err %v)", len(key), diff, err)
		}
	}
}

func TestExists(t *testing.T) {
	root := t.TempDir()
	d, err := New(root, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := d.PutObject(ctx, destination.Object{Bucket: "b", Key: "file", Body: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, key string
		want      bool
	}{
		{"object", "file", true},
		{"missing", "other", false},
		{"below a file", "file/k", false}, // ENOTDIR, not an error
		{"missing bucket", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			bucket, key := "b", tc.key
			if key == "" {
				bucket, key = "nobucket", "k"
			}
			got, err := d.Exists(ctx, bucket, key)
			if err != nil || got != tc.want {
				t.Errorf("Exists(%s, %s) = %v, %v; want %v, nil", bucket, key, got, err, tc.want)
			}
		})
	}
	t.Run("path that cannot be resolved", func(t *testing.T) {
		// A symbolic link to itself: stat fails with ELOOP, which no privilege bypasses.
		if err := os.Symlink("loop", filepath.Join(root, "b", "loop")); err != nil {
			t.Fatal(err)
		}
		got, err := d.Exists(ctx, "b", "loop/k")
		if err == nil || destination.IsPermanent(err) {
			t.Errorf("Exists below a symlink loop = %v, %v; want a transient error", got, err)
		}
	})
}

func TestNoTemporaryFilesLeftInBucket(t *testing.T) {
	root := t.TempDir()
	d, err := New(root, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.PutObject(context.Background(), destination.Object{Bucket: "b", Key: "2026/11/21/k", Body: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	var files []string
	filepath.WalkDir(filepath.Join(root, "b"), func(p string, e os.DirEntry, err error) error {
		if err == nil && !e.IsDir() {
			files = append(files, p)
		}
		return nil
	})
	if len(files) != 1 {
		t.Errorf("bucket holds %v, want exactly the object", files)
	}
	var tmp []string
	filepath.WalkDir(filepath.Join(root, ".tmp"), func(p string, e os.DirEntry, err error) error {
		if err == nil && !e.IsDir() {
			tmp = append(tmp, p)
		}
		return nil
	})
	if len(tmp) != 0 {
		t.Errorf("temporary files left: %v", tmp)
	}
}

func TestDirSyncerCoalescesAndReportsErrors(t *testing.T) {
	s := dirSyncer{dirs: map[string]*dirSync{}}
	dir := t.TempDir()
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- s.sync(dir)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("sync: %v", err)
		}
	}
	if len(s.dirs) != 0 {
		t.Errorf("%d directories still tracked after every sync returned", len(s.dirs))
	}
	if err := s.sync(filepath.Join(dir, "missing")); err == nil {
		t.Error("sync of a missing directory succeeded")
	}
}
