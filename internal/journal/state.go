package journal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/nats-io/nats.go/jetstream"
)

// State is a delivery worker's durable progress on one stream.
type State struct {
	// Cursor is the first unsettled sequence: every message with a lower one is delivered or
	// written to the error output. It is at least 1.
	Cursor uint64
	// Intent, when set, is a flush that may have been started and not recorded as done.
	Intent *Intent
	// Revision is the stored revision this State was read at (0: never saved). SaveState
	// writes only if it still is the stored one.
	Revision uint64
	// Data is the worker's own progress detail (for example per-destination marks above the
	// cursor), opaque to the journal and saved with the cursor.
	Data []byte
}

// Intent records a flush before the worker writes its object.
type Intent struct {
	// FromSeq and ToSeq bound the messages whose records the object holds.
	FromSeq, ToSeq uint64
	// Key is the object key; a re-executed intent writes the same key.
	Key string
	// Data is the worker's own description of the flush, opaque to the journal.
	Data []byte
}

// stateDoc is the stored form of State (docs/design/journal.md).
type stateDoc struct {
	V      int        `json:"v"`
	Cursor uint64     `json:"cursor"`
	Intent *intentDoc `json:"intent,omitempty"`
	Data   []byte     `json:"data,omitempty"`
}

type intentDoc struct {
	From uint64 `json:"from"`
	To   uint64 `json:"to"`
	Key  string `json:"key"`
	Data []byte `json:"data,omitempty"`
}

// LoadState returns the worker state of the stream name; State{Cursor: 1} if none was saved.
func (j *Journal) LoadState(ctx context.Context, name string) (State, error) {
	value, rev, found, err := j.lastMsg(ctx, "KV_"+stateBucket, "$KV."+stateBucket+"."+encodeName(name))
	if err != nil {
		return State{}, fmt.Errorf("load state %q: %w", name, err)
	}
	if !found {
		return State{Cursor: 1}, nil
	}
	var d stateDoc
	if err := json.Unmarshal(value, &d); err != nil {
		return State{}, fmt.Errorf("load state %q: %w", name, err)
	}
	if d.V != 1 {
		return State{}, fmt.Errorf("load state %q: unknown version %d", name, d.V)
	}
	s := State{Cursor: max(d.Cursor, 1), Revision: rev, Data: d.Data}
	if d.Intent != nil {
		s.Intent = &Intent{FromSeq: d.Intent.From, ToSeq: d.Intent.To, Key: d.Intent.Key, Data: d.Intent.Data}
	}
	return s, nil
}

// SaveState stores s as the worker state of the stream name if the stored revision is still
// s.Revision, and returns s with its new Revision. It fails with ErrConflict otherwise. When it
// returns without error the state is on disk.
func (j *Journal) SaveState(ctx context.Context, name string, s State) (State, error) {
	d := stateDoc{V: 1, Cursor: max(s.Cursor, 1), Data: s.Data}
	if s.Intent != nil {
		d.Intent = &intentDoc{From: s.Intent.FromSeq, To: s.Intent.ToSeq, Key: s.Intent.Key, Data: s.Intent.Data}
	}
	b, err := json.Marshal(d)
	if err != nil {
		return s, fmt.Errorf("save state %q: %w", name, err)
	}
	var rev uint64
	if s.Revision == 0 {
		rev, err = j.state.Create(ctx, encodeName(name), b)
	} else {
		rev, err = j.state.Update(ctx, encodeName(name), b, s.Revision)
	}
	if err != nil {
		if isWrongLastSeq(err) {
			err = ErrConflict
		}
		return s, fmt.Errorf("save state %q: %w", name, err)
	}
	s.Cursor = d.Cursor
	s.Revision = rev
	return s, nil
}

func isWrongLastSeq(err error) bool {
	if errors.Is(err, jetstream.ErrKeyExists) {
		return true
	}
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) &&
		(apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
			apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant)
}

// intentKey is the key of a stream's intent slot.
func intentKey(name string, slot int) string {
	return encodeName(name) + ".i." + strconv.Itoa(slot)
}

// SaveIntent stores data, a batch of flush intents of the stream name, in slot (replacing what
// the slot held). The batch is on disk when SaveIntent returns. The encoding is the worker's
// (docs/design/delivery.md); the journal keeps it opaque.
func (j *Journal) SaveIntent(ctx context.Context, name string, slot int, data []byte) error {
	if slot < 0 {
		return fmt.Errorf("save intent %q: negative slot %d", name, slot)
	}
	if _, err := j.state.Put(ctx, intentKey(name, slot), data); err != nil {
		return fmt.Errorf("save intent %q slot %d: %w", name, slot, err)
	}
	return nil
}

// Intents returns the intent batches of the stream name by slot.
func (j *Journal) Intents(ctx context.Context, name string) (map[int][]byte, error) {
	prefix := encodeName(name) + ".i."
	out := map[int][]byte{}
	l, err := j.state.ListKeysFiltered(ctx, prefix+"*")
	if err != nil {
		if errors.Is(err, jetstream.ErrNoKeysFound) {
			return out, nil
		}
		return nil, fmt.Errorf("list intents %q: %w", name, err)
	}
	var keys []string
	for k := range l.Keys() {
		keys = append(keys, k)
	}
	_ = l.Stop()
	for _, k := range keys {
		slot, err := strconv.Atoi(strings.TrimPrefix(k, prefix))
		if err != nil {
			continue
		}
		e, err := j.state.Get(ctx, k)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("load intent %q slot %d: %w", name, slot, err)
		}
		out[slot] = e.Value()
	}
	return out, nil
}

// purgeIntents removes every intent slot of the stream name.
func (j *Journal) purgeIntents(ctx context.Context, name string) error {
	s, err := j.js.Stream(ctx, "KV_"+stateBucket)
	if err != nil {
		return err
	}
	return s.Purge(ctx, jetstream.WithPurgeSubject("$KV."+stateBucket+"."+encodeName(name)+".i.>"))
}
