package journal

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// KV is a durable key-value bucket in the journal's store, for small documents such as the
// catalog's delivery stream definitions. Any string is a valid key.
type KV struct {
	bucket string
	kv     jetstream.KeyValue
	j      *Journal
}

// KV opens the bucket, creating it if needed. Bucket names are [a-zA-Z0-9_-]+; the bucket
// hydrant_delivery is reserved for worker state.
func (j *Journal) KV(ctx context.Context, bucket string) (*KV, error) {
	return j.openKV(ctx, bucket, 0)
}

// KVWithTTL opens a bucket whose entries expire ttl after they were last written (leases,
// heartbeats; docs/design/cluster.md). An expired entry reads as missing.
func (j *Journal) KVWithTTL(ctx context.Context, bucket string, ttl time.Duration) (*KV, error) {
	if ttl < time.Second {
		return nil, fmt.Errorf("open bucket %s: ttl %s under 1s", bucket, ttl)
	}
	return j.openKV(ctx, bucket, ttl)
}

func (j *Journal) openKV(ctx context.Context, bucket string, ttl time.Duration) (*KV, error) {
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
			TTL:      ttl,
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	return &KV{bucket: bucket, kv: kv, j: j}, nil
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

// Keys returns every key in the bucket, in no particular order. In a cluster the list comes from
// the bucket's leader and may also name keys just deleted (see leaderKeys).
func (k *KV) Keys(ctx context.Context) ([]string, error) {
	if k.j.Clustered() {
		return k.leaderKeys(ctx)
	}
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

// leaderKeys lists the keys from the bucket's leader, which answers stream info with what the
// quorum stored: a replica catching up (a node back with an empty disk) would list only part of
// them. The list may hold keys deleted but not yet removed; their Entry is ErrNotFound.
func (k *KV) leaderKeys(ctx context.Context) ([]string, error) {
	s, err := k.j.js.Stream(ctx, "KV_"+k.bucket)
	if err != nil {
		return nil, fmt.Errorf("keys %s: %w", k.bucket, err)
	}
	prefix := "$KV." + k.bucket + "."
	info, err := s.Info(ctx, jetstream.WithSubjectFilter(prefix+">"))
	if err != nil {
		return nil, fmt.Errorf("keys %s: %w", k.bucket, err)
	}
	keys := make([]string, 0, len(info.State.Subjects))
	for subject := range info.State.Subjects {
		key, err := decodeName(strings.TrimPrefix(subject, prefix))
		if err != nil {
			continue // not written through this package
		}
		keys = append(keys, key)
	}
	return keys, nil
}

// Entry returns the value of key and its revision, or an error wrapping ErrNotFound. In a
// cluster it is read from the bucket's leader, so it is never older than the last write
// acknowledged anywhere.
func (k *KV) Entry(ctx context.Context, key string) ([]byte, uint64, error) {
	v, rev, found, err := k.j.lastMsg(ctx, "KV_"+k.bucket, "$KV."+k.bucket+"."+encodeName(key))
	if err != nil {
		return nil, 0, fmt.Errorf("get %s/%s: %w", k.bucket, key, err)
	}
	if !found {
		return nil, 0, fmt.Errorf("get %s/%s: %w", k.bucket, key, ErrNotFound)
	}
	return v, rev, nil
}

// Create stores value under key if the key holds nothing (never written, deleted or expired),
// and returns its revision; otherwise it fails with ErrConflict.
func (k *KV) Create(ctx context.Context, key string, value []byte) (uint64, error) {
	rev, err := k.kv.Create(ctx, encodeName(key), value)
	if err != nil {
		if isWrongLastSeq(err) {
			err = ErrConflict
		}
		return 0, fmt.Errorf("create %s/%s: %w", k.bucket, key, err)
	}
	return rev, nil
}

// Update stores value under key if its revision is still rev, and returns the new revision;
// otherwise it fails with ErrConflict.
func (k *KV) Update(ctx context.Context, key string, value []byte, rev uint64) (uint64, error) {
	rev, err := k.kv.Update(ctx, encodeName(key), value, rev)
	if err != nil {
		if isWrongLastSeq(err) {
			err = ErrConflict
		}
		return 0, fmt.Errorf("update %s/%s: %w", k.bucket, key, err)
	}
	return rev, nil
}

// DeleteRev removes key if its revision is still rev; otherwise it fails with ErrConflict.
func (k *KV) DeleteRev(ctx context.Context, key string, rev uint64) error {
	if err := k.kv.Delete(ctx, encodeName(key), jetstream.LastRevision(rev)); err != nil {
		if isWrongLastSeq(err) {
			err = ErrConflict
		}
		return fmt.Errorf("delete %s/%s: %w", k.bucket, key, err)
	}
	return nil
}

// Change is one write to a bucket seen by Watch.
type Change struct {
	Key      string
	Value    []byte // nil when Deleted
	Revision uint64
	Deleted  bool // deleted or purged (an expired entry is not reported)
}

// Watch calls fn with the current value of every key, then with every later change, in order,
// until ctx ends; it returns ctx.Err() then, or the error that stopped the watch. fn runs on
// Watch's goroutine and must not block for long.
func (k *KV) Watch(ctx context.Context, fn func(Change)) error {
	return k.WatchReady(ctx, fn, func() {})
}

// WatchReady is Watch, and calls ready once, on Watch's goroutine, when fn has been called with
// the current value of every key (at once for an empty bucket).
func (k *KV) WatchReady(ctx context.Context, fn func(Change), ready func()) error {
	w, err := k.kv.WatchAll(ctx)
	if err != nil {
		return fmt.Errorf("watch %s: %w", k.bucket, err)
	}
	defer w.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case e, ok := <-w.Updates():
			if !ok {
				return fmt.Errorf("watch %s: stopped", k.bucket)
			}
			if e == nil {
				ready() // the initial values have been delivered
				continue
			}
			key, err := decodeName(e.Key())
			if err != nil {
				continue // not written through this package
			}
			c := Change{Key: key, Revision: e.Revision()}
			if op := e.Operation(); op == jetstream.KeyValueDelete || op == jetstream.KeyValuePurge {
				c.Deleted = true
			} else {
				c.Value = e.Value()
			}
			fn(c)
		}
	}
}
