package producer

import (
	"os/exec"
	"strings"
	"testing"
)

// TestNoInternalImports keeps pkg/producer usable outside the module: it imports nothing
// under internal/ (tests may).
func TestNoInternalImports(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Skipf("go list: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		if strings.HasPrefix(dep, "github.com/hydrant-dev/hydrant/") && strings.Contains(dep, "/internal/") {
			t.Errorf("pkg/producer depends on %s", dep)
		}
	}
}
