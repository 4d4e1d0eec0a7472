package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/service/firehose"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// This file holds what makes the client commands read and write JSON as the AWS CLI does:
// --cli-input-json values (JSON text or file://path), parameter validation with the AWS
// CLI's messages, and output indented by four spaces with timestamps in ISO 8601.

// errParamValidation is wrapped by every --cli-input-json validation failure.
var errParamValidation = errors.New("parameter validation failed")

// readCLIInput returns the JSON of a --cli-input-json value: the text itself, or the
// contents of a file named file://path or fileb://path (a leading ~ is the home directory).
func readCLIInput(arg string) ([]byte, error) {
	for _, prefix := range []string{"file://", "fileb://"} {
		if path, ok := strings.CutPrefix(arg, prefix); ok {
			if rest, ok := strings.CutPrefix(path, "~"); ok && (rest == "" || rest[0] == '/' || rest[0] == filepath.Separator) {
				home, err := os.UserHomeDir()
				if err != nil {
					return nil, fmt.Errorf("read %s: %w", arg, err)
				}
				path = home + rest
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return nil, fmt.Errorf("read %s: %w", arg, err)
			}
			return b, nil
		}
	}
	return []byte(arg), nil
}

// decodeInput decodes AWS JSON (the shape of an API operation's input, member names exact)
// into an aws-sdk-go-v2 input struct. Unknown members and values of the wrong type are
// reported together, worded as the AWS CLI words them; timestamps may be epoch seconds or
// RFC 3339 text.
func decodeInput(data []byte, dst any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return jsonError(data, err)
	}
	if dec.More() {
		off := dec.InputOffset()
		for off < int64(len(data)) && strings.IndexByte(" \t\r\n", data[off]) >= 0 {
			off++
		}
		line, col := lineCol(data, off+1)
		return fmt.Errorf("invalid JSON at line %d, column %d: data after the top-level value", line, col)
	}
	var problems []string
	v = checkShape(v, reflect.TypeOf(dst).Elem(), "", &problems)
	if len(problems) > 0 {
		return fmt.Errorf("%w:\n%s", errParamValidation, strings.Join(problems, "\n"))
	}
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, dst); err != nil {
		return fmt.Errorf("%w: %v", errParamValidation, err)
	}
	return nil
}

// jsonError words a failure to decode data as "invalid JSON", with the line and column
// (both from 1, columns in characters) where a syntax or type error was found.
func jsonError(data []byte, err error) error {
	var off int64 = -1
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		off = se.Offset
	case errors.As(err, &te):
		off = te.Offset
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		off = int64(len(data))
		if len(bytes.TrimSpace(data)) == 0 {
			return errors.New("invalid JSON: empty input")
		}
		err = errors.New("unexpected end of JSON input")
	}
	if off < 0 {
		return fmt.Errorf("invalid JSON: %w", err)
	}
	line, col := lineCol(data, off)
	return fmt.Errorf("invalid JSON at line %d, column %d: %w", line, col, err)
}

// lineCol returns the line and column (from 1; columns count characters) of the last byte
// of data[:off], where encoding/json's error offsets point (they count the bytes read).
func lineCol(data []byte, off int64) (line, col int) {
	off = min(max(off, 1), int64(len(data)))
	before := data[:max(off-1, 0)]
	line = 1 + bytes.Count(before, []byte("\n"))
	col = 1 + utf8.RuneCount(before[bytes.LastIndexByte(before, '\n')+1:])
	return line, col
}

var timeType = reflect.TypeFor[time.Time]()

// checkShape checks v against the Go type t of an SDK shape, appending a message per
// problem, and returns v with timestamps rewritten as RFC 3339 text for encoding/json.
func checkShape(v any, t reflect.Type, path string, problems *[]string) any {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if v == nil {
		return nil
	}
	param := path
	if param == "" {
		param = "input"
	}
	invalid := func(valid string) {
		*problems = append(*problems, fmt.Sprintf("Invalid type for parameter %s, value: %v, type: %s, valid types: %s", param, v, jsonKind(v), valid))
	}
	switch {
	case t == timeType:
		switch x := v.(type) {
		case json.Number:
			f, err := x.Float64()
			if err != nil {
				invalid("timestamp")
				return v
			}
			sec, frac := math.Modf(f)
			return time.Unix(int64(sec), int64(math.Round(frac*1e9))).UTC().Format(time.RFC3339Nano)
		case string:
			if _, err := time.Parse(time.RFC3339Nano, x); err != nil {
				invalid("timestamp (epoch seconds or RFC 3339)")
			}
			return v
		}
		invalid("timestamp")
		return v
	case t.Kind() == reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			invalid("object")
			return v
		}
		var names []string
		fields := map[string]reflect.Type{}
		for f := range t.Fields() {
			if f.IsExported() && f.Name != "ResultMetadata" {
				names = append(names, f.Name)
				fields[f.Name] = f.Type
			}
		}
		where := "input"
		if path != "" {
			where = path
		}
		for _, k := range sortedKeys(m) {
			ft, ok := fields[k]
			if !ok {
				*problems = append(*problems, fmt.Sprintf("Unknown parameter in %s: %q, must be one of: %s", where, k, strings.Join(names, ", ")))
				continue
			}
			m[k] = checkShape(m[k], ft, joinPath(path, k), problems)
		}
		return m
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8, t.Kind() == reflect.String:
		if _, ok := v.(string); !ok {
			invalid("string")
		}
	case t.Kind() == reflect.Slice:
		a, ok := v.([]any)
		if !ok {
			invalid("list")
			return v
		}
		for i := range a {
			a[i] = checkShape(a[i], t.Elem(), fmt.Sprintf("%s[%d]", param, i), problems)
		}
	case t.Kind() == reflect.Map:
		m, ok := v.(map[string]any)
		if !ok {
			invalid("object")
			return v
		}
		for _, k := range sortedKeys(m) {
			m[k] = checkShape(m[k], t.Elem(), joinPath(path, k), problems)
		}
	case t.Kind() == reflect.Bool:
		if _, ok := v.(bool); !ok {
			invalid("boolean")
		}
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Uint64:
		n, ok := v.(json.Number)
		if _, err := n.Int64(); !ok || err != nil {
			invalid("integer")
		}
	case t.Kind() == reflect.Float32 || t.Kind() == reflect.Float64:
		if _, ok := v.(json.Number); !ok {
			invalid("number")
		}
	}
	return v
}

func joinPath(path, k string) string {
	if path == "" {
		return k
	}
	return path + "." + k
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func jsonKind(v any) string {
	switch v.(type) {
	case string:
		return "string"
	case json.Number:
		return "number"
	case bool:
		return "boolean"
	case []any:
		return "list"
	case map[string]any:
		return "object"
	}
	return "null"
}

// writeCLIJSON writes a JSON response as the AWS CLI prints it: members in wire order,
// indented by four spaces, non-ASCII text as is, and timestamps (members named
// *Timestamp, epoch seconds on the wire) as ISO 8601 in loc, like Python's isoformat.
func writeCLIJSON(w io.Writer, raw []byte, loc *time.Location) error {
	if len(bytes.TrimSpace(raw)) == 0 {
		raw = []byte("{}")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var b bytes.Buffer
	if err := writeCLIValue(&b, dec, 0, "", loc); err != nil {
		return fmt.Errorf("format response: %w", err)
	}
	b.WriteByte('\n')
	_, err := w.Write(b.Bytes())
	return err
}

func writeCLIValue(b *bytes.Buffer, dec *json.Decoder, depth int, key string, loc *time.Location) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	indent := func(d int) {
		b.WriteByte('\n')
		b.WriteString(strings.Repeat("    ", d))
	}
	switch t := tok.(type) {
	case json.Delim:
		closer := byte('}')
		if t == '[' {
			closer = ']'
		}
		b.WriteByte(byte(t))
		n := 0
		for ; dec.More(); n++ {
			if n > 0 {
				b.WriteByte(',')
			}
			indent(depth + 1)
			elemKey := ""
			if t == '{' {
				k, err := dec.Token()
				if err != nil {
					return err
				}
				elemKey, _ = k.(string)
				writeJSONString(b, elemKey)
				b.WriteString(": ")
			}
			if err := writeCLIValue(b, dec, depth+1, elemKey, loc); err != nil {
				return err
			}
		}
		if _, err := dec.Token(); err != nil {
			return err
		}
		if n > 0 {
			indent(depth)
		}
		b.WriteByte(closer)
	case string:
		writeJSONString(b, t)
	case json.Number:
		if f, err := t.Float64(); err == nil && strings.HasSuffix(key, "Timestamp") {
			writeJSONString(b, isoTimestamp(f, loc))
		} else {
			b.WriteString(t.String())
		}
	case bool:
		fmt.Fprint(b, t)
	case nil:
		b.WriteString("null")
	}
	return nil
}

func writeJSONString(b *bytes.Buffer, s string) {
	enc := json.NewEncoder(b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	b.Truncate(b.Len() - 1) // Encode's newline
}

// isoTimestamp formats epoch seconds as Python's datetime.isoformat does: microseconds
// only when not zero, and the UTC offset as ±hh:mm.
func isoTimestamp(epoch float64, loc *time.Location) string {
	us := int64(math.RoundToEven(epoch * 1e6))
	t := time.UnixMicro(us).In(loc)
	if us%1e6 == 0 {
		return t.Format("2006-01-02T15:04:05-07:00")
	}
	return t.Format("2006-01-02T15:04:05.000000-07:00")
}

// captureBody makes a client keep the raw body of each successful response in *dst,
// so that a command can print the response exactly as the service sent it.
func captureBody(dst *[]byte) func(*firehose.Options) {
	return func(o *firehose.Options) {
		o.APIOptions = append(o.APIOptions, func(st *middleware.Stack) error {
			return st.Deserialize.Add(middleware.DeserializeMiddlewareFunc("HydrantCaptureBody",
				func(ctx context.Context, in middleware.DeserializeInput, next middleware.DeserializeHandler) (middleware.DeserializeOutput, middleware.Metadata, error) {
					out, md, err := next.HandleDeserialize(ctx, in)
					resp, ok := out.RawResponse.(*smithyhttp.Response)
					if err != nil || !ok || resp.Body == nil || resp.StatusCode/100 != 2 {
						return out, md, err
					}
					b, err := io.ReadAll(resp.Body)
					resp.Body.Close()
					if err != nil {
						return out, md, err
					}
					*dst = b
					resp.Body = io.NopCloser(bytes.NewReader(b))
					return out, md, nil
				}), middleware.After)
		})
	}
}
