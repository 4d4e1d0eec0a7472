package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hydrant-dev/hydrant/internal/api"
	"github.com/hydrant-dev/hydrant/internal/catalog"
)

// destinationKinds are the destination member prefixes of the 2015-08-04 API, in model order.
var destinationKinds = []string{
	"S3", "ExtendedS3", "Redshift", "Elasticsearch", "Amazonopensearchservice", "Splunk",
	"HttpEndpoint", "AmazonOpenSearchServerless", "Snowflake", "Iceberg",
}

const (
	maxTags            = 50
	maxEncryptionCalls = 25
	firstDestinationID = "destinationId-000000000001"
)

// lifecycle is what the service asks of the parts that carry a stream's data.
type lifecycle interface {
	// activate prepares the journal and delivery for a stream and reports failure.
	activate(ctx context.Context, s catalog.Stream) error
	// check reports whether a stream's configuration can be delivered as it is.
	check(s catalog.Stream) error
	// reconfigure applies a changed destination to a running stream.
	reconfigure(ctx context.Context, s catalog.Stream) error
	// remove stops delivery and drops the stream's journal.
	remove(ctx context.Context, name string) error
}

// service implements the Firehose control operations on the catalog.
type service struct {
	region, account string
	cat             *catalog.Catalog
	life            lifecycle
	log             *slog.Logger
	now             func() time.Time
	ctx             context.Context // bounds asynchronous transitions
	tasks           *sync.WaitGroup
}

func (s *service) arn(name string) string {
	return fmt.Sprintf("arn:aws:firehose:%s:%s:deliverystream/%s", s.region, s.account, name)
}

func (s *service) notFound(name string) *api.Error {
	return api.Errorf(api.CodeResourceNotFound, "Firehose %s under account %s not found.", name, s.account)
}

func (s *service) get(name string) (catalog.Stream, error) {
	st, err := s.cat.Get(name)
	if errors.Is(err, catalog.ErrNotFound) {
		return st, s.notFound(name)
	}
	return st, err
}

// target returns the stream a put goes to, or the error refusing it.
func (s *service) target(name string) (catalog.Stream, error) {
	st, err := s.cat.Peek(name)
	if errors.Is(err, catalog.ErrNotFound) {
		return st, s.notFound(name)
	}
	if err != nil {
		return st, err
	}
	return st, s.putRefusal(st)
}

// async runs fn in the background, owned by the service's task group.
func (s *service) async(fn func(ctx context.Context)) {
	s.tasks.Add(1)
	go func() {
		defer s.tasks.Done()
		fn(s.ctx)
	}()
}

// givenDestinations returns the destination members present in a create request.
func givenDestinations(raw map[string]json.RawMessage) []string {
	var kinds []string
	for _, k := range destinationKinds {
		if v, ok := raw[k+"DestinationConfiguration"]; ok && string(v) != "null" {
			kinds = append(kinds, k)
		}
	}
	return kinds
}

func (s *service) CreateDeliveryStream(ctx context.Context, in *api.CreateDeliveryStreamInput) (*api.CreateDeliveryStreamOutput, error) {
	raw := map[string]json.RawMessage{}
	b, _ := json.Marshal(in)
	_ = json.Unmarshal(b, &raw)
	kinds := givenDestinations(raw)
	if len(kinds) != 1 {
		return nil, api.Errorf(api.CodeInvalidArgument, "Exactly one destination configuration is supported for a Firehose")
	}
	typ := in.DeliveryStreamType
	if typ == "" {
		typ = api.DirectPut
	}
	source, err := checkSource(typ, in)
	if err != nil {
		return nil, err
	}
	enc := catalog.Encryption{Status: string(api.EncryptionDisabled)}
	if e := in.DeliveryStreamEncryptionConfigurationInput; e != nil {
		if typ != api.DirectPut {
			return nil, api.Errorf(api.CodeInvalidArgument, "Server-side encryption is supported only for DirectPut delivery streams.")
		}
		if err := checkKey(e); err != nil {
			return nil, err
		}
		enc = catalog.Encryption{Status: string(api.EncryptionEnabled), KeyType: e.KeyType, KeyARN: e.KeyARN}
	}
	tags, err := mergeTags(nil, in.Tags)
	if err != nil {
		return nil, err
	}
	dest, err := normalizeDestination(kinds[0], raw[kinds[0]+"DestinationConfiguration"])
	if err != nil {
		return nil, err
	}
	dest.ID = firstDestinationID
	st := catalog.Stream{
		Name:        in.DeliveryStreamName,
		ARN:         s.arn(in.DeliveryStreamName),
		Type:        string(typ),
		Status:      string(api.StatusCreating),
		Version:     1,
		Created:     s.now().UTC(),
		Source:      source,
		Destination: dest,
		Encryption:  enc,
		Tags:        tags,
	}
	switch err := s.cat.Create(ctx, st); {
	case errors.Is(err, catalog.ErrExists):
		return nil, api.Errorf(api.CodeResourceInUse, "Firehose %s under accountId %s already exists", st.Name, s.account)
	case errors.Is(err, catalog.ErrLimit):
		return nil, api.Errorf(api.CodeLimitExceeded, "You have already consumed your firehose quota of delivery streams in this account and region.")
	case err != nil:
		return nil, err
	}
	s.log.Info("delivery stream created", "stream", st.Name, "destination", dest.Kind)
	s.async(func(ctx context.Context) { s.finishCreate(ctx, st) })
	return &api.CreateDeliveryStreamOutput{DeliveryStreamARN: st.ARN}, nil
}

// finishCreate moves a CREATING stream to ACTIVE once its journal and worker are ready.
func (s *service) finishCreate(ctx context.Context, st catalog.Stream) {
	status := api.StatusActive
	var failure *catalog.Failure
	if err := s.life.activate(ctx, st); err != nil {
		if ctx.Err() != nil {
			return // shutting down; the next start finishes the job
		}
		s.log.Error("activate delivery stream", "stream", st.Name, "err", err)
		status = api.StatusCreatingFailed
		failure = &catalog.Failure{Type: "UNKNOWN_ERROR", Details: err.Error()}
	}
	_, err := s.cat.Update(ctx, st.Name, func(cur *catalog.Stream) error {
		if cur.Status == string(api.StatusCreating) {
			cur.Status = string(status)
			cur.Failure = failure
		}
		return nil
	})
	if err != nil && !errors.Is(err, catalog.ErrNotFound) {
		s.log.Error("mark delivery stream active", "stream", st.Name, "err", err)
	}
}

func checkSource(typ api.DeliveryStreamType, in *api.CreateDeliveryStreamInput) (json.RawMessage, error) {
	given := map[api.DeliveryStreamType]bool{
		api.KinesisStreamAsSource: in.KinesisStreamSourceConfiguration != nil,
		api.MSKAsSource:           len(in.MSKSourceConfiguration) > 0 && string(in.MSKSourceConfiguration) != "null",
		api.DatabaseAsSource:      len(in.DatabaseSourceConfiguration) > 0 && string(in.DatabaseSourceConfiguration) != "null",
	}
	for t, ok := range given {
		if ok && t != typ {
			return nil, api.Errorf(api.CodeInvalidArgument, "%s source configuration is not allowed for a delivery stream of type %s.", t, typ)
		}
	}
	if in.DirectPutSourceConfiguration != nil && typ != api.DirectPut {
		return nil, api.Errorf(api.CodeInvalidArgument, "DirectPutSourceConfiguration is allowed only for a delivery stream of type DirectPut.")
	}
	switch typ {
	case api.DirectPut:
		if in.DirectPutSourceConfiguration != nil {
			return json.Marshal(in.DirectPutSourceConfiguration)
		}
		return nil, nil
	case api.KinesisStreamAsSource:
		if in.KinesisStreamSourceConfiguration == nil {
			return nil, api.Errorf(api.CodeInvalidArgument, "KinesisStreamSourceConfiguration is required for a delivery stream of type KinesisStreamAsSource.")
		}
		return json.Marshal(in.KinesisStreamSourceConfiguration)
	case api.MSKAsSource:
		if !given[api.MSKAsSource] {
			return nil, api.Errorf(api.CodeInvalidArgument, "MSKSourceConfiguration is required for a delivery stream of type MSKAsSource.")
		}
		return in.MSKSourceConfiguration, nil
	default:
		if !given[api.DatabaseAsSource] {
			return nil, api.Errorf(api.CodeInvalidArgument, "DatabaseSourceConfiguration is required for a delivery stream of type DatabaseAsSource.")
		}
		return in.DatabaseSourceConfiguration, nil
	}
}

func checkKey(e *api.DeliveryStreamEncryptionConfigurationInput) error {
	switch {
	case e.KeyType == "CUSTOMER_MANAGED_CMK" && e.KeyARN == "":
		return api.Errorf(api.CodeInvalidArgument, "KeyARN is required when KeyType is CUSTOMER_MANAGED_CMK.")
	case e.KeyType == "AWS_OWNED_CMK" && e.KeyARN != "":
		return api.Errorf(api.CodeInvalidArgument, "KeyARN must not be specified when KeyType is AWS_OWNED_CMK.")
	}
	return nil
}

// normalizeDestination validates a destination configuration and returns its stored form.
func normalizeDestination(kind string, raw json.RawMessage) (catalog.Destination, error) {
	switch kind {
	case "S3", "ExtendedS3":
		var c *api.ExtendedS3DestinationConfiguration
		if kind == "S3" {
			var legacy api.S3DestinationConfiguration
			if err := json.Unmarshal(raw, &legacy); err != nil {
				return catalog.Destination{}, api.Errorf(api.CodeSerialization, "%v", err)
			}
			c = fromLegacyS3(&legacy)
		} else {
			c = new(api.ExtendedS3DestinationConfiguration)
			if err := json.Unmarshal(raw, c); err != nil {
				return catalog.Destination{}, api.Errorf(api.CodeSerialization, "%v", err)
			}
		}
		if err := checkExtendedS3(c); err != nil {
			return catalog.Destination{}, err
		}
		b, err := json.Marshal(withS3Defaults(*c))
		if err != nil {
			return catalog.Destination{}, err
		}
		return catalog.Destination{Kind: "ExtendedS3", Config: b}, nil
	case "HttpEndpoint":
		return normalizeHTTPEndpoint(raw)
	default:
		var hints struct{ BufferingHints *api.BufferingHints }
		if err := json.Unmarshal(raw, &hints); err == nil {
			if err := checkHints(hints.BufferingHints); err != nil {
				return catalog.Destination{}, err
			}
		}
		return catalog.Destination{Kind: kind, Config: raw}, nil
	}
}

func (s *service) DescribeDeliveryStream(ctx context.Context, in *api.DescribeDeliveryStreamInput) (*api.DescribeDeliveryStreamOutput, error) {
	st, err := s.get(in.DeliveryStreamName)
	if err != nil {
		return nil, err
	}
	d, err := describe(st)
	if err != nil {
		return nil, err
	}
	if in.ExclusiveStartDestinationId != "" {
		d.Destinations = d.Destinations[:0]
	}
	return &api.DescribeDeliveryStreamOutput{DeliveryStreamDescription: d}, nil
}

// describe renders a stream as DescribeDeliveryStream returns it.
// failureDescription returns the described form of a stream's failure, or nil.
func failureDescription(f *catalog.Failure) *api.FailureDescription {
	if f == nil {
		return nil
	}
	return &api.FailureDescription{Type: f.Type, Details: f.Details}
}

func describe(st catalog.Stream) (api.DeliveryStreamDescription, error) {
	d := api.DeliveryStreamDescription{
		DeliveryStreamName:   st.Name,
		DeliveryStreamARN:    st.ARN,
		DeliveryStreamStatus: api.DeliveryStreamStatus(st.Status),
		DeliveryStreamType:   api.DeliveryStreamType(st.Type),
		VersionID:            strconv.Itoa(st.Version),
		CreateTimestamp:      &api.Timestamp{Time: st.Created},
		FailureDescription:   failureDescription(st.Failure),
		DeliveryStreamEncryptionConfiguration: &api.DeliveryStreamEncryptionConfiguration{
			Status: api.EncryptionStatus(st.Encryption.Status), KeyType: st.Encryption.KeyType, KeyARN: st.Encryption.KeyARN,
		},
	}
	if !st.Updated.IsZero() {
		d.LastUpdateTimestamp = &api.Timestamp{Time: st.Updated}
	}
	src := &api.SourceDescription{}
	switch api.DeliveryStreamType(st.Type) {
	case api.DirectPut:
		if len(st.Source) > 0 {
			src.DirectPutSourceDescription = new(api.DirectPutSourceConfiguration)
			_ = json.Unmarshal(st.Source, src.DirectPutSourceDescription)
		} else {
			src = nil
		}
	case api.KinesisStreamAsSource:
		var k api.KinesisStreamSourceConfiguration
		_ = json.Unmarshal(st.Source, &k)
		src.KinesisStreamSourceDescription = &api.KinesisStreamSourceDescription{
			KinesisStreamARN: k.KinesisStreamARN, RoleARN: k.RoleARN, DeliveryStartTimestamp: &api.Timestamp{Time: st.Created},
		}
	case api.MSKAsSource:
		src.MSKSourceDescription = describeMSK(st)
	case api.DatabaseAsSource:
		src.DatabaseSourceDescription = st.Source
	}
	d.Source = src
	dd := api.DestinationDescription{DestinationID: st.Destination.ID}
	if st.Destination.Kind == "ExtendedS3" {
		ext, legacy, err := describeS3(st.Destination.Config)
		if err != nil {
			return d, err
		}
		dd.ExtendedS3DestinationDescription, dd.S3DestinationDescription = ext, legacy
	} else {
		b, err := rewrite(st.Destination.Config, func(v any) any { return renameTree(v, configToDescription) })
		if err != nil {
			return d, fmt.Errorf("render %s destination: %w", st.Destination.Kind, err)
		}
		dd.Other = map[string]json.RawMessage{st.Destination.Kind + "DestinationDescription": b}
	}
	d.Destinations = []api.DestinationDescription{dd}
	return d, nil
}

func (s *service) ListDeliveryStreams(ctx context.Context, in *api.ListDeliveryStreamsInput) (*api.ListDeliveryStreamsOutput, error) {
	limit := 10
	if in.Limit != nil {
		limit = *in.Limit
	}
	out := &api.ListDeliveryStreamsOutput{DeliveryStreamNames: []string{}}
	for _, st := range s.cat.List() {
		if in.DeliveryStreamType != "" && st.Type != string(in.DeliveryStreamType) {
			continue
		}
		if in.ExclusiveStartDeliveryStreamName != "" && st.Name <= in.ExclusiveStartDeliveryStreamName {
			continue
		}
		if len(out.DeliveryStreamNames) == limit {
			out.HasMoreDeliveryStreams = true
			break
		}
		out.DeliveryStreamNames = append(out.DeliveryStreamNames, st.Name)
	}
	return out, nil
}

func (s *service) DeleteDeliveryStream(ctx context.Context, in *api.DeleteDeliveryStreamInput) (*api.Empty, error) {
	_, err := s.cat.Update(ctx, in.DeliveryStreamName, func(st *catalog.Stream) error {
		if st.Status == string(api.StatusCreating) {
			return api.Errorf(api.CodeResourceInUse, "Firehose %s under account %s is in CREATING state and cannot be deleted yet.", st.Name, s.account)
		}
		st.Status = string(api.StatusDeleting)
		return nil
	})
	if errors.Is(err, catalog.ErrNotFound) {
		return nil, s.notFound(in.DeliveryStreamName)
	}
	if err != nil {
		return nil, err
	}
	name := in.DeliveryStreamName
	s.async(func(ctx context.Context) { s.finishDelete(ctx, name) })
	return &api.Empty{}, nil
}

// finishDelete stops delivery (discarding buffered records, as Firehose does), drops the
// journal and removes the stream.
func (s *service) finishDelete(ctx context.Context, name string) {
	if err := s.life.remove(ctx, name); err != nil {
		if ctx.Err() != nil {
			return
		}
		s.log.Error("delete delivery stream", "stream", name, "err", err)
		_, _ = s.cat.Update(ctx, name, func(st *catalog.Stream) error {
			st.Status = string(api.StatusDeletingFailed)
			return nil
		})
		return
	}
	if err := s.cat.Delete(ctx, name); err != nil && !errors.Is(err, catalog.ErrNotFound) {
		s.log.Error("delete catalog entry", "stream", name, "err", err)
		return
	}
	s.log.Info("delivery stream deleted", "stream", name)
}

func (s *service) UpdateDestination(ctx context.Context, in *api.UpdateDestinationInput) (*api.Empty, error) {
	var kinds []string
	for _, k := range destinationKinds {
		if _, ok := in.Updates[k+"DestinationUpdate"]; ok {
			kinds = append(kinds, k)
		}
	}
	if len(kinds) != 1 {
		return nil, api.Errorf(api.CodeInvalidArgument, "Exactly one destination update is supported for a Firehose")
	}
	kind := kinds[0]
	patch := in.Updates[kind+"DestinationUpdate"]
	update := func(st *catalog.Stream) error {
		if st.Status != string(api.StatusActive) {
			return api.Errorf(api.CodeResourceInUse, "Firehose %s under account %s is not ACTIVE (status %s).", st.Name, s.account, st.Status)
		}
		if cur := strconv.Itoa(st.Version); cur != in.CurrentDeliveryStreamVersionID {
			return api.Errorf(api.CodeConcurrentModify, "Cannot update firehose: %s since the current version id: %s and specified version id: %s do not match", st.Name, cur, in.CurrentDeliveryStreamVersionID)
		}
		if in.DestinationID != st.Destination.ID {
			return api.Errorf(api.CodeInvalidArgument, "Destination Id %s not found", in.DestinationID)
		}
		dest, err := updateDestination(st.Destination, kind, patch)
		if err != nil {
			return err
		}
		dest.ID = st.Destination.ID
		st.Destination = dest
		st.Version++
		st.Updated = s.now().UTC()
		return nil
	}
	// The result must be deliverable. Checking it may resolve credentials (a Lambda client), so
	// it runs on a copy outside the catalog's lock; the version check inside Update then
	// guarantees that the stream updated is the one checked.
	next, err := s.cat.Get(in.DeliveryStreamName)
	if err == nil {
		if err = update(&next); err == nil {
			if cerr := s.life.check(next); cerr != nil {
				return nil, api.Errorf(api.CodeInvalidArgument, "The destination configuration cannot be delivered: %s", cerr)
			}
		}
	}
	var updated catalog.Stream
	if err == nil {
		updated, err = s.cat.Update(ctx, in.DeliveryStreamName, update)
	}
	if errors.Is(err, catalog.ErrNotFound) {
		return nil, s.notFound(in.DeliveryStreamName)
	}
	if err != nil {
		return nil, err
	}
	s.log.Info("destination updated", "stream", updated.Name, "version", updated.Version, "destination", updated.Destination.Kind)
	if err := s.life.reconfigure(ctx, updated); err != nil {
		// The catalog has the new version; the running delivery could not take it (a shutdown
		// or a removal racing the update). The next start applies the catalog's version.
		s.log.Error("apply updated destination", "stream", updated.Name, "version", updated.Version, "err", err)
	}
	return &api.Empty{}, nil
}

// isSearch reports whether a destination kind is OpenSearch or Elasticsearch, which cannot be
// switched to or from.
func isSearch(kind string) bool {
	return kind == "Elasticsearch" || kind == "Amazonopensearchservice"
}

// updateDestination merges an update of the same kind, or replaces the destination with one of
// another kind, and validates the result as CreateDeliveryStream would.
func updateDestination(cur catalog.Destination, kind string, patch json.RawMessage) (catalog.Destination, error) {
	if kind == "S3" {
		kind = "ExtendedS3" // the deprecated S3 update applies to the stored ExtendedS3 form
	}
	if kind != cur.Kind && (isSearch(kind) || isSearch(cur.Kind)) {
		return catalog.Destination{}, api.Errorf(api.CodeInvalidArgument, "Changing the destination type to or from Amazon OpenSearch Service is not supported.")
	}
	patched, err := rewrite(patch, func(v any) any { return renameTree(v, updateToConfig) })
	if err != nil {
		return catalog.Destination{}, api.Errorf(api.CodeSerialization, "%v", err)
	}
	merged := patched
	if kind == cur.Kind {
		base, err := decodeTree(cur.Config)
		if err != nil {
			return catalog.Destination{}, err
		}
		p, err := decodeTree(patched)
		if err != nil {
			return catalog.Destination{}, err
		}
		if merged, err = json.Marshal(mergeTree(base, p)); err != nil {
			return catalog.Destination{}, err
		}
	}
	if kind == "ExtendedS3" && cur.Kind == "ExtendedS3" {
		var before, after api.ExtendedS3DestinationConfiguration
		_ = json.Unmarshal(cur.Config, &before)
		if err := json.Unmarshal(merged, &after); err != nil {
			return catalog.Destination{}, api.Errorf(api.CodeSerialization, "%v", err)
		}
		if dynamicEnabled(&before) != dynamicEnabled(&after) {
			return catalog.Destination{}, api.Errorf(api.CodeInvalidArgument, "Dynamic partitioning cannot be enabled or disabled on an existing Firehose stream.")
		}
		if before.S3BackupMode == "Enabled" && after.S3BackupMode == "Disabled" {
			return catalog.Destination{}, api.Errorf(api.CodeInvalidArgument, "S3BackupMode cannot be changed from Enabled to Disabled.")
		}
	}
	return normalizeDestination(kind, merged)
}

// mergeTags upserts add into tags, enforcing the per-stream limit.
func mergeTags(tags []catalog.Tag, add []api.Tag) ([]catalog.Tag, error) {
	out := append([]catalog.Tag(nil), tags...)
	for _, t := range add {
		i := sort.Search(len(out), func(i int) bool { return out[i].Key >= t.Key })
		switch {
		case i < len(out) && out[i].Key == t.Key:
			out[i].Value = t.Value
		default:
			out = append(out, catalog.Tag{})
			copy(out[i+1:], out[i:])
			out[i] = catalog.Tag{Key: t.Key, Value: t.Value}
		}
	}
	if len(out) > maxTags {
		return nil, api.Errorf(api.CodeLimitExceeded, "A delivery stream cannot have more than %d tags.", maxTags)
	}
	return out, nil
}

func (s *service) TagDeliveryStream(ctx context.Context, in *api.TagDeliveryStreamInput) (*api.Empty, error) {
	_, err := s.cat.Update(ctx, in.DeliveryStreamName, func(st *catalog.Stream) error {
		if err := s.mutable(st); err != nil {
			return err
		}
		tags, err := mergeTags(st.Tags, in.Tags)
		st.Tags = tags
		return err
	})
	return s.emptyOr(in.DeliveryStreamName, err)
}

func (s *service) UntagDeliveryStream(ctx context.Context, in *api.UntagDeliveryStreamInput) (*api.Empty, error) {
	_, err := s.cat.Update(ctx, in.DeliveryStreamName, func(st *catalog.Stream) error {
		if err := s.mutable(st); err != nil {
			return err
		}
		drop := map[string]bool{}
		for _, k := range in.TagKeys {
			drop[k] = true
		}
		kept := st.Tags[:0]
		for _, t := range st.Tags {
			if !drop[t.Key] {
				kept = append(kept, t)
			}
		}
		st.Tags = kept
		return nil
	})
	return s.emptyOr(in.DeliveryStreamName, err)
}

// mutable refuses changes to a stream that is being deleted.
func (s *service) mutable(st *catalog.Stream) error {
	if st.Status == string(api.StatusDeleting) {
		return api.Errorf(api.CodeResourceInUse, "Firehose %s under account %s is being deleted.", st.Name, s.account)
	}
	return nil
}

func (s *service) emptyOr(name string, err error) (*api.Empty, error) {
	if errors.Is(err, catalog.ErrNotFound) {
		return nil, s.notFound(name)
	}
	if err != nil {
		return nil, err
	}
	return &api.Empty{}, nil
}

func (s *service) ListTagsForDeliveryStream(ctx context.Context, in *api.ListTagsForDeliveryStreamInput) (*api.ListTagsForDeliveryStreamOutput, error) {
	st, err := s.get(in.DeliveryStreamName)
	if err != nil {
		return nil, err
	}
	limit := maxTags
	if in.Limit != nil {
		limit = *in.Limit
	}
	out := &api.ListTagsForDeliveryStreamOutput{Tags: []api.Tag{}}
	for _, t := range st.Tags {
		if in.ExclusiveStartTagKey != "" && t.Key <= in.ExclusiveStartTagKey {
			continue
		}
		if len(out.Tags) == limit {
			out.HasMoreTags = true
			break
		}
		out.Tags = append(out.Tags, api.Tag{Key: t.Key, Value: t.Value})
	}
	return out, nil
}

func (s *service) StartDeliveryStreamEncryption(ctx context.Context, in *api.StartDeliveryStreamEncryptionInput) (*api.Empty, error) {
	cfg := in.DeliveryStreamEncryptionConfigurationInput
	if cfg == nil {
		cfg = &api.DeliveryStreamEncryptionConfigurationInput{KeyType: "AWS_OWNED_CMK"}
	}
	if err := checkKey(cfg); err != nil {
		return nil, err
	}
	return s.encryption(ctx, in.DeliveryStreamName, api.EncryptionEnabling, api.EncryptionEnabled, cfg)
}

func (s *service) StopDeliveryStreamEncryption(ctx context.Context, in *api.StopDeliveryStreamEncryptionInput) (*api.Empty, error) {
	return s.encryption(ctx, in.DeliveryStreamName, api.EncryptionDisabling, api.EncryptionDisabled, nil)
}

// encryption runs the encryption status machine: a transitional status now, the final one
// shortly after, within the limit of 25 Start/Stop calls per stream per 24 hours.
func (s *service) encryption(ctx context.Context, name string, via, to api.EncryptionStatus, cfg *api.DeliveryStreamEncryptionConfigurationInput) (*api.Empty, error) {
	now := s.now().UTC()
	_, err := s.cat.Update(ctx, name, func(st *catalog.Stream) error {
		if st.Type != string(api.DirectPut) {
			return api.Errorf(api.CodeInvalidArgument, "This operation is not permitted on %s delivery stream type.", st.Type)
		}
		if st.Status != string(api.StatusActive) {
			return api.Errorf(api.CodeResourceInUse, "Firehose %s under account %s is not ACTIVE (status %s).", st.Name, s.account, st.Status)
		}
		recent := st.Encryption.Calls[:0]
		for _, t := range st.Encryption.Calls {
			if now.Sub(t) < 24*time.Hour {
				recent = append(recent, t)
			}
		}
		if len(recent) >= maxEncryptionCalls {
			return api.Errorf(api.CodeLimitExceeded, "You have exceeded the limit of %d StartDeliveryStreamEncryption and StopDeliveryStreamEncryption calls for %s in 24 hours.", maxEncryptionCalls, st.Name)
		}
		st.Encryption.Calls = append(recent, now)
		st.Encryption.Status = string(via)
		if cfg != nil {
			st.Encryption.KeyType, st.Encryption.KeyARN = cfg.KeyType, cfg.KeyARN
		} else {
			st.Encryption.KeyType, st.Encryption.KeyARN = "", ""
		}
		return nil
	})
	if err != nil {
		return s.emptyOr(name, err)
	}
	s.async(func(ctx context.Context) {
		_, err := s.cat.Update(ctx, name, func(st *catalog.Stream) error {
			if st.Encryption.Status == string(via) {
				st.Encryption.Status = string(to)
			}
			return nil
		})
		if err != nil && !errors.Is(err, catalog.ErrNotFound) {
			s.log.Error("finish encryption change", "stream", name, "err", err)
		}
	})
	return &api.Empty{}, nil
}

// putRefusal returns the error refusing puts to a stream that cannot take them, or nil.
func (s *service) putRefusal(st catalog.Stream) error {
	if st.Type != string(api.DirectPut) {
		return api.Errorf(api.CodeInvalidArgument, "This operation is not permitted on %s delivery stream type.", st.Type)
	}
	switch api.DeliveryStreamStatus(st.Status) {
	case api.StatusActive, api.StatusDeleting:
		return nil
	default:
		return api.Errorf(api.CodeResourceNotFound, "Firehose %s under account %s is not ACTIVE (status %s).", st.Name, s.account, strings.ToUpper(st.Status))
	}
}
