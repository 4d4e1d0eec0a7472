package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/hydrant-dev/hydrant/bench/internal/harness"
	"github.com/hydrant-dev/hydrant/internal/delivery"
)

// gib is the memory phase's aim: peak RSS below 1 GiB.
const gib = 1 << 30

// recordedFlushPartitions is the partitions of the flushes recorded before the actor rebuild
// (~10–13.5 s, one object at a time); flushAim is the aim for them since: ≥ 4× faster.
const (
	recordedFlushPartitions = 5000
	flushAim                = 2500 * time.Millisecond
)

func render(o options, rep report, si harness.SysInfo) string {
	var b strings.Builder
	title := "dynamic partitioning by JQ"
	if rep.flush != nil || rep.lambda != nil {
		title += ", flush and Lambda batching"
	}
	fmt.Fprintf(&b, "## %s — %s\n\n", time.Now().UTC().Format("2006-01-02 15:04 UTC"), title)
	fmt.Fprintf(&b, "- host: `nproc` %s, CPU %s, %s; the load client and hydrant (and MinIO, the Lambda emulator) share the machine\n", si.NProc, si.CPU, si.GoVersion)
	fmt.Fprintf(&b, "- load average (1/5/15 min, /proc/loadavg) when the run started %s, when it ended %s; per phase below\n", rep.loadStart, rep.loadEnd)
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
		fmt.Fprintf(&b, "- delivery(jq) / delivery(plain) (the aim: ≥ 0.6 load→flush): %s on objects complete at load end (%.1f / %.1f MB/s); "+
			"%s on bytes taken into partition buffers during the load (%.1f / %.1f MB/s); %s from load start to flush answered (%.1f / %.1f MB/s)\n",
			ratio(j.deliveryMBps(), p.deliveryMBps()), j.deliveryMBps(), p.deliveryMBps(),
			ratio(j.takenMBps(), p.takenMBps()), j.takenMBps(), p.takenMBps(),
			ratio(j.sustainedMBps(), p.sustainedMBps()), j.sustainedMBps(), p.sustainedMBps())
		if p.sustainedMBps() > 0 {
			fmt.Fprintf(&b, "- aim load→flush ≥ 0.6: %s\n", metOrNot(j.sustainedMBps()/p.sustainedMBps() >= 0.6))
		}
		fmt.Fprintf(&b, "- ingest(jq) / ingest(plain): %s (%.1f / %.1f MB/s)\n", ratio(j.load.MBPerSec(), p.load.MBPerSec()), j.load.MBPerSec(), p.load.MBPerSec())
	}
	for _, r := range loads {
		if r == nil {
			continue
		}
		fmt.Fprintf(&b, "- %s: load average at load end %s; calls ok / failed / partial %d / %d / %d; latency p50 %v, p99 %v; at load end %.1f MB waited in %d open buffers (data freshness %.1f s) "+
			"and %.1f MB acknowledged were not yet taken from the journal; hydrant RSS idle %.0f MiB, at load end %.0f MiB, peak %.0f MiB\n",
			r.name, r.loadAvg, r.load.OKCalls, r.load.FailedCalls, r.load.PartialCalls, ms(r.load.Percentile(0.5)), ms(r.load.Percentile(0.99)),
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
		hc, _, oc := m.flushCores()
		fmt.Fprintf(&b, "- memory: flush of %d partitions to the local directory, writesPerStream default: %v, %.2f ms an object; hydrant %.2f cores, other processes %.2f cores during it; load average before it %s",
			m.all.objects, ms(m.flushTook), float64(m.flushTook)/float64(time.Millisecond)/float64(max(m.all.objects, 1)), hc, oc, m.loadAvg)
		if o.memCustomers == recordedFlushPartitions {
			fmt.Fprintf(&b, "; earlier runs (one object at a time) took ~10–13.5 s; the aim ≤ 2.5 s (≥ 4× faster): %s", metOrNot(m.flushTook <= flushAim))
		}
		fmt.Fprintln(&b)
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
	if len(rep.flush) > 0 {
		renderFlush(&b, o, rep.flush)
	}
	if rep.lambda != nil {
		renderLambda(&b, o, *rep.lambda)
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
	for _, f := range rep.flush {
		_, _, oc := f.flushCores()
		m = max(m, oc)
	}
	if l := rep.lambda; l != nil {
		m = max(m, l.cpuLoad.others().Seconds()/l.loadTook.Seconds())
	}
	return m
}

func metOrNot(ok bool) string {
	if ok {
		return "met"
	}
	return "**not met**"
}

// renderFlush writes the flush phase's table and its ratios: writesPerStream 1 ÷ default per
// target and round, the runs of a round measured one after the other.
func renderFlush(b *strings.Builder, o options, runs []memResult) {
	fmt.Fprintln(b)
	fmt.Fprintf(b, "Flush of %d partitions (the memory phase's load: %d MB of %d B records, maxActivePartitions %d, IntervalInSeconds %d, nothing written before the flush), "+
		"each run on a fresh hydrant (and a fresh MinIO for s3: `hydrant serve` with AWS_ENDPOINT_URL_S3 and the root user's keys, bucket created first); "+
		"writesPerStream 1 (config file) writes one object at a time as the engine before the actor rebuild did, the default %s; "+
		"flush = POST /_hydrant/flush until it answered; every object read back and checked afterwards:\n\n",
		o.memCustomers, o.memMB, o.recordBytes, o.memCustomers, o.memIntervalS, fmt.Sprintf("%d in flight", delivery.DefaultWritesPerStream))
	fmt.Fprintln(b, "| round | target | writesPerStream | flush | objects | ms an object | cores during the flush: hydrant / MinIO / other processes | load average before the flush | delivered = acked |")
	fmt.Fprintln(b, "|---|---|---|---|---|---|---|---|---|")
	for _, r := range runs {
		w := fmt.Sprintf("default (%d)", delivery.DefaultWritesPerStream)
		if r.writes > 0 {
			w = fmt.Sprint(r.writes)
		}
		mc := "–"
		hc, mcores, oc := r.flushCores()
		if r.target == targetS3 {
			mc = fmt.Sprintf("%.2f", mcores)
		}
		ok := "yes"
		if len(r.problems()) > 0 {
			ok = "**NO**"
		}
		fmt.Fprintf(b, "| %d | %s | %s | %v | %d | %.2f | %.2f / %s / %.2f | %s | %s: %d B, %d records |\n",
			r.round, r.target, w, ms(r.flushTook), r.all.objects, float64(r.flushTook)/float64(time.Millisecond)/float64(max(r.all.objects, 1)),
			hc, mc, oc, r.loadAvg, ok, r.all.bytes, r.all.records)
	}
	fmt.Fprintln(b)
	best := map[string][2]time.Duration{} // target → best of writes 1, best of default
	for _, t := range o.flushTargets {
		for round := 1; round <= o.flushRounds; round++ {
			var one, def *memResult
			for i := range runs {
				r := &runs[i]
				if r.target == t && r.round == round {
					if r.writes == 1 {
						one = r
					} else {
						def = r
					}
				}
			}
			if one == nil || def == nil {
				continue
			}
			bt := best[t]
			if bt[0] == 0 || one.flushTook < bt[0] {
				bt[0] = one.flushTook
			}
			if bt[1] == 0 || def.flushTook < bt[1] {
				bt[1] = def.flushTook
			}
			best[t] = bt
			fmt.Fprintf(b, "- %s, round %d: writesPerStream 1 ÷ default = %.2f× (%v / %v)\n", t, round,
				one.flushTook.Seconds()/def.flushTook.Seconds(), ms(one.flushTook), ms(def.flushTook))
		}
		if bt, ok := best[t]; ok && o.flushRounds > 1 {
			fmt.Fprintf(b, "- %s, best of %d rounds: writesPerStream 1 ÷ default = %.2f× (%v / %v)\n", t, o.flushRounds,
				bt[0].Seconds()/bt[1].Seconds(), ms(bt[0]), ms(bt[1]))
		}
	}
	if bt, ok := best[targetLocal]; ok && o.memCustomers == recordedFlushPartitions {
		fmt.Fprintf(b, "- local, default, best: %v against the ~10–13.5 s recorded before the rebuild (the aim ≤ 2.5 s, ≥ 4× faster): %.1f× to %.1f× faster, %s\n",
			ms(bt[1]), 10/bt[1].Seconds(), 13.5/bt[1].Seconds(), metOrNot(bt[1] <= flushAim))
	}
	for _, r := range runs {
		n := int64(r.all.objects)
		if first := r.firstAt(1); first > 0 {
			fmt.Fprintf(b, "- %s: objects written (delivery status, polled every 50 ms) — first by %v, half by %v, all by %v; flush answered %v\n",
				r.name(), ms(first), ms(r.firstAt((n+1)/2)), ms(r.firstAt(n)), ms(r.flushTook))
		}
	}
	for _, r := range runs {
		if r.cpuProfile != "" {
			if r.cpuProfErr != nil {
				fmt.Fprintf(b, "- %s: CPU profile failed: %v\n", r.name(), r.cpuProfErr)
			} else {
				fmt.Fprintf(b, "- %s: CPU profile of hydrant, %d s from the flush's start: %s\n", r.name(), o.flushProfileS, r.cpuProfile)
			}
		}
		for _, p := range r.problems() {
			fmt.Fprintf(b, "- VERIFICATION FAILED: %s\n", p)
		}
	}
}

// renderLambda writes the lambda phase's table.
func renderLambda(b *strings.Builder, o options, r lambdaResult) {
	fmt.Fprintln(b)
	interval := "unset (default 60)"
	if o.lambdaIntervalS > 0 {
		interval = fmt.Sprint(o.lambdaIntervalS)
	}
	fmt.Fprintf(b, "Lambda batching: %d single-record PutRecord calls (aws-sdk-go-v2, %d clients; records %d..%d B, JSON lines) into a stream with a Lambda processor, "+
		"BufferSizeInMBs %g, BufferIntervalInSeconds %s, SizeInMBs %d, IntervalInSeconds %d, delivery to the local directory; "+
		"the function (in this process, behind examples/lambda/emulator's Invoke API: `lambda: {endpoint, anonymous: true}` in the config file) returns every record Ok and unchanged, and counts its invocations; then a flush:\n\n",
		r.records, r.clients, o.lambdaMinBytes, o.lambdaMaxBytes, o.lambdaBufferMB, interval, o.sizeMB, o.intervalS)
	fmt.Fprintln(b, "| PutRecord calls ok / failed | load | flush after the load | load→flush | invocations (when the load ended) | records per invocation: mean / min / max | payload per invocation | delivered = acked |")
	fmt.Fprintln(b, "|---|---|---|---|---|---|---|---|")
	n := len(r.invs)
	mean, lo, hi := 0.0, 0, 0
	if n > 0 {
		mean = float64(r.invokedRecords()) / float64(n)
		lo, hi = r.invs[0].records, r.invs[0].records
		for _, v := range r.invs {
			lo, hi = min(lo, v.records), max(hi, v.records)
		}
	}
	ok := "yes"
	if len(r.problems()) > 0 {
		ok = "**NO**"
	}
	fmt.Fprintf(b, "| %d / %d | %v (%.0f calls/s) | %v | %v | %d (%d) | %.0f / %d / %d | %.2f MB | %s: %d B, %d records |\n",
		r.acked, r.failed, ms(r.loadTook), float64(r.acked)/r.loadTook.Seconds(), ms(r.flushTook), ms(r.total()), n, r.atLoadEnd,
		mean, lo, hi, float64(r.payload)/1e6/float64(max(r.requests, 1)), ok, r.deliveredBytes, r.delivered)
	fmt.Fprintln(b)
	fmt.Fprintf(b, "- lambda: %d Invoke API requests carried %.1f MB (records base64 in JSON) for %d records (%d invoked, retries included) of %.1f MB; "+
		"the aim, tens of invocations rather than one per put: %s (%d invocations for %d puts)\n",
		r.requests, float64(r.payload)/1e6, r.acked, r.invokedRecords(), float64(r.ackedBytes)/1e6, metOrNot(n > 0 && n < 100), n, r.acked)
	fmt.Fprintf(b, "- lambda: PutRecord latency p50 %v, p99 %v; hydrant %.2f cores, client %.2f, other processes %.2f cores during the load; load average at load end %s; "+
		"%d objects; failedRecords %d\n",
		ms(percentile(r.latencies, 0.5)), ms(percentile(r.latencies, 0.99)),
		r.cpuLoad.hydrant.Seconds()/r.loadTook.Seconds(), r.cpuLoad.client.Seconds()/r.loadTook.Seconds(), r.cpuLoad.others().Seconds()/r.loadTook.Seconds(),
		r.loadAvg, r.objects, r.statusAfter.FailedRecords)
	if n > 0 && n <= 100 {
		var parts []string
		for _, v := range r.invs {
			parts = append(parts, fmt.Sprintf("%d (%.2f MB, at %.1f s)", v.records, float64(v.bytes)/1e6, v.at.Sub(r.start).Seconds()))
		}
		fmt.Fprintf(b, "- lambda: records per invocation in order (their record bytes, time from the load's start): %s\n", strings.Join(parts, ", "))
	}
	if r.firstErr != nil {
		fmt.Fprintf(b, "- lambda: first PutRecord error: %v\n", r.firstErr)
	}
	for _, p := range r.problems() {
		fmt.Fprintf(b, "- VERIFICATION FAILED: %s\n", p)
	}
}

// percentile returns the p-quantile (0..1) of sorted durations.
func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	i := int(p*float64(len(d))+0.5) - 1
	return d[min(max(i, 0), len(d)-1)]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }
