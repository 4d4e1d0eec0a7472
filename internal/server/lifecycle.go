package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/hydrant-dev/hydrant/internal/api"
	"github.com/hydrant-dev/hydrant/internal/catalog"
	"github.com/hydrant-dev/hydrant/internal/compress"
	"github.com/hydrant-dev/hydrant/internal/delivery"
	"github.com/hydrant-dev/hydrant/internal/destination"
	"github.com/hydrant-dev/hydrant/internal/journal"
	"github.com/hydrant-dev/hydrant/internal/prefix"
	"github.com/hydrant-dev/hydrant/internal/processor"
	"github.com/hydrant-dev/hydrant/internal/processor/lambda"
)

var _ lifecycle = (*Server)(nil)

// activate creates the stream's journal and starts its delivery. A configuration that cannot
// be delivered fails the activation (the stream becomes CREATING_FAILED) before any journal
// is created.
func (s *Server) activate(ctx context.Context, st catalog.Stream) error {
	spec, ok, err := s.specFor(st)
	if err != nil {
		return fmt.Errorf("stream configuration cannot be delivered: %w", err)
	}
	if err := s.journal.CreateStream(ctx, st.Name); err != nil {
		return fmt.Errorf("create journal stream: %w", err)
	}
	if s.leases != nil && !s.leases.Owns(st.Name) {
		return nil // in a cluster the lease holder runs delivery (cluster.go)
	}
	if err := s.deliver(ctx, st, spec, ok); err != nil {
		return err
	}
	return s.startSource(st)
}

// check reports whether the stream's configuration can be turned into a delivery spec.
func (s *Server) check(st catalog.Stream) error {
	_, _, err := s.specFor(st)
	return err
}

// applyTimeout bounds handing a spec to the delivery manager; the manager answers at once
// unless it is shutting down.
const applyTimeout = 5 * time.Second

// reconfigure switches a running stream's delivery to its new configuration.
func (s *Server) reconfigure(ctx context.Context, st catalog.Stream) error {
	spec, ok, err := s.specFor(st)
	if err != nil {
		return fmt.Errorf("stream configuration cannot be delivered: %w", err)
	}
	if s.leases != nil && !s.leases.Owns(st.Name) {
		return nil // the lease holder applies it when its catalog sees the change
	}
	return s.deliver(ctx, st, spec, ok)
}

// deliver hands a stream's spec to the delivery manager. Destinations Hydrant does not deliver
// to yet (ok false) keep their records in the journal.
func (s *Server) deliver(ctx context.Context, st catalog.Stream, spec delivery.Spec, ok bool) error {
	if !ok {
		s.log.Warn("destination not delivered yet; records stay in the journal", "stream", st.Name, "destination", st.Destination.Kind)
		return nil
	}
	actx, cancel := context.WithTimeout(ctx, applyTimeout)
	defer cancel()
	return s.deliveries.Apply(actx, spec)
}

// remove stops delivery, discarding buffered records, and deletes the stream's journal.
func (s *Server) remove(ctx context.Context, name string) error {
	if err := s.stopSource(ctx, name); err != nil {
		return err
	}
	if err := s.deliveries.Remove(ctx, name); err != nil {
		return err
	}
	// Already gone when a deletion is finished twice: after a crash between this step and the
	// catalog's, or by two nodes of a cluster at once.
	if err := s.journal.DeleteStream(ctx, name); err != nil && !errors.Is(err, journal.ErrNoStream) {
		return err
	}
	return s.srcs.copies.Delete(ctx, name)
}

// specFor translates a stored S3 destination into what a delivery worker needs: the
// destination leg, with its processors and partitioning, and, with S3BackupMode Enabled, the
// backup leg of the source records.
func (s *Server) specFor(st catalog.Stream) (delivery.Spec, bool, error) {
	if st.Destination.Kind == "HttpEndpoint" {
		spec, err := s.httpSpec(st)
		return spec, err == nil, err
	}
	if st.Destination.Kind != "ExtendedS3" {
		return delivery.Spec{}, false, nil
	}
	var c api.ExtendedS3DestinationConfiguration
	if err := json.Unmarshal(st.Destination.Config, &c); err != nil {
		return delivery.Spec{}, false, fmt.Errorf("decode S3 destination: %w", err)
	}
	c = withS3Defaults(c)
	main, err := legFor(delivery.LegDestination, c.BucketARN, deref(c.Prefix), c.CompressionFormat, c.EncryptionConfiguration,
		c.BufferingHints, deref(c.FileExtension), deref(c.CustomTimeZone))
	if err != nil {
		return delivery.Spec{}, false, err
	}
	if main.ErrorPrefix, err = prefix.ErrorPrefix(deref(c.Prefix), deref(c.ErrorOutputPrefix)); err != nil {
		return delivery.Spec{}, false, err
	}
	if dynamicEnabled(&c) {
		main.Dynamic, main.MaxPartitions = true, s.cfg.MaxActivePartitions
		if main.Prefix, err = prefix.Parse(deref(c.Prefix)); err != nil {
			return delivery.Spec{}, false, err
		}
	}
	if specs := processorSpecs(c.ProcessingConfiguration); len(specs) > 0 {
		inv, err := s.invoker(specs)
		if err != nil {
			return delivery.Spec{}, false, err
		}
		// No KinesisSource: the Kinesis reader has de-aggregated KPL records already
		// (docs/design/sources.md).
		p, err := processor.New(processor.Config{Processors: specs, DeliveryStreamARN: st.ARN, Region: s.cfg.Region}, inv, s.now)
		if err != nil {
			return delivery.Spec{}, false, err
		}
		main.Processor = p
		for _, sp := range specs {
			main.HasLambda = main.HasLambda || sp.Type == processor.TypeLambda
		}
	}
	main.MaxBufferedBytes = max(s.cfg.MaxBufferBytes, main.SizeBytes+4<<20)
	spec := delivery.Spec{Stream: st.Name, Version: st.Version, Created: st.Created, Legs: []delivery.LegSpec{main}}
	if b := c.S3BackupConfiguration; c.S3BackupMode == "Enabled" && b != nil {
		backup, err := legFor(delivery.LegBackup, b.BucketARN, deref(b.Prefix), b.CompressionFormat, b.EncryptionConfiguration,
			b.BufferingHints, "", deref(c.CustomTimeZone))
		if err != nil {
			return delivery.Spec{}, false, err
		}
		spec.Legs = append(spec.Legs, backup)
	}
	return spec, true, nil
}

// invoker returns the Lambda invoker, created on first use by a stream with a Lambda
// processor (creating it may resolve credentials).
func (s *Server) invoker(specs []processor.Spec) (processor.Invoker, error) {
	needed := false
	for _, sp := range specs {
		needed = needed || sp.Type == processor.TypeLambda
	}
	if !needed {
		return nil, nil
	}
	s.lambdaMu.Lock()
	defer s.lambdaMu.Unlock()
	if s.lambda == nil {
		inv, err := lambda.New(s.runCtx, s.cfg.Lambda, s.log.With("part", "lambda"))
		if err != nil {
			return nil, fmt.Errorf("configure Lambda invoker: %w", err)
		}
		s.lambda = inv
	}
	return s.lambda, nil
}

func legFor(name, bucketARN, pfx string, format api.CompressionFormat, enc *api.EncryptionConfiguration,
	hints *api.BufferingHints, fileExt, zone string) (delivery.LegSpec, error) {
	loc, err := prefix.Location(zone)
	if err != nil {
		return delivery.LegSpec{}, err
	}
	expr, err := prefix.DataPrefix(pfx)
	if err != nil {
		return delivery.LegSpec{}, err
	}
	f := compress.Format(format)
	l := delivery.LegSpec{
		Name:        name,
		Bucket:      destination.BucketFromARN(bucketARN),
		Prefix:      expr,
		Location:    loc,
		Compression: f,
		Extension:   f.ObjectExtension(fileExt),
		SizeBytes:   *hints.SizeInMBs << 20,
		Interval:    time.Duration(*hints.IntervalInSeconds) * time.Second,
	}
	if enc != nil && enc.KMSEncryptionConfig != nil {
		l.KMSKeyARN = enc.KMSEncryptionConfig.AWSKMSKeyARN
	}
	return l, nil
}
