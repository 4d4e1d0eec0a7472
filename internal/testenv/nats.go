package testenv

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// NATSServer is one nats-server process of a cluster started by StartNATSCluster.
type NATSServer struct {
	// Name is the server's name; URL the nats:// URL of its client listener.
	Name, URL string

	logPath string
	mu      sync.Mutex
	cmd     *exec.Cmd
}

// NATSCluster is a JetStream cluster of nats-server processes on loopback, as an operator's own
// NATS deployment would be, each syncing every write to disk (sync_interval: always).
type NATSCluster struct {
	Servers []*NATSServer
}

// URLs returns the client URLs of every server, comma-separated, as a client is given them.
func (c *NATSCluster) URLs() string {
	urls := make([]string, len(c.Servers))
	for i, s := range c.Servers {
		urls[i] = s.URL
	}
	return strings.Join(urls, ",")
}

// natsBuild builds the nats-server binary once per test process.
var natsBuild struct {
	once sync.Once
	path string
	err  error
}

// natsServerBinary returns a nats-server built from the module this repository embeds (the same
// version as the journal's server), building it on first use; "" and the reason when it cannot.
func natsServerBinary() (string, error) {
	natsBuild.once.Do(func() {
		goTool, err := exec.LookPath("go")
		if err != nil {
			natsBuild.err = fmt.Errorf("the go tool is needed to build nats-server: %w", err)
			return
		}
		dir, err := os.MkdirTemp("", "hydrant-nats-server-")
		if err != nil {
			natsBuild.err = err
			return
		}
		path := filepath.Join(dir, "nats-server")
		cmd := exec.Command(goTool, "build", "-o", path, "github.com/nats-io/nats-server/v2")
		cmd.Env = append(os.Environ(), "GOWORK=off")
		if out, err := cmd.CombinedOutput(); err != nil {
			natsBuild.err = fmt.Errorf("build nats-server: %v\n%s", err, out)
			return
		}
		natsBuild.path = path
	})
	return natsBuild.path, natsBuild.err
}

// StartNATSCluster starts n nats-server processes with JetStream as one cluster on loopback and
// waits until JetStream answers through every server. They are killed when the test ends.
// Without a nats-server (one is built from the module cache with the go tool) the test is
// skipped, or failed under RequireTools.
func StartNATSCluster(t testing.TB, n int) *NATSCluster {
	t.Helper()
	bin, err := natsServerBinary()
	if err != nil {
		if RequireTools() {
			t.Fatalf("nats-server: %v", err)
		}
		t.Skipf("nats-server unavailable: %v", err)
	}
	clients, routes := FreePorts(t, n), FreePorts(t, n)
	var routeURLs []string
	for _, p := range routes {
		routeURLs = append(routeURLs, fmt.Sprintf("nats-route://127.0.0.1:%d", p))
	}
	c := &NATSCluster{}
	for i := range n {
		dir := t.TempDir()
		s := &NATSServer{Name: fmt.Sprintf("nats%d", i+1), URL: fmt.Sprintf("nats://127.0.0.1:%d", clients[i]),
			logPath: filepath.Join(dir, "server.log")}
		conf := fmt.Sprintf(`server_name: %s
listen: 127.0.0.1:%d
jetstream { store_dir: %q, sync_interval: always }
cluster { name: hydrant-test, listen: 127.0.0.1:%d, routes: [%s] }
`, s.Name, clients[i], filepath.Join(dir, "js"), routes[i], strings.Join(routeURLs, ", "))
		confPath := filepath.Join(dir, "nats.conf")
		if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
			t.Fatal(err)
		}
		logFile, err := os.Create(s.logPath)
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, "-c", confPath)
		cmd.Stdout, cmd.Stderr = logFile, logFile
		if err := cmd.Start(); err != nil {
			t.Fatalf("start nats-server: %v", err)
		}
		s.cmd = cmd
		t.Cleanup(func() {
			s.Kill()
			logFile.Close()
		})
		c.Servers = append(c.Servers, s)
	}
	deadline := time.Now().Add(60 * time.Second)
	for _, s := range c.Servers {
		for {
			err := jetStreamReady(s.URL)
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				log, _ := os.ReadFile(s.logPath)
				t.Fatalf("nats-server %s not ready: %v\n%s", s.Name, err, log)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return c
}

// jetStreamReady reports whether JetStream answers through the server at url.
func jetStreamReady(url string) error {
	nc, err := nats.Connect(url, nats.Timeout(time.Second))
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, err = js.AccountInfo(ctx)
	return err
}

// Kill stops the server with SIGKILL (idempotent).
func (s *NATSServer) Kill() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Kill()
		_ = s.cmd.Wait()
		s.cmd = nil
	}
}

// FreePorts returns n loopback ports free at the time of the call.
func FreePorts(t testing.TB, n int) []int {
	t.Helper()
	var ls []net.Listener
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range ls {
		l.Close()
	}
	return ports
}
