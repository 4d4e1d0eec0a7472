package delivery

import (
	"bytes"
	"fmt"
	"sync"

	"github.com/hydrant-dev/hydrant/internal/compress"
)

// kit is what one write needs to encode an object: an encoder of its format and the buffer
// the encoded object is written to. Kits are reused, so writes allocate nothing per object.
type kit struct {
	enc *compress.Encoder
	out bytes.Buffer
}

// encode returns data encoded as one object. The result aliases the kit (or data, for
// UNCOMPRESSED) until the kit is put back.
func (k *kit) encode(data []byte) ([]byte, error) {
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
	if f == "" || f == compress.Uncompressed {
		return &kit{}, nil
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
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.free[f]) < maxKits {
		p.free[f] = append(p.free[f], k)
	}
}
