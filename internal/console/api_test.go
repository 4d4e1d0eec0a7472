package console

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// apiNow is the clock of the API tests: 30 s into a minute.
var apiNow = time.Date(2025, 3, 14, 12, 0, 30, 0, time.UTC)

func apiFixture(t testing.TB) *Handler {
	t.Helper()
	return apiHandler(apiSource(t))
}

// apiHandler serves src at apiNow.
func apiHandler(src Source) *Handler {
	h := New(src, nil)
	h.now = func() time.Time { return apiNow }
	return h
}

// apiSource returns five streams: one delivering to S3 with metrics, objects and a failure,
// two with source readers, and one delivering to an HTTP endpoint with metrics.
func apiSource(t testing.TB) *fakeSource {
	t.Helper()
	f := newFakeSource()
	created := time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)
	// Added out of order: the list sorts by name.
	f.add(StreamSummary{Name: "orders", Status: "CREATING", Type: "DirectPut", Destination: "S3", Bucket: "arn:aws:s3:::orders", Created: created},
		`{"DeliveryStreamName":"orders","DeliveryStreamStatus":"CREATING"}`)
	f.add(StreamSummary{Name: "clicks", Status: "ACTIVE", Type: "DirectPut", Destination: "S3", Bucket: "arn:aws:s3:::clicks", Created: created},
		`{"DeliveryStreamName":"clicks","DeliveryStreamStatus":"ACTIVE"}`)
	m := func(d time.Duration) time.Time { return apiNow.Truncate(time.Minute).Add(d) }
	// Two source streams; the MSK one's reader is retrying after an error.
	f.add(StreamSummary{Name: "trades", Status: "ACTIVE", Type: "KinesisStreamAsSource", Destination: "S3", Bucket: "arn:aws:s3:::trades", Created: created},
		`{"DeliveryStreamName":"trades","DeliveryStreamType":"KinesisStreamAsSource"}`)
	f.reading("trades", SourceStatus{
		Kind: "Kinesis", Source: "arn:aws:kinesis:us-east-1:123456789012:stream/trades", State: "reading",
		LagMillis: 2500, Records: 1200, Bytes: 480000, Throttled: 3,
		Parts: []Part{
			{ID: "shardId-000000000000", Position: "49590338271490256608559692538361571095921575989136588898", Done: true},
			{ID: "shardId-000000000001", Position: "49590338271512557353758223161503106631639848637498130450", LagMillis: 2500},
		},
	})
	f.add(StreamSummary{Name: "telemetry", Status: "ACTIVE", Type: "MSKAsSource", Destination: "S3", Bucket: "arn:aws:s3:::telemetry", Created: created},
		`{"DeliveryStreamName":"telemetry","DeliveryStreamType":"MSKAsSource"}`)
	f.reading("telemetry", SourceStatus{
		Kind: "MSK", Source: "arn:aws:kafka:us-east-1:123456789012:cluster/iot/abc-1 sensors", State: "retrying",
		LagRecords: 42, Records: 10, Bytes: 1000,
		LastError: "fetch: connection refused", LastErrorAt: m(-time.Minute),
		Parts: []Part{{ID: "0", Position: "7", LagRecords: 40}, {ID: "1", Position: "3", LagRecords: 2}},
	})
	f.point("clicks", IncomingRecords, m(-3*time.Minute), 999) // outside the rate window
	f.point("clicks", IncomingRecords, m(-time.Minute), 600)
	f.point("clicks", IncomingRecords, m(0), 300)
	f.point("clicks", IncomingBytes, m(-time.Minute), 60000)
	f.point("clicks", IncomingBytes, m(0), 30000)
	f.point("clicks", IncomingBytes, m(0).Add(10*time.Second), 1000) // a second point in the minute adds up
	f.point("clicks", "DeliveryToS3.Bytes", m(-2*time.Minute), 50000)
	f.point("clicks", "DeliveryToS3.DataFreshness", m(-2*time.Minute), 70)
	f.point("clicks", "DeliveryToS3.DataFreshness", m(-time.Minute), 42)
	f.point("clicks", "DeliveryToS3.DataFreshness", m(-time.Minute).Add(5*time.Second), 45) // Maximum keeps the larger
	// hooks delivers to an HTTP endpoint: its DeliveryToHttpEndpoint metrics are charted and
	// give its freshness; S3 ones, were there any, are not read.
	f.add(StreamSummary{Name: "hooks", Status: "ACTIVE", Type: "DirectPut", Destination: "HttpEndpoint", Created: created},
		`{"DeliveryStreamName":"hooks","DeliveryStreamStatus":"ACTIVE"}`)
	f.point("hooks", IncomingRecords, m(-time.Minute), 90)
	f.point("hooks", "DeliveryToHttpEndpoint.Bytes", m(-time.Minute), 7000)
	f.point("hooks", "DeliveryToHttpEndpoint.Records", m(-time.Minute), 70)
	f.point("hooks", "DeliveryToHttpEndpoint.DataFreshness", m(-time.Minute), 12)
	f.point("hooks", "DeliveryToHttpEndpoint.DataFreshness", m(0), 3)
	f.point("hooks", "DeliveryToS3.Bytes", m(-time.Minute), 999)
	f.point("hooks", "DeliveryToS3.DataFreshness", m(0), 999)
	f.delivered("clicks", Object{Time: m(-2 * time.Minute), Bucket: "clicks", Key: "2025/03/14/11/a.gz", Bytes: 1024, Records: 10})
	f.delivered("clicks", Object{Time: m(-time.Minute), Bucket: "clicks", Key: "2025/03/14/11/b.gz", Bytes: 2048, Records: 20})
	f.failed("clicks", Failure{Time: m(-time.Minute), Kind: "delivery", Code: "S3.AccessDenied", Message: "Access Denied"})
	f.journal = JournalSpace{StoreBytes: 300 << 20, LimitBytes: 900 << 20, ReservedBytes: 64 << 20, DiskBytes: 1 << 30, DiskFreeBytes: 600 << 20}
	f.memory = MemoryBudget{LimitBytes: 192 << 20, UsedBytes: 40 << 20, PeakBytes: 180 << 20, Refusals: 7, RefusedRequests: 5}
	return f
}

func TestAPI(t *testing.T) {
	h := apiFixture(t)
	zeros := func(n int) string { return strings.TrimSuffix(strings.Repeat("0,", n), ",") }
	tests := []struct {
		name   string
		path   string
		status int
		want   string
	}{
		{
			name: "list", path: "/console/api/streams", status: 200,
			want: `{"now":"2025-03-14T12:00:30Z",
				"journal":{"storeBytes":314572800,"limitBytes":943718400,"reservedBytes":67108864,"diskBytes":1073741824,"diskFreeBytes":629145600,"full":false},
				"memory":{"limitBytes":201326592,"usedBytes":41943040,"peakBytes":188743680,"refusals":7,"refusedRequests":5},
				"streams":[
				{"name":"clicks","status":"ACTIVE","type":"DirectPut","destination":"S3","bucket":"arn:aws:s3:::clicks","created":"2025-03-01T09:00:00Z",
				 "incomingRecordsPerSecond":10,"incomingBytesPerSecond":1011.1111111111111,"freshnessSeconds":45,
				 "trend":[` + zeros(28) + `,60000,31000]},
				{"name":"hooks","status":"ACTIVE","type":"DirectPut","destination":"HttpEndpoint","bucket":"","created":"2025-03-01T09:00:00Z",
				 "incomingRecordsPerSecond":1,"incomingBytesPerSecond":0,"freshnessSeconds":3,
				 "trend":[` + zeros(30) + `]},
				{"name":"orders","status":"CREATING","type":"DirectPut","destination":"S3","bucket":"arn:aws:s3:::orders","created":"2025-03-01T09:00:00Z",
				 "incomingRecordsPerSecond":0,"incomingBytesPerSecond":0,"freshnessSeconds":null,
				 "trend":[` + zeros(30) + `]},
				{"name":"telemetry","status":"ACTIVE","type":"MSKAsSource","destination":"S3","bucket":"arn:aws:s3:::telemetry","created":"2025-03-01T09:00:00Z",
				 "incomingRecordsPerSecond":0,"incomingBytesPerSecond":0,"freshnessSeconds":null,
				 "trend":[` + zeros(30) + `]},
				{"name":"trades","status":"ACTIVE","type":"KinesisStreamAsSource","destination":"S3","bucket":"arn:aws:s3:::trades","created":"2025-03-01T09:00:00Z",
				 "incomingRecordsPerSecond":0,"incomingBytesPerSecond":0,"freshnessSeconds":null,
				 "trend":[` + zeros(30) + `]}]}`,
		},
		{
			name: "detail of a DirectPut stream has no source", path: "/console/api/streams/orders", status: 200,
			want: `{"now":"2025-03-14T12:00:30Z",
				"stream":{"name":"orders","status":"CREATING","type":"DirectPut","destination":"S3","bucket":"arn:aws:s3:::orders","created":"2025-03-01T09:00:00Z",
				 "incomingRecordsPerSecond":0,"incomingBytesPerSecond":0,"freshnessSeconds":null},
				"description":{"DeliveryStreamName":"orders","DeliveryStreamStatus":"CREATING"}}`,
		},
		{
			name: "detail of a Kinesis source stream", path: "/console/api/streams/trades", status: 200,
			want: `{"now":"2025-03-14T12:00:30Z",
				"stream":{"name":"trades","status":"ACTIVE","type":"KinesisStreamAsSource","destination":"S3","bucket":"arn:aws:s3:::trades","created":"2025-03-01T09:00:00Z",
				 "incomingRecordsPerSecond":0,"incomingBytesPerSecond":0,"freshnessSeconds":null},
				"description":{"DeliveryStreamName":"trades","DeliveryStreamType":"KinesisStreamAsSource"},
				"source":{"kind":"Kinesis","source":"arn:aws:kinesis:us-east-1:123456789012:stream/trades","state":"reading",
				 "lagMillis":2500,"lagRecords":0,"records":1200,"bytes":480000,"throttled":3,"lastError":"","lastErrorAt":null,
				 "parts":[
				 {"id":"shardId-000000000000","position":"49590338271490256608559692538361571095921575989136588898","done":true,"lagMillis":0,"lagRecords":0},
				 {"id":"shardId-000000000001","position":"49590338271512557353758223161503106631639848637498130450","done":false,"lagMillis":2500,"lagRecords":0}]}}`,
		},
		{
			name: "detail of an MSK source stream", path: "/console/api/streams/telemetry", status: 200,
			want: `{"now":"2025-03-14T12:00:30Z",
				"stream":{"name":"telemetry","status":"ACTIVE","type":"MSKAsSource","destination":"S3","bucket":"arn:aws:s3:::telemetry","created":"2025-03-01T09:00:00Z",
				 "incomingRecordsPerSecond":0,"incomingBytesPerSecond":0,"freshnessSeconds":null},
				"description":{"DeliveryStreamName":"telemetry","DeliveryStreamType":"MSKAsSource"},
				"source":{"kind":"MSK","source":"arn:aws:kafka:us-east-1:123456789012:cluster/iot/abc-1 sensors","state":"retrying",
				 "lagMillis":0,"lagRecords":42,"records":10,"bytes":1000,"throttled":0,
				 "lastError":"fetch: connection refused","lastErrorAt":"2025-03-14T11:59:00Z",
				 "parts":[
				 {"id":"0","position":"7","done":false,"lagMillis":0,"lagRecords":40},
				 {"id":"1","position":"3","done":false,"lagMillis":0,"lagRecords":2}]}}`,
		},
		{
			name: "detail of a missing stream", path: "/console/api/streams/nope", status: 404,
			want: `{"error":"delivery stream \"nope\" not found"}`,
		},
		{
			name: "metrics", path: "/console/api/streams/clicks/metrics?minutes=2", status: 200,
			want: `{"now":"2025-03-14T12:00:30Z","start":"2025-03-14T11:58:00Z","stepSeconds":60,"series":[
				{"metric":"IncomingBytes","role":"incomingBytes","stat":"Sum","points":[{"time":"2025-03-14T11:58:00Z","value":0},{"time":"2025-03-14T11:59:00Z","value":60000},{"time":"2025-03-14T12:00:00Z","value":31000}]},
				{"metric":"IncomingRecords","role":"incomingRecords","stat":"Sum","points":[{"time":"2025-03-14T11:58:00Z","value":0},{"time":"2025-03-14T11:59:00Z","value":600},{"time":"2025-03-14T12:00:00Z","value":300}]},
				{"metric":"DeliveryToS3.Bytes","role":"deliveredBytes","stat":"Sum","points":[{"time":"2025-03-14T11:58:00Z","value":50000},{"time":"2025-03-14T11:59:00Z","value":0},{"time":"2025-03-14T12:00:00Z","value":0}]},
				{"metric":"DeliveryToS3.Records","role":"deliveredRecords","stat":"Sum","points":[{"time":"2025-03-14T11:58:00Z","value":0},{"time":"2025-03-14T11:59:00Z","value":0},{"time":"2025-03-14T12:00:00Z","value":0}]},
				{"metric":"DeliveryToS3.DataFreshness","role":"freshness","stat":"Maximum","points":[{"time":"2025-03-14T11:58:00Z","value":70},{"time":"2025-03-14T11:59:00Z","value":45},{"time":"2025-03-14T12:00:00Z","value":null}]}]}`,
		},
		{
			name: "detail of an HTTP endpoint stream: its freshness", path: "/console/api/streams/hooks", status: 200,
			want: `{"now":"2025-03-14T12:00:30Z",
				"stream":{"name":"hooks","status":"ACTIVE","type":"DirectPut","destination":"HttpEndpoint","bucket":"","created":"2025-03-01T09:00:00Z",
				 "incomingRecordsPerSecond":1,"incomingBytesPerSecond":0,"freshnessSeconds":3},
				"description":{"DeliveryStreamName":"hooks","DeliveryStreamStatus":"ACTIVE"}}`,
		},
		{
			name: "metrics of an HTTP endpoint stream", path: "/console/api/streams/hooks/metrics?minutes=1", status: 200,
			want: `{"now":"2025-03-14T12:00:30Z","start":"2025-03-14T11:59:00Z","stepSeconds":60,"series":[
				{"metric":"IncomingBytes","role":"incomingBytes","stat":"Sum","points":[{"time":"2025-03-14T11:59:00Z","value":0},{"time":"2025-03-14T12:00:00Z","value":0}]},
				{"metric":"IncomingRecords","role":"incomingRecords","stat":"Sum","points":[{"time":"2025-03-14T11:59:00Z","value":90},{"time":"2025-03-14T12:00:00Z","value":0}]},
				{"metric":"DeliveryToHttpEndpoint.Bytes","role":"deliveredBytes","stat":"Sum","points":[{"time":"2025-03-14T11:59:00Z","value":7000},{"time":"2025-03-14T12:00:00Z","value":0}]},
				{"metric":"DeliveryToHttpEndpoint.Records","role":"deliveredRecords","stat":"Sum","points":[{"time":"2025-03-14T11:59:00Z","value":70},{"time":"2025-03-14T12:00:00Z","value":0}]},
				{"metric":"DeliveryToHttpEndpoint.DataFreshness","role":"freshness","stat":"Maximum","points":[{"time":"2025-03-14T11:59:00Z","value":12},{"time":"2025-03-14T12:00:00Z","value":3}]}]}`,
		},
		{
			name: "metrics with a bad range", path: "/console/api/streams/clicks/metrics?minutes=0", status: 400,
			want: `{"error":"minutes must be an integer from 1 to 1440"}`,
		},
		{
			name: "metrics of a missing stream", path: "/console/api/streams/nope/metrics", status: 404,
			want: `{"error":"delivery stream \"nope\" not found"}`,
		},
		{
			name: "objects", path: "/console/api/streams/clicks/objects?limit=1", status: 200,
			want: `{"now":"2025-03-14T12:00:30Z","objects":[
				{"time":"2025-03-14T11:59:00Z","bucket":"clicks","key":"2025/03/14/11/b.gz","bytes":2048,"records":20}]}`,
		},
		{
			name: "no objects yet", path: "/console/api/streams/orders/objects", status: 200,
			want: `{"now":"2025-03-14T12:00:30Z","objects":[]}`,
		},
		{
			name: "objects with a bad limit", path: "/console/api/streams/clicks/objects?limit=x", status: 400,
			want: `{"error":"limit must be an integer from 1 to 200"}`,
		},
		{
			name: "failures", path: "/console/api/streams/clicks/failures", status: 200,
			want: `{"now":"2025-03-14T12:00:30Z","failures":[
				{"time":"2025-03-14T11:59:00Z","kind":"delivery","code":"S3.AccessDenied","message":"Access Denied"}]}`,
		},
		{
			name: "no failures", path: "/console/api/streams/orders/failures", status: 200,
			want: `{"now":"2025-03-14T12:00:30Z","failures":[]}`,
		},
		{
			name: "unknown route", path: "/console/api/nothing", status: 404,
			want: `{"error":"no such API route"}`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := serve(t, h, http.MethodGet, tc.path)
			if res.Code != tc.status {
				t.Errorf("status = %d, want %d", res.Code, tc.status)
			}
			if got := res.Header().Get("Content-Type"); got != "application/json" {
				t.Errorf("Content-Type = %q, want application/json", got)
			}
			if diff := cmp.Diff(decode(t, tc.want), decode(t, res.Body.String())); diff != "" {
				t.Errorf("body mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestAPIDeliveryMetrics checks the delivery metrics picked by destination kind, and the
// statistic read of each.
func TestAPIDeliveryMetrics(t *testing.T) {
	s3 := DeliveryMetricsOf("ExtendedS3")
	tests := []struct {
		kind string
		want DeliveryMetrics
	}{
		{"ExtendedS3", DeliveryMetrics{"DeliveryToS3.Bytes", "DeliveryToS3.Records", "DeliveryToS3.DataFreshness"}},
		{"HttpEndpoint", DeliveryMetrics{"DeliveryToHttpEndpoint.Bytes", "DeliveryToHttpEndpoint.Records", "DeliveryToHttpEndpoint.DataFreshness"}},
		{"Redshift", s3}, // unknown kinds get S3's
		{"", s3},
	}
	for _, tc := range tests {
		got := DeliveryMetricsOf(tc.kind)
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("DeliveryMetricsOf(%q) mismatch (-want +got):\n%s", tc.kind, diff)
		}
		stats := []string{Stat(got.Bytes), Stat(got.Records), Stat(got.Freshness), Stat(IncomingBytes)}
		if diff := cmp.Diff([]string{"Sum", "Sum", "Maximum", "Sum"}, stats); diff != "" {
			t.Errorf("Stat of the metrics of %q mismatch (-want +got):\n%s", tc.kind, diff)
		}
	}
}

// TestAPICluster checks what the API adds on a node of a cluster: the nodes, the node that
// delivers each stream, and a notice when the metrics hold only this node's share.
func TestAPICluster(t *testing.T) {
	started := time.Date(2025, 3, 14, 9, 0, 0, 0, time.UTC)
	cluster := Cluster{
		Node: "n1", Replicas: 3,
		Nodes: []Node{ // out of order: the API sorts them by name
			{Name: "n2", Addr: "10.0.0.2:4573", Started: started, Live: true},
			{Name: "n1", Addr: "10.0.0.1:4573", Started: started.Add(time.Hour), Live: true},
			{Name: "n3", Addr: "10.0.0.3:4573", Live: false},
		},
		// n4 holds a lease without a heartbeat seen: shown, down.
		Owners: map[string]string{"clicks": "n1", "orders": "n2", "trades": "n1", "telemetry": "n4"},
	}
	const clusterJSON = `{"node":"n1","replicas":3,"nodes":[
		{"name":"n1","addr":"10.0.0.1:4573","started":"2025-03-14T10:00:00Z","live":true,"self":true,"streams":2},
		{"name":"n2","addr":"10.0.0.2:4573","started":"2025-03-14T09:00:00Z","live":true,"self":false,"streams":1},
		{"name":"n3","addr":"10.0.0.3:4573","started":null,"live":false,"self":false,"streams":0},
		{"name":"n4","addr":"","started":null,"live":false,"self":false,"streams":1}]}`
	const rows = `[{"name":"clicks","deliveredBy":"n1","incomingRecordsPerSecond":10},{"name":"hooks","incomingRecordsPerSecond":1},{"name":"orders","deliveredBy":"n2","incomingRecordsPerSecond":0},
		{"name":"telemetry","deliveredBy":"n4","incomingRecordsPerSecond":0},{"name":"trades","deliveredBy":"n1","incomingRecordsPerSecond":0}]`
	incomplete := &IncompleteError{Nodes: []string{"n3", "n2"}, Err: errors.New("metrics of some node unavailable: node n2: timeout\nnode n3: no responders")}
	tests := []struct {
		name    string
		cluster bool
		readErr error
		path    string
		want    string // the response's cluster, incomplete, and streams (or stream) reduced by project
	}{
		{
			name: "single node: no cluster, no delivering node", path: "/console/api/streams",
			want: `{"streams":[{"name":"clicks","incomingRecordsPerSecond":10},{"name":"hooks","incomingRecordsPerSecond":1},{"name":"orders","incomingRecordsPerSecond":0},
				{"name":"telemetry","incomingRecordsPerSecond":0},{"name":"trades","incomingRecordsPerSecond":0}]}`,
		},
		{
			name: "list in a cluster", cluster: true, path: "/console/api/streams",
			want: `{"cluster":` + clusterJSON + `,"streams":` + rows + `}`,
		},
		{
			name: "detail in a cluster", cluster: true, path: "/console/api/streams/orders",
			want: `{"cluster":` + clusterJSON + `,"stream":{"name":"orders","deliveredBy":"n2","incomingRecordsPerSecond":0}}`,
		},
		{
			name: "list with nodes silent: this node's share and a notice", cluster: true, readErr: incomplete, path: "/console/api/streams",
			want: `{"cluster":` + clusterJSON + `,"streams":` + rows + `,
				"incomplete":{"nodes":["n2","n3"],"error":"metrics of some node unavailable: node n2: timeout\nnode n3: no responders"}}`,
		},
		{
			name: "detail with nodes silent", cluster: true, readErr: incomplete, path: "/console/api/streams/clicks",
			want: `{"cluster":` + clusterJSON + `,"stream":{"name":"clicks","deliveredBy":"n1","incomingRecordsPerSecond":10},
				"incomplete":{"nodes":["n2","n3"],"error":"metrics of some node unavailable: node n2: timeout\nnode n3: no responders"}}`,
		},
		{
			name: "metrics with nodes silent", cluster: true, readErr: incomplete, path: "/console/api/streams/clicks/metrics?minutes=1",
			want: `{"incomplete":{"nodes":["n2","n3"],"error":"metrics of some node unavailable: node n2: timeout\nnode n3: no responders"},
				"series":[
				{"metric":"IncomingBytes","role":"incomingBytes","stat":"Sum","points":[{"time":"2025-03-14T11:59:00Z","value":60000},{"time":"2025-03-14T12:00:00Z","value":31000}]},
				{"metric":"IncomingRecords","role":"incomingRecords","stat":"Sum","points":[{"time":"2025-03-14T11:59:00Z","value":600},{"time":"2025-03-14T12:00:00Z","value":300}]},
				{"metric":"DeliveryToS3.Bytes","role":"deliveredBytes","stat":"Sum","points":[{"time":"2025-03-14T11:59:00Z","value":0},{"time":"2025-03-14T12:00:00Z","value":0}]},
				{"metric":"DeliveryToS3.Records","role":"deliveredRecords","stat":"Sum","points":[{"time":"2025-03-14T11:59:00Z","value":0},{"time":"2025-03-14T12:00:00Z","value":0}]},
				{"metric":"DeliveryToS3.DataFreshness","role":"freshness","stat":"Maximum","points":[{"time":"2025-03-14T11:59:00Z","value":45},{"time":"2025-03-14T12:00:00Z","value":null}]}]}`,
		},
		{
			name: "metrics failing without naming nodes", cluster: true, readErr: errors.New("read metrics: context deadline exceeded"), path: "/console/api/streams/orders/metrics?minutes=1",
			want: `{"incomplete":{"nodes":[],"error":"read metrics: context deadline exceeded"},
				"series":[
				{"metric":"IncomingBytes","role":"incomingBytes","stat":"Sum","points":[{"time":"2025-03-14T11:59:00Z","value":0},{"time":"2025-03-14T12:00:00Z","value":0}]},
				{"metric":"IncomingRecords","role":"incomingRecords","stat":"Sum","points":[{"time":"2025-03-14T11:59:00Z","value":0},{"time":"2025-03-14T12:00:00Z","value":0}]},
				{"metric":"DeliveryToS3.Bytes","role":"deliveredBytes","stat":"Sum","points":[{"time":"2025-03-14T11:59:00Z","value":0},{"time":"2025-03-14T12:00:00Z","value":0}]},
				{"metric":"DeliveryToS3.Records","role":"deliveredRecords","stat":"Sum","points":[{"time":"2025-03-14T11:59:00Z","value":0},{"time":"2025-03-14T12:00:00Z","value":0}]},
				{"metric":"DeliveryToS3.DataFreshness","role":"freshness","stat":"Maximum","points":[{"time":"2025-03-14T11:59:00Z","value":null},{"time":"2025-03-14T12:00:00Z","value":null}]}]}`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := apiSource(t)
			if tc.cluster {
				f.clustered(cluster)
			}
			f.failReads(tc.readErr)
			res := serve(t, apiHandler(f), http.MethodGet, tc.path)
			if res.Code != http.StatusOK {
				t.Errorf("status = %d, want 200", res.Code)
			}
			if diff := cmp.Diff(decode(t, tc.want), project(decode(t, res.Body.String()))); diff != "" {
				t.Errorf("body mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// project keeps of an API response what concerns the cluster: the cluster, the notice of
// incomplete metrics, the series, and of each stream its name, rate and delivering node.
func project(v any) any {
	m, _ := v.(map[string]any)
	out := map[string]any{}
	stream := func(s any) any {
		sm, _ := s.(map[string]any)
		r := map[string]any{"name": sm["name"], "incomingRecordsPerSecond": sm["incomingRecordsPerSecond"]}
		if d, ok := sm["deliveredBy"]; ok {
			r["deliveredBy"] = d
		}
		return r
	}
	for k, x := range m {
		switch k {
		case "cluster", "incomplete", "series":
			out[k] = x
		case "stream":
			out[k] = stream(x)
		case "streams":
			list, _ := x.([]any)
			rows := []any{}
			for _, s := range list {
				rows = append(rows, stream(s))
			}
			out[k] = rows
		}
	}
	return out
}

func TestPages(t *testing.T) {
	h := apiFixture(t)
	tests := []struct {
		name, method, path string
		status             int
		contentType        string
		contains           string
	}{
		{"list page", "GET", "/console/", 200, "text/html; charset=utf-8", `<script type="module" src="/console/assets/app.js">`},
		{"stream page", "GET", "/console/streams/clicks", 200, "text/html; charset=utf-8", `<main id="app"`},
		{"head of the page", "HEAD", "/console/", 200, "text/html; charset=utf-8", ""},
		{"script", "GET", "/console/assets/app.js", 200, "text/javascript; charset=utf-8", "class StreamView"},
		{"stylesheet", "GET", "/console/assets/style.css", 200, "text/css; charset=utf-8", ":root"},
		{"missing asset", "GET", "/console/assets/nope.js", 404, "text/plain; charset=utf-8", ""},
		{"other page", "GET", "/console/elsewhere", 404, "text/plain; charset=utf-8", ""},
		{"wrong method", "POST", "/console/api/streams", 405, "text/plain; charset=utf-8", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := serve(t, h, tc.method, tc.path)
			if res.Code != tc.status {
				t.Errorf("status = %d, want %d", res.Code, tc.status)
			}
			if got := res.Header().Get("Content-Type"); got != tc.contentType {
				t.Errorf("Content-Type = %q, want %q", got, tc.contentType)
			}
			if got := res.Header().Get("Content-Security-Policy"); !strings.Contains(got, "default-src 'self'") {
				t.Errorf("Content-Security-Policy = %q, want default-src 'self'", got)
			}
			if body := res.Body.String(); !strings.Contains(body, tc.contains) {
				t.Errorf("body does not contain %q:\n%.300s", tc.contains, body)
			}
		})
	}
}

// TestMount checks the handler works mounted the way the server mounts it.
func TestMount(t *testing.T) {
	mux := http.NewServeMux()
	mux.Handle("/console/", apiFixture(t))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	res, err := srv.Client().Get(srv.URL + "/console")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 || res.Request.URL.Path != "/console/" || !strings.Contains(string(body), "Hydrant console") {
		t.Errorf("GET /console ended at %s with %d, want the page at /console/", res.Request.URL.Path, res.StatusCode)
	}
}

func serve(t testing.TB, h http.Handler, method, path string) *httptest.ResponseRecorder {
	t.Helper()
	res := httptest.NewRecorder()
	h.ServeHTTP(res, httptest.NewRequest(method, path, nil))
	return res
}

func decode(t testing.TB, s string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("decode %q: %v", s, err)
	}
	return v
}
