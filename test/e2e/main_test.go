package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"
)

// binary is the hydrant binary that TestMain builds once for every test.
var binary string

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	flag.Parse()
	if testing.Short() {
		return m.Run() // every test skips itself in -short mode; no need to build
	}
	dir, err := os.MkdirTemp("", "hydrant-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: temp dir:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	binary, err = buildBinary(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	return m.Run()
}

// buildBinary builds ./cmd/hydrant of the enclosing module into dir.
func buildBinary(dir string) (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("not inside a Go module")
	}
	bin := filepath.Join(dir, "hydrant")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/hydrant")
	cmd.Dir = filepath.Dir(gomod)
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/hydrant: %w\n%s", err, b)
	}
	return bin, nil
}

// requireTool skips the test when an external program is missing, except under CI=true
// where a missing tool is a failure.
func requireTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is required under CI=true: %v", name, err)
	}
	t.Skipf("%s not installed: %v", name, err)
	return ""
}

// server is one hydrant process.
type server struct {
	t       testing.TB
	DataDir string
	Addr    string // host:port
	URL     string // http://host:port
	logPath string
	env     []string            // extra environment of the process
	args    []string            // extra arguments of `hydrant serve`
	client  *http.Client        // trusts the server's CA when it serves HTTPS
	signAs  func(*http.Request) // signs admin requests, for a server with credentials
	cmd     *exec.Cmd
	exited  chan struct{}
	waitErr error
}

// startServer runs the binary on a free loopback port with dataDir (a new temp dir when
// empty) and waits until /_hydrant/health answers. The process is stopped at cleanup.
func startServer(t testing.TB, dataDir string, env ...string) *server {
	t.Helper()
	return startServerArgs(t, dataDir, nil, env...)
}

// startServerArgs is startServer with extra arguments for `hydrant serve`, such as
// "--config", FILE.
func startServerArgs(t testing.TB, dataDir string, args []string, env ...string) *server {
	t.Helper()
	if dataDir == "" {
		dataDir = t.TempDir()
	}
	logs := t.TempDir()
	for attempt := 0; ; attempt++ {
		s := &server{t: t, DataDir: dataDir, Addr: freeAddr(t), env: env, args: args, exited: make(chan struct{}), client: http.DefaultClient}
		s.URL = "http://" + s.Addr
		if ca := argAfter(args, "--tls-ca"); ca != "" { // a test-only marker: the CA of --tls-cert
			s.client = tlsClient(t, ca)
			s.URL = "https://" + s.Addr
			s.args = dropArg(args, "--tls-ca")
		}
		s.logPath = filepath.Join(logs, fmt.Sprintf("hydrant-%d.log", attempt))
		err := s.start()
		if err == nil {
			t.Cleanup(func() { s.cleanup() })
			return s
		}
		if attempt >= 2 {
			t.Fatalf("start hydrant: %v\n%s", err, s.logTail())
		}
		t.Logf("start hydrant on %s failed, retrying: %v", s.Addr, err)
	}
}

func (s *server) start() error {
	logf, err := os.Create(s.logPath)
	if err != nil {
		return err
	}
	args := append([]string{"serve", "--data-dir", s.DataDir, "--listen", s.Addr, "--log-level", "info"}, s.args...)
	s.cmd = exec.Command(binary, args...)
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	s.cmd.Env = append(append(os.Environ(), "AWS_REGION=us-east-1"), s.env...)
	if err := s.cmd.Start(); err != nil {
		logf.Close()
		return err
	}
	go func() {
		s.waitErr = s.cmd.Wait()
		logf.Close()
		close(s.exited)
	}()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-s.exited:
			return fmt.Errorf("hydrant exited early: %v", s.waitErr)
		default:
		}
		resp, err := s.client.Get(s.URL + "/_hydrant/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.signal(syscall.SIGKILL)
	<-s.exited
	return errors.New("no healthy answer within 20s")
}

// Stop sends SIGTERM and waits for a clean exit.
func (s *server) Stop() {
	s.t.Helper()
	s.signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(20 * time.Second):
		s.signal(syscall.SIGKILL)
		<-s.exited
		s.t.Errorf("hydrant did not stop within 20s of SIGTERM\n%s", s.logTail())
	}
}

// Kill sends SIGKILL: the crash.
func (s *server) Kill() {
	s.t.Helper()
	s.signal(syscall.SIGKILL)
	<-s.exited
}

func (s *server) signal(sig os.Signal) {
	if s.cmd.Process != nil {
		_ = s.cmd.Process.Signal(sig)
	}
}

func (s *server) cleanup() {
	select {
	case <-s.exited:
	default:
		s.Stop()
	}
	if s.t.Failed() {
		s.t.Logf("hydrant log (%s):\n%s", s.Addr, s.logTail())
	}
}

func (s *server) logTail() string {
	b, _ := os.ReadFile(s.logPath)
	const max = 8000
	if len(b) > max {
		b = b[len(b)-max:]
	}
	return string(b)
}

// Flush asks the server to deliver every buffered record of stream (all streams when
// empty) and waits for the answer.
func (s *server) Flush(stream string) {
	s.t.Helper()
	u := s.URL + "/_hydrant/flush"
	if stream != "" {
		u += "?stream=" + stream
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, u, nil)
	if s.signAs != nil {
		s.signAs(req)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		s.t.Fatalf("flush: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		s.t.Fatalf("flush: status %d: %s", resp.StatusCode, b)
	}
}

// object is one delivered file under DataDir/s3.
type object struct {
	Bucket, Key string
	Path        string
	ModTime     time.Time
}

// Objects lists the delivered objects of bucket (all buckets when empty), oldest first.
func (s *server) Objects(bucket string) []object {
	s.t.Helper()
	return listObjects(s.t, s.DataDir, bucket)
}

func listObjects(t testing.TB, dataDir, bucket string) []object {
	t.Helper()
	root := filepath.Join(dataDir, "s3")
	var objs []object
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		b, key, _ := strings.Cut(filepath.ToSlash(rel), "/")
		if bucket != "" && b != bucket {
			return nil
		}
		for _, part := range strings.Split(filepath.ToSlash(rel), "/") {
			if strings.HasPrefix(part, ".") {
				return nil // temporary files of objects being written (.tmp, .hydrant-tmp)
			}
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		objs = append(objs, object{Bucket: b, Key: key, Path: p, ModTime: info.ModTime()})
		return nil
	})
	if err != nil {
		t.Fatalf("list objects: %v", err)
	}
	sort.SliceStable(objs, func(i, j int) bool {
		if !objs[i].ModTime.Equal(objs[j].ModTime) {
			return objs[i].ModTime.Before(objs[j].ModTime)
		}
		return objs[i].Key < objs[j].Key
	})
	return objs
}

func readFile(t testing.TB, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// freeAddr returns a loopback address whose port was free a moment ago.
func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// rawCall posts body to the Firehose endpoint with target as X-Amz-Target (no header when
// empty) and returns the status, the request id header and the decoded error body.
func rawCall(t testing.TB, url, target string, body []byte) (status int, requestID string, out map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url+"/", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	if target != "" {
		req.Header.Set("X-Amz-Target", target)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", target, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	out = map[string]any{}
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("%s: response is not JSON: %v: %q", target, err, b)
	}
	return resp.StatusCode, resp.Header.Get("x-amzn-RequestId"), out
}
