package httpendpoint

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// MaxResponseBytes bounds the answer's body that is read: Firehose's limit, 1 MiB.
const MaxResponseBytes = 1 << 20

// Response is an endpoint's answer body: {"requestId","timestamp"[,"errorMessage"]}.
type Response struct {
	RequestID    string `json:"requestId"`
	Timestamp    int64  `json:"timestamp"`
	ErrorMessage string `json:"errorMessage,omitempty"`
}

// errMalformed is the cause of an answer that is not a Firehose response.
var errMalformed = errors.New("malformed response")

// ParseResponse decodes an answer body. It fails (wrapping errMalformed) unless the body is one
// JSON object with a string requestId equal to want. timestamp and errorMessage are optional;
// other members are ignored.
func ParseResponse(body []byte, want string) (Response, error) {
	var raw map[string]json.RawMessage
	d := json.NewDecoder(bytes.NewReader(body))
	if err := d.Decode(&raw); err != nil {
		return Response{}, fmt.Errorf("%w: body is not a JSON object: %v", errMalformed, err)
	}
	if raw == nil {
		return Response{}, fmt.Errorf("%w: body is null", errMalformed)
	}
	if d.More() {
		return Response{}, fmt.Errorf("%w: data after the JSON object", errMalformed)
	}
	var r Response
	id, ok := raw["requestId"]
	if !ok {
		return r, fmt.Errorf("%w: no requestId", errMalformed)
	}
	if err := json.Unmarshal(id, &r.RequestID); err != nil {
		return r, fmt.Errorf("%w: requestId is not a string", errMalformed)
	}
	if ts, ok := raw["timestamp"]; ok && string(ts) != "null" {
		if err := json.Unmarshal(ts, &r.Timestamp); err != nil {
			return r, fmt.Errorf("%w: timestamp is not an integer", errMalformed)
		}
	}
	if m, ok := raw["errorMessage"]; ok && string(m) != "null" {
		if err := json.Unmarshal(m, &r.ErrorMessage); err != nil {
			return r, fmt.Errorf("%w: errorMessage is not a string", errMalformed)
		}
	}
	if r.RequestID != want {
		return r, fmt.Errorf("%w: requestId %q does not match the request's %q", errMalformed, truncate(r.RequestID, 100), want)
	}
	return r, nil
}
