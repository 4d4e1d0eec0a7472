package compress

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestFormatTable(t *testing.T) {
	type row struct {
		Format          Format
		Extension       string
		ContentEncoding string
	}
	var got []row
	for _, f := range Formats() {
		if err := f.Validate(); err != nil {
			t.Errorf("%s.Validate() = %v", f, err)
		}
		got = append(got, row{f, f.Extension(), f.ContentEncoding()})
	}
	want := []row{
		{"UNCOMPRESSED", "", ""},
		{"GZIP", ".gz", "gzip"},
		{"ZIP", ".zip", "zip"},
		{"Snappy", ".snappy", "snappy-java"},
		{"HADOOP_SNAPPY", ".snappy", "hadoop-snappy"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("format table (-want +got):\n%s", diff)
	}
}

func TestFormatValidateRejects(t *testing.T) {
	for _, f := range []Format{"", "gzip", "SNAPPY", "snappy", "Hadoop_Snappy", "ZSTD", "UNCOMPRESSED "} {
		if err := f.Validate(); !errors.Is(err, ErrUnknownFormat) {
			t.Errorf("Format(%q).Validate() = %v, want ErrUnknownFormat", string(f), err)
		}
		if _, err := NewEncoder(f, Config{}); !errors.Is(err, ErrUnknownFormat) {
			t.Errorf("NewEncoder(%q) error = %v, want ErrUnknownFormat", string(f), err)
		}
	}
}

func TestObjectExtension(t *testing.T) {
	tests := []struct {
		format        Format
		fileExtension string
		want          string
	}{
		{Gzip, "", ".gz"},
		{Gzip, ".json.gz", ".json.gz"},
		{Uncompressed, "", ""},
		{Uncompressed, ".jsonl", ".jsonl"},
		{HadoopSnappy, ".hsnappy", ".hsnappy"},
		{Zip, ".txt", ".txt"},
	}
	for _, tt := range tests {
		if got := tt.format.ObjectExtension(tt.fileExtension); got != tt.want {
			t.Errorf("%s.ObjectExtension(%q) = %q, want %q", tt.format, tt.fileExtension, got, tt.want)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		level int
		ok    bool
	}{
		{DefaultLevel, true}, {BestSpeed, true}, {5, true}, {BestCompression, true},
		{-1, false}, {-2, false}, {10, false},
	}
	for _, tt := range tests {
		err := Config{Level: tt.level}.Validate()
		if (err == nil) != tt.ok {
			t.Errorf("Config{Level: %d}.Validate() = %v, want ok=%v", tt.level, err, tt.ok)
		}
		if _, err := NewEncoder(Gzip, Config{Level: tt.level}); (err == nil) != tt.ok {
			t.Errorf("NewEncoder(GZIP, Level %d) error = %v, want ok=%v", tt.level, err, tt.ok)
		}
	}
}
