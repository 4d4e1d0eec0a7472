package server

import (
	"os"
	"runtime/debug"

	"github.com/hydrant-dev/hydrant/internal/console"
)

// memoryLimitHeadroom is what the Go runtime's soft memory limit allows beyond the memory
// budget: the runtime's own overhead, the embedded JetStream server's caches, goroutine stacks
// and garbage not yet collected (docs/design/memory.md, "The Go runtime's limit").
const memoryLimitHeadroom = 96 << 20

// setMemoryLimit sets the Go runtime's soft memory limit to the budget plus
// memoryLimitHeadroom, unless GOMEMLIMIT is set, and returns the function that restores the
// limit there was.
func (s *Server) setMemoryLimit() (restore func()) {
	if os.Getenv("GOMEMLIMIT") != "" {
		return func() {}
	}
	limit := s.cfg.MemoryBudget + memoryLimitHeadroom
	prev := debug.SetMemoryLimit(limit)
	s.log.Debug("go memory limit set", "bytes", limit)
	return func() { debug.SetMemoryLimit(prev) }
}

// memoryGauges exposes the memory budget in the Prometheus exposition (docs/design/metrics.md,
// "Memory budget").
func (s *Server) memoryGauges() {
	gauge := gauges(s, s.memory)
	gauge("hydrant_memory_budget_bytes", "Bytes that request bodies, decoded batches, delivery buffers and journal read-ahead may hold together.",
		func(m console.MemoryBudget) int64 { return m.LimitBytes })
	gauge("hydrant_memory_budget_used_bytes", "Bytes of the memory budget held now.",
		func(m console.MemoryBudget) int64 { return m.UsedBytes })
	gauge("hydrant_memory_budget_peak_bytes", "Most bytes of the memory budget held at once since the start.",
		func(m console.MemoryBudget) int64 { return m.PeakBytes })
	gauge("hydrant_memory_budget_refusals", "Acquires the memory budget refused since the start: requests, journal readers and delivery buffers.",
		func(m console.MemoryBudget) int64 { return m.Refusals })
	gauge("hydrant_memory_budget_refused_requests", "API requests answered ServiceUnavailableException \"Slow down.\" for lack of memory budget since the start.",
		func(m console.MemoryBudget) int64 { return m.RefusedRequests })
}

// memory is the memory budget as the console and the metrics show it.
func (s *Server) memory() console.MemoryBudget {
	st := s.budget.Stats()
	m := console.MemoryBudget{LimitBytes: st.Limit, UsedBytes: st.Used, PeakBytes: st.Peak, Refusals: st.Refused}
	if s.api != nil {
		m.RefusedRequests = s.api.Refused()
	}
	return m
}
