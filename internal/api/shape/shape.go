package shape

//go:generate go run ./internal/gen -o model_gen.go

import (
	"regexp"
	"slices"
	"strings"
)

// shapeID indexes shapes.
type shapeID uint16

// kind is a model shape type.
type kind uint8

const (
	kindStructure kind = iota + 1
	kindList
	kindMap
	kindString
	kindBlob
	kindInteger
	kindLong
	kindBoolean
	kindDouble
	kindTimestamp
)

// shape is one model shape: its type and constraints. Tables of shapes are generated and never mutated.
type shape struct {
	name      string
	kind      kind
	hasMin    bool
	hasMax    bool
	min, max  float64 // length for strings, blobs, lists and maps; value for numbers
	pattern   int     // index into patterns; 0 means none
	sensitive bool
	enum      []string
	elem      shapeID // list member or map value
	key       shapeID // map key
	members   []member
}

// member is one structure member.
type member struct {
	name     string  // wire name
	path     string  // name in validation paths: first letter lower-cased
	shape    shapeID // target
	required bool
}

// patternDef is a model pattern and how Go matches it: an RE2 translation or a hand-written matcher.
type patternDef struct {
	java  string
	re2   string
	match func(string) bool
}

// matchers holds one compiled matcher per entry of patterns; built once at init, never mutated.
var matchers = compilePatterns()

func compilePatterns() []func(string) bool {
	fns := make([]func(string) bool, len(patterns))
	for i, p := range patterns {
		switch {
		case p.match != nil:
			fns[i] = p.match
		case p.re2 != "":
			fns[i] = regexp.MustCompile(p.re2).MatchString
		}
	}
	return fns
}

// tagChars is the character set of the TagKey and TagValue patterns.
var tagChars = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@%]*$`)

// matchTagKey implements Java's ^(?!aws:)[\p{L}\p{Z}\p{N}_.:\/=+\-@%]*$.
func matchTagKey(s string) bool {
	return !strings.HasPrefix(s, "aws:") && tagChars.MatchString(s)
}

// matchNotBlank implements Java's ^(?!\s*$).+ under Matcher.matches: at least one character, no
// line terminator (Java's "." excludes them), and not only Java whitespace ([ \t\n\x0B\f\r]).
func matchNotBlank(s string) bool {
	if s == "" || strings.ContainsAny(s, "\n\r\u0085\u2028\u2029") {
		return false
	}
	return strings.ContainsFunc(s, func(r rune) bool { return !slices.Contains([]rune(" \t\x0B\f"), r) })
}
