// Package localdir stores delivered objects as files: bucket B, key K becomes <root>/B/K.
// Each object is written to a temporary file, synced, and renamed into place, so a reader
// never sees a partial object and rewriting the same key replaces it whole. A key S3 would
// accept but a file system cannot hold (a segment over 255 bytes, a path over 4,095 bytes, a
// NUL byte) is refused with destination.ErrInvalidObject, a permanent failure, rather than
// escaped: docs/design/destinations.md gives the reason.
package localdir

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/google/uuid"
	"github.com/hydrant-dev/hydrant/internal/destination"
)

// Dir is a local directory destination. It is safe for concurrent use.
type Dir struct {
	root    string
	tmp     string
	buckets map[string]string
	syncs   dirSyncer
}

// tmpShards is the number of subdirectories temporary files are spread over, so that
// concurrent writers do not all create files in one directory (whose lock they would share).
const tmpShards = 16

// New returns a destination rooted at root (created if missing): bucket B lives in root/B
// unless buckets maps B to a directory of its own. Temporary files live in root/.tmp so that
// they never appear inside a bucket; a mapped bucket keeps its own .hydrant-tmp so that the
// rename stays within one file system.
func New(root string, buckets map[string]string) (*Dir, error) {
	tmp := filepath.Join(root, ".tmp")
	if err := mkTmp(tmp); err != nil {
		return nil, fmt.Errorf("create destination directory: %w", err)
	}
	for b, dir := range buckets {
		if err := mkTmp(filepath.Join(dir, ".hydrant-tmp")); err != nil {
			return nil, fmt.Errorf("create directory of bucket %s: %w", b, err)
		}
	}
	return &Dir{root: root, tmp: tmp, buckets: buckets, syncs: dirSyncer{dirs: map[string]*dirSync{}}}, nil
}

// mkTmp creates a temporary directory and its shards.
func mkTmp(tmp string) error {
	for i := range tmpShards {
		if err := os.MkdirAll(filepath.Join(tmp, strconv.FormatInt(int64(i), 16)), 0o755); err != nil {
			return err
		}
	}
	return nil
}

// bucketDir returns the directory of a bucket and the temporary directory beside it.
func (d *Dir) bucketDir(bucket string) (dir, tmp string) {
	if dir, ok := d.buckets[bucket]; ok {
		return dir, filepath.Join(dir, ".hydrant-tmp")
	}
	return filepath.Join(d.root, bucket), d.tmp
}

// Root returns the directory that holds the buckets.
func (d *Dir) Root() string { return d.root }

// File system limits (Linux): NAME_MAX bytes in one path segment, and PATH_MAX bytes in a
// path including its terminating NUL.
const (
	maxNameLen = 255
	maxPathLen = 4095
)

// Path returns the file path of a bucket's key. An error wrapping destination.ErrInvalidObject
// says that the pair would escape the bucket or cannot be held by a file system.
func (d *Dir) Path(bucket, key string) (string, error) {
	if bucket == "" || strings.ContainsAny(bucket, `/\`) || bucket == "." || bucket == ".." || strings.HasPrefix(bucket, ".") ||
		len(bucket) > maxNameLen || strings.IndexByte(bucket, 0) >= 0 {
		return "", fmt.Errorf("%w: bucket %q", destination.ErrInvalidObject, bucket)
	}
	if err := destination.CheckKey(key); err != nil {
		return "", err
	}
	if strings.IndexByte(key, 0) >= 0 {
		return "", fmt.Errorf("%w: key %q has a NUL byte, which no file name can hold", destination.ErrInvalidObject, key)
	}
	for seg := range strings.SplitSeq(key, "/") {
		if len(seg) > maxNameLen {
			return "", fmt.Errorf("%w: key %.40q… has a segment of %d bytes; a file name holds at most %d", destination.ErrInvalidObject, key, len(seg), maxNameLen)
		}
	}
	dir, _ := d.bucketDir(bucket)
	path := filepath.Join(dir, filepath.FromSlash(key))
	if len(path) > maxPathLen {
		return "", fmt.Errorf("%w: file path of key %.40q… is %d bytes; a path holds at most %d", destination.ErrInvalidObject, key, len(path), maxPathLen)
	}
	return path, nil
}

// Exists reports whether bucket holds an object under key: a regular file at its path. A
// missing file, a directory, or a file where a parent directory would be all mean false.
func (d *Dir) Exists(ctx context.Context, bucket, key string) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	path, err := d.Path(bucket, key)
	if err != nil {
		return false, err
	}
	fi, err := os.Stat(path)
	switch {
	case err == nil:
		return fi.Mode().IsRegular(), nil
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ENOTDIR):
		return false, nil
	default:
		return false, fmt.Errorf("stat %s: %w", key, err)
	}
}

// PutObject stores o atomically: temp file, fsync, rename, fsync of the directory.
func (d *Dir) PutObject(ctx context.Context, o destination.Object) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	path, err := d.Path(o.Bucket, o.Key)
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	if err := d.mkdirs(dir); err != nil {
		return fmt.Errorf("create directory for %s: %w", o.Key, err)
	}
	_, tmpDir := d.bucketDir(o.Bucket)
	name := uuid.NewString()
	tmp := filepath.Join(tmpDir, name[:1], name) // a shard per first hex digit
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("create temporary file: %w", err)
	}
	if _, err := f.Write(o.Body); err != nil {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", o.Key, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("sync %s: %w", o.Key, err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("close %s: %w", o.Key, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("rename %s into place: %w", o.Key, err)
	}
	return d.syncs.sync(dir)
}

// mkdirs creates dir and any missing parents below the root, syncing each parent whose
// entries changed so that a crash cannot lose a directory holding a renamed object.
func (d *Dir) mkdirs(dir string) error {
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	parent := filepath.Dir(dir)
	if parent != d.root && parent != dir && parent != filepath.Dir(parent) {
		if err := d.mkdirs(parent); err != nil {
			return err
		}
	}
	if err := os.Mkdir(dir, 0o755); err != nil && !os.IsExist(err) {
		return err
	}
	return d.syncs.sync(parent)
}

// dirSyncer syncs directories with group commit: a sync asked for while one of the same
// directory is running waits for the next, which covers every request made before it started.
// Many objects created in one directory at once (the partitions of a flush) then cost a few
// directory syncs instead of one each.
type dirSyncer struct {
	mu   sync.Mutex
	dirs map[string]*dirSync
}

type dirSync struct {
	asked, done uint64 // request generations: asked so far, covered by the last finished sync
	running     bool
	err         error // of the last finished sync
	finished    *sync.Cond
}

func (s *dirSyncer) sync(dir string) error {
	s.mu.Lock()
	st, ok := s.dirs[dir]
	if !ok {
		st = &dirSync{finished: sync.NewCond(&s.mu)}
		s.dirs[dir] = st
	}
	st.asked++
	mine := st.asked
	for st.running && st.done < mine {
		st.finished.Wait()
	}
	if st.done >= mine { // a sync that started after this request covered it
		err := st.err
		s.mu.Unlock()
		return err
	}
	st.running = true
	covers := st.asked
	s.mu.Unlock()
	err := syncDir(dir)
	s.mu.Lock()
	st.running, st.done, st.err = false, covers, err
	st.finished.Broadcast()
	if st.done == st.asked {
		delete(s.dirs, dir) // nobody waits: later requests start afresh
	}
	s.mu.Unlock()
	return err
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open directory %s: %w", dir, err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}
