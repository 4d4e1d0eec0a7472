package journal

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Stream metadata keys.
const (
	metaName  = "hydrant.name"
	metaNonce = "hydrant.nonce"
)

// Position is where an Append stored a put.
type Position struct {
	// Stream is the delivery stream name.
	Stream string
	// Seq is the JetStream sequence of the put's message.
	Seq uint64
	// Nonce identifies this incarnation of the stream; it changes on delete and re-create.
	Nonce uint64
	// First is the index of the put's first record in its message, which may hold several puts.
	First int
}

// RecordID returns the ID of the put's record at index.
func (p Position) RecordID(index int) string { return RecordID(p.Nonce, p.Seq, p.First+index) }

// Stats describes the messages of one delivery stream in the journal.
type Stats struct {
	Messages uint64 // messages stored
	FirstSeq uint64 // sequence of the oldest (0 when there is none)
	LastSeq  uint64 // sequence of the newest (0 when there is none)
}

func (j *Journal) streamConfig(name string, nonce uint64) jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:        StreamName(name),
		Description: "hydrant delivery stream " + name,
		Subjects:    []string{Subject(name)},
		Retention:   jetstream.LimitsPolicy,
		Storage:     jetstream.FileStorage,
		Discard:     jetstream.DiscardNew,
		MaxAge:      j.cfg.Retention,
		MaxBytes:    j.cfg.MaxBytesPerStream,
		MaxMsgs:     -1,
		MaxMsgSize:  int32(j.cfg.MaxMessageBytes),
		Replicas:    j.replicas(),
		AllowDirect: true,
		Metadata: map[string]string{
			metaName:  name,
			metaNonce: fmt.Sprintf("%016x", nonce),
		},
	}
}

func nonceOf(cfg jetstream.StreamConfig) (uint64, error) {
	n, err := strconv.ParseUint(cfg.Metadata[metaNonce], 16, 64)
	if err != nil {
		return 0, fmt.Errorf("stream %s: bad %s metadata: %w", cfg.Name, metaNonce, err)
	}
	return n, nil
}

// CreateStream makes a place for the records of the delivery stream name: a subject in one of
// the shared shards, or, with Config.MaxBytesPerStream set, a JetStream stream of its own. An
// existing stream keeps its place, data and nonce (and a stream of its own gets the current
// limits).
func (j *Journal) CreateStream(ctx context.Context, name string) error {
	if name == "" {
		return errors.New("create stream: empty name")
	}
	ref, err := j.lookup(ctx, name)
	switch {
	case err == nil:
		if ref.own {
			if _, err := j.js.UpdateStream(ctx, j.streamConfig(name, ref.nonce)); err != nil {
				return fmt.Errorf("update stream %q: %w", name, err)
			}
		}
		j.remember(name, ref)
		return nil
	case !errors.Is(err, ErrNoStream):
		return fmt.Errorf("create stream %q: %w", name, err)
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	ref = streamRef{nonce: binary.BigEndian.Uint64(b[:])}
	if j.cfg.MaxBytesPerStream == -1 {
		k := shardOf(name, j.cfg.Shards)
		ref.stream, ref.subject = ShardName(k), shardSubject(k, name)
	} else {
		ref.stream, ref.subject, ref.own = StreamName(name), Subject(name), true
	}
	// A crash between the steps of DeleteStream leaves old state, intents or records behind.
	if err := j.clearStream(ctx, name, ref); err != nil {
		return fmt.Errorf("create stream %q: %w", name, err)
	}
	if ref.own {
		if _, err := j.js.CreateStream(ctx, j.streamConfig(name, ref.nonce)); err != nil {
			if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
				return j.CreateStream(ctx, name) // created concurrently
			}
			var apiErr *jetstream.APIError
			if errors.As(err, &apiErr) && apiErr.ErrorCode == 10047 { // storage resources exceeded
				err = fmt.Errorf("%w: %w", ErrFull, err)
			}
			return fmt.Errorf("create stream %q: %w", name, err)
		}
	}
	if ref, err = j.register(ctx, name, ref); err != nil {
		return fmt.Errorf("create stream %q: register: %w", name, err)
	}
	j.remember(name, ref)
	j.log.Debug("journal stream created", "stream", name, "journal", ref.stream)
	return nil
}

// clearStream removes the worker state, the intents and, in a shard, the records of name.
func (j *Journal) clearStream(ctx context.Context, name string, ref streamRef) error {
	if err := j.state.Delete(ctx, encodeName(name)); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("clear state: %w", err)
	}
	if err := j.purgeIntents(ctx, name); err != nil {
		return fmt.Errorf("clear intents: %w", err)
	}
	if ref.own {
		return nil
	}
	s, err := j.js.Stream(ctx, ref.stream)
	if err != nil {
		return fmt.Errorf("clear records: %w", err)
	}
	if err := s.Purge(ctx, jetstream.WithPurgeSubject(ref.subject)); err != nil {
		return fmt.Errorf("clear records: %w", err)
	}
	return nil
}

// DeleteStream deletes the records of the delivery stream name and its worker state. The
// registry entry goes first, so that appends fail with ErrNoStream from then on.
func (j *Journal) DeleteStream(ctx context.Context, name string) error {
	ref, err := j.lookup(ctx, name)
	if err != nil {
		j.forget(name)
		return fmt.Errorf("delete stream %q: %w", name, err)
	}
	defer j.wake(name) // parked readers find the stream gone
	err = j.registry.Delete(ctx, encodeName(name))
	j.forget(name) // after the entry is gone, so that no lookup finds it again (see ref)
	j.announceDelete(name)
	if err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("delete stream %q: %w", name, err)
	}
	if ref.own {
		if err := j.js.DeleteStream(ctx, ref.stream); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
			return fmt.Errorf("delete stream %q: %w", name, err)
		}
	}
	if err := j.clearStream(ctx, name, ref); err != nil {
		return fmt.Errorf("delete stream %q: %w", name, err)
	}
	j.log.Debug("journal stream deleted", "stream", name)
	return nil
}

func (j *Journal) remember(name string, ref streamRef) {
	j.mu.Lock()
	j.streams[name] = ref
	j.mu.Unlock()
}

func (j *Journal) forget(name string) {
	j.mu.Lock()
	delete(j.streams, name)
	delete(j.lasts, name)
	j.forgets++
	j.mu.Unlock()
	j.dropCommitter(name)
}

// ref returns where the records of name live, from the cache or the registry. A lookup that a
// forget overtook is not cached: it may have read an entry that a delete then removed, and in a
// shard a publish to a deleted stream's subject would succeed.
func (j *Journal) ref(ctx context.Context, name string) (streamRef, error) {
	j.mu.Lock()
	r, ok := j.streams[name]
	gen := j.forgets
	j.mu.Unlock()
	if ok {
		return r, nil
	}
	r, err := j.lookup(ctx, name)
	if err != nil {
		return streamRef{}, err
	}
	j.mu.Lock()
	if j.forgets == gen {
		j.streams[name] = r
	}
	j.mu.Unlock()
	return r, nil
}

// Append stores the records of one put and returns its position once the server has
// acknowledged the message holding it, which with SyncAlways means the message is on disk.
// Concurrent puts to one stream share a message and its sync (group commit, commit.go); a put is
// never split. Any error means the put is not acknowledged; a context that ends before the put
// was taken into a message withdraws it, one that ends later leaves the outcome unknown.
// The records are copied; the caller may reuse them when Append returns.
func (j *Journal) Append(ctx context.Context, stream string, arrival time.Time, records [][]byte) (Position, error) {
	if len(records) > maxRecordsPerFrame {
		return Position{}, fmt.Errorf("append %q: %d records: %w", stream, len(records), ErrTooLarge)
	}
	body := putBodyLen(records)
	if n := frameV2MaxHeader + maxArrivalLen + body; n > j.cfg.MaxMessageBytes {
		return Position{}, fmt.Errorf("append %q: frame of %d bytes over %d: %w", stream, n, j.cfg.MaxMessageBytes, ErrTooLarge)
	}
	held, err := j.space.admit(body) // room for it and the reserve (space.go)
	if err != nil {
		return Position{}, fmt.Errorf("append %q: %w", stream, err)
	}
	defer j.space.release(held)
	ref, err := j.ref(ctx, stream)
	if err != nil {
		return Position{}, fmt.Errorf("append %q: %w", stream, err)
	}
	pos, err := j.committer(stream, ref).append(ctx, arrival, records)
	if err != nil {
		return Position{}, fmt.Errorf("append %q: %w", stream, err)
	}
	j.wake(stream) // a parked reader (lazy.go)
	return pos, nil
}

// classifyPublish gives a publish error its journal identity. The server reports a full stream
// as a store failure whose text names the limit, a full store as insufficient resources, and an
// ingest queue over its limit as 429 too many requests. No responder means no stream on one
// node; in a cluster it is also what a publish meets while the stream's leader is elected again
// or the connection moves to another server, so there it stays a transient failure (a deleted
// stream is refused by the catalog before any append).
func classifyPublish(err error, clustered bool) error {
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		switch {
		case apiErr.Code == 429,
			apiErr.ErrorCode == 10023, // insufficient resources
			apiErr.ErrorCode == 10167, // too many requests
			apiErr.ErrorCode == 10077 && (strings.Contains(apiErr.Description, "maximum bytes") ||
				strings.Contains(apiErr.Description, "maximum messages")):
			return fmt.Errorf("%w: %w", ErrFull, err)
		case apiErr.ErrorCode == jetstream.JSErrCodeStreamMessageExceedsMaximum,
			apiErr.ErrorCode == 10077 && strings.Contains(apiErr.Description, "too large"):
			return fmt.Errorf("%w: %w", ErrTooLarge, err)
		case apiErr.ErrorCode == jetstream.JSErrCodeStreamNotFound:
			return fmt.Errorf("%w: %w", ErrNoStream, err)
		}
		return err
	}
	switch {
	case errors.Is(err, nats.ErrMaxPayload):
		return fmt.Errorf("%w: %w", ErrTooLarge, err)
	case clustered && (errors.Is(err, jetstream.ErrNoStreamResponse) || errors.Is(err, nats.ErrNoResponders)):
		return fmt.Errorf("no server of the stream answered (its leader may be changing): %w", err)
	case errors.Is(err, jetstream.ErrNoStreamResponse), errors.Is(err, nats.ErrNoResponders):
		return fmt.Errorf("%w: %w", ErrNoStream, err)
	}
	return err
}

// Stats returns the message count and sequence range of the records of name. In a shard the
// sequences are the shard's: the stream's messages are a subset of them, in order.
func (j *Journal) Stats(ctx context.Context, name string) (Stats, error) {
	ref, s, err := j.stream(ctx, name)
	if err != nil {
		return Stats{}, fmt.Errorf("stats %q: %w", name, err)
	}
	// A Trim between the count and the two reads can leave no message to find: count again.
	for attempt := 1; ; attempt++ {
		info, err := s.Info(ctx, jetstream.WithSubjectFilter(ref.subject))
		if err != nil {
			return Stats{}, fmt.Errorf("stats %q: %w", name, err)
		}
		out := Stats{Messages: info.State.Subjects[ref.subject]}
		if out.Messages == 0 {
			return out, nil
		}
		out.FirstSeq, err = j.seqOf(ctx, ref, directGetReq{Seq: 1, NextBySubj: ref.subject})
		if err == nil {
			out.LastSeq, err = j.seqOf(ctx, ref, directGetReq{LastBySubj: ref.subject})
		}
		if err == nil {
			return out, nil
		}
		if !errors.Is(err, ErrNotFound) || attempt == statsAttempts {
			return Stats{}, fmt.Errorf("stats %q: %w", name, err)
		}
	}
}

// statsAttempts bounds how often Stats counts again after a Trim emptied the stream under it.
const statsAttempts = 3

// seqOf returns the sequence of the message req finds, or ErrNotFound.
func (j *Journal) seqOf(ctx context.Context, ref streamRef, req directGetReq) (uint64, error) {
	m, err := j.directGet(ctx, ref, req)
	if err != nil {
		return 0, err
	}
	if m == nil {
		return 0, ErrNotFound
	}
	return strconv.ParseUint(m.Header.Get(jetstream.SequenceHeader), 10, 64)
}

func (j *Journal) stream(ctx context.Context, name string) (streamRef, jetstream.Stream, error) {
	ref, err := j.ref(ctx, name)
	if err != nil {
		return streamRef{}, nil, err
	}
	s, err := j.js.Stream(ctx, ref.stream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return streamRef{}, nil, ErrNoStream
	}
	return ref, s, err
}

// Trim removes the messages of the stream name with a sequence below below. It refuses to trim
// past the saved delivery cursor, and does nothing when Config.KeepDelivered is set.
func (j *Journal) Trim(ctx context.Context, name string, below uint64) error {
	if j.cfg.KeepDelivered || below <= 1 {
		return nil
	}
	st, err := j.LoadState(ctx, name)
	if err != nil {
		return fmt.Errorf("trim %q: %w", name, err)
	}
	if below > st.Cursor {
		return fmt.Errorf("trim %q below %d, cursor %d: %w", name, below, st.Cursor, ErrBeyondCursor)
	}
	ref, s, err := j.stream(ctx, name)
	if err != nil {
		return fmt.Errorf("trim %q: %w", name, err)
	}
	keep, err := j.keepSeq(ctx, name, ref)
	if err != nil {
		return fmt.Errorf("trim %q: %w", name, err)
	}
	if keep != 0 && below > keep {
		below = keep // the last positioned message stays: it is the source's checkpoint
	}
	if below <= 1 {
		return nil
	}
	if err := s.Purge(ctx, jetstream.WithPurgeSubject(ref.subject), jetstream.WithPurgeSequence(below)); err != nil {
		return fmt.Errorf("trim %q: %w", name, err)
	}
	return nil
}
