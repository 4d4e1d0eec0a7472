package journal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"

	"github.com/nats-io/nats.go/jetstream"
)

// registryBucket is the KV bucket that says where each delivery stream's records live.
const registryBucket = "hydrant_streams"

// Prefixes of the shared journal streams and their subjects (docs/design/journal.md, "Layout").
const (
	shardPrefix        = "hydrant_shard_"
	shardSubjectPrefix = "hydrant.j."
)

// DefaultShards is the number of shared journal streams a new journal creates.
const DefaultShards = 8

// streamRef is where the records of one delivery stream live.
type streamRef struct {
	stream  string // JetStream stream: a shard, or the stream's own
	subject string // subject of its records inside stream
	nonce   uint64
	own     bool // the JetStream stream holds this delivery stream only
}

// entry is the stored form of a streamRef (the registry's value).
type entry struct {
	V       int    `json:"v"`
	Stream  string `json:"stream"`
	Subject string `json:"subject"`
	Nonce   string `json:"nonce"`
	Own     bool   `json:"own,omitempty"`
}

func (r streamRef) entry() entry {
	return entry{V: 1, Stream: r.stream, Subject: r.subject, Nonce: fmt.Sprintf("%016x", r.nonce), Own: r.own}
}

func (e entry) ref() (streamRef, error) {
	n, err := strconv.ParseUint(e.Nonce, 16, 64)
	if err != nil || e.V != 1 || e.Stream == "" || e.Subject == "" {
		return streamRef{}, fmt.Errorf("bad registry entry %+v", e)
	}
	return streamRef{stream: e.Stream, subject: e.Subject, nonce: n, own: e.Own}, nil
}

// ShardName returns the name of the shared journal stream number k.
func ShardName(k int) string { return shardPrefix + strconv.Itoa(k) }

// shardOf places the delivery stream name on one of n shards. The placement is recorded in the
// registry, so changing the shard count later moves no existing stream.
func shardOf(name string, n int) int {
	h := fnv.New32a()
	h.Write([]byte(name))
	return int(h.Sum32() % uint32(n))
}

func shardSubject(k int, name string) string {
	return shardSubjectPrefix + strconv.Itoa(k) + "." + encodeName(name)
}

func (j *Journal) shardConfig(k int) jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:        ShardName(k),
		Description: "hydrant journal shard",
		Subjects:    []string{shardSubjectPrefix + strconv.Itoa(k) + ".>"},
		Retention:   jetstream.LimitsPolicy,
		Storage:     jetstream.FileStorage,
		Discard:     jetstream.DiscardNew,
		MaxAge:      j.cfg.Retention,
		MaxBytes:    -1,
		MaxMsgs:     -1,
		MaxMsgSize:  int32(j.cfg.MaxMessageBytes),
		Replicas:    j.replicas(),
		AllowDirect: true,
	}
}

// openShards creates the registry bucket and the shards, or updates the limits of existing ones.
func (j *Journal) openShards(ctx context.Context) error {
	err := j.placed(ctx, "bucket "+registryBucket, func(ctx context.Context) error {
		var err error
		j.registry, err = j.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
			Bucket:      registryBucket,
			Description: "hydrant: where each delivery stream's records live",
			History:     1,
			Storage:     jetstream.FileStorage,
			Replicas:    j.replicas(),
		})
		return err
	})
	if err != nil {
		return err
	}
	for k := range j.cfg.Shards {
		err := j.placed(ctx, fmt.Sprintf("journal shard %d", k), func(ctx context.Context) error {
			_, err := j.js.CreateOrUpdateStream(ctx, j.shardConfig(k))
			return err
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// register stores ref as the place of name, unless an entry exists, in which case that one is
// returned.
func (j *Journal) register(ctx context.Context, name string, ref streamRef) (streamRef, error) {
	b, err := json.Marshal(ref.entry())
	if err != nil {
		return streamRef{}, err
	}
	if _, err := j.registry.Create(ctx, encodeName(name), b); err != nil {
		if errors.Is(err, jetstream.ErrKeyExists) {
			return j.lookup(ctx, name)
		}
		return streamRef{}, err
	}
	return ref, nil
}

// lookup reads the place of name from the registry, falling back to a JetStream stream of its
// own made before the registry existed (docs/design/journal.md, "Layout").
func (j *Journal) lookup(ctx context.Context, name string) (streamRef, error) {
	value, _, found, err := j.lastMsg(ctx, "KV_"+registryBucket, "$KV."+registryBucket+"."+encodeName(name))
	switch {
	case err != nil:
		return streamRef{}, err
	case found:
		var en entry
		if err := json.Unmarshal(value, &en); err != nil {
			return streamRef{}, fmt.Errorf("registry entry %q: %w", name, err)
		}
		return en.ref()
	}
	s, err := j.js.Stream(ctx, StreamName(name))
	if err != nil {
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			return streamRef{}, ErrNoStream
		}
		return streamRef{}, err
	}
	nonce, err := nonceOf(s.CachedInfo().Config)
	if err != nil {
		return streamRef{}, err
	}
	return streamRef{stream: StreamName(name), subject: Subject(name), nonce: nonce, own: true}, nil
}
