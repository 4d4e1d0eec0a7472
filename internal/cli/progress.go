package cli

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// Progress display modes of put-batch.
const (
	progressAuto  = "auto"
	progressBar   = "bar"
	progressLines = "lines"
	progressOff   = "off"
)

// isTerminal reports whether w is a character device (a terminal), without x/term.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// counts are the running totals that a progress display shows.
type counts struct {
	records, bytes, retried, failed int64
	// input is the number of input bytes whose records are done; total is the input's
	// size, zero when unknown (a pipe).
	input, total int64
}

// progress draws counts on w: a bar rewritten in place (a terminal), or a line per
// interval (a log).
type progress struct {
	w        io.Writer
	mode     string
	start    time.Time
	interval time.Duration
	last     time.Time
}

func newProgress(w io.Writer, mode string, start time.Time) (*progress, error) {
	switch mode {
	case progressAuto:
		mode = progressLines
		if isTerminal(w) {
			mode = progressBar
		}
	case progressBar, progressLines, progressOff:
	default:
		return nil, fmt.Errorf("--progress %q: must be auto, bar, lines or off", mode)
	}
	p := &progress{w: w, mode: mode, start: start, last: start, interval: 5 * time.Second}
	if mode == progressBar {
		p.interval = 200 * time.Millisecond
	}
	return p, nil
}

// update redraws if the interval has passed since the last drawing.
func (p *progress) update(now time.Time, c counts) {
	if p.mode == progressOff || now.Sub(p.last) < p.interval {
		return
	}
	p.last = now
	p.draw(now, c)
}

// finish draws the final state and ends the bar's line.
func (p *progress) finish(now time.Time, c counts) {
	if p.mode == progressOff {
		return
	}
	p.draw(now, c)
	if p.mode == progressBar {
		fmt.Fprintln(p.w)
	}
}

func (p *progress) draw(now time.Time, c counts) {
	secs := max(now.Sub(p.start).Seconds(), 1e-9)
	rates := fmt.Sprintf("%s  %s  %.0f records/s  %.2f MB/s  retried %d  failed %d",
		count(int(c.records), "record", "records"), formatMB(c.bytes), float64(c.records)/secs, float64(c.bytes)/1e6/secs, c.retried, c.failed)
	if p.mode == progressLines {
		fmt.Fprintf(p.w, "progress: %s  (%s)\n", rates, now.Sub(p.start).Round(time.Millisecond))
		return
	}
	bar := ""
	if c.total > 0 {
		const width = 30
		frac := min(float64(c.input)/float64(c.total), 1)
		n := int(frac * width)
		bar = fmt.Sprintf("[%s%s] %3.0f%%  ", strings.Repeat("#", n), strings.Repeat(".", width-n), frac*100)
	}
	// \r returns to the line start; \x1b[K clears what a longer previous line left.
	fmt.Fprintf(p.w, "\r%s%s\x1b[K", bar, rates)
}

// formatMB formats a byte count in decimal megabytes.
func formatMB(n int64) string { return fmt.Sprintf("%.2f MB", float64(n)/1e6) }
