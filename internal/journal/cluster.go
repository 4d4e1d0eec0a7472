package journal

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// serverName is the embedded server's name: the node's in a cluster.
func serverName(c ClusterConfig) string {
	if c.Clustered() {
		return c.Node
	}
	return "hydrant"
}

// Clustered reports whether the journal is part of a cluster of nodes.
func (j *Journal) Clustered() bool { return j.cfg.Cluster.Clustered() }

// Node returns the node's name ("hydrant" alone).
func (j *Journal) Node() string { return serverName(j.cfg.Cluster) }

// placed runs create, which creates or updates a JetStream asset, until it succeeds. On one node
// it runs once. In a cluster an asset is placed only once the meta leader knows enough current
// peers, so "no suitable peers", a missing meta leader and timeouts are retried until
// Cluster.Wait has passed (docs/design/cluster.md, "Start-up").
func (j *Journal) placed(ctx context.Context, what string, create func(context.Context) error) error {
	if !j.Clustered() {
		if err := create(ctx); err != nil {
			return fmt.Errorf("open %s: %w", what, err)
		}
		return nil
	}
	deadline := time.Now().Add(j.cfg.Cluster.Wait)
	wait, attempt := 50*time.Millisecond, placeAttempt
	for {
		// Short attempts: when several nodes create one asset at once the meta leader may
		// answer only one of them, and the others learn it exists on their next attempt.
		cctx, cancel := context.WithTimeout(ctx, attempt)
		attempt = min(2*attempt, 4*time.Second)
		err := create(cctx)
		cancel()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("open %s: %w", what, ctx.Err())
		}
		if !placementPending(err) || time.Now().After(deadline) {
			return fmt.Errorf("open %s with %d replicas: %w", what, j.replicas(), err)
		}
		j.log.Debug("journal waits for the cluster", "asset", what, "err", err)
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return fmt.Errorf("open %s: %w", what, ctx.Err())
		}
		wait = min(2*wait, time.Second)
	}
}

// placeAttempt bounds the first attempt to create or update a JetStream asset in a cluster (an
// R3 stream is placed in about 70 ms on a healthy cluster); later attempts double it, to 4 s.
// Measured on three processes on loopback: the first attempt of nearly every asset gets no
// answer when the nodes create it at once, and the next one finds it created.
const placeAttempt = 250 * time.Millisecond

// placementPending reports the errors of a cluster that is still forming.
func placementPending(err error) bool {
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		switch apiErr.ErrorCode {
		case 10005 /* no suitable peers */, 10008 /* temporarily unavailable */, 10009 /* not leader */, 10023 /* insufficient resources */ :
			return true
		}
		return strings.Contains(apiErr.Description, "peers") || strings.Contains(apiErr.Description, "leader")
	}
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) ||
		errors.Is(err, nats.ErrNoResponders) || errors.Is(err, jetstream.ErrJetStreamNotEnabled) ||
		strings.Contains(err.Error(), "no responders") || strings.Contains(err.Error(), "peers")
}
