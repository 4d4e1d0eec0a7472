package dirlock

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestSecondAcquireNamesTheOwner(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	l, err := Acquire(dir)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Acquire(dir)
	var held *HeldError
	if !errors.As(err, &held) || !errors.Is(err, ErrHeld) {
		t.Fatalf("second Acquire: %v, want a HeldError", err)
	}
	if held.Dir != dir || held.PID != os.Getpid() {
		t.Errorf("HeldError %+v, want dir %s and pid %d", held, dir, os.Getpid())
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	l2, err := Acquire(dir)
	if err != nil {
		t.Fatalf("Acquire after Release: %v", err)
	}
	l2.Release()
}

func TestAcquireReportsAnUnusableDirectory(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Acquire(filepath.Join(file, "data")); err == nil || errors.Is(err, ErrHeld) {
		t.Errorf("Acquire below a file: %v, want the system error", err)
	}
}
