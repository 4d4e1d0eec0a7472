package main

import (
	"fmt"
	"strings"
	"time"
)

func render(o options, base baseline, rs []formatResult, si sysInfo) string {
	var b strings.Builder
	fmt.Fprintf(&b, "## %s — S3 delivery to MinIO\n\n", time.Now().UTC().Format("2006-01-02 15:04 UTC"))
	fmt.Fprintf(&b, "- host: `nproc` %s, CPU %s, %s; the load client, hydrant and MinIO share the machine\n", si.NProc, si.CPU, si.GoVersion)
	rev := "hydrant revision " + si.Rev
	if o.hydrantBin != "" {
		rev = fmt.Sprintf("hydrant binary %s (-hydrant-bin; the working tree is at %s)", o.hydrantBin, si.Rev)
	}
	fmt.Fprintf(&b, "- %s; MinIO %s (single drive, fresh directory per format)\n", rev, si.minio)
	fmt.Fprintf(&b, "- load: pre-encoded PutRecordBatch bodies, %d JSON web-log lines × %d B, %d concurrent clients, %v per format; "+
		"streams SizeInMBs %d, IntervalInSeconds %d; `hydrant serve` with AWS_ENDPOINT_URL_S3 → MinIO (UNSIGNED-PAYLOAD + CRC32 over http)\n",
		o.records, o.recordBytes, o.concurrency, o.duration, o.sizeMB, o.intervalS)
	fmt.Fprintf(&b, "- MB = 10^6 bytes of record data (decompressed). Delivery MB/s = record bytes in objects complete when the load ended ÷ load time. "+
		"Every object is read back (GZIP decompressed) and checked to be whole %d B records\n\n", o.recordBytes)

	fmt.Fprintf(&b, "Machine baseline, measured first in the same run (%d MiB objects of the load's records):\n\n", o.baselineMB)
	fmt.Fprintln(&b, "| baseline | MB/s | detail |")
	fmt.Fprintln(&b, "|---|---|---|")
	for _, g := range base.gzip {
		fmt.Fprintf(&b, "| gzip, default level (internal/compress): %s | %.1f | ratio %.2f, %d objects in %v; other processes %.2f cores |\n",
			g.name, g.mbps, g.ratio, g.objects, g.elapsed.Round(time.Millisecond), g.others.Seconds()/g.elapsed.Seconds())
	}
	for _, p := range base.put {
		fmt.Fprintf(&b, "| MinIO: %s | %.1f | %d objects in %v |\n", p.name, p.mbps(), p.objects, p.elapsed.Round(time.Millisecond))
	}

	fmt.Fprintln(&b)
	fmt.Fprintln(&b, "| format | ingest MB/s | delivery MB/s (of ingest) | in objects at load end | after-load drain | end to end, flush | end to end, no flush | objects, avg stored / records | ratio | delivered = acked |")
	fmt.Fprintln(&b, "|---|---|---|---|---|---|---|---|---|---|")
	for _, r := range rs {
		secs := r.load.Elapsed.Seconds()
		deliv := float64(r.atEnd.bytes) / 1e6 / secs
		backlog := r.load.AckedBytes - r.atEnd.bytes
		drain := "–"
		if backlog > 0 && r.flushTook > 0 {
			drain = fmt.Sprintf("%.1f MB in %v = %.1f MB/s", float64(backlog)/1e6, ms(r.flushTook), float64(backlog)/1e6/r.flushTook.Seconds())
		}
		natural := "skipped"
		if r.natural.Elapsed > 0 {
			natural = fmt.Sprintf("%v (%.0f MB load of %v)", ms(r.naturalTook), float64(r.natural.AckedBytes)/1e6, r.natural.Elapsed.Round(time.Millisecond))
		}
		ratio := "–"
		if r.gzip() && r.all.stored > 0 {
			ratio = fmt.Sprintf("%.2f", float64(r.all.bytes)/float64(r.all.stored))
		}
		ok := "yes"
		if len(r.problems()) > 0 {
			ok = "**NO**"
		}
		fmt.Fprintf(&b, "| %s | %.1f | %.1f (%.0f%%) | %d objects, %.1f of %.1f MB | %s | %v | %s | %d, %.1f MiB / %.1f MiB | %s | %s: %d B, %d records |\n",
			r.format, r.load.MBPerSec(), deliv, 100*deliv/max(r.load.MBPerSec(), 1e-9),
			r.atEnd.objects, float64(r.atEnd.bytes)/1e6, float64(r.load.AckedBytes)/1e6, drain,
			ms(r.flushTook), natural, r.all.objects, mib(r.all.stored, r.all.objects), mib(r.all.bytes, r.all.objects), ratio,
			ok, r.all.bytes, r.all.records)
	}

	fmt.Fprintln(&b)
	fmt.Fprintln(&b, "CPU (utime+stime from /proc/PID/stat), per GB (10^9 B) of record data delivered, from the load's start to the flush's answer; cores = CPU s ÷ wall s during the load:")
	fmt.Fprintln(&b)
	fmt.Fprintln(&b, "| format | hydrant CPU s/GB | MinIO CPU s/GB | client CPU s/GB | cores during load: hydrant / MinIO / client / other processes |")
	fmt.Fprintln(&b, "|---|---|---|---|---|")
	for _, r := range rs {
		gb := float64(r.all.bytes) / 1e9
		secs := r.load.Elapsed.Seconds()
		fmt.Fprintf(&b, "| %s | %.1f | %.1f | %.1f | %.2f / %.2f / %.2f / %.2f |\n", r.format,
			r.cpuTotal.hydrant.Seconds()/gb, r.cpuTotal.minio.Seconds()/gb, r.cpuTotal.client.Seconds()/gb,
			r.cpuLoad.hydrant.Seconds()/secs, r.cpuLoad.minio.Seconds()/secs, r.cpuLoad.client.Seconds()/secs, r.cpuLoad.others().Seconds()/secs)
	}

	fmt.Fprintln(&b)
	if busy := otherCores(base, rs); busy > 0.2 {
		fmt.Fprintf(&b, "- **other processes used up to %.2f cores during a measurement: the machine was not quiet and these numbers understate it**\n", busy)
	}
	par := base.parallelGzip()
	for _, r := range rs {
		deliv := float64(r.atEnd.bytes) / 1e6 / r.load.Elapsed.Seconds()
		if r.gzip() {
			fmt.Fprintf(&b, "- GZIP delivery %.1f MB/s = %.0f%% of what the machine's cores gzip on their own (%s: %.1f MB/s); the aim is ≥ 80%%. "+
				"The load client, ingest and MinIO share those cores during the load.\n", deliv, 100*deliv/par.mbps, par.name, par.mbps)
		} else {
			fmt.Fprintf(&b, "- %s delivery %.1f MB/s against ingest %.1f MB/s: %.0f%%; %.1f MB acknowledged but not yet in objects when the load ended\n",
				r.format, deliv, r.load.MBPerSec(), 100*deliv/max(r.load.MBPerSec(), 1e-9), float64(r.load.AckedBytes-r.atEnd.bytes)/1e6)
		}
	}
	for _, r := range rs {
		fmt.Fprintf(&b, "- %s: hydrant's peak resident memory (VmHWM) from its start to the flush's answer: %.0f MiB (issue 11's aim for one GZIP stream at full speed: ≤ 256 MiB)\n",
			r.format, float64(r.peakRSS)/(1<<20))
	}
	for _, r := range rs {
		fmt.Fprintf(&b, "- %s calls ok / failed / partial %d / %d / %d; latency p50 %v, p99 %v, max %v; listing at load end took %v\n",
			r.format, r.load.OKCalls, r.load.FailedCalls, r.load.PartialCalls, ms(r.load.Percentile(0.5)), ms(r.load.Percentile(0.99)), ms(r.load.Percentile(1)), ms(r.listTook))
		if r.load.FirstErr != nil {
			fmt.Fprintf(&b, "- %s call errors %v; first: %v\n", r.format, r.load.ErrorsByClass, r.load.FirstErr)
		}
		for _, p := range r.problems() {
			fmt.Fprintf(&b, "- VERIFICATION FAILED: %s\n", p)
		}
	}
	return b.String()
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }

// mib is the average of total over n, in MiB.
func mib(total int64, n int) float64 {
	if n == 0 {
		return 0
	}
	return float64(total) / float64(n) / (1 << 20)
}

// otherCores is the most cores processes other than the benchmark's used during a gzip
// baseline or a load.
func otherCores(base baseline, rs []formatResult) float64 {
	var m float64
	for _, g := range base.gzip {
		m = max(m, g.others.Seconds()/g.elapsed.Seconds())
	}
	for _, r := range rs {
		m = max(m, r.cpuLoad.others().Seconds()/r.load.Elapsed.Seconds())
	}
	return m
}
