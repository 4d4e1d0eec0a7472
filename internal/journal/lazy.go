package journal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Defaults of the lazy reader (docs/design/journal.md, "Reading").
const (
	// DefaultReaderIdle is how long a Reader keeps its consumer without a message.
	DefaultReaderIdle = 10 * time.Second
	// readerPoll is how often a parked Reader looks for messages that came without a wake-up
	// (none do in one process; it is the safety net, not the mechanism).
	readerPoll = 30 * time.Second
)

// ErrIdle is returned by Next of a Reader set to StopWhenIdle when there is nothing to read:
// the Reader holds no consumer, and Wake says when to call Next again.
var ErrIdle = errors.New("journal reader idle")

// StopWhenIdle makes Next return ErrIdle instead of waiting when the stream has nothing to read
// (at once, or after Config.ReaderIdle without a message), so that the caller need not keep a
// goroutine waiting: it waits on Wake with its other events and calls Next again. The Reader
// stays usable.
func (r *Reader) StopWhenIdle() { r.stopIdle = true }

// Wake returns a channel closed when the stream may have something to read again: at the next
// append (or delete) after the ErrIdle that Next returned last. Nil before any ErrIdle.
func (r *Reader) Wake() <-chan struct{} { return r.wakeCh }

// nextMsg returns the next message of r, opening a consumer when there is one to read and
// parking (closing the consumer) after Config.ReaderIdle without one.
func (r *Reader) nextMsg(ctx context.Context) (jetstream.Msg, error) {
	if r.j == nil { // a bounded Reader: its consumer lives until the bound
		return r.it.Next(jetstream.NextContext(ctx))
	}
	for {
		if r.it == nil {
			if err := r.open(ctx); err != nil {
				return nil, err
			}
		}
		ictx, cancel := context.WithTimeout(ctx, r.j.cfg.ReaderIdle)
		msg, err := r.it.Next(jetstream.NextContext(ictx))
		cancel()
		if err == nil {
			return msg, nil
		}
		if ctx.Err() != nil || ictx.Err() == nil {
			return nil, err
		}
		r.park()
	}
}

// consumerDeleteTimeout bounds deleting a parked reader's consumer.
const consumerDeleteTimeout = 2 * time.Second

// park closes the consumer and deletes it from the server (an ordered consumer would otherwise
// stay there until its inactivity threshold); the next read opens a new one at r.next.
func (r *Reader) park() {
	if r.it == nil {
		return
	}
	r.it.Stop()
	r.it = nil
	r.release()
	if r.cons == nil {
		return
	}
	name := r.cons.CachedInfo().Name
	r.cons = nil
	// Briefly: a parked reader's owner may be stopping it because its node is cut off, and must
	// not wait on the cluster (the server drops the consumer after its inactivity threshold).
	ctx, cancel := context.WithTimeout(context.Background(), min(r.j.cfg.PublishTimeout, consumerDeleteTimeout))
	defer cancel()
	if err := r.j.js.DeleteConsumer(ctx, r.ref.stream, name); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
		r.j.log.Warn("delete idle journal consumer", "stream", r.stream, "consumer", name, "err", err)
	}
}

// open waits until the stream has a message at or after r.next, then opens a consumer there.
// It registers for the wake-up before it looks, so that an append in between is not missed.
func (r *Reader) open(ctx context.Context) error {
	for {
		wake := r.j.watch(r.stream)
		has, err := r.j.hasFrom(ctx, r.ref, r.next)
		if err != nil {
			return err
		}
		if has {
			break
		}
		if r.stopIdle {
			r.wakeCh = wake
			return ErrIdle
		}
		poll := time.NewTimer(readerPoll)
		select {
		case <-wake:
		case <-poll.C:
		case <-ctx.Done():
			poll.Stop()
			return ctx.Err()
		}
		poll.Stop()
	}
	pull, err := r.acquire(ctx, r.j)
	if err != nil {
		return err
	}
	cons, err := r.j.orderedConsumer(ctx, r.ref, r.next)
	if err != nil {
		r.release()
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			err = ErrNoStream
		}
		return err
	}
	r.it, err = cons.Messages(jetstream.PullMaxBytes(int(pull)))
	if err != nil {
		r.release()
		return err
	}
	r.cons = cons
	return nil
}

// orderedConsumer opens an ordered consumer of ref's records from sequence from. A create that
// reached a stream's leader as it was replaced gets no answer: it is asked again after
// leaderGetAttempt (a consumer made by the lost request goes after its inactivity threshold).
func (j *Journal) orderedConsumer(ctx context.Context, ref streamRef, from uint64) (jetstream.Consumer, error) {
	for {
		cctx, cancel := context.WithTimeout(ctx, leaderGetAttempt)
		cons, err := j.js.OrderedConsumer(cctx, ref.stream, jetstream.OrderedConsumerConfig{
			FilterSubjects:    []string{ref.subject},
			DeliverPolicy:     jetstream.DeliverByStartSequencePolicy,
			OptStartSeq:       from,
			InactiveThreshold: time.Minute,
		})
		cancel()
		if err == nil || ctx.Err() != nil || !errors.Is(err, context.DeadlineExceeded) {
			return cons, err
		}
		j.log.Debug("journal asks again for a reader's consumer", "journal", ref.stream, "err", err)
	}
}

// acquire takes the read-ahead of a consumer about to open from the memory budget (its shared
// part: read-ahead is a long-lived holder, and requests keep the rest) and returns
// it, the consumer's PullMaxBytes: Config.ReadAheadBytes when it fits, else MaxMessageBytes (a
// pull must fit the largest message). When neither fits it waits for a release, the consumer
// still closed, and tries again. After Config.ReaderIdle of waiting it goes on with
// MaxMessageBytes without holding them, so that a stream is not starved by readers of others
// that stay busy: the budget is then overdrawn by at most one message per waiting reader
// (docs/design/memory.md, "No deadlock").
func (r *Reader) acquire(ctx context.Context, j *Journal) (int64, error) {
	full, least := int64(j.cfg.ReadAheadBytes), int64(j.cfg.MaxMessageBytes)
	b := j.cfg.Budget
	if b == nil {
		return full, nil
	}
	var patience *time.Timer
	for {
		freed := b.Freed() // before trying, so that a release in between is not missed
		n := full
		ok := b.TryAcquireShared(n)
		if !ok && least < full {
			n = least
			ok = b.TryAcquireShared(n)
		}
		if ok {
			if patience != nil {
				patience.Stop()
			}
			r.budget, r.held = b, n
			return n, nil
		}
		if patience == nil {
			patience = time.NewTimer(j.cfg.ReaderIdle)
		}
		select {
		case <-freed:
		case <-patience.C:
			j.log.Warn("journal read-ahead over the memory budget", "stream", r.stream, "bytes", least, "waited", j.cfg.ReaderIdle)
			return least, nil
		case <-ctx.Done():
			patience.Stop()
			return 0, ctx.Err()
		}
	}
}

// release gives the reader's read-ahead back to the budget.
func (r *Reader) release() {
	if r.held > 0 {
		r.budget.Release(r.held)
		r.held = 0
	}
}

// watch returns a channel that is closed when a message of the stream name is appended (or
// the stream deleted) after the call.
func (j *Journal) watch(name string) <-chan struct{} {
	j.mu.Lock()
	defer j.mu.Unlock()
	ch, ok := j.watches[name]
	if !ok {
		ch = make(chan struct{})
		j.watches[name] = ch
	}
	return ch
}

// AfterAppend calls fn once, at the next append of the stream name (or its deletion), in the
// appender's goroutine: fn must not block. Calling cancel first means fn is not called. It lets
// a stream with nothing to do keep no goroutine at all (docs/design/delivery.md, "Idle streams").
func (j *Journal) AfterAppend(name string, fn func()) (cancel func()) {
	cb := &afterAppend{fn: fn}
	j.mu.Lock()
	j.callbacks[name] = append(j.callbacks[name], cb)
	j.mu.Unlock()
	return func() {
		cb.cancelled.Store(true)
		j.mu.Lock()
		defer j.mu.Unlock()
		cbs := j.callbacks[name]
		for i, c := range cbs {
			if c == cb {
				cbs = append(cbs[:i], cbs[i+1:]...)
				break
			}
		}
		if len(cbs) == 0 {
			delete(j.callbacks, name)
		} else {
			j.callbacks[name] = cbs
		}
	}
}

type afterAppend struct {
	fn        func()
	cancelled atomic.Bool
}

// wake closes the watch channel of name, if any reader waits on it, and calls the functions
// registered with AfterAppend.
func (j *Journal) wake(name string) {
	j.mu.Lock()
	ch, ok := j.watches[name]
	if ok {
		delete(j.watches, name)
	}
	cbs := j.callbacks[name]
	if cbs != nil {
		delete(j.callbacks, name)
	}
	j.mu.Unlock()
	if ok {
		close(ch)
	}
	for _, cb := range cbs {
		if !cb.cancelled.Load() {
			cb.fn()
		}
	}
}

// hasFrom reports whether the stream of ref holds a message with sequence ≥ from, with one
// direct get (next message of the subject at or after from).
func (j *Journal) hasFrom(ctx context.Context, ref streamRef, from uint64) (bool, error) {
	if j.Clustered() { // a replica behind the leader could answer "nothing yet"
		_, _, found, err := j.leaderGet(ctx, ref.stream, directGetReq{Seq: from, NextBySubj: ref.subject})
		if err != nil {
			return false, fmt.Errorf("look for messages from %d: %w", from, err)
		}
		return found, nil
	}
	msg, err := j.directGet(ctx, ref, directGetReq{Seq: from, NextBySubj: ref.subject})
	if err != nil {
		return false, fmt.Errorf("look for messages from %d: %w", from, err)
	}
	return msg != nil, nil
}

// directGetReq is a JetStream direct get request: the message at or after Seq on NextBySubj, or
// the last one on LastBySubj.
type directGetReq struct {
	Seq        uint64 `json:"seq,omitempty"`
	NextBySubj string `json:"next_by_subj,omitempty"`
	LastBySubj string `json:"last_by_subj,omitempty"`
}

// directGet asks the stream of ref for one message with a single request (no stream info
// first); it returns nil when there is no such message.
func (j *Journal) directGet(ctx context.Context, ref streamRef, req directGetReq) (*nats.Msg, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	msg, err := j.nc.RequestWithContext(ctx, "$JS.API.DIRECT.GET."+ref.stream, body)
	if err != nil {
		if errors.Is(err, nats.ErrNoResponders) {
			return nil, ErrNoStream
		}
		return nil, err
	}
	switch st := msg.Header.Get("Status"); st {
	case "":
		return msg, nil
	case "404":
		return nil, nil
	default:
		return nil, fmt.Errorf("direct get: status %s %s", st, msg.Header.Get("Description"))
	}
}
