package server

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/hydrant-dev/hydrant/internal/api"
	"github.com/hydrant-dev/hydrant/internal/catalog"
	"github.com/hydrant-dev/hydrant/internal/source"
	"github.com/hydrant-dev/hydrant/internal/source/kafka"
)

// mskSource is the part of MSKSourceConfiguration a reader needs.
type mskSource struct {
	MSKClusterARN     string         `json:"MSKClusterARN"`
	TopicName         string         `json:"TopicName"`
	ReadFromTimestamp *api.Timestamp `json:"ReadFromTimestamp,omitempty"`
}

// readFrom returns where an MSK source starts: ReadFromTimestamp, else the stream's creation
// (it becomes ACTIVE moments later).
func (m mskSource) readFrom(created time.Time) time.Time {
	if m.ReadFromTimestamp != nil {
		return m.ReadFromTimestamp.Time
	}
	return created
}

// kafkaReader returns the reader of an MSKAsSource stream. The cluster must be in the config
// file's kafka map: Hydrant cannot look brokers up from an MSK ARN.
func (s *Server) kafkaReader(st catalog.Stream, w *source.Writer, log *slog.Logger) (sourceReader, error) {
	var m mskSource
	if err := json.Unmarshal(st.Source, &m); err != nil {
		return nil, fmt.Errorf("decode MSK source: %w", err)
	}
	cluster, ok := s.cfg.Kafka[m.MSKClusterARN]
	if !ok {
		return nil, fmt.Errorf("no Kafka cluster configured for %s: add it to the config file's kafka map", m.MSKClusterARN)
	}
	return kafka.New(kafka.Config{
		Stream: st.Name, ClusterARN: m.MSKClusterARN, Topic: m.TopicName, Cluster: cluster,
		ReadFrom: m.readFrom(st.Created), Now: s.now,
	}, w, s.rec, log)
}

// describeMSK returns the MSKSourceDescription of a stream: its configuration with the
// DeliveryStartTimestamp, where reading started.
func describeMSK(st catalog.Stream) json.RawMessage {
	var doc map[string]json.RawMessage
	var m mskSource
	if json.Unmarshal(st.Source, &doc) != nil || json.Unmarshal(st.Source, &m) != nil {
		return st.Source
	}
	ts, err := json.Marshal(api.Timestamp{Time: m.readFrom(st.Created)})
	if err != nil {
		return st.Source
	}
	doc["DeliveryStartTimestamp"] = ts
	b, err := json.Marshal(doc)
	if err != nil {
		return st.Source
	}
	return b
}
