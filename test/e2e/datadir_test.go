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
