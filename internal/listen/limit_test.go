package listen

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// slowDown answers as the server's Firehose refusal does, in short.
var slowDown = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
	http.Error(w, "Slow down.", http.StatusServiceUnavailable)
})

type answer struct {
	Status int
	Body   string
}

func get(t *testing.T, c *http.Client, url string) answer {
	resp, err := c.Get(url)
	if err != nil {
		t.Errorf("GET %s: %v", url, err)
		return answer{}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Errorf("read the answer of %s: %v", url, err)
	}
	return answer{resp.StatusCode, string(b)}
}

// TestLimiterBound fills the Limiter one request at a time over real connections: the n-th
// request is served, the next one is refused at once, and after the served ones end new ones
// are served again.
func TestLimiterBound(t *testing.T) {
	const n = 3
	release := make(chan struct{})
	entered := make(chan struct{}, 2*n)
	l := NewLimiter(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		<-release
		io.WriteString(w, "served")
	}), n, slowDown)
	url := "http://" + startServer(t, l, Config{}, nil, nil) + "/"
	client := testClient(t, &http.Transport{})

	answers := make(chan answer, n)
	for i := 1; i <= n; i++ {
		go func() { answers <- get(t, client, url) }()
		select {
		case <-entered:
		case <-time.After(5 * time.Second):
			t.Fatalf("request %d of %d not served", i, n)
		}
		if got := l.InFlight(); got != i {
			t.Fatalf("InFlight() = %d with %d requests served, want %d", got, i, i)
		}
	}

	start := time.Now()
	if diff := cmp.Diff(answer{http.StatusServiceUnavailable, "Slow down.\n"}, get(t, client, url)); diff != "" {
		t.Errorf("request beyond the bound (-want +got):\n%s", diff)
	}
	t.Logf("refused in %v", time.Since(start))
	if got := l.Refused(); got != 1 {
		t.Errorf("Refused() = %d, want 1", got)
	}
	if got := l.InFlight(); got != n {
		t.Errorf("InFlight() = %d after a refusal, want %d", got, n)
	}

	close(release)
	for range n {
		if diff := cmp.Diff(answer{http.StatusOK, "served"}, <-answers); diff != "" {
			t.Errorf("request within the bound (-want +got):\n%s", diff)
		}
	}
	// The server writes an answer out after the handler chain returns, so the slots are free
	// once the clients have theirs.
	if got := l.InFlight(); got != 0 {
		t.Errorf("InFlight() = %d after the requests ended, want 0", got)
	}
	for range n + 1 {
		if diff := cmp.Diff(answer{http.StatusOK, "served"}, get(t, client, url)); diff != "" {
			t.Errorf("request after release (-want +got):\n%s", diff)
		}
	}
	if got := l.Refused(); got != 1 {
		t.Errorf("Refused() = %d at the end, want 1", got)
	}
}

// TestLimiterConcurrent sends many requests at once to a Limiter whose handler blocks: exactly
// n are served and the rest refused, however they interleave.
func TestLimiterConcurrent(t *testing.T) {
	const n, total = 5, 64
	release := make(chan struct{})
	var cur, peak atomic.Int64
	entered := make(chan struct{}, total)
	l := NewLimiter(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := cur.Add(1)
		for p := peak.Load(); c > p && !peak.CompareAndSwap(p, c); p = peak.Load() {
		}
		entered <- struct{}{}
		<-release
		cur.Add(-1)
	}), n, slowDown)

	codes := make(chan int, total)
	for range total {
		go func() {
			rec := httptest.NewRecorder()
			l.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/", nil))
			codes <- rec.Code
		}()
	}
	// The refused requests end at once; the served ones wait for release.
	count := map[int]int{}
	for range total - n {
		count[<-codes]++
	}
	for range n {
		<-entered
	}
	if diff := cmp.Diff(map[int]int{http.StatusServiceUnavailable: total - n}, count); diff != "" {
		t.Errorf("answers before release (-want +got):\n%s", diff)
	}
	if got := l.InFlight(); got != n {
		t.Errorf("InFlight() = %d, want %d", got, n)
	}
	if got := l.Refused(); got != total-n {
		t.Errorf("Refused() = %d, want %d", got, total-n)
	}
	close(release)
	for range n {
		count[<-codes]++
	}
	if diff := cmp.Diff(map[int]int{http.StatusServiceUnavailable: total - n, http.StatusOK: n}, count); diff != "" {
		t.Errorf("all answers (-want +got):\n%s", diff)
	}
	if got := peak.Load(); got != n {
		t.Errorf("peak of requests served at once = %d, want %d", got, n)
	}
	if got := l.InFlight(); got != 0 {
		t.Errorf("InFlight() = %d at the end, want 0", got)
	}
}

// TestLimiterPanic checks that a handler's panic frees its slot: net/http recovers from
// http.ErrAbortHandler, and the request must not count against the bound forever.
func TestLimiterPanic(t *testing.T) {
	l := NewLimiter(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic(http.ErrAbortHandler) }), 1, slowDown)
	func() {
		defer func() {
			if r := recover(); r != http.ErrAbortHandler {
				t.Errorf("recovered %v, want http.ErrAbortHandler", r)
			}
		}()
		l.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
	}()
	if got := l.InFlight(); got != 0 {
		t.Errorf("InFlight() = %d after a panic, want 0", got)
	}
}

func TestLimiterDefaultRefusal(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{})
	l := NewLimiter(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		close(entered)
		<-release
	}), 1, nil)
	done := make(chan struct{})
	go func() {
		defer close(done)
		l.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
	}()
	<-entered
	rec := httptest.NewRecorder()
	l.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	close(release)
	<-done
	if diff := cmp.Diff(answer{http.StatusServiceUnavailable, "Slow down.\n"}, answer{rec.Code, rec.Body.String()}); diff != "" {
		t.Errorf("refusal (-want +got):\n%s", diff)
	}
}
