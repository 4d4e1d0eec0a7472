package journal

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestOpenUnusableFailsFast: a store directory or listen address that cannot be used fails Open
// within 5 s with an error naming it and the system error, not as a server that never gets ready.
func TestOpenUnusableFailsFast(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	tests := []struct {
		name string
		cfg  func(t *testing.T) Config
		want []string // substrings of the error
	}{
		{
			name: "dir is a file",
			cfg: func(t *testing.T) Config {
				dir := filepath.Join(t.TempDir(), "journal")
				writeFile(t, dir)
				return Config{Dir: dir}
			},
			want: []string{"journal", "not a directory"},
		},
		{
			name: "parent is a file",
			cfg: func(t *testing.T) Config {
				parent := filepath.Join(t.TempDir(), "data")
				writeFile(t, parent)
				return Config{Dir: filepath.Join(parent, "journal")}
			},
			want: []string{"data/journal", "data: not a directory"},
		},
		{
			name: "cannot be created",
			cfg:  func(*testing.T) Config { return Config{Dir: "/proc/hydrant-journal"} },
			want: []string{"/proc/hydrant-journal", "no such file or directory"},
		},
		{
			name: "store dir inside is a file",
			cfg: func(t *testing.T) Config {
				dir := t.TempDir()
				writeFile(t, filepath.Join(dir, "jetstream"))
				return Config{Dir: dir}
			},
			want: []string{"jetstream", "not a directory"},
		},
		{
			// The store is fine; the server's own listener is not, so the error comes from the
			// server's startup rather than from the pre-check.
			name: "listen address in use",
			cfg:  func(t *testing.T) Config { return Config{Dir: t.TempDir(), Listen: busy.Addr().String()} },
			want: []string{busy.Addr().String(), "address already in use"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg(t)
			start := time.Now()
			j, err := Open(context.Background(), cfg, nil)
			took := time.Since(start)
			if err == nil {
				j.Close()
				t.Fatal("Open succeeded, want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Open: %v, want it to mention %q", err, w)
				}
			}
			if took > 5*time.Second {
				t.Errorf("Open took %v to fail", took)
			}
			t.Logf("failed in %v: %v", took.Round(time.Millisecond), err)
		})
	}
}

func TestOpenUnwritableDir(t *testing.T) {
	dir := t.TempDir()
	if os.Geteuid() == 0 {
		// Root writes to any directory the mode forbids, but not to an immutable one.
		if out, err := exec.Command("chattr", "+i", dir).CombinedOutput(); err != nil {
			t.Fatalf("chattr +i %s: %v %s", dir, err, out)
		}
		t.Cleanup(func() { exec.Command("chattr", "-i", dir).Run() })
	} else if err := os.Chmod(dir, 0o555); err != nil {
		t.Fatal(err)
	}
	_, err := Open(context.Background(), Config{Dir: dir}, nil)
	if err == nil || !strings.Contains(err.Error(), dir) || !errors.Is(err, os.ErrPermission) {
		t.Fatalf("Open: %v, want a permission error naming %s", err, dir)
	}
}

// TestOpenHonoursContext: a context that ends while the server starts ends Open promptly with
// the context's error, and leaves the store reusable.
func TestOpenHonoursContext(t *testing.T) {
	dir := t.TempDir()
	for _, after := range []time.Duration{0, time.Millisecond, 5 * time.Millisecond} {
		ctx, cancel := context.WithCancel(context.Background())
		if after == 0 {
			cancel()
		} else {
			time.AfterFunc(after, cancel)
		}
		start := time.Now()
		j, err := Open(ctx, Config{Dir: dir}, nil)
		took := time.Since(start)
		cancel()
		if err == nil {
			j.Close() // started before the cancel was seen
		} else if !errors.Is(err, context.Canceled) {
			t.Errorf("cancel after %v: Open: %v, want context.Canceled", after, err)
		}
		if took > 5*time.Second {
			t.Errorf("cancel after %v: Open took %v", after, took)
		}
		t.Logf("cancel after %v: returned in %v: %v", after, took.Round(time.Millisecond), err)
	}
	j := openTest(t, Config{Dir: dir})
	j.Close()
}

func writeFile(t *testing.T, path string) {
	t.Helper()
	if err := os.WriteFile(path, []byte("not a directory\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}
