package processor

import (
	"os/exec"
	"strings"
	"testing"
)

// TestLeaf asserts the package imports no other package of this module.
func TestLeaf(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Skipf("go list: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		if strings.HasPrefix(dep, "github.com/hydrant-dev/hydrant/") && dep != "github.com/hydrant-dev/hydrant/internal/processor" {
			t.Errorf("imports %s", dep)
		}
	}
}
