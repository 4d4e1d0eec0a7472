package e2e

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestSecondServerOnADataDirectoryExits starts a second `hydrant serve` on the data directory
// of a running one: it must exit at once with an error naming the directory and the owner's
// pid, and the first must go on serving.
func TestSecondServerOnADataDirectoryExits(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test")
	}
	first := startServer(t, "")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	cmd := exec.CommandContext(ctx, binary, "serve", "--data-dir", first.DataDir, "--listen", freeAddr(t))
	out, err := cmd.CombinedOutput()
	took := time.Since(start)
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() == 0 {
		t.Fatalf("second server: %v, want a non-zero exit\n%s", err, out)
	}
	if took > 5*time.Second {
		t.Errorf("second server took %v to exit", took)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	last := lines[len(lines)-1]
	want := fmt.Sprintf("process %d", first.cmd.Process.Pid)
	if !strings.Contains(last, first.DataDir) || !strings.Contains(last, want) {
		t.Errorf("last line %q: want the directory %s and %q", last, first.DataDir, want)
	}
	t.Logf("second server exited in %v: %s", took.Round(time.Millisecond), last)
	first.Flush("")
}

// TestUnusableDataDirectoryFailsFast: a data directory that cannot be created or locked ends
// the server within 5 s with the path and the system error as its last line.
func TestUnusableDataDirectoryFailsFast(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test")
	}
	for _, dir := range []string{"/proc/hydrant-data", "/proc/self"} {
		t.Run(dir, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			start := time.Now()
			out, err := exec.CommandContext(ctx, binary, "serve", "--data-dir", dir, "--listen", freeAddr(t)).CombinedOutput()
			took := time.Since(start)
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != 1 {
				t.Fatalf("serve on %s: %v, want exit code 1\n%s", dir, err, out)
			}
			lines := strings.Split(strings.TrimSpace(string(out)), "\n")
			if last := lines[len(lines)-1]; !strings.Contains(last, dir) || !strings.Contains(last, "no such file or directory") {
				t.Errorf("last line %q: want the path and the system error", last)
			}
			if took > 5*time.Second {
				t.Errorf("took %v to fail", took)
			}
		})
	}
}
