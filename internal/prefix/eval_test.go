package prefix

import (
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// fixedRand returns the given values in turn, one per random-string.
func fixedRand(tb testing.TB, xs ...uint64) func() uint64 {
	tb.Helper()
	return func() uint64 {
		if len(xs) == 0 {
			tb.Fatal("random-string drawn more often than expected")
		}
		x := xs[0]
		xs = xs[1:]
		return x
	}
}

func mustLocation(tb testing.TB, name string) *time.Location {
	tb.Helper()
	loc, err := Location(name)
	if err != nil {
		tb.Fatal(err)
	}
	return loc
}

func mustParse(tb testing.TB, build func(string) (*Expr, error), s string) *Expr {
	tb.Helper()
	e, err := build(s)
	if err != nil {
		tb.Fatalf("parse %q: %v", s, err)
	}
	return e
}

func TestEval(t *testing.T) {
	aug27 := time.Date(2018, 8, 27, 10, 30, 0, 0, time.UTC)
	jul6 := time.Date(2018, 7, 6, 23, 5, 9, 0, time.UTC)
	jul13 := time.Date(2026, 7, 13, 14, 2, 3, 0, time.UTC)
	newYear := time.Date(2025, 12, 31, 15, 30, 0, 0, time.UTC) // 2026-01-01 00:30 in Tokyo
	tokyo := mustLocation(t, "Asia/Tokyo")

	tests := []struct {
		name   string
		build  func(string) (*Expr, error)
		prefix string
		v      Values
		want   string
	}{
		{
			name: "aws random-string example", build: Parse,
			prefix: "myFirehose/DeliveredYear=!{timestamp:yyyy}/anyMonth/rand=!{firehose:random-string}",
			v:      Values{Time: aug27, Rand: fixedRand(t, 0x5abf82daaa5, 0x5abf82daaa5)},
			want:   "myFirehose/DeliveredYear=2018/anyMonth/rand=5abf82daaa5",
		},
		{
			name: "aws error prefix example", build: Parse,
			prefix: "myFirehoseFailures/!{firehose:error-output-type}/!{timestamp:yyyy}/anyMonth/!{timestamp:dd}",
			v:      Values{Time: aug27, ErrorOutputType: "processing-failed"},
			want:   "myFirehoseFailures/processing-failed/2018/anyMonth/27",
		},
		{
			name: "aws hive example", build: Parse,
			prefix: "myPrefix/year=!{timestamp:yyyy}/month=!{timestamp:MM}/day=!{timestamp:dd}/hour=!{timestamp:HH}/",
			v:      Values{Time: jul6},
			want:   "myPrefix/year=2018/month=07/day=06/hour=23/",
		},
		{
			name: "aws quoted literals example", build: Parse,
			prefix: "myErrorPrefix/!{timestamp:'year='yyyy'/month='MM'/day='dd'/hour='HH}/!{firehose:error-output-type}",
			v:      Values{Time: jul6, ErrorOutputType: "processing-failed"},
			want:   "myErrorPrefix/year=2018/month=07/day=06/hour=23/processing-failed",
		},
		{
			name: "quoted year", build: Parse,
			prefix: "!{timestamp:'year='yyyy}/", v: Values{Time: jul13}, want: "year=2026/",
		},
		{
			name: "quotes", build: Parse,
			prefix: "!{timestamp:''yy'''s ''x'}", v: Values{Time: jul13}, want: "'26's 'x",
		},
		{
			name: "widths", build: Parse,
			prefix: "!{timestamp:y.yy.yyy.yyyyy.uuuu.uu.M.d.H.m.s.MM.dd.HH.mm.ss}",
			v:      Values{Time: time.Date(2026, 7, 3, 4, 5, 6, 0, time.UTC)},
			want:   "2026.26.2026.02026.2026.26.7.3.4.5.6.07.03.04.05.06",
		},
		{
			name: "punctuation and non-ascii pass through", build: Parse,
			prefix: "!{timestamp:yyyy-MM_dd=HH.mm é/ss}", v: Values{Time: jul13}, want: "2026-07_13=14.02 é/03",
		},
		{
			name: "same instant across expressions", build: Parse,
			prefix: "!{timestamp:yyyy}/!{timestamp:MM}/!{timestamp:dd}/!{timestamp:HH}",
			v:      Values{Time: newYear, Location: tokyo},
			want:   "2026/01/01/00",
		},
		{
			name: "utc by default", build: Parse,
			prefix: "!{timestamp:yyyy/MM/dd/HH}", v: Values{Time: newYear.In(tokyo)}, want: "2025/12/31/15",
		},
		{
			name: "dynamic partitioning", build: Parse,
			prefix: "customer_id=!{partitionKeyFromQuery:customer_id}/device=!{partitionKeyFromQuery:device}/t=!{partitionKeyFromLambda:tenant}/",
			v: Values{
				Query:  map[string]string{"customer_id": "1234567890", "device": "mobile"},
				Lambda: map[string]string{"tenant": "acme"},
			},
			want: "customer_id=1234567890/device=mobile/t=acme/",
		},
		{name: "default appended without slash", build: DataPrefix, prefix: "legacy", v: Values{Time: jul13}, want: "legacy2026/07/13/14/"},
		{name: "default for empty prefix", build: DataPrefix, prefix: "", v: Values{Time: jul13}, want: "2026/07/13/14/"},
		{name: "default in zone", build: DataPrefix, prefix: "logs/", v: Values{Time: newYear, Location: tokyo}, want: "logs/2026/01/01/00/"},
		{
			name: "default after random-string", build: DataPrefix,
			prefix: "r=!{firehose:random-string}/", v: Values{Time: jul13, Rand: fixedRand(t, 1, 1)},
			want: "r=00000000001/2026/07/13/14/",
		},
		{name: "no default with timestamp", build: DataPrefix, prefix: "y=!{timestamp:yyyy}/", v: Values{Time: jul13}, want: "y=2026/"},
		{
			name: "no default with dynamic partitioning", build: DataPrefix,
			prefix: "c=!{partitionKeyFromQuery:c}/", v: Values{Time: jul13, Query: map[string]string{"c": "a1"}},
			want: "c=a1/",
		},
		{
			name: "aws expression-free prefix failure", build: func(p string) (*Expr, error) { return ErrorPrefix(p, "") },
			prefix: "myFirehosePrefix", v: Values{Time: aug27, ErrorOutputType: "processing-failed"},
			want: "myFirehosePrefixprocessing-failed/2018/08/27/10/",
		},
		{
			name: "no prefixes failure", build: func(p string) (*Expr, error) { return ErrorPrefix(p, "") },
			prefix: "", v: Values{Time: aug27, ErrorOutputType: "format-conversion-failed"},
			want: "format-conversion-failed/2018/08/27/10/",
		},
		{
			name: "literal error prefix", build: func(p string) (*Expr, error) { return ErrorPrefix(p, "errors/") },
			prefix: "logs/", v: Values{Time: aug27, ErrorOutputType: "processing-failed"},
			want: "errors/processing-failed/2018/08/27/10/",
		},
		{
			name: "error prefix with expressions", build: func(p string) (*Expr, error) {
				return ErrorPrefix(p, "myFirehoseFailures/!{firehose:error-output-type}/")
			},
			prefix: "", v: Values{Time: aug27, ErrorOutputType: "processing-failed"},
			want: "myFirehoseFailures/processing-failed/",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := mustParse(t, tt.build, tt.prefix)
			got, err := e.Eval(tt.v)
			if err != nil {
				t.Fatalf("Eval: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			b, err := e.AppendEval([]byte("x"), tt.v)
			if err != nil {
				t.Fatalf("AppendEval: %v", err)
			}
			if diff := cmp.Diff("x"+tt.want, string(b)); diff != "" {
				t.Errorf("AppendEval (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRandomString(t *testing.T) {
	e := mustParse(t, Parse, "!{firehose:random-string}/!{firehose:random-string}")
	re := regexp.MustCompile(`^([0-9a-f]{11})/([0-9a-f]{11})$`)
	seen := map[string]bool{}
	for range 100 {
		got, err := e.Eval(Values{})
		if err != nil {
			t.Fatal(err)
		}
		m := re.FindStringSubmatch(got)
		if m == nil {
			t.Fatalf("%q is not two 11-character lowercase hex strings", got)
		}
		if m[1] == m[2] {
			t.Errorf("occurrences share the value %q", m[1])
		}
		for _, s := range m[1:] {
			if seen[s] {
				t.Errorf("value %q repeated", s)
			}
			seen[s] = true
		}
	}
	got, err := e.Eval(Values{Rand: fixedRand(t, 0xfff_ffff_ffff_ffff, 0)})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff("fffffffffff/00000000000", got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestEvalLength(t *testing.T) {
	tests := []struct {
		name  string
		value string // the partition key's value, after a 1-character literal
		ok    bool
	}{
		{"512 ascii", strings.Repeat("a", 511), true},
		{"513 ascii", strings.Repeat("a", 512), false},
		{"512 two-byte", strings.Repeat("é", 511), true},
		{"513 two-byte", strings.Repeat("é", 512), false},
		{"512 three-byte", strings.Repeat("€", 511), true},
		{"513 three-byte", strings.Repeat("€", 512), false},
		{"512 surrogate pairs", strings.Repeat("😀", 255) + "a", true},
		{"513 surrogate pairs", strings.Repeat("😀", 256), false},
		{"huge", strings.Repeat("a", 1<<20), false},
	}
	e := mustParse(t, Parse, "/!{partitionKeyFromLambda:k}")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := e.Eval(Values{Lambda: map[string]string{"k": tt.value}})
			if tt.ok {
				if err != nil || got != "/"+tt.value {
					t.Fatalf("Eval = %d bytes, %v; want the value back", len(got), err)
				}
				return
			}
			if !errors.Is(err, ErrTooLong) {
				t.Fatalf("Eval = %d bytes, %v; want ErrTooLong", len(got), err)
			}
			dst := []byte("keep")
			b, err := e.AppendEval(dst, Values{Lambda: map[string]string{"k": tt.value}})
			if !errors.Is(err, ErrTooLong) || string(b) != "keep" {
				t.Fatalf("AppendEval = %q, %v; want dst unchanged and ErrTooLong", b, err)
			}
		})
	}
}

func TestEvalErrors(t *testing.T) {
	tests := []struct {
		name   string
		prefix string
		v      Values
		kind   error
		msg    string
	}{
		{
			name: "missing query key", prefix: "c=!{partitionKeyFromQuery:customer_id}/",
			v:    Values{Query: map[string]string{"other": "x"}, Lambda: map[string]string{"customer_id": "x"}},
			kind: ErrMissingPartitionKey, msg: `partition key "customer_id" is missing for !{partitionKeyFromQuery:customer_id}`,
		},
		{
			name: "missing lambda key", prefix: "t=!{partitionKeyFromLambda:tenant}/",
			v:    Values{Query: map[string]string{"tenant": "x"}},
			kind: ErrMissingPartitionKey, msg: `partition key "tenant" is missing for !{partitionKeyFromLambda:tenant}`,
		},
		{
			name: "missing error output type", prefix: "e/!{firehose:error-output-type}/",
			kind: ErrMissingErrorOutputType, msg: "no error output type to evaluate !{firehose:error-output-type}",
		},
		{
			name: "too long", prefix: strings.Repeat("a", 513),
			kind: ErrTooLong, msg: "the evaluated prefix is longer than 512 characters",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := mustParse(t, Parse, tt.prefix)
			_, err := e.Eval(tt.v)
			if !errors.Is(err, tt.kind) {
				t.Fatalf("Eval = %v, want kind %v", err, tt.kind)
			}
			if diff := cmp.Diff(tt.msg, err.Error()); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestErrorPrefixNeedsErrorOutputPrefix(t *testing.T) {
	_, err := ErrorPrefix("!{timestamp:yyyy}/", "")
	if !errors.Is(err, ErrErrorOutputPrefixRequired) {
		t.Fatalf("ErrorPrefix = %v, want ErrErrorOutputPrefixRequired", err)
	}
	for _, f := range []func() (*Expr, error){
		func() (*Expr, error) { return ErrorPrefix("!{bad", "") },
		func() (*Expr, error) { return ErrorPrefix("", "!{bad") },
		func() (*Expr, error) { return DataPrefix("!{bad") },
	} {
		if _, err := f(); !errors.Is(err, ErrSyntax) {
			t.Errorf("got %v, want ErrSyntax", err)
		}
	}
}

func TestLocation(t *testing.T) {
	tests := []struct {
		name string
		want string // zone name; "" means an error
	}{
		{"", "UTC"},
		{"UTC", "UTC"},
		{"Asia/Tokyo", "Asia/Tokyo"},
		{"America/Argentina/Buenos_Aires", "America/Argentina/Buenos_Aires"},
		{"Local", ""},
		{"Mars/Olympus_Mons", ""},
		{"asia/tokyo", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			loc, err := Location(tt.name)
			if tt.want == "" {
				if !errors.Is(err, ErrUnknownTimeZone) {
					t.Fatalf("Location(%q) = %v, %v; want ErrUnknownTimeZone", tt.name, loc, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, loc.String()); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestObjectTime(t *testing.T) {
	at := time.Date(2026, 11, 21, 22, 21, 43, 999e6, time.UTC)
	tests := []struct {
		zone string
		want string
	}{
		{"", "2026-11-21-22-21-43"},
		{"Asia/Tokyo", "2026-11-22-07-21-43"},
		{"America/New_York", "2026-11-21-17-21-43"},
	}
	for _, tt := range tests {
		t.Run(tt.zone, func(t *testing.T) {
			var loc *time.Location
			if tt.zone != "" {
				loc = mustLocation(t, tt.zone)
			}
			if diff := cmp.Diff(tt.want, ObjectTime(at, loc)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func BenchmarkEval(b *testing.B) {
	at := time.Date(2026, 7, 13, 14, 2, 3, 0, time.UTC)
	tokyo := mustLocation(b, "Asia/Tokyo")
	benches := []struct {
		name   string
		build  func(string) (*Expr, error)
		prefix string
		v      Values
	}{
		{name: "default", build: DataPrefix, prefix: "logs/", v: Values{Time: at}},
		{name: "hive", build: Parse,
			prefix: "logs/year=!{timestamp:yyyy}/month=!{timestamp:MM}/day=!{timestamp:dd}/hour=!{timestamp:HH}/",
			v:      Values{Time: at, Location: tokyo}},
		{name: "random", build: Parse, prefix: "!{firehose:random-string}/!{timestamp:yyyy/MM/dd}/", v: Values{Time: at}},
		{name: "dynamic", build: Parse,
			prefix: "customer_id=!{partitionKeyFromQuery:customer_id}/device=!{partitionKeyFromQuery:device}/!{timestamp:yyyy/MM/dd/HH}/",
			v:      Values{Time: at, Query: map[string]string{"customer_id": "1234567890", "device": "mobile"}}},
		{name: "error", build: Parse, prefix: "errors/!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd/HH}/",
			v: Values{Time: at, ErrorOutputType: "processing-failed"}},
	}
	for _, bb := range benches {
		e := mustParse(b, bb.build, bb.prefix)
		b.Run(bb.name+"/Eval", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := e.Eval(bb.v); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(bb.name+"/AppendEval", func(b *testing.B) {
			b.ReportAllocs()
			buf := make([]byte, 0, MaxLen)
			for b.Loop() {
				var err error
				if buf, err = e.AppendEval(buf[:0], bb.v); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
