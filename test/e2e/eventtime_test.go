package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/firehose"
	"github.com/aws/aws-sdk-go-v2/service/firehose/types"
	"github.com/google/go-cmp/cmp"
)

// eventTimeKey is an object of the docs/event-time.md stream: the event hour from the
// record, then the object name with the arrival time.
var eventTimeKey = regexp.MustCompile(`^events/(year=\d{4}/month=\d{2}/day=\d{2}/hour=\d{2})/events-1-(\d{4})-(\d{2})-(\d{2})-(\d{2})-\d{2}-\d{2}-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// TestEventTimePartitioning runs the stream of docs/event-time.md, as the document gives
// it, through the built binary and checks that late records land under their event hour,
// not their arrival hour.
func TestEventTimePartitioning(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test")
	}
	input := docStreamJSON(t, filepath.Join("..", "..", "docs", "event-time.md"), "events")
	srv := startServer(t, "")
	status, _, out := rawCall(t, srv.URL, "Firehose_20150804.CreateDeliveryStream", input)
	if status != http.StatusOK {
		t.Fatalf("CreateDeliveryStream with the document's JSON: status %d: %v", status, out)
	}
	c := newFirehose(srv.URL)
	waitActive(t, c, "events")

	now := time.Now().UTC()
	type event struct {
		msg  string
		data string
		at   time.Time
	}
	events := []event{
		{msg: "on time", at: now},
		{msg: "two hours late", at: now.Add(-2 * time.Hour)},
		{msg: "a day and two hours late", at: now.Add(-26 * time.Hour)},
		{msg: "45 days late", at: now.Add(-45 * 24 * time.Hour)},
	}
	var records []types.Record
	for i := range events {
		e := &events[i]
		e.data = fmt.Sprintf(`{"event_time": %d, "msg": %q}`, e.at.Unix(), e.msg)
		records = append(records, types.Record{Data: []byte(e.data)})
	}
	// Fractional epoch seconds key like their whole second.
	frac := now.Add(-3 * time.Hour)
	fracData := fmt.Sprintf(`{"event_time": %d.75, "msg": "fractional, three hours late"}`, frac.Unix())
	records = append(records, types.Record{Data: []byte(fracData)})
	const noTime = `{"msg": "no event_time"}`
	records = append(records, types.Record{Data: []byte(noTime)})

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	put, err := c.PutRecordBatch(ctx, &firehose.PutRecordBatchInput{DeliveryStreamName: aws.String("events"), Records: records})
	if err != nil || aws.ToInt32(put.FailedPutCount) != 0 {
		t.Fatalf("PutRecordBatch: %v %+v", err, put)
	}
	srv.Flush("events")

	hourOf := func(t time.Time) string { return t.UTC().Format("year=2006/month=01/day=02/hour=15") }
	want := map[string][]string{} // partition → records with their delimiter
	for _, e := range events {
		want[hourOf(e.at)] = append(want[hourOf(e.at)], e.data+"\n")
	}
	want[hourOf(frac)] = append(want[hourOf(frac)], fracData+"\n")
	for p := range want {
		want[p] = sorted(want[p])
	}

	got := map[string][]string{}
	var errorDocs []string
	for _, o := range srv.Objects("lake") {
		body := readFile(t, o.Path)
		if strings.HasPrefix(o.Key, "errors/processing-failed/events-1-") {
			for _, line := range splitLines(t, o.Key, body) {
				var doc struct{ ErrorCode, RawData string }
				decodeJSON(t, o.Key, line, &doc)
				raw, err := base64.StdEncoding.DecodeString(doc.RawData)
				if err != nil || doc.ErrorCode != "DynamicPartitioning.MetadataExtractionFailed" {
					t.Errorf("%s: error document %s", o.Key, line)
				}
				errorDocs = append(errorDocs, string(raw))
			}
			continue
		}
		sm := eventTimeKey.FindStringSubmatch(o.Key)
		if sm == nil {
			t.Errorf("unexpected object %s: %q", o.Key, body)
			continue
		}
		partition, arrival := sm[1], fmt.Sprintf("year=%s/month=%s/day=%s/hour=%s", sm[2], sm[3], sm[4], sm[5])
		for _, line := range splitLines(t, o.Key, body) {
			got[partition] = append(got[partition], line)
			if strings.Contains(line, "late") && partition == arrival {
				t.Errorf("%s: a late record is under its arrival hour: %s", o.Key, line)
			}
		}
	}
	for p := range got {
		got[p] = sorted(got[p])
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("records by event-hour partition (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{noTime}, errorDocs); diff != "" {
		t.Errorf("rawData under errors/processing-failed/ (-want +got):\n%s", diff)
	}
}

// docStreamJSON returns the ```json block of a Markdown document that is a
// CreateDeliveryStream input for stream name.
func docStreamJSON(t testing.TB, path, name string) []byte {
	t.Helper()
	doc, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	blocks := strings.Split(string(doc), "```json\n")
	for _, b := range blocks[1:] {
		block, _, ok := strings.Cut(b, "\n```")
		if !ok {
			continue
		}
		var in struct{ DeliveryStreamName string }
		if json.Unmarshal([]byte(block), &in) == nil && in.DeliveryStreamName == name {
			return []byte(block)
		}
	}
	t.Fatalf("%s has no ```json block creating stream %q", path, name)
	return nil
}

// waitActive polls DescribeDeliveryStream until the stream is ACTIVE, for at most 30 s.
func waitActive(t testing.TB, c *firehose.Client, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		out, err := c.DescribeDeliveryStream(ctx, &firehose.DescribeDeliveryStreamInput{DeliveryStreamName: aws.String(name)})
		if err != nil {
			t.Fatalf("DescribeDeliveryStream %s: %v", name, err)
		}
		if out.DeliveryStreamDescription.DeliveryStreamStatus == types.DeliveryStreamStatusActive {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("stream %s not ACTIVE: %v", name, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}
