// Package prefix implements the expression language of Amazon Data Firehose
// S3 prefixes: literal text mixed with !{namespace:value} expressions in the
// timestamp, firehose, partitionKeyFromQuery and partitionKeyFromLambda
// namespaces. It parses a prefix once, validates a destination's Prefix and
// ErrorOutputPrefix the way Firehose does at Create and Update, and evaluates a
// parsed prefix per delivered object (or per record with dynamic
// partitioning) without allocating beyond the result.
//
// docs/design/prefix.md describes the grammar, the rules and where they come
// from.
package prefix

import (
	"fmt"
	"strings"
)

// Namespaces and firehose values, spelled as users write them.
const (
	NamespaceTimestamp = "timestamp"
	NamespaceFirehose  = "firehose"
	NamespaceQuery     = "partitionKeyFromQuery"
	NamespaceLambda    = "partitionKeyFromLambda"

	ValueRandomString    = "random-string"
	ValueErrorOutputType = "error-output-type"
)

// kind is what a part of a prefix evaluates.
type kind uint8

const (
	kindLiteral kind = iota
	kindTimestamp
	kindRandom
	kindErrorOutputType
	kindQuery
	kindLambda
)

// part is literal text or one expression.
type part struct {
	kind kind
	text string // literal text, or the key of a partition-key expression
	ts   []item // compiled pattern of a timestamp expression
}

// Expr is a parsed prefix. It is immutable and safe for concurrent use.
type Expr struct {
	src   string
	parts []part
	has   [kindLambda + 1]bool
}

// Parse parses a prefix. Literal text passes through; "!{" must start a
// well-formed expression. Timestamp patterns are compiled here, once.
// Errors are *Error values of kind ErrSyntax or ErrPattern.
func Parse(s string) (*Expr, error) {
	e := &Expr{src: s}
	lit := 0
	for i := 0; ; {
		j := strings.Index(s[i:], "!{")
		if j < 0 {
			break
		}
		start := i + j
		if start > lit {
			e.add(part{kind: kindLiteral, text: s[lit:start]})
		}
		n := strings.IndexByte(s[start+2:], '}')
		if n < 0 {
			return nil, syntaxError("unterminated expression at offset %d: %q has no closing '}'", start, s[start:])
		}
		end := start + 2 + n + 1
		p, err := parseExpr(s[start:end])
		if err != nil {
			return nil, err
		}
		e.add(p)
		i, lit = end, end
	}
	if lit < len(s) {
		e.add(part{kind: kindLiteral, text: s[lit:]})
	}
	return e, nil
}

// parseExpr parses one "!{namespace:value}".
func parseExpr(x string) (part, error) {
	body := x[2 : len(x)-1]
	ns, val, ok := strings.Cut(body, ":")
	if !ok {
		return part{}, syntaxError("expression %s must be of the form !{namespace:value}", x)
	}
	if strings.IndexByte(val, '{') >= 0 {
		return part{}, syntaxError("character '{' is not allowed in expression %s", x)
	}
	switch ns {
	case NamespaceTimestamp:
		if val == "" {
			return part{}, syntaxError("empty timestamp pattern in %s", x)
		}
		items, err := compilePattern(val, x)
		if err != nil {
			return part{}, err
		}
		return part{kind: kindTimestamp, text: val, ts: items}, nil
	case NamespaceFirehose:
		switch val {
		case ValueRandomString:
			return part{kind: kindRandom, text: val}, nil
		case ValueErrorOutputType:
			return part{kind: kindErrorOutputType, text: val}, nil
		}
		return part{}, syntaxError("unknown value %q in %s: the firehose namespace has %s and %s", val, x, ValueRandomString, ValueErrorOutputType)
	case NamespaceQuery, NamespaceLambda:
		if val == "" {
			return part{}, syntaxError("empty partition key in %s", x)
		}
		k := kindQuery
		if ns == NamespaceLambda {
			k = kindLambda
		}
		return part{kind: k, text: val}, nil
	}
	return part{}, syntaxError("unknown namespace %q in %s: expected %s, %s, %s or %s",
		ns, x, NamespaceTimestamp, NamespaceFirehose, NamespaceQuery, NamespaceLambda)
}

func (e *Expr) add(p part) {
	e.parts = append(e.parts, p)
	e.has[p.kind] = true
}

func syntaxError(format string, args ...any) error {
	return &Error{Kind: ErrSyntax, Message: fmt.Sprintf(format, args...)}
}

// String returns the prefix as written; Parse(e.String()) yields e again.
func (e *Expr) String() string { return e.src }

// HasExpressions reports whether the prefix contains any expression.
func (e *Expr) HasExpressions() bool {
	for k := kindTimestamp; k <= kindLambda; k++ {
		if e.has[k] {
			return true
		}
	}
	return false
}

// HasTimestamp reports whether the prefix contains a timestamp expression.
func (e *Expr) HasTimestamp() bool { return e.has[kindTimestamp] }

// HasErrorOutputType reports whether the prefix contains
// !{firehose:error-output-type}.
func (e *Expr) HasErrorOutputType() bool { return e.has[kindErrorOutputType] }

// HasPartitionKeys reports whether the prefix contains a
// partitionKeyFromQuery or partitionKeyFromLambda expression.
func (e *Expr) HasPartitionKeys() bool { return e.has[kindQuery] || e.has[kindLambda] }

// QueryKeys returns the keys of the partitionKeyFromQuery expressions, each
// once, in order of first appearance. The API layer checks with it that every
// key a MetadataExtraction query produces is used in Prefix.
func (e *Expr) QueryKeys() []string { return e.keys(kindQuery) }

// LambdaKeys returns the keys of the partitionKeyFromLambda expressions, each
// once, in order of first appearance.
func (e *Expr) LambdaKeys() []string { return e.keys(kindLambda) }

func (e *Expr) keys(k kind) []string {
	var out []string
	seen := map[string]bool{}
	for _, p := range e.parts {
		if p.kind == k && !seen[p.text] {
			seen[p.text] = true
			out = append(out, p.text)
		}
	}
	return out
}
