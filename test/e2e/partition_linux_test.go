//go:build linux

package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/firehose"
	"github.com/aws/aws-sdk-go-v2/service/firehose/types"

	"github.com/hydrant-dev/hydrant/internal/testenv"
)

// netNode is a hydrant node running inside a network namespace of a NetLab.
type netNode struct {
	name    string
	host    *testenv.NetHost
	url     string
	logPath string
	exited  chan struct{}
}

// TestClusterPartitionCutsTheOwnerOff runs three nodes and MinIO in network namespaces of their
// own on one bridge, and cuts the node that delivers the stream off from the two other nodes
// while its path to MinIO (and to the test) stays open: the split-brain case. While it is cut
// off, the isolated node acknowledges no put (its puts need a quorum it cannot reach), another
// node takes delivery over within 10 s, and the two connected nodes keep acknowledging puts.
// After the cut heals the node rejoins; every acknowledged record is in MinIO exactly once, each
// object was written by one node, and the isolated node wrote none while another node held the
// lease.
func TestClusterPartitionCutsTheOwnerOff(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: runs the built binary in network namespaces")
	}
	const (
		stream = "parted"
		// maxPutStall bounds how long a connected node may go without acknowledging a put
		// during the cut (its calls time out after 20 s).
		maxPutStall = 15 * time.Second
	)
	lab := testenv.NewNetLab(t)
	hosts := []*testenv.NetHost{lab.AddHost(t, "n1"), lab.AddHost(t, "n2"), lab.AddHost(t, "n3")}
	m := testenv.StartMinIOIn(t, lab.AddHost(t, "minio"))
	m.CreateBucket(t, "lake")
	hc := lab.HTTPClient(30 * time.Second)

	// Start the three nodes at once, each in its namespace, on its own address.
	var routes []string
	for _, h := range hosts {
		routes = append(routes, "nats://"+h.Addr(6222))
	}
	logs := t.TempDir()
	nodes := make([]*netNode, len(hosts))
	for i, h := range hosts {
		nd := &netNode{name: h.Name, host: h, url: "http://" + h.Addr(4573), logPath: filepath.Join(logs, h.Name+".log"), exited: make(chan struct{})}
		nodes[i] = nd
		logf, err := os.Create(nd.logPath)
		if err != nil {
			t.Fatal(err)
		}
		cmd := h.Command(binary, "serve", "--node", h.Name, "--listen", h.Addr(4573), "--data-dir", t.TempDir(),
			"--cluster-listen", h.Addr(6222), "--routes", strings.Join(routes, ","), "--insecure-no-auth", "--log-level", "debug")
		cmd.Env = append(os.Environ(), "AWS_REGION=us-east-1", "AWS_ENDPOINT_URL_S3="+m.Endpoint(),
			"AWS_ACCESS_KEY_ID="+m.AccessKey(), "AWS_SECRET_ACCESS_KEY="+m.SecretKey())
		cmd.Stdout, cmd.Stderr = logf, logf
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() { cmd.Wait(); logf.Close(); close(nd.exited) }()
		// Stopped before the lab deletes the namespaces (cleanups run last registered first).
		t.Cleanup(func() {
			cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-nd.exited:
			case <-time.After(10 * time.Second):
				cmd.Process.Kill()
				<-nd.exited
			}
		})
	}
	t.Cleanup(func() {
		// HYDRANT_E2E_KEEP_LOGS=DIR keeps the nodes' logs (debug level) for a look afterwards.
		if d := os.Getenv("HYDRANT_E2E_KEEP_LOGS"); d != "" {
			for _, nd := range nodes {
				b, _ := os.ReadFile(nd.logPath)
				os.WriteFile(filepath.Join(d, nd.name+".log"), b, 0o644)
			}
		}
		if t.Failed() {
			for _, nd := range nodes {
				t.Logf("%s log (last lines):\n%s", nd.name, nd.logTail())
			}
		}
	})
	for _, nd := range nodes {
		deadline := time.Now().Add(60 * time.Second)
		for !nd.healthy(hc) {
			select {
			case <-nd.exited:
				t.Fatalf("%s exited during start-up", nd.name)
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s not healthy 60 s after its start", nd.name)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	createS3Stream(t, netFirehose(lab, nodes[0].url, 30*time.Second), stream, "lake", 1, 2)
	var delivering string
	for deadline := time.Now().Add(30 * time.Second); delivering == "" && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		delivering, _ = clusterView(hc, nodes[1].url, stream)
	}
	if delivering == "" {
		t.Fatal("no node delivers the stream 30 s after its creation")
	}
	var isolated *netNode
	var connected []*netNode
	for _, nd := range nodes {
		if nd.name == delivering {
			isolated = nd
		} else {
			connected = append(connected, nd)
		}
	}
	t.Logf("%s delivers %s; the others are %s and %s", delivering, stream, connected[0].name, connected[1].name)

	// put sends n records with ids <prefix>-<i> through nd, and records those acknowledged.
	var mu sync.Mutex
	acked := map[string]bool{}
	put := func(nd *netNode, prefix string, n int, timeout time.Duration) (ok int, err error) {
		recs := make([]types.Record, n)
		for i := range recs {
			recs[i] = types.Record{Data: []byte(`{"id":"` + fmt.Sprintf("%s-%d", prefix, i) + `"}` + "\n")}
		}
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		out, err := netFirehose(lab, nd.url, timeout).PutRecordBatch(ctx, &firehose.PutRecordBatchInput{DeliveryStreamName: aws.String(stream), Records: recs})
		if err != nil {
			return 0, err
		}
		mu.Lock()
		defer mu.Unlock()
		for i, e := range out.RequestResponses {
			if e.ErrorCode == nil {
				acked[fmt.Sprintf("%s-%d", prefix, i)] = true
				ok++
			}
		}
		return ok, nil
	}
	// load puts one batch through each of nds at once.
	load := func(nds []*netNode, phase string, round, n int) {
		var wg sync.WaitGroup
		for _, nd := range nds {
			wg.Add(1)
			go func() { defer wg.Done(); put(nd, fmt.Sprintf("%s%d-%s", phase, round, nd.name), n, 20*time.Second) }()
		}
		wg.Wait()
	}
	for r := range 5 {
		load(nodes, "a", r, 200)
	}
	before := len(acked)
	if before < 5*3*200 {
		t.Fatalf("only %d of %d records acknowledged before the cut", before, 5*3*200)
	}

	// Cut the owner off from the two other nodes; its path to MinIO stays open.
	isolated.host.Cut(t, connected[0].host, connected[1].host)
	cut := time.Now()
	t.Logf("cut %s off from %s and %s", isolated.name, connected[0].name, connected[1].name)

	// Every put call from the cut on, through any node.
	type call struct {
		node       string
		start, end time.Time
		acked      int
		err        error
	}
	var calls []call
	putCall := func(nd *netNode, prefix string, n int, timeout time.Duration) error {
		start := time.Now()
		acked, err := put(nd, prefix, n, timeout)
		mu.Lock()
		calls = append(calls, call{nd.name, start, time.Now(), acked, err})
		mu.Unlock()
		return err
	}
	// (a) Puts to the isolated node: none may be acknowledged while it is cut off. Its client
	// waits longer than the node's own publish timeout (30 s), to see how the node answers.
	stopIsolated := make(chan struct{})
	var isoWG, loadWG sync.WaitGroup
	isoWG.Add(1)
	go func() {
		defer isoWG.Done()
		for i := 0; ; i++ {
			select {
			case <-stopIsolated:
				return
			default:
			}
			if putCall(isolated, fmt.Sprintf("iso%d", i), 50, 35*time.Second) != nil {
				time.Sleep(200 * time.Millisecond)
			}
		}
	}()
	// (c) Puts through the two connected nodes, paced, until the end of the test's load.
	stopLoad := make(chan struct{})
	for _, nd := range connected {
		loadWG.Add(1)
		go func() {
			defer loadWG.Done()
			for i := 0; ; i++ {
				select {
				case <-stopLoad:
					return
				default:
				}
				putCall(nd, fmt.Sprintf("b%d-%s", i, nd.name), 200, 20*time.Second)
				time.Sleep(50 * time.Millisecond)
			}
		}()
	}
	// (b) Another node takes delivery over: the first of the connected nodes to report an owner
	// other than the isolated node (the new owner reports it in the round it takes the lease).
	var taker string
	var takeover time.Duration
	for taker == "" {
		if time.Since(cut) > 40*time.Second {
			t.Fatalf("no other node took delivery over within 40 s of the cut")
		}
		for _, nd := range connected {
			if o, _ := clusterView(hc, nd.url, stream); o != "" && o != delivering {
				taker, takeover = o, time.Since(cut)
				break
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("%s took delivery over from %s %.1f s after the cut", taker, delivering, takeover.Seconds())
	if takeover > 10*time.Second {
		t.Errorf("%s took delivery over %.1f s after the cut: over the 10 s aim", taker, takeover.Seconds())
	}
	// Hold the cut until the isolated node has answered its puts (or its client gave up), and
	// at least 15 s, so that it has time to misbehave: deliver on a lost lease, acknowledge a put.
	time.Sleep(15*time.Second - time.Since(cut))
	close(stopIsolated)
	isoWG.Wait()
	dropped := isolated.host.Dropped(t)
	isolated.host.Heal(t)
	healed := time.Now()
	t.Logf("healed the cut after %.1f s; tc dropped %d packets", healed.Sub(cut).Seconds(), dropped)
	if dropped == 0 {
		t.Error("the cut dropped no packet")
	}

	// The isolated node rejoins: every node sees three live nodes, and it takes puts again.
	for _, nd := range nodes {
		for {
			if _, live := clusterView(hc, nd.url, stream); len(live) == 3 {
				break
			}
			if time.Since(healed) > 40*time.Second {
				_, live := clusterView(hc, nd.url, stream)
				t.Fatalf("%s sees live nodes %q 40 s after the cut healed", nd.name, live)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	rejoined := time.Since(healed)
	var putsAgain time.Duration
	for i := 0; ; i++ {
		if n, err := put(isolated, fmt.Sprintf("back%d", i), 10, 10*time.Second); err == nil && n == 10 {
			putsAgain = time.Since(healed)
			break
		}
		if time.Since(healed) > 40*time.Second {
			t.Fatalf("%s acknowledges no put 40 s after the cut healed", isolated.name)
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("after healing: every node sees 3 live nodes after %.1f s; %s acknowledges puts again after %.1f s", rejoined.Seconds(), isolated.name, putsAgain.Seconds())
	for r := range 3 {
		load(nodes, "c", r, 200)
	}
	close(stopLoad)
	loadWG.Wait()

	// What the calls show: the isolated node acknowledged nothing while cut off; the connected
	// nodes kept acknowledging, with the longest wait for an acknowledgement per node.
	var isoCalls, isoAcked int
	var isoAnswers []string
	for _, c := range calls {
		if c.node != isolated.name || !c.start.Before(healed) {
			continue
		}
		isoCalls++
		if c.acked > 0 && c.end.Before(healed) {
			isoAcked += c.acked
			t.Errorf("%s, cut off from the quorum, acknowledged %d records of a call at %.1f s of the cut", isolated.name, c.acked, c.end.Sub(cut).Seconds())
		}
		ans := "acknowledged after the heal"
		if c.err != nil {
			ans = c.err.Error()
			if i := strings.Index(ans, "StatusCode:"); i >= 0 {
				ans = ans[i:]
			}
		} else if c.acked == 0 {
			ans = "every record refused"
		}
		isoAnswers = append(isoAnswers, fmt.Sprintf("%.1f s: %s", c.end.Sub(c.start).Seconds(), ans))
	}
	t.Logf("puts to %s while cut off: %d calls, %d records acknowledged; answers: %q", isolated.name, isoCalls, isoAcked, isoAnswers)
	if isoCalls == 0 {
		t.Error("no put was sent to the isolated node")
	}
	for _, nd := range connected {
		var ackedInCut, callsInCut int
		lastAck := cut
		var gapCut, gapHeal time.Duration
		for _, c := range calls {
			if c.node != nd.name || c.acked == 0 {
				continue
			}
			gap := c.end.Sub(lastAck)
			if c.end.Before(healed) {
				gapCut = max(gapCut, gap)
			} else {
				gapHeal = max(gapHeal, gap)
			}
			if c.end.After(lastAck) {
				lastAck = c.end
			}
			if c.start.After(cut.Add(takeover)) && c.end.Before(healed) {
				ackedInCut += c.acked
				callsInCut++
			}
		}
		t.Logf("%s: %d records acknowledged in %d calls between the takeover and the heal; longest wait for an acknowledgement: %.1f s during the cut, %.1f s after the heal",
			nd.name, ackedInCut, callsInCut, gapCut.Seconds(), gapHeal.Seconds())
		if ackedInCut == 0 {
			t.Errorf("%s acknowledged no put between the takeover and the heal", nd.name)
		}
		// New leaders for what the cut-off node led are elected within seconds; a kill stalls
		// the survivors' puts for up to about 15 s (docs/design/cluster.md). A longer wait means
		// puts waited on the cut-off node itself.
		if gapCut > maxPutStall {
			t.Errorf("%s acknowledged no put for %.1f s during the cut (over %v): its puts waited on the cut-off node", nd.name, gapCut.Seconds(), maxPutStall)
		}
	}

	// Flush through a node (forwarded to the owner) until MinIO holds every acknowledged record.
	var objs []testenv.NetObject
	counts := map[string]int{}
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(500 * time.Millisecond) {
		req, _ := http.NewRequest(http.MethodPost, connected[1].url+"/_hydrant/flush?stream="+stream, nil)
		if resp, err := hc.Do(req); err == nil {
			resp.Body.Close()
		}
		objs = m.Objects(t, "lake")
		counts = map[string]int{}
		for _, o := range objs {
			for line := range bytes.Lines(o.Body) {
				var rec struct{ ID string }
				if err := json.Unmarshal(line, &rec); err != nil || rec.ID == "" {
					t.Fatalf("object %s: line %q is not a record", o.Key, line)
				}
				counts[rec.ID]++
			}
		}
		if missing, _, _ := tally(counts, acked, false, nil); len(missing) == 0 || time.Now().After(deadline) {
			break
		}
	}
	missing, dup, _ := tally(counts, acked, false, nil)
	if len(missing)+len(dup) > 0 {
		t.Errorf("%d records acknowledged: %d missing from MinIO (%.5q), %d duplicated (%.5q)", len(acked), len(missing), missing, len(dup), dup)
	}
	if unacked := len(counts) - len(acked); unacked > 0 {
		t.Logf("%d records in MinIO were not acknowledged (calls that failed after the quorum stored them)", unacked)
	}

	// Which node wrote each object, from the nodes' logs: every object exactly once, by one
	// node; none by the isolated node between the new owner's lease and its own lease again.
	writer := map[string][]string{} // key → nodes that logged writing it
	var isoObjects []logLine
	for _, nd := range nodes {
		for _, l := range nd.logLines(t, "delivered object") {
			writer[l.attr("key")] = append(writer[l.attr("key")], nd.name)
			if nd == isolated {
				isoObjects = append(isoObjects, l)
			}
		}
	}
	for _, o := range objs {
		if w := writer[o.Key]; len(w) != 1 {
			t.Errorf("object %s was written by %q", o.Key, w)
		}
	}
	if len(writer) != len(objs) {
		t.Errorf("the nodes logged %d objects written, MinIO holds %d", len(writer), len(objs))
	}
	var takerNode *netNode
	for _, nd := range nodes {
		if nd.name == taker {
			takerNode = nd
		}
	}
	takerGot := firstAfter(takerNode.logLines(t, "lease acquired"), cut)
	takerObject := firstAfter(takerNode.logLines(t, "delivered object"), takerGot)
	isoLost := firstAfter(isolated.logLines(t, "lease lost"), cut)
	isoStopped := firstAfter(isolated.logLines(t, "delivery stream handed over"), cut)
	isoBack := firstAfter(isolated.logLines(t, "lease acquired"), cut)
	if takerGot.IsZero() || isoLost.IsZero() {
		t.Fatalf("logs: %s acquired the lease at %v, %s lost it at %v", taker, takerGot, isolated.name, isoLost)
	}
	t.Logf("from the logs: %s lost the lease %.1f s after the cut (its Lost handler returned %s); %s acquired it %.1f s after the cut "+
		"and wrote its first object %s; %s got the lease back %s",
		isolated.name, isoLost.Sub(cut).Seconds(), sinceOrNever(isoStopped, isoLost, "later"), taker, takerGot.Sub(cut).Seconds(),
		sinceOrNever(takerObject, cut, "after the cut"), isolated.name, sinceOrNever(isoBack, healed, "after the heal"))
	if !isoLost.Before(takerGot) {
		t.Errorf("%s acquired the lease at %s, before %s lost it at %s: two owners at once", taker, takerGot.Format(time.StampMilli), isolated.name, isoLost.Format(time.StampMilli))
	}
	if !isoBack.IsZero() && isoBack.Before(healed) {
		t.Errorf("%s acquired a lease at %s, while it was cut off from the quorum", isolated.name, isoBack.Format(time.StampMilli))
	}
	var early, late, again int
	for _, l := range isoObjects {
		switch {
		case !l.time.After(isoLost):
			early++
		case isoBack.IsZero() || l.time.Before(isoBack):
			late++
			t.Errorf("%s wrote %s at %s, after it lost its lease", isolated.name, l.attr("key"), l.time.Format(time.StampMilli))
		default:
			again++
		}
	}
	t.Logf("%d records acknowledged (%d before the cut) in %d objects; %s wrote %d before it lost the lease, %d without the lease, %d after it got it back",
		len(acked), before, len(objs), isolated.name, early, late, again)
}

// netFirehose is newFirehose for a node inside the lab: it dials through the lab's bridge.
func netFirehose(lab *testenv.NetLab, url string, timeout time.Duration) *firehose.Client {
	return firehose.New(firehose.Options{
		BaseEndpoint: aws.String(url),
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""),
		Retryer:      aws.NopRetryer{},
		HTTPClient:   lab.HTTPClient(timeout),
	})
}

func (nd *netNode) healthy(hc *http.Client) bool {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, nd.url+"/_hydrant/health", nil)
	resp, err := hc.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func (nd *netNode) logTail() string {
	b, _ := os.ReadFile(nd.logPath)
	// The debug lines of the journal drown the rest: keep the info level and above.
	var kept []string
	for line := range strings.SplitSeq(string(b), "\n") {
		if !strings.Contains(line, "level=DEBUG") && line != "" {
			kept = append(kept, line)
		}
	}
	if len(kept) > 60 {
		kept = kept[len(kept)-60:]
	}
	return strings.Join(kept, "\n")
}

// logLine is one line of a node's text log.
type logLine struct {
	time time.Time
	text string
}

var logTime = regexp.MustCompile(`^time=(\S+) `)

func (l logLine) attr(name string) string {
	m := regexp.MustCompile(` ` + name + `=("(?:[^"\\]|\\.)*"|\S+)`).FindStringSubmatch(l.text)
	if m == nil {
		return ""
	}
	return strings.Trim(m[1], `"`)
}

// logLines returns the lines of the node's log whose message is msg.
func (nd *netNode) logLines(t *testing.T, msg string) []logLine {
	t.Helper()
	f, err := os.Open(nd.logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []logLine
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	want := `msg="` + msg + `"`
	for sc.Scan() {
		line := sc.Text()
		if !strings.Contains(line, want) {
			continue
		}
		m := logTime.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		ts, err := time.Parse(time.RFC3339Nano, m[1])
		if err != nil {
			continue
		}
		out = append(out, logLine{ts, line})
	}
	return out
}

// firstAfter returns the time of the first line after t (zero when none).
func firstAfter(lines []logLine, t time.Time) time.Time {
	for _, l := range lines {
		if l.time.After(t) {
			return l.time
		}
	}
	return time.Time{}
}

func sinceOrNever(t, from time.Time, what string) string {
	if t.IsZero() {
		return "never"
	}
	return fmt.Sprintf("%.1f s %s", t.Sub(from).Seconds(), what)
}
