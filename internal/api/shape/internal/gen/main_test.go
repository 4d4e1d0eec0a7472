package main

import (
	"bytes"
	"os"
	"testing"
)

// TestModelUpToDate regenerates model_gen.go in memory and fails if the committed file differs.
func TestModelUpToDate(t *testing.T) {
	path, err := locateModel()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("botocore is required in CI: %v", err)
		}
		t.Skipf("botocore not importable, cannot check model_gen.go: %v", err)
	}
	raw, err := readModel(path)
	if err != nil {
		t.Fatal(err)
	}
	want, err := generate(raw)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("../../model_gen.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("internal/api/shape/model_gen.go is stale for %s; run: go generate ./internal/api/shape", path)
	}
}

func TestJavaToRE2(t *testing.T) {
	tests := []struct {
		in, want string
		wantErr  bool
	}{
		{in: `[a-z]+`, want: `^(?:[a-z]+)$`},
		{in: `a.b`, want: `^(?:a[^\n\r\x{85}\x{2028}\x{2029}]b)$`},
		{in: `[.]`, want: `^(?:[.])$`},
		{in: `[\u0001-\uFFFF]*`, want: `^(?:[\x{0001}-\x{FFFF}]*)$`},
		{in: `\s\S`, want: `^(?:[\t\n\x0B\f\r ][^\t\n\x0B\f\r ])$`},
		{in: `(?:ab)?`, want: `^(?:(?:ab)?)$`},
		{in: `^(?!aws:).*`, wantErr: true},
		{in: `(?<!-)x`, wantErr: true},
		{in: `(a)\1`, wantErr: true},
		{in: `a++`, wantErr: true},
		{in: `[a-z&&[^b]]`, wantErr: true},
		{in: `[\S]`, wantErr: true},
		{in: `\u12`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := javaToRE2(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("javaToRE2(%q) error = %v, wantErr %v", tt.in, err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("javaToRE2(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// TestGenerateRejectsUntranslatable checks the generator fails loudly on a pattern it cannot
// translate and has no override for.
func TestGenerateRejectsUntranslatable(t *testing.T) {
	model := `{"metadata":{"uid":"x"},"operations":{"Op":{"input":{"shape":"In"}}},"shapes":{
		"In":{"type":"structure","members":{"A":{"shape":"S"}}},
		"S":{"type":"string","pattern":"^(?=x)y$"}}}`
	if _, err := generate([]byte(model)); err == nil {
		t.Fatal("generate accepted a lookahead pattern without an override")
	}
}
