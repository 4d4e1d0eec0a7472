package compress

import (
	"archive/zip"
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/klauspost/compress/snappy"
)

// maxChunk bounds the compressed and uncompressed size of one snappy chunk the
// readers accept, so corrupt lengths cannot make them allocate without limit.
// It is far above what any writer of these formats produces.
const maxChunk = 256 << 20

// NewReader returns a reader of the uncompressed content of an object in
// format f read from r. It is meant for tests and tools: GZIP and ZIP use the
// standard library's decoders, and ZIP reads the whole object into memory
// because the central directory is at its end. Snappy blocks are decoded
// strictly (s2 extensions are rejected). Closing the reader does not close r.
// Malformed input yields an error wrapping ErrCorrupt.
func NewReader(f Format, r io.Reader) (io.ReadCloser, error) {
	switch f {
	case Uncompressed:
		return io.NopCloser(r), nil
	case Gzip:
		zr, err := gzip.NewReader(r)
		if err != nil {
			return nil, fmt.Errorf("read gzip header: %w: %w", ErrCorrupt, err)
		}
		return zr, nil
	case Zip:
		return newZipReader(r)
	case Snappy:
		return &snappyReader{r: bufio.NewReader(r), xerial: true}, nil
	case HadoopSnappy:
		return &snappyReader{r: bufio.NewReader(r)}, nil
	}
	return nil, f.Validate()
}

// newZipReader opens the single entry of a ZIP object.
func newZipReader(r io.Reader) (io.ReadCloser, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read zip object: %w", err)
	}
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, fmt.Errorf("read zip directory: %w: %w", ErrCorrupt, err)
	}
	if len(zr.File) != 1 {
		return nil, fmt.Errorf("read zip directory: %w: %d entries, want 1", ErrCorrupt, len(zr.File))
	}
	rc, err := zr.File[0].Open()
	if err != nil {
		return nil, fmt.Errorf("open zip entry %q: %w: %w", zr.File[0].Name, ErrCorrupt, err)
	}
	return rc, nil
}

// snappyReader reads the xerial and the Hadoop framing of snappy blocks.
type snappyReader struct {
	r      *bufio.Reader
	xerial bool

	headerDone bool         // xerial: the stream header was read
	remaining  int64        // hadoop: uncompressed bytes still due in the current block
	src        bytes.Buffer // compressed chunk
	dst        []byte       // decoded chunk
	pending    []byte       // undelivered part of dst
	err        error
}

func (s *snappyReader) Read(p []byte) (int, error) {
	for len(s.pending) == 0 {
		if s.err != nil {
			return 0, s.err
		}
		s.err = s.next()
	}
	n := copy(p, s.pending)
	s.pending = s.pending[n:]
	return n, nil
}

func (s *snappyReader) Close() error { return nil }

// next decodes the next chunk into s.pending, or returns io.EOF at a clean end.
func (s *snappyReader) next() error {
	if s.xerial {
		return s.nextXerial()
	}
	return s.nextHadoop()
}

func (s *snappyReader) nextXerial() error {
	if !s.headerDone {
		s.headerDone = true
		if _, err := s.r.Peek(1); err == io.EOF {
			return io.EOF // an empty input is an empty object, as snappy-java reads it
		}
		if err := s.readXerialHeader(); err != nil {
			return err
		}
	}
	n, err := s.readInt(true)
	if err != nil {
		return err
	}
	if n == binary.BigEndian.Uint32([]byte(xerialHeader)) {
		// A concatenated stream: its header sits where a length would be.
		if err := s.readXerialHeaderTail(); err != nil {
			return err
		}
		return nil
	}
	return s.readChunk(n, -1)
}

func (s *snappyReader) readXerialHeader() error {
	var magic [4]byte
	if _, err := io.ReadFull(s.r, magic[:]); err != nil {
		return corrupt("read snappy-java header", err)
	}
	if string(magic[:]) != xerialHeader[:4] {
		return fmt.Errorf("read snappy-java header: %w: bad magic % x", ErrCorrupt, magic)
	}
	return s.readXerialHeaderTail()
}

// readXerialHeaderTail reads the header after its first four bytes.
func (s *snappyReader) readXerialHeaderTail() error {
	var h [12]byte
	if _, err := io.ReadFull(s.r, h[:]); err != nil {
		return corrupt("read snappy-java header", err)
	}
	if string(h[:4]) != xerialHeader[4:8] {
		return fmt.Errorf("read snappy-java header: %w: bad magic % x", ErrCorrupt, h[:4])
	}
	if v := int32(binary.BigEndian.Uint32(h[4:8])); v < 1 {
		return fmt.Errorf("read snappy-java header: %w: version %d", ErrCorrupt, v)
	}
	return nil
}

func (s *snappyReader) nextHadoop() error {
	if s.remaining == 0 {
		n, err := s.readInt(true)
		if err != nil {
			return err
		}
		s.remaining = int64(n)
		if n == 0 {
			return nil // an empty block, as Hadoop writes for an empty object
		}
	}
	n, err := s.readInt(false)
	if err != nil {
		return err
	}
	if err := s.readChunk(n, s.remaining); err != nil {
		return err
	}
	s.remaining -= int64(len(s.pending))
	return nil
}

// readInt reads a 4-byte big-endian length. At a clean end of input it returns
// io.EOF if eofOK, else an error wrapping ErrCorrupt.
func (s *snappyReader) readInt(eofOK bool) (uint32, error) {
	var b [4]byte
	_, err := io.ReadFull(s.r, b[:])
	if err == io.EOF && eofOK {
		return 0, io.EOF
	}
	if err != nil {
		return 0, corrupt("read snappy chunk length", err)
	}
	return binary.BigEndian.Uint32(b[:]), nil
}

// readChunk reads and decodes a chunk of n compressed bytes into s.pending. A
// non-negative limit bounds its decoded length.
func (s *snappyReader) readChunk(n uint32, limit int64) error {
	if n > maxChunk {
		return fmt.Errorf("read snappy chunk: %w: length %d over %d", ErrCorrupt, n, maxChunk)
	}
	// Grow the buffer as bytes arrive, so a corrupt length on a short input
	// cannot allocate the whole of it.
	s.src.Reset()
	if _, err := io.CopyN(&s.src, s.r, int64(n)); err != nil {
		return corrupt("read snappy chunk", err)
	}
	src := s.src.Bytes()
	dlen, err := snappy.DecodedLen(src)
	if err != nil {
		return corrupt("decode snappy chunk", err)
	}
	// A snappy element of k bytes yields at most 64 bytes (a 3-byte copy), so
	// a larger declared length is corrupt; checking it bounds the allocation.
	if dlen > maxChunk || int64(dlen) > 22*int64(n) || (limit >= 0 && int64(dlen) > limit) {
		return fmt.Errorf("decode snappy chunk: %w: %d bytes exceed the block", ErrCorrupt, dlen)
	}
	if dlen > cap(s.dst) {
		s.dst = make([]byte, dlen)
	}
	dst, err := snappy.DecodeStrict(s.dst[:cap(s.dst)], src)
	if err != nil {
		return corrupt("decode snappy chunk", err)
	}
	s.pending = dst
	return nil
}

// corrupt wraps err, turning a premature end of input into ErrCorrupt.
func corrupt(op string, err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, snappy.ErrCorrupt) {
		return fmt.Errorf("%s: %w: %w", op, ErrCorrupt, err)
	}
	return fmt.Errorf("%s: %w", op, err)
}
