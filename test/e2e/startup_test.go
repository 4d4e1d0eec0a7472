package e2e

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// serveOnce runs `hydrant serve` with args until it exits by itself (at most 30 s) and returns
// its exit code, the last line it printed and how long it ran.
func serveOnce(t *testing.T, args ...string) (code int, last string, took time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	out, err := exec.CommandContext(ctx, binary, append([]string{"serve"}, args...)...).CombinedOutput()
	took = time.Since(start)
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		code = exit.ExitCode()
	default:
		t.Fatalf("run hydrant serve: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return code, lines[len(lines)-1], took
}

// TestStartupFailsFast: an unusable journal directory, a port in use or a bad config file ends
// the server within 5 s with exit code 1 and the cause (the path or address and the system
// error) as its last line.
func TestStartupFailsFast(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test")
	}
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	configs := t.TempDir()
	config := func(name, content string) string {
		path := filepath.Join(configs, name)
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	unknownKey := config("unknown.yaml", "listen: 127.0.0.1:0\nnoSuchKey: 1\n")
	badSyntax := config("syntax.yaml", "listen: [\n")
	badValue := config("value.yaml", "maxStreams: -5\n")
	tests := []struct {
		name string
		args func(t *testing.T, dataDir string) []string
		want func(dataDir string) []string // substrings of the last line
	}{
		{
			name: "journal dir is a file",
			args: func(t *testing.T, dataDir string) []string {
				if err := os.WriteFile(filepath.Join(dataDir, "journal"), []byte("x"), 0o644); err != nil {
					t.Fatal(err)
				}
				return []string{"--listen", freeAddr(t)}
			},
			want: func(dataDir string) []string {
				return []string{filepath.Join(dataDir, "journal"), "not a directory"}
			},
		},
		{
			name: "port in use",
			args: func(*testing.T, string) []string { return []string{"--listen", busy.Addr().String()} },
			want: func(string) []string { return []string{busy.Addr().String(), "address already in use"} },
		},
		{
			name: "config unknown key",
			args: func(*testing.T, string) []string { return []string{"--config", unknownKey} },
			want: func(string) []string { return []string{unknownKey, "noSuchKey"} },
		},
		{
			name: "config syntax error",
			args: func(*testing.T, string) []string { return []string{"--config", badSyntax} },
			want: func(string) []string { return []string{badSyntax, "line 1"} },
		},
		{
			name: "config invalid value",
			args: func(*testing.T, string) []string { return []string{"--config", badValue} },
			want: func(string) []string { return []string{badValue, "maxStreams -5"} },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dataDir := t.TempDir()
			args := append([]string{"--data-dir", dataDir}, tt.args(t, dataDir)...)
			code, last, took := serveOnce(t, args...)
			if code != 1 {
				t.Errorf("exit code %d, want 1 (last line %q)", code, last)
			}
			for _, w := range tt.want(dataDir) {
				if !strings.Contains(last, w) {
					t.Errorf("last line %q: want %q", last, w)
				}
			}
			if took > 5*time.Second {
				t.Errorf("took %v to fail", took)
			}
			t.Logf("exited %d in %v: %s", code, took.Round(time.Millisecond), last)
		})
	}
}

// TestStartupSignals: SIGTERM or SIGINT while the server starts or serves ends it within 5 s
// with exit code 0, a requested stop. "Starting" sends the signal as soon as the embedded journal
// server logs its first line, so it lands during (or just after) the journal start.
func TestStartupSignals(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test")
	}
	for _, tt := range []struct {
		name string
		sig  syscall.Signal
		at   string // the log line that triggers the signal
	}{
		{"SIGTERM while starting", syscall.SIGTERM, "journal server notice"},
		{"SIGINT while starting", syscall.SIGINT, "journal server notice"},
		{"SIGTERM while serving", syscall.SIGTERM, "hydrant serving"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command(binary, "serve", "--data-dir", t.TempDir(), "--listen", freeAddr(t), "--log-level", "debug")
			pr, pw := io.Pipe()
			cmd.Stdout, cmd.Stderr = pw, pw
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan error, 1)
			go func() { err := cmd.Wait(); pw.Close(); exited <- err }()
			var out []string
			seen := make(chan struct{})
			var once sync.Once
			lines := make(chan struct{})
			go func() {
				defer close(lines)
				sc := bufio.NewScanner(pr)
				for sc.Scan() {
					out = append(out, sc.Text())
					if strings.Contains(sc.Text(), tt.at) {
						once.Do(func() { close(seen) })
					}
				}
			}()
			select {
			case <-seen:
			case err := <-exited:
				<-lines
				t.Fatalf("exited before %q: %v\n%s", tt.at, err, strings.Join(out, "\n"))
			case <-time.After(20 * time.Second):
				_ = cmd.Process.Kill()
				t.Fatalf("no %q within 20 s", tt.at)
			}
			sent := time.Now()
			if err := cmd.Process.Signal(tt.sig); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-exited:
				took := time.Since(sent)
				<-lines
				if err != nil {
					t.Errorf("exit: %v, want code 0\n%s", err, strings.Join(out, "\n"))
				}
				if took > 5*time.Second {
					t.Errorf("took %v to stop", took)
				}
				t.Logf("stopped %v after the signal; last line: %s", took.Round(time.Millisecond), out[len(out)-1])
			case <-time.After(10 * time.Second):
				_ = cmd.Process.Kill()
				<-exited
				<-lines
				t.Fatalf("still running 10 s after %v\n%s", tt.sig, strings.Join(out, "\n"))
			}
		})
	}
}
