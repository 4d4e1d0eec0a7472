// Package extractor is the handler of the MetadataExtractor sample function: the Go
// equivalent of the Python function in AWS's dynamic partitioning examples. It reads each
// record as a JSON event and returns it unchanged with the partition keys region, device,
// year, month, day and hour, which a Firehose stream uses as
// !{partitionKeyFromLambda:region} … !{partitionKeyFromLambda:hour} in its S3 prefix.
package extractor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// Handle extracts the partition keys of every record of ev. A record whose data is a single
// JSON object with
//
//   - "region": a non-empty string,
//   - a device: "type.device" (as in AWS's sample data), else "device", else "device_id", a
//     non-empty string or a number,
//   - "event_timestamp": epoch seconds as a number or a numeric string, or an RFC 3339 string,
//
// comes back Ok with its data unchanged and metadata.partitionKeys {region, device, year,
// month, day, hour} (UTC, zero-padded: "2019", "08", "09", "20"). Any other record comes back
// ProcessingFailed with its data unchanged. Handle never returns an error: per-record failure
// is data.
func Handle(_ context.Context, ev events.KinesisFirehoseEvent) (events.KinesisFirehoseResponse, error) {
	resp := events.KinesisFirehoseResponse{Records: make([]events.KinesisFirehoseResponseRecord, 0, len(ev.Records))}
	for _, r := range ev.Records {
		out := events.KinesisFirehoseResponseRecord{RecordID: r.RecordID, Data: r.Data}
		keys, err := PartitionKeys(r.Data)
		if err != nil {
			out.Result = events.KinesisFirehoseTransformedStateProcessingFailed
		} else {
			out.Result = events.KinesisFirehoseTransformedStateOk
			out.Metadata.PartitionKeys = keys
		}
		resp.Records = append(resp.Records, out)
	}
	return resp, nil
}

// PartitionKeys returns the partition keys of one record's data, or why it has none.
func PartitionKeys(data []byte) (map[string]string, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil {
		return nil, fmt.Errorf("decode record: %w", err)
	}
	if obj == nil {
		return nil, errors.New("record is not a JSON object")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("record has data after its JSON object")
	}
	region, ok := obj["region"].(string)
	if !ok || region == "" {
		return nil, errors.New(`record has no string "region"`)
	}
	device, err := deviceOf(obj)
	if err != nil {
		return nil, err
	}
	ts, err := timestampOf(obj["event_timestamp"])
	if err != nil {
		return nil, err
	}
	ts = ts.UTC()
	return map[string]string{
		"region": region,
		"device": device,
		"year":   ts.Format("2006"),
		"month":  ts.Format("01"),
		"day":    ts.Format("02"),
		"hour":   ts.Format("15"),
	}, nil
}

// deviceOf returns type.device, device or device_id, the first present.
func deviceOf(obj map[string]any) (string, error) {
	var v any
	if t, ok := obj["type"].(map[string]any); ok && t["device"] != nil {
		v = t["device"]
	} else if obj["device"] != nil {
		v = obj["device"]
	} else {
		v = obj["device_id"]
	}
	switch v := v.(type) {
	case string:
		if v != "" {
			return v, nil
		}
	case json.Number:
		return v.String(), nil
	}
	return "", errors.New(`record has no string or number "type.device", "device" or "device_id"`)
}

// timestampOf parses event_timestamp: epoch seconds (integer or fractional, as a number or a
// string) or RFC 3339. Years outside 1..9999 are refused: they are most likely milliseconds.
func timestampOf(v any) (time.Time, error) {
	var s string
	switch v := v.(type) {
	case json.Number:
		s = v.String()
	case string:
		s = strings.TrimSpace(v)
	default:
		return time.Time{}, errors.New(`record has no number or string "event_timestamp"`)
	}
	var t time.Time
	if sec, err := strconv.ParseInt(s, 10, 64); err == nil {
		t = time.Unix(sec, 0)
	} else if f, err := strconv.ParseFloat(s, 64); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) && math.Abs(f) < 1e15 {
		whole, frac := math.Modf(f)
		t = time.Unix(int64(whole), int64(frac*1e9))
	} else if t, err = time.Parse(time.RFC3339Nano, s); err != nil {
		return time.Time{}, fmt.Errorf("event_timestamp %q is neither epoch seconds nor RFC 3339", s)
	}
	if y := t.UTC().Year(); y < 1 || y > 9999 {
		return time.Time{}, fmt.Errorf("event_timestamp %q is outside years 1..9999", s)
	}
	return t, nil
}
