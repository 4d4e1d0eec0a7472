package processor

import (
	"context"
	"encoding/json"
	"strconv"
)

// The messageType values of CloudWatch Logs subscription data.
const (
	cwlDataMessage    = "DATA_MESSAGE"
	cwlControlMessage = "CONTROL_MESSAGE"
)

// cwlStage is CloudWatchLogProcessing with DataMessageExtraction true: one
// record per log event message, control messages dropped.
type cwlStage struct{}

// cwlEnvelope is the part of a CloudWatch Logs subscription message the
// stage reads.
type cwlEnvelope struct {
	MessageType string `json:"messageType"`
	LogEvents   []struct {
		Message string `json:"message"`
	} `json:"logEvents"`
}

func (cwlStage) run(_ context.Context, r *runState, in []item) ([]item, error) {
	out := make([]item, 0, len(in))
	for _, it := range in {
		msgs, err := ExtractLogMessages(it.rec.Data)
		if err != nil {
			r.fail(it, CodeCloudWatchLogsInvalidData, err.Error(), OutputDecompressionFailed, 1, "")
			continue
		}
		for j, m := range msgs {
			sub := it
			sub.rec.Data = m
			sub.rec.ID = it.rec.ID + "." + strconv.Itoa(j)
			out = append(out, sub) // same raw record: fails at most once
		}
	}
	return out, nil
}

// cwlError is an invalid CloudWatch Logs subscription message.
type cwlError string

// Error returns the message.
func (e cwlError) Error() string { return string(e) }

// ExtractLogMessages returns the log event messages of a decompressed
// CloudWatch Logs subscription message: none for a CONTROL_MESSAGE, one per
// logEvents entry for a DATA_MESSAGE. Anything else is an error.
func ExtractLogMessages(data []byte) ([][]byte, error) {
	var env cwlEnvelope
	if err := json.Unmarshal(data, &env); err != nil {
		return nil, cwlError("record is not a CloudWatch Logs subscription message: " + err.Error())
	}
	switch env.MessageType {
	case cwlControlMessage:
		return nil, nil
	case cwlDataMessage:
	default:
		return nil, cwlError("record is not a CloudWatch Logs subscription message: messageType " + strconv.Quote(env.MessageType))
	}
	out := make([][]byte, len(env.LogEvents))
	for i, e := range env.LogEvents {
		out[i] = []byte(e.Message)
	}
	return out, nil
}
