package source

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/hydrant-dev/hydrant/internal/journal"
	"github.com/hydrant-dev/hydrant/internal/metrics"
)

// MaxAppendBytes bounds the records a reader gives one Append, well within the journal's
// message size (8 MiB by default), so that a message always fits with its position.
const MaxAppendBytes = 4 << 20

// Journal is what a reader needs of the journal: positioned appends and the last position.
type Journal interface {
	AppendPositioned(ctx context.Context, stream string, puts []journal.Put, position []byte) (journal.Position, error)
	LastPosition(ctx context.Context, stream string) ([]byte, error)
}

// Copies keeps each stream's latest position outside its journal subject, for the day its
// last message expired from the journal (journal.KV, bucket hydrant_sources).
type Copies interface {
	Get(ctx context.Context, key string) ([]byte, error)
	Put(ctx context.Context, key string, value []byte) error
}

// Recorder receives the reader's metrics (the metric store).
type Recorder interface {
	Record(stream, name string, unit metrics.Unit, v float64)
}

// Record is one record read from a source, with the time the source received it.
type Record struct {
	Data    []byte
	Arrival time.Time
}

// Writer appends what a reader read, with the position after it, to one delivery stream's
// journal, and finds the position to resume from. It is used by one reader goroutine.
type Writer struct {
	j       Journal
	copies  Copies
	stream  string
	created int64 // the delivery stream's creation, unix ms: a copy of another incarnation is ignored
	log     *slog.Logger
	puts    []journal.Put
}

// NewWriter returns the Writer of the delivery stream stream, created at created.
func NewWriter(j Journal, copies Copies, stream string, created time.Time, log *slog.Logger) *Writer {
	return &Writer{j: j, copies: copies, stream: stream, created: created.UnixMilli(), log: log}
}

// Load returns the position to resume reading source from: the journal's last message's, else
// the saved copy, else an empty position of source (start from the beginning of the stream's
// life). A position of another source is ignored, and logged.
func (w *Writer) Load(ctx context.Context, source string) (Position, error) {
	b, err := w.j.LastPosition(ctx, w.stream)
	if err != nil {
		return Position{}, err
	}
	from := "journal"
	if b == nil && w.copies != nil {
		from = "copy"
		c, err := w.copies.Get(ctx, w.stream)
		switch {
		case errors.Is(err, journal.ErrNotFound):
		case err != nil:
			return Position{}, err
		case len(c) >= 8 && int64(binary.BigEndian.Uint64(c)) == w.created:
			b = c[8:]
		}
	}
	if b == nil {
		return Position{Source: source}, nil
	}
	p, err := ParsePosition(b)
	if err != nil {
		return Position{}, fmt.Errorf("position of %s from the %s: %w", w.stream, from, err)
	}
	if p.Source != source {
		w.log.Warn("saved source position is of another source; reading from the start", "stream", w.stream,
			"saved", p.Source, "source", source)
		return Position{Source: source}, nil
	}
	return p, nil
}

// Append stores records and the position after them in one journal message. Records keep their
// arrival times (consecutive records with the same millisecond share a put). An error means the
// outcome may be unknown: the caller must Load again before it appends more.
func (w *Writer) Append(ctx context.Context, records []Record, pos Position) error {
	w.puts = w.puts[:0]
	for _, r := range records {
		n := len(w.puts)
		if n > 0 && w.puts[n-1].Arrival.UnixMilli() == r.Arrival.UnixMilli() {
			w.puts[n-1].Records = append(w.puts[n-1].Records, r.Data)
			continue
		}
		w.puts = append(w.puts, journal.Put{Arrival: r.Arrival, Records: [][]byte{r.Data}})
	}
	if len(w.puts) == 0 {
		w.puts = append(w.puts, journal.Put{Arrival: time.Now()}) // a position without records
	}
	b := pos.Marshal()
	_, err := w.j.AppendPositioned(ctx, w.stream, w.puts, b)
	clear(w.puts)
	if err != nil {
		return err
	}
	if w.copies != nil {
		c := binary.BigEndian.AppendUint64(make([]byte, 0, 8+len(b)), uint64(w.created))
		if err := w.copies.Put(ctx, w.stream, append(c, b...)); err != nil {
			// The journal holds the position; the copy only matters once it expired there.
			w.log.Warn("save copy of source position", "stream", w.stream, "err", err)
		}
	}
	return nil
}
