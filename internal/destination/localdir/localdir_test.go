package localdir

import (
	"context"
	"os"
	"path/filepath"
	"testing"

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

func TestConformance(t *testing.T) {
	destinationtest.Run(t, func(t *testing.T) destinationtest.Store {
		d, err := New(t.TempDir(), nil)
		if err != nil {
			t.Fatal(err)
		}
		return readable{d}
	})
}

func TestConformanceMappedBuckets(t *testing.T) {
	destinationtest.Run(t, func(t *testing.T) destinationtest.Store {
		other := t.TempDir()
		d, err := New(t.TempDir(), map[string]string{"b": filepath.Join(other, "bucket-b"), "b2": filepath.Join(other, "bucket-b2")})
		if err != nil {
			t.Fatal(err)
		}
		return readable{d}
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
	if tmp, _ := os.ReadDir(filepath.Join(root, ".tmp")); len(tmp) != 0 {
		t.Errorf("temporary directory not empty: %v", tmp)
	}
}
