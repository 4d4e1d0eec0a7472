package delivery

import (
	"bytes"
	"fmt"
	"sync"

	"github.com/hydrant-dev/hydrant/internal/compress"
)

// kit is what one write needs to encode an object: an encoder of its format and the buffer
// the encoded object is written to, or for GZIP the block workers and an object of its own.
// Kits are reused, so writes allocate nothing per object. A GZIP buffer compressed while it
// fills borrows a kit's blocks for each step (see batcher.compact).
type kit struct {
	enc    *compress.Encoder
	out    bytes.Buffer
	blocks *compress.Blocks
	pw     compress.Piecewise
}

// encode returns data encoded as one object. The result aliases the kit (or data, for
// UNCOMPRESSED) until the kit is put back.
func (k *kit) encode(data []byte) ([]byte, error) {
	if k.blocks != nil {
		k.pw.Reset(len(data))
		body, err := k.pw.Finish(k.blocks, data)
		if err != nil {
			return nil, fmt.Errorf("compress object: %w", err)
		}
		return body, nil
	}
	if k.enc == nil {
		return data, nil
	}
	k.out.Reset()
	// Room for a text object compressed about threefold, so that the buffer is not doubled
	// (and left half empty) on the way.
	k.out.Grow(len(data)/3 + 4<<10)
	k.enc.Reset(&k.out)
	if _, err := k.enc.Write(data); err != nil {
		return nil, fmt.Errorf("compress object: %w", err)
	}
	if err := k.enc.Close(); err != nil {
		return nil, fmt.Errorf("compress object: %w", err)
	}
	return k.out.Bytes(), nil
}

// kitPool keeps the kits of one stream, at most maxKits idle per format.
type kitPool struct {
	mu   sync.Mutex
	cfg  compress.Config
	free map[compress.Format][]*kit
}

// maxKits is how many idle kits a stream keeps per format, and maxKeptOut the largest output
// buffer a kept kit holds on to: a busy GZIP stream's kits otherwise keep every object's
// compressed copy (tens of MiB each) and the parallel encoder's blocks between writes.
const (
	maxKits    = 1
	maxKeptOut = 4 << 20
)

func newKitPool(cfg compress.Config) *kitPool {
	return &kitPool{cfg: cfg, free: map[compress.Format][]*kit{}}
}

func (p *kitPool) get(f compress.Format) (*kit, error) {
	p.mu.Lock()
	if ks := p.free[f]; len(ks) > 0 {
		k := ks[len(ks)-1]
		p.free[f] = ks[:len(ks)-1]
		p.mu.Unlock()
		return k, nil
	}
	p.mu.Unlock()
	switch f {
	case "", compress.Uncompressed:
		return &kit{}, nil
	case compress.Gzip:
		// GZIP objects are written in the parallel encoder's block layout whether they were
		// compressed while filling or at once, so the same records make the same bytes.
		b, err := compress.NewBlocks(p.cfg)
		if err != nil {
			return nil, err
		}
		return &kit{blocks: b}, nil
	}
	enc, err := compress.NewEncoder(f, p.cfg)
	if err != nil {
		return nil, err
	}
	return &kit{enc: enc}, nil
}

func (p *kitPool) put(f compress.Format, k *kit) {
	if k.out.Cap() > maxKeptOut {
		k.out = bytes.Buffer{}
	}
	if k.pw.Held() > maxKeptOut {
		k.pw.Drop()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.free[f]) < maxKits {
		p.free[f] = append(p.free[f], k)
	}
}
