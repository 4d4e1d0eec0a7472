package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/hydrant-dev/hydrant/bench/internal/harness"
)

// gib is the memory phase's aim: peak RSS below 1 GiB.
const gib = 1 << 30

func render(o options, rep report, si harness.SysInfo) string {
	var b strings.Builder
	fmt.Fprintf(&b, "## %s — dynamic partitioning by JQ\n\n", time.Now().UTC().Format("2006-01-02 15:04 UTC"))
	fmt.Fprintf(&b, "- host: `nproc` %s, CPU %s, %s; the load client and hydrant share the machine\n", si.NProc, si.CPU, si.GoVersion)
	if o.hydrantBin != "" {
		fmt.Fprintf(&b, "- hydrant binary %s (-hydrant-bin; the working tree is at %s)\n", o.hydrantBin, si.Rev)
	} else {
		fmt.Fprintf(&b, "- hydrant revision %s\n", si.Rev)
	}
	fmt.Fprintf(&b, "- load (`go run ./bench/partition`): pre-encoded PutRecordBatch bodies of %d JSON events × %d B, each with a `customer_id`, %d concurrent clients; "+
		"each client's body covers %d customers and the bodies differ; every phase on a fresh server and data directory, delivery to the local directory\n",
		o.records, o.recordBytes, o.concurrency, o.records)
	fmt.Fprintf(&b, "- plain: no processing or partitioning, SizeInMBs %d, IntervalInSeconds %d, %v of load. "+
		"jq: the same load and hints, records over %d customer ids, MetadataExtraction `%s` (JQ-1.6), Prefix `%s`, ErrorOutputPrefix `%s`, maxActivePartitions %d (config file)\n",
		o.sizeMB, o.intervalS, o.duration, o.customers, metadataQuery, partitionPrefix, errorOutputPrefix, o.customers)
	fmt.Fprintf(&b, "- MB = 10^6 bytes of record data. Delivery MB/s = record bytes in objects complete when the load ended ÷ load time; "+
		"taken = record bytes the delivery worker had put into buffers or objects when the load ended (delivery status `bytes` + `bufferedBytes`) ÷ load time; "+
		"load→flush = every acknowledged byte ÷ (load start → flush answered)\n\n")

	loads := []*loadResult{rep.plain, rep.jq}
	if rep.plain != nil || rep.jq != nil {
		fmt.Fprintln(&b, "| phase | customers / maxActivePartitions | ingest MB/s | delivery MB/s during load (objects at load end) | taken MB/s during load | end to end with flush | load→flush MB/s | hydrant RSS peak | delivered = acked |")
		fmt.Fprintln(&b, "|---|---|---|---|---|---|---|---|---|")
		for _, r := range loads {
			if r == nil {
				continue
			}
			parts := fmt.Sprintf("– / %d (not partitioned)", r.maxPartitions)
			if r.dynamic {
				parts = fmt.Sprintf("%d / %d", r.customers, r.maxPartitions)
			}
			ok := "yes"
			if len(r.problems()) > 0 {
				ok = "**NO**"
			}
			fmt.Fprintf(&b, "| %s | %s | %.1f | %.1f (%d objects, %.1f of %.1f MB) | %.1f | %v | %.1f | %.0f MiB | %s: %d B, %d records |\n",
				r.name, parts, r.load.MBPerSec(), r.deliveryMBps(), r.atEndObjects, float64(r.atEndBytes)/1e6, float64(r.load.AckedBytes)/1e6,
				r.takenMBps(), ms(r.flushTook), r.sustainedMBps(), mib(r.after.peak), ok, r.all.bytes, r.all.records)
		}
		fmt.Fprintln(&b)
		fmt.Fprintln(&b, "CPU (utime+stime from /proc/PID/stat); cores = CPU s ÷ wall s during the load; s/GB from the load's start to the flush's answer:")
		fmt.Fprintln(&b)
		fmt.Fprintln(&b, "| phase | hydrant CPU s/GB | client CPU s/GB | cores during load: hydrant / client / other processes |")
		fmt.Fprintln(&b, "|---|---|---|---|")
		for _, r := range loads {
			if r == nil {
				continue
			}
			gb, secs := float64(r.all.bytes)/1e9, r.load.Elapsed.Seconds()
			fmt.Fprintf(&b, "| %s | %.1f | %.1f | %.2f / %.2f / %.2f |\n", r.name, r.cpuTotal.hydrant.Seconds()/gb, r.cpuTotal.client.Seconds()/gb,
				r.cpuLoad.hydrant.Seconds()/secs, r.cpuLoad.client.Seconds()/secs, r.cpuLoad.others().Seconds()/secs)
		}
		fmt.Fprintln(&b)
	}
	if p, j := rep.plain, rep.jq; p != nil && j != nil {
		ratio := func(a, b float64) string {
			if b <= 0 {
				return "–"
			}
			return fmt.Sprintf("%.2f", a/b)
		}
		fmt.Fprintf(&b, "- delivery(jq) / delivery(plain) (the aim: ≥ 0.5): %s on objects complete at load end (%.1f / %.1f MB/s); "+
			"%s on bytes taken into partition buffers during the load (%.1f / %.1f MB/s); %s from load start to flush answered (%.1f / %.1f MB/s)\n",
			ratio(j.deliveryMBps(), p.deliveryMBps()), j.deliveryMBps(), p.deliveryMBps(),
			ratio(j.takenMBps(), p.takenMBps()), j.takenMBps(), p.takenMBps(),
			ratio(j.sustainedMBps(), p.sustainedMBps()), j.sustainedMBps(), p.sustainedMBps())
		fmt.Fprintf(&b, "- ingest(jq) / ingest(plain): %s (%.1f / %.1f MB/s)\n", ratio(j.load.MBPerSec(), p.load.MBPerSec()), j.load.MBPerSec(), p.load.MBPerSec())
	}
	for _, r := range loads {
		if r == nil {
			continue
		}
		fmt.Fprintf(&b, "- %s: calls ok / failed / partial %d / %d / %d; latency p50 %v, p99 %v; at load end %.1f MB waited in %d open buffers (data freshness %.1f s) "+
			"and %.1f MB acknowledged were not yet taken from the journal; hydrant RSS idle %.0f MiB, at load end %.0f MiB, peak %.0f MiB\n",
			r.name, r.load.OKCalls, r.load.FailedCalls, r.load.PartialCalls, ms(r.load.Percentile(0.5)), ms(r.load.Percentile(0.99)),
			float64(r.statusAtEnd.BufferedBytes)/1e6, max(r.statusAtEnd.Partitions, 1), r.statusAtEnd.DataFreshnessSeconds,
			float64(max(r.load.AckedBytes-r.statusAtEnd.Bytes-r.statusAtEnd.BufferedBytes, 0))/1e6,
			mib(r.idle.current), mib(r.atEnd.current), mib(r.after.peak))
		if r.dynamic {
			fmt.Fprintf(&b, "- %s checks: %d objects in %d partition directories (want %d); error output %d objects, failedRecords %d, partitionLimitHits %d; "+
				"every record's length and customer_id checked (%d in another customer's directory); %d objects (%d records) parsed and compared with what was sent, %d differ\n",
				r.name, r.all.objects, len(r.all.partitions), r.customers, r.all.errorFiles, r.statusAfter.FailedRecords, r.statusAfter.PartitionLimitHits,
				r.all.misplaced, r.all.sampled, r.all.sampledRecs, r.all.sampleBad)
		} else {
			fmt.Fprintf(&b, "- %s checks: %d objects, every record's length checked (%d wrong); %d objects (%d records) parsed and compared with what was sent, %d differ\n",
				r.name, r.all.objects, r.all.badLength, r.all.sampled, r.all.sampledRecs, r.all.sampleBad)
		}
		if r.load.FirstErr != nil {
			fmt.Fprintf(&b, "- %s call errors %v; first: %v\n", r.name, r.load.ErrorsByClass, r.load.FirstErr)
		}
		if r.profile != "" {
			if r.profileErr != nil {
				fmt.Fprintf(&b, "- %s CPU profile failed: %v\n", r.name, r.profileErr)
			} else {
				fmt.Fprintf(&b, "- %s CPU profile of hydrant during the load: %s\n", r.name, r.profile)
			}
		}
		for _, p := range r.problems() {
			fmt.Fprintf(&b, "- VERIFICATION FAILED: %s\n", p)
		}
	}

	if m := rep.mem; m != nil {
		fmt.Fprintln(&b)
		fmt.Fprintf(&b, "Memory with %d active partitions: the jq stream's settings with maxActivePartitions %d and IntervalInSeconds %d, so no buffer is written by size or time until the flush; "+
			"%d bodies per client so that every customer is sent; RSS from /proc/PID/status once the delivery status shows every acknowledged record buffered (the aim: peak < 1 GiB):\n\n",
			m.customers, m.customers, o.memIntervalS, m.bodies)
		fmt.Fprintln(&b, "| active partitions (status) | records / MB acknowledged | buffered when read | RSS idle | peak RSS (VmHWM) | current RSS | flush | RSS after flush | delivered = acked |")
		fmt.Fprintln(&b, "|---|---|---|---|---|---|---|---|---|")
		ok := "yes"
		if len(m.problems()) > 0 {
			ok = "**NO**"
		}
		aim := ""
		if m.full.peak >= gib {
			aim = " (**above 1 GiB**)"
		}
		fmt.Fprintf(&b, "| %d | %d / %.1f | %.1f MB, %v after the load | %.0f MiB | %.0f MiB%s | %.0f MiB | %v | %.0f MiB (peak %.0f MiB) | %s: %d B, %d records |\n",
			m.status.Partitions, m.load.AckedRecords, float64(m.load.AckedBytes)/1e6, float64(m.status.BufferedBytes)/1e6, ms(m.caughtUp),
			mib(m.idle.current), mib(m.full.peak), aim, mib(m.full.current), ms(m.flushTook), mib(m.after.current), mib(m.after.peak), ok, m.all.bytes, m.all.records)
		fmt.Fprintln(&b)
		fmt.Fprintf(&b, "- memory: load %v at %.1f MB/s, calls ok / failed / partial %d / %d / %d; hydrant %.2f cores, other processes %.2f cores during it; "+
			"%d objects in %d partition directories after the flush, error output %d objects, partitionLimitHits %d; %d objects (%d records) compared with what was sent, %d differ\n",
			m.load.Elapsed.Round(time.Millisecond), m.load.MBPerSec(), m.load.OKCalls, m.load.FailedCalls, m.load.PartialCalls,
			m.cpuLoad.hydrant.Seconds()/m.load.Elapsed.Seconds(), m.cpuLoad.others().Seconds()/m.load.Elapsed.Seconds(),
			m.all.objects, len(m.all.partitions), m.all.errorFiles, m.status.PartitionLimitHits, m.all.sampled, m.all.sampledRecs, m.all.sampleBad)
		if m.heapProfile != "" {
			if m.heapErr != nil {
				fmt.Fprintf(&b, "- memory heap profile failed: %v\n", m.heapErr)
			} else {
				fmt.Fprintf(&b, "- memory: heap profile of hydrant with every partition holding data: %s\n", m.heapProfile)
			}
		}
		for _, p := range m.problems() {
			fmt.Fprintf(&b, "- VERIFICATION FAILED: %s\n", p)
		}
	}
	if busy := otherCores(rep); busy > 0.2 {
		fmt.Fprintf(&b, "- **other processes used up to %.2f cores during a load: the machine was not quiet and these numbers understate it**\n", busy)
	}
	return b.String()
}

// otherCores is the most cores processes other than the benchmark's used during a load.
func otherCores(rep report) float64 {
	var m float64
	for _, r := range []*loadResult{rep.plain, rep.jq} {
		if r != nil {
			m = max(m, r.cpuLoad.others().Seconds()/r.load.Elapsed.Seconds())
		}
	}
	if rep.mem != nil {
		m = max(m, rep.mem.cpuLoad.others().Seconds()/rep.mem.load.Elapsed.Seconds())
	}
	return m
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }
