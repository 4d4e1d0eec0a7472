package journal

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestKVRevisionsAndWatch(t *testing.T) {
	ctx := context.Background()
	j := openTest(t, Config{})
	kv, err := j.KV(ctx, "t_rev")
	if err != nil {
		t.Fatal(err)
	}
	changes := make(chan Change, 16)
	wctx, stop := context.WithCancel(ctx)
	defer stop()
	go func() { _ = kv.Watch(wctx, func(c Change) { changes <- c }) }()
	// The watch is live once it passes a write made after it started; its "initial values
	// delivered" signal can come before the server has made its consumer.
	for deadline := time.Now().Add(5 * time.Second); ; {
		if err := kv.Put(ctx, "sentinel", []byte("s")); err != nil {
			t.Fatal(err)
		}
		select {
		case c := <-changes:
			if c.Key != "sentinel" {
				t.Fatalf("watch saw %+v before any write", c)
			}
		case <-time.After(100 * time.Millisecond):
			if time.Now().After(deadline) {
				t.Fatal("the watch saw no write within 5 s")
			}
			continue
		}
		break
	}

	rev, err := kv.Create(ctx, "a.b", []byte("1"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Create(ctx, "a.b", []byte("x")); !errors.Is(err, ErrConflict) {
		t.Errorf("second Create = %v, want ErrConflict", err)
	}
	if _, err := kv.Update(ctx, "a.b", []byte("x"), rev+100); !errors.Is(err, ErrConflict) {
		t.Errorf("Update at a wrong revision = %v, want ErrConflict", err)
	}
	rev2, err := kv.Update(ctx, "a.b", []byte("2"), rev)
	if err != nil {
		t.Fatal(err)
	}
	if v, r, err := kv.Entry(ctx, "a.b"); err != nil || string(v) != "2" || r != rev2 {
		t.Errorf("Entry = %q, %d, %v; want 2, %d", v, r, err, rev2)
	}
	if err := kv.DeleteRev(ctx, "a.b", rev); !errors.Is(err, ErrConflict) {
		t.Errorf("DeleteRev at an old revision = %v, want ErrConflict", err)
	}
	if err := kv.DeleteRev(ctx, "a.b", rev2); err != nil {
		t.Fatal(err)
	}
	if _, _, err := kv.Entry(ctx, "a.b"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Entry after delete = %v, want ErrNotFound", err)
	}
	if _, err := kv.Create(ctx, "a.b", []byte("3")); err != nil {
		t.Errorf("Create after delete: %v", err)
	}
	// The bucket keeps one value per key, so a watch that falls behind skips values already
	// replaced: it sees the changes in order, possibly not all of them, and always the last.
	var got []string
	for len(got) == 0 || got[len(got)-1] != "3" {
		select {
		case c := <-changes:
			if c.Key == "sentinel" {
				continue // a late repeat of the liveness write
			}
			if c.Deleted {
				got = append(got, "deleted")
			} else {
				got = append(got, string(c.Value))
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("watch saw %v, never the last value", got)
		}
	}
	if !inOrder(got, []string{"1", "2", "deleted", "3"}) {
		t.Errorf("watch saw %v, want changes of 1, 2, deleted, 3 in that order", got)
	}

	ttl, err := j.KVWithTTL(ctx, "t_ttl", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ttl.Create(ctx, "lease", []byte("n1")); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, _, err := ttl.Entry(ctx, "lease"); errors.Is(err, ErrNotFound) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("entry of a 1 s TTL bucket still there after 10 s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if _, err := ttl.Create(ctx, "lease", []byte("n2")); err != nil {
		t.Errorf("Create after expiry: %v", err)
	}
}

// inOrder reports whether got is want with some elements left out.
func inOrder(got, want []string) bool {
	i := 0
	for _, g := range got {
		for i < len(want) && want[i] != g {
			i++
		}
		if i == len(want) {
			return false
		}
		i++
	}
	return true
}
