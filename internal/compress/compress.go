// Package compress writes and reads the five object compression formats of
// Amazon Data Firehose: UNCOMPRESSED, GZIP, ZIP, Snappy (the xerial
// snappy-java stream) and HADOOP_SNAPPY (Hadoop's block framing).
//
// Writers stream: an [Encoder] buffers at most one compression block, never the
// whole object, and can be [Encoder.Reset] to write the next object with the
// same buffers. Readers exist for tests and tools. The byte layout of every
// format is described in docs/design/compression.md.
//
// The package is a leaf: it imports no other package of this module.
package compress

import (
	"errors"
	"fmt"
	"time"
)

// Format is a Firehose CompressionFormat. Its values are the exact wire
// strings of the Firehose API, which are case-sensitive.
type Format string

// The CompressionFormat values Firehose accepts.
const (
	// Uncompressed stores the records as they are.
	Uncompressed Format = "UNCOMPRESSED"
	// Gzip stores the object as one gzip member.
	Gzip Format = "GZIP"
	// Zip stores the object as a ZIP archive with one deflated entry.
	Zip Format = "ZIP"
	// Snappy stores the object as a xerial snappy-java stream.
	Snappy Format = "Snappy"
	// HadoopSnappy stores the object in Hadoop's snappy block framing.
	HadoopSnappy Format = "HADOOP_SNAPPY"
)

// ErrUnknownFormat reports a CompressionFormat that is not one of the five
// Firehose values.
var ErrUnknownFormat = errors.New("unknown compression format")

// ErrCorrupt reports compressed input that does not follow its format.
var ErrCorrupt = errors.New("corrupt compressed data")

// Formats returns every Format, in the order the Firehose documentation lists
// them.
func Formats() []Format {
	return []Format{Uncompressed, Gzip, Zip, Snappy, HadoopSnappy}
}

// Validate returns an error wrapping ErrUnknownFormat unless f is one of the
// five Firehose values, spelt exactly.
func (f Format) Validate() error {
	switch f {
	case Uncompressed, Gzip, Zip, Snappy, HadoopSnappy:
		return nil
	}
	return fmt.Errorf("compression format %q: %w", string(f), ErrUnknownFormat)
}

// Extension returns the default extension Firehose gives object keys in
// format f, with its leading dot: "", ".gz", ".zip", ".snappy" or ".snappy".
// HADOOP_SNAPPY uses ".snappy" as observed from AWS, not the ".hsnappy" of the
// AWS documentation. An unknown format has no extension.
func (f Format) Extension() string {
	switch f {
	case Gzip:
		return ".gz"
	case Zip:
		return ".zip"
	case Snappy, HadoopSnappy:
		return ".snappy"
	}
	return ""
}

// ObjectExtension returns the extension of an object key in format f when the
// destination's FileExtension is fileExtension: a non-empty FileExtension
// replaces the default extension rather than being appended to it, and the
// empty string means FileExtension is not set.
func (f Format) ObjectExtension(fileExtension string) string {
	if fileExtension != "" {
		return fileExtension
	}
	return f.Extension()
}

// ContentEncoding returns the Content-Encoding Firehose sets on S3 objects in
// format f: "", "gzip", "zip", "snappy-java" or "hadoop-snappy". The empty
// string means the header is absent.
func (f Format) ContentEncoding() string {
	switch f {
	case Gzip:
		return "gzip"
	case Zip:
		return "zip"
	case Snappy:
		return "snappy-java"
	case HadoopSnappy:
		return "hadoop-snappy"
	}
	return ""
}

// Deflate levels for Config.Level.
const (
	// DefaultLevel selects klauspost/compress's default deflate level.
	DefaultLevel = 0
	// BestSpeed is the fastest deflate level.
	BestSpeed = 1
	// BestCompression is the smallest deflate level.
	BestCompression = 9
)

// Config configures an Encoder. The zero value is ready to use.
type Config struct {
	// Level is the deflate level of GZIP and ZIP objects, from BestSpeed (1) to
	// BestCompression (9). DefaultLevel (0) selects klauspost/compress's
	// default. Other formats ignore it.
	Level int
	// ZipEntryName names the single entry of each ZIP object. Empty means a
	// new random UUID per object.
	ZipEntryName string
	// Now returns the modification time recorded in ZIP entries. Nil means
	// time.Now.
	Now func() time.Time
	// Concurrency is how many blocks of a GZIP object are compressed in
	// parallel (klauspost/pgzip: still one gzip member, each block primed with
	// the previous block's last 32 KiB). 0 or 1 compresses on one goroutine.
	Concurrency int
}

// gzipBlockSize is the input size of one block of a parallel GZIP object.
const gzipBlockSize = 1 << 20

// Validate reports a Config field outside its bounds.
func (c Config) Validate() error {
	if c.Level != DefaultLevel && (c.Level < BestSpeed || c.Level > BestCompression) {
		return fmt.Errorf("compress config: Level %d: must be 0 (default) or between %d and %d", c.Level, BestSpeed, BestCompression)
	}
	if c.Concurrency < 0 || c.Concurrency > 256 {
		return fmt.Errorf("compress config: Concurrency %d: must be between 0 and 256", c.Concurrency)
	}
	return nil
}
