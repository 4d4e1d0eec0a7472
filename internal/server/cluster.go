package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hydrant-dev/hydrant/internal/api"
	"github.com/hydrant-dev/hydrant/internal/lease"
	"github.com/hydrant-dev/hydrant/internal/source"
)

// Buckets of a cluster's membership and delivery leases (docs/design/cluster.md).
const (
	nodesBucket  = "hydrant_nodes"
	leasesBucket = "hydrant_leases"
)

// newLeases opens the membership and lease buckets and creates the lease manager of a
// clustered node (it runs with runLeases).
func (s *Server) newLeases(ctx context.Context, addr string) error {
	cfg := lease.Config{Node: s.journal.Node(), Addr: addr}.WithDefaults()
	nodes, err := s.journal.KVWithTTL(ctx, nodesBucket, cfg.TTL)
	if err != nil {
		return err
	}
	// No TTL: a lease lasts as long as its node's heartbeat (lease package doc). Opening the
	// bucket of an earlier version drops its TTL.
	leases, err := s.journal.KV(ctx, leasesBucket)
	if err != nil {
		return err
	}
	m, err := lease.New(cfg, nodes, leases, s.log.With("part", "lease"))
	if err != nil {
		return err
	}
	s.leases = m
	return nil
}

// runLeases runs the lease manager until ctx ends; the function it returns waits until the
// manager has released this node's leases (so that the others take them over at once).
func (s *Server) runLeases(ctx context.Context) func() {
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := s.leases.Run(ctx, s.ownableStreams, leaseHandler{s}); err != nil {
			s.log.Error("lease manager stopped", "err", err)
		}
	}()
	return func() { <-done }
}

// ownableStreams are the streams some node must look after: the active ones, whose delivery it
// runs, and those in a transition (CREATING, DELETING), which it finishes if the node that took
// the request dies first.
func (s *Server) ownableStreams() []string {
	var names []string
	for _, st := range s.cat.List() {
		switch api.DeliveryStreamStatus(st.Status) {
		case api.StatusActive, api.StatusCreating, api.StatusDeleting:
			names = append(names, st.Name)
		}
	}
	return names
}

// leaseHandler starts and stops a stream's delivery and source reader as this node takes and
// loses its lease.
type leaseHandler struct{ s *Server }

// ownerTimeout bounds one attempt at starting, or stopping, one stream's worker.
const ownerTimeout = 30 * time.Second

// Back-off between attempts at starting a taken-over stream's delivery.
const (
	takeOverFirstRetry = 250 * time.Millisecond
	takeOverMaxRetry   = 10 * time.Second
)

// ownedRuns are the goroutines that start the delivery of the streams this node took over, by
// stream; Lost stops a stream's before it stops the delivery.
type ownedRuns struct {
	mu      sync.Mutex
	m       map[string]ownedRun
	retries atomic.Uint64 // failed attempts at starting a taken-over stream, since the start
}

type ownedRun struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// Acquired starts, in a goroutine, what this node must run for the stream it took the lease
// of. A start that fails (the cluster briefly unable to answer, as after a partition heals) is
// retried with back-off for as long as this node holds the lease: a node must not hold a
// stream's lease without delivering it.
func (h leaseHandler) Acquired(name string) {
	s := h.s
	ctx, cancel := context.WithCancel(s.runCtx)
	run := ownedRun{cancel: cancel, done: make(chan struct{})}
	s.owned.mu.Lock()
	if s.owned.m == nil {
		s.owned.m = map[string]ownedRun{}
	}
	s.owned.m[name] = run
	s.owned.mu.Unlock()
	go func() {
		defer close(run.done)
		wait := takeOverFirstRetry
		for attempt := 1; ; attempt++ {
			err := s.takeOver(ctx, name)
			if err == nil || ctx.Err() != nil {
				return
			}
			s.owned.retries.Add(1)
			s.log.Warn("take over delivery stream failed; retrying", "stream", name, "attempt", attempt, "retry_in", wait, "err", err)
			if source.Sleep(ctx, wait) != nil {
				return
			}
			wait = min(2*wait, takeOverMaxRetry)
		}
	}()
}

// takeOver starts the delivery and source reader of a stream this node took the lease of, or
// finishes its transition. An error is worth another attempt.
func (s *Server) takeOver(parent context.Context, name string) error {
	ctx, cancel := context.WithTimeout(parent, ownerTimeout)
	defer cancel()
	st, err := s.cat.Get(name)
	if err != nil {
		return nil // deleted meanwhile: the next round releases it
	}
	switch api.DeliveryStreamStatus(st.Status) {
	case api.StatusCreating:
		// The node that took the request may have died before it finished: finish it here
		// (both finishing at once is harmless: activation is idempotent and the status change
		// a compare-and-set). Activation starts delivery, as this node holds the lease.
		s.log.Info("finishing the creation of a delivery stream", "stream", name, "node", s.journal.Node())
		s.svc.finishCreate(ctx, st)
		return nil
	case api.StatusDeleting:
		s.log.Info("finishing the deletion of a delivery stream", "stream", name, "node", s.journal.Node())
		s.svc.finishDelete(ctx, name)
		return nil
	case api.StatusActive:
	default:
		return nil
	}
	spec, ok, err := s.specFor(st)
	if err != nil { // the configuration cannot be delivered: no attempt will change that
		s.log.Error("take over delivery stream", "stream", name, "err", err)
		return nil
	}
	if err := s.journal.CreateStream(ctx, name); err != nil {
		return err
	}
	if err := s.deliver(ctx, st, spec, ok); err != nil {
		return err
	}
	if err := s.startSource(st); err != nil {
		return fmt.Errorf("start source reader: %w", err)
	}
	s.log.Info("delivery stream taken over", "stream", name, "node", s.journal.Node())
	return nil
}

func (h leaseHandler) Lost(name string) {
	s := h.s
	s.owned.mu.Lock()
	run, ok := s.owned.m[name]
	delete(s.owned.m, name)
	s.owned.mu.Unlock()
	if ok {
		run.cancel()
		<-run.done
	}
	ctx, cancel := context.WithTimeout(context.Background(), ownerTimeout)
	defer cancel()
	if err := s.stopSource(ctx, name); err != nil {
		s.log.Error("stop source reader", "stream", name, "err", err)
	}
	if err := s.deliveries.Release(ctx, name); err != nil && !errors.Is(err, context.Canceled) {
		s.log.Error("release delivery stream", "stream", name, "err", err)
	}
	s.log.Info("delivery stream handed over", "stream", name, "node", s.journal.Node())
}

// reconfigureOwned applies a changed stream (seen through the catalog's watch) when this node
// delivers it: a new configuration, or a deletion another node was asked for (this node stops
// the delivery and finishes the deletion too, so that it completes even if that node dies).
func (s *Server) reconfigureOwned(name string) {
	if s.leases == nil || !s.leases.Owns(name) {
		return
	}
	st, err := s.cat.Get(name)
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(s.runCtx, ownerTimeout)
	defer cancel()
	switch api.DeliveryStreamStatus(st.Status) {
	case api.StatusDeleting:
		s.svc.finishDelete(ctx, name)
		return
	case api.StatusActive:
	default:
		return
	}
	if err := s.reconfigure(ctx, st); err != nil {
		s.log.Error("apply changed delivery stream", "stream", name, "err", err)
	}
}

// forwardToOwner sends a per-stream admin request (flush, delivery or source status) to the node
// that delivers the stream, when that is another node, copying its answer; it reports whether it
// did. A request already forwarded is served here.
func (s *Server) forwardToOwner(w http.ResponseWriter, r *http.Request, name string) bool {
	if s.leases == nil || name == "" || s.leases.Owns(name) || r.Header.Get(forwardedHeader) != "" {
		return false
	}
	owner, live := s.leases.Owner(name)
	if !live {
		return false
	}
	nodes := s.leases.Nodes()
	i := slices.IndexFunc(nodes, func(n lease.NodeStatus) bool { return n.Name == owner })
	if i < 0 || nodes[i].Addr == "" {
		return false
	}
	scheme := "http"
	if s.certs != nil {
		scheme = "https"
	}
	u := url.URL{Scheme: scheme, Host: nodes[i].Addr, Path: r.URL.Path, RawQuery: r.URL.RawQuery}
	req, err := http.NewRequestWithContext(r.Context(), r.Method, u.String(), nil)
	if err != nil {
		return false
	}
	req.Header.Set(forwardedHeader, s.journal.Node())
	for _, h := range []string{"Authorization", "X-Amz-Date", "X-Amz-Security-Token", "X-Amz-Content-Sha256"} {
		if v := r.Header.Get(h); v != "" {
			req.Header.Set(h, v)
		}
	}
	resp, err := s.peerClient().Do(req)
	if err != nil {
		http.Error(w, fmt.Sprintf("forward to node %s: %v", owner, err), http.StatusBadGateway)
		return true
	}
	defer resp.Body.Close()
	w.Header().Set("Content-Type", resp.Header.Get("Content-Type"))
	w.Header().Set(forwardedHeader, owner)
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, resp.Body)
	return true
}

// forwardedHeader marks a request one node forwarded to another (and, on the answer, the node
// that served it).
const forwardedHeader = "X-Hydrant-Node"

func (s *Server) peerClient() *http.Client {
	return &http.Client{Timeout: 2 * time.Minute}
}

// handleClusterStatus reports the nodes, which node delivers which stream, and this node's view.
func (s *Server) handleClusterStatus(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	out := struct {
		Node      string        `json:"node"`
		Clustered bool          `json:"clustered"`
		Replicas  int           `json:"replicas"`
		Leases    *lease.Status `json:"leases,omitempty"`
	}{Node: s.journal.Node(), Clustered: s.journal.Clustered(), Replicas: s.cfg.Journal.Cluster.Replicas}
	if s.leases != nil {
		st := s.leases.Status()
		out.Leases = &st
	}
	_ = json.NewEncoder(w).Encode(out)
}
