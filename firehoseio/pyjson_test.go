package firehoseio

import (
	"encoding/json"
	"errors"
	"math"
	"os"
	"os/exec"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

type inner struct {
	B string `json:"b"`
}

type Embedded struct {
	E    int
	Name string // promoted: the outer field's name is "name"
}

type shadowing struct {
	Name string // hides Embedded.Name
	Embedded
	*inner // its field B is promoted when the pointer is set
}

type tagged struct {
	Name     string          `json:"name"`
	Skipped  string          `json:"-"`
	Empty    string          `json:"empty,omitempty"`
	Count    int64           `json:"count,string"`
	Inner    inner           `json:"inner"`
	Ptr      *inner          `json:"ptr"`
	Attrs    map[string]any  `json:"attrs"`
	Ratio    float32         `json:"ratio"`
	When     time.Time       `json:"when"`
	Raw      json.RawMessage `json:"raw"`
	Labels   map[int]string  `json:"labels"`
	Data     []byte          `json:"data"`
	Nothing  []string        `json:"nothing"`
	internal int
	Embedded
}

// pyCases are values with the Python expression that json.dumps receives in the
// Python connector for the same data, and the bytes both give.
var pyCases = []struct {
	name   string
	value  any
	python string
	want   string
}{
	{"the connector's strings", "one", `"one"`, `"one"`},
	{"the connector's ints", 4, `4`, `4`},
	{"the connector's example record", struct {
		ID        int    `json:"id"`
		Name      string `json:"name"`
		CreatedAt string `json:"created_at"`
	}{50, "amlis", "2024-07-21T11:49:32.536"},
		`{"id": 50, "name": "amlis", "created_at": "2024-07-21T11:49:32.536"}`,
		`{"id": 50, "name": "amlis", "created_at": "2024-07-21T11:49:32.536"}`},
	{"list", []any{1, "two", 3.5, true, nil}, `[1, "two", 3.5, True, None]`, `[1, "two", 3.5, true, null]`},
	{"empty list and map", []any{[]int{}, map[string]int{}}, `[[], {}]`, `[[], {}]`},
	{"non-ASCII text", "héllo wörld — 東京 😀", `"héllo wörld — 東京 😀"`,
		`"h\u00e9llo w\u00f6rld \u2014 \u6771\u4eac \ud83d\ude00"`},
	{"escapes", "q\"b\\s/\n\r\t\b\f\x00\x1f\x7f<>&", `"q\"b\\s/\n\r\t\b\f\x00\x1f\x7f<>&"`,
		`"q\"b\\s/\n\r\t\b\f\u0000\u001f\u007f<>&"`},
	{"nested maps sorted", map[string]any{"z": 1, "a": map[string]any{"y": []any{"é"}, "b": 2.0}, "m": nil},
		`{"a": {"b": 2.0, "y": ["é"]}, "m": None, "z": 1}`, `{"a": {"b": 2.0, "y": ["\u00e9"]}, "m": null, "z": 1}`},
	{"int keys numerically", map[int]string{10: "ten", 9: "nine", -1: "minus"}, `{-1: "minus", 9: "nine", 10: "ten"}`,
		`{"-1": "minus", "9": "nine", "10": "ten"}`},
	{"float keys", map[float64]int{1.5: 1, 0.25: 2}, `{0.25: 2, 1.5: 1}`, `{"0.25": 2, "1.5": 1}`},
	{"bool keys", map[bool]int{true: 1, false: 0}, `{False: 0, True: 1}`, `{"false": 0, "true": 1}`},
	{"integral float", 1.0, `1.0`, `1.0`},
	{"float 0.1", 0.1, `0.1`, `0.1`},
	{"float 1e15", 1e15, `1e15`, `1000000000000000.0`},
	{"float 1e16", 1e16, `1e16`, `1e+16`},
	{"float 1.5e16", 1.5e16, `1.5e16`, `1.5e+16`},
	{"float 1e22", 1e22, `1e22`, `1e+22`},
	{"float 0.0001", 0.0001, `0.0001`, `0.0001`},
	{"float 1e-05", 1e-05, `1e-05`, `1e-05`},
	{"float 2.5e-07", 2.5e-07, `2.5e-07`, `2.5e-07`},
	{"float -0.0", math.Copysign(0, -1), `-0.0`, `-0.0`},
	{"float tiny", 5e-324, `5e-324`, `5e-324`},
	{"float max", math.MaxFloat64, `1.7976931348623157e308`, `1.7976931348623157e+308`},
	{"float long", 123456789012345680.0, `123456789012345680.0`, `1.2345678901234568e+17`},
	{"float third", 1.0 / 3, `1/3`, `0.3333333333333333`},
	{"NaN", math.NaN(), `float("nan")`, `NaN`},
	{"infinities", []float64{math.Inf(1), math.Inf(-1)}, `[float("inf"), float("-inf")]`, `[Infinity, -Infinity]`},
	{"big ints", []any{int64(math.MaxInt64), uint64(math.MaxUint64), int8(-128)}, `[9223372036854775807, 18446744073709551615, -128]`,
		`[9223372036854775807, 18446744073709551615, -128]`},
	{"struct with encoding/json rules", tagged{
		Name: "n", Skipped: "x", Count: 7, Inner: inner{"ü"}, Attrs: map[string]any{"k": []any{1.25, "v"}}, Ratio: 0.1,
		When: time.Date(2024, 7, 21, 11, 49, 32, 536e6, time.UTC), Raw: json.RawMessage(`{"z":1,"a":[1.50,"é"]}`),
		Labels: map[int]string{2: "b", 1: "a"}, Data: []byte("hi"), Embedded: Embedded{E: 3, Name: "promoted"},
	}, `{"name": "n", "count": "7", "inner": {"b": "ü"}, "ptr": None, "attrs": {"k": [1.25, "v"]}, "ratio": 0.1,
	     "when": "2024-07-21T11:49:32.536Z", "raw": {"z": 1, "a": [1.50, "é"]}, "labels": {"1": "a", "2": "b"},
	     "data": "aGk=", "nothing": None, "E": 3, "Name": "promoted"}`,
		`{"name": "n", "count": "7", "inner": {"b": "\u00fc"}, "ptr": null, "attrs": {"k": [1.25, "v"]}, "ratio": 0.1, ` +
			`"when": "2024-07-21T11:49:32.536Z", "raw": {"z": 1, "a": [1.50, "\u00e9"]}, "labels": {"1": "a", "2": "b"}, ` +
			`"data": "aGk=", "nothing": null, "E": 3, "Name": "promoted"}`},
	{"embedded fields", []shadowing{{Name: "outer", Embedded: Embedded{E: 1, Name: "hidden"}}, {Name: "o", inner: &inner{B: "x"}}},
		`[{"Name": "outer", "E": 1}, {"Name": "o", "E": 0, "b": "x"}]`, `[{"Name": "outer", "E": 1}, {"Name": "o", "E": 0, "b": "x"}]`},
}

// TestPythonJSONFieldsAsEncodingJSON checks that the structs of pyCases have the keys of
// encoding/json, in its order. (Map keys differ on purpose: numeric keys sort as
// numbers here, as strings there.)
func TestPythonJSONFieldsAsEncodingJSON(t *testing.T) {
	structs := 0
	for _, tt := range pyCases {
		rt := reflect.TypeOf(tt.value)
		if rt.Kind() == reflect.Slice {
			rt = rt.Elem()
		}
		if rt.Kind() != reflect.Struct {
			continue
		}
		structs++
		t.Run(tt.name, func(t *testing.T) {
			want, err := json.Marshal(tt.value)
			if err != nil {
				t.Fatal(err)
			}
			var e pyJSON
			if err := e.encode(tt.value); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(keys(t, want), keys(t, e.buf)); diff != "" {
				t.Errorf("object keys (-encoding/json +got):\n%s", diff)
			}
		})
	}
	if structs < 3 {
		t.Fatalf("%d struct cases, want at least 3", structs)
	}
}

// keys lists the object keys of the JSON b in order, at every depth.
func keys(t testing.TB, b []byte) []string {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(string(b)))
	var out []string
	type level struct{ object, wantKey bool }
	var stack []level
	// value marks a value done in the enclosing object, whose next token is a key.
	value := func() {
		if n := len(stack); n > 0 && stack[n-1].object {
			stack[n-1].wantKey = true
		}
	}
	for range len(b) + 1 {
		tok, err := dec.Token()
		if err != nil {
			break
		}
		if n := len(stack); n > 0 && stack[n-1].object && stack[n-1].wantKey {
			if k, ok := tok.(string); ok {
				out = append(out, k)
				stack[n-1].wantKey = false
				continue
			}
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, level{object: true, wantKey: true})
		case json.Delim('['):
			stack = append(stack, level{})
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
			value()
		default:
			value()
		}
	}
	if len(out) == 0 {
		t.Fatalf("no keys in %s", b)
	}
	return out
}

func TestPythonJSONRefuses(t *testing.T) {
	type cyclic struct{ Next *cyclic }
	loop := &cyclic{}
	loop.Next = loop
	for name, v := range map[string]any{
		"channel":        make(chan int),
		"function":       func() {},
		"complex":        complex(1, 2),
		"cycle":          loop,
		"struct map key": map[struct{ A int }]int{{1}: 1},
	} {
		t.Run(name, func(t *testing.T) {
			var e pyJSON
			if err := e.encode(v); !errors.Is(err, ErrNotJSON) {
				t.Errorf("encode: %v, want ErrNotJSON", err)
			}
		})
	}
}

func FuzzPythonJSONString(f *testing.F) {
	for _, s := range []string{"", "a", "é😀", "\x00\x7f\xff", "\xed\xa0\x80"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var e pyJSON
		e.str(s)
		var back string
		if err := json.Unmarshal(e.buf, &back); err != nil {
			t.Fatalf("%q encodes to %q, not JSON: %v", s, e.buf, err)
		}
		for _, c := range e.buf {
			if c < 0x20 || c > 0x7e {
				t.Fatalf("%q encodes to %q with byte %#x", s, e.buf, c)
			}
		}
		if want := strings.ToValidUTF8(s, "\uFFFD"); back != want && !strings.ContainsRune(s, '\uFFFD') {
			// Each invalid byte is one U+FFFD in the encoding, not one per run.
			if strings.Count(back, "\uFFFD") == 0 || strings.ReplaceAll(back, "\uFFFD", "") != strings.ReplaceAll(want, "\uFFFD", "") {
				t.Fatalf("%q decodes back to %q", s, back)
			}
		}
	})
}

// TestPythonJSONGolden checks the encoding of each case against its fixed bytes.
func TestPythonJSONGolden(t *testing.T) {
	for _, tt := range pyCases {
		t.Run(tt.name, func(t *testing.T) {
			var e pyJSON
			if err := e.encode(tt.value); err != nil {
				t.Fatalf("encode: %v", err)
			}
			if diff := cmp.Diff(tt.want, string(e.buf)); diff != "" {
				t.Errorf("encoding (-want +got):\n%s", diff)
			}
		})
	}
}

// TestPythonJSONAgainstPython runs python3's json.dumps on each case's Python value and
// compares its output with the fixed bytes (that the Go encoding is checked against).
// The raw case's 1.50 stays as written in Go (a Marshaler's number is kept) and is
// 1.5 in Python, so Python's output is compared with that difference.
func TestPythonJSONAgainstPython(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		if os.Getenv("HYDRANT_REQUIRE_TOOLS") != "" || os.Getenv("CI") == "true" {
			t.Fatalf("python3 is required: %v", err)
		}
		t.Skip("python3 not found")
	}
	exprs := make([]string, len(pyCases))
	for i, c := range pyCases {
		exprs[i] = strings.Join(strings.Fields(c.python), " ")
	}
	in, err := json.Marshal(exprs)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(python, "-c", `import json, sys
for e in json.load(sys.stdin):
    print(json.dumps(eval(e)))`)
	cmd.Stdin = strings.NewReader(string(in))
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python3: %v", err)
	}
	lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if len(lines) != len(pyCases) {
		t.Fatalf("python3 printed %d lines for %d cases:\n%s", len(lines), len(pyCases), out)
	}
	for i, c := range pyCases {
		want := strings.ReplaceAll(c.want, "[1.50,", "[1.5,")
		if diff := cmp.Diff(want, lines[i]); diff != "" {
			t.Errorf("%s: json.dumps(%s) (-want +python):\n%s", c.name, c.python, diff)
		}
	}
}
