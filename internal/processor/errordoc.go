package processor

import (
	"bytes"
	"encoding/json"
)

// errorDocument is the processing-failed JSON object, members in the order
// of the AWS documentation.
type errorDocument struct {
	AttemptsMade           int     `json:"attemptsMade"`
	ArrivalTimestamp       int64   `json:"arrivalTimestamp"`
	ErrorCode              string  `json:"errorCode"`
	ErrorMessage           string  `json:"errorMessage"`
	AttemptEndingTimestamp int64   `json:"attemptEndingTimestamp"`
	RawData                []byte  `json:"rawData"`
	LambdaArn              string  `json:"lambdaArn,omitempty"`
	SubsequenceNumber      *uint64 `json:"subsequenceNumber,omitempty"`
	DataID                 string  `json:"dataId,omitempty"`
}

// ErrorDocument returns the error-output line of a failure:
// {"attemptsMade","arrivalTimestamp","errorCode","errorMessage",
// "attemptEndingTimestamp","rawData","lambdaArn"} and a newline, timestamps
// in epoch milliseconds, rawData in base64, lambdaArn only for Lambda
// failures; a delivery failure (f.Delivery) ends with "subsequenceNumber"
// and "dataId" instead.
func ErrorDocument(f Failure) []byte {
	raw := f.Raw.Data
	if raw == nil {
		raw = []byte{} // "" rather than null
	}
	doc := errorDocument{
		AttemptsMade:           f.Attempts,
		ArrivalTimestamp:       f.Raw.Arrival.UnixMilli(),
		ErrorCode:              f.Code,
		ErrorMessage:           f.Message,
		AttemptEndingTimestamp: f.At.UnixMilli(),
		RawData:                raw,
		LambdaArn:              f.LambdaARN,
	}
	if d := f.Delivery; d != nil {
		doc.SubsequenceNumber, doc.DataID = &d.Subsequence, d.DataID
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(doc) // the struct always encodes
	return buf.Bytes()
}
