package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// moduleRoot is the directory of the go.mod enclosing the working directory.
func moduleRoot() (string, error) {
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

// buildHydrant builds ./cmd/hydrant into dir.
func buildHydrant(root, dir string) (string, error) {
	bin := filepath.Join(dir, "hydrant")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/hydrant")
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/hydrant: %w\n%s", err, b)
	}
	return bin, nil
}

// proc is a server process the benchmark started and must stop.
type proc struct {
	name   string
	cmd    *exec.Cmd
	URL    string
	exited chan struct{}
	err    error
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// startProc runs argv (with {addr}, {host} and {port} replaced) and waits up to within until
// GET ready answers below 500.
func startProc(name, logPath, ready string, within time.Duration, argv ...string) (*proc, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	host, port, _ := net.SplitHostPort(addr)
	r := strings.NewReplacer("{addr}", addr, "{host}", host, "{port}", port)
	for i := range argv {
		argv[i] = r.Replace(argv[i])
	}
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	p := &proc{name: name, cmd: exec.Command(argv[0], argv[1:]...), URL: "http://" + addr, exited: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	if err := p.cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() { p.err = p.cmd.Wait(); logf.Close(); close(p.exited) }()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		select {
		case <-p.exited:
			return nil, fmt.Errorf("%s exited early (%v); log in %s", name, p.err, logPath)
		default:
		}
		if resp, err := http.Get(p.URL + ready); err == nil {
			resp.Body.Close()
			if resp.StatusCode < 500 {
				return p, nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	p.stop()
	return nil, fmt.Errorf("%s not ready within %v; log in %s", name, within, logPath)
}

// stop sends SIGTERM, then SIGKILL after 20 s.
func (p *proc) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(20 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

// flush calls hydrant's POST /_hydrant/flush?stream=NAME.
func flush(ctx context.Context, url, stream string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url+"/_hydrant/flush?stream="+stream, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("flush %s: %w", stream, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("flush %s: status %d: %s", stream, resp.StatusCode, b)
	}
	return nil
}

// deliveredBytes sums the sizes of the objects hydrant wrote for bucket (temporary files
// live in dot-directories and are skipped).
func deliveredBytes(dataDir, bucket string) (n int64, objects int, err error) {
	root := filepath.Join(dataDir, "s3", bucket)
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		n += info.Size()
		objects++
		return nil
	})
	return n, objects, err
}

// createMotoBucket creates an S3 bucket on moto's single endpoint with a SigV4-signed
// path-style PUT (moto routes on the signing scope's service name).
func createMotoBucket(ctx context.Context, url, bucket string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, url+"/"+bucket, nil)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(nil)
	payload := hex.EncodeToString(sum[:])
	req.Header.Set("X-Amz-Content-Sha256", payload)
	creds := aws.Credentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "secret"}
	if err := v4.NewSigner().SignHTTP(ctx, creds, req, payload, "s3", "us-east-1", time.Now()); err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("create bucket %s: %w", bucket, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("create bucket %s: status %d: %s", bucket, resp.StatusCode, b)
	}
	return nil
}
