package listen

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestConfigDefaults(t *testing.T) {
	tests := []struct {
		name string
		in   Config
		want Config
	}{
		{
			name: "zero",
			want: Config{
				ReadHeaderTimeout: 10 * time.Second,
				ReadTimeout:       60 * time.Second,
				IdleTimeout:       120 * time.Second,
				MaxHeaderBytes:    64 << 10,
				MaxConcurrent:     512,
			},
		},
		{
			name: "set",
			in:   Config{ReadHeaderTimeout: time.Second, ReadTimeout: 2 * time.Second, IdleTimeout: 3 * time.Second, MaxHeaderBytes: 8192, MaxConcurrent: 4},
			want: Config{ReadHeaderTimeout: time.Second, ReadTimeout: 2 * time.Second, IdleTimeout: 3 * time.Second, MaxHeaderBytes: 8192, MaxConcurrent: 4},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, tt.in.WithDefaults()); diff != "" {
				t.Errorf("WithDefaults (-want +got):\n%s", diff)
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		in   Config
		want []string // substrings of the error, none for a valid config
	}{
		{name: "zero"},
		{name: "smallest", in: Config{ReadHeaderTimeout: 1, ReadTimeout: 1, IdleTimeout: 1, MaxHeaderBytes: 4096, MaxConcurrent: 1}},
		{name: "negative timeouts", in: Config{ReadHeaderTimeout: -1, ReadTimeout: -time.Second, IdleTimeout: -time.Minute},
			want: []string{"readHeaderTimeout -1ns: must be positive", "readTimeout -1s: must be positive", "idleTimeout -1m0s: must be positive"}},
		{name: "header bytes", in: Config{MaxHeaderBytes: 4095}, want: []string{"maxHeaderBytes 4095: must be at least 4096"}},
		{name: "concurrency", in: Config{MaxConcurrent: -1}, want: []string{"maxConcurrentRequests -1: must be at least 1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.in.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate() = %q, want it to contain %q", err, w)
				}
			}
		})
	}
}

// serverBounds is what NewServer sets of an http.Server.
type serverBounds struct {
	ReadHeaderTimeout, ReadTimeout, WriteTimeout, IdleTimeout time.Duration
	MaxHeaderBytes                                            int
	ErrorLog                                                  bool
}

func TestNewServer(t *testing.T) {
	tests := []struct {
		name string
		in   Config
		want serverBounds
	}{
		{name: "defaults", want: serverBounds{ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10, ErrorLog: true}},
		{name: "set", in: Config{ReadHeaderTimeout: 1, ReadTimeout: 2, IdleTimeout: 3, MaxHeaderBytes: 5000},
			want: serverBounds{ReadHeaderTimeout: 1, ReadTimeout: 2, IdleTimeout: 3, MaxHeaderBytes: 5000, ErrorLog: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hs := NewServer(http.NotFoundHandler(), tt.in, nil)
			got := serverBounds{hs.ReadHeaderTimeout, hs.ReadTimeout, hs.WriteTimeout, hs.IdleTimeout, hs.MaxHeaderBytes, hs.ErrorLog != nil}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("server bounds (-want +got):\n%s", diff)
			}
		})
	}
}

// TestSlowBody checks that a client sending its body a byte a second cannot hold a connection
// beyond ReadTimeout, and that the handler never sees the whole body.
func TestSlowBody(t *testing.T) {
	t.Parallel()
	c := Config{ReadHeaderTimeout: time.Second, ReadTimeout: 2 * time.Second}
	type result struct {
		n   int
		err error
	}
	got := make(chan result, 1)
	addr := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		got <- result{len(b), err}
	}), c, nil, nil)

	conn := dial(t, addr)
	start := time.Now()
	if _, err := io.WriteString(conn, "POST / HTTP/1.1\r\nHost: hydrant\r\nContent-Length: 100\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	trickle(t, conn, strings.Repeat("x", 100), time.Second)
	err := readToEnd(conn, conn, start.Add(5*time.Second))
	elapsed := time.Since(start)
	if isTimeout(err) {
		t.Fatalf("connection still open after %v", elapsed)
	}
	t.Logf("connection closed after %v (%v)", elapsed, err)
	if elapsed < c.ReadTimeout/2 {
		t.Errorf("connection closed after %v, before readTimeout %v", elapsed, c.ReadTimeout)
	}
	select {
	case r := <-got:
		if r.err == nil || r.n >= 100 {
			t.Errorf("handler read %d bytes, err %v; want fewer than 100 and an error", r.n, r.err)
		}
	case <-time.After(time.Second):
		t.Error("handler did not return")
	}
}

// TestSlowHeaders checks that a client sending its headers slowly is cut off at
// ReadHeaderTimeout, before any handler runs.
func TestSlowHeaders(t *testing.T) {
	t.Parallel()
	c := Config{ReadHeaderTimeout: time.Second, ReadTimeout: 10 * time.Second}
	var served atomic.Int64
	addr := startServer(t, http.HandlerFunc(func(http.ResponseWriter, *http.Request) { served.Add(1) }), c, nil, nil)

	conn := dial(t, addr)
	start := time.Now()
	trickle(t, conn, "POST / HTTP/1.1\r\nHost: hydrant\r\nX-Slow: "+strings.Repeat("a", 100)+"\r\n\r\n", 200*time.Millisecond)
	err := readToEnd(conn, conn, start.Add(3*time.Second))
	elapsed := time.Since(start)
	if isTimeout(err) {
		t.Fatalf("connection still open after %v", elapsed)
	}
	t.Logf("connection closed after %v (%v)", elapsed, err)
	if elapsed < c.ReadHeaderTimeout/2 {
		t.Errorf("connection closed after %v, before readHeaderTimeout %v", elapsed, c.ReadHeaderTimeout)
	}
	if n := served.Load(); n != 0 {
		t.Errorf("handler ran %d times", n)
	}
}

func TestIdleTimeout(t *testing.T) {
	t.Parallel()
	c := Config{IdleTimeout: 500 * time.Millisecond}
	addr := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }), c, nil, nil)

	conn := dial(t, addr)
	br := bufio.NewReader(conn)
	// Two requests on one connection: it is kept alive between them.
	for i := range 2 {
		if _, err := io.WriteString(conn, "GET / HTTP/1.1\r\nHost: hydrant\r\n\r\n"); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("response %d: %v", i, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || string(b) != "ok" {
			t.Fatalf("response %d = %d %q", i, resp.StatusCode, b)
		}
	}
	start := time.Now()
	err := readToEnd(conn, br, start.Add(3*time.Second))
	elapsed := time.Since(start)
	if isTimeout(err) {
		t.Fatalf("idle connection still open after %v", elapsed)
	}
	if elapsed < c.IdleTimeout/2 {
		t.Errorf("idle connection closed after %v, before idleTimeout %v", elapsed, c.IdleTimeout)
	}
}

func TestMaxHeaderBytes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		cfg       Config
		headerLen int
		want      int
	}{
		{name: "small within", cfg: Config{MaxHeaderBytes: 4096}, headerLen: 1 << 10, want: http.StatusOK},
		{name: "small over", cfg: Config{MaxHeaderBytes: 4096}, headerLen: 16 << 10, want: http.StatusRequestHeaderFieldsTooLarge},
		{name: "default within", headerLen: 32 << 10, want: http.StatusOK},
		{name: "default over", headerLen: 128 << 10, want: http.StatusRequestHeaderFieldsTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := startServer(t, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}), tt.cfg, nil, nil)
			req, err := http.NewRequest(http.MethodGet, "http://"+addr+"/", nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("X-Big", strings.Repeat("a", tt.headerLen))
			resp, err := testClient(t, &http.Transport{}).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Errorf("status = %d, want %d", resp.StatusCode, tt.want)
			}
		})
	}
}

func TestErrorLog(t *testing.T) {
	tests := []struct {
		name, line string
		want       map[string]any
	}{
		{
			name: "handshake",
			line: "http: TLS handshake error from 192.0.2.1:1234: EOF\n",
			want: map[string]any{"level": "DEBUG", "msg": "http server error", "err": "http: TLS handshake error from 192.0.2.1:1234: EOF"},
		},
		{
			name: "panic",
			line: "http: panic serving 127.0.0.1:1234: boom\ngoroutine 1 [running]:\n",
			want: map[string]any{"level": "ERROR", "msg": "http server error", "err": "http: panic serving 127.0.0.1:1234: boom\ngoroutine 1 [running]:"},
		},
		{
			name: "accept",
			line: "http: Accept error: accept tcp: too many open files; retrying in 5ms",
			want: map[string]any{"level": "WARN", "msg": "http server error", "err": "http: Accept error: accept tcp: too many open files; retrying in 5ms"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := &recordHandler{records: make(chan slog.Record, 1)}
			hs := NewServer(http.NotFoundHandler(), Config{}, slog.New(h))
			hs.ErrorLog.Print(tt.line)
			r := <-h.records
			got := map[string]any{"level": r.Level.String(), "msg": r.Message}
			r.Attrs(func(a slog.Attr) bool { got[a.Key] = a.Value.Any(); return true })
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("log record (-want +got):\n%s", diff)
			}
		})
	}
}

// startServer serves h on 127.0.0.1 and a free port with c's bounds, over TLS with certs when
// it is not nil, until the test ends. It returns the listener's address.
func startServer(t *testing.T, h http.Handler, c Config, certs *Certs, log *slog.Logger) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if log == nil {
		log = testLogger()
	}
	hs := NewServer(h, c, log)
	done := make(chan error, 1)
	go func() { done <- Serve(hs, ln, certs) }()
	t.Cleanup(func() {
		hs.Close()
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
	})
	return ln.Addr().String()
}

// testLogger logs to stderr at debug level with HYDRANT_TEST_LOG set, and nowhere otherwise.
func testLogger() *slog.Logger {
	if os.Getenv("HYDRANT_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// testClient returns a client of tr with a timeout, whose idle connections close when the test
// ends.
func testClient(t *testing.T, tr *http.Transport) *http.Client {
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 5 * time.Second}
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// trickle writes s to conn one byte every interval, as a slow client does, until s is written,
// a write fails (the server closed the connection) or the test ends.
func trickle(t *testing.T, conn net.Conn, s string, interval time.Duration) {
	stop := make(chan struct{})
	var wg sync.WaitGroup
	t.Cleanup(func() { close(stop); wg.Wait() })
	wg.Go(func() {
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for i := range len(s) {
			if _, err := conn.Write([]byte{s[i]}); err != nil {
				return
			}
			select {
			case <-tick.C:
			case <-stop:
				return
			}
		}
	})
}

// readToEnd reads r, conn or a buffered reader of it, until the server closes conn, or deadline
// passes (a timeout error). A reset is a close too: the server may close with bytes of ours
// unread.
func readToEnd(conn net.Conn, r io.Reader, deadline time.Time) error {
	conn.SetReadDeadline(deadline)
	_, err := io.Copy(io.Discard, r)
	return err
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// recordHandler is a slog.Handler that passes every record on a channel.
type recordHandler struct{ records chan slog.Record }

func (h *recordHandler) Enabled(_ context.Context, _ slog.Level) bool { return true }
func (h *recordHandler) Handle(_ context.Context, r slog.Record) error {
	select {
	case h.records <- r.Clone():
	default:
	}
	return nil
}
func (h *recordHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *recordHandler) WithGroup(string) slog.Handler      { return h }
