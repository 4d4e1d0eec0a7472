package prefix

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// FuzzParse checks that Parse never panics, that it fails only with its own
// error kinds, that a parsed prefix re-renders to itself and parses to the
// same thing, and that evaluation with every key present succeeds or is
// merely too long.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"", "logs/", "!{timestamp:yyyy/MM/dd/HH/}", "!{firehose:random-string}",
		"e/!{firehose:error-output-type}/", "c=!{partitionKeyFromQuery:c}/!{partitionKeyFromLambda:t}",
		"!{timestamp:'year='yyyy''}", "!{", "!{}", "!{timestamp:EEE}", "a!b{c}",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := Parse(s)
		if err != nil {
			var pe *Error
			if !errors.As(err, &pe) || !(errors.Is(err, ErrSyntax) || errors.Is(err, ErrPattern)) {
				t.Fatalf("Parse(%q) = %T %v, want *Error of kind ErrSyntax or ErrPattern", s, err, err)
			}
			return
		}
		if e.String() != s {
			t.Fatalf("String() = %q, want %q", e.String(), s)
		}
		again, err := Parse(e.String())
		if err != nil {
			t.Fatalf("Parse(String()) of %q: %v", s, err)
		}
		if diff := cmp.Diff(e, again, cmp.AllowUnexported(Expr{}, part{}, item{})); diff != "" {
			t.Fatalf("reparse of %q differs (-first +second):\n%s", s, diff)
		}
		v := Values{
			Time:            time.Date(2026, 7, 13, 14, 2, 3, 0, time.UTC),
			ErrorOutputType: "processing-failed",
			Query:           map[string]string{},
			Lambda:          map[string]string{},
		}
		for _, k := range e.QueryKeys() {
			v.Query[k] = "q"
		}
		for _, k := range e.LambdaKeys() {
			v.Lambda[k] = "l"
		}
		if _, err := e.Eval(v); err != nil && !errors.Is(err, ErrTooLong) {
			t.Fatalf("Eval of %q: %v", s, err)
		}
		if _, err := DataPrefix(s); err != nil {
			t.Fatalf("DataPrefix(%q): %v", s, err)
		}
		_ = ValidateS3(Prefixes{Prefix: s, ErrorOutputPrefix: s, DynamicPartitioning: e.HasPartitionKeys()})
	})
}
