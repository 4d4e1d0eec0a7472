package prefix

import (
	"fmt"
	"math/rand/v2"
	"time"
	"unicode/utf8"
)

// MaxLen is the longest an evaluated prefix may be, in characters (UTF-16
// code units, as Java counts them; bytes for ASCII).
const MaxLen = 512

// randomLen is the length of !{firehose:random-string}.
const randomLen = 11

// Values are the inputs of one evaluation.
type Values struct {
	// Time is the approximate arrival time of the oldest record in the object.
	Time time.Time
	// Location is the stream's CustomTimeZone; nil means UTC. Timestamps are
	// converted once, so every timestamp expression sees the same instant.
	Location *time.Location
	// ErrorOutputType is the value of !{firehose:error-output-type}, such as
	// "processing-failed"; needed only by error prefixes.
	ErrorOutputType string
	// Query holds the partition keys the MetadataExtraction query produced.
	Query map[string]string
	// Lambda holds the partition keys the Lambda returned in
	// metadata.partitionKeys.
	Lambda map[string]string
	// Rand supplies the bits of !{firehose:random-string}, one call per
	// occurrence; nil means math/rand/v2.Uint64.
	Rand func() uint64
}

// Eval evaluates the prefix. Errors are *Error values of kind
// ErrMissingPartitionKey, ErrMissingErrorOutputType or ErrTooLong.
func (e *Expr) Eval(v Values) (string, error) {
	var buf [MaxLen]byte
	b, err := e.AppendEval(buf[:0], v)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// AppendEval appends the evaluated prefix to dst and returns the extended
// slice; with a reused dst it does not allocate. On error it returns dst
// unchanged.
func (e *Expr) AppendEval(dst []byte, v Values) ([]byte, error) {
	var c clock
	if e.has[kindTimestamp] {
		loc := v.Location
		if loc == nil {
			loc = time.UTC
		}
		t := v.Time.In(loc)
		var mon time.Month
		c.year, mon, c.day = t.Date()
		c.month = int(mon)
		c.hour, c.minute, c.second = t.Clock()
	}
	random := v.Rand
	if random == nil {
		random = rand.Uint64
	}
	b := dst
	for i := range e.parts {
		p := &e.parts[i]
		switch p.kind {
		case kindLiteral:
			b = append(b, p.text...)
		case kindTimestamp:
			b = appendTimestamp(b, p.ts, &c)
		case kindRandom:
			b = appendHex(b, random())
		case kindErrorOutputType:
			if v.ErrorOutputType == "" {
				return dst, &Error{Kind: ErrMissingErrorOutputType,
					Message: "no error output type to evaluate !{firehose:error-output-type}"}
			}
			b = append(b, v.ErrorOutputType...)
		case kindQuery, kindLambda:
			m, ns := v.Query, NamespaceQuery
			if p.kind == kindLambda {
				m, ns = v.Lambda, NamespaceLambda
			}
			val, ok := m[p.text]
			if !ok {
				return dst, &Error{Kind: ErrMissingPartitionKey,
					Message: fmt.Sprintf("partition key %q is missing for !{%s:%s}", p.text, ns, p.text)}
			}
			b = append(b, val...)
		}
		// Every character takes at most 3 bytes per UTF-16 unit: stop early
		// instead of growing without bound on huge partition values.
		if len(b)-len(dst) > 3*MaxLen {
			return dst, tooLong()
		}
	}
	if n := len(b) - len(dst); n > MaxLen && utf16Len(b[len(dst):]) > MaxLen {
		return dst, tooLong()
	}
	return b, nil
}

func tooLong() error {
	return &Error{Kind: ErrTooLong, Message: fmt.Sprintf("the evaluated prefix is longer than %d characters", MaxLen)}
}

// utf16Len counts b as Java's String.length would after decoding it as UTF-8.
func utf16Len(b []byte) int {
	n := 0
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		b = b[size:]
		if r >= 0x10000 {
			n += 2
		} else {
			n++
		}
	}
	return n
}

const hexDigits = "0123456789abcdef"

// appendHex appends the low 44 bits of x as 11 lowercase hex digits.
func appendHex(b []byte, x uint64) []byte {
	for i := randomLen - 1; i >= 0; i-- {
		b = append(b, hexDigits[(x>>(4*uint(i)))&0xf])
	}
	return b
}
