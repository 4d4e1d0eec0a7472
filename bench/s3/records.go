package main

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"time"
)

// webLogRecord is record i of client g: one JSON access-log line of exactly size bytes,
// ending in a newline. The fields vary as a web server's do (random request ids, client
// addresses, latencies; a few services, paths, agents and messages), so it compresses like
// real logs rather than like filler; a "detail" field pads the line to size.
func webLogRecord(g, i, size int) []byte {
	r := rand.New(rand.NewPCG(uint64(g)<<32|uint64(i), 0x9e3779b97f4a7c15))
	levels := []string{"INFO", "INFO", "INFO", "DEBUG", "WARN", "ERROR"}
	services := []string{"checkout", "cart", "auth", "search", "inventory", "payments"}
	methods := []string{"GET", "GET", "GET", "POST", "PUT", "DELETE"}
	paths := []string{"/api/v1/items", "/api/v1/cart", "/api/v2/search", "/login", "/api/v1/orders", "/healthz"}
	agents := []string{
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15",
		"okhttp/4.12.0",
		"aws-sdk-go-v2/1.30.0 os/linux lang/go#1.26",
	}
	messages := []string{"request completed", "cache miss", "upstream timeout, retrying", "user not found", "order placed", "rate limited"}
	words := []string{"user", "session", "cart", "item", "sku", "price", "currency", "EUR", "USD", "region",
		"eu-west-1", "us-east-1", "shard", "replica", "retry", "timeout", "cache", "hit", "miss", "token",
		"valid", "expired", "quantity", "discount", "coupon", "shipping", "express", "standard", "warehouse", "status"}
	ts := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC).Add(time.Duration(g)*time.Hour + time.Duration(i)*2500*time.Microsecond)

	var b bytes.Buffer
	b.Grow(size)
	fmt.Fprintf(&b, `{"ts":%q,"level":%q,"service":%q,"request_id":"%016x%016x","method":%q,"path":"%s/%d","status":%d,"latency_ms":%.3f,"bytes":%d,"user_agent":%q,"client_ip":"10.%d.%d.%d","msg":%q,"detail":"`,
		ts.Format(time.RFC3339Nano), levels[r.IntN(len(levels))], services[r.IntN(len(services))],
		r.Uint64(), r.Uint64(), methods[r.IntN(len(methods))], paths[r.IntN(len(paths))], r.IntN(100000),
		[]int{200, 200, 200, 201, 204, 301, 400, 404, 500, 503}[r.IntN(10)], r.Float64()*250, r.IntN(1<<20),
		agents[r.IntN(len(agents))], r.IntN(256), r.IntN(256), r.IntN(256), messages[r.IntN(len(messages))])
	const tail = "\"}\n"
	for b.Len() < size-len(tail) {
		if r.IntN(4) == 0 {
			fmt.Fprintf(&b, "%s=%d ", words[r.IntN(len(words))], r.IntN(10000))
		} else {
			fmt.Fprintf(&b, "%s=%s ", words[r.IntN(len(words))], words[r.IntN(len(words))])
		}
	}
	out := b.Bytes()
	if len(out) > size-len(tail) {
		out = out[:max(size-len(tail), 0)]
	}
	out = append(out, tail...)
	if len(out) > size { // size smaller than the fixed fields: not JSON any more, still size bytes
		out = append(out[:size-1], '\n')
	}
	return out
}

// objectData is n bytes of what a delivery buffer holds under the load: the records of the
// clients' batches one after another, whole batches in turn, as the journal delivers them.
func objectData(n, clients, records, recordBytes int) []byte {
	batches := make([][]byte, clients)
	for g := range clients {
		for i := range records {
			batches[g] = append(batches[g], webLogRecord(g, i, recordBytes)...)
		}
	}
	out := make([]byte, 0, n+records*recordBytes)
	for g := 0; len(out) < n; g = (g + 1) % clients {
		out = append(out, batches[g]...)
	}
	return out[:n]
}
