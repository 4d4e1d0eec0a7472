package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hydrant-dev/hydrant/pkg/producer"
	"github.com/spf13/cobra"
)

// Input formats of put-batch.
const (
	formatAuto  = "auto"
	formatLines = "lines"
	formatJSONL = "jsonl"
)

// Window limits: put-batch hands records to producer.PutRecordBatch in windows of at
// most this many records or bytes, several windows at once (--concurrency).
const (
	windowRecords = 4 * producer.MaxBatchRecords
	windowBytes   = 2 * producer.MaxBatchBytes
)

// ErrRecordsFailed is returned by put-batch when some records were not delivered.
var ErrRecordsFailed = errors.New("records not delivered")

// batchOptions are put-batch's settings.
type batchOptions struct {
	stream, file, format, failedFile, progress string
	keepNewlines                               bool
	maxTrials, concurrency                     int
}

func newPutBatch(stdout, stderr io.Writer) *cobra.Command {
	var (
		af awsFlags
		o  batchOptions
	)
	cmd := &cobra.Command{
		Use:   "put-batch",
		Short: "Send a file's lines as records with PutRecordBatch",
		Long: `Send each line of --file (- for stdin) as one record, in PutRecordBatch calls within the
service limits (500 records, 4 MiB), resending the records that failed up to --max-trials
attempts. Blank lines are skipped. Records keep their newline unless --keep-newlines=false,
since Firehose concatenates the records of an object.

--format jsonl checks that each line is JSON and stops at the first that is not; lines sends
lines as they are; auto (the default) is jsonl when the first line is JSON, else lines.

Progress goes to stderr: a bar with records/s and MB/s on a terminal, a line every 5 s
otherwise (--progress). At the end it prints sent, retried and failed counts; records that
still failed are written to --failed-file, one a line, ready to be sent again, and the
command exits non-zero.`,
		Example: `  hydrant mock-data --count 2550 > traffic.jsonl
  hydrant put-batch --delivery-stream-name logs --file traffic.jsonl --failed-file failed.jsonl`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if o.concurrency < 1 {
				return fmt.Errorf("--concurrency %d: must be at least 1", o.concurrency)
			}
			if o.maxTrials < 1 {
				return fmt.Errorf("--max-trials %d: must be at least 1", o.maxTrials)
			}
			switch o.format {
			case formatAuto, formatLines, formatJSONL:
			default:
				return fmt.Errorf("--format %q: must be lines, jsonl or auto", o.format)
			}
			start := time.Now()
			prog, err := newProgress(stderr, o.progress, start)
			if err != nil {
				return err
			}
			var in io.Reader = cmd.InOrStdin()
			var total int64
			if o.file != "-" {
				f, err := os.Open(o.file)
				if err != nil {
					return fmt.Errorf("open input: %w", err)
				}
				defer f.Close()
				if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
					total = st.Size()
				}
				in = f
			}
			var failed io.Writer
			if o.failedFile != "" {
				f, err := os.Create(o.failedFile)
				if err != nil {
					return fmt.Errorf("create failed-records file: %w", err)
				}
				defer f.Close()
				bw := bufio.NewWriter(f)
				defer bw.Flush()
				failed = bw
			}
			c, err := af.connect(ctx)
			if err != nil {
				return err
			}
			res, err := sendBatches(ctx, c.firehose(), in, total, o, prog, failed)
			elapsed := time.Since(start)
			secs := max(elapsed.Seconds(), 1e-9)
			fmt.Fprintf(stdout, "sent %d  retried %d  failed %d  (%s in %s: %.0f records/s, %.2f MB/s)\n",
				res.records, res.retried, res.failed, formatMB(res.bytes), elapsed.Round(time.Millisecond),
				float64(res.records)/secs, float64(res.bytes)/1e6/secs)
			if len(res.codes) > 0 {
				codes := make([]string, 0, len(res.codes))
				for code, n := range res.codes {
					codes = append(codes, fmt.Sprintf("%s: %d", code, n))
				}
				slices.Sort(codes)
				fmt.Fprintf(stderr, "failed records by error code: %s\n", strings.Join(codes, ", "))
				if res.example != "" {
					fmt.Fprintf(stderr, "last error: %s\n", res.example)
				}
			}
			if err != nil {
				return err
			}
			if res.failed > 0 {
				return fmt.Errorf("%d of %d: %w", res.failed, res.failed+res.records, ErrRecordsFailed)
			}
			return nil
		},
	}
	f := cmd.Flags()
	af.register(cmd)
	f.StringVar(&o.stream, "delivery-stream-name", "", "the delivery stream")
	f.StringVar(&o.file, "file", "", "input file, one record a line (- for stdin)")
	f.StringVar(&o.format, "format", formatAuto, "lines, jsonl or auto")
	f.BoolVar(&o.keepNewlines, "keep-newlines", true, "keep each line's newline in its record")
	f.IntVar(&o.maxTrials, "max-trials", producer.DefaultMaxTrials, "attempts per record including the first")
	f.IntVar(&o.concurrency, "concurrency", 4, "windows of up to 2,000 records sent at once")
	f.StringVar(&o.failedFile, "failed-file", "", "write records that were not delivered to this file")
	f.StringVar(&o.progress, "progress", progressAuto, "auto, bar, lines or off")
	_ = cmd.MarkFlagRequired("delivery-stream-name")
	_ = cmd.MarkFlagRequired("file")
	return cmd
}

// window is a run of input records sent by one producer.PutRecordBatch call.
type window struct {
	records [][]byte
	// input is the number of input bytes the window's lines took.
	input int64
}

// batchTotals is the outcome of put-batch.
type batchTotals struct {
	counts
	codes   map[string]int
	example string
}

// sendBatches reads records from in and sends them in windows, o.concurrency at once,
// drawing progress and writing records that failed to failed (when not nil).
func sendBatches(ctx context.Context, client producer.Client, in io.Reader, total int64, o batchOptions, prog *progress, failed io.Writer) (batchTotals, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	windows := make(chan window, o.concurrency)
	type outcome struct {
		w   window
		res producer.Result
		err error
	}
	outcomes := make(chan outcome, o.concurrency)

	var readErr error
	go func() {
		defer close(windows)
		readErr = readWindows(ctx, in, o.format, o.keepNewlines, windows)
	}()
	var wg sync.WaitGroup
	for range o.concurrency {
		wg.Go(func() {
			for w := range windows {
				res, err := producer.PutRecordBatch(ctx, client, o.stream, w.records, producer.Config{MaxTrials: o.maxTrials})
				outcomes <- outcome{w, res, err}
			}
		})
	}
	go func() { wg.Wait(); close(outcomes) }()

	t := batchTotals{counts: counts{total: total}, codes: map[string]int{}}
	var sendErr error
	tick := time.NewTicker(prog.interval)
	defer tick.Stop()
	for done := false; !done; {
		select {
		case oc, ok := <-outcomes:
			if !ok {
				done = true
				break
			}
			if oc.err != nil && sendErr == nil {
				sendErr = oc.err
				cancel()
			}
			t.records += int64(oc.res.Sent)
			t.retried += int64(oc.res.Retried)
			t.failed += int64(len(oc.res.Failed))
			t.input += oc.w.input
			failedSet := make(map[int]bool, len(oc.res.Failed))
			for _, f := range oc.res.Failed {
				failedSet[f.Index] = true
				t.codes[f.ErrorCode]++
				t.example = f.ErrorCode + ": " + f.ErrorMessage
				if failed != nil {
					if _, err := failed.Write(f.Data); err != nil && sendErr == nil {
						sendErr = fmt.Errorf("write failed records: %w", err)
					}
					if !bytes.HasSuffix(f.Data, []byte("\n")) {
						_, _ = failed.Write([]byte("\n"))
					}
				}
			}
			for i, r := range oc.w.records {
				if !failedSet[i] {
					t.bytes += int64(len(r))
				}
			}
			prog.update(time.Now(), t.counts)
		case now := <-tick.C:
			prog.update(now, t.counts)
		}
	}
	prog.finish(time.Now(), t.counts)
	if readErr != nil && !errors.Is(readErr, context.Canceled) {
		return t, readErr
	}
	if sendErr != nil {
		return t, sendErr
	}
	return t, ctx.Err()
}

// readWindows splits in into records, one per non-blank line, and sends them in windows
// on out. In jsonl format (or auto, when the first line is JSON) a line that is not JSON
// ends the reading with an error naming it.
func readWindows(ctx context.Context, in io.Reader, format string, keepNewlines bool, out chan<- window) error {
	br := bufio.NewReaderSize(in, 1<<20)
	var w window
	arena := make([]byte, 0, windowBytes)
	emit := func() bool {
		if len(w.records) == 0 {
			return true
		}
		select {
		case out <- w:
		case <-ctx.Done():
			return false
		}
		w = window{}
		arena = make([]byte, 0, windowBytes)
		return true
	}
	for lineNo := 1; ; lineNo++ {
		startLen := len(arena)
		var err error
		for {
			var part []byte
			part, err = br.ReadSlice('\n')
			arena = append(arena, part...)
			if err != bufio.ErrBufferFull {
				break
			}
		}
		if err != nil && err != io.EOF {
			return fmt.Errorf("read input: %w", err)
		}
		line := arena[startLen:]
		w.input += int64(len(line))
		content := bytes.TrimRight(line, "\r\n")
		if len(bytes.TrimSpace(content)) > 0 {
			if format == formatAuto {
				format = formatLines
				if json.Valid(content) {
					format = formatJSONL
				}
			}
			if format == formatJSONL && !json.Valid(content) {
				emit()
				var v any
				reason := "not JSON"
				_, col := lineCol(content, int64(len(content)))
				var se *json.SyntaxError
				if err := json.Unmarshal(content, &v); errors.As(err, &se) {
					reason = "not JSON: " + se.Error()
					_, col = lineCol(content, se.Offset)
				}
				return fmt.Errorf("line %d, column %d: %s (use --format lines to send lines as they are)", lineNo, col, reason)
			}
			rec := line
			if !keepNewlines {
				rec = content
			} else if !bytes.HasSuffix(rec, []byte("\n")) {
				arena = append(arena, '\n')
				rec = arena[startLen:]
			}
			w.records = append(w.records, rec[:len(rec):len(rec)])
		} else {
			arena = arena[:startLen]
		}
		if len(w.records) >= windowRecords || len(arena) >= windowBytes-producer.MaxRecordBytes {
			if !emit() {
				return ctx.Err()
			}
		}
		if err == io.EOF {
			if !emit() {
				return ctx.Err()
			}
			return nil
		}
	}
}
