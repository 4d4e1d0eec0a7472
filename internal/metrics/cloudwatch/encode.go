package cloudwatch

import (
	"encoding/json"
	"encoding/xml"
	"math"
	"strconv"
	"strings"
	"time"
)

// A response is built as a small ordered tree, then written in the request's protocol. Values
// are string, float64, time.Time, []any, object and floatMap.

// field is one member of a structure.
type field struct {
	name  string
	value any
}

// object is a structure whose members keep the model's order.
type object []field

// floatEntry is one key of a map from string to double.
type floatEntry struct {
	key   string
	value float64
}

// floatMap is a map from string to double (DatapointValueMap), in a fixed order.
type floatMap []floatEntry

// appendJSON appends v as AWS JSON 1.0: timestamps as epoch seconds numbers, non-finite doubles
// as the strings "NaN", "Infinity" and "-Infinity".
func appendJSON(b []byte, v any) []byte {
	switch x := v.(type) {
	case string:
		q, _ := json.Marshal(x)
		return append(b, q...)
	case float64:
		return appendJSONFloat(b, x)
	case time.Time:
		return append(b, epochSeconds(x)...)
	case []any:
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSON(b, e)
		}
		return append(b, ']')
	case object:
		b = append(b, '{')
		for i, f := range x {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSON(b, f.name)
			b = append(b, ':')
			b = appendJSON(b, f.value)
		}
		return append(b, '}')
	case floatMap:
		b = append(b, '{')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSON(b, e.key)
			b = append(b, ':')
			b = appendJSONFloat(b, e.value)
		}
		return append(b, '}')
	}
	panic("cloudwatch: cannot encode value as JSON")
}

func appendJSONFloat(b []byte, f float64) []byte {
	switch {
	case math.IsNaN(f):
		return append(b, `"NaN"`...)
	case math.IsInf(f, 1):
		return append(b, `"Infinity"`...)
	case math.IsInf(f, -1):
		return append(b, `"-Infinity"`...)
	}
	return strconv.AppendFloat(b, f, 'g', -1, 64)
}

// epochSeconds formats t as epoch seconds with up to millisecond precision.
func epochSeconds(t time.Time) string {
	if t.Nanosecond() == 0 {
		return strconv.FormatInt(t.Unix(), 10)
	}
	return strconv.FormatFloat(float64(t.UnixMilli())/1000, 'f', -1, 64)
}

// isoTime formats t as the query protocol's ISO-8601 UTC timestamp.
func isoTime(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.999Z")
}

// writeXML writes the members of v as XML elements in the query protocol's layout: list items
// as <member>, map entries as <entry><key/><value/></entry>.
func writeXML(sb *strings.Builder, name string, v any) {
	sb.WriteString("<" + name + ">")
	switch x := v.(type) {
	case string:
		_ = xml.EscapeText(sb, []byte(x)) // a strings.Builder never fails
	case float64:
		sb.WriteString(xmlFloat(x))
	case time.Time:
		sb.WriteString(isoTime(x))
	case []any:
		for _, e := range x {
			writeXML(sb, "member", e)
		}
	case object:
		for _, f := range x {
			writeXML(sb, f.name, f.value)
		}
	case floatMap:
		for _, e := range x {
			sb.WriteString("<entry>")
			writeXML(sb, "key", e.key)
			writeXML(sb, "value", e.value)
			sb.WriteString("</entry>")
		}
	default:
		panic("cloudwatch: cannot encode value as XML")
	}
	sb.WriteString("</" + name + ">")
}

func xmlFloat(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}
