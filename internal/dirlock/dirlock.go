// Package dirlock makes one process the owner of a data directory: an exclusive flock(2) on
// <dir>/hydrant.lock, taken before anything else in the directory is opened and held for the
// life of the process (the kernel releases it when the process dies, even by kill -9). The
// file holds the owner's pid, so a second process can say who holds the directory.
// docs/design/datadir.md describes the file.
package dirlock

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// FileName is the lock file in a data directory.
const FileName = "hydrant.lock"

// ErrHeld reports a data directory locked by another process.
var ErrHeld = errors.New("data directory in use")

// HeldError is ErrHeld with the directory and the owner's pid (0 when unknown).
type HeldError struct {
	Dir string
	PID int
}

// Error names the directory and the owner.
func (e *HeldError) Error() string {
	owner := "another process"
	if e.PID > 0 {
		owner = "process " + strconv.Itoa(e.PID)
	}
	return fmt.Sprintf("data directory %s is in use by %s (lock %s)", e.Dir, owner, filepath.Join(e.Dir, FileName))
}

// Unwrap returns ErrHeld.
func (e *HeldError) Unwrap() error { return ErrHeld }

// Lock is a held data directory lock.
type Lock struct {
	f *os.File
}

// Acquire creates dir if needed and locks it for this process, without waiting. It fails with
// a *HeldError when another process (or another Lock of this one) holds it.
func Acquire(dir string) (*Lock, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	path := filepath.Join(dir, FileName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open lock file: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		defer f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			b, _ := os.ReadFile(path)
			pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
			return nil, &HeldError{Dir: dir, PID: pid}
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if err := f.Truncate(0); err != nil {
		f.Close()
		return nil, fmt.Errorf("write lock file: %w", err)
	}
	if _, err := f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0); err != nil {
		f.Close()
		return nil, fmt.Errorf("write lock file: %w", err)
	}
	return &Lock{f: f}, nil
}

// Release gives the directory up. The pid stays in the file; only the lock says who owns it.
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := l.f.Close() // closing the last descriptor releases the flock
	l.f = nil
	return err
}
