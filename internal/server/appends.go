package server

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hydrant-dev/hydrant/internal/journal"
	"github.com/hydrant-dev/hydrant/internal/lease"
	"github.com/hydrant-dev/hydrant/internal/metrics"
)

// In a cluster, a stream's puts are appended by one node, the one that delivers it: a node that
// takes a put for a stream another live node delivers sends the records there (docs/design/
// cluster.md, "One writer per stream"). Writers on several nodes would compete for each
// message's number in the stream.

// appendKind names the requests that carry a put to its stream's writer.
const appendKind = "append"

// maxForwardedAppends bounds the forwarded puts a node appends at once; one beyond it is
// answered "busy" and appended by the node that took it.
const maxForwardedAppends = 64

// forwardSlack is how much longer than the writer's own publish timeout a node waits for a
// forwarded put's answer: the writer answers a publish that timed out itself.
const forwardSlack = time.Second

// appendForwarding counts the puts a node sent to other nodes, by outcome, and remembers the writers
// that did not answer.
type appendForwarding struct {
	mu       sync.Mutex
	suspects map[string]time.Time // writer → until when this node appends its streams' puts itself

	forwarded atomic.Uint64 // appended by the stream's writer
	fellBack  atomic.Uint64 // the writer did not take it (busy, not listening): appended here
	failed    atomic.Uint64 // no answer or an error: refused to the client, which retries
	served    atomic.Uint64 // other nodes' puts this node appended
}

// appendRecords stores a put's records in the stream's journal: through the stream's writer
// when that is another live node, else here. The writer appends what it is sent even when it no
// longer delivers the stream: a single writer is for speed, the journal's numbering keeps two
// correct. A put the writer did not take is appended here
// (it was certainly not stored there); a put whose fate is unknown (no answer in time) fails.
func (s *Server) appendRecords(ctx context.Context, name string, arrival time.Time, records [][]byte) (journal.Position, error) {
	if writer := s.writerOf(name); writer != "" {
		actx, cancel := context.WithTimeout(ctx, s.cfg.Journal.PublishTimeout+forwardSlack)
		b, err := s.journal.Ask(actx, writer, appendKind, encodeAppend(name, arrival, records))
		cancel()
		if err == nil {
			var pos journal.Position
			if err = json.Unmarshal(b, &pos); err == nil {
				s.appends.forwarded.Add(1)
				return pos, nil
			}
		}
		switch {
		case errors.Is(err, journal.ErrPeerBusy), errors.Is(err, journal.ErrPeerAbsent):
			s.appends.fellBack.Add(1)
		case errors.Is(err, journal.ErrFull), errors.Is(err, journal.ErrNoStream):
			return journal.Position{}, err
		default:
			// No answer in time, or a failure of the writer's own: the put may or may not be
			// stored there (the client retries). Until the writer's lease could have expired, this
			// node appends the stream's puts itself rather than wait on a node that may be cut off;
			// the journal's numbering keeps the two writers correct.
			s.appends.failed.Add(1)
			s.appends.suspect(writer, s.now().Add(lease.DefaultTTL))
			return journal.Position{}, fmt.Errorf("append through node %s: %w", writer, err)
		}
	}
	return s.journal.Append(ctx, name, arrival, records)
}

// writerOf returns the node that appends the stream's puts when it is another live node, else
// "": the node that delivers the stream or, while none does (a new stream, a takeover), the
// node that will (the same rendezvous choice every node makes from the live nodes).
func (s *Server) writerOf(name string) string {
	if s.leases == nil || s.leases.Owns(name) {
		return ""
	}
	self := s.journal.Node()
	writer, live := s.leases.Owner(name)
	if !live {
		writer = lease.Preferred(append(s.livePeers(), self), name)
	}
	if writer == self || s.appends.suspected(writer, s.now()) {
		return ""
	}
	return writer
}

// suspect makes this node append the puts of writer's streams itself until until.
func (a *appendForwarding) suspect(writer string, until time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.suspects == nil {
		a.suspects = map[string]time.Time{}
	}
	a.suspects[writer] = until
}

// suspected reports whether writer did not answer a forwarded put recently.
func (a *appendForwarding) suspected(writer string, now time.Time) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	until, ok := a.suspects[writer]
	if ok && !now.Before(until) {
		delete(a.suspects, writer)
		return false
	}
	return ok
}

// serveAppends makes this node append the puts other nodes send it for the streams it delivers.
func (s *Server) serveAppends(ctx context.Context) error {
	s.metrics.Gauge("hydrant_cluster_forwarded_puts", "Puts this node sent to the node that writes their stream since the start, by outcome, and other nodes' puts it appended (served).", func() []metrics.Sample {
		return []metrics.Sample{
			{Labels: map[string]string{"result": "forwarded"}, Value: float64(s.appends.forwarded.Load())},
			{Labels: map[string]string{"result": "fell_back"}, Value: float64(s.appends.fellBack.Load())},
			{Labels: map[string]string{"result": "failed"}, Value: float64(s.appends.failed.Load())},
			{Labels: map[string]string{"result": "served"}, Value: float64(s.appends.served.Load())},
		}
	})
	return s.journal.Serve(ctx, appendKind, maxForwardedAppends, func(ctx context.Context, req []byte) ([]byte, error) {
		name, arrival, records, err := decodeAppend(req)
		if err != nil {
			return nil, err
		}
		if !s.budget.TryAcquire(int64(len(req))) {
			return nil, fmt.Errorf("memory budget: %w", journal.ErrPeerBusy)
		}
		defer s.budget.Release(int64(len(req)))
		pos, err := s.journal.Append(ctx, name, arrival, records)
		if err != nil {
			return nil, err
		}
		s.appends.served.Add(1)
		return json.Marshal(pos)
	})
}

// encodeAppend frames a forwarded put: arrival (Unix ns, 8 bytes), the stream name (2-byte
// length), the record count (4 bytes), then each record (4-byte length).
func encodeAppend(name string, arrival time.Time, records [][]byte) []byte {
	n := 8 + 2 + len(name) + 4
	for _, r := range records {
		n += 4 + len(r)
	}
	b := make([]byte, 0, n)
	b = binary.BigEndian.AppendUint64(b, uint64(arrival.UnixNano()))
	b = binary.BigEndian.AppendUint16(b, uint16(len(name)))
	b = append(b, name...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(records)))
	for _, r := range records {
		b = binary.BigEndian.AppendUint32(b, uint32(len(r)))
		b = append(b, r...)
	}
	return b
}

// errBadAppend reports a forwarded put that is not framed as encodeAppend frames it.
var errBadAppend = errors.New("malformed forwarded put")

// decodeAppend reads a forwarded put; the records alias b.
func decodeAppend(b []byte) (name string, arrival time.Time, records [][]byte, err error) {
	if len(b) < 14 {
		return "", time.Time{}, nil, errBadAppend
	}
	arrival = time.Unix(0, int64(binary.BigEndian.Uint64(b)))
	nl := int(binary.BigEndian.Uint16(b[8:]))
	b = b[10:]
	if len(b) < nl+4 {
		return "", time.Time{}, nil, errBadAppend
	}
	name, b = string(b[:nl]), b[nl:]
	count := binary.BigEndian.Uint32(b)
	b = b[4:]
	if uint64(count)*4 > uint64(len(b)) {
		return "", time.Time{}, nil, errBadAppend
	}
	records = make([][]byte, 0, count)
	for range count {
		if len(b) < 4 {
			return "", time.Time{}, nil, errBadAppend
		}
		l := binary.BigEndian.Uint32(b)
		if uint64(l) > uint64(len(b)-4) {
			return "", time.Time{}, nil, errBadAppend
		}
		records, b = append(records, b[4:4+l:4+l]), b[4+l:]
	}
	if len(b) != 0 || name == "" {
		return "", time.Time{}, nil, errBadAppend
	}
	return name, arrival, records, nil
}
