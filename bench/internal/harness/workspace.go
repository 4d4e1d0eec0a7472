package harness

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Workspace is a benchmark's module root, temporary directory and hydrant binary.
type Workspace struct {
	Root, Tmp, Hydrant string
	// Info is the machine and the code when the binary was built: the working tree may move
	// on while the benchmark runs.
	Info SysInfo
}

// Prepare makes a temporary directory (Close removes it) and, unless bin names one, builds
// the hydrant binary into it, noting the revision it builds.
func Prepare(prefix, bin string, stdout io.Writer) (*Workspace, error) {
	root, err := ModuleRoot()
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", prefix)
	if err != nil {
		return nil, err
	}
	info := SystemInfo(root)
	if bin == "" {
		fmt.Fprintln(stdout, "building ./cmd/hydrant ...")
		if bin, err = BuildHydrant(root, tmp); err != nil {
			os.RemoveAll(tmp)
			return nil, err
		}
	}
	return &Workspace{Root: root, Tmp: tmp, Hydrant: bin, Info: info}, nil
}

// Close removes the temporary directory.
func (w *Workspace) Close() error { return os.RemoveAll(w.Tmp) }

// WalkObjects calls fn with the path, key and size of every object hydrant's local-directory
// destination holds for bucket under dataDir; its temporary files (in dot-directories) are
// skipped, and a bucket with no objects yet is empty, not an error.
func WalkObjects(dataDir, bucket string, fn func(path, key string, size int64) error) error {
	root := filepath.Join(dataDir, "s3", bucket)
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		return fn(p, filepath.ToSlash(rel), info.Size())
	})
}

// ObjectPath is the file that holds object key of bucket in hydrant's local-directory
// destination under dataDir.
func ObjectPath(dataDir, bucket, key string) string {
	return filepath.Join(dataDir, "s3", bucket, filepath.FromSlash(key))
}
