package processor

import (
	"bytes"
	"context"
	"fmt"
	"io"

	"github.com/klauspost/compress/gzip"
)

// MaxDecompressedSize bounds the decompressed size of one record, against
// gzip bombs.
const MaxDecompressedSize = 64 << 20

// decompressionStage is Decompression with CompressionFormat GZIP.
type decompressionStage struct{}

func newDecompressionStage(Spec) decompressionStage { return decompressionStage{} }

func (decompressionStage) run(_ context.Context, r *runState, in []item) ([]item, error) {
	out := make([]item, 0, len(in))
	var zr *gzip.Reader
	var buf bytes.Buffer
	for _, it := range in {
		d, code, err := gunzip(&zr, &buf, it.rec.Data)
		if err != nil {
			r.fail(it, code, err.Error(), OutputDecompressionFailed, 1, "")
			continue
		}
		it.rec.Data = d
		out = append(out, it)
	}
	return out, nil
}

// gunzip decompresses data (one or more gzip members), reusing *zr. The
// result is a fresh slice.
func gunzip(zr **gzip.Reader, buf *bytes.Buffer, data []byte) ([]byte, string, error) {
	src := bytes.NewReader(data)
	var err error
	if *zr == nil {
		*zr, err = gzip.NewReader(src)
	} else {
		err = (*zr).Reset(src)
	}
	if err != nil {
		return nil, CodeDecompressionInvalidData, fmt.Errorf("record is not valid GZIP data: %v", err)
	}
	buf.Reset()
	n, err := io.Copy(buf, io.LimitReader(*zr, MaxDecompressedSize+1))
	if err != nil {
		return nil, CodeDecompressionInvalidData, fmt.Errorf("record is not valid GZIP data: %v", err)
	}
	if n > MaxDecompressedSize {
		return nil, CodeDecompressionSizeLimitExceeded, fmt.Errorf("record decompresses to more than %d bytes", MaxDecompressedSize)
	}
	return bytes.Clone(buf.Bytes()), "", nil
}
