package console

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/google/go-cmp/cmp"

	"github.com/hydrant-dev/hydrant/internal/testenv"
)

var updateDocs = flag.Bool("update-docs", false, "write ../../docs/images/console.png and console-cluster.png from the browser test")

// chromiumPath is Debian's chromium, or $HYDRANT_CHROMIUM.
func chromiumPath() string {
	if p := os.Getenv("HYDRANT_CHROMIUM"); p != "" {
		return p
	}
	return "/usr/bin/chromium"
}

// artifactDir is where the browser test saves its screenshots: $HYDRANT_TEST_ARTIFACTS/console,
// else a temporary directory of the test.
func artifactDir(t testing.TB) string {
	t.Helper()
	base := os.Getenv("HYDRANT_TEST_ARTIFACTS")
	if base == "" {
		return t.TempDir()
	}
	dir := filepath.Join(base, "console")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// startBrowser starts a headless chromium with a fresh profile and returns a tab's context.
func startBrowser(t testing.TB) context.Context {
	t.Helper()
	bin := chromiumPath()
	if _, err := os.Stat(bin); err != nil {
		reason := fmt.Sprintf("chromium not found at %s (apt-get install -y chromium, or set HYDRANT_CHROMIUM)", bin)
		if testenv.RequireTools() {
			t.Fatal(reason)
		}
		t.Skip(reason)
	}
	ctx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(bin),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	t.Cleanup(cancelAlloc)
	ctx, cancelTab := chromedp.NewContext(ctx)
	t.Cleanup(cancelTab)
	if err := chromedp.Do(ctx); err != nil { // starts the browser; its life is ctx's
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// pageErrors collects the uncaught exceptions, console errors and browser log errors (such
// as Content-Security-Policy violations) of the tab.
type pageErrors struct {
	mu   sync.Mutex
	msgs []string
}

func (p *pageErrors) listen(ctx context.Context) {
	messages := chromedp.Console(ctx)
	go func() { // ends with ctx
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.IsException() {
				p.mu.Lock()
				p.msgs = append(p.msgs, fmt.Sprintf("%s (%s:%d)", m, m.URL, m.Line))
				p.mu.Unlock()
			}
		}
	}()
}

func (p *pageErrors) check(t testing.TB) {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, m := range p.msgs {
		t.Errorf("page error: %s", m)
	}
}

type css = chromedp.CSS

func TestBrowser(t *testing.T) {
	ctx := startBrowser(t)
	src := demoSource(time.Now())
	srv := httptest.NewServer(New(src, nil))
	t.Cleanup(srv.Close)
	dir := artifactDir(t)
	t.Logf("screenshots in %s", dir)
	var errs pageErrors
	errs.listen(ctx)

	do := func(step string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		if err := chromedp.Do(sctx, actions...); err != nil {
			shot(t, ctx, filepath.Join(dir, "failed.png"))
			t.Fatalf("%s: %v", step, err)
		}
	}
	text := func(sel string) string {
		t.Helper()
		sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		s, err := chromedp.Run(sctx, chromedp.Text(css(sel)))
		if err != nil {
			t.Fatalf("read %s: %v", sel, err)
		}
		return s
	}

	// The list shows both streams with their status.
	do("open the list",
		chromedp.Navigate(srv.URL+"/console/"),
		chromedp.WaitVisible(css(`tr[data-stream="clickstream-events"]`)),
		chromedp.WaitVisible(css(`tr[data-stream="app-logs"]`)),
		mark(),
	)
	for _, name := range []string{"clickstream-events", "app-logs"} {
		if got := text(`tr[data-stream="` + name + `"] .badge`); got != "ACTIVE" {
			t.Errorf("status of %s = %q, want ACTIVE", name, got)
		}
	}
	if got := text(`tr[data-stream="clickstream-events"] td[data-col="records"]`); got == "" || got == "0" || got == "—" {
		t.Errorf("records/s of clickstream-events = %q, want a rate", got)
	}
	// The freshness of a stream delivering to an HTTP endpoint is its DeliveryToHttpEndpoint's.
	if got := text(`tr[data-stream="webhook-events"] td[data-col="freshness"]`); !strings.HasSuffix(got, " s") {
		t.Errorf("freshness of webhook-events = %q, want seconds", got)
	}
	// A single node shows nothing of a cluster.
	if shown, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => {
		const p = document.querySelector('[data-panel="cluster"]');
		return (!!p && p.getClientRects().length > 0) || !!document.querySelector('td[data-col="node"], [data-notice]');
	})()`)); err != nil || shown {
		t.Errorf("a single node shows a cluster panel, a delivering node or a notice (%v)", err)
	}
	shot(t, ctx, filepath.Join(dir, "list.png"))

	// A stream created meanwhile appears without a reload.
	src.add(StreamSummary{Name: "orders-cdc", Status: "CREATING", Type: "DirectPut", Destination: "S3", Bucket: "arn:aws:s3:::orders", Created: time.Now()},
		`{"DeliveryStreamName":"orders-cdc","DeliveryStreamStatus":"CREATING","DeliveryStreamType":"DirectPut","Destinations":[]}`)
	do("see the new stream", chromedp.WaitVisible(css(`tr[data-stream="orders-cdc"]`)))
	if got := text(`tr[data-stream="orders-cdc"] .badge`); got != "CREATING" {
		t.Errorf("status of orders-cdc = %q, want CREATING", got)
	}
	expectNoReload(t, ctx)

	// A stream's page: configuration and charts.
	do("open a stream",
		chromedp.Click(css(`tr[data-stream="clickstream-events"] a`)),
		chromedp.WaitReady(css(`path.series[data-key="incomingBytes"]`)),
		chromedp.WaitVisible(css(`tr[data-key]`)),
	)
	if got := chartPoints(t, ctx, "incomingBytes", "incomingRecords", "deliveredBytes", "freshness"); got < 50 {
		t.Errorf("the charts' lines have at least %d points above zero, want 50 or more", got)
	}
	tip, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(() => {
		const hit = document.querySelector('.chart .hit');
		const b = hit.getBoundingClientRect();
		hit.dispatchEvent(new PointerEvent('pointermove', { clientX: b.left + b.width / 2, clientY: b.top + 10, bubbles: true }));
		const tip = document.querySelector('.chart-tip');
		return tip.hidden ? '' : tip.textContent;
	})()`))
	if err != nil || !strings.Contains(tip, "Incoming") || !strings.Contains(tip, "MiB") {
		t.Errorf("hovering the bytes chart shows %q (%v), want the incoming and delivered bytes of a minute", tip, err)
	}
	facts := text(`.facts`)
	for _, want := range []string{"Amazon S3", "analytics-raw", "64 MiB or 1 min", "GZIP", "MetadataExtraction", "Enabled"} {
		if !strings.Contains(facts, want) {
			t.Errorf("configuration %q does not mention %q", facts, want)
		}
	}
	do("open the JSON", chromedp.Click(css(`details.raw summary`)), chromedp.WaitVisible(css(`pre.json .j-key`)))
	do("close the JSON", chromedp.Click(css(`details.raw summary`)))
	if open, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector('details.raw').open`)); err != nil || open {
		t.Fatalf("the JSON is still open (%v)", err)
	}
	shot(t, ctx, filepath.Join(dir, "stream.png"))
	// The picture for docs/console.md: the top of the page, down to the charts.
	do("size the window for the docs", chromedp.EmulateViewport(1280, 1160), scrollTop(), chromedp.Sleep(300*time.Millisecond))
	shotViewport(t, ctx, filepath.Join(dir, "console.png"))
	if *updateDocs {
		shotViewport(t, ctx, filepath.Join("..", "..", "docs", "images", "console.png"))
	}
	do("restore the window", chromedp.ResetViewport())

	// A delivered object and a failure appear without a reload.
	now := time.Now()
	src.delivered("clickstream-events", Object{Time: now, Bucket: "analytics-raw", Key: "events/live-update-check.gz", Bytes: 4 << 20, Records: 5120})
	src.failed("clickstream-events", Failure{Time: now, Kind: "delivery", Code: "S3.SlowDown", Message: "live update check"})
	do("see the new object and failure",
		chromedp.WaitVisible(css(`tr[data-key="events/live-update-check.gz"]`)),
		chromedp.WaitVisible(`//td[contains(., "live update check")]`))
	expectNoReload(t, ctx)

	// The other pages.
	do("open the other stream",
		chromedp.Navigate(srv.URL+"/console/streams/app-logs"),
		chromedp.WaitReady(css(`path.series[data-key="deliveredBytes"]`)),
		chromedp.WaitVisible(css(`table.failures`)))
	shot(t, ctx, filepath.Join(dir, "stream-app-logs.png"))
	if shown, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => {
		const p = document.querySelector('[data-panel="source"]');
		return !!p && !p.hidden && p.getClientRects().length > 0;
	})()`)); err != nil || shown {
		t.Errorf("a DirectPut stream shows a source panel (%v)", err)
	}

	// A stream delivering to an HTTP endpoint: its charts and tiles show its
	// DeliveryToHttpEndpoint metrics.
	do("open an HTTP endpoint stream",
		chromedp.Navigate(srv.URL+"/console/streams/webhook-events"),
		chromedp.WaitReady(css(`path.series[data-key="deliveredRecords"]`)))
	if got := chartPoints(t, ctx, "deliveredBytes", "deliveredRecords", "freshness"); got < 50 {
		t.Errorf("the HTTP endpoint stream's delivered and freshness lines have at least %d points above zero, want 50 or more", got)
	}
	label, value, note := text(`[data-tile="delivered"] .tile-label`), text(`[data-tile="delivered"] .tile-value`), text(`[data-tile="delivered"] .tile-note`)
	if label != "Delivered to the endpoint, last hour" || !strings.HasSuffix(value, "MiB") || note == "0 records" {
		t.Errorf("delivered tile = %q %q %q, want the endpoint's bytes and records of the hour", label, value, note)
	}
	if got := text(`.chart-card .legend-item[data-key="deliveredBytes"]`); got != "Delivered to the endpoint" {
		t.Errorf("legend of the delivered bytes = %q, want Delivered to the endpoint", got)
	}
	if got := text(`.facts`); !strings.Contains(got, "HTTP endpoint") || !strings.Contains(got, "https://hooks.example.com/firehose") {
		t.Errorf("configuration %q does not show the HTTP endpoint", got)
	}
	shot(t, ctx, filepath.Join(dir, "stream-http-endpoint.png"))

	// A stream reading a Kinesis data stream: its source, lag and shards.
	do("open a Kinesis source stream",
		chromedp.Navigate(srv.URL+"/console/streams/orders-stream"),
		chromedp.WaitVisible(css(`section[data-panel="source"] tr[data-part="shardId-000000000003"]`)))
	panel := text(`section[data-panel="source"]`)
	for _, want := range []string{"Kinesis data stream", "arn:aws:kinesis:us-east-1:123456789012:stream/orders", "reading", "1,284,311 records", "912 MiB", "4 shards · 2 closed"} {
		if !strings.Contains(panel, want) {
			t.Errorf("source panel %q does not mention %q", panel, want)
		}
	}
	if got := text(`section[data-panel="source"] [data-fact="lag"]`); got != "4.2 s" {
		t.Errorf("lag = %q, want 4.2 s", got)
	}
	shards, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('table.parts tbody tr')].map((r) =>
		[r.dataset.part, r.dataset.done, r.querySelector('td[data-col="lag"]').textContent].join(' '))`))
	if err != nil {
		t.Fatal(err)
	}
	wantShards := []string{
		"shardId-000000000000 true —", "shardId-000000000001 true —",
		"shardId-000000000002 false 1.8 s", "shardId-000000000003 false 4.2 s",
	}
	if diff := cmp.Diff(wantShards, shards); diff != "" {
		t.Errorf("shard table mismatch (-want +got):\n%s", diff)
	}
	shot(t, ctx, filepath.Join(dir, "stream-kinesis.png"))

	// A stream reading an MSK topic, whose reader is retrying: lag in records and the error,
	// shown as text.
	do("open an MSK source stream",
		chromedp.Navigate(srv.URL+"/console/streams/iot-telemetry"),
		chromedp.WaitVisible(css(`section[data-panel="source"] tr[data-part="2"]`)))
	if got := text(`section[data-panel="source"] [data-fact="lag"]`); got != "18,250 records" {
		t.Errorf("lag = %q, want 18,250 records", got)
	}
	if got := text(`section[data-panel="source"] [data-fact="error"] dd`); !strings.Contains(got, "connection refused <retrying>") {
		t.Errorf("last error = %q, want the error as text", got)
	}
	panel = text(`section[data-panel="source"]`)
	for _, want := range []string{"Amazon MSK", "sensor-readings", "retrying", "3 partitions"} {
		if !strings.Contains(panel, want) {
			t.Errorf("source panel %q does not mention %q", panel, want)
		}
	}
	shot(t, ctx, filepath.Join(dir, "stream-msk.png"))
	do("open a stream without data",
		chromedp.Navigate(srv.URL+"/console/streams/orders-cdc"),
		chromedp.WaitVisible(`//div[@class="empty-title" and text()="No objects delivered yet"]`))
	shot(t, ctx, filepath.Join(dir, "stream-empty.png"))
	errs.check(t) // the missing stream's page below logs its 404 responses
	do("open a missing stream",
		chromedp.Navigate(srv.URL+"/console/streams/nope"),
		chromedp.WaitVisible(`//div[@class="empty-title" and text()="Stream not found"]`))
	shot(t, ctx, filepath.Join(dir, "stream-missing.png"))
	do("go back to the list", chromedp.Click(css(`.crumbs a`)), chromedp.WaitVisible(css(`tr[data-stream="orders-cdc"]`)))

	// The node becomes one of a cluster of three, one of them down: the list shows the nodes
	// and which node delivers each stream, without a reload. (The page refreshes by itself, as
	// checked above; refreshUntil saves the waits for its next polls.)
	do("mark the page", mark())
	src.clustered(Cluster{
		Node: "hydrant-1", Replicas: 3,
		Nodes: []Node{
			{Name: "hydrant-1", Addr: "10.0.1.11:4573", Started: time.Now().Add(-3 * time.Hour), Live: true},
			{Name: "hydrant-2", Addr: "10.0.1.12:4573", Started: time.Now().Add(-50 * time.Minute), Live: true},
			{Name: "hydrant-3", Addr: "10.0.1.13:4573", Started: time.Now().Add(-26 * time.Hour), Live: false},
		},
		Owners: map[string]string{"clickstream-events": "hydrant-2", "app-logs": "hydrant-1", "iot-telemetry": "hydrant-1", "orders-stream": "hydrant-3"},
	})
	do("see the cluster", refreshUntil(`document.querySelector('section[data-panel="cluster"] tr[data-node="hydrant-3"]')`))
	nodes, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('section[data-panel="cluster"] tbody tr')].map((r) =>
		[r.dataset.node, r.querySelector('.badge').textContent, r.querySelector('td[data-col="streams"]').textContent, r.querySelector('.chip')?.textContent ?? ''].join(' ').trim())`))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"hydrant-1 live 2 this node", "hydrant-2 live 1", "hydrant-3 down 1"}, nodes); diff != "" {
		t.Errorf("node table mismatch (-want +got):\n%s", diff)
	}
	owners, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('table.streams tbody tr')].map((r) =>
		r.dataset.stream + ': ' + r.querySelector('td[data-col="node"]').textContent)`))
	if err != nil {
		t.Fatal(err)
	}
	wantOwners := []string{
		"app-logs: hydrant-1this node", "clickstream-events: hydrant-2", "iot-telemetry: hydrant-1this node",
		"orders-cdc: no node yet", "orders-stream: hydrant-3down", "webhook-events: no node yet",
	}
	if diff := cmp.Diff(wantOwners, owners); diff != "" {
		t.Errorf("delivered-by column mismatch (-want +got):\n%s", diff)
	}
	expectNoReload(t, ctx)

	// A live node does not answer metric reads: this node's share, and a notice naming it.
	src.failReads(&IncompleteError{Nodes: []string{"hydrant-2"}, Err: fmt.Errorf("metrics of some node unavailable: node hydrant-2: nats: no responders available for request")})
	do("see the notice of incomplete metrics", refreshUntil(`document.querySelector('[data-notice="incomplete"]')`))
	if got, want := text(`[data-notice="incomplete"]`), "Metrics of node hydrant-2 unavailable; showing this node’s share (hydrant-1)."; !strings.Contains(got, want) {
		t.Errorf("notice = %q, want it to say %q", got, want)
	}
	shot(t, ctx, filepath.Join(dir, "list-cluster.png"))
	if *updateDocs {
		shot(t, ctx, filepath.Join("..", "..", "docs", "images", "console-cluster.png"))
	}
	do("open a stream delivered by another node",
		chromedp.Click(css(`tr[data-stream="clickstream-events"] a`)),
		chromedp.WaitVisible(css(`[data-tile="node"] [data-node="hydrant-2"]`)),
		chromedp.WaitVisible(css(`[data-notice="incomplete"]`)))
	if got := text(`[data-tile="node"]`); !strings.Contains(got, "live · 10.0.1.12:4573") {
		t.Errorf("delivered-by tile = %q, want the node's state and address", got)
	}
	shot(t, ctx, filepath.Join(dir, "stream-cluster.png"))
	src.failReads(nil)
	do("see the notice go", refreshUntil(`!document.querySelector('[data-notice="incomplete"]')`))
	expectNoReload(t, ctx)
}

// chartPoints returns the fewest points above zero of the lines of the series keyed keys (the
// roles of the API's series) on the page.
func chartPoints(t testing.TB, ctx context.Context, keys ...string) int {
	t.Helper()
	n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`(keys => Math.min(...keys.map((k) => {
		const path = document.querySelector('path.series[data-key="' + k + '"]');
		const base = path?.ownerSVGElement.querySelector('.grid line.axis')?.getAttribute('y1');
		const ys = (path?.getAttribute('d') ?? '').split(/[ML]/).filter(Boolean).map((p) => Number(p.split(',')[1]));
		return ys.filter((y) => y < Number(base) - 1).length;
	})))(`+jsonString(t, keys)+`)`))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func jsonString(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// scrollTop scrolls the page to its top.
func scrollTop() chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Evaluate[any](`window.scrollTo(0, 0)`)(ctx, t)
		return err
	})
}

// refreshUntil makes the page poll the API now rather than at its next tick (as it does when
// it becomes visible again), every 100 ms until the JavaScript predicate holds.
func refreshUntil(predicate string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Poll[bool](`(() => {
			if (`+predicate+`) return true;
			document.dispatchEvent(new Event('visibilitychange'));
			return false;
		})()`, chromedp.WithPollingInterval(100*time.Millisecond))(ctx, t)
		return err
	})
}

// mark sets a variable in the page that a reload would clear.
func mark() chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Evaluate[string](`window.hydrantMarker = "no reload"`)(ctx, t)
		return err
	})
}

func expectNoReload(t testing.TB, ctx context.Context) {
	t.Helper()
	marker, err := chromedp.Run(ctx, chromedp.Evaluate[string](`String(window.hydrantMarker)`))
	if err != nil {
		t.Fatal(err)
	}
	if marker != "no reload" {
		t.Errorf("window.hydrantMarker = %q: the page reloaded", marker)
	}
}

// shot saves a screenshot of the whole page.
func shot(t testing.TB, ctx context.Context, path string) {
	t.Helper()
	save(t, ctx, path, chromedp.FullScreenshot(100))
}

// shotViewport saves a screenshot of the window.
func shotViewport(t testing.TB, ctx context.Context, path string) {
	t.Helper()
	save(t, ctx, path, chromedp.CaptureScreenshot())
}

func save(t testing.TB, ctx context.Context, path string, a chromedp.Action[[]byte]) {
	t.Helper()
	b, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Errorf("screenshot %s: %v", path, err)
		return
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Error(err)
	}
	t.Logf("wrote %s (%d KB)", path, len(b)>>10)
}

// demoSource returns two streams with an hour of plausible traffic up to now.
func demoSource(now time.Time) *fakeSource {
	f := newFakeSource()
	rng := rand.New(rand.NewPCG(1, 2))
	created := now.Add(-26 * time.Hour)
	f.add(StreamSummary{Name: "clickstream-events", Status: "ACTIVE", Type: "DirectPut", Destination: "S3", Bucket: "arn:aws:s3:::analytics-raw", Created: created},
		describeJSON("clickstream-events", created, `{
			"RoleARN":"arn:aws:iam::123456789012:role/firehose-delivery",
			"BucketARN":"arn:aws:s3:::analytics-raw",
			"Prefix":"events/customer=!{partitionKeyFromQuery:customer_id}/!{timestamp:yyyy/MM/dd/HH}/",
			"ErrorOutputPrefix":"errors/!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd}/",
			"BufferingHints":{"SizeInMBs":64,"IntervalInSeconds":60},
			"CompressionFormat":"GZIP",
			"EncryptionConfiguration":{"NoEncryptionConfig":"NoEncryption"},
			"ProcessingConfiguration":{"Enabled":true,"Processors":[
				{"Type":"RecordDeAggregation","Parameters":[{"ParameterName":"SubRecordType","ParameterValue":"JSON"}]},
				{"Type":"MetadataExtraction","Parameters":[{"ParameterName":"MetadataExtractionQuery","ParameterValue":"{customer_id: .customer.id}"},{"ParameterName":"JsonParsingEngine","ParameterValue":"JQ-1.6"}]},
				{"Type":"AppendDelimiterToRecord","Parameters":[{"ParameterName":"Delimiter","ParameterValue":"\\n"}]}]},
			"DynamicPartitioningConfiguration":{"Enabled":true,"RetryOptions":{"DurationInSeconds":300}},
			"FileExtension":".json.gz",
			"S3BackupMode":"Disabled"}`))
	f.add(StreamSummary{Name: "app-logs", Status: "ACTIVE", Type: "DirectPut", Destination: "S3", Bucket: "arn:aws:s3:::logs-archive", Created: created.Add(3 * time.Hour)},
		describeJSON("app-logs", created.Add(3*time.Hour), `{
			"RoleARN":"arn:aws:iam::123456789012:role/firehose-delivery",
			"BucketARN":"arn:aws:s3:::logs-archive",
			"Prefix":"logs/!{timestamp:yyyy/MM/dd}/",
			"ErrorOutputPrefix":"logs-errors/",
			"BufferingHints":{"SizeInMBs":128,"IntervalInSeconds":300},
			"CompressionFormat":"HADOOP_SNAPPY",
			"EncryptionConfiguration":{"NoEncryptionConfig":"NoEncryption"},
			"ProcessingConfiguration":{"Enabled":true,"Processors":[
				{"Type":"Lambda","Parameters":[{"ParameterName":"LambdaArn","ParameterValue":"arn:aws:lambda:us-east-1:123456789012:function:redact-pii:$LATEST"}]}]},
			"CustomTimeZone":"Europe/Paris",
			"S3BackupMode":"Disabled"}`))

	// orders-stream reads a Kinesis data stream resharded from two shards to two others: the
	// closed parents are read to their end, the children are being read.
	kinesisARN := "arn:aws:kinesis:us-east-1:123456789012:stream/orders"
	f.add(StreamSummary{Name: "orders-stream", Status: "ACTIVE", Type: "KinesisStreamAsSource", Destination: "S3", Bucket: "arn:aws:s3:::orders-archive", Created: created.Add(5 * time.Hour)},
		describeSourceJSON("orders-stream", "KinesisStreamAsSource", created.Add(5*time.Hour),
			`{"KinesisStreamSourceDescription":{"KinesisStreamARN":"`+kinesisARN+`","RoleARN":"arn:aws:iam::123456789012:role/firehose-kinesis"}}`,
			`{"RoleARN":"arn:aws:iam::123456789012:role/firehose-delivery","BucketARN":"arn:aws:s3:::orders-archive","Prefix":"orders/",
			"BufferingHints":{"SizeInMBs":5,"IntervalInSeconds":60},"CompressionFormat":"GZIP","S3BackupMode":"Disabled"}`))
	f.reading("orders-stream", SourceStatus{
		Kind: "Kinesis", Source: kinesisARN, State: "reading",
		LagMillis: 4200, Records: 1_284_311, Bytes: 912 << 20, Throttled: 2,
		Parts: []Part{
			{ID: "shardId-000000000000", Position: "49659414130713826283543711528474418930613318426146832386", Done: true},
			{ID: "shardId-000000000001", Position: "49659414130736126958742242151615954648885966787652812818", Done: true},
			{ID: "shardId-000000000002", Position: "49659414348270573911474609812960112880126306138291617826", LagMillis: 1800},
			{ID: "shardId-000000000003", Position: "49659414348292874666673140436101648598398954499797598258", LagMillis: 4200},
		},
	})
	// iot-telemetry reads an MSK topic; its reader is retrying after an error.
	f.add(StreamSummary{Name: "iot-telemetry", Status: "ACTIVE", Type: "MSKAsSource", Destination: "S3", Bucket: "arn:aws:s3:::iot-archive", Created: created.Add(7 * time.Hour)},
		describeSourceJSON("iot-telemetry", "MSKAsSource", created.Add(7*time.Hour),
			`{"MSKSourceDescription":{"MSKClusterARN":"arn:aws:kafka:us-east-1:123456789012:cluster/iot/7d3a1c2e-0b9f-4c55-9c1e-5b7f2a9e4d10-2","TopicName":"sensor-readings",
			"AuthenticationConfiguration":{"RoleARN":"arn:aws:iam::123456789012:role/firehose-msk","Connectivity":"PRIVATE"}}}`,
			`{"RoleARN":"arn:aws:iam::123456789012:role/firehose-delivery","BucketARN":"arn:aws:s3:::iot-archive","Prefix":"iot/",
			"BufferingHints":{"SizeInMBs":5,"IntervalInSeconds":300},"CompressionFormat":"GZIP","S3BackupMode":"Disabled"}`))
	f.reading("iot-telemetry", SourceStatus{
		Kind: "MSK", Source: "arn:aws:kafka:us-east-1:123456789012:cluster/iot/7d3a1c2e-0b9f-4c55-9c1e-5b7f2a9e4d10-2 sensor-readings", State: "retrying",
		LagRecords: 18_250, Records: 402_113, Bytes: 151 << 20,
		LastError: `fetch sensor-readings: dial tcp 10.0.3.17:9098: connect: connection refused <retrying>`, LastErrorAt: now.Add(-8 * time.Second),
		Parts: []Part{
			{ID: "0", Position: "133970", LagRecords: 6120},
			{ID: "1", Position: "134002", LagRecords: 6008},
			{ID: "2", Position: "134141", LagRecords: 6122},
		},
	})

	// webhook-events delivers to an HTTP endpoint, so its delivery metrics are
	// DeliveryToHttpEndpoint's.
	f.add(StreamSummary{Name: "webhook-events", Status: "ACTIVE", Type: "DirectPut", Destination: "HttpEndpoint", Created: created.Add(9 * time.Hour)},
		describeDestJSON("webhook-events", "DirectPut", created.Add(9*time.Hour), "", "HttpEndpointDestinationDescription",
			`{"EndpointConfiguration":{"Url":"https://hooks.example.com/firehose","Name":"hooks"},
			"BufferingHints":{"SizeInMBs":1,"IntervalInSeconds":60},"RequestConfiguration":{"ContentEncoding":"GZIP"},"S3BackupMode":"FailedDataOnly"}`))

	s3, endpoint := DeliveryMetricsOf("ExtendedS3"), DeliveryMetricsOf("HttpEndpoint")
	first := now.Truncate(time.Minute).Add(-60 * time.Minute)
	for i := 0; i <= 60; i++ {
		t := first.Add(time.Duration(i) * time.Minute)
		frac := 1.0
		if i == 60 { // the minute in progress
			frac = float64(now.Sub(t)) / float64(time.Minute)
		}
		// clickstream-events: a daily-ish wave with noise, delivered every minute.
		recs := math.Round(frac * (60000 + 18000*math.Sin(float64(i)/9) + 4000*rng.NormFloat64()))
		f.point("clickstream-events", IncomingRecords, t, recs)
		f.point("clickstream-events", IncomingBytes, t, recs*(690+40*rng.Float64()))
		if i < 60 {
			prev := recs // before the hour, about the same as now
			if i > 0 {
				prev = f.series["clickstream-events"][IncomingRecords][i-1].Value
			}
			f.point("clickstream-events", s3.Records, t, prev)
			f.point("clickstream-events", s3.Bytes, t, prev*245) // gzip
			f.delivered("clickstream-events", Object{
				Time: t.Add(2 * time.Second), Bucket: "analytics-raw",
				Key:   fmt.Sprintf("events/customer=%d/%s/clickstream-events-1-%s-%08x.json.gz", 1000+rng.IntN(40), t.UTC().Format("2006/01/02/15"), t.UTC().Format("2006-01-02-15-04-05"), rng.Uint32()),
				Bytes: int64(prev * 245), Records: int64(prev),
			})
		}
		// Freshness runs a little ahead, so a test that crosses a minute still sees a value.
		for j := 0; j < 3 && (i == 60 || j == 0); j++ {
			f.point("clickstream-events", s3.Freshness, t.Add(time.Duration(j)*time.Minute), 55+15*rng.Float64())
		}
		// orders-stream: steady, read from Kinesis and delivered every minute.
		orecs := math.Round(frac * (3000 + 400*rng.NormFloat64()))
		f.point("orders-stream", IncomingRecords, t, orecs)
		f.point("orders-stream", IncomingBytes, t, orecs*740)
		f.point("orders-stream", s3.Freshness, t, 60+5*rng.Float64())
		if i > 0 {
			f.point("orders-stream", s3.Records, t, f.series["orders-stream"][IncomingRecords][i-1].Value)
			f.point("orders-stream", s3.Bytes, t, f.series["orders-stream"][IncomingBytes][i-1].Value*0.3)
		}
		// webhook-events: steady, each minute's records delivered the next minute.
		wrecs := math.Round(frac * (1200 + 150*rng.NormFloat64()))
		f.point("webhook-events", IncomingRecords, t, wrecs)
		f.point("webhook-events", IncomingBytes, t, wrecs*310)
		for j := 0; j < 3 && (i == 60 || j == 0); j++ {
			f.point("webhook-events", endpoint.Freshness, t.Add(time.Duration(j)*time.Minute), 20+10*rng.Float64())
		}
		if i > 0 {
			f.point("webhook-events", endpoint.Records, t, f.series["webhook-events"][IncomingRecords][i-1].Value)
			f.point("webhook-events", endpoint.Bytes, t, f.series["webhook-events"][IncomingBytes][i-1].Value)
		}
		// app-logs: steady with a burst, flushed every five minutes.
		lrecs := math.Round(frac * (9000 + 2500*rng.Float64() + burst(i)))
		f.point("app-logs", IncomingRecords, t, lrecs)
		f.point("app-logs", IncomingBytes, t, lrecs*(380+60*rng.Float64()))
		f.point("app-logs", s3.Freshness, t, float64(60*(i%5)+30+rng.IntN(20)))
		if i%5 == 0 && i > 0 {
			var r, b float64
			for _, p := range f.series["app-logs"][IncomingRecords][i-5 : i] {
				r += p.Value
			}
			for _, p := range f.series["app-logs"][IncomingBytes][i-5 : i] {
				b += p.Value
			}
			f.point("app-logs", s3.Records, t, r)
			f.point("app-logs", s3.Bytes, t, b*0.42)
			f.delivered("app-logs", Object{
				Time: t.Add(4 * time.Second), Bucket: "logs-archive",
				Key:   fmt.Sprintf("logs/%s/app-logs-2-%s-%08x.snappy", t.UTC().Format("2006/01/02"), t.UTC().Format("2006-01-02-15-04-05"), rng.Uint32()),
				Bytes: int64(b * 0.42), Records: int64(r),
			})
		}
		if i >= 38 && i <= 44 && i%2 == 0 {
			f.failed("app-logs", Failure{Time: t.Add(17 * time.Second), Kind: "processing", Code: "Lambda.FunctionError",
				Message: "The Lambda function was successfully invoked but it returned an error result: Task timed out after 60.00 seconds"})
		}
	}
	f.failed("clickstream-events", Failure{Time: first.Add(12*time.Minute + 41*time.Second), Kind: "partitioning", Code: "DynamicPartitioning.MetadataExtractionFailed",
		Message: "The query did not return a value for customer_id: null (null) cannot be matched"})
	return f
}

// burst is extra load between minutes 35 and 45 of the hour.
func burst(i int) float64 {
	if i < 35 || i > 45 {
		return 0
	}
	return 14000 * math.Sin(float64(i-35)/10*math.Pi)
}

// describeJSON returns a DeliveryStreamDescription of a DirectPut stream with one extended S3
// destination.
func describeJSON(name string, created time.Time, dest string) string {
	return describeSourceJSON(name, "DirectPut", created, "", dest)
}

// describeSourceJSON returns a DeliveryStreamDescription of a stream of type typ with one
// extended S3 destination and, unless src is "", a SourceDescription.
func describeSourceJSON(name, typ string, created time.Time, src, dest string) string {
	return describeDestJSON(name, typ, created, src, "ExtendedS3DestinationDescription", dest)
}

// describeDestJSON returns a DeliveryStreamDescription of a stream of type typ with one
// destination, described as destKey, and, unless src is "", a SourceDescription.
func describeDestJSON(name, typ string, created time.Time, src, destKey, dest string) string {
	if src != "" {
		src = `"Source":` + src + `,`
	}
	return fmt.Sprintf(`{"DeliveryStreamName":%q,"DeliveryStreamARN":"arn:aws:firehose:us-east-1:123456789012:deliverystream/%s",
		"DeliveryStreamStatus":"ACTIVE","DeliveryStreamEncryptionConfiguration":{"Status":"DISABLED"},"DeliveryStreamType":%q,"VersionId":"3",
		"CreateTimestamp":%d,"LastUpdateTimestamp":%d,%s
		"Destinations":[{"DestinationId":"destinationId-000000000001",%q:%s}],"HasMoreDestinations":false}`,
		name, name, typ, created.Unix(), created.Add(90*time.Minute).Unix(), src, destKey, dest)
}
