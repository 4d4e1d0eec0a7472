package main

import (
	"fmt"
	"runtime/debug"
	"strings"
	"time"

	"github.com/hydrant-dev/hydrant/bench/internal/harness"
)

// kfakeVersion is the kfake module version this program was built with.
func kfakeVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, m := range bi.Deps {
			if m.Path == "github.com/twmb/franz-go/pkg/kfake" {
				return m.Version
			}
		}
	}
	return "unknown"
}

func render(o options, fs harness.Fsyncs, rs []result, si harness.SysInfo) string {
	var b strings.Builder
	fmt.Fprintf(&b, "## %s — source read throughput (one Kinesis shard, one Kafka partition)\n\n", time.Now().UTC().Format("2006-01-02 15:04 UTC"))
	fmt.Fprintf(&b, "- host: `nproc` %s, CPU %s, %s; the source servers, hydrant and the bare readers share the machine (kfake runs inside the benchmark process)\n", si.NProc, si.CPU, si.GoVersion)
	rev := "hydrant revision " + si.Rev
	if o.hydrantBin != "" {
		rev = fmt.Sprintf("hydrant binary %s (-hydrant-bin; the working tree is at %s)", o.hydrantBin, si.Rev)
	}
	var servers []string
	for _, r := range rs {
		servers = append(servers, r.server+" "+r.version)
	}
	fmt.Fprintf(&b, "- %s; servers: %s\n", rev, strings.Join(servers, ", "))
	fmt.Fprintf(&b, "- method: Hydrant creates the source stream (local object store, BufferingHints 128 MB / 900 s) and is stopped (SIGTERM); "+
		"the source is filled with up to %d records of %d B (Kafka: %d; at most %v); a bare reader in the benchmark process reads them all "+
		"(Kinesis: aws-sdk-go-v2 GetRecords, Limit 10000, from TRIM_HORIZON, one call after the other; Kafka: franz-go consumer, default fetch sizes, from the start); "+
		"then Hydrant is started again on the same data directory and GET /_hydrant/streams/{name}/source is polled every 100 ms until it reports every record read. "+
		"Hydrant's time runs from the process's launch (start-up included); ratio = Hydrant records/s ÷ bare records/s\n",
		o.records, o.recordBytes, o.kafkaRecords, o.fillTime)
	fmt.Fprintln(&b, "- MB = 10^6 bytes of record data. kinesis-local and moto have no per-shard limits: real Kinesis serves one shard at most 2 MB/s and 5 GetRecords/s per consumer (≈ 1,950 records/s of 1 KiB), kfake has none either")
	fmt.Fprintf(&b, "- disk, measured in the same run: %.0f write(4 KiB)+fsync per second (%d in %v); every source append is one synced journal message\n\n",
		fs.Rate(), fs.N, fs.Elapsed.Round(time.Millisecond))

	fmt.Fprintln(&b, "| source | server | records filled (fill rate) | bare reader | Hydrant catch-up from launch | Hydrant ÷ bare | Hydrant ready / first records | journal messages (derived), per s | hydrant CPU | flush after catch-up |")
	fmt.Fprintln(&b, "|---|---|---|---|---|---|---|---|---|---|")
	for _, r := range rs {
		if r.err != nil && r.hydrant.done == 0 {
			fmt.Fprintf(&b, "| %s | %s %s | %s | %s | **failed**: %s | – | – | – | – | – |\n", r.source, r.server, r.version,
				fillCell(r.fill), bareCell(r.bare), strings.ReplaceAll(r.err.Error(), "|", "/"))
			continue
		}
		c := r.hydrant
		secs := c.done.Seconds()
		fmt.Fprintf(&b, "| %s | %s %s | %s | %s | %d records in %v: **%.0f records/s, %.1f MB/s** | **%.2f** | %v / %v | %d, %.1f/s | %.2f s (%.2f cores) | %v, %d records in objects |\n",
			r.source, r.server, r.version, fillCell(r.fill), bareCell(r.bare),
			c.records, ms(c.done), c.rate(), c.mbps(), c.rate()/r.bare.rate(),
			ms(c.ready), ms(c.first), r.messages, float64(r.messages)/secs,
			c.cpu.Seconds(), c.cpu.Seconds()/secs, ms(c.flushTook), c.delivered)
	}
	fmt.Fprintln(&b)
	for _, r := range rs {
		if r.messagesHow != "" {
			fmt.Fprintf(&b, "- %s journal messages: %s\n", r.server, r.messagesHow)
		}
		if r.err != nil {
			fmt.Fprintf(&b, "- %s: %v\n", r.server, r.err)
		}
	}
	return b.String()
}

func fillCell(f fillResult) string {
	if f.records == 0 {
		return "–"
	}
	return fmt.Sprintf("%d (%.0f records/s)", f.records, f.rate())
}

func bareCell(r readResult) string {
	if r.records == 0 {
		return "–"
	}
	return fmt.Sprintf("%.0f records/s, %.1f MB/s (%d calls, %v)", r.rate(), r.mbps(), r.calls, ms(r.elapsed))
}
