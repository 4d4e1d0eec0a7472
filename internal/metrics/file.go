package metrics

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"math"
	"os"
	"path/filepath"
)

// The snapshot file format, version 1 (docs/design/metrics.md).
const (
	fileMagic     = "HYDRMETS"
	fileVersion   = 1
	frameSeries   = 0x01
	frameTrailer  = 0xFF
	maxFrameBytes = 64 << 20
	maxStringLen  = 1024
)

// ErrCorrupt reports a snapshot file that cannot be decoded.
var ErrCorrupt = errors.New("corrupt metrics file")

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// persist writes the snapshot atomically. It is a no-op without a Dir.
func (s *Store) persist() error {
	if s.cfg.Dir == "" {
		return nil
	}
	s.persistMu.Lock()
	defer s.persistMu.Unlock()
	buf := s.encode()
	if err := os.MkdirAll(s.cfg.Dir, 0o755); err != nil {
		return fmt.Errorf("create metrics dir: %w", err)
	}
	path := filepath.Join(s.cfg.Dir, FileName)
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("create metrics file: %w", err)
	}
	_, err = f.Write(buf)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write metrics file: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("rename metrics file: %w", err)
	}
	if d, err := os.Open(s.cfg.Dir); err == nil {
		d.Sync() // best effort: not every platform can sync a directory
		d.Close()
	}
	return nil
}

// load reads the snapshot, if any. An unreadable or corrupt file is logged and ignored.
func (s *Store) load() error {
	path := filepath.Join(s.cfg.Dir, FileName)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		s.log.Warn("metrics file unreadable", "path", path, "err", err)
		return nil
	}
	loaded, err := decode(b)
	if err != nil {
		s.log.Warn("metrics file unreadable", "path", path, "err", err)
		return nil
	}
	oldest := s.oldestKept()
	idx := make(map[seriesKey]*series, len(loaded))
	for _, ser := range loaded {
		i := 0
		for i < len(ser.minutes) && ser.minutes[i].t < oldest {
			i++
		}
		ser.minutes = ser.minutes[i:]
		if len(ser.minutes) > 0 {
			idx[ser.key] = ser
		}
	}
	s.index.Store(&idx)
	return nil
}

// encode returns the snapshot of every series.
func (s *Store) encode() []byte {
	buf := append([]byte(fileMagic), 0, 0, 0, 0)
	binary.LittleEndian.PutUint32(buf[len(fileMagic):], fileVersion)
	var payload []byte
	n := 0
	for _, ser := range s.all() {
		ser.drain()
		ser.mu.Lock()
		payload = appendSeries(payload[:0], ser)
		ser.mu.Unlock()
		buf = appendFrame(buf, payload)
		n++
	}
	payload = binary.AppendUvarint(append(payload[:0], frameTrailer), uint64(n))
	return appendFrame(buf, payload)
}

// appendFrame appends len, payload and its CRC-32C to b.
func appendFrame(b, payload []byte) []byte {
	b = binary.LittleEndian.AppendUint32(b, uint32(len(payload)))
	b = append(b, payload...)
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(payload, castagnoli))
}

// appendSeries appends the series payload of ser; the caller holds ser.mu.
func appendSeries(b []byte, ser *series) []byte {
	b = append(b, frameSeries)
	b = appendString(b, ser.key.stream)
	b = appendString(b, ser.key.name)
	b = appendString(b, string(ser.unit))
	b = appendF64(b, ser.totalSum)
	b = binary.AppendUvarint(b, ser.totalCount)
	b = binary.AppendUvarint(b, uint64(len(ser.minutes)))
	for i, m := range ser.minutes {
		if i == 0 {
			b = binary.AppendVarint(b, m.t)
		} else {
			b = binary.AppendUvarint(b, uint64(m.t-ser.minutes[i-1].t))
		}
		b = binary.AppendUvarint(b, m.n)
		b = appendF64(b, m.sum)
		b = appendF64(b, m.min)
		b = appendF64(b, m.max)
		b = binary.AppendUvarint(b, uint64(len(m.hist)))
		for j, h := range m.hist {
			if j == 0 {
				b = binary.AppendVarint(b, int64(h.key))
			} else {
				b = binary.AppendUvarint(b, uint64(h.key-m.hist[j-1].key))
			}
			b = binary.AppendUvarint(b, h.count)
		}
	}
	return b
}

func appendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

func appendF64(b []byte, f float64) []byte {
	return binary.LittleEndian.AppendUint64(b, math.Float64bits(f))
}

// corrupt returns an error wrapping ErrCorrupt.
func corrupt(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrCorrupt, fmt.Sprintf(format, args...))
}

// decode parses a whole snapshot file. It never panics; any defect returns an error wrapping
// ErrCorrupt.
func decode(b []byte) ([]*series, error) {
	if len(b) < len(fileMagic)+4 || string(b[:len(fileMagic)]) != fileMagic {
		return nil, corrupt("bad magic")
	}
	if v := binary.LittleEndian.Uint32(b[len(fileMagic):]); v != fileVersion {
		return nil, corrupt("unknown version %d", v)
	}
	b = b[len(fileMagic)+4:]
	var out []*series
	seen := map[seriesKey]bool{}
	for {
		if len(b) < 8 {
			return nil, corrupt("truncated frame")
		}
		n := binary.LittleEndian.Uint32(b)
		if n == 0 || n > maxFrameBytes || uint64(n)+8 > uint64(len(b)) {
			return nil, corrupt("bad frame length %d", n)
		}
		payload := b[4 : 4+n]
		if crc32.Checksum(payload, castagnoli) != binary.LittleEndian.Uint32(b[4+n:]) {
			return nil, corrupt("checksum mismatch")
		}
		b = b[8+n:]
		d := decoder{b: payload[1:]}
		switch payload[0] {
		case frameSeries:
			ser, err := d.series()
			if err != nil {
				return nil, err
			}
			if seen[ser.key] {
				return nil, corrupt("duplicate series %q %q", ser.key.stream, ser.key.name)
			}
			seen[ser.key] = true
			out = append(out, ser)
		case frameTrailer:
			count := d.uvarint()
			if d.err != nil || len(d.b) != 0 {
				return nil, corrupt("bad trailer")
			}
			if count != uint64(len(out)) {
				return nil, corrupt("trailer counts %d series, file has %d", count, len(out))
			}
			if len(b) != 0 {
				return nil, corrupt("%d bytes after the trailer", len(b))
			}
			return out, nil
		default:
			return nil, corrupt("unknown frame type %#x", payload[0])
		}
	}
}

// decoder reads the fields of one payload; the first error sticks.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = corrupt(format, args...)
	}
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("bad uvarint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail("bad varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) f64() float64 {
	if d.err != nil {
		return 0
	}
	if len(d.b) < 8 {
		d.fail("truncated float")
		return 0
	}
	f := math.Float64frombits(binary.LittleEndian.Uint64(d.b))
	d.b = d.b[8:]
	if math.IsNaN(f) || math.IsInf(f, 0) {
		d.fail("non-finite float")
	}
	return f
}

func (d *decoder) str() string {
	n := d.uvarint()
	if d.err != nil {
		return ""
	}
	if n > maxStringLen || n > uint64(len(d.b)) {
		d.fail("bad string length %d", n)
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

// series decodes a series payload after its type byte.
func (d *decoder) series() (*series, error) {
	ser := &series{}
	ser.key.stream = d.str()
	ser.key.name = d.str()
	ser.unit = Unit(d.str())
	ser.totalSum = d.f64()
	ser.totalCount = d.uvarint()
	nMin := d.uvarint()
	var prev int64
	for i := uint64(0); i < nMin && d.err == nil; i++ {
		var m minute
		if i == 0 {
			m.t = d.varint()
		} else {
			delta := d.uvarint()
			if delta == 0 || delta > math.MaxInt32 {
				d.fail("minutes not ascending")
			}
			m.t = prev + int64(delta)
		}
		if m.t > math.MaxInt64/120 || m.t < math.MinInt64/120 {
			d.fail("minute out of range")
		}
		prev = m.t
		m.n = d.uvarint()
		m.sum, m.min, m.max = d.f64(), d.f64(), d.f64()
		if m.n == 0 || m.min > m.max {
			d.fail("bad minute aggregate")
		}
		nb := d.uvarint()
		var total uint64
		var key int64
		for j := uint64(0); j < nb && d.err == nil; j++ {
			if j == 0 {
				key = d.varint()
			} else {
				delta := d.uvarint()
				if delta == 0 || delta > math.MaxUint32 {
					d.fail("buckets not ascending")
				}
				key += int64(delta)
			}
			if key < math.MinInt32 || key > math.MaxInt32 {
				d.fail("bucket key out of range")
			}
			c := d.uvarint()
			if c == 0 || c > m.n-total {
				d.fail("bad bucket count")
			}
			total += c
			m.hist = append(m.hist, bucket{int32(key), c})
		}
		if d.err == nil && total != m.n {
			d.fail("histogram counts %d samples, minute has %d", total, m.n)
		}
		ser.minutes = append(ser.minutes, m)
	}
	if d.err == nil && len(d.b) != 0 {
		d.fail("%d trailing bytes in series", len(d.b))
	}
	if d.err != nil {
		return nil, d.err
	}
	return ser, nil
}
