package producer

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Producer sends records asynchronously: Add queues them, one batcher goroutine
// groups them by count, bytes and linger time, and MaxInFlight sender goroutines
// deliver the batches with the retries of PutRecordBatch. Records that fail for good
// go to OnFailure. Its methods are safe for concurrent use.
//
// A Producer owns goroutines from NewProducer until Close returns; always call Close.
type Producer struct {
	c      Client
	stream string
	cfg    ProducerConfig
	err    error // from argument validation; returned by Add

	slots   chan struct{} // one token per record added and not yet sent or failed
	in      chan msg      // records and flush markers, in Add order
	batches chan *batch   // from the batcher to the senders
	closing chan struct{} // closed when Close starts: Adds waiting for room give up
	cancel  context.CancelFunc
	done    chan struct{} // closed when the batcher and the senders have returned

	mu       sync.RWMutex // held shared while sending on in, exclusively to close it
	closed   bool         // Close has started
	inClosed bool         // in is closed

	wmu         sync.Mutex
	outstanding map[uint64]struct{} // batches dispatched and not yet completed
	changed     chan struct{}       // closed and replaced when a batch completes

	sent, retried, failed atomic.Int64
}

type msg struct {
	data  []byte
	flush chan uint64 // non-nil for a flush marker: receives the last batch id
}

type batch struct {
	id    uint64
	recs  []rec
	bytes int
}

// Stats are a Producer's running counters.
type Stats struct {
	// Sent counts records acknowledged, Retried record re-sends, Failed records given
	// up on.
	Sent, Retried, Failed int64
}

// NewProducer starts a Producer for stream: one batcher and cfg.MaxInFlight sender
// goroutines, which Close stops. A nil client, an empty stream or an invalid cfg
// (ProducerConfig.Validate) make every Add fail with an error wrapping
// ErrInvalidConfig.
func NewProducer(c Client, stream string, cfg ProducerConfig) *Producer {
	err := checkArgs(c, stream, cfg.Config)
	if err == nil {
		err = cfg.Validate()
	}
	cfg = cfg.withDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	p := &Producer{
		c: c, stream: stream, cfg: cfg, err: err,
		slots:       make(chan struct{}, cfg.QueueRecords),
		in:          make(chan msg, cfg.BatchRecords),
		batches:     make(chan *batch),
		closing:     make(chan struct{}),
		cancel:      cancel,
		done:        make(chan struct{}),
		outstanding: map[uint64]struct{}{},
		changed:     make(chan struct{}),
	}
	var wg sync.WaitGroup
	wg.Add(1 + cfg.MaxInFlight)
	go func() {
		defer wg.Done()
		p.batch()
	}()
	s := &sender{c: c, stream: stream, cfg: cfg.Config, log: cfg.Logger.With("stream", stream)}
	for range cfg.MaxInFlight {
		go func() {
			defer wg.Done()
			p.send(ctx, s)
		}()
	}
	go func() {
		wg.Wait()
		close(p.done)
	}()
	return p
}

// Add queues one record. It blocks while QueueRecords records are queued or in flight
// (back-pressure) until there is room or ctx ends, and returns ctx's error in the
// latter case. It returns ErrClosed once Close has started, and an error wrapping
// ErrRecordTooLarge for a record larger than MaxRecordBytes (not queued, not counted).
// The Producer keeps data until it is sent; the caller must not modify it.
func (p *Producer) Add(ctx context.Context, data []byte) error {
	if p.err != nil {
		return p.err
	}
	if len(data) > MaxRecordBytes {
		return fmt.Errorf("add record: %w (%d bytes)", ErrRecordTooLarge, len(data))
	}
	select {
	case <-p.closing:
		return ErrClosed
	default:
	}
	select {
	case p.slots <- struct{}{}:
	case <-p.closing:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.closed {
		<-p.slots
		return ErrClosed
	}
	select {
	case p.in <- msg{data: data}:
		return nil
	case <-ctx.Done():
		<-p.slots
		return ctx.Err()
	}
}

// Flush returns when every record added before the call has been sent or reported
// failed, or when ctx ends (returning its error). It sends the partial batch at once
// instead of waiting for Linger.
func (p *Producer) Flush(ctx context.Context) error {
	reply := make(chan uint64, 1)
	p.mu.RLock()
	if p.inClosed {
		p.mu.RUnlock()
		select {
		case <-p.done:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	select {
	case p.in <- msg{flush: reply}:
		p.mu.RUnlock()
	case <-ctx.Done():
		p.mu.RUnlock()
		return ctx.Err()
	}
	var last uint64
	select {
	case last = <-reply:
	case <-ctx.Done():
		return ctx.Err()
	}
	for {
		p.wmu.Lock()
		pending := false
		for id := range p.outstanding {
			if id <= last {
				pending = true
				break
			}
		}
		changed := p.changed
		p.wmu.Unlock()
		if !pending {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Close stops accepting records (Add returns ErrClosed), flushes, and stops the
// Producer's goroutines. If ctx ends before everything queued is delivered, the calls
// in flight are canceled, every record not acknowledged is reported to OnFailure
// with ErrorCodeCanceled, and Close returns ctx's error once the goroutines have
// stopped. Calling Close again waits for the first call to finish.
func (p *Producer) Close(ctx context.Context) error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		select {
		case <-p.done:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	p.closed = true
	close(p.closing)
	p.mu.Unlock()

	err := p.Flush(ctx)
	if err != nil {
		p.cancel()
	}
	p.mu.Lock()
	p.inClosed = true
	close(p.in)
	p.mu.Unlock()
	<-p.done
	p.cancel()
	if err != nil {
		return fmt.Errorf("close producer: %w", err)
	}
	return nil
}

// Stats returns a snapshot of the counters.
func (p *Producer) Stats() Stats {
	return Stats{Sent: p.sent.Load(), Retried: p.retried.Load(), Failed: p.failed.Load()}
}

// batch is the batcher goroutine: it groups records into batches and hands them to the
// senders, until in is closed.
func (p *Producer) batch() {
	defer close(p.batches)
	var (
		cur    *batch
		nextID uint64 = 1
		seq    int
	)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	dispatch := func() {
		if cur == nil {
			return
		}
		timer.Stop()
		p.wmu.Lock()
		p.outstanding[cur.id] = struct{}{}
		p.wmu.Unlock()
		p.batches <- cur
		cur = nil
	}
	for {
		select {
		case m, ok := <-p.in:
			if !ok {
				dispatch()
				return
			}
			if m.flush != nil {
				dispatch()
				m.flush <- nextID - 1
				continue
			}
			if cur != nil && cur.bytes+len(m.data) > p.cfg.BatchBytes {
				dispatch()
			}
			if cur == nil {
				cur = &batch{id: nextID, recs: make([]rec, 0, min(p.cfg.BatchRecords, 64))}
				nextID++
				timer.Reset(p.cfg.Linger)
			}
			cur.recs = append(cur.recs, rec{index: seq, data: m.data})
			cur.bytes += len(m.data)
			seq++
			if len(cur.recs) >= p.cfg.BatchRecords {
				dispatch()
			}
		case <-timer.C:
			dispatch()
		}
	}
}

// send is a sender goroutine: it delivers batches until the batcher closes batches.
func (p *Producer) send(ctx context.Context, s *sender) {
	for b := range p.batches {
		var res Result
		_ = s.send(ctx, b.recs, p.cfg.Clock.Now().Add(p.cfg.MaxElapsed), &res)
		p.sent.Add(int64(res.Sent))
		p.retried.Add(int64(res.Retried))
		p.failed.Add(int64(len(res.Failed)))
		if p.cfg.OnFailure != nil {
			for _, f := range res.Failed {
				p.cfg.OnFailure(f)
			}
		}
		for range b.recs {
			<-p.slots
		}
		p.wmu.Lock()
		delete(p.outstanding, b.id)
		close(p.changed)
		p.changed = make(chan struct{})
		p.wmu.Unlock()
	}
}
