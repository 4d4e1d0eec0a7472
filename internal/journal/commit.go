package journal

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// errClosed reports an Append after Close.
var errClosed = errors.New("journal closed")

// commits holds the committers of a Journal: one per delivery stream that was appended to.
type commits struct {
	mu      sync.Mutex
	byName  map[string]*committer
	closing bool           // Close began: no publisher starts
	running sync.WaitGroup // publisher goroutines
	puts    sync.Pool      // *pending
}

// committer gathers the puts of one delivery stream and publishes them, at most one message at a
// time, each message holding every put gathered while the one before was in flight
// (docs/design/journal.md, "Group commit"). An idle committer has no goroutine.
type committer struct {
	j      *Journal
	stream string
	ref    streamRef

	mu      sync.Mutex
	queue   []*pending // gathered and not yet taken into a message, in arrival order
	queued  int64      // sum of size over queue, bounded by Config.IngestQueueBytes
	running bool       // a publisher goroutine runs; it ends when the queue is empty

	// Owned by the running publisher.
	lseq    uint64 // lseq of the stream's last message
	lastSeq uint64 // its sequence: a clustered publish expects it to be the subject's last
	known   bool   // lseq is known: false until read after Open, and after an unknown outcome
}

// pending is one Append waiting for its message.
type pending struct {
	arrival int64  // unix ms
	body    []byte // record count and records, encoded by the caller
	records int
	size    int64 // bytes the put adds to a frame at most: body and arrival
	// position, when set, makes this a positioned append (AppendPositioned): body then holds
	// puts whole puts with their arrivals, and the message holding it holds nothing else.
	position []byte
	puts     int
	taken    bool // in a message being published; guarded by committer.mu
	done     chan struct{}
	pos      Position // result, valid once done is signalled
	err      error
}

// maxPooledBody is the largest put buffer kept for reuse.
const maxPooledBody = 1 << 20

func (j *Journal) getPut() *pending {
	if p, ok := j.commits.puts.Get().(*pending); ok {
		return p
	}
	return &pending{done: make(chan struct{}, 1)}
}

func (j *Journal) putPut(p *pending) {
	body := p.body[:0]
	if cap(body) > maxPooledBody {
		body = nil
	}
	*p = pending{body: body, done: p.done}
	j.commits.puts.Put(p)
}

// committer returns the committer of the delivery stream name, creating it on first use or when
// ref no longer matches (the stream was re-created).
func (j *Journal) committer(name string, ref streamRef) *committer {
	cs := &j.commits
	cs.mu.Lock()
	defer cs.mu.Unlock()
	c := cs.byName[name]
	if c == nil || c.ref.nonce != ref.nonce || c.ref.subject != ref.subject {
		c = &committer{j: j, stream: name, ref: ref}
		if cs.byName == nil {
			cs.byName = make(map[string]*committer)
		}
		cs.byName[name] = c
	}
	return c
}

// dropCommitter forgets the committer of name; a publisher still running finishes its queue.
func (j *Journal) dropCommitter(name string) {
	j.commits.mu.Lock()
	delete(j.commits.byName, name)
	j.commits.mu.Unlock()
}

// closeCommits stops new publishers from starting; waitCommits waits for the running ones.
func (j *Journal) closeCommits() {
	j.commits.mu.Lock()
	j.commits.closing = true
	j.commits.mu.Unlock()
}

func (j *Journal) waitCommits() { j.commits.running.Wait() }

// append gathers one put and waits until the message holding it is acknowledged.
func (c *committer) append(ctx context.Context, arrival time.Time, records [][]byte) (Position, error) {
	p := c.j.getPut()
	p.arrival = arrival.UnixMilli()
	p.body = appendPutBody(p.body[:0], records)
	p.records = len(records)
	p.size = int64(len(p.body) + maxArrivalLen)
	return c.enqueue(ctx, p)
}

// appendPositioned queues puts and position as a message of their own and waits until it is
// acknowledged.
func (c *committer) appendPositioned(ctx context.Context, puts []Put, records, size int, position []byte) (Position, error) {
	p := c.j.getPut()
	p.body = appendPuts(slices.Grow(p.body[:0], size+binary.MaxVarintLen32+len(position)), puts)
	p.body = appendPosition(p.body, position)
	p.position, p.puts, p.records = position, len(puts), records
	p.size = int64(len(p.body))
	return c.enqueue(ctx, p)
}

// enqueue gathers p and waits until the message holding it is acknowledged.
func (c *committer) enqueue(ctx context.Context, p *pending) (Position, error) {
	c.mu.Lock()
	if c.queued+p.size > c.j.cfg.IngestQueueBytes {
		queued := c.queued
		c.mu.Unlock()
		c.j.putPut(p)
		return Position{}, fmt.Errorf("%w: %d bytes of puts wait for the journal", ErrFull, queued)
	}
	if !c.running {
		cs := &c.j.commits
		cs.mu.Lock()
		closing := cs.closing
		if !closing {
			cs.running.Add(1)
		}
		cs.mu.Unlock()
		if closing {
			c.mu.Unlock()
			c.j.putPut(p)
			return Position{}, errClosed
		}
		c.running = true
		go c.run()
	}
	c.queue = append(c.queue, p)
	c.queued += p.size
	c.mu.Unlock()

	select {
	case <-p.done:
		return c.result(p)
	case <-ctx.Done():
	}
	c.mu.Lock()
	if !p.taken {
		// Not yet in a message: withdraw it, nothing is stored.
		if i := slices.Index(c.queue, p); i >= 0 {
			c.queue = slices.Delete(c.queue, i, i+1)
			c.queued -= p.size
		}
		c.mu.Unlock()
		c.j.putPut(p)
		return Position{}, ctx.Err()
	}
	c.mu.Unlock()
	select {
	case <-p.done:
		return c.result(p)
	default:
		// The publisher still owns p; it is left to the garbage collector.
		return Position{}, fmt.Errorf("outcome unknown: %w", ctx.Err())
	}
}

func (c *committer) result(p *pending) (Position, error) {
	pos, err := p.pos, p.err
	c.j.putPut(p)
	return pos, err
}

// run publishes the gathered puts, one message at a time, until none is left.
func (c *committer) run() {
	defer c.j.commits.running.Done()
	bp := c.j.frames.Get().(*[]byte)
	defer func() {
		if cap(*bp) <= 2*c.j.cfg.MaxMessageBytes {
			c.j.frames.Put(bp)
		}
	}()
	var group []*pending
	for {
		c.mu.Lock()
		group = c.take(group[:0])
		if len(group) == 0 {
			c.running = false
			c.queue = nil // an idle stream holds no queue
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()
		pos, err := c.publish(bp, group)
		first := 0
		for _, p := range group {
			p.pos, p.err = pos, err
			p.pos.First = first
			first += p.records
			p.done <- struct{}{}
		}
		clear(group)
	}
}

// take moves the puts that fit one message from the front of the queue to group.
func (c *committer) take(group []*pending) []*pending {
	size, records := int64(frameV2MaxHeader), 0
	n := 0
	for _, p := range c.queue {
		if n > 0 && (size+p.size > int64(c.j.cfg.MaxMessageBytes) || records+p.records > maxRecordsPerFrame ||
			p.position != nil || c.queue[0].position != nil) {
			break // a positioned append is a message of its own
		}
		size += p.size
		records += p.records
		c.queued -= p.size
		p.taken = true
		group = append(group, p)
		n++
	}
	c.queue = slices.Delete(c.queue, 0, n)
	return group
}

// publish stores group as one message. It runs with PublishTimeout rather than a caller's
// context, because the message serves many callers. In a cluster other nodes may append to the
// same subject: the message is published only if the subject's last message is the one whose
// lseq it follows, and renumbered and published again when another node's came first
// (docs/design/cluster.md, "Writers on several nodes").
func (c *committer) publish(bp *[]byte, group []*pending) (Position, error) {
	ctx, cancel := context.WithTimeout(context.Background(), c.j.cfg.PublishTimeout)
	defer cancel()
	clustered := c.j.Clustered()
	for attempt := 1; ; attempt++ {
		if !c.known {
			lseq, last, err := c.j.lastLSeq(ctx, c.ref)
			if err != nil {
				return Position{}, fmt.Errorf("read last lseq: %w", err)
			}
			c.lseq, c.lastSeq, c.known = lseq, last, true
		}
		frame := c.frame(bp, group)
		var opts []jetstream.PublishOpt
		if clustered {
			opts = append(opts, jetstream.WithExpectLastSequencePerSubject(c.lastSeq))
		}
		ack, err := c.j.js.Publish(ctx, c.ref.subject, frame, opts...)
		if err != nil {
			var apiErr *jetstream.APIError
			if clustered && errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
				apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant) && attempt < maxRenumber {
				// Another node appended first, or its append is still being replicated (the
				// leader refuses a compare-and-set while one is in flight): renumber after a
				// short, jittered pause.
				c.known = false
				pause := time.Duration(rand.Int64N(int64(min(time.Millisecond<<min(attempt, 6), 50*time.Millisecond)) + 1))
				select {
				case <-time.After(pause):
				case <-ctx.Done():
					return Position{}, fmt.Errorf("renumber after other nodes' appends: %w", ctx.Err())
				}
				continue
			}
			if !errors.As(err, &apiErr) {
				c.known = false // no answer: the server may have stored it
				if group[0].position != nil {
					c.j.forgetLast(c.stream) // Trim learns the last message again
				}
			}
			err = classifyPublish(err, clustered)
			if errors.Is(err, ErrNoStream) {
				c.j.forget(c.stream)
			}
			return Position{}, err
		}
		c.lseq++
		c.lastSeq = ack.Sequence
		c.j.announce(c.stream) // one wake-up per message for the other nodes (consistent.go)
		if group[0].position != nil {
			c.j.noteLast(c.stream, c.ref.nonce, ack.Sequence, true)
		}
		return Position{Stream: c.stream, Seq: ack.Sequence, Nonce: c.ref.nonce}, nil
	}
}

// maxRenumber bounds the publishes of one message that other nodes' appends overtake.
const maxRenumber = 256

// frame encodes group as the message after lseq c.lseq, into the pooled buffer bp.
func (c *committer) frame(bp *[]byte, group []*pending) []byte {
	var frame []byte
	if p := group[0]; p.position != nil {
		frame = appendFrameHeader((*bp)[:0], frameV3, c.lseq+1, p.puts)
		frame = append(frame, p.body...)
	} else {
		frame = appendFrameHeader((*bp)[:0], frameV2, c.lseq+1, len(group))
		var prev int64
		for i, p := range group {
			frame = appendArrival(frame, i == 0, prev, p.arrival)
			prev = p.arrival
			frame = append(frame, p.body...)
		}
	}
	*bp = frame[:0]
	return frame
}

// lastLSeq returns the lseq of the last message on the subject of ref: 0 when there is none or
// it is a version 1 frame. A last message that does not decode counts as none (and is logged).
// It also returns the message's sequence (0 when there is none).
func (j *Journal) lastLSeq(ctx context.Context, ref streamRef) (lseq, seq uint64, err error) {
	data, seq, found, err := j.lastMsg(ctx, ref.stream, ref.subject)
	if err != nil || !found {
		return 0, 0, err
	}
	f, err := decodeFrame(data)
	if err != nil {
		j.log.Warn("journal last message does not decode; lseq restarts", "subject", ref.subject,
			"seq", seq, "err", err)
		return 0, seq, nil
	}
	return f.lseq, seq, nil
}
