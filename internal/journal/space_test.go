package journal

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const mib = 1 << 20

// fakeDisk is a file system and a store that a test changes by hand, with a clock that moves
// only when the test says so.
type fakeDisk struct {
	total, free int64
	err         error
	store       int64
	stats       int // statfs calls
	clock       time.Time
}

func (d *fakeDisk) stat(string) (fsStat, error) {
	d.stats++
	return fsStat{Total: d.total, Free: d.free}, d.err
}

func (d *fakeDisk) now() time.Time { return d.clock }

func (d *fakeDisk) space(tb testing.TB, cfg Config) *space {
	tb.Helper()
	cfg.Dir = "/fake"
	s, _ := newSpace(cfg.WithDefaults(), d.stat, d.now)
	d.stats = 0 // count the readings of the admission from its first
	s.start(func() int64 { return d.store })
	return s
}

// put is one record whose append counts exactly 10 MiB.
// put is the body of a put that admission counts as 10 MiB.
const put = 10*mib - appendOverhead

// fill admits and releases puts until one is refused, and returns how many were admitted.
func fill(tb testing.TB, s *space) int {
	tb.Helper()
	for n := 0; n < 1000; n++ {
		held, err := s.admit(put)
		if err != nil {
			if !errors.Is(err, ErrFull) {
				tb.Fatalf("admit: %v, want ErrFull", err)
			}
			return n
		}
		if held != 10*mib {
			tb.Fatalf("admit held %d bytes, want %d", held, 10*mib)
		}
		s.release(held)
	}
	tb.Fatal("never refused")
	return 0
}

func TestSpaceDefaults(t *testing.T) {
	tests := []struct {
		name                   string
		maxStore, reserved     int64
		total                  int64
		err                    error
		wantReserve, wantJSMax int64
	}{
		{"large disk", -1, 0, 100 << 30, nil, 64 * mib, 100 << 30},
		{"small disk", -1, 0, 256 * mib, nil, 32 * mib, 256 * mib},
		{"store bound", 1 << 30, 0, 100 << 30, nil, 64 * mib, 1 << 30},
		{"small store bound", 64 * mib, 0, 100 << 30, nil, 8 * mib, 64 * mib},
		{"reserve set", -1, 100 * mib, 256 * mib, nil, 100 * mib, 256 * mib},
		{"disk unreadable", -1, 0, 0, errors.New("no statfs"), 64 * mib, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := &fakeDisk{total: tt.total, free: tt.total, err: tt.err}
			s, jsMax := newSpace(Config{Dir: "/fake", MaxStoreBytes: tt.maxStore, ReservedBytes: tt.reserved}.WithDefaults(), d.stat, d.now)
			if s.reserve != tt.wantReserve || jsMax != tt.wantJSMax {
				t.Errorf("reserve %d, JetStream limit %d; want %d, %d", s.reserve, jsMax, tt.wantReserve, tt.wantJSMax)
			}
		})
	}
}

func TestSpaceValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"negative reserve", Config{Dir: "x", ReservedBytes: -1}, "reservedBytes must be 0 (the default) or positive"},
		{"reserve over the store", Config{Dir: "x", MaxStoreBytes: 64 * mib, ReservedBytes: 64 * mib}, "reservedBytes must be less than maxStoreBytes"},
		{"reserve under the store", Config{Dir: "x", MaxStoreBytes: 64 * mib, ReservedBytes: 8 * mib}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.WithDefaults().Validate()
			if (tt.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.want)) {
				t.Errorf("Validate = %v, want %q", err, tt.want)
			}
		})
	}
}

// TestSpaceAdmission drives the admission with an injected file system and clock: appends are
// refused at the reserve, counted between readings without a syscall each, and admitted again
// once a fresh reading shows room.
func TestSpaceAdmission(t *testing.T) {
	t.Run("disk: refused at the reserve, one statfs", func(t *testing.T) {
		d := &fakeDisk{total: 1 << 30, free: 200 * mib}
		s := d.space(t, Config{})
		// 200 MiB free, 64 MiB reserved: 13 appends of 10 MiB fit, the 14th would leave 60.
		if n := fill(t, s); n != 13 {
			t.Errorf("admitted %d appends, want 13", n)
		}
		if d.stats != 1 {
			t.Errorf("%d statfs calls, want 1 (the first reading counts what it admits)", d.stats)
		}
	})
	t.Run("disk: appends in flight count", func(t *testing.T) {
		d := &fakeDisk{total: 1 << 30, free: 100 * mib}
		s := d.space(t, Config{})
		var held []int64
		for {
			h, err := s.admit(put)
			if err != nil {
				break
			}
			held = append(held, h)
		}
		if len(held) != 3 {
			t.Fatalf("admitted %d concurrent appends, want 3", len(held))
		}
		for _, h := range held {
			s.release(h)
		}
		if _, err := s.admit(put); !errors.Is(err, ErrFull) {
			t.Errorf("admit after the appends finished, before a reading: %v, want ErrFull", err)
		}
	})
	t.Run("disk: freed space is used after a fresh reading", func(t *testing.T) {
		d := &fakeDisk{total: 1 << 30, free: 100 * mib}
		s := d.space(t, Config{})
		fill(t, s)
		d.free = 60 * mib // the appends landed
		d.clock = d.clock.Add(spaceRecheck / 2)
		if _, err := s.admit(put); !errors.Is(err, ErrFull) {
			t.Fatalf("admit on a young reading: %v, want ErrFull", err)
		}
		if d.stats != 1 {
			t.Errorf("%d statfs calls, want 1: a refusal on a young reading takes no new one", d.stats)
		}
		d.free = 500 * mib // delivery trimmed, or an operator freed space
		d.clock = d.clock.Add(spaceRecheck)
		if held, err := s.admit(put); err != nil {
			t.Fatalf("admit after space was freed: %v", err)
		} else {
			s.release(held)
		}
		if d.stats != 2 {
			t.Errorf("%d statfs calls, want 2", d.stats)
		}
	})
	t.Run("disk: a reading is taken every second", func(t *testing.T) {
		d := &fakeDisk{total: 1 << 30, free: 500 * mib}
		s := d.space(t, Config{})
		for range 10 {
			held, err := s.admit(put)
			if err != nil {
				t.Fatal(err)
			}
			s.release(held)
			d.clock = d.clock.Add(spaceEvery / 4)
		}
		if d.stats != 3 { // the first, after 1 s and after 2 s
			t.Errorf("%d statfs calls in 2.5 s, want 3", d.stats)
		}
	})
	t.Run("limit: MaxStoreBytes less the reserve", func(t *testing.T) {
		d := &fakeDisk{total: 100 << 30, free: 100 << 30, store: 20 * mib}
		s := d.space(t, Config{MaxStoreBytes: 100 * mib, ReservedBytes: 20 * mib})
		// 80 MiB for the store, 20 held: 6 appends of 10 MiB.
		if n := fill(t, s); n != 6 {
			t.Errorf("admitted %d appends, want 6", n)
		}
		d.store = 5 * mib // trimmed
		d.clock = d.clock.Add(spaceRecheck)
		if n := fill(t, s); n != 7 {
			t.Errorf("after the trim admitted %d appends, want 7", n)
		}
	})
	t.Run("disk unreadable: the limit alone", func(t *testing.T) {
		d := &fakeDisk{err: errors.New("statfs failed"), store: 0}
		s := d.space(t, Config{MaxStoreBytes: 50 * mib, ReservedBytes: 10 * mib})
		if n := fill(t, s); n != 4 {
			t.Errorf("admitted %d appends, want 4", n)
		}
	})
}

func TestSpaceReport(t *testing.T) {
	d := &fakeDisk{total: 1 << 30, free: 300 * mib, store: 100 * mib}
	s := d.space(t, Config{})
	if _, err := s.admit(put); err != nil { // 10 MiB in flight from here on
		t.Fatal(err)
	}
	want := Space{
		StoreBytes: 100 * mib, LimitBytes: 336 * mib, ReservedBytes: 64 * mib,
		DiskBytes: 1 << 30, DiskFreeBytes: 300 * mib,
	}
	if diff := cmp.Diff(want, s.report()); diff != "" {
		t.Errorf("report (-want +got):\n%s", diff)
	}
	d.clock = d.clock.Add(spaceReport)
	d.free = 77 * mib // 13 MiB above the reserve, 10 in flight: no room for a 4 MiB put
	want.LimitBytes, want.DiskFreeBytes, want.Full = 113*mib, 77*mib, true
	if diff := cmp.Diff(want, s.report()); diff != "" {
		t.Errorf("report after a new reading (-want +got):\n%s", diff)
	}
	if _, err := s.admit(put); err == nil {
		t.Fatal("admitted 10 MiB with 3 MiB of room")
	}
	want.RefusedAppends = 1
	if diff := cmp.Diff(want, s.report()); diff != "" {
		t.Errorf("report after a refusal (-want +got):\n%s", diff)
	}

	d = &fakeDisk{total: 1 << 30, free: 1 << 30}
	s = d.space(t, Config{MaxStoreBytes: 100 * mib})
	if got := s.report().LimitBytes; got != 100*mib-100*mib/8 {
		t.Errorf("LimitBytes with MaxStoreBytes = %d, want %d", got, 100*mib-100*mib/8)
	}
}

// TestSpaceOfOpenJournal: Open wires the admission to the real file system and store.
func TestSpaceOfOpenJournal(t *testing.T) {
	j := openTest(t, Config{MaxStoreBytes: 64 * mib})
	createTest(t, j, "s")
	sp := j.Space()
	if sp.ReservedBytes != 8*mib || sp.LimitBytes != 56*mib || sp.DiskBytes <= 0 || sp.Full {
		t.Errorf("Space of a new journal = %+v", sp)
	}
	// A store of 64 MiB takes 56 MiB of records.
	rec := [][]byte{make([]byte, 1*mib)}
	n := 0
	for ; n < 100; n++ {
		if _, err := j.Append(context.Background(), "s", time.Now(), rec); err != nil {
			if !errors.Is(err, ErrFull) {
				t.Fatalf("append %d: %v", n, err)
			}
			break
		}
	}
	if n < 50 || n > 56 {
		t.Errorf("%d appends of 1 MiB before ErrFull, want 50 to 56", n)
	}
	// The state still has room.
	if _, err := j.SaveState(context.Background(), "s", State{Cursor: uint64(n + 1)}); err != nil {
		t.Errorf("SaveState in a full journal: %v", err)
	}
	if err := j.SaveIntent(context.Background(), "s", 0, make([]byte, mib)); err != nil {
		t.Errorf("SaveIntent in a full journal: %v", err)
	}
	if err := j.Trim(context.Background(), "s", uint64(n+1)); err != nil {
		t.Fatalf("Trim: %v", err)
	}
	time.Sleep(spaceReport)
	if sp := j.Space(); sp.Full || sp.StoreBytes > 4*mib {
		t.Errorf("Space after the trim = %+v, want room", sp)
	}
	if _, err := j.Append(context.Background(), "s", time.Now(), rec); err != nil {
		t.Errorf("append after the trim: %v", err)
	}
}

// BenchmarkSpaceAdmit measures what admission adds to an Append: one admit and release of a
// 500-record put, on the real clock, with a reading once a second.
func BenchmarkSpaceAdmit(b *testing.B) {
	d := &fakeDisk{total: 1 << 40, free: 1 << 40}
	s, _ := newSpace(Config{Dir: "/fake"}.WithDefaults(), d.stat, time.Now)
	s.start(func() int64 { return 0 })
	recs := make([][]byte, 500)
	for i := range recs {
		recs[i] = make([]byte, 1024)
	}
	body := putBodyLen(recs)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			held, err := s.admit(body)
			if err != nil {
				b.Fatal(err)
			}
			s.release(held)
		}
	})
}
