package journal

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hydrant-dev/hydrant/internal/testenv"
)

// Two journals on an existing 3-server NATS cluster (nats-server processes, as an operator runs
// them): appends from both are numbered exactly, each wakes the other's waiters, nothing is
// stored under Dir, and the journals keep working while one NATS server is killed.
func TestExternalNATS(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three nats-server processes")
	}
	nc := testenv.StartNATSCluster(t, 3)
	var js []*Journal
	for i := range 2 {
		cfg := Config{Dir: t.TempDir(), PublishTimeout: 5 * time.Second,
			Cluster: ClusterConfig{Node: fmt.Sprintf("h%d", i+1), URL: nc.URLs(), Wait: 30 * time.Second}}
		j, err := Open(context.Background(), cfg, nil)
		if err != nil {
			t.Fatalf("open on the NATS cluster: %v", err)
		}
		t.Cleanup(func() { j.Close() })
		if got := j.replicas(); got != 3 {
			t.Errorf("replicas %d, want 3 by default on an existing NATS", got)
		}
		js = append(js, j)
	}
	ctx := context.Background()
	if err := js[0].CreateStream(ctx, "s"); err != nil {
		t.Fatal(err)
	}
	woke := make(chan struct{})
	cancelWake := js[1].AfterAppend("s", func() { close(woke) })
	defer cancelWake()

	var retried atomic.Int64
	appendFromBoth := func(round string) {
		var wg sync.WaitGroup
		for i, j := range js {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for k := range 50 {
					// As a client does, an append that failed (a server killed, its streams'
					// leaders elected again) is retried; it may then be stored twice.
					rec := fmt.Appendf(nil, "%s-h%d-%d", round, i+1, k)
					for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
						_, err := j.Append(ctx, "s", time.Now(), [][]byte{rec})
						if err == nil {
							break
						}
						if errors.Is(err, ErrNoStream) || time.Now().After(deadline) {
							t.Errorf("append on h%d: %v", i+1, err)
							return
						}
						retried.Add(1)
					}
				}
			}()
		}
		wg.Wait()
	}
	appendFromBoth("a")
	select {
	case <-woke:
	case <-time.After(10 * time.Second):
		t.Error("an append on h1 did not wake h2's waiter")
	}
	nc.Servers[0].Kill() // the journals reconnect to the other two, which keep the quorum
	appendFromBoth("b")

	batches := readAll(t, js[1], "s", 1)
	seen := map[string]int{}
	for k, b := range batches {
		if b.LSeq != uint64(k+1) {
			t.Fatalf("message %d has lseq %d, want %d", k, b.LSeq, k+1)
		}
		for _, r := range b.Records {
			seen[string(r)]++
		}
	}
	if len(seen) != 200 {
		t.Errorf("%d distinct records, want 200", len(seen))
	}
	dups := 0
	for r, n := range seen {
		if n != 1 && strings.HasPrefix(r, "a-") {
			t.Errorf("record %s stored %d times before any server was killed", r, n)
		}
		dups += n - 1
	}
	if int64(dups) > retried.Load() {
		t.Errorf("%d repeated records, but only %d appends were retried", dups, retried.Load())
	}
	t.Logf("after one NATS server was killed: %d appends retried, %d records stored twice", retried.Load(), dups)
	for _, j := range js {
		if entries, _ := filepathGlob(j.cfg.Dir); len(entries) != 0 {
			t.Errorf("a journal on an existing NATS wrote under its dir: %v", entries)
		}
	}
}

func TestExternalNATSConfig(t *testing.T) {
	tests := []struct {
		name string
		c    ClusterConfig
		want string // "" for valid
	}{
		{"url", ClusterConfig{Node: "h1", URL: "nats://127.0.0.1:4222,tls://nats.example:4222"}, ""},
		{"url needs a node", ClusterConfig{URL: "nats://127.0.0.1:4222"}, "needs a node name"},
		{"url and routes", ClusterConfig{Node: "h1", URL: "nats://a:1", Routes: []string{"nats://b:2"}, Listen: "127.0.0.1:1"}, "replaces the cluster listen address and routes"},
		{"url scheme", ClusterConfig{Node: "h1", URL: "http://127.0.0.1:4222"}, "want nats://host:port or tls://host:port"},
		{"url replicas", ClusterConfig{Node: "h1", URL: "nats://a:1", Replicas: 6}, "replicas must be between 1 and 5"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Config{Dir: "d", Cluster: tt.c}.WithDefaults().Validate()
			if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
				t.Errorf("Validate = %v, want %q", err, tt.want)
			}
		})
	}
	if got := redactURLs("nats://u:secret@a:1, tls://b:2"); strings.Contains(got, "secret") {
		t.Errorf("redactURLs kept the password: %s", got)
	}
}

// filepathGlob lists what is under dir.
func filepathGlob(dir string) ([]string, error) { return filepath.Glob(filepath.Join(dir, "*")) }
