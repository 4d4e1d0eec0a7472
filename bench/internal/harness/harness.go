// Package harness is what the benchmarks under bench/ share: building and starting the
// servers they measure, the aws-sdk-go-v2 Firehose client, the PutRecordBatch load, the
// processes' CPU time and a description of the machine for the results.
package harness

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
)

// ModuleRoot is the directory of the go.mod enclosing the working directory.
func ModuleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("run inside the hydrant module")
	}
	return filepath.Dir(gomod), nil
}

// BuildHydrant builds ./cmd/hydrant of the module at root into dir.
func BuildHydrant(root, dir string) (string, error) {
	bin := filepath.Join(dir, "hydrant")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/hydrant")
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/hydrant: %w\n%s", err, b)
	}
	return bin, nil
}

// SysInfo describes the machine and the code a benchmark ran on.
type SysInfo struct {
	NProc, CPU, GoVersion, Rev string
}

// SystemInfo returns nproc, the CPU model, the Go version and the git revision of root,
// marked with the top-level directories that have uncommitted changes.
func SystemInfo(root string) SysInfo {
	s := SysInfo{NProc: fmt.Sprint(runtime.NumCPU()), CPU: "unknown", GoVersion: runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH, Rev: "unknown"}
	if out, err := exec.Command("nproc").Output(); err == nil {
		s.NProc = strings.TrimSpace(string(out))
	}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				s.CPU = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	if out, err := exec.Command("git", "-C", root, "rev-parse", "--short", "HEAD").Output(); err == nil {
		s.Rev = strings.TrimSpace(string(out)) + dirtyDirs(root)
	}
	return s
}

// dirtyDirs describes the uncommitted changes of the working tree at root by top-level
// directory ("" when it is clean): modified or added files, then untracked ones. The results
// file the benchmarks append to is left out.
func dirtyDirs(root string) string {
	out, err := exec.Command("git", "-C", root, "status", "--porcelain", "--untracked-files=all").Output()
	if err != nil {
		return " (git status failed)"
	}
	var changed, untracked []string
	for line := range strings.Lines(string(out)) {
		line = strings.TrimRight(line, "\n")
		if len(line) < 4 {
			continue
		}
		p := line[3:]
		if _, to, ok := strings.Cut(p, " -> "); ok {
			p = to
		}
		if p == "bench/RESULTS.md" {
			continue
		}
		dir, _, ok := strings.Cut(p, "/")
		if ok {
			dir += "/"
		}
		if line[:2] == "??" {
			untracked = appendNew(untracked, dir)
		} else {
			changed = appendNew(changed, dir)
		}
	}
	var b strings.Builder
	if len(changed) > 0 {
		b.WriteString(" + uncommitted changes in " + strings.Join(changed, " "))
	}
	if len(untracked) > 0 {
		b.WriteString(" + untracked files in " + strings.Join(untracked, " "))
	}
	return b.String()
}

func appendNew(list []string, s string) []string {
	if slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}

// LoadAvg returns the 1, 5 and 15 minute load averages of /proc/loadavg, as "1.02 0.87 0.65",
// or "unknown".
func LoadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// AppendResults appends section to the results file p, writing header first when the file
// is new or empty.
func AppendResults(p, header, section string) error {
	f, err := os.OpenFile(p, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if info, _ := f.Stat(); info != nil && info.Size() == 0 {
		fmt.Fprint(f, header)
	}
	if _, err := fmt.Fprint(f, "\n"+section); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
