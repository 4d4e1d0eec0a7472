package harness

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ProcSpec is a server process to start.
type ProcSpec struct {
	Name    string
	LogPath string        // stdout and stderr go here
	Ready   string        // path answered below 500 once the server is ready
	Within  time.Duration // how long it may take to get ready
	Env     []string      // added to the benchmark's environment
	// Argv is the command; {addr}, {host} and {port} are replaced with a free 127.0.0.1
	// address, its host and its port, {addr2} with a second free address.
	Argv []string
}

// Proc is a server process the benchmark started and must stop.
type Proc struct {
	Name   string
	URL    string // http://{addr}
	Addr2  string // {addr2}
	cmd    *exec.Cmd
	exited chan struct{}
	err    error
}

// FreeAddr returns a 127.0.0.1 address with a port that was free a moment ago.
func FreeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// StartProc runs s.Argv and waits up to s.Within until GET s.Ready answers below 500.
func StartProc(s ProcSpec) (*Proc, error) {
	addr, err := FreeAddr()
	if err != nil {
		return nil, err
	}
	addr2, err := FreeAddr()
	if err != nil {
		return nil, err
	}
	host, port, _ := net.SplitHostPort(addr)
	r := strings.NewReplacer("{addr2}", addr2, "{addr}", addr, "{host}", host, "{port}", port)
	argv := make([]string, len(s.Argv))
	for i := range s.Argv {
		argv[i] = r.Replace(s.Argv[i])
	}
	logf, err := os.Create(s.LogPath)
	if err != nil {
		return nil, err
	}
	p := &Proc{Name: s.Name, cmd: exec.Command(argv[0], argv[1:]...), URL: "http://" + addr, Addr2: addr2, exited: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	if len(s.Env) > 0 {
		p.cmd.Env = append(os.Environ(), s.Env...)
	}
	if err := p.cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", s.Name, err)
	}
	go func() { p.err = p.cmd.Wait(); logf.Close(); close(p.exited) }()
	hc := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(s.Within)
	for time.Now().Before(deadline) {
		select {
		case <-p.exited:
			return nil, fmt.Errorf("%s exited early (%v); log in %s", s.Name, p.err, s.LogPath)
		default:
		}
		if resp, err := hc.Get(p.URL + s.Ready); err == nil {
			resp.Body.Close()
			if resp.StatusCode < 500 {
				return p, nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	p.Stop()
	return nil, fmt.Errorf("%s not ready within %v; log in %s", s.Name, s.Within, s.LogPath)
}

// Stop sends SIGTERM, then SIGKILL after 20 s, and waits for the process to exit.
func (p *Proc) Stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(20 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

// Pid is the process id.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Memory returns the process's peak and current resident set size in bytes.
func (p *Proc) Memory() (peak, current int64, err error) { return ProcMemory(p.cmd.Process.Pid) }

// ProcMemory returns VmHWM (peak resident set size) and VmRSS of process pid from
// /proc/PID/status, in bytes.
func ProcMemory(pid int) (peak, current int64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	found := 0
	for line := range strings.Lines(string(b)) {
		k, v, ok := strings.Cut(line, ":")
		if !ok || (k != "VmHWM" && k != "VmRSS") {
			continue
		}
		f := strings.Fields(v) // "123456 kB"
		if len(f) != 2 || f[1] != "kB" {
			return 0, 0, fmt.Errorf("parse /proc/%d/status: %q", pid, line)
		}
		n, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("parse /proc/%d/status: %w", pid, err)
		}
		if k == "VmHWM" {
			peak = n << 10
		} else {
			current = n << 10
		}
		found++
	}
	if found != 2 {
		return 0, 0, fmt.Errorf("parse /proc/%d/status: no VmHWM and VmRSS", pid)
	}
	return peak, current, nil
}

// CPU returns the user plus system CPU time the process has used so far.
func (p *Proc) CPU() (time.Duration, error) {
	return ProcCPU(p.cmd.Process.Pid)
}

// clockTick is the unit of /proc/PID/stat's times: USER_HZ, which Linux fixes at 100 for
// user space on every architecture.
const clockTick = 10 * time.Millisecond

// ProcCPU returns utime+stime of process pid from /proc/PID/stat.
func ProcCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) is in parentheses and may hold spaces; fields after it
	// start at field 3, so utime (14) and stime (15) are the 12th and 13th after ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("parse /proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("parse /proc/%d/stat: %d fields", pid, len(f))
	}
	var ticks int64
	for _, v := range f[11:13] {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("parse /proc/%d/stat: %w", pid, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * clockTick, nil
}

// SystemCPU returns the CPU time every process on the machine has used since boot, summed
// over all CPUs: the busy fields (user, nice, system, irq, softirq, steal) of /proc/stat.
// Subtracting the benchmark's own processes shows what else ran during a measurement.
func SystemCPU() (time.Duration, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0, fmt.Errorf("parse /proc/stat: %q", line)
	}
	var ticks int64
	for _, i := range []int{1, 2, 3, 6, 7, 8} { // user nice system (idle iowait) irq softirq steal
		n, err := strconv.ParseInt(f[i], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("parse /proc/stat: %w", err)
		}
		ticks += n
	}
	return time.Duration(ticks) * clockTick, nil
}

// SaveProfile saves the Go profile a process serves at url (net/http/pprof) to path. A CPU
// profile takes as long as its seconds parameter: ctx bounds the wait.
func SaveProfile(ctx context.Context, url, path string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("profile %s: %s", url, resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
