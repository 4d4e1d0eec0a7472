package main

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"go/format"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp/syntax"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// modelRel is the model's path inside the botocore package directory.
const modelRel = "data/firehose/2015-08-04/service-2.json.gz"

// overrides maps a Java pattern RE2 cannot express to its replacement: either an RE2 expression
// with the same full-match language, or the name of a hand-written matcher in package shape.
var overrides = map[string]struct{ re2, fn string }{
	// Java: the string must not start with "aws:", then the allowed character set.
	`^(?!aws:)[\p{L}\p{Z}\p{N}_.:\/=+\-@%]*$`: {fn: "matchTagKey"},
	// Java: not blank (not all whitespace), and "." excludes line terminators.
	`^(?!\s*$).+`: {fn: "matchNotBlank"},
	// Java: host labels that neither start nor end with '-'; the same language without lookaround.
	`jdbc:(redshift|postgresql)://((?!-)[A-Za-z0-9-]{1,63}(?<!-)\.)+(redshift(-serverless)?)\.([a-zA-Z0-9\.\-]+):\d{1,5}/[a-zA-Z0-9_$-]+`: {
		re2: `^(?:jdbc:(redshift|postgresql)://([A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+(redshift(-serverless)?)\.([a-zA-Z0-9\.\-]+):\d{1,5}/[a-zA-Z0-9_$-]+)$`,
	},
}

type ref struct {
	Shape string `json:"shape"`
}

type member struct {
	Name  string
	Shape string
}

// orderedMembers keeps a structure's members in model order, which json.Unmarshal into a map loses.
type orderedMembers []member

func (m *orderedMembers) UnmarshalJSON(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return fmt.Errorf("members: want object, got %v (%v)", t, err)
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return err
		}
		var r ref
		if err := dec.Decode(&r); err != nil {
			return err
		}
		*m = append(*m, member{Name: t.(string), Shape: r.Shape})
	}
	return nil
}

type rawShape struct {
	Type      string         `json:"type"`
	Members   orderedMembers `json:"members"`
	Required  []string       `json:"required"`
	Member    *ref           `json:"member"`
	Key       *ref           `json:"key"`
	Value     *ref           `json:"value"`
	Min       json.Number    `json:"min"`
	Max       json.Number    `json:"max"`
	Pattern   *string        `json:"pattern"`
	Enum      []string       `json:"enum"`
	Sensitive bool           `json:"sensitive"`
}

type model struct {
	Metadata struct {
		UID string `json:"uid"`
	} `json:"metadata"`
	Operations map[string]struct {
		Input *ref `json:"input"`
	} `json:"operations"`
	Shapes map[string]*rawShape `json:"shapes"`
}

// locateModel asks python3 where botocore lives.
func locateModel() (string, error) {
	out, err := exec.Command("python3", "-c", "import botocore,os;print(os.path.dirname(botocore.__file__))").Output()
	if err != nil {
		return "", fmt.Errorf("locate botocore (python3 -c 'import botocore'): %w", err)
	}
	p := filepath.Join(strings.TrimSpace(string(out)), filepath.FromSlash(modelRel))
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("locate botocore model: %w", err)
	}
	return p, nil
}

// readModel returns the decompressed model JSON.
func readModel(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("read model %s: %w", path, err)
	}
	return io.ReadAll(zr)
}

var kinds = map[string]string{
	"structure": "kindStructure", "list": "kindList", "map": "kindMap", "string": "kindString",
	"blob": "kindBlob", "integer": "kindInteger", "long": "kindLong", "boolean": "kindBoolean",
	"double": "kindDouble", "float": "kindDouble", "timestamp": "kindTimestamp",
}

// generate renders model_gen.go from the decompressed model JSON.
func generate(raw []byte) ([]byte, error) {
	var m model
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("parse model: %w", err)
	}

	reach := map[string]bool{}
	var walk func(string) error
	walk = func(n string) error {
		if reach[n] {
			return nil
		}
		s, ok := m.Shapes[n]
		if !ok {
			return fmt.Errorf("shape %s: not in model", n)
		}
		if _, ok := kinds[s.Type]; !ok {
			return fmt.Errorf("shape %s: unsupported type %q", n, s.Type)
		}
		reach[n] = true
		for _, mb := range s.Members {
			if err := walk(mb.Shape); err != nil {
				return err
			}
		}
		for _, r := range []*ref{s.Member, s.Key, s.Value} {
			if r != nil {
				if err := walk(r.Shape); err != nil {
					return err
				}
			}
		}
		return nil
	}
	var ops []string
	for name, op := range m.Operations {
		ops = append(ops, name)
		if op.Input == nil {
			return nil, fmt.Errorf("operation %s: no input shape", name)
		}
		if err := walk(op.Input.Shape); err != nil {
			return nil, err
		}
	}
	sort.Strings(ops)
	var names []string
	for n := range reach {
		names = append(names, n)
	}
	sort.Strings(names)

	// Patterns, in order of first use.
	patIdx := map[string]int{}
	var pats []string
	for _, n := range names {
		if p := m.Shapes[n].Pattern; p != nil {
			if _, ok := patIdx[*p]; !ok {
				pats = append(pats, *p)
				patIdx[*p] = len(pats)
			}
		}
	}

	var b bytes.Buffer
	sum := sha256.Sum256(raw)
	fmt.Fprintf(&b, "// Code generated by internal/gen from botocore's %s (model %s, sha256 %x). DO NOT EDIT.\n\n", modelRel, m.Metadata.UID, sum[:8])
	b.WriteString("package shape\n\n")
	b.WriteString("// Shape identifiers, one per shape reachable from an operation's input, in name order.\nconst (\n")
	for i, n := range names {
		if i == 0 {
			fmt.Fprintf(&b, "\ts%s shapeID = iota\n", n)
		} else {
			fmt.Fprintf(&b, "\ts%s\n", n)
		}
	}
	b.WriteString(")\n\n")

	b.WriteString("// operations maps each operation name to its input shape.\nvar operations = map[string]shapeID{\n")
	for _, op := range ops {
		fmt.Fprintf(&b, "\t%q: s%s,\n", op, m.Operations[op].Input.Shape)
	}
	b.WriteString("}\n\n")

	b.WriteString("// patterns holds every model pattern (index 0 means none) with its RE2 translation or matcher.\nvar patterns = [...]patternDef{\n\t{},\n")
	for _, p := range pats {
		if o, ok := overrides[p]; ok {
			if o.fn != "" {
				fmt.Fprintf(&b, "\t{java: %s, match: %s},\n", goString(p), o.fn)
				continue
			}
			if _, err := syntax.Parse(o.re2, syntax.Perl); err != nil {
				return nil, fmt.Errorf("pattern %q: override %q: %w", p, o.re2, err)
			}
			fmt.Fprintf(&b, "\t{java: %s, re2: %s},\n", goString(p), goString(o.re2))
			continue
		}
		re, err := javaToRE2(p)
		if err != nil {
			return nil, fmt.Errorf("pattern %q has no override and cannot be translated: %w", p, err)
		}
		fmt.Fprintf(&b, "\t{java: %s, re2: %s},\n", goString(p), goString(re))
	}
	b.WriteString("}\n\n")

	b.WriteString("// shapes is the model, indexed by shapeID.\nvar shapes = [...]shape{\n")
	for _, n := range names {
		s := m.Shapes[n]
		var f []string
		f = append(f, fmt.Sprintf("name: %q", n), "kind: "+kinds[s.Type])
		if s.Min != "" {
			f = append(f, "hasMin: true", "min: "+s.Min.String())
		}
		if s.Max != "" {
			f = append(f, "hasMax: true", "max: "+s.Max.String())
		}
		if s.Pattern != nil {
			f = append(f, fmt.Sprintf("pattern: %d", patIdx[*s.Pattern]))
		}
		if s.Sensitive {
			f = append(f, "sensitive: true")
		}
		if len(s.Enum) > 0 {
			q := make([]string, len(s.Enum))
			for i, e := range s.Enum {
				q[i] = strconv.Quote(e)
			}
			f = append(f, "enum: []string{"+strings.Join(q, ", ")+"}")
		}
		if s.Member != nil {
			f = append(f, "elem: s"+s.Member.Shape)
		}
		if s.Key != nil {
			f = append(f, "key: s"+s.Key.Shape)
		}
		if s.Value != nil {
			f = append(f, "elem: s"+s.Value.Shape)
		}
		for _, r := range s.Required {
			if !slices.ContainsFunc(s.Members, func(mb member) bool { return mb.Name == r }) {
				return nil, fmt.Errorf("shape %s: required member %s not declared", n, r)
			}
		}
		if len(s.Members) > 0 {
			var ms []string
			for _, mb := range s.Members {
				e := fmt.Sprintf("{name: %q, path: %q, shape: s%s", mb.Name, lowerFirst(mb.Name), mb.Shape)
				if slices.Contains(s.Required, mb.Name) {
					e += ", required: true"
				}
				ms = append(ms, e+"}")
			}
			f = append(f, "members: []member{\n"+strings.Join(ms, ",\n")+",\n}")
		}
		fmt.Fprintf(&b, "\ts%s: {%s},\n", n, strings.Join(f, ", "))
	}
	b.WriteString("}\n")

	src, err := format.Source(b.Bytes())
	if err != nil {
		return nil, fmt.Errorf("format generated source: %w", err)
	}
	return src, nil
}

func goString(s string) string {
	if !strings.Contains(s, "`") {
		return "`" + s + "`"
	}
	return strconv.Quote(s)
}

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}

// javaToRE2 translates a java.util.regex pattern, matched with Matcher.matches (whole input), into
// an anchored RE2 pattern with the same language. It rejects constructs RE2 lacks (lookaround,
// backreferences, possessive and atomic groups, class intersection) rather than guess.
func javaToRE2(p string) (string, error) {
	// Java's "." excludes all line terminators; RE2's excludes only \n.
	const dot = `[^\n\r\x{85}\x{2028}\x{2029}]`
	// Java's \s is [ \t\n\x0B\f\r]; RE2's lacks \x0B.
	const space = `\t\n\x0B\f\r `
	var out strings.Builder
	inClass := false
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '\\':
			if i+1 >= len(p) {
				return "", errors.New("trailing backslash")
			}
			e := p[i+1]
			i++
			switch {
			case e == 'u':
				if i+5 > len(p) {
					return "", errors.New(`short \u escape`)
				}
				h := p[i+1 : i+5]
				if _, err := strconv.ParseUint(h, 16, 16); err != nil {
					return "", fmt.Errorf(`bad \u escape %q`, h)
				}
				out.WriteString(`\x{` + h + `}`)
				i += 4
			case e == 's':
				if inClass {
					out.WriteString(space)
				} else {
					out.WriteString("[" + space + "]")
				}
			case e == 'S':
				if inClass {
					return "", errors.New(`\S inside a character class`)
				}
				out.WriteString("[^" + space + "]")
			case e >= '1' && e <= '9':
				return "", errors.New("backreference")
			case e == 'Q' || e == 'E' || e == 'G' || e == 'Z' || e == 'R' || e == 'X' || e == 'h' || e == 'H' || e == 'v' || e == 'V' || e == 'k':
				return "", fmt.Errorf(`unsupported escape \%c`, e)
			default:
				out.WriteByte('\\')
				out.WriteByte(e)
			}
		case inClass:
			if c == '[' {
				return "", errors.New("nested character class")
			}
			if c == '&' && i+1 < len(p) && p[i+1] == '&' {
				return "", errors.New("character class intersection")
			}
			if c == ']' {
				inClass = false
			}
			out.WriteByte(c)
		case c == '[':
			inClass = true
			out.WriteByte(c)
			// A leading ']' (after an optional '^') is literal in both dialects.
			if i+1 < len(p) && p[i+1] == '^' {
				out.WriteByte('^')
				i++
			}
			if i+1 < len(p) && p[i+1] == ']' {
				out.WriteByte(']')
				i++
			}
		case c == '(' && i+1 < len(p) && p[i+1] == '?':
			if i+2 < len(p) && p[i+2] == ':' {
				out.WriteString("(?:")
				i += 2
				continue
			}
			return "", errors.New("lookaround, atomic group or inline flag")
		case (c == '+' || c == '*' || c == '?' || c == '}') && i+1 < len(p) && p[i+1] == '+':
			return "", errors.New("possessive quantifier")
		case c == '.':
			out.WriteString(dot)
		default:
			out.WriteByte(c)
		}
	}
	if inClass {
		return "", errors.New("unterminated character class")
	}
	re := `^(?:` + out.String() + `)$`
	if _, err := syntax.Parse(re, syntax.Perl); err != nil {
		return "", err
	}
	return re, nil
}
