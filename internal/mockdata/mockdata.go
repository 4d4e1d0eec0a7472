// Package mockdata generates realistic web-traffic records as JSON lines: the records of
// `hydrant mock-data` and of the SDK scenario program (examples/scenario), from one
// generator. Each record has ip, timestamp (RFC 3339 with milliseconds, rising over the
// hour before an end time), method, path, status, bytes, referrer, user_agent and
// session; requests of one session share its address and browser. The same seed and
// end time give the same bytes.
package mockdata

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"time"
)

// hit is one mock web-traffic record; the field order is the JSON's.
type hit struct {
	IP        string `json:"ip"`
	Timestamp string `json:"timestamp"`
	Method    string `json:"method"`
	Path      string `json:"path"`
	Status    int    `json:"status"`
	Bytes     int    `json:"bytes"`
	Referrer  string `json:"referrer"`
	UserAgent string `json:"user_agent"`
	Session   string `json:"session"`
}

// weighted picks one of its values with probability proportional to its weight.
type weighted[T any] struct {
	values  []T
	weights []int
	total   int
}

func newWeighted[T any](pairs ...pair[T]) weighted[T] {
	var wt weighted[T]
	for _, p := range pairs {
		wt.values = append(wt.values, p.v)
		wt.weights = append(wt.weights, p.w)
		wt.total += p.w
	}
	return wt
}

func (wt weighted[T]) pick(r *rand.Rand) T {
	n := r.IntN(wt.total)
	for i, w := range wt.weights {
		if n < w {
			return wt.values[i]
		}
		n -= w
	}
	return wt.values[len(wt.values)-1]
}

// pair is a value and its weight.
type pair[T any] struct {
	v T
	w int
}

// page is a path with its method and typical response size.
type page struct {
	method, path string
	bytes        int
}

// Generator generates web-traffic records from a seeded source. It is not safe for
// concurrent use.
type Generator struct {
	r                        *rand.Rand
	pages                    weighted[page]
	statuses                 weighted[int]
	agents, referrers, terms []string
}

// New returns a generator seeded with seed: the same seed gives the same records.
func New(seed uint64) *Generator {
	return &Generator{
		r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		pages: newWeighted(
			pair[page]{page{"GET", "/", 14200}, 30},
			pair[page]{page{"GET", "/products", 22800}, 14},
			pair[page]{page{"GET", "/products/%d", 18400}, 18},
			pair[page]{page{"GET", "/search?q=%s", 16100}, 8},
			pair[page]{page{"GET", "/cart", 9200}, 6},
			pair[page]{page{"POST", "/cart/items", 420}, 5},
			pair[page]{page{"POST", "/checkout", 1100}, 2},
			pair[page]{page{"GET", "/static/app.%s.js", 148000}, 10},
			pair[page]{page{"GET", "/static/styles.%s.css", 31000}, 8},
			pair[page]{page{"GET", "/api/v1/recommendations?user=%d", 2600}, 6},
			pair[page]{page{"POST", "/api/v1/events", 64}, 5},
			pair[page]{page{"GET", "/login", 7800}, 3},
			pair[page]{page{"POST", "/login", 310}, 2},
			pair[page]{page{"GET", "/favicon.ico", 1150}, 4},
			pair[page]{page{"GET", "/wp-login.php", 0}, 1},
		),
		statuses: newWeighted(
			pair[int]{200, 820}, pair[int]{201, 15}, pair[int]{204, 20}, pair[int]{301, 10}, pair[int]{302, 25},
			pair[int]{304, 60}, pair[int]{400, 8}, pair[int]{401, 6}, pair[int]{403, 4}, pair[int]{404, 22},
			pair[int]{429, 3}, pair[int]{500, 4}, pair[int]{502, 2}, pair[int]{503, 1},
		),
		agents: []string{
			"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
			"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
			"Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0",
			"Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
			"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36",
			"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
			"curl/8.7.1",
			"python-requests/2.32.3",
		},
		referrers: []string{
			"", "", "", "https://www.google.com/", "https://www.bing.com/", "https://duckduckgo.com/",
			"https://news.ycombinator.com/", "https://t.co/xyz", "https://shop.example.com/",
		},
		terms: []string{"shoes", "red+dress", "laptop", "coffee+grinder", "usb-c+cable", "tent", "headphones"},
	}
}

// session is a visitor: one address, one browser, several requests.
type session struct {
	id, ip, agent string
	left          int
}

// Generate writes count records, one JSON object a line, with timestamps rising over
// the hour before end.
func (m *Generator) Generate(w io.Writer, count int, end time.Time) error {
	offsets := make([]int64, count)
	for i := range offsets {
		offsets[i] = m.r.Int64N(int64(time.Hour / time.Millisecond))
	}
	slices.Sort(offsets)
	start := end.Add(-time.Hour)
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	var live []*session
	for i := range count {
		// About one request in eight starts a new visit; the others continue one.
		if len(live) == 0 || m.r.IntN(8) == 0 {
			live = append(live, m.newSession())
		}
		k := m.r.IntN(len(live))
		s := live[k]
		if s.left--; s.left <= 0 {
			live = slices.Delete(live, k, k+1)
		}
		p := m.pages.pick(m.r)
		status := m.statuses.pick(m.r)
		size := p.bytes/2 + m.r.IntN(p.bytes+1)
		switch {
		case status == 304 || status == 204 || status >= 300 && status < 400:
			size = 0
		case status >= 400:
			size = 150 + m.r.IntN(400)
		}
		h := hit{
			IP:        s.ip,
			Timestamp: start.Add(time.Duration(offsets[i]) * time.Millisecond).UTC().Format("2006-01-02T15:04:05.000Z07:00"),
			Method:    p.method,
			Path:      m.fillPath(p.path),
			Status:    status,
			Bytes:     size,
			Referrer:  m.referrers[m.r.IntN(len(m.referrers))],
			UserAgent: s.agent,
			Session:   s.id,
		}
		if err := enc.Encode(h); err != nil {
			return err
		}
	}
	return bw.Flush()
}

func (m *Generator) newSession() *session {
	var ip string
	if m.r.IntN(10) == 0 {
		ip = fmt.Sprintf("2001:db8:%x:%x::%x", m.r.IntN(1<<16), m.r.IntN(1<<16), 1+m.r.IntN(1<<16))
	} else {
		ip = fmt.Sprintf("%d.%d.%d.%d", 1+m.r.IntN(223), m.r.IntN(256), m.r.IntN(256), 1+m.r.IntN(254))
	}
	return &session{
		id:    fmt.Sprintf("%016x", m.r.Uint64()),
		ip:    ip,
		agent: m.agents[m.r.IntN(len(m.agents))],
		left:  1 + m.r.IntN(20),
	}
}

func (m *Generator) fillPath(p string) string {
	switch {
	case strings.Contains(p, "%d"):
		return fmt.Sprintf(p, 1000+m.r.IntN(9000))
	case strings.HasPrefix(p, "/search"):
		return fmt.Sprintf(p, m.terms[m.r.IntN(len(m.terms))])
	case strings.Contains(p, "%s"):
		return fmt.Sprintf(p, "3f9a1c")
	}
	return p
}

// Records returns count records of New(seed) ending at end, each one JSON object
// followed by "\n", as Generate writes them.
func Records(seed uint64, count int, end time.Time) ([][]byte, error) {
	var buf bytes.Buffer
	if err := New(seed).Generate(&buf, count, end); err != nil {
		return nil, fmt.Errorf("generate mock data: %w", err)
	}
	out := make([][]byte, 0, count)
	for line := range bytes.Lines(buf.Bytes()) {
		out = append(out, line)
	}
	return out, nil
}
