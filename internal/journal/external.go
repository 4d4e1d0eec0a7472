package journal

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
)

// errRemoteStore is the space reading of a journal whose store is another process's: no local
// disk bounds its appends; the servers refuse what does not fit, and appends fail with ErrFull.
var errRemoteStore = errors.New("the store is on the NATS servers")

// usageEvery is how often a journal on an existing NATS reads its account's store usage.
const usageEvery = 5 * time.Second

// openExternal connects the journal to an existing NATS JetStream deployment (ClusterConfig.URL)
// and creates its assets there, with the configured replicas. Nothing is stored under Dir.
func openExternal(ctx context.Context, cfg Config, log *slog.Logger) (*Journal, error) {
	space, _ := newSpace(cfg, func(string) (fsStat, error) { return fsStat{}, errRemoteStore }, time.Now)
	j := newJournal(cfg, log, space)
	var usage atomic.Int64
	space.start(usage.Load)
	opts := append(j.connectOptions(),
		nats.MaxReconnects(-1), // a NATS server restarting is not the end of the journal
		nats.ReconnectWait(250*time.Millisecond),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("journal disconnected from NATS", "err", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) { log.Info("journal reconnected to NATS", "server", nc.ConnectedUrlRedacted()) }),
	)
	nc, err := nats.Connect(cfg.Cluster.URL, opts...)
	if err != nil {
		return nil, fmt.Errorf("connect to NATS at %s: %w", redactURLs(cfg.Cluster.URL), err)
	}
	j.nc = nc
	if err := j.open(ctx); err != nil {
		return nil, err
	}
	// The account's store usage, for Space (the console and /metrics), read in the background so
	// that no append waits for it.
	go func() {
		t := time.NewTicker(usageEvery)
		defer t.Stop()
		for {
			actx, cancel := context.WithTimeout(context.Background(), usageEvery)
			if info, err := j.js.AccountInfo(actx); err == nil {
				usage.Store(int64(info.Store))
			}
			cancel()
			select {
			case <-j.closed:
				return
			case <-t.C:
			}
		}
	}()
	return j, nil
}

// redactURLs returns the comma-separated URLs with their passwords hidden, for messages.
func redactURLs(urls string) string {
	parts := strings.Split(urls, ",")
	for i, p := range parts {
		if u, err := url.Parse(strings.TrimSpace(p)); err == nil {
			parts[i] = u.Redacted()
		}
	}
	return strings.Join(parts, ",")
}
