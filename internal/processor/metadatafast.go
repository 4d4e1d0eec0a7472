package processor

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"sort"
	"unicode/utf8"

	"github.com/itchyny/gojq"
)

// The fast path of MetadataExtraction. Most queries only pick fields:
// {customer_id: .customer_id, region: .geo.region}. For those the record is
// not decoded into maps for gojq; one pass over its bytes validates it as
// JSON and notes where the wanted values are. Anything unusual sends the
// record to gojq (errSlowPath), so both paths agree on every record:
// FuzzJQFastPath checks that. docs/design/processing.md, "JQ fast path".

// errSlowPath means that the fast path cannot decide a record; gojq must.
var errSlowPath = errors.New("record needs the gojq path")

// maxFastDepth is the deepest nesting the fast path scans; deeper records go
// to gojq (encoding/json refuses more than 10000 levels).
const maxFastDepth = 1000

// fastQuery is a query of the form {k1: .a.b, "k2": ."x-y"["z"], k3}: an
// object construction whose keys are constants and whose values are chains
// of object-key lookups from the record's root.
type fastQuery struct {
	// nodes is the trie of the looked-up keys in preorder; nodes[0] is the
	// root (the record itself).
	nodes []fastNode
	// paths holds, per value of the query in query order, its nodes from the
	// root's child to the last key.
	paths [][]int
	// outs are the distinct output keys in sorted order.
	outs []fastOut
}

// fastNode is one looked-up key.
type fastNode struct {
	key      string
	children []int
	last     int // the last node of this node's subtree (preorder)
}

// fastOut is one output key and the index in paths of the value it takes
// (the last one given for the key, as gojq does).
type fastOut struct {
	name string
	path int
}

// newFastQuery returns the fast form of q, or nil when q is not a plain key
// selection.
func newFastQuery(q *gojq.Query) *fastQuery {
	if !plainQuery(q) || q.Term.Type != gojq.TermTypeObject || q.Term.Object == nil || len(q.Term.SuffixList) > 0 {
		return nil
	}
	var (
		keyPaths [][]string
		lastPath = map[string]int{}
	)
	for _, kv := range q.Term.Object.KeyVals {
		var name string
		switch {
		case kv.KeyQuery != nil:
			return nil
		case kv.KeyString != nil:
			if kv.Key != "" || kv.KeyString.Queries != nil {
				return nil
			}
			name = kv.KeyString.Str
		case isIdentifier(kv.Key):
			name = kv.Key
		default: // $var, $__loc__
			return nil
		}
		path := []string{name} // {a} and {"a"} mean {a: .a}
		if kv.Val != nil {
			if path = keyPath(kv.Val); path == nil {
				return nil
			}
		}
		lastPath[name] = len(keyPaths)
		keyPaths = append(keyPaths, path)
	}
	if len(lastPath) > MaxPartitionKeys {
		return nil
	}
	f := &fastQuery{}
	for name, i := range lastPath {
		f.outs = append(f.outs, fastOut{name: name, path: i})
	}
	sort.Slice(f.outs, func(i, j int) bool { return f.outs[i].name < f.outs[j].name })

	// Build the trie, then number it in preorder so that a subtree is a
	// range of nodes.
	type treeNode struct {
		key      string
		children []*treeNode
		index    int
	}
	root := &treeNode{}
	leaves := make([]*treeNode, len(keyPaths))
	for i, p := range keyPaths {
		n := root
	next:
		for _, k := range p {
			for _, c := range n.children {
				if c.key == k {
					n = c
					continue next
				}
			}
			c := &treeNode{key: k}
			n.children = append(n.children, c)
			n = c
		}
		leaves[i] = n
	}
	var number func(n *treeNode) int
	number = func(n *treeNode) int {
		n.index = len(f.nodes)
		f.nodes = append(f.nodes, fastNode{key: n.key})
		last := n.index
		for _, c := range n.children {
			f.nodes[n.index].children = append(f.nodes[n.index].children, len(f.nodes))
			last = number(c)
		}
		f.nodes[n.index].last = last
		return last
	}
	number(root)
	parent := make([]int, len(f.nodes))
	for i, n := range f.nodes {
		for _, c := range n.children {
			parent[c] = i
		}
	}
	for _, leaf := range leaves {
		var path []int
		for i := leaf.index; i != 0; i = parent[i] {
			path = append([]int{i}, path...)
		}
		f.paths = append(f.paths, path)
	}
	return f
}

// plainQuery reports whether q is a single term: no pipe, operator,
// definition, import or binding.
func plainQuery(q *gojq.Query) bool {
	return q != nil && q.Term != nil && q.Meta == nil && len(q.Imports) == 0 && len(q.FuncDefs) == 0 &&
		q.Left == nil && q.Right == nil && len(q.Patterns) == 0 && q.Op == 0
}

// keyPath returns the keys of a value that is a chain of object-key
// lookups from the root (.a, .a.b, ."x-y", .["x"], .a["b"]), else nil.
func keyPath(q *gojq.Query) []string {
	if !plainQuery(q) || q.Term.Type != gojq.TermTypeIndex || q.Term.Index == nil {
		return nil
	}
	k, ok := indexKey(q.Term.Index)
	if !ok {
		return nil
	}
	path := []string{k}
	for _, s := range q.Term.SuffixList {
		if s.Iter || s.Optional || s.Index == nil {
			return nil
		}
		if k, ok = indexKey(s.Index); !ok {
			return nil
		}
		path = append(path, k)
	}
	return path
}

// indexKey returns the key of an object-key lookup: .name, ."str" or
// .["str"], the string a literal without interpolation or format.
func indexKey(ix *gojq.Index) (string, bool) {
	if ix.IsSlice || ix.End != nil {
		return "", false
	}
	switch {
	case ix.Name != "" && ix.Str == nil && ix.Start == nil:
		return ix.Name, true
	case ix.Name == "" && ix.Str != nil && ix.Start == nil && ix.Str.Queries == nil:
		return ix.Str.Str, true
	case ix.Name == "" && ix.Str == nil && ix.Start != nil:
		t := ix.Start.Term
		if plainQuery(ix.Start) && t.Type == gojq.TermTypeString && t.Str != nil && t.Str.Queries == nil &&
			t.Format == "" && len(t.SuffixList) == 0 {
			return t.Str.Str, true
		}
	}
	return "", false
}

// isIdentifier reports whether s is a JQ identifier (a bare object key).
func isIdentifier(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '_' && (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (i == 0 || c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// fastScanner runs a fastQuery over records, one at a time; it reuses its
// memory from record to record.
type fastScanner struct {
	q     *fastQuery
	data  []byte
	pos   int
	depth int
	spans []span // per node, where its (last) value is in data
}

// span is the position of a value in the record; end == 0 when absent.
type span struct{ start, end int }

func (f *fastQuery) scanner() *fastScanner {
	return &fastScanner{q: f, spans: make([]span, len(f.nodes))}
}

// extract returns the partition keys of data, the same keys or error as
// the gojq path, or errSlowPath when the record needs gojq.
func (s *fastScanner) extract(data []byte) (map[string]string, error) {
	if !s.scan(data) {
		return nil, errSlowPath
	}
	// A value whose lookup fails in gojq (a key of a number, say) fails
	// the whole query, before any value is rendered: gojq reports it.
	for _, p := range s.q.paths {
		for _, n := range p[:len(p)-1] {
			sp := s.spans[n]
			if sp.end == 0 || s.data[sp.start] == 'n' {
				break // null or missing: the rest of the chain is null
			}
			if s.data[sp.start] != '{' {
				return nil, errSlowPath
			}
		}
	}
	keys := make(map[string]string, len(s.q.outs))
	for _, o := range s.q.outs {
		v, err := s.render(s.q.paths[o.path])
		if err != nil {
			return nil, partitionKeyError(o.name, err)
		}
		keys[o.name] = v
	}
	return keys, nil
}

// render renders the value at the end of path as keyString does.
func (s *fastScanner) render(path []int) (string, error) {
	for _, n := range path {
		if s.spans[n].end == 0 {
			return keyString(nil)
		}
	}
	sp := s.spans[path[len(path)-1]]
	raw := s.data[sp.start:sp.end]
	switch raw[0] {
	case '"':
		return unquote(raw)
	case 't':
		return "true", nil
	case 'f':
		return "false", nil
	case 'n':
		return keyString(nil)
	case '{':
		return keyString(map[string]any(nil))
	case '[':
		return keyString([]any(nil))
	}
	return numberString(string(raw))
}

// unquote decodes a JSON string literal exactly as encoding/json does.
func unquote(raw []byte) (string, error) {
	body := raw[1 : len(raw)-1]
	if plainString(body) {
		return string(body), nil
	}
	var v string
	if err := json.Unmarshal(raw, &v); err != nil {
		return "", err // not reached: the scanner validated the literal
	}
	return v, nil
}

// plainString reports whether a string literal's body decodes to itself: no
// escape and valid UTF-8 (encoding/json replaces invalid bytes with U+FFFD).
func plainString(body []byte) bool {
	ascii := true
	for _, c := range body {
		if c == '\\' {
			return false
		}
		if c >= utf8.RuneSelf {
			ascii = false
		}
	}
	return ascii || utf8.Valid(body)
}

// scan validates data as exactly one JSON object (surrounding whitespace
// allowed) and records the spans of the looked-up keys. It returns false for
// anything else, valid or not: gojq then decides.
func (s *fastScanner) scan(data []byte) bool {
	clear(s.spans)
	s.data, s.pos, s.depth = data, 0, 0
	s.space()
	if s.peek() != '{' {
		return false
	}
	if !s.object(0) {
		return false
	}
	s.space()
	return s.pos == len(s.data)
}

// peek returns the byte at pos, or 0 at the end (never valid where it is
// checked).
func (s *fastScanner) peek() byte {
	if s.pos < len(s.data) {
		return s.data[s.pos]
	}
	return 0
}

func (s *fastScanner) space() {
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

// object scans the object at pos, looking its keys up among node n's
// children; n < 0 looks up nothing.
func (s *fastScanner) object(n int) bool {
	if s.depth++; s.depth > maxFastDepth {
		return false
	}
	s.pos++ // '{'
	s.space()
	if s.peek() == '}' {
		s.pos++
		s.depth--
		return true
	}
	for {
		if s.peek() != '"' {
			return false
		}
		kstart := s.pos
		if !s.str() {
			return false
		}
		child, ok := s.child(n, s.data[kstart:s.pos])
		if !ok {
			return false
		}
		s.space()
		if s.peek() != ':' {
			return false
		}
		s.pos++
		s.space()
		if child < 0 {
			if !s.value() {
				return false
			}
		} else {
			// A key given twice: the last value wins, as in
			// encoding/json, so forget what the earlier one held.
			clear(s.spans[child+1 : s.q.nodes[child].last+1])
			start := s.pos
			if len(s.q.nodes[child].children) > 0 && s.peek() == '{' {
				ok = s.object(child)
			} else {
				ok = s.value()
			}
			if !ok {
				return false
			}
			s.spans[child] = span{start, s.pos}
		}
		s.space()
		switch s.peek() {
		case ',':
			s.pos++
			s.space()
		case '}':
			s.pos++
			s.depth--
			return true
		default:
			return false
		}
	}
}

// child returns the child of node n whose key is the string literal lit,
// or -1. ok is false when the key cannot be decoded.
func (s *fastScanner) child(n int, lit []byte) (int, bool) {
	if n < 0 {
		return -1, true
	}
	children := s.q.nodes[n].children
	if len(children) == 0 {
		return -1, true
	}
	body := lit[1 : len(lit)-1]
	if plainString(body) {
		for _, c := range children {
			if string(body) == s.q.nodes[c].key {
				return c, true
			}
		}
		return -1, true
	}
	key, err := unquote(lit)
	if err != nil {
		return -1, false
	}
	for _, c := range children {
		if key == s.q.nodes[c].key {
			return c, true
		}
	}
	return -1, true
}

// value skips the value at pos, validating it.
func (s *fastScanner) value() bool {
	switch c := s.peek(); {
	case c == '{':
		return s.object(-1)
	case c == '[':
		return s.array()
	case c == '"':
		return s.str()
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	case c == '-' || '0' <= c && c <= '9':
		return s.number()
	}
	return false
}

func (s *fastScanner) array() bool {
	if s.depth++; s.depth > maxFastDepth {
		return false
	}
	s.pos++ // '['
	s.space()
	if s.peek() == ']' {
		s.pos++
		s.depth--
		return true
	}
	for {
		if !s.value() {
			return false
		}
		s.space()
		switch s.peek() {
		case ',':
			s.pos++
			s.space()
		case ']':
			s.pos++
			s.depth--
			return true
		default:
			return false
		}
	}
}

// str skips the string literal at pos, validating its escapes and that it
// holds no control character. Like encoding/json, it accepts invalid UTF-8.
func (s *fastScanner) str() bool {
	data, i := s.data, s.pos+1
	for {
		// Eight bytes at a time while none is '"', '\\' or a control
		// character.
		for ; i+8 <= len(data); i += 8 {
			x := binary.LittleEndian.Uint64(data[i:])
			if hasZeroByte(x^(lsb*'"'))|hasZeroByte(x^(lsb*'\\'))|(x-lsb*' ')&^x&msb != 0 {
				break
			}
		}
		if i >= len(data) {
			return false
		}
		switch c := data[i]; {
		case c == '"':
			s.pos = i + 1
			return true
		case c == '\\':
			if i+1 >= len(data) {
				return false
			}
			switch data[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(data) {
					return false
				}
				for _, h := range data[i+2 : i+6] {
					if !isHex(h) {
						return false
					}
				}
				i += 6
			default:
				return false
			}
		case c < ' ':
			return false
		default:
			i++
		}
	}
}

// Masks for testing the eight bytes of a uint64 at once.
const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// hasZeroByte is not 0 when one of the bytes of x is 0.
func hasZeroByte(x uint64) uint64 { return (x - lsb) &^ x & msb }

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func (s *fastScanner) literal(lit string) bool {
	if len(s.data)-s.pos < len(lit) || string(s.data[s.pos:s.pos+len(lit)]) != lit {
		return false
	}
	s.pos += len(lit)
	return true
}

// number skips the number at pos: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *fastScanner) number() bool {
	if s.peek() == '-' {
		s.pos++
	}
	switch c := s.peek(); {
	case c == '0':
		s.pos++
	case '1' <= c && c <= '9':
		s.digits()
	default:
		return false
	}
	if s.peek() == '.' {
		s.pos++
		if !s.digits() {
			return false
		}
	}
	if c := s.peek(); c == 'e' || c == 'E' {
		s.pos++
		if c := s.peek(); c == '+' || c == '-' {
			s.pos++
		}
		if !s.digits() {
			return false
		}
	}
	return true
}

// digits skips one or more digits; false if there is none.
func (s *fastScanner) digits() bool {
	start := s.pos
	for s.pos < len(s.data) && '0' <= s.data[s.pos] && s.data[s.pos] <= '9' {
		s.pos++
	}
	return s.pos > start
}
