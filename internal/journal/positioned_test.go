package journal

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestAppendPositioned(t *testing.T) {
	ctx := context.Background()
	j := openTest(t, Config{})
	createTest(t, j, "src")

	if p, err := j.LastPosition(ctx, "src"); err != nil || p != nil {
		t.Fatalf("LastPosition of an empty stream = %q, %v; want nil, nil", p, err)
	}
	t0 := time.UnixMilli(1_700_000_000_000)
	var want [][]byte
	var wantArrivals []time.Time
	for i := range 5 {
		puts := []Put{
			{Arrival: t0.Add(time.Duration(i) * time.Second), Records: [][]byte{fmt.Appendf(nil, "a%d", i), fmt.Appendf(nil, "b%d", i)}},
			{Arrival: t0.Add(time.Duration(i)*time.Second - 1500*time.Millisecond), Records: [][]byte{fmt.Appendf(nil, "c%d", i)}},
		}
		for _, p := range puts {
			for _, r := range p.Records {
				want = append(want, r)
				wantArrivals = append(wantArrivals, p.Arrival)
			}
		}
		pos, err := j.AppendPositioned(ctx, "src", puts, fmt.Appendf(nil, "after-%d", i))
		if err != nil {
			t.Fatal(err)
		}
		if pos.First != 0 || pos.Seq == 0 {
			t.Errorf("append %d: position %+v", i, pos)
		}
		got, err := j.LastPosition(ctx, "src")
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != fmt.Sprintf("after-%d", i) {
			t.Errorf("LastPosition after append %d = %q", i, got)
		}
	}
	// Readers see the records and their arrivals; the positions are not records.
	var got [][]byte
	var gotArrivals []time.Time
	lseq := uint64(0)
	for _, b := range readAll(t, j, "src", 1) {
		if b.LSeq != lseq+1 {
			t.Errorf("lseq %d after %d", b.LSeq, lseq)
		}
		lseq = b.LSeq
		for i, r := range b.Records {
			got = append(got, r)
			gotArrivals = append(gotArrivals, b.ArrivalAt(i))
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantArrivals, gotArrivals); diff != "" {
		t.Errorf("arrivals (-want +got):\n%s", diff)
	}

	// Trim never removes the last positioned message, also past it and from a journal that
	// does not know it yet (reopened).
	if _, err := j.SaveState(ctx, "src", State{Cursor: 6}); err != nil {
		t.Fatal(err)
	}
	if err := j.Trim(ctx, "src", 6); err != nil {
		t.Fatal(err)
	}
	st, err := j.Stats(ctx, "src")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(Stats{Messages: 1, FirstSeq: 5, LastSeq: 5}, st); diff != "" {
		t.Errorf("stats after Trim(6) past the last message (-want +got):\n%s", diff)
	}
	if p, err := j.LastPosition(ctx, "src"); err != nil || string(p) != "after-4" {
		t.Errorf("LastPosition after trim = %q, %v", p, err)
	}
}

func TestTrimKeepsPositionedAfterReopen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	j := openTest(t, Config{Dir: dir})
	createTest(t, j, "src")
	for i := range 3 {
		if _, err := j.AppendPositioned(ctx, "src", []Put{{Arrival: time.UnixMilli(1), Records: [][]byte{{byte(i)}}}}, []byte{byte(i + 1)}); err != nil {
			t.Fatal(err)
		}
	}
	j.Close()
	j = openTest(t, Config{Dir: dir})
	if _, err := j.SaveState(ctx, "src", State{Cursor: 4}); err != nil {
		t.Fatal(err)
	}
	if err := j.Trim(ctx, "src", 4); err != nil {
		t.Fatal(err)
	}
	if p, err := j.LastPosition(ctx, "src"); err != nil || string(p) != "\x03" {
		t.Errorf("LastPosition after reopen and trim = %q, %v", p, err)
	}
	// A stream of plain puts is trimmed to the cursor as before.
	createTest(t, j, "plain")
	for i := range 3 {
		appendTest(t, j, "plain", time.UnixMilli(1), [][]byte{{byte(i)}})
	}
	st, err := j.Stats(ctx, "plain")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := j.SaveState(ctx, "plain", State{Cursor: st.LastSeq + 1}); err != nil {
		t.Fatal(err)
	}
	if err := j.Trim(ctx, "plain", st.LastSeq+1); err != nil {
		t.Fatal(err)
	}
	if st, err := j.Stats(ctx, "plain"); err != nil || st.Messages != 0 {
		t.Errorf("plain stream after trim: %+v, %v", st, err)
	}
}

func TestAppendPositionedRefuses(t *testing.T) {
	ctx := context.Background()
	j := openTest(t, Config{MaxMessageBytes: 1 << 20})
	createTest(t, j, "src")
	one := []Put{{Arrival: time.UnixMilli(1), Records: [][]byte{[]byte("x")}}}
	tests := []struct {
		name     string
		puts     []Put
		position []byte
	}{
		{"no position", one, nil},
		{"position too large", one, make([]byte, MaxPositionBytes+1)},
		{"over the message size", []Put{{Records: [][]byte{make([]byte, 1<<20)}}}, []byte("p")},
		{"too many records", []Put{{Records: make([][]byte, maxRecordsPerFrame+1)}}, []byte("p")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := j.AppendPositioned(ctx, "src", tt.puts, tt.position); !errors.Is(err, ErrTooLarge) {
				t.Errorf("AppendPositioned = %v, want ErrTooLarge", err)
			}
		})
	}
	if _, err := j.AppendPositioned(ctx, "src", nil, []byte("p")); err == nil {
		t.Error("AppendPositioned without puts succeeded")
	}
	if p, err := j.LastPosition(ctx, "src"); err != nil || p != nil {
		t.Errorf("LastPosition after refusals = %q, %v; want nil", p, err)
	}
}

// A positioned append is a message of its own: concurrent plain puts are not grouped with it.
func TestAppendPositionedAlone(t *testing.T) {
	ctx := context.Background()
	j := openTest(t, Config{})
	createTest(t, j, "s")
	done := make(chan error, 40)
	for i := range 20 {
		go func() {
			_, err := j.Append(ctx, "s", time.UnixMilli(1), [][]byte{{byte(i)}})
			done <- err
		}()
		go func() {
			_, err := j.AppendPositioned(ctx, "s", []Put{{Arrival: time.UnixMilli(2), Records: [][]byte{{byte(100 + i)}}}}, []byte{byte(i + 1)})
			done <- err
		}()
	}
	for range 40 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	for _, b := range readAll(t, j, "s", 1) {
		positioned := b.f.position != nil
		if positioned && len(b.Records) != 1 {
			t.Errorf("positioned message %d holds %d records", b.Seq, len(b.Records))
		}
	}
}
