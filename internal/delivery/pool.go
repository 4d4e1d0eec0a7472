package delivery

import (
	"context"

	"github.com/hydrant-dev/hydrant/internal/destination"
	"github.com/hydrant-dev/hydrant/internal/metrics"
)

// The writer pool: an actor starts up to Deps.WritesPerStream writes at once, each of which
// takes one of the process-wide Deps.Writes slots before it compresses and stores its object.
// Writes settle out of order; the ledger keeps the books.

// startWrites starts queued writes while the stream has free writer slots.
func (a *actor) startWrites(ctx context.Context) {
	for len(a.queue) > 0 && len(a.writing) < a.d.WritesPerStream {
		o := a.queue[0]
		a.queue = a.queue[1:]
		a.writing[o.id] = o
		a.spawn(ctx, func(ctx context.Context) any { return a.write(ctx, o) })
	}
}

// write compresses and stores an object, retrying transient failures.
func (a *actor) write(ctx context.Context, o *object) writeDone {
	select {
	case a.d.writeSem <- struct{}{}:
	case <-ctx.Done():
		return writeDone{o: o, err: ctx.Err()}
	}
	defer func() { <-a.d.writeSem }()
	lr := o.leg
	if endpointBatch(&lr.LegSpec, o.buf) {
		return a.send(ctx, o)
	}
	kit, err := a.kits.get(lr.Compression)
	if err != nil {
		return writeDone{o: o, err: err, permanent: true}
	}
	var body []byte
	if o.buf.z != nil { // compressed while it filled: the object is the buffer's
		body, err = o.buf.finish(kit.blocks)
		a.kits.put(lr.Compression, kit)
	} else {
		defer a.kits.put(lr.Compression, kit)
		body, err = kit.encode(o.buf.data)
	}
	if err != nil { // the encoders fail only on their own state: retrying cannot help
		return writeDone{o: o, err: err, permanent: true}
	}
	obj := destination.Object{
		Bucket: lr.Bucket, Key: o.key, Body: body, ContentType: "application/octet-stream",
		ContentEncoding: lr.Compression.ContentEncoding(), KMSKeyARN: lr.KMSKeyARN,
	}
	err = a.retry(ctx, "deliver object", func() error {
		err := a.d.Objects.PutObject(ctx, obj)
		if ctx.Err() != nil {
			return err
		}
		ok := 0.0
		if err == nil {
			ok = 1
		} else if !destination.IsPermanent(err) {
			a.status.failed(lr.Name, ErrorCode(err), err, a.d.Clock.Now())
		}
		a.d.Metrics.Record(a.stream, lr.metricPrefix()+".Success", metrics.UnitCount, ok)
		return err
	}, "leg", lr.Name, "bucket", obj.Bucket, "key", o.key)
	switch {
	case err == nil:
		a.d.Logger.Debug("delivered object", "stream", a.stream, "leg", lr.Name, "bucket", obj.Bucket, "key", o.key, "records", o.buf.records(), "bytes", o.buf.size())
		return writeDone{o: o, stored: len(body)}
	case ctx.Err() != nil:
		return writeDone{o: o, err: ctx.Err()}
	default:
		return writeDone{o: o, err: err, permanent: destination.IsPermanent(err)}
	}
}

// metricPrefix names the leg's metrics: DeliveryToS3, DeliveryToHttpEndpoint or BackupToS3.
func (l *LegSpec) metricPrefix() string {
	if l.Name == LegBackup {
		return "BackupToS3"
	}
	if l.Endpoint != nil {
		return "DeliveryToHttpEndpoint"
	}
	return "DeliveryToS3"
}
