package compress

import (
	"archive/zip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/google/uuid"
	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/s2"
	"github.com/klauspost/pgzip"
)

const (
	// xerialHeader opens every Snappy object: the snappy-java magic, then
	// version 1 and minimum compatible version 1 as big-endian int32s.
	xerialHeader = "\x82SNAPPY\x00" + "\x00\x00\x00\x01" + "\x00\x00\x00\x01"

	// xerialBlockSize is the uncompressed size of a Snappy block: snappy-java's
	// SnappyOutputStream default.
	xerialBlockSize = 32 << 10

	// hadoopBufferSize is Hadoop's io.compression.codec.snappy.buffersize
	// default; hadoopBlockSize is the MAX_INPUT_SIZE its BlockCompressorStream
	// derives from it, so a Hadoop reader's buffers fit our blocks.
	hadoopBufferSize = 256 << 10
	hadoopBlockSize  = hadoopBufferSize - (hadoopBufferSize/6 + 32)
)

// ErrClosed reports a Write to an Encoder that was closed and not Reset.
var ErrClosed = errors.New("write to closed compression writer")

// Encoder writes objects in one Format. It writes one object between Reset (or
// NewWriter) and Close, and keeps its compression state and buffers from one
// object to the next, so a long-lived Encoder allocates nothing per write.
// An Encoder is not safe for concurrent use.
type Encoder struct {
	format Format
	cfg    Config

	w       io.Writer // destination of the current object
	err     error     // first error of the current object; sticky
	open    bool      // between Reset and Close
	started bool      // the container's first bytes are written

	// GZIP, on one goroutine (gz) or in parallel blocks (pgz).
	gz  *gzip.Writer
	pgz *pgzip.Writer

	// ZIP: a zip.Writer per object whose deflate stream is fl, reused.
	fl    *flate.Writer
	zw    *zip.Writer
	entry io.Writer

	// Snappy and HADOOP_SNAPPY.
	blockSize int
	block     []byte // pending uncompressed input, len < blockSize
	out       []byte // length prefix(es) + one compressed block
}

var _ io.WriteCloser = (*Encoder)(nil)

// NewEncoder returns an Encoder for format f. Call Reset before the first
// Write.
func NewEncoder(f Format, cfg Config) (*Encoder, error) {
	if err := f.Validate(); err != nil {
		return nil, err
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	level := cfg.Level
	if level == DefaultLevel {
		level = flate.DefaultCompression
	}
	e := &Encoder{format: f, cfg: cfg}
	switch f {
	case Gzip:
		if cfg.Concurrency > 1 {
			pgz, err := pgzip.NewWriterLevel(io.Discard, level)
			if err != nil {
				return nil, fmt.Errorf("create gzip writer: %w", err)
			}
			if err := pgz.SetConcurrency(gzipBlockSize, cfg.Concurrency); err != nil {
				return nil, fmt.Errorf("create gzip writer: %w", err)
			}
			e.pgz = pgz
			break
		}
		gz, err := gzip.NewWriterLevel(io.Discard, level)
		if err != nil {
			return nil, fmt.Errorf("create gzip writer: %w", err)
		}
		e.gz = gz
	case Zip:
		fl, err := flate.NewWriter(io.Discard, level)
		if err != nil {
			return nil, fmt.Errorf("create deflate writer: %w", err)
		}
		e.fl = fl
	case Snappy:
		e.blockSize = xerialBlockSize
		e.block = make([]byte, 0, xerialBlockSize)
		e.out = make([]byte, len(xerialHeader)+4+s2.MaxEncodedLen(xerialBlockSize))
	case HadoopSnappy:
		e.blockSize = hadoopBlockSize
		e.block = make([]byte, 0, hadoopBlockSize)
		e.out = make([]byte, 8+s2.MaxEncodedLen(hadoopBlockSize))
	}
	return e, nil
}

// NewWriter returns an Encoder that writes one object in format f to w. Close
// finishes the object without closing w; Reset starts another.
func NewWriter(f Format, w io.Writer, cfg Config) (*Encoder, error) {
	e, err := NewEncoder(f, cfg)
	if err != nil {
		return nil, err
	}
	e.Reset(w)
	return e, nil
}

// Format returns the format e writes.
func (e *Encoder) Format() Format { return e.format }

// Reset discards the current object, if any, and starts a new one written to
// w. Nothing is written to w until the first Write or Close.
func (e *Encoder) Reset(w io.Writer) {
	e.w = w
	e.err = nil
	e.open = true
	e.started = false
	e.block = e.block[:0]
	e.zw, e.entry = nil, nil
	if e.gz != nil {
		e.gz.Reset(w)
		// MTIME 0 means "no time". klauspost's writer (unlike the standard
		// library's) stores the zero time.Time as its truncated Unix seconds.
		e.gz.ModTime = time.Unix(0, 0)
	}
	if e.pgz != nil {
		e.pgz.Reset(w)
		e.pgz.ModTime = time.Unix(0, 0)
	}
}

// Write compresses p into the current object.
func (e *Encoder) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	if !e.open {
		return 0, ErrClosed
	}
	var n int
	var err error
	switch e.format {
	case Uncompressed:
		n, err = e.w.Write(p)
	case Gzip:
		if e.pgz != nil {
			n, err = e.pgz.Write(p)
		} else {
			n, err = e.gz.Write(p)
		}
	case Zip:
		if err = e.startZip(); err == nil {
			n, err = e.entry.Write(p)
		}
	case Snappy, HadoopSnappy:
		n, err = e.writeSnappy(p)
	}
	if err != nil {
		e.err = fmt.Errorf("write %s object: %w", e.format, err)
		return n, e.err
	}
	return n, nil
}

// Close finishes the current object: the gzip trailer, the ZIP data descriptor
// and central directory, or the last snappy block. It does not close the
// underlying writer. Closing a closed Encoder does nothing.
func (e *Encoder) Close() error {
	if e.err != nil {
		return e.err
	}
	if !e.open {
		return nil
	}
	e.open = false
	var err error
	switch e.format {
	case Gzip:
		if e.pgz != nil {
			err = e.pgz.Close()
		} else {
			err = e.gz.Close()
		}
	case Zip:
		if err = e.startZip(); err == nil {
			err = e.zw.Close()
		}
		e.zw, e.entry = nil, nil
	case Snappy, HadoopSnappy:
		err = e.closeSnappy()
	}
	if err != nil {
		e.err = fmt.Errorf("finish %s object: %w", e.format, err)
		return e.err
	}
	return nil
}

// startZip writes the archive's local file header once per object.
func (e *Encoder) startZip() error {
	if e.started {
		return nil
	}
	e.started = true
	name := e.cfg.ZipEntryName
	if name == "" {
		id, err := uuid.NewRandom()
		if err != nil {
			return fmt.Errorf("name zip entry: %w", err)
		}
		name = id.String()
	}
	e.zw = zip.NewWriter(e.w)
	e.zw.RegisterCompressor(zip.Deflate, func(w io.Writer) (io.WriteCloser, error) {
		e.fl.Reset(w)
		return e.fl, nil
	})
	entry, err := e.zw.CreateHeader(&zip.FileHeader{
		Name:     name,
		Method:   zip.Deflate,
		Modified: e.cfg.Now().UTC(),
	})
	if err != nil {
		return fmt.Errorf("create zip entry: %w", err)
	}
	e.entry = entry
	return nil
}

// writeSnappy buffers p into blocks of e.blockSize and writes each full block.
func (e *Encoder) writeSnappy(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		if len(e.block) == 0 && len(p) >= e.blockSize {
			// A whole block is at hand: encode it without copying.
			if err := e.writeBlock(p[:e.blockSize]); err != nil {
				return n - len(p), err
			}
			p = p[e.blockSize:]
			continue
		}
		c := copy(e.block[len(e.block):e.blockSize], p)
		e.block = e.block[:len(e.block)+c]
		p = p[c:]
		if len(e.block) == e.blockSize {
			if err := e.writeBlock(e.block); err != nil {
				return n - len(p), err
			}
			e.block = e.block[:0]
		}
	}
	return n, nil
}

// closeSnappy writes the pending block, and for an empty object what the
// reference writers write: the xerial header, or Hadoop's empty block.
func (e *Encoder) closeSnappy() error {
	if len(e.block) > 0 {
		err := e.writeBlock(e.block)
		e.block = e.block[:0]
		return err
	}
	if e.started {
		return nil
	}
	e.started = true
	n := copy(e.out, xerialHeader)
	if e.format == HadoopSnappy {
		n = 4
		clear(e.out[:n])
	}
	_, err := e.w.Write(e.out[:n])
	return err
}

// writeBlock compresses src into one snappy block and writes it with its
// framing, preceded by the xerial header if it is the object's first block.
// e.out holds, for Snappy, room for the header, the block's compressed length
// and the block; for HADOOP_SNAPPY, the block's uncompressed length, its one
// chunk's compressed length and the chunk.
func (e *Encoder) writeBlock(src []byte) error {
	start, prefix := 0, 8
	if e.format == Snappy {
		prefix = len(xerialHeader) + 4
	}
	enc := s2.EncodeSnappy(e.out[prefix:], src)
	if e.format == Snappy {
		binary.BigEndian.PutUint32(e.out[len(xerialHeader):], uint32(len(enc)))
		if e.started {
			start = len(xerialHeader)
		} else {
			copy(e.out, xerialHeader)
		}
	} else {
		binary.BigEndian.PutUint32(e.out[0:], uint32(len(src)))
		binary.BigEndian.PutUint32(e.out[4:], uint32(len(enc)))
	}
	e.started = true
	_, err := e.w.Write(e.out[start : prefix+len(enc)])
	return err
}
