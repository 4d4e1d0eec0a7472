package server

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/hydrant-dev/hydrant/internal/api"
	"github.com/hydrant-dev/hydrant/internal/catalog"
	"github.com/hydrant-dev/hydrant/internal/compress"
	"github.com/hydrant-dev/hydrant/internal/delivery"
	"github.com/hydrant-dev/hydrant/internal/destination"
	"github.com/hydrant-dev/hydrant/internal/prefix"
)

var _ lifecycle = (*Server)(nil)

// activate creates the stream's journal and starts its delivery worker.
func (s *Server) activate(ctx context.Context, st catalog.Stream) error {
	if err := s.journal.CreateStream(ctx, st.Name); err != nil {
		return fmt.Errorf("create journal stream: %w", err)
	}
	s.reconfigure(st)
	return nil
}

// reconfigure starts, or restarts with a new configuration, the stream's delivery worker.
// Destinations Hydrant does not deliver to yet keep their records in the journal.
func (s *Server) reconfigure(st catalog.Stream) {
	spec, ok, err := specFor(st)
	if err != nil {
		s.log.Error("stream configuration cannot be delivered", "stream", st.Name, "err", err)
		return
	}
	if !ok {
		s.log.Warn("destination not delivered yet; records stay in the journal", "stream", st.Name, "destination", st.Destination.Kind)
		return
	}
	s.deliveries.Apply(spec)
}

// remove stops the worker, discarding its buffer, and deletes the stream's journal.
func (s *Server) remove(ctx context.Context, name string) error {
	s.deliveries.Remove(name)
	return s.journal.DeleteStream(ctx, name)
}

// specFor translates a stored S3 destination into what a delivery worker needs.
func specFor(st catalog.Stream) (delivery.Spec, bool, error) {
	if st.Destination.Kind != "ExtendedS3" {
		return delivery.Spec{}, false, nil
	}
	var c api.ExtendedS3DestinationConfiguration
	if err := json.Unmarshal(st.Destination.Config, &c); err != nil {
		return delivery.Spec{}, false, fmt.Errorf("decode S3 destination: %w", err)
	}
	if dynamicEnabled(&c) {
		return delivery.Spec{}, false, nil
	}
	c = withS3Defaults(c)
	loc, err := prefix.Location(deref(c.CustomTimeZone))
	if err != nil {
		return delivery.Spec{}, false, err
	}
	expr, err := prefix.DataPrefix(deref(c.Prefix))
	if err != nil {
		return delivery.Spec{}, false, err
	}
	format := compress.Format(c.CompressionFormat)
	return delivery.Spec{
		Stream:      st.Name,
		Version:     st.Version,
		Bucket:      destination.BucketFromARN(c.BucketARN),
		Prefix:      expr,
		Location:    loc,
		Compression: format,
		Extension:   format.ObjectExtension(deref(c.FileExtension)),
		SizeBytes:   *c.BufferingHints.SizeInMBs << 20,
		Interval:    time.Duration(*c.BufferingHints.IntervalInSeconds) * time.Second,
	}, true, nil
}
