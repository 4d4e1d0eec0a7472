package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hydrant-dev/hydrant/internal/server"
)

func TestConfigFiles(t *testing.T) {
	files, err := filepath.Glob("testdata/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no config fixtures: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			cfg, err := loadConfig(f)
			if err == nil {
				err = cfg.WithDefaults().Validate()
			}
			good := strings.HasSuffix(f, ".good.yaml")
			if good && err != nil {
				t.Errorf("good config rejected: %v", err)
			}
			if !good && err == nil {
				t.Errorf("bad config accepted")
			}
		})
	}
}

func TestFullConfigValues(t *testing.T) {
	cfg, err := loadConfig("testdata/full.good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c := cfg.WithDefaults()
	got := struct {
		Listen, DataDir, Region, Account, JournalDir string
		Retention                                    time.Duration
		MaxBytes, MaxStore, Reserved                 int64
		Dirs                                         map[string]string
		ObjectStore, S3Endpoint, LakeName            string
		Streams                                      int
	}{c.Listen, c.DataDir, c.Region, c.AccountID, c.Journal.Dir, c.Journal.Retention, c.Journal.MaxBytesPerStream,
		c.Journal.MaxStoreBytes, c.Journal.ReservedBytes,
		map[string]string{"archive": c.Buckets["archive"].Dir}, c.ObjectStore, c.S3.Endpoint, c.Buckets["lake"].Name, len(c.Streams)}
	want := got
	want.Listen, want.DataDir, want.Region, want.Account = "127.0.0.1:4999", "/var/lib/hydrant", "eu-west-1", "123456789012"
	want.JournalDir, want.Retention, want.MaxBytes = "/var/lib/hydrant/journal", 48*time.Hour, 1<<30
	want.MaxStore, want.Reserved = 20<<30, 128<<20
	want.Dirs, want.Streams = map[string]string{"archive": "/mnt/archive"}, 1
	want.ObjectStore, want.S3Endpoint, want.LakeName = "local", "http://127.0.0.1:9000", "real-lake"
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("config (-want +got):\n%s", diff)
	}
}

func TestDefaults(t *testing.T) {
	c := server.Config{}.WithDefaults()
	if c.Listen != "127.0.0.1:4573" || c.DataDir != "./hydrant-data" || c.AccountID != "000000000000" || c.Journal.Retention != 24*time.Hour {
		t.Errorf("defaults %+v", c)
	}
}

func TestServeRejectsBadConfigBeforeStarting(t *testing.T) {
	f := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(f, []byte("accountId: \"1\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errOut strings.Builder
	code := Execute(t.Context(), []string{"serve", "--config", f, "--data-dir", t.TempDir()}, &out, &errOut)
	if code == 0 || !strings.Contains(errOut.String(), "accountId") {
		t.Errorf("exit %d, stderr %q: want a failure naming accountId", code, errOut.String())
	}
}
