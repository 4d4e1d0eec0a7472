package server

import (
	"github.com/hydrant-dev/hydrant/internal/console"
	"github.com/hydrant-dev/hydrant/internal/metrics"
)

// journalGauges exposes the journal's room and use in the Prometheus exposition
// (docs/design/metrics.md, "Journal space").
func (s *Server) journalGauges() {
	gauge := gauges(s, s.journalSpace)
	gauge("hydrant_journal_store_bytes", "Bytes the journal holds: records, delivery state and catalog.",
		func(sp console.JournalSpace) int64 { return sp.StoreBytes })
	gauge("hydrant_journal_limit_bytes", "Journal bytes at which puts are refused (-1: unknown).",
		func(sp console.JournalSpace) int64 { return sp.LimitBytes })
	gauge("hydrant_journal_reserved_bytes", "Room kept for delivery state, intents and catalog.",
		func(sp console.JournalSpace) int64 { return sp.ReservedBytes })
	gauge("hydrant_journal_disk_bytes", "Size of the file system holding the journal.",
		func(sp console.JournalSpace) int64 { return sp.DiskBytes })
	gauge("hydrant_journal_disk_free_bytes", "Free bytes on the file system holding the journal.",
		func(sp console.JournalSpace) int64 { return sp.DiskFreeBytes })
	gauge("hydrant_journal_full", "1 while a put of 4 MiB would be refused for lack of room in the journal, else 0.",
		func(sp console.JournalSpace) int64 {
			if sp.Full {
				return 1
			}
			return 0
		})
	gauge("hydrant_journal_refused_puts", "Puts refused for lack of room in the journal since the start.",
		func(console.JournalSpace) int64 { return s.journal.Space().RefusedAppends })
}

// journalSpace is the journal's room as the console and the metrics show it.
func (s *Server) journalSpace() console.JournalSpace {
	sp := s.journal.Space()
	return console.JournalSpace{
		StoreBytes: sp.StoreBytes, LimitBytes: sp.LimitBytes, ReservedBytes: sp.ReservedBytes,
		DiskBytes: sp.DiskBytes, DiskFreeBytes: sp.DiskFreeBytes, Full: sp.Full,
	}
}

// gauges returns a function that registers a Prometheus gauge reading one field of the
// snapshot read takes at each scrape.
func gauges[T any](s *Server, read func() T) func(name, help string, v func(T) int64) {
	return func(name, help string, v func(T) int64) {
		s.metrics.Gauge(name, help, func() []metrics.Sample {
			return []metrics.Sample{{Value: float64(v(read()))}}
		})
	}
}
