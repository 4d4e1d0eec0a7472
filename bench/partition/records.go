package main

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"time"
)

// customerID is the customer_id value of customer n.
func customerID(n int) string { return fmt.Sprintf("cust-%05d", n) }

// customerOf is the customer of record i of client g, when every client sends bodies batches
// of records records: the clients' record slots, numbered client after client, go round the
// customers, so each body covers many customers, the bodies differ, and together they cover
// every customer once slots ≥ customers.
func customerOf(g, i, slotsPerClient, customers int) int {
	return (g*slotsPerClient + i) % customers
}

// customerRecord is record i of client g: one JSON event of exactly size bytes, ending in a
// newline, whose first member is customer_id. It names its client and index, so a delivered
// record can be rebuilt and compared byte for byte. The other members vary as an order
// service's events do; a "detail" member pads the line to size. Sizes below the fixed members
// give a line that is not JSON (the benchmark refuses them).
func customerRecord(customer string, g, i, size int) []byte {
	r := rand.New(rand.NewPCG(uint64(g)<<32|uint64(i), 0x2545f4914f6cdd1d))
	events := []string{"page_view", "page_view", "add_to_cart", "checkout", "payment", "refund"}
	devices := []string{"mobile", "desktop", "tablet"}
	countries := []string{"DE", "FR", "US", "GB", "JP", "BR", "IN"}
	currencies := []string{"EUR", "USD", "GBP", "JPY"}
	paths := []string{"/", "/search", "/product", "/cart", "/checkout", "/account/orders"}
	agents := []string{
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
		"okhttp/4.12.0",
	}
	words := []string{"sku", "qty", "price", "coupon", "warehouse", "carrier", "express", "standard",
		"gift", "wrap", "note", "retry", "cache", "hit", "miss", "region", "eu-west-1", "us-east-1"}
	ts := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC).Add(time.Duration(g)*time.Hour + time.Duration(i)*time.Millisecond)

	var b bytes.Buffer
	b.Grow(size)
	fmt.Fprintf(&b, `{"customer_id":%q,"client":%d,"seq":%d,"ts":%q,"event":%q,"session_id":"%016x","order_id":%d,`+
		`"amount":%.2f,"currency":%q,"country":%q,"device":%q,"path":%q,"user_agent":%q,"items":[{"sku":"SKU-%06d","qty":%d},{"sku":"SKU-%06d","qty":%d}],"detail":"`,
		customer, g, i, ts.Format(time.RFC3339Nano), events[r.IntN(len(events))], r.Uint64(), r.IntN(1e9),
		r.Float64()*500, currencies[r.IntN(len(currencies))], countries[r.IntN(len(countries))], devices[r.IntN(len(devices))],
		paths[r.IntN(len(paths))], agents[r.IntN(len(agents))], r.IntN(1e6), 1+r.IntN(5), r.IntN(1e6), 1+r.IntN(5))
	const tail = "\"}\n"
	for b.Len() < size-len(tail) {
		fmt.Fprintf(&b, "%s=%d ", words[r.IntN(len(words))], r.IntN(10000))
	}
	out := b.Bytes()
	if len(out) > size-len(tail) {
		out = out[:max(size-len(tail), 0)]
	}
	out = append(out, tail...)
	if len(out) > size {
		out = append(out[:max(size-1, 0)], '\n')
	}
	return out
}

// minRecordBytes is the smallest size at which customerRecord is still JSON.
const minRecordBytes = 512
