package delivery

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/hydrant-dev/hydrant/internal/compress"
	"github.com/hydrant-dev/hydrant/internal/destination"
	"github.com/hydrant-dev/hydrant/internal/journal"
	"github.com/hydrant-dev/hydrant/internal/membudget"
	"github.com/hydrant-dev/hydrant/internal/metrics"
	"github.com/hydrant-dev/hydrant/internal/prefix"
	"github.com/hydrant-dev/hydrant/internal/processor"
)

// Bounds of one actor.
const (
	// maxProcInFlight bounds the processing jobs of one stream in flight.
	maxProcInFlight = 4
	// maxGatherBytes bounds the source bytes waiting for processing before the actor stops
	// reading.
	maxGatherBytes = 64 << 20
	// readAhead is the number of journal batches the reader hands ahead of the actor.
	readAhead = 4
	// minHeldBound is the bound on bytes in open buffers and objects not yet written of a leg
	// without MaxBufferedBytes, unless a size hint per writer and one more for the open buffer
	// is more; the actor stops reading beyond the sum of its legs' bounds.
	minHeldBound = 64 << 20
	// publishEvery bounds how often the status snapshot is refreshed.
	publishEvery = 100 * time.Millisecond
)

// legRun is one leg of the running spec.
type legRun struct {
	LegSpec
	b            *batcher
	gather       []procMsg // messages waiting for the processing stage
	gatherBytes  int
	gatherSince  time.Time
	lambdaLimit  int
	lambdaWait   time.Duration
	exceededHits int64
}

// Sizes of a Lambda invocation's payload around the records' data: the request's own fields,
// and each record's recordId, approximateArrivalTimestamp and JSON punctuation.
const (
	lambdaEnvelope       = 1 << 10
	lambdaRecordOverhead = 128
)

// cost returns what a message weighs in the leg's gathering: its bytes in a Lambda payload
// (base64 data and the record's fields) for a leg with a Lambda, else its records' bytes.
func (l *legRun) cost(b journal.Batch) int {
	n := 0
	for _, r := range b.Records {
		if l.lambdaLimit > 0 {
			n += (len(r)+2)/3*4 + lambdaRecordOverhead
		} else {
			n += len(r)
		}
	}
	return n
}

// simple reports whether the leg's objects are whole journal messages as read.
func (l *legRun) simple() bool { return l.Processor == nil && !l.Dynamic }

// object is a sealed buffer on its way to the store.
type object struct {
	id  uint64
	leg *legRun
	gen int
	key string
	buf *buffer
	mem int  // the memory the object holds, as counted in unwrittenMem
	pin *pin // the recovered batch it sends again, for an endpoint batch
}

// flushReq is a Flush waiting for every message up to upTo to be settled.
type flushReq struct {
	upTo uint64
	done chan error
}

// command is a control message to an actor.
type command struct {
	apply *Spec
	flush *flushReq
}

// readMsg is what the journal reader hands the actor.
type readMsg struct {
	gen  int
	b    journal.Batch
	err  error
	idle <-chan struct{} // the reader stopped with nothing to read; closed when there may be
}

// Results of the actor's goroutines.
type (
	recovered struct {
		st      journal.State
		marks   map[string]uint64
		objects []recoveredObject
		err     error
	}
	recoveredObject struct {
		slot   int
		o      intentObject
		exists bool
		stale  bool // every message it holds is below its leg's settled mark
	}
	intentsSaved struct {
		slots []int
		objs  [][]*object
		err   error
	}
	stateSaved struct {
		st    journal.State
		marks map[string]uint64
		err   error
	}
	writeDone struct {
		o         *object
		stored    int
		err       error
		permanent bool
		attempts  int // of an endpoint batch
	}
)

// actor delivers one stream. Its loop owns all of its state; everything that blocks runs in
// goroutines whose results come back on results.
type actor struct {
	stream string
	d      *shared
	status *Status
	mail   chan command
	rnd    *rand.Rand

	spec  Spec
	gen   int
	led   *Ledger
	legs  []*legRun
	st    journal.State     // the stored state (its revision)
	sv    map[string]uint64 // the marks last saved
	nonce uint64
	pins  *pinSet // recovered endpoint batches (endpoint.go)

	readGen   int
	rcancel   context.CancelFunc
	parked    <-chan struct{} // the reader stopped idle: closed when the stream has more
	rdone     chan struct{}
	reads     chan readMsg
	lastRead  uint64
	nextSeq   uint64 // the sequence the reader should hand next (in a stream of its own)
	lastLSeq  uint64 // the stream's own number (LSeq) of the last message read
	lseqKnown bool   // lastLSeq is known: a message was read, or nothing was ever settled

	procSeq, procNext uint64
	procWait          map[uint64]procResult
	procInFlight      int

	sealed       []*object // intent not saved yet
	queue        []*object // intent saved, waiting for a writer
	unwritten    int       // bytes of records in sealed, queued and in-flight objects
	unwrittenMem int       // memory those objects hold
	savingState  bool
	stateDirty   bool

	flushes     []*flushReq
	timer       Timer
	results     chan any
	wg          sync.WaitGroup
	kits        *kitPool
	ready       bool
	writing     map[uint64]*object // objects being written
	savingObjs  []*object          // objects whose intents are being saved
	lastPublish time.Time
	refresh     *time.Timer // armed when a status refresh was skipped

	sleepTimer Timer           // armed while the actor is idle (errSleep)
	mem        *membudget.Hold // this stream's share of the memory budget: what it holds
	memBlocked bool            // the budget refused what it holds: reading waits for a release
}

// errStopped answers control messages of an actor that stopped.
var errStopped = errors.New("delivery actor stopped")

// errSleep ends run when the actor has had nothing to do for Deps.SleepAfter: everything it
// read is settled and saved, and its reader is parked. The manager keeps no goroutine for it
// until a command or an append wakes it, and run then starts again from the saved state.
var errSleep = errors.New("delivery actor idle")

// run delivers until ctx ends. It returns an error when the actor must be restarted from its
// durable state (a lost compare-and-set, a journal that cannot be read).
func (a *actor) run(ctx context.Context) (err error) {
	ctx, cancel := context.WithCancel(ctx)
	a.reset()
	defer func() {
		cancel()
		a.stopReader()
		a.wg.Wait()
		a.mem.Close()
		if a.sleepTimer != nil {
			a.sleepTimer.Stop()
			a.sleepTimer = nil
		}
		if a.timer != nil {
			a.timer.Stop()
			a.timer = nil
		}
		for _, f := range a.flushes {
			f.done <- cmpErr(err, errStopped)
		}
		a.flushes = nil
	}()
	a.recover(ctx)
	// The status snapshot is refreshed on wall-clock time (it is a view, not delivery logic),
	// at most every publishEvery; a refresh skipped for that arms a timer for the next, so an
	// idle stream has no timer at all.
	defer func() {
		if a.refresh != nil {
			a.refresh.Stop()
			a.refresh = nil
		}
	}()
	for {
		a.armSleep()
		var refreshC <-chan time.Time
		if a.refresh != nil {
			refreshC = a.refresh.C
		}
		var timerC <-chan time.Time
		if a.timer != nil {
			timerC = a.timer.C()
		}
		// The budget's channels are taken before mayRead tries it, so a release in between
		// is not missed.
		var freed, squeezed <-chan struct{}
		if a.d.Budget != nil {
			freed, squeezed = a.d.Budget.Freed(), a.d.Budget.Squeezed()
		}
		var reads <-chan readMsg
		if a.ready && a.mayRead() {
			reads = a.reads
		}
		if !a.memBlocked {
			freed = nil
		}
		var sleepC <-chan time.Time
		if a.sleepTimer != nil {
			sleepC = a.sleepTimer.C()
		}
		if a.mem.Held() < squeezeMin {
			squeezed = nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-freed:
		case <-squeezed:
			a.relieve()
		case c := <-a.mail:
			if c.apply != nil {
				a.apply(ctx, *c.apply)
			}
			if c.flush != nil {
				a.flushes = append(a.flushes, c.flush)
			}
		case r := <-a.results:
			if err := a.onResult(ctx, r); err != nil {
				return err
			}
		case <-sleepC:
			a.sleepTimer = nil
			if a.idle() {
				a.publish(true)
				return errSleep
			}
		case <-a.parked:
			a.startReader(ctx, a.nextSeq)
		case m := <-reads:
			if m.gen != a.readGen {
				continue
			}
			if m.idle != nil {
				// Nothing to read: no reader goroutine until the stream has more.
				a.stopReader()
				a.parked = m.idle
				continue
			}
			if m.err != nil {
				return fmt.Errorf("read journal: %w", m.err)
			}
			if err := a.onMessage(ctx, m.b); err != nil {
				return err
			}
		case <-timerC:
			a.timer = nil
			a.onTimer(ctx)
		case <-refreshC:
			a.refresh = nil
			if a.ready {
				a.publish(true)
			}
			continue
		}
		if a.ready {
			a.step(ctx)
		}
	}
}

// idle reports whether the actor has nothing to do: its reader parked with nothing to read,
// no record held, nothing in flight, its progress saved, no flush waiting.
func (a *actor) idle() bool {
	if !a.ready || a.rcancel != nil || a.parked == nil || a.unwritten != 0 || a.openBuffers() != 0 ||
		len(a.sealed)+len(a.queue)+len(a.savingObjs)+len(a.writing) != 0 || a.procInFlight != 0 ||
		a.savingState || a.stateDirty || len(a.flushes) != 0 || a.timer != nil || a.memBlocked {
		return false
	}
	for _, lr := range a.legs {
		if len(lr.gather) != 0 {
			return false
		}
	}
	return true
}

// armSleep keeps the sleep timer armed while the actor is idle, and only then.
func (a *actor) armSleep() {
	switch idle := a.d.SleepAfter > 0 && a.idle(); {
	case idle && a.sleepTimer == nil:
		a.sleepTimer = a.d.Clock.NewTimer(a.d.SleepAfter)
	case !idle && a.sleepTimer != nil:
		a.sleepTimer.Stop()
		a.sleepTimer = nil
	}
}

// reset clears the state of a previous run: a run starts from the durable state.
func (a *actor) reset() {
	a.results = make(chan any, 64)
	a.reads = make(chan readMsg, readAhead)
	a.procWait = map[uint64]procResult{}
	a.procSeq, a.procNext, a.procInFlight = 0, 0, 0
	a.kits = newKitPool(a.d.Compression)
	a.writing = map[uint64]*object{}
	a.sealed, a.queue, a.savingObjs = nil, nil, nil
	a.unwritten, a.unwrittenMem = 0, 0
	a.savingState, a.stateDirty = false, false
	a.led, a.legs, a.ready = nil, nil, false
	a.pins = newPinSet()
	a.rnd = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	if a.mem != nil {
		a.mem.Close()
	}
	a.mem, a.memBlocked = membudget.NewHold(a.d.Budget), false
}

func cmpErr(err, def error) error {
	if err != nil {
		return err
	}
	return def
}

// spawn runs f in a goroutine owned by the actor; its result comes back on results.
func (a *actor) spawn(ctx context.Context, f func(ctx context.Context) any) {
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		r := f(ctx)
		select {
		case a.results <- r:
		case <-ctx.Done():
		}
	}()
}

// retry calls f until it succeeds, fails permanently, or ctx ends, waiting with back-off.
func (a *actor) retry(ctx context.Context, what string, f func() error, attrs ...any) error {
	rnd := rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	for attempt := 1; ; attempt++ {
		err := f()
		if err == nil || ctx.Err() != nil || errors.Is(err, journal.ErrConflict) || destination.IsPermanent(err) {
			return err
		}
		d := a.d.Backoff.Delay(attempt, rnd)
		a.d.Logger.Warn(what+" failed; retrying", append([]any{"stream", a.stream, "attempt", attempt, "retry_in", d, "err", err}, attrs...)...)
		if err := sleep(ctx, a.d.Clock, d); err != nil {
			return err
		}
	}
}

func sleep(ctx context.Context, c Clock, d time.Duration) error {
	t := c.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C():
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (a *actor) buildLegs(spec Spec) {
	a.legs = a.legs[:0]
	for _, ls := range spec.Legs {
		lr := &legRun{LegSpec: ls, b: newBatcher(ls.SizeBytes, ls.Interval, ls.MaxBufferedBytes)}
		if ls.MaxRecords > 0 {
			lr.b.maxRecs = ls.MaxRecords
		}
		// An endpoint batch is sent record by record: its buffer keeps them uncompressed.
		if ls.Compression == compress.Gzip && ls.Endpoint == nil {
			lr.b.compressWhileFilling(a.kits)
		}
		if p, ok := ls.Processor.(interface {
			LambdaBuffering() (int, time.Duration, bool)
		}); ok {
			if size, wait, ok := p.LambdaBuffering(); ok {
				// size bounds an invocation's payload; gathering counts what each record
				// costs in it (see cost), less the request's own fields.
				lr.lambdaLimit, lr.lambdaWait = max(size-lambdaEnvelope, 1), wait
			}
		}
		a.legs = append(a.legs, lr)
	}
	a.status.setLegs(a.spec.Legs)
}

// apply switches to a new spec: buffers, sealed objects and processing of the old one are
// dropped and their messages read again; writes in flight finish.
func (a *actor) apply(ctx context.Context, spec Spec) {
	if a.spec.Stream != "" && spec.Version < a.spec.Version {
		// An activation that read the stream before an update applied it: stale.
		a.d.Logger.Debug("stale delivery spec ignored", "stream", a.stream, "version", spec.Version, "current", a.spec.Version)
		return
	}
	a.spec = spec
	a.gen++
	if !a.ready {
		return // recovery builds the legs from the new spec
	}
	for _, lr := range a.legs {
		for _, p := range lr.b.sorted() {
			for _, r := range p.runs {
				a.led.Release(lr.Name, r.Seq, r.N)
			}
		}
	}
	for _, o := range slices.Concat(a.sealed, a.queue, a.savingObjs) {
		a.led.Drop(o.id)
		a.uncount(o)
		if o.pin != nil {
			o.pin.sealed = false // its records are read again into its buffer
		}
	}
	for key, p := range a.pins.byKey {
		if !slices.ContainsFunc(spec.Legs, func(l LegSpec) bool { return l.Name == p.leg && l.Endpoint != nil }) {
			a.pins.remove(key) // the leg no longer sends batches: its records go the new way
		}
	}
	a.sealed, a.queue, a.savingObjs = nil, nil, nil
	a.procWait = map[uint64]procResult{}
	a.procNext = a.procSeq // results of jobs in flight are dropped by generation
	names := map[string]bool{}
	for _, ls := range spec.Legs {
		names[ls.Name] = true
		if !slices.Contains(a.led.Legs(), ls.Name) {
			a.led.AddLeg(ls.Name, a.lastRead)
		}
	}
	for _, n := range a.led.Legs() {
		if names[n] {
			a.led.Unroute(n)
		} else {
			a.led.RetireLeg(n)
		}
	}
	a.buildLegs(spec)
	a.startReader(ctx, a.led.Cursor())
}

// startReader (re)starts the journal reader at from.
func (a *actor) startReader(ctx context.Context, from uint64) {
	a.stopReader()
	a.readGen++
	gen := a.readGen
	a.nextSeq, a.parked = from, nil
	if from == 1 && a.lastRead == 0 {
		a.lseqKnown = true // nothing settled yet: the first message must be LSeq 1
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	a.rcancel, a.rdone = cancel, done
	out := a.reads
	go func() {
		defer close(done)
		send := func(m readMsg) bool {
			select {
			case out <- m:
				return true
			case <-rctx.Done():
				return false
			}
		}
		var rd *journal.Reader
		err := a.retry(rctx, "open journal reader", func() error {
			var err error
			rd, err = a.d.Log.Read(rctx, a.stream, from)
			return err
		})
		if err != nil {
			if rctx.Err() == nil {
				send(readMsg{gen: gen, err: err})
			}
			return
		}
		defer rd.Close()
		rd.StopWhenIdle()
		for {
			b, err := rd.Next(rctx)
			if errors.Is(err, journal.ErrIdle) {
				send(readMsg{gen: gen, idle: rd.Wake()})
				return
			}
			if errors.Is(err, journal.ErrCorrupt) {
				a.d.Logger.Error("journal message does not decode; settled as empty", "stream", a.stream, "seq", b.Seq, "err", err)
				a.d.Metrics.Record(a.stream, "Journal.CorruptMessages", metrics.UnitCount, 1)
				a.status.recordFailure("journal", "corrupt", "CorruptMessage", fmt.Sprintf("journal message %d does not decode: %v", b.Seq, err), a.d.Clock.Now())
				b.Records, err = nil, nil
			}
			if err != nil {
				if rctx.Err() == nil {
					send(readMsg{gen: gen, err: err})
				}
				return
			}
			if !send(readMsg{gen: gen, b: b}) {
				return
			}
		}
	}()
}

func (a *actor) stopReader() {
	if a.rcancel == nil {
		return
	}
	a.rcancel()
	<-a.rdone
	a.rcancel, a.rdone = nil, nil
	for { // drop what the old reader handed ahead
		select {
		case <-a.reads:
		default:
			return
		}
	}
}

// mayRead reports whether the actor takes more messages: not while too much waits for
// processing or for the store.
func (a *actor) mayRead() bool {
	gathered, held, bound := 0, a.unwritten, 0
	for _, lr := range a.legs {
		gathered += lr.gatherBytes
		held += lr.b.total
		if lr.MaxBufferedBytes > 0 {
			bound += lr.MaxBufferedBytes
		} else {
			bound += max(minHeldBound, (a.d.WritesPerStream+1)*lr.SizeBytes)
		}
	}
	if gathered >= maxGatherBytes || held >= bound {
		return false
	}
	if a.unwritten == 0 && a.openBuffers() == 0 {
		for _, lr := range a.legs { // idle: spare buffers only hold memory
			lr.b.dropSpares()
		}
	}
	// What the actor holds is its share of the process-wide budget. It is taken after the
	// fact (a message read is held before it is counted), so an actor holding nothing always
	// reads: the budget is overdrawn by at most one message per stream making progress.
	a.memBlocked = !a.mem.Resize(int64(a.holding()))
	if a.memBlocked {
		a.relieve()
	}
	return !a.memBlocked
}

// uncount takes a sealed object out of what the actor holds unwritten.
func (a *actor) uncount(o *object) {
	a.unwritten -= o.buf.size()
	a.unwrittenMem -= o.mem
}

// holding returns the bytes the actor holds: open and spare buffers, objects not yet written,
// messages gathered for processing.
func (a *actor) holding() int {
	n := a.unwrittenMem
	for _, lr := range a.legs {
		n += lr.b.held() + lr.gatherBytes
	}
	return n
}

// openBuffers returns the number of open buffers of every leg.
func (a *actor) openBuffers() int {
	n := 0
	for _, lr := range a.legs {
		n += len(lr.b.parts)
	}
	return n
}

// squeezeMin is the least an actor must hold to answer a squeeze of the budget, and the least
// size of a buffer it writes early for one: smaller ones are not worth an object.
const squeezeMin = 1 << 20

// relieve gives memory back when the budget is short: spare buffers are dropped, and the
// largest open buffer of at least squeezeMin is sealed, to be written early.
func (a *actor) relieve() {
	var lr *legRun
	var p *buffer
	for _, l := range a.legs {
		l.b.dropSpares()
		if q := l.b.largest((*buffer).held); q != nil && q.held() >= squeezeMin && (p == nil || q.held() > p.held()) {
			lr, p = l, q
		}
	}
	if p != nil {
		a.seal(lr, p)
	}
}

// onMessage takes one journal message for every leg that has not settled it.
func (a *actor) onMessage(ctx context.Context, b journal.Batch) error {
	// Messages that expired show as a gap: in the stream's own numbering (LSeq) when the
	// message has one, in the sequence of a stream of its own otherwise (older messages).
	var expired uint64
	switch {
	case b.LSeq != 0 && a.lseqKnown && b.Seq > a.lastRead && b.LSeq > a.lastLSeq+1:
		expired = b.LSeq - a.lastLSeq - 1
	case b.LSeq == 0 && b.Seq > a.nextSeq:
		expired = b.Seq - a.nextSeq
	}
	if expired > 0 {
		a.d.Logger.Error("undelivered records expired from the journal", "stream", a.stream, "messages", expired, "before_seq", b.Seq)
		a.d.Metrics.Record(a.stream, "Journal.ExpiredMessages", metrics.UnitCount, float64(expired))
		a.status.recordFailure("journal", "expired", "RecordsExpired",
			fmt.Sprintf("%d journal messages before sequence %d expired before delivery", expired, b.Seq), a.d.Clock.Now())
	}
	a.nextSeq = b.Seq + 1
	if b.LSeq != 0 {
		a.lastLSeq, a.lseqKnown = b.LSeq, true
	}
	a.lastRead = max(a.lastRead, b.Seq)
	a.nonce = b.Nonce
	now := a.d.Clock.Now()
	for _, lr := range a.legs {
		if !a.led.Pending(lr.Name, b.Seq) {
			continue
		}
		if err := a.led.Take(lr.Name, b.Seq); err != nil {
			return err
		}
		whole, skip := a.led.Skip(lr.Name, b.Seq)
		if whole {
			a.led.Routed(lr.Name, b.Seq)
			continue
		}
		if !lr.simple() {
			if len(lr.gather) == 0 {
				lr.gatherSince = now
			}
			lr.gather = append(lr.gather, procMsg{b: b, skip: skip})
			lr.gatherBytes += lr.cost(b)
			continue
		}
		var p *buffer
		if len(b.Records) == 0 {
			p = lr.b.open("", false, prefix.Values{})
			lr.b.addEmpty(p, b.Seq, b.Arrival, now)
		}
		pins := a.pinsOf(lr.Name, b.Seq)
		asWhole := skip == nil && len(pins) == 0 // a message split between buffers lists its records
		n := 0
		for i, r := range b.Records {
			id := identity(i, "")
			if skip[id] {
				continue
			}
			if pn := pinFor(pins, b.Seq, id); pn != nil {
				lr.b.add(a.pinBuffer(lr, pn), b.Seq, false, id, r, b.ArrivalAt(i), now)
				n++
				continue
			}
			if p == nil {
				p = lr.b.open("", false, prefix.Values{})
			}
			lr.b.add(p, b.Seq, asWhole, id, r, b.ArrivalAt(i), now)
			n++
		}
		a.led.Hold(lr.Name, b.Seq, n)
		a.led.Routed(lr.Name, b.Seq)
		a.sealPins(lr, b.Seq)
		a.checkFull(lr, p, b.Pending == 0)
	}
	a.submitReady(ctx, b.Pending == 0)
	return nil
}

// checkFull seals p when full, the leg's buffers when over their bound, and everything with
// zero buffering once the reader caught up.
func (a *actor) checkFull(lr *legRun, p *buffer, caughtUp bool) {
	if p != nil && lr.b.parts[p.id] == p && lr.b.full(p) {
		a.seal(lr, p)
	}
	for q := lr.b.over(); q != nil; q = lr.b.over() {
		a.seal(lr, q)
	}
	if lr.Interval == 0 && caughtUp {
		for _, q := range lr.b.sorted() {
			if q.key == "" {
				a.seal(lr, q)
			}
		}
	}
}

// submitReady hands gathered messages to the processing stage: at once without a Lambda, by
// the Lambda's size and interval hints with one.
func (a *actor) submitReady(ctx context.Context, caughtUp bool) {
	now := a.d.Clock.Now()
	for _, lr := range a.legs {
		if len(lr.gather) == 0 {
			continue
		}
		force := a.flushArmed() || (lr.Interval == 0 && caughtUp)
		if lr.lambdaLimit > 0 && !force && lr.gatherBytes < lr.lambdaLimit && now.Before(lr.gatherSince.Add(lr.lambdaWait)) {
			continue
		}
		if a.procInFlight >= maxProcInFlight {
			continue
		}
		a.submit(ctx, lr, caughtUp)
	}
}

func (a *actor) submit(ctx context.Context, lr *legRun, caughtUp bool) {
	msgs := lr.gather
	if lr.lambdaLimit > 0 { // one invocation's worth; the rest waits for the next job
		n, size := 0, 0
		for n < len(msgs) {
			s := lr.cost(msgs[n].b)
			if n > 0 && size+s > lr.lambdaLimit {
				break
			}
			size += s
			n++
		}
		msgs = msgs[:n]
	}
	lr.gather = lr.gather[len(msgs):]
	lr.gatherBytes = 0
	for _, m := range lr.gather {
		lr.gatherBytes += lr.cost(m.b)
	}
	if len(lr.gather) > 0 {
		lr.gatherSince = a.d.Clock.Now() // the rest waits at most one more interval
	} else {
		lr.gather = nil
	}
	job := &procJob{seqNo: a.procSeq, gen: a.gen, leg: lr, msgs: msgs, caughtUp: caughtUp && len(lr.gather) == 0}
	a.procSeq++
	a.procInFlight++
	sem, rec, stream, now := a.d.procSem, a.d.Metrics, a.stream, a.d.Clock.Now
	a.spawn(ctx, func(ctx context.Context) any {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return procResult{job: job, err: ctx.Err()}
		}
		defer func() { <-sem }()
		return process(ctx, job, rec, stream, now)
	})
}

// onProcessed routes the outputs of processing jobs, in submission order.
func (a *actor) onProcessed(r procResult) error {
	a.procInFlight--
	if r.job.gen != a.gen {
		return nil
	}
	if r.err != nil {
		return r.err
	}
	a.procWait[r.job.seqNo] = r
	for {
		next, ok := a.procWait[a.procNext]
		if !ok {
			return nil
		}
		delete(a.procWait, a.procNext)
		a.procNext++
		a.route(next)
	}
}

// route appends a job's outputs to their partition buffers and failures to the error output.
func (a *actor) route(r procResult) {
	lr := r.job.leg
	now := a.d.Clock.Now()
	held := map[uint64]int{}
	var touched []*buffer
	for _, o := range r.out {
		if lr.Dynamic && !lr.b.has(o.part) && lr.b.partitions() >= lr.MaxPartitions {
			lr.exceededHits++
			msg := fmt.Sprintf("The number of active partitions exceeds the limit of %d.", lr.MaxPartitions)
			doc := processor.ErrorDocument(processor.Failure{Raw: processor.Record{Data: o.data, Arrival: o.arrival, ID: journal.RecordID(a.nonce, o.seq, int(o.ident>>subBits))},
				Code: codePartitionLimit, Message: msg, Attempts: 1, At: now})
			r.failed = append(r.failed, failedRec{seq: o.seq, ident: o.ident, doc: doc, typ: processor.OutputProcessingFailed,
				kind: "partitioning", code: codePartitionLimit, message: msg, arrival: o.arrival, at: now})
			continue
		}
		var p *buffer
		if pn := pinFor(a.pinsOf(lr.Name, o.seq), o.seq, o.ident); pn != nil {
			p = a.pinBuffer(lr, pn)
		} else {
			p = lr.b.open(o.part, false, o.values)
		}
		lr.b.add(p, o.seq, false, o.ident, o.data, o.arrival, now)
		held[o.seq]++
		touched = append(touched, p)
	}
	for _, f := range r.failed {
		a.d.Logger.Warn("record failed processing; sent to the error output", "stream", a.stream, "leg", lr.Name, "code", f.code, "message", f.message)
		a.status.recordFailure(lr.Name, f.kind, f.code, f.message, f.at)
		p := lr.b.open("error:"+f.typ, true, prefix.Values{ErrorOutputType: f.typ})
		lr.b.add(p, f.seq, false, f.ident, f.doc, f.arrival, now)
		held[f.seq]++
		touched = append(touched, p)
	}
	for _, m := range r.job.msgs {
		a.led.Hold(lr.Name, m.b.Seq, held[m.b.Seq])
		a.led.Routed(lr.Name, m.b.Seq)
	}
	if n := len(r.job.msgs); n > 0 {
		a.sealPins(lr, r.job.msgs[n-1].b.Seq)
	}
	seen := map[*buffer]bool{}
	for _, p := range touched {
		if seen[p] {
			continue
		}
		seen[p] = true
		a.checkFull(lr, p, false)
	}
	a.checkFull(lr, nil, r.job.caughtUp)
}

// seal closes a buffer as an object with its key; its intent is saved before it is written.
func (a *actor) seal(lr *legRun, p *buffer) {
	lr.b.take(p)
	if len(p.ends) == 0 {
		// Only empty messages: nothing to write, they are settled as they are.
		for _, r := range p.runs {
			a.led.Release(lr.Name, r.Seq, r.N)
		}
		lr.b.reuse(p.data)
		return
	}
	if p.z != nil {
		// Compressed while it filled: its last chunk is compressed now (no longer than a
		// chunk while filling), so that the object waits for its write holding only
		// compressed bytes, and its records' buffer serves the next one at once.
		if k, err := a.kits.get(compress.Gzip); err == nil {
			_, _ = p.finish(k.blocks) // a failure stays in p: the write fails the object
			a.kits.put(compress.Gzip, k)
			lr.b.reuse(p.data)
			p.data = nil
		}
	}
	key, err := a.key(lr, p)
	id := a.led.Seal(lr.Name, objectBucket(&lr.LegSpec, p), key, p.runs)
	o := &object{id: id, leg: lr, gen: a.gen, key: key, buf: p, mem: p.held(), pin: a.pins.get(p.key)}
	a.unwritten += p.size()
	a.unwrittenMem += o.mem
	if err != nil {
		a.failObject(o, "InvalidObject", fmt.Errorf("build object key: %w", err), 1)
		return
	}
	a.sealed = append(a.sealed, o)
}

// key returns the object key of a buffer:
// <prefix><stream>-<version>-yyyy-MM-dd-HH-mm-ss-<uuid><extension>, with the prefix and time
// evaluated at the arrival of the buffer's oldest record.
func (a *actor) key(lr *legRun, p *buffer) (string, error) {
	if endpointBatch(&lr.LegSpec, p) { // a batch's key is its request id
		if p.key != "" {
			return p.key, nil
		}
		return uuid.NewString(), nil
	}
	expr := lr.Prefix
	if p.errorOut {
		expr = lr.ErrorPrefix
	}
	if expr == nil {
		return "", errors.New("the leg has no error output prefix")
	}
	t := p.oldest
	if t.IsZero() {
		t = a.d.Clock.Now()
	}
	v := p.values
	v.Time, v.Location = t, lr.Location
	pfx, err := expr.Eval(v)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%s%s-%d-%s-%s%s", pfx, a.stream, a.spec.Version, prefix.ObjectTime(t, lr.Location), uuid.NewString(), lr.Extension), nil
}

// failObject handles an object that can never be written: its records go to the error output
// of the leg of the same name in the current spec, or, when the object is an error output or
// there is no error output, are dropped and counted.
func (a *actor) failObject(o *object, code string, cause error, attempts int) {
	p := o.buf
	if o.pin != nil {
		a.pins.remove(o.pin.key)
	}
	typ, docCode := processor.OutputProcessingFailed, "S3."+code
	batch := endpointBatch(&o.leg.LegSpec, p)
	if batch {
		typ, docCode = OutputHTTPEndpointFailed, code
	}
	a.uncount(o)
	now := a.d.Clock.Now()
	var cur *legRun
	for _, lr := range a.legs {
		if lr.Name == o.leg.Name {
			cur = lr
		}
	}
	if p.z != nil && !p.errorOut && cur != nil && cur.ErrorPrefix != nil {
		if err := p.inflate(a.kits); err != nil { // the records are in the object only
			cause, cur = fmt.Errorf("%w (and %w)", cause, err), nil
		}
	}
	if p.errorOut || cur == nil || cur.ErrorPrefix == nil {
		a.d.Logger.Error("object can never be written; its records are dropped", "stream", a.stream, "leg", o.leg.Name,
			"key", o.key, "records", p.records(), "code", code, "err", cause)
		a.d.Metrics.Record(a.stream, "DroppedRecords", metrics.UnitCount, float64(p.records()))
		a.status.recordFailure(o.leg.Name, "dropped", code, fmt.Sprintf("%d records dropped: %v", p.records(), cause), now)
		a.led.Drop(o.id)
		return
	}
	a.d.Logger.Error("object can never be written; its records go to the error output", "stream", a.stream, "leg", cur.Name,
		"key", o.key, "records", p.records(), "code", code, "err", cause)
	a.status.recordFailure(cur.Name, "delivery", docCode, fmt.Sprintf("%d records sent to the error output: %v", p.records(), cause), now)
	e := cur.b.open("error:"+typ, true, prefix.Values{ErrorOutputType: typ})
	i := 0
	for ri, r := range p.runs {
		for k := range r.N {
			ident := identity(k, "")
			if !r.Whole {
				ident = r.IDs[k]
			}
			f := processor.Failure{
				Raw:  processor.Record{Data: p.record(i), Arrival: p.arrivals[ri], ID: a.recordID(r.Seq, ident)},
				Code: docCode, Message: cause.Error(), Attempts: 1, At: now,
			}
			if batch {
				f.Message, f.Attempts = errorMessage(cause), attempts
				f.Delivery = &processor.DeliveryFailure{Subsequence: subsequence(ident), DataID: f.Raw.ID}
			}
			doc := processor.ErrorDocument(f)
			cur.b.add(e, r.Seq, false, ident, doc, p.arrivals[ri], now)
			i++
		}
		a.led.Hold(cur.Name, r.Seq, r.N)
	}
	a.led.Drop(o.id)
	a.checkFull(cur, e, false)
}

// step runs after every event: it saves intents, starts writes, submits processing, seals for
// flushes, saves progress, answers flushes and arms the timer.
func (a *actor) step(ctx context.Context) {
	if a.flushArmed() {
		a.submitReady(ctx, false)
		up := a.flushTarget()
		for _, lr := range a.legs {
			if len(lr.gather) > 0 || a.procInFlight > 0 {
				continue
			}
			a.sealPins(lr, a.lastRead)
			for _, p := range lr.b.sorted() {
				if p.key == "" && p.runs[0].Seq <= up {
					a.seal(lr, p)
				}
			}
		}
	} else if a.procInFlight < maxProcInFlight {
		a.submitReady(ctx, false)
	}
	a.saveIntents(ctx)
	a.startWrites(ctx)
	if a.led.Advance() {
		a.stateDirty = true
	}
	a.saveState(ctx)
	a.answerFlushes()
	a.arm()
	a.publish(false)
}

// flushArmed reports whether a flush waits and every message it needs has been read.
func (a *actor) flushArmed() bool {
	for _, f := range a.flushes {
		if a.lastRead >= f.upTo {
			return true
		}
	}
	return false
}

// flushTarget is the highest upTo of the armed flushes.
func (a *actor) flushTarget() uint64 {
	up := uint64(0)
	for _, f := range a.flushes {
		if a.lastRead >= f.upTo {
			up = max(up, f.upTo)
		}
	}
	return up
}

// answerFlushes answers the flushes whose messages are all settled by every leg.
func (a *actor) answerFlushes() {
	if len(a.flushes) == 0 {
		return
	}
	keep := a.flushes[:0]
	for _, f := range a.flushes {
		if a.st.Cursor > f.upTo { // delivered, and the progress saved
			a.publish(true)
			f.done <- nil
			continue
		}
		keep = append(keep, f)
	}
	a.flushes = keep
}

// saveIntents saves the intents of sealed objects, one batch save at a time.
func (a *actor) saveIntents(ctx context.Context) {
	if a.savingObjs != nil || len(a.sealed) == 0 {
		return
	}
	objs := a.sealed
	a.sealed = nil
	a.savingObjs = objs
	ios := make([]intentObject, len(objs))
	for i, o := range objs {
		ios[i] = intentObject{Leg: o.leg.Name, Bucket: objectBucket(&o.leg.LegSpec, o.buf), Key: o.key, Runs: o.buf.runs}
	}
	batches := encodeIntents(ios)
	// Each batch holds a run of whole objects, in order; split objs the same way.
	var groups [][]*object
	rest := objs
	for _, b := range batches {
		n := intentCount(b)
		groups = append(groups, rest[:n])
		rest = rest[n:]
	}
	slots := make([]int, len(batches))
	for i := range batches {
		slots[i] = a.led.FreeSlot()
		a.led.Reserve(slots[i])
	}
	a.spawn(ctx, func(ctx context.Context) any {
		err := a.retry(ctx, "save flush intents", func() error {
			for i, b := range batches {
				if err := a.d.State.SaveIntent(ctx, a.stream, slots[i], b); err != nil {
					return err
				}
			}
			return nil
		})
		return intentsSaved{slots: slots, objs: groups, err: err}
	})
}

// intentCount reads the object count of an encoded batch.
func intentCount(b []byte) int {
	d := decoder{b: b[1:]}
	return int(d.uvarint())
}

// onResult handles what a goroutine of the actor reports.
func (a *actor) onResult(ctx context.Context, r any) error {
	switch r := r.(type) {
	case recovered:
		return a.onRecovered(ctx, r)
	case procResult:
		return a.onProcessed(r)
	case intentsSaved:
		a.savingObjs = nil
		if r.err != nil {
			return fmt.Errorf("save flush intents: %w", r.err)
		}
		for i, slot := range r.slots {
			ids := make([]uint64, 0, len(r.objs[i]))
			for _, o := range r.objs[i] {
				ids = append(ids, o.id)
			}
			a.led.Intended(slot, ids)
			for _, o := range r.objs[i] {
				if o.gen != a.gen { // dropped by a configuration change while its intent was saved
					continue
				}
				a.queue = append(a.queue, o)
			}
		}
	case writeDone:
		o := r.o
		delete(a.writing, o.id)
		switch {
		case r.err == nil:
			a.uncount(o)
			a.led.Written(o.id)
			a.delivered(o, r.stored)
			o.leg.b.reuse(o.buf.data)
			if o.pin != nil {
				a.pins.remove(o.pin.key)
			}
		case r.permanent:
			a.failObject(o, ErrorCode(r.err), r.err, max(r.attempts, 1))
		case ctx.Err() != nil: // cancelled with the actor
			return nil
		default:
			return fmt.Errorf("write %s: %w", o.key, r.err)
		}
	case stateSaved:
		a.savingState = false
		if r.err != nil {
			return fmt.Errorf("save delivery progress: %w", r.err)
		}
		a.st = r.st
		a.sv = r.marks
		a.led.Collect(a.sv)
	}
	return nil
}

// delivered counts a written object.
func (a *actor) delivered(o *object, stored int) {
	lr, p := o.leg, o.buf
	// An endpoint batch shows with no bucket and its request id as its key.
	a.status.delivered(lr.Name, objectBucket(&lr.LegSpec, p), p.errorOut, o.key, p.size(), p.records(), stored, a.d.Clock.Now())
	if !p.errorOut && p.records() > 0 {
		name := lr.metricPrefix()
		a.d.Metrics.Record(a.stream, name+".Bytes", metrics.UnitBytes, float64(p.size()))
		a.d.Metrics.Record(a.stream, name+".Records", metrics.UnitCount, float64(p.records()))
		if name == "DeliveryToS3" {
			a.d.Metrics.Record(a.stream, name+".ObjectCount", metrics.UnitCount, 1)
		}
	}
}

// saveState saves the settled marks and cursor when they moved, one save at a time, then trims
// the journal below the cursor.
func (a *actor) saveState(ctx context.Context) {
	if a.savingState || !a.stateDirty {
		return
	}
	a.stateDirty = false
	a.savingState = true
	marks := a.led.Marks()
	data, err := json.Marshal(progress{V: 2, Settled: marks})
	if err != nil {
		panic(err) // a map of strings to numbers always encodes
	}
	next := a.st
	next.Cursor, next.Intent, next.Data = a.led.Cursor(), nil, data
	a.spawn(ctx, func(ctx context.Context) any {
		var st journal.State
		err := a.retry(ctx, "save delivery progress", func() error {
			var err error
			st, err = a.d.State.SaveState(ctx, a.stream, next)
			return err
		})
		if err == nil {
			if err := a.d.State.Trim(ctx, a.stream, st.Cursor); err != nil && ctx.Err() == nil {
				a.d.Logger.Warn("trim journal", "stream", a.stream, "err", err)
			}
		}
		return stateSaved{st: st, marks: marks, err: err}
	})
}

// onTimer seals the buffers whose interval passed and submits gathered messages that waited
// long enough.
func (a *actor) onTimer(ctx context.Context) {
	now := a.d.Clock.Now()
	for _, lr := range a.legs {
		if lr.Interval > 0 {
			for _, p := range lr.b.due(now) {
				a.seal(lr, p)
			}
		}
	}
	a.submitReady(ctx, false)
}

// arm sets the timer to the next buffer deadline or Lambda gathering deadline.
func (a *actor) arm() {
	var next time.Time
	for _, lr := range a.legs {
		if lr.Interval > 0 {
			if t := lr.b.next(); !t.IsZero() && (next.IsZero() || t.Before(next)) {
				next = t
			}
		}
		if len(lr.gather) > 0 && lr.lambdaLimit > 0 {
			if t := lr.gatherSince.Add(lr.lambdaWait); next.IsZero() || t.Before(next) {
				next = t
			}
		}
	}
	if a.timer != nil {
		a.timer.Stop()
		a.timer = nil
	}
	if !next.IsZero() {
		a.timer = a.d.Clock.NewTimer(max(next.Sub(a.d.Clock.Now()), 0))
	}
}

// publish updates the status snapshot read by the API and metrics.
func (a *actor) publish(force bool) {
	now := time.Now()
	if !force && now.Sub(a.lastPublish) < publishEvery {
		if a.refresh == nil {
			a.refresh = time.NewTimer(publishEvery - now.Sub(a.lastPublish))
		}
		return
	}
	a.lastPublish = now
	for _, lr := range a.legs {
		bytes, records := 0, 0
		var oldest time.Time
		note := func(p *buffer) {
			bytes += p.size()
			records += p.records()
			if !p.oldest.IsZero() && (oldest.IsZero() || p.oldest.Before(oldest)) {
				oldest = p.oldest
			}
		}
		for _, p := range lr.b.parts {
			note(p)
		}
		for _, o := range slices.Concat(a.sealed, a.savingObjs, a.queue) {
			if o.leg == lr {
				note(o.buf)
			}
		}
		for _, o := range a.writing {
			if o.leg.Name == lr.Name {
				note(o.buf)
			}
		}
		a.status.buffered(lr.Name, bytes, records, oldest, lr.b.partitions(), lr.exceededHits)
	}
}
