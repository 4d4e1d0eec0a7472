//go:build linux

package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"golang.org/x/sys/unix"
)

// A NetLab is a private network of one test, built with iproute2: a bridge in a network
// namespace of its own and one namespace per host, each host joined to the bridge by a veth
// pair, on a /24 of 10.213.0.0/16. Nothing of it is reachable from the host's own network:
// the test reaches the hosts with DialContext (a socket made inside the bridge's namespace) and
// runs servers inside a host's namespace with Command. Cut and Heal drop and restore the
// traffic between hosts with tc, leaving every other path open.
//
// Names are hyd-<pid>-<random>-<host>, so that runs side by side never collide; the
// namespaces are deleted, and the processes started with Command killed, when the test ends.
type NetLab struct {
	prefix string // hyd-<pid>-<hex>
	subnet string // "10.213.X": the /24 of the lab
	bridge string // the bridge's namespace

	mu    sync.Mutex
	hosts []*NetHost
	procs []*exec.Cmd
}

// A NetHost is one namespace of a NetLab, with one interface, eth0, on the lab's bridge.
type NetHost struct {
	Name string // the name the test gave it
	NS   string // its network namespace (ip netns)
	IP   string // its address on the bridge
	lab  *NetLab
	port string // the bridge's end of its veth pair
}

// RequireNetns skips the test unless it can build a NetLab (root, ip and tc installed, network
// namespaces usable), or fails it under RequireTools.
func RequireNetns(t testing.TB) {
	t.Helper()
	reason := ""
	switch {
	case os.Geteuid() != 0:
		reason = "network namespaces need root"
	default:
		for _, tool := range []string{"ip", "tc"} {
			if _, err := exec.LookPath(tool); err != nil {
				reason = tool + " (iproute2) not installed: " + err.Error()
				break
			}
		}
	}
	if reason == "" {
		if _, err := os.Stat("/proc/self/ns/net"); err != nil {
			reason = "no network namespaces in this kernel: " + err.Error()
		}
	}
	if reason == "" {
		return
	}
	if RequireTools() {
		t.Fatal(reason)
	}
	t.Skip(reason)
}

// NewNetLab builds the bridge of a new lab; AddHost adds hosts to it. It deletes first the
// namespaces of earlier labs whose process is gone (a test killed before its cleanup).
func NewNetLab(t testing.TB) *NetLab {
	t.Helper()
	RequireNetns(t)
	sweepNetLabs()
	var b [2]byte
	rand.Read(b[:])
	l := &NetLab{
		prefix: fmt.Sprintf("hyd-%d-%s", os.Getpid(), hex.EncodeToString(b[:])),
		subnet: fmt.Sprintf("10.213.%d", 1+int(b[0])%250),
	}
	l.bridge = l.prefix + "-br"
	t.Cleanup(l.destroy)
	l.run(t, "netns", "add", l.bridge)
	l.run(t, "-n", l.bridge, "link", "set", "lo", "up")
	l.run(t, "-n", l.bridge, "link", "add", "br0", "type", "bridge")
	l.run(t, "-n", l.bridge, "addr", "add", l.subnet+".254/24", "dev", "br0")
	l.run(t, "-n", l.bridge, "link", "set", "br0", "up")
	return l
}

// AddHost adds a namespace with the next free address of the lab (10.213.X.1, .2, ...).
func (l *NetLab) AddHost(t testing.TB, name string) *NetHost {
	t.Helper()
	l.mu.Lock()
	h := &NetHost{Name: name, NS: l.prefix + "-" + name, IP: fmt.Sprintf("%s.%d", l.subnet, len(l.hosts)+1), lab: l,
		port: fmt.Sprintf("p%d", len(l.hosts)+1)}
	port := h.port
	l.hosts = append(l.hosts, h)
	l.mu.Unlock()
	l.run(t, "netns", "add", h.NS)
	l.run(t, "-n", h.NS, "link", "set", "lo", "up")
	l.run(t, "-n", l.bridge, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", h.NS)
	l.run(t, "-n", l.bridge, "link", "set", port, "master", "br0")
	l.run(t, "-n", l.bridge, "link", "set", port, "up")
	l.run(t, "-n", h.NS, "addr", "add", h.IP+"/24", "dev", "eth0")
	l.run(t, "-n", h.NS, "link", "set", "eth0", "up")
	// Wait until both ends of the pair are up (a veth reports UP once its peer is up too).
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		a, _ := exec.Command("ip", "-n", h.NS, "-o", "link", "show", "eth0").Output()
		b, _ := exec.Command("ip", "-n", l.bridge, "-o", "link", "show", port).Output()
		if strings.Contains(string(a), "state UP") && strings.Contains(string(b), "state UP") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("veth of %s not up after 10 s:\n%s\n%s", h.NS, a, b)
		}
	}
	return h
}

// Addr returns host:port of the host.
func (h *NetHost) Addr(port int) string { return net.JoinHostPort(h.IP, strconv.Itoa(port)) }

// Command returns a command that runs inside the host's namespace (ip netns exec, which execs
// the program: the process's pid is the program's). The lab kills it when the test ends, if
// it was started.
func (h *NetHost) Command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command("ip", append([]string{"netns", "exec", h.NS, name}, args...)...)
	h.lab.mu.Lock()
	h.lab.procs = append(h.lab.procs, cmd)
	h.lab.mu.Unlock()
	return cmd
}

// Cut drops every IP packet between h and the hosts from, both ways, leaving h's paths to the
// other hosts and to the bridge (the test) open. Established connections are not reset: their
// packets vanish, as in a real partition.
//
// The kernel here may lack tc's drop action (act_gact) and netem, so the drop is a queue: an
// HTB qdisc on each end of h's veth pair (h's eth0 for what h sends, the bridge's port for what
// it receives) sends everything to a 10 Gbit/s class, except what a u32 filter matches (the other
// hosts' addresses as destination or source), which goes to a class whose queue is a pfifo of
// length 0: every packet enqueued there is dropped.
func (h *NetHost) Cut(t testing.TB, from ...*NetHost) {
	t.Helper()
	for _, end := range []struct{ ns, dev, match string }{{h.NS, "eth0", "dst"}, {h.lab.bridge, h.port, "src"}} {
		tc(t, end.ns, "qdisc", "add", "dev", end.dev, "root", "handle", "1:", "htb", "default", "1")
		tc(t, end.ns, "class", "add", "dev", end.dev, "parent", "1:", "classid", "1:1", "htb", "rate", "10gbit", "quantum", "60000")
		tc(t, end.ns, "class", "add", "dev", end.dev, "parent", "1:", "classid", "1:2", "htb", "rate", "8bit", "quantum", "1514")
		tc(t, end.ns, "qdisc", "add", "dev", end.dev, "parent", "1:2", "handle", "2:", "pfifo", "limit", "0")
		for _, o := range from {
			tc(t, end.ns, "filter", "add", "dev", end.dev, "parent", "1:", "protocol", "ip", "prio", "1", "u32",
				"match", "ip", end.match, o.IP+"/32", "flowid", "1:2")
		}
	}
}

// Heal removes the qdiscs of Cut.
func (h *NetHost) Heal(t testing.TB) {
	t.Helper()
	tc(t, h.NS, "qdisc", "del", "dev", "eth0", "root")
	tc(t, h.lab.bridge, "qdisc", "del", "dev", h.port, "root")
}

// Dropped returns the packets Cut's filters dropped so far, both ways (0 when h is not cut).
func (h *NetHost) Dropped(t testing.TB) int {
	t.Helper()
	n := 0
	for _, end := range [][2]string{{h.NS, "eth0"}, {h.lab.bridge, h.port}} {
		out, err := exec.Command("tc", "-n", end[0], "-s", "qdisc", "show", "dev", end[1], "parent", "1:2").CombinedOutput()
		if err != nil {
			continue
		}
		// qdisc pfifo 2: parent 1:2 limit 0p
		//  Sent 0 bytes 0 pkt (dropped 3, overlimits 0 requeues 0)
		_, rest, ok := strings.Cut(string(out), "(dropped ")
		if !ok {
			continue
		}
		num, _, _ := strings.Cut(rest, ",")
		if v, err := strconv.Atoi(num); err == nil {
			n += v
		}
	}
	return n
}

func tc(t testing.TB, ns string, args ...string) {
	t.Helper()
	out, err := exec.Command("tc", append([]string{"-n", ns}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("tc -n %s %s: %v\n%s", ns, strings.Join(args, " "), err, out)
	}
}

func (l *NetLab) run(t testing.TB, args ...string) {
	t.Helper()
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// destroy kills the processes started in the lab and deletes its namespaces (their veth pairs
// go with them).
func (l *NetLab) destroy() {
	l.mu.Lock()
	procs, hosts := l.procs, l.hosts
	l.procs = nil
	l.mu.Unlock()
	for _, cmd := range procs {
		if cmd.Process != nil && cmd.ProcessState == nil {
			_ = cmd.Process.Signal(syscall.SIGKILL)
		}
	}
	for _, h := range hosts {
		_ = exec.Command("ip", "netns", "del", h.NS).Run()
	}
	_ = exec.Command("ip", "netns", "del", l.bridge).Run()
}

// sweepNetLabs deletes the namespaces hyd-<pid>-... of processes that no longer run.
func sweepNetLabs() {
	entries, err := os.ReadDir("/run/netns")
	if err != nil {
		return
	}
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), "hyd-")
		if !ok {
			continue
		}
		pidStr, _, ok := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidStr)
		if !ok || err != nil || pid <= 0 {
			continue
		}
		if _, err := os.Stat(filepath.Join("/proc", pidStr)); err == nil {
			continue // its test still runs
		}
		_ = exec.Command("ip", "netns", "del", e.Name()).Run()
	}
}

// DialContext connects from inside the bridge's namespace, where every host of the lab is
// reachable. A socket keeps the namespace it was made in, so the connection can be used from
// any goroutine. Names are not resolved in the namespace: use the hosts' addresses.
func (l *NetLab) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	var c net.Conn
	err := inNamespace(l.bridge, func() (err error) {
		c, err = (&net.Dialer{Timeout: 10 * time.Second}).DialContext(ctx, network, addr)
		return err
	})
	return c, err
}

// Listen makes a listener inside the host's namespace (addr is one of the host's addresses).
func (h *NetHost) Listen(network, addr string) (net.Listener, error) {
	var ln net.Listener
	err := inNamespace(h.NS, func() (err error) {
		ln, err = (&net.ListenConfig{}).Listen(context.Background(), network, addr)
		return err
	})
	return ln, err
}

// inNamespace runs f on a goroutine locked to its OS thread inside the network namespace ns
// (/run/netns/ns), entered with setns(2) and left the same way: the technique of
// github.com/vishvananda/netns. Sockets made by f stay in ns. The thread is unlocked only once
// it is back in its own namespace; a goroutine that exits locked takes its thread with it, so a
// thread stuck in ns is never reused.
func inNamespace(ns string, f func() error) error {
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		err, back := runIn(ns, f)
		if back {
			runtime.UnlockOSThread()
		}
		done <- err
	}()
	return <-done
}

func runIn(ns string, f func() error) (err error, back bool) {
	self, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()))
	if err != nil {
		return err, true
	}
	defer self.Close()
	target, err := os.Open(filepath.Join("/run/netns", ns))
	if err != nil {
		return err, true
	}
	defer target.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		return fmt.Errorf("setns %s: %w", ns, err), true
	}
	err = f()
	if serr := unix.Setns(int(self.Fd()), unix.CLONE_NEWNET); serr != nil {
		return fmt.Errorf("setns back from %s: %w (after %v)", ns, serr, err), false
	}
	return err, true
}

// Transport returns an HTTP transport that dials with DialContext.
func (l *NetLab) Transport() *http.Transport {
	return &http.Transport{DialContext: l.DialContext, MaxIdleConnsPerHost: 16, Proxy: nil}
}

// HTTPClient returns an HTTP client that dials with DialContext, with a timeout per request.
func (l *NetLab) HTTPClient(timeout time.Duration) *http.Client {
	return &http.Client{Transport: l.Transport(), Timeout: timeout}
}

// NetMinIO is a MinIO server inside a host of a NetLab, on port 9000 of the host's address.
type NetMinIO struct {
	host    *NetHost
	logPath string
	cmd     *exec.Cmd
	exited  chan struct{}
	s3      *s3.Client
}

// StartMinIOIn starts MinIO inside host (the test skips without a minio binary, or fails under
// RequireTools) and waits until it serves S3 requests. It is killed when the test ends.
func StartMinIOIn(t testing.TB, host *NetHost) *NetMinIO {
	t.Helper()
	bin := requireMinIO(t)
	dir := t.TempDir()
	m := &NetMinIO{host: host, logPath: filepath.Join(dir, "minio.log"), exited: make(chan struct{})}
	m.s3 = s3.New(s3.Options{
		BaseEndpoint:     aws.String(m.Endpoint()),
		Region:           "us-east-1",
		UsePathStyle:     true,
		Credentials:      credentials.NewStaticCredentialsProvider(minioUser, minioPassword, ""),
		RetryMaxAttempts: 1,
		HTTPClient:       host.lab.HTTPClient(30 * time.Second),
	})
	out, err := os.Create(m.logPath)
	if err != nil {
		t.Fatal(err)
	}
	m.cmd = host.Command(bin, "server", filepath.Join(dir, "data"), "--address", host.Addr(9000), "--console-address", host.Addr(9001), "--quiet")
	m.cmd.Env = append(os.Environ(),
		"MINIO_ROOT_USER="+minioUser,
		"MINIO_ROOT_PASSWORD="+minioPassword,
		"MINIO_BROWSER=off",
		"MINIO_UPDATE=off",
		"MINIO_CI_CD=1",
	)
	m.cmd.Stdout, m.cmd.Stderr = out, out
	if err := m.cmd.Start(); err != nil {
		out.Close()
		t.Fatalf("start minio in %s: %v", host.NS, err)
	}
	go func() { m.cmd.Wait(); out.Close(); close(m.exited) }()
	t.Cleanup(func() {
		m.cmd.Process.Kill()
		<-m.exited
	})
	deadline := time.Now().Add(startTimeout)
	hc := host.lab.HTTPClient(time.Second)
	for {
		select {
		case <-m.exited:
			t.Fatalf("minio in %s exited: %v\n%s", host.NS, m.cmd.ProcessState, m.logTail())
		default:
		}
		if resp, err := hc.Get(m.Endpoint() + "/minio/health/live"); err == nil {
			resp.Body.Close()
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			_, err = m.s3.ListBuckets(ctx, &s3.ListBucketsInput{})
			cancel()
			if resp.StatusCode == http.StatusOK && err == nil {
				return m
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("minio in %s not live after %v\n%s", host.NS, startTimeout, m.logTail())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (m *NetMinIO) logTail() string {
	b, _ := os.ReadFile(m.logPath)
	if len(b) > 4096 {
		b = b[len(b)-4096:]
	}
	return string(b)
}

// Endpoint returns the server's URL, http://<host's address>:9000, reachable from the lab's
// hosts, and from the test through the lab's DialContext.
func (m *NetMinIO) Endpoint() string { return "http://" + m.host.Addr(9000) }

// AccessKey returns the root user's access key.
func (m *NetMinIO) AccessKey() string { return minioUser }

// SecretKey returns the root user's secret key.
func (m *NetMinIO) SecretKey() string { return minioPassword }

// CreateBucket creates a bucket.
func (m *NetMinIO) CreateBucket(t testing.TB, name string) {
	t.Helper()
	if _, err := m.s3.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Fatalf("create bucket %s: %v", name, err)
	}
}

// NetObject is a stored object: its key, when it was stored, and its bytes.
type NetObject struct {
	Key      string
	Modified time.Time
	Body     []byte
}

// Objects returns every object of a bucket, in S3's (lexical) order of keys.
func (m *NetMinIO) Objects(t testing.TB, bucket string) []NetObject {
	t.Helper()
	ctx := context.Background()
	var objs []NetObject
	p := s3.NewListObjectsV2Paginator(m.s3, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatalf("list %s: %v", bucket, err)
		}
		for _, o := range page.Contents {
			out, err := m.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: o.Key})
			if err != nil {
				t.Fatalf("read %s/%s: %v", bucket, aws.ToString(o.Key), err)
			}
			b, err := io.ReadAll(out.Body)
			out.Body.Close()
			if err != nil {
				t.Fatalf("read %s/%s: %v", bucket, aws.ToString(o.Key), err)
			}
			objs = append(objs, NetObject{Key: aws.ToString(o.Key), Modified: aws.ToTime(o.LastModified), Body: b})
		}
	}
	return objs
}
