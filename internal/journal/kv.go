package journal

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// KV is a durable key-value bucket in the journal's store, for small documents such as the
// catalog's delivery stream definitions. Any string is a valid key.
type KV struct {
	bucket string
	kv     jetstream.KeyValue
}

// KV opens the bucket, creating it if needed. Bucket names are [a-zA-Z0-9_-]+; the bucket
// hydrant_delivery is reserved for worker state.
func (j *Journal) KV(ctx context.Context, bucket string) (*KV, error) {
	if bucket == stateBucket {
		return nil, fmt.Errorf("open bucket %s: reserved", bucket)
	}
	var kv jetstream.KeyValue
	err := j.placed(ctx, "bucket "+bucket, func(ctx context.Context) error {
		var err error
		kv, err = j.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
			Bucket:   bucket,
			History:  1,
			Storage:  jetstream.FileStorage,
			Replicas: j.replicas(),
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	return &KV{bucket: bucket, kv: kv}, nil
}

// Get returns the value of key, or an error wrapping ErrNotFound.
func (k *KV) Get(ctx context.Context, key string) ([]byte, error) {
	e, err := k.kv.Get(ctx, encodeName(key))
	if err != nil {
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			err = ErrNotFound
		}
		return nil, fmt.Errorf("get %s/%s: %w", k.bucket, key, err)
	}
	return e.Value(), nil
}

// Put stores value under key; it is on disk when Put returns.
func (k *KV) Put(ctx context.Context, key string, value []byte) error {
	if _, err := k.kv.Put(ctx, encodeName(key), value); err != nil {
		return fmt.Errorf("put %s/%s: %w", k.bucket, key, err)
	}
	return nil
}

// Delete removes key. Deleting a missing key is not an error.
func (k *KV) Delete(ctx context.Context, key string) error {
	if err := k.kv.Delete(ctx, encodeName(key)); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("delete %s/%s: %w", k.bucket, key, err)
	}
	return nil
}

// Keys returns every key in the bucket, in no particular order.
func (k *KV) Keys(ctx context.Context) ([]string, error) {
	l, err := k.kv.ListKeys(ctx)
	if err != nil {
		if errors.Is(err, jetstream.ErrNoKeysFound) {
			return []string{}, nil
		}
		return nil, fmt.Errorf("keys %s: %w", k.bucket, err)
	}
	defer l.Stop()
	keys := []string{}
	for enc := range l.Keys() {
		key, err := decodeName(enc)
		if err != nil {
			return nil, fmt.Errorf("keys %s: %w", k.bucket, err)
		}
		keys = append(keys, key)
	}
	return keys, nil
}
