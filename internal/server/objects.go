package server

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/hydrant-dev/hydrant/internal/destination"
	"github.com/hydrant-dev/hydrant/internal/destination/localdir"
	"github.com/hydrant-dev/hydrant/internal/destination/s3"
)

// Object stores a bucket can live in.
const (
	StoreLocal = "local"
	StoreS3    = "s3"
)

// BucketConfig places one bucket: in a directory of its own (Dir), or in the S3 store with
// settings of its own (the s3.Bucket fields). A bucket without an entry goes to the default
// object store.
type BucketConfig struct {
	Dir string `json:"dir"`
	s3.Bucket
}

func (b BucketConfig) s3Overrides() bool { return b.Bucket != (s3.Bucket{}) }

// objectRouter sends each bucket's objects to the local directory or the S3 store.
type objectRouter struct {
	local   *localdir.Dir
	s3      *s3.Store // nil when no bucket is stored in S3
	inS3    map[string]bool
	defltS3 bool
}

var _ interface {
	PutObject(context.Context, destination.Object) error
	Exists(ctx context.Context, bucket, key string) (bool, error)
} = (*objectRouter)(nil)

func newObjectRouter(ctx context.Context, cfg Config, log *slog.Logger) (*objectRouter, error) {
	r := &objectRouter{inS3: map[string]bool{}, defltS3: cfg.ObjectStore == StoreS3}
	dirs := map[string]string{}
	s3cfg := cfg.S3
	s3cfg.Buckets = map[string]s3.Bucket{}
	for name, b := range cfg.Buckets {
		switch {
		case b.Dir != "":
			dirs[name] = b.Dir
			r.inS3[name] = false
		case b.s3Overrides():
			s3cfg.Buckets[name] = b.Bucket
			r.inS3[name] = true
		}
	}
	var err error
	if r.local, err = localdir.New(filepath.Join(cfg.DataDir, "s3"), dirs); err != nil {
		return nil, err
	}
	if r.defltS3 || len(s3cfg.Buckets) > 0 {
		if r.s3, err = s3.New(ctx, s3cfg, log.With("part", "s3")); err != nil {
			return nil, fmt.Errorf("configure S3 object store: %w", err)
		}
	}
	return r, nil
}

func (r *objectRouter) storeOf(bucket string) string {
	inS3, ok := r.inS3[bucket]
	if !ok {
		inS3 = r.defltS3
	}
	if inS3 {
		return StoreS3
	}
	return StoreLocal
}

// PutObject stores o in its bucket's store.
func (r *objectRouter) PutObject(ctx context.Context, o destination.Object) error {
	if r.storeOf(o.Bucket) == StoreS3 {
		return r.s3.PutObject(ctx, o)
	}
	return r.local.PutObject(ctx, o)
}

// Exists reports whether bucket/key holds an object in its bucket's store.
func (r *objectRouter) Exists(ctx context.Context, bucket, key string) (bool, error) {
	if r.storeOf(bucket) == StoreS3 {
		return r.s3.Exists(ctx, bucket, key)
	}
	return r.local.Exists(ctx, bucket, key)
}
