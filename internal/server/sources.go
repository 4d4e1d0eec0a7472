package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/hydrant-dev/hydrant/internal/api"
	"github.com/hydrant-dev/hydrant/internal/catalog"
	"github.com/hydrant-dev/hydrant/internal/journal"
	"github.com/hydrant-dev/hydrant/internal/source"
	"github.com/hydrant-dev/hydrant/internal/source/kinesis"
)

// sourcesBucket holds a copy of each source stream's last position (docs/design/sources.md).
const sourcesBucket = "hydrant_sources"

// sourceReader is a running reader of a Kinesis stream or a Kafka topic.
type sourceReader interface {
	Run(ctx context.Context) error
	Status() source.Status
}

// sources runs one reader per delivery stream of type KinesisStreamAsSource or MSKAsSource.
type sources struct {
	mu      sync.Mutex
	running map[string]*runningSource // by delivery stream name
	copies  *journal.KV
}

type runningSource struct {
	created time.Time // the stream incarnation it reads for
	reader  sourceReader
	cancel  context.CancelFunc
	done    chan struct{}
}

// startSource starts the reader of a source stream, unless it runs already.
func (s *Server) startSource(st catalog.Stream) error {
	typ := api.DeliveryStreamType(st.Type)
	if typ != api.KinesisStreamAsSource && typ != api.MSKAsSource {
		return nil
	}
	s.srcs.mu.Lock()
	if r, ok := s.srcs.running[st.Name]; ok && r.created.Equal(st.Created) {
		s.srcs.mu.Unlock()
		return nil
	}
	s.srcs.mu.Unlock()
	log := s.log.With("part", "source", "stream", st.Name)
	w := source.NewWriter(s.journal, s.srcs.copies, st.Name, st.Created, log)
	var reader sourceReader
	switch typ {
	case api.KinesisStreamAsSource:
		var k api.KinesisStreamSourceConfiguration
		if err := json.Unmarshal(st.Source, &k); err != nil {
			return fmt.Errorf("decode Kinesis source: %w", err)
		}
		cc := s.kinesisConfig(k.KinesisStreamARN)
		client, err := kinesis.NewClient(s.runCtx, cc, k.KinesisStreamARN)
		if err != nil {
			return fmt.Errorf("Kinesis client for %s: %w", k.KinesisStreamARN, err)
		}
		r, err := kinesis.New(kinesis.Config{Stream: st.Name, StreamARN: k.KinesisStreamARN, Start: st.Created, Now: s.now},
			client, w, s.rec, log)
		if err != nil {
			return err
		}
		reader = r
	case api.MSKAsSource:
		r, err := s.kafkaReader(st, w, log)
		if err != nil {
			return err
		}
		reader = r
	}
	ctx, cancel := context.WithCancel(s.runCtx)
	rs := &runningSource{created: st.Created, reader: reader, cancel: cancel, done: make(chan struct{})}
	s.srcs.mu.Lock()
	if s.srcs.running == nil {
		s.srcs.running = make(map[string]*runningSource)
	}
	old := s.srcs.running[st.Name]
	s.srcs.running[st.Name] = rs
	s.srcs.mu.Unlock()
	if old != nil {
		old.cancel()
		<-old.done
	}
	go func() {
		defer close(rs.done)
		if err := reader.Run(ctx); err != nil {
			log.Error("source reader stopped", "err", err)
		}
	}()
	log.Info("source reader started", "source", reader.Status().Source)
	return nil
}

// stopSource stops the reader of the stream name, if any, and waits until it has.
func (s *Server) stopSource(ctx context.Context, name string) error {
	s.srcs.mu.Lock()
	r := s.srcs.running[name]
	delete(s.srcs.running, name)
	s.srcs.mu.Unlock()
	if r == nil {
		return nil
	}
	r.cancel()
	select {
	case <-r.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// stopSources stops every reader (at shutdown) and waits for them.
func (s *Server) stopSources() {
	s.srcs.mu.Lock()
	running := s.srcs.running
	s.srcs.running = nil
	s.srcs.mu.Unlock()
	for _, r := range running {
		r.cancel()
	}
	for _, r := range running {
		<-r.done
	}
}

// sourceStatus returns the status of the stream's reader, if it has one.
func (s *Server) sourceStatus(name string) (source.Status, bool) {
	s.srcs.mu.Lock()
	r := s.srcs.running[name]
	s.srcs.mu.Unlock()
	if r == nil {
		return source.Status{}, false
	}
	return r.reader.Status(), true
}

// kinesisConfig returns the settings of a Kinesis stream: its own entry, else the "*" entry,
// else the standard AWS chain.
func (s *Server) kinesisConfig(arn string) kinesis.ClientConfig {
	if c, ok := s.cfg.Kinesis[arn]; ok {
		return c
	}
	return s.cfg.Kinesis["*"]
}

// handleSourceStatus reports a source stream's reader: its source, state, lag and the
// position in each shard or partition.
func (s *Server) handleSourceStatus(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if s.forwardToOwner(w, r, name) {
		return
	}
	st, ok := s.sourceStatus(name)
	w.Header().Set("Content-Type", "application/json")
	if !ok {
		w.WriteHeader(http.StatusNotFound)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": "no source reader for stream " + name})
		return
	}
	_ = json.NewEncoder(w).Encode(st)
}
