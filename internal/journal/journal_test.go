package journal

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func openTest(tb testing.TB, cfg Config) *Journal {
	tb.Helper()
	if cfg.Dir == "" {
		cfg.Dir = tb.TempDir()
	}
	j, err := Open(context.Background(), cfg, nil)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() { j.Close() })
	return j
}

func createTest(tb testing.TB, j *Journal, name string) {
	tb.Helper()
	if err := j.CreateStream(context.Background(), name); err != nil {
		tb.Fatalf("CreateStream(%q): %v", name, err)
	}
}

func appendTest(tb testing.TB, j *Journal, name string, arrival time.Time, records [][]byte) Position {
	tb.Helper()
	pos, err := j.Append(context.Background(), name, arrival, records)
	if err != nil {
		tb.Fatalf("Append(%q): %v", name, err)
	}
	return pos
}

// readAll reads every message from seq from until the reader is caught up.
func readAll(tb testing.TB, j *Journal, name string, from uint64) []Batch {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, err := j.Read(ctx, name, from)
	if err != nil {
		tb.Fatalf("Read(%q, %d): %v", name, from, err)
	}
	defer r.Close()
	var out []Batch
	for {
		b, err := r.Next(ctx)
		if err != nil {
			tb.Fatalf("Next after %d batches: %v", len(out), err)
		}
		out = append(out, b)
		if b.Pending == 0 {
			return out
		}
	}
}

func records(n, size int, salt byte) [][]byte {
	rs := make([][]byte, n)
	for i := range rs {
		r := make([]byte, size)
		for k := range r {
			r[k] = byte(i*31+k) ^ salt
		}
		rs[i] = r
	}
	return rs
}

// recordsEqual compares records byte-wise; cmp's reflection is too slow for 4 MiB batches.
func recordsEqual(a, b [][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

var batchCmp = cmp.Options{cmp.Comparer(recordsEqual), cmpopts.IgnoreFields(Batch{}, "Pending", "Nonce", "LSeq"), cmpopts.IgnoreUnexported(Batch{})}

func TestAppendReadRoundTrip(t *testing.T) {
	j := openTest(t, Config{})
	createTest(t, j, "s1")
	t0 := time.UnixMilli(1_700_000_000_123)
	puts := []struct {
		name    string
		records [][]byte
	}{
		{"one record", [][]byte{[]byte("hello\n")}},
		{"empty record", [][]byte{{}}},
		{"empty and not", [][]byte{{}, []byte("a"), {}, []byte(`{"a":1}`)}},
		{"no records", nil},
		{"4 MiB in 500 records", records(500, 4<<20/500, 7)},
		{"one 1000 KiB record", records(1, 1_024_000, 9)},
	}
	var want []Batch
	for i, p := range puts {
		arrival := t0.Add(time.Duration(i) * time.Second)
		pos := appendTest(t, j, "s1", arrival, p.records)
		if pos.Seq != uint64(i+1) {
			t.Errorf("%s: Seq = %d, want %d", p.name, pos.Seq, i+1)
		}
		want = append(want, Batch{Seq: pos.Seq, Arrival: arrival, Records: p.records})
	}
	got := readAll(t, j, "s1", 1)
	if diff := cmp.Diff(want, got, batchCmp); diff != "" {
		t.Errorf("read (-want +got):\n%s", diff)
	}
	for i, b := range got {
		if want := uint64(len(got) - 1 - i); b.Pending != want {
			t.Errorf("batch %d: Pending = %d, want %d", i, b.Pending, want)
		}
	}
	// Read from the middle, ReadRange and Get agree with Read.
	if diff := cmp.Diff(want[3:], readAll(t, j, "s1", 4), batchCmp); diff != "" {
		t.Errorf("read from 4 (-want +got):\n%s", diff)
	}
	ctx := context.Background()
	r, err := j.ReadRange(ctx, "s1", 2, 4)
	if err != nil {
		t.Fatal(err)
	}
	var rng []Batch
	for {
		b, err := r.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("ReadRange Next: %v", err)
		}
		rng = append(rng, b)
	}
	if diff := cmp.Diff(want[1:4], rng, batchCmp); diff != "" {
		t.Errorf("ReadRange(2,4) (-want +got):\n%s", diff)
	}
	b, err := j.Get(ctx, "s1", 3)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want[2], b, batchCmp); diff != "" {
		t.Errorf("Get(3) (-want +got):\n%s", diff)
	}
	if _, err := j.Get(ctx, "s1", 99); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get(99) = %v, want ErrNotFound", err)
	}
}

func TestReaderWaitsAndResumes(t *testing.T) {
	j := openTest(t, Config{})
	createTest(t, j, "s")
	r, err := j.Read(context.Background(), "s", 1)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	_, err = r.Next(ctx)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Next on empty stream = %v, want DeadlineExceeded", err)
	}
	appendTest(t, j, "s", time.Now(), [][]byte{[]byte("x")})
	ctx, cancel = context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b, err := r.Next(ctx)
	if err != nil {
		t.Fatalf("Next after timeout: %v", err)
	}
	if b.Seq != 1 || b.Pending != 0 || string(b.Records[0]) != "x" {
		t.Errorf("got %+v", b)
	}
}

func TestDurableAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	j, err := Open(ctx, Config{Dir: dir}, nil)
	if err != nil {
		t.Fatal(err)
	}
	createTest(t, j, "orders.v1")
	const n = 50
	var want []Batch
	for i := range n {
		rs := records(i%5, 100+i, byte(i))
		arrival := time.UnixMilli(int64(1_700_000_000_000 + i))
		pos := appendTest(t, j, "orders.v1", arrival, rs)
		want = append(want, Batch{Seq: pos.Seq, Arrival: arrival, Records: rs})
	}
	wantState := State{Cursor: 7, Intent: &Intent{FromSeq: 7, ToSeq: 20, Key: "p/2024/01/01/00/x-1", Data: []byte{0, 1, 2}}}
	saved, err := j.SaveState(ctx, "orders.v1", wantState)
	if err != nil {
		t.Fatal(err)
	}
	firstID := want[0].Seq
	_ = firstID
	nonceBefore := appendTest(t, j, "orders.v1", time.UnixMilli(1), nil).Nonce
	j.Close()

	j2 := openTest(t, Config{Dir: dir})
	got := readAll(t, j2, "orders.v1", 1)
	if diff := cmp.Diff(want, got[:n], batchCmp); diff != "" {
		t.Errorf("after restart (-want +got):\n%s", diff)
	}
	st, err := j2.LoadState(ctx, "orders.v1")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(saved, st); diff != "" {
		t.Errorf("state after restart (-want +got):\n%s", diff)
	}
	if got := appendTest(t, j2, "orders.v1", time.UnixMilli(1), nil).Nonce; got != nonceBefore {
		t.Errorf("nonce changed across restart: %x, was %x", got, nonceBefore)
	}
	// CreateStream on an existing stream keeps it.
	createTest(t, j2, "orders.v1")
	if got := len(readAll(t, j2, "orders.v1", 1)); got != n+2 {
		t.Errorf("after CreateStream again: %d messages, want %d", got, n+2)
	}
}

func TestFull(t *testing.T) {
	j := openTest(t, Config{MaxMessageBytes: 1 << 20, MaxBytesPerStream: 2 << 20, ReadAheadBytes: 1 << 20})
	createTest(t, j, "small")
	var want []Batch
	var err error
	for i := range 10 {
		rs := records(4, 64<<10, byte(i))
		var pos Position
		pos, err = j.Append(context.Background(), "small", time.UnixMilli(int64(i)), rs)
		if err != nil {
			break
		}
		want = append(want, Batch{Seq: pos.Seq, Arrival: time.UnixMilli(int64(i)), Records: rs})
	}
	if !errors.Is(err, ErrFull) {
		t.Fatalf("Append into a full stream = %v, want ErrFull", err)
	}
	t.Logf("full after %d puts: %v", len(want), err)
	if diff := cmp.Diff(want, readAll(t, j, "small", 1), batchCmp); diff != "" {
		t.Errorf("data before full (-want +got):\n%s", diff)
	}
	// Too large for one message.
	if _, err := j.Append(context.Background(), "small", time.Now(), records(2, 600<<10, 1)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("Append of 1.2 MiB = %v, want ErrTooLarge", err)
	}
	if _, err := j.Append(context.Background(), "nope", time.Now(), nil); !errors.Is(err, ErrNoStream) {
		t.Errorf("Append to missing stream = %v, want ErrNoStream", err)
	}
}

func TestNames(t *testing.T) {
	tests := []struct {
		name, stream string
	}{
		{"orders", "hydrant-orders"},
		{"orders.v1", "hydrant-orders_2Ev1"},
		{"a-b_c", "hydrant-a-b_5Fc"},
		{"My.Stream", "hydrant-_4Dy_2E_53tream"},
		{".", "hydrant-_2E"},
		{"a_2E", "hydrant-a_5F2_45"},
	}
	j := openTest(t, Config{})
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := StreamName(tt.name); got != tt.stream {
				t.Errorf("StreamName = %q, want %q", got, tt.stream)
			}
			back, err := DeliveryStreamName(tt.stream)
			if err != nil || back != tt.name {
				t.Errorf("DeliveryStreamName = %q, %v; want %q", back, err, tt.name)
			}
			createTest(t, j, tt.name)
			appendTest(t, j, tt.name, time.UnixMilli(0), [][]byte{[]byte(tt.name), []byte(strconv.Itoa(i))})
		})
	}
	// Every stream holds only its own record.
	for i, tt := range tests {
		got := readAll(t, j, tt.name, 1)
		want := []Batch{{Arrival: time.UnixMilli(0), Records: [][]byte{[]byte(tt.name), []byte(strconv.Itoa(i))}}}
		if diff := cmp.Diff(want, got, batchCmp, cmpopts.IgnoreFields(Batch{}, "Seq")); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.name, diff)
		}
	}
}

func TestEncodeNameProperties(t *testing.T) {
	const alphabet = "aZz09_.-"
	seen := map[string]string{}
	var gen func(prefix string, depth int)
	gen = func(prefix string, depth int) {
		enc := encodeName(prefix)
		fold := strings.ToLower(enc)
		if other, ok := seen[fold]; ok {
			t.Fatalf("%q and %q collide as %q", prefix, other, fold)
		}
		seen[fold] = prefix
		if dec, err := decodeName(enc); err != nil || dec != prefix {
			t.Fatalf("decode(encode(%q)) = %q, %v", prefix, dec, err)
		}
		if depth == 0 {
			return
		}
		for _, c := range alphabet {
			gen(prefix+string(c), depth-1)
		}
	}
	gen("", 4)
	if got := len(StreamName(strings.Repeat(".", 64))); got > 255 {
		t.Errorf("longest stream name is %d characters", got)
	}
}

func TestRecreateChangesRecordIDs(t *testing.T) {
	j := openTest(t, Config{})
	ctx := context.Background()
	createTest(t, j, "s.1")
	p1 := appendTest(t, j, "s.1", time.Now(), [][]byte{[]byte("a")})
	if _, err := j.SaveState(ctx, "s.1", State{Cursor: 2}); err != nil {
		t.Fatal(err)
	}
	if err := j.DeleteStream(ctx, "s.1"); err != nil {
		t.Fatal(err)
	}
	if _, err := j.Append(ctx, "s.1", time.Now(), nil); !errors.Is(err, ErrNoStream) {
		t.Errorf("Append after delete = %v, want ErrNoStream", err)
	}
	createTest(t, j, "s.1")
	p2 := appendTest(t, j, "s.1", time.Now(), [][]byte{[]byte("a")})
	if p1.Nonce == p2.Nonce {
		t.Errorf("nonce %x kept after delete and re-create", p1.Nonce)
	}
	if p1.RecordID(0) == p2.RecordID(0) {
		t.Errorf("record id %q reused after delete and re-create", p1.RecordID(0))
	}
	st, err := j.LoadState(ctx, "s.1")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(State{Cursor: 1}, st); diff != "" {
		t.Errorf("state after re-create (-want +got):\n%s", diff)
	}
	nonce, seq, idx, err := ParseRecordID(p2.RecordID(3))
	if err != nil || nonce != p2.Nonce || seq != p2.Seq || idx != 3 {
		t.Errorf("ParseRecordID = %x %d %d %v", nonce, seq, idx, err)
	}
	if id := p2.RecordID(499); len(id) != 24 || strings.ContainsAny(id, "+/=") {
		t.Errorf("record id %q is not 24 URL-safe characters", id)
	}
}

func TestTrim(t *testing.T) {
	ctx := context.Background()
	for _, keep := range []bool{false, true} {
		t.Run(fmt.Sprintf("KeepDelivered=%v", keep), func(t *testing.T) {
			j := openTest(t, Config{KeepDelivered: keep})
			createTest(t, j, "t")
			for i := range 10 {
				appendTest(t, j, "t", time.UnixMilli(int64(i)), [][]byte{[]byte{byte(i)}})
			}
			if _, err := j.SaveState(ctx, "t", State{Cursor: 6}); err != nil {
				t.Fatal(err)
			}
			if err := j.Trim(ctx, "t", 8); !keep && !errors.Is(err, ErrBeyondCursor) {
				t.Errorf("Trim(8) with cursor 6 = %v, want ErrBeyondCursor", err)
			}
			if err := j.Trim(ctx, "t", 6); err != nil {
				t.Fatal(err)
			}
			st, err := j.Stats(ctx, "t")
			if err != nil {
				t.Fatal(err)
			}
			want := Stats{Messages: 5, FirstSeq: 6, LastSeq: 10}
			if keep {
				want = Stats{Messages: 10, FirstSeq: 1, LastSeq: 10}
			}
			if diff := cmp.Diff(want, st); diff != "" {
				t.Errorf("stats after Trim(6) (-want +got):\n%s", diff)
			}
			// Reading from before the first message starts at the first.
			if got := readAll(t, j, "t", 1)[0].Seq; got != want.FirstSeq {
				t.Errorf("first read seq = %d, want %d", got, want.FirstSeq)
			}
		})
	}
}

func TestSaveStateConflict(t *testing.T) {
	j := openTest(t, Config{})
	ctx := context.Background()
	a, err := j.LoadState(ctx, "w")
	if err != nil {
		t.Fatal(err)
	}
	b := a
	a.Cursor = 5
	if a, err = j.SaveState(ctx, "w", a); err != nil {
		t.Fatal(err)
	}
	b.Cursor = 9
	if _, err := j.SaveState(ctx, "w", b); !errors.Is(err, ErrConflict) {
		t.Errorf("second create = %v, want ErrConflict", err)
	}
	a.Cursor, a.Intent = 6, &Intent{FromSeq: 6, ToSeq: 8, Key: "k"}
	if a, err = j.SaveState(ctx, "w", a); err != nil {
		t.Fatal(err)
	}
	stale := a
	stale.Revision--
	if _, err := j.SaveState(ctx, "w", stale); !errors.Is(err, ErrConflict) {
		t.Errorf("stale update = %v, want ErrConflict", err)
	}
	got, err := j.LoadState(ctx, "w")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(a, got); diff != "" {
		t.Errorf("state (-want +got):\n%s", diff)
	}
}

func TestKV(t *testing.T) {
	j := openTest(t, Config{})
	ctx := context.Background()
	kv, err := j.KV(ctx, "hydrant_catalog")
	if err != nil {
		t.Fatal(err)
	}
	if keys, err := kv.Keys(ctx); err != nil || len(keys) != 0 {
		t.Errorf("Keys of empty bucket = %v, %v", keys, err)
	}
	if _, err := kv.Get(ctx, "missing"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get(missing) = %v, want ErrNotFound", err)
	}
	for _, k := range []string{"a.b", "A-b", "a_b", ".x."} {
		if err := kv.Put(ctx, k, []byte("v"+k)); err != nil {
			t.Fatalf("Put(%q): %v", k, err)
		}
	}
	if err := kv.Delete(ctx, "A-b"); err != nil {
		t.Fatal(err)
	}
	keys, err := kv.Keys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{".x.", "a.b", "a_b"}, keys, cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
		t.Errorf("Keys (-want +got):\n%s", diff)
	}
	if v, err := kv.Get(ctx, "a.b"); err != nil || string(v) != "va.b" {
		t.Errorf("Get(a.b) = %q, %v", v, err)
	}
	if _, err := j.KV(ctx, stateBucket); err == nil {
		t.Errorf("KV(%s) succeeded; it is reserved", stateBucket)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string // substring of the error; "" for valid
	}{
		{"defaults", Config{Dir: "x"}, ""},
		{"no dir", Config{}, "dir is required"},
		{"short retention", Config{Dir: "x", Retention: time.Second}, "retention must be at least 1m"},
		{"tiny message", Config{Dir: "x", MaxMessageBytes: 1000}, "maxMessageBytes must be between 1 MiB and 64 MiB"},
		{"stream smaller than message", Config{Dir: "x", MaxBytesPerStream: 1 << 20}, "maxBytesPerStream must be -1 or at least maxMessageBytes"},
		{"unlimited stream", Config{Dir: "x", MaxBytesPerStream: -1}, ""},
		{"read ahead", Config{Dir: "x", ReadAheadBytes: 1}, "readAheadBytes must be at least maxMessageBytes"},
		{"store", Config{Dir: "x", MaxStoreBytes: -5}, "maxStoreBytes must be -1 or positive"},
		{"listen", Config{Dir: "x", Listen: "nope"}, "listen must be host:port"},
		{"listen ok", Config{Dir: "x", Listen: "127.0.0.1:4222"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.WithDefaults().Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("Validate = %v, want nil", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("Validate = %v, want error containing %q", err, tt.want)
			}
		})
	}
}

// crashEnv names the directory in which the crash child appends.
const crashEnv = "HYDRANT_JOURNAL_CRASH_DIR"

// crashRecords returns the records of the crash child's put number i.
func crashRecords(i int) [][]byte { return records(1+i%7, 200+i%1000, byte(i)) }

// TestMain runs the crash child instead of the tests when the test binary is started as one.
func TestMain(m *testing.M) {
	if dir := os.Getenv(crashEnv); dir != "" {
		crashChild(dir)
		return
	}
	os.Exit(m.Run())
}

// crashChild is the child process of TestCrashKeepsAcknowledged: it appends until killed and
// prints "<put> <seq>" for every acknowledged put.
func crashChild(dir string) {
	j, err := Open(context.Background(), Config{Dir: dir}, nil)
	if err != nil {
		fmt.Fprintf(os.Stderr, "open: %v\n", err)
		os.Exit(3)
	}
	if err := j.CreateStream(context.Background(), "crash.test"); err != nil {
		fmt.Fprintf(os.Stderr, "create stream: %v\n", err)
		os.Exit(3)
	}
	var mu sync.Mutex
	next := 0
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				mu.Lock()
				i := next
				next++
				mu.Unlock()
				pos, err := j.Append(context.Background(), "crash.test", time.UnixMilli(int64(i)), crashRecords(i))
				if err != nil {
					fmt.Fprintf(os.Stderr, "append %d: %v\n", i, err)
					os.Exit(3)
				}
				mu.Lock()
				fmt.Fprintf(os.Stdout, "%d %d %d\n", i, pos.Seq, pos.First) // os.Stdout is unbuffered
				mu.Unlock()
			}
		})
	}
	wg.Wait()
}

func TestCrashKeepsAcknowledged(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a process")
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), crashEnv+"="+dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	type at struct {
		seq   uint64
		first int
	}
	acked := map[int]at{}
	sc := bufio.NewScanner(out)
	deadline := time.Now().Add(20 * time.Second)
	for sc.Scan() {
		var i, first int
		var seq uint64
		if _, err := fmt.Sscanf(sc.Text(), "%d %d %d", &i, &seq, &first); err != nil {
			continue // test framework output
		}
		acked[i] = at{seq, first}
		if len(acked) == 2000 || time.Now().After(deadline) {
			break
		}
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// Lines printed before the kill landed are acknowledged too.
	for sc.Scan() {
		var i, first int
		var seq uint64
		if _, err := fmt.Sscanf(sc.Text(), "%d %d %d", &i, &seq, &first); err == nil {
			acked[i] = at{seq, first}
		}
	}
	_ = cmd.Wait()
	if len(acked) < 100 {
		t.Fatalf("child acknowledged only %d puts before the kill; stderr:\n%s", len(acked), stderr.String())
	}

	j := openTest(t, Config{Dir: dir})
	ctx := context.Background()
	st, err := j.Stats(ctx, "crash.test")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("killed after %d acknowledged puts; %d messages on disk", len(acked), st.Messages)
	got := map[uint64]Batch{}
	for _, b := range readAll(t, j, "crash.test", 1) {
		got[b.Seq] = b
	}
	for i, a := range acked {
		want := crashRecords(i)
		b := got[a.seq]
		if a.first+len(want) > len(b.Records) {
			t.Fatalf("acknowledged put %d at seq %d, record %d: message has %d records", i, a.seq, a.first, len(b.Records))
		}
		if diff := cmp.Diff(want, b.Records[a.first:a.first+len(want)], cmp.Comparer(recordsEqual)); diff != "" {
			t.Fatalf("acknowledged put %d at seq %d (-want +got):\n%s", i, a.seq, diff)
		}
		if got := b.ArrivalAt(a.first); !got.Equal(time.UnixMilli(int64(i))) {
			t.Fatalf("acknowledged put %d: arrival %v, want %v", i, got, time.UnixMilli(int64(i)))
		}
	}
}

// TestOverloadIsFullNeverLoss floods one stream with concurrent puts over a small ingest
// queue: every put either is acknowledged and readable, or fails with ErrFull.
func TestOverloadIsFullNeverLoss(t *testing.T) {
	j := openTest(t, Config{IngestQueueBytes: 8 << 20})
	createTest(t, j, "flood")
	const appenders, puts = 32, 4
	var mu sync.Mutex
	type at struct {
		seq   uint64
		first int
	}
	acked := map[at]int{}
	full := 0
	var wg sync.WaitGroup
	for a := range appenders {
		wg.Go(func() {
			for p := range puts {
				i := a*puts + p
				pos, err := j.Append(context.Background(), "flood", time.UnixMilli(int64(i)), records(2, 1<<20, byte(i)))
				mu.Lock()
				switch {
				case err == nil:
					acked[at{pos.Seq, pos.First}] = i
				case errors.Is(err, ErrFull):
					full++
				default:
					t.Errorf("put %d: %v, want nil or ErrFull", i, err)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	t.Logf("%d acknowledged, %d refused with ErrFull", len(acked), full)
	if len(acked) == 0 {
		t.Fatal("nothing acknowledged")
	}
	stored := 0
	for _, b := range readAll(t, j, "flood", 1) {
		for k, s := range b.f.puts {
			stored++
			i, ok := acked[at{b.Seq, s.first}]
			if !ok {
				t.Errorf("seq %d put %d stored but not acknowledged", b.Seq, k)
				continue
			}
			if !recordsEqual(b.Records[s.first:min(s.first+2, len(b.Records))], records(2, 1<<20, byte(i))) {
				t.Errorf("seq %d put %d: records differ from put %d", b.Seq, k, i)
			}
		}
	}
	if stored != len(acked) {
		t.Errorf("stream holds %d puts, %d were acknowledged", stored, len(acked))
	}
}

func TestListen(t *testing.T) {
	j := openTest(t, Config{Listen: "127.0.0.1:0"})
	url := j.ClientURL()
	if !strings.HasPrefix(url, "nats://127.0.0.1:") || strings.HasSuffix(url, ":4222") {
		t.Fatalf("ClientURL = %q, want a random loopback port", url)
	}
	if got := openTest(t, Config{}).ClientURL(); got != "" {
		t.Errorf("ClientURL without Listen = %q, want empty", got)
	}
}

// Stats while a worker trims everything it delivered never fails: a Trim between the count and
// the reads of the first and last message is counted again (a flush failed with "not found" in
// the crash-loop test).
func TestStatsWhileTrimming(t *testing.T) {
	ctx := context.Background()
	j := openTest(t, Config{})
	createTest(t, j, "t")
	var cursor uint64 = 1
	done := make(chan struct{})
	errs := make(chan error, 1)
	go func() {
		defer close(done)
		for range 300 {
			if _, err := j.Stats(ctx, "t"); err != nil {
				errs <- err
				return
			}
		}
	}()
	for i := 0; ; i++ {
		select {
		case <-done:
			select {
			case err := <-errs:
				t.Fatalf("Stats while trimming: %v", err)
			default:
			}
			return
		default:
		}
		pos := appendTest(t, j, "t", time.UnixMilli(int64(i)), [][]byte{{byte(i)}})
		st, err := j.LoadState(ctx, "t")
		if err != nil {
			t.Fatal(err)
		}
		cursor = pos.Seq + 1
		if _, err := j.SaveState(ctx, "t", State{Cursor: cursor, Revision: st.Revision}); err != nil {
			t.Fatal(err)
		}
		if err := j.Trim(ctx, "t", cursor); err != nil {
			t.Fatal(err)
		}
	}
}
