package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/hydrant-dev/hydrant/bench/internal/harness"
)

// render formats the results as a dated markdown section.
func render(o options, info harness.SysInfo, fs harness.Fsyncs, single, cluster []measured) string {
	var b strings.Builder
	ms := func(d time.Duration) string { return fmt.Sprintf("%.1f", float64(d.Microseconds())/1000) }
	fmt.Fprintf(&b, "## %s — cluster ingest: 3 nodes (R3) on one machine against one node\n\n", time.Now().UTC().Format("2006-01-02 15:04 UTC"))
	fmt.Fprintf(&b, "- host: `nproc` %s, CPU %s, %s; the clients and every hydrant process share the machine and one disk\n", info.NProc, info.CPU, info.GoVersion)
	fmt.Fprintf(&b, "- hydrant revision %s; run with `bench/run-cluster.sh`\n", info.Rev)
	fmt.Fprintf(&b, "- method: %d clients, each its own aws-sdk-go-v2 client (SDK retries off, UNSIGNED-PAYLOAD), send PutRecordBatch of %d × %d B records for %v or %d records, whichever first; client g goes to node g mod nodes and stream (g + g div nodes) mod streams, so every stream takes puts on two or three nodes; *pinned*: stream g mod streams, so each stream takes puts on one node only. Streams: ExtendedS3 to the local object store, BufferingHints %d MB / %d s, UNCOMPRESSED, so the journal (synced appends) and its replication are what is measured. Single: one `hydrant serve` (no routes). Cluster: three `hydrant serve --node nK --cluster-listen … --routes …` on loopback, replicas 3 (every acknowledged put stored by 2 of 3, each synced). After each load every stream is flushed at once (POST /_hydrant/flush through a node other than the stream's first client's; forwarded to the owner) and the bytes in objects are summed over the nodes' data directories\n",
		o.concurrency, o.records, o.recordBytes, o.duration, o.maxRecords, o.sizeMB, o.intervalS)
	fmt.Fprintf(&b, "- **caveat:** the three nodes share these %s cores and one disk, so the cluster cannot be faster than one node here: each node stores every byte and two of them also receive it over a route. The ratios are the replication cost on one machine, not the scaling of a cluster of machines\n", info.NProc)
	fmt.Fprintf(&b, "- disk, measured in the same run: %.0f write(4 KiB)+fsync per second (%d in %v)\n", fs.Rate(), fs.N, fs.Elapsed.Round(time.Millisecond))
	fmt.Fprintf(&b, "- MB = 10^6 bytes of record data; CPU s/GB = CPU seconds (utime+stime of /proc/PID/stat) during the load per 10^9 acknowledged bytes\n\n")

	fmt.Fprintf(&b, "| configuration | records/s | MB/s | p50 / p99 ms | calls ok / failed / partial | hydrant CPU s/GB per process | hydrant CPU s/GB, all | hydrant cores | client CPU s/GB | load end → all in objects | bytes in objects ÷ acknowledged |\n")
	fmt.Fprintf(&b, "|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, m := range append(append([]measured{}, single...), cluster...) {
		l := m.load
		var per []string
		for i, c := range m.cpu {
			per = append(per, fmt.Sprintf("%s %.1f", m.nodes[i], m.cpuPerGB(c)))
		}
		flush := m.flushTook.Round(time.Millisecond).String()
		if m.flushErr != nil {
			flush += " (flush failed)"
		}
		ratio := "–"
		if l.AckedBytes > 0 {
			ratio = fmt.Sprintf("%.3f", float64(m.delivered)/float64(l.AckedBytes))
		}
		fmt.Fprintf(&b, "| %s | %.0f | %.1f | %s / %s | %d / %d / %d | %s | %.1f | %.2f | %.1f | %s | %s |\n",
			m.name, l.RecordsPerSec(), l.MBPerSec(), ms(l.Percentile(0.5)), ms(l.Percentile(0.99)),
			l.OKCalls, l.FailedCalls, l.PartialCalls, strings.Join(per, ", "), m.cpuPerGB(m.totalCPU()),
			m.totalCPU().Seconds()/l.Elapsed.Seconds(), m.cpuPerGB(m.client), flush, ratio)
	}
	fmt.Fprintln(&b)
	for _, c := range cluster {
		s := single[0]
		if len(c.streams) > 1 {
			s = single[len(single)-1]
		}
		fmt.Fprintf(&b, "- **%s ÷ %s**: records/s %s, p50 %s, p99 %s, hydrant CPU s/GB (all processes) %s\n", c.name, s.name,
			ratio(c.load.RecordsPerSec(), s.load.RecordsPerSec()),
			ratio(c.load.Percentile(0.5).Seconds(), s.load.Percentile(0.5).Seconds()),
			ratio(c.load.Percentile(0.99).Seconds(), s.load.Percentile(0.99).Seconds()),
			ratio(c.cpuPerGB(c.totalCPU()), s.cpuPerGB(s.totalCPU())))
	}
	for _, c := range cluster {
		var ss []string
		for _, s := range c.streams {
			moved := ""
			if s.leaderAfter != s.leaderBefore {
				moved = fmt.Sprintf(" (leader changed to %s during the load)", s.leaderAfter)
			}
			ss = append(ss, fmt.Sprintf("%s on shard %d led by %s%s, delivered by %s", s.name, s.shard, s.leaderBefore, moved, s.owner))
		}
		var reqs []string
		for i, n := range c.perNodeReq {
			p := c.perNode[i]
			reqs = append(reqs, fmt.Sprintf("%s %d (%.1f MB/s, p50 %s ms, p99 %s ms)", c.nodes[i], n, p.MBPerSec(), ms(p.Percentile(0.5)), ms(p.Percentile(0.99))))
		}
		fmt.Fprintf(&b, "- %s: %s; calls sent to each node's clients %s\n", c.name, strings.Join(ss, "; "), strings.Join(reqs, ", "))
	}
	for _, m := range append(append([]measured{}, single...), cluster...) {
		if m.load.FirstErr != nil {
			fmt.Fprintf(&b, "- %s: errors %v, first: %v\n", m.name, m.load.ErrorsByClass, m.load.FirstErr)
		}
		if m.flushErr != nil {
			fmt.Fprintf(&b, "- %s: flush: %v\n", m.name, m.flushErr)
		}
	}
	return b.String()
}

func ratio(a, b float64) string {
	if b == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f", a/b)
}
