package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/firehose"
	"github.com/aws/aws-sdk-go-v2/service/firehose/types"

	"github.com/hydrant-dev/hydrant/bench/internal/harness"
)

const (
	roleARN = "arn:aws:iam::000000000000:role/bench"
	bucket  = "lake"
)

// hydrant is one hydrant process on a data directory that outlives it.
type hydrant struct {
	*harness.Proc
	bin, dir, cfg string
	pprof         bool
	starts        int
}

// newHydrant writes config (the config file's document) under dir; start runs the server.
func newHydrant(bin, dir string, config map[string]any, pprof bool) (*hydrant, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	b, err := json.Marshal(config)
	if err != nil {
		return nil, err
	}
	cfg := filepath.Join(dir, "hydrant.json")
	if err := os.WriteFile(cfg, b, 0o600); err != nil {
		return nil, err
	}
	return &hydrant{bin: bin, dir: dir, cfg: cfg, pprof: pprof}, nil
}

// start runs hydrant serve on the data directory and waits until it answers its health check.
func (h *hydrant) start() error {
	h.starts++
	argv := []string{h.bin, "serve", "--config", h.cfg, "--data-dir", filepath.Join(h.dir, "data"),
		"--listen", "{addr}", "--log-level", "warn"}
	if h.pprof {
		argv = append(argv, "--pprof-listen", "{addr2}")
	}
	p, err := harness.StartProc(harness.ProcSpec{Name: "hydrant", LogPath: filepath.Join(h.dir, fmt.Sprintf("hydrant-%d.log", h.starts)),
		Ready: "/_hydrant/health", Within: 60 * time.Second, Argv: argv})
	if err != nil {
		return err
	}
	h.Proc = p
	return nil
}

// stop stops the running process, if any (SIGTERM).
func (h *hydrant) stop() {
	if h.Proc != nil {
		h.Proc.Stop()
		h.Proc = nil
	}
}

// createSourceStream creates a source delivery stream writing to the local object store with
// the largest buffering hints, so that delivery does not hold the reader back, and waits
// until it is ACTIVE.
func createSourceStream(ctx context.Context, url string, in *firehose.CreateDeliveryStreamInput) error {
	c := harness.NewClient(url, 2, false)
	in.ExtendedS3DestinationConfiguration = &types.ExtendedS3DestinationConfiguration{
		RoleARN:        aws.String(roleARN),
		BucketARN:      aws.String("arn:aws:s3:::" + bucket),
		BufferingHints: &types.BufferingHints{SizeInMBs: aws.Int32(128), IntervalInSeconds: aws.Int32(900)},
	}
	name := aws.ToString(in.DeliveryStreamName)
	if _, err := c.CreateDeliveryStream(ctx, in); err != nil {
		return fmt.Errorf("create delivery stream %s: %w", name, err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, err := c.DescribeDeliveryStream(ctx, &firehose.DescribeDeliveryStreamInput{DeliveryStreamName: aws.String(name)})
		if err != nil {
			return fmt.Errorf("describe delivery stream %s: %w", name, err)
		}
		if out.DeliveryStreamDescription.DeliveryStreamStatus == types.DeliveryStreamStatusActive {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("delivery stream %s not ACTIVE within 30s", name)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// sourceStatus is the part of GET /_hydrant/streams/{name}/source the benchmark reads.
type sourceStatus struct {
	State      string `json:"state"`
	Records    int64  `json:"records"`
	Bytes      int64  `json:"bytes"`
	LagMillis  int64  `json:"lagMillis"`
	LagRecords int64  `json:"lagRecords"`
	Throttled  int64  `json:"throttled"`
	LastError  string `json:"lastError"`
}

func getJSON(ctx context.Context, hc *http.Client, url string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: status %d: %s", url, resp.StatusCode, b)
	}
	return json.Unmarshal(b, v)
}

// catchUp is what hydrant's reader took to read a filled source after a start.
type catchUp struct {
	launched  time.Time     // the process started
	ready     time.Duration // launch → health check answered
	first     time.Duration // launch → the first poll that saw records read
	done      time.Duration // launch → the poll that saw every record read
	records   int64
	bytes     int64
	increases int // polls that saw the count grow
	cpu       time.Duration
	throttled int64
	lastError string
	// delivery after the catch-up: POST /_hydrant/flush, then the records in objects.
	flushTook time.Duration
	delivered int64
}

// rate and mbps are records per second and MB/s from the launch to the last record read.
func (c catchUp) rate() float64 { return float64(c.records) / c.done.Seconds() }
func (c catchUp) mbps() float64 { return float64(c.bytes) / 1e6 / c.done.Seconds() }

// measureCatchUp starts hydrant and polls the stream's source status every 100 ms until it
// has read want records, or timeout has passed since the launch. With profile set it
// records a CPU profile of the first profileFor of the catch-up into that file.
func measureCatchUp(ctx context.Context, h *hydrant, stream string, want int, timeout time.Duration, profile string, profileFor time.Duration) (catchUp, error) {
	var c catchUp
	c.launched = time.Now()
	if err := h.start(); err != nil {
		return c, err
	}
	c.ready = time.Since(c.launched)
	profDone := make(chan error, 1)
	if profile != "" {
		go func() {
			url := fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", h.Addr2, max(1, int(profileFor.Seconds())))
			profDone <- harness.SaveProfile(ctx, url, profile)
		}()
	} else {
		profDone <- nil
	}
	hc := &http.Client{Timeout: 5 * time.Second}
	url := h.URL + "/_hydrant/streams/" + stream + "/source"
	var last int64
	for {
		var st sourceStatus
		err := getJSON(ctx, hc, url, &st)
		now := time.Since(c.launched)
		if err == nil {
			if st.Records > last {
				c.increases++
				last = st.Records
			}
			if st.Records > 0 && c.first == 0 {
				c.first = now
			}
			c.records, c.bytes, c.throttled, c.lastError = st.Records, st.Bytes, st.Throttled, st.LastError
			if st.Records >= int64(want) {
				c.done = now
				break
			}
		}
		if now > timeout || ctx.Err() != nil {
			return c, fmt.Errorf("hydrant read %d of %d records in %v (state %s, last error %q, poll error %v)",
				c.records, want, timeout, st.State, st.LastError, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	c.cpu, _ = h.CPU()
	if err := <-profDone; err != nil {
		fmt.Fprintln(os.Stderr, "profile:", err)
	}
	// Delivery: everything read is in the journal; flush it into objects.
	t := time.Now()
	fctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := harness.Flush(fctx, h.URL, stream); err != nil {
		return c, err
	}
	c.flushTook = time.Since(t)
	var ds struct {
		Legs []struct {
			Records int64 `json:"records"`
		} `json:"legs"`
	}
	if err := getJSON(ctx, hc, h.URL+"/_hydrant/streams/"+stream+"/delivery", &ds); err != nil {
		return c, err
	}
	for _, l := range ds.Legs {
		c.delivered += l.Records
	}
	return c, nil
}
