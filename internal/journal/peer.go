package journal

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"
)

// Requests between the nodes of a cluster travel over the journal's connection to the cluster,
// on the subject hydrant.rpc.<kind>.<node> (docs/design/cluster.md, "Requests between nodes").

// rpcPrefix starts every subject of a request between nodes.
const rpcPrefix = "hydrant.rpc."

// errorHeader carries, on an answer, the serving node's error instead of a body; codeHeader the
// identity of that error when it has one (peerCodes).
const (
	errorHeader = "Hydrant-Error"
	codeHeader  = "Hydrant-Error-Code"
)

// MaxPeerRequests is the usual bound on the requests of one kind a node serves at once (Serve);
// a request beyond it is answered at once with ErrPeerBusy.
const MaxPeerRequests = 4

// Errors of requests between nodes.
var (
	// ErrPeerBusy reports that the asked node was already serving MaxPeerRequests requests of
	// the kind.
	ErrPeerBusy = errors.New("node busy")
	// ErrPeerFailed wraps the error with which the asked node answered.
	ErrPeerFailed = errors.New("node answered with an error")
	// ErrNotClustered reports a request between nodes made by a journal outside a cluster.
	ErrNotClustered = errors.New("journal is not part of a cluster")
	// ErrPeerAbsent reports that no node of the name listens for the kind of request: it was
	// certainly not served.
	ErrPeerAbsent = errors.New("no such node listening")
)

// peerCodes are the errors whose identity crosses between nodes: Ask's error wraps the same
// sentinel as the handler's did.
var peerCodes = map[string]error{
	"busy":      ErrPeerBusy,
	"full":      ErrFull,
	"no-stream": ErrNoStream,
}

// PeerHandler answers one request of a kind; it runs in its own goroutine, under the context of
// the Serve call.
type PeerHandler func(ctx context.Context, req []byte) ([]byte, error)

func rpcSubject(kind, node string) string {
	return rpcPrefix + encodeName(kind) + "." + encodeName(node)
}

// Serve answers the requests of kind that other nodes send this node with Ask, until ctx ends.
// At most limit run at once.
func (j *Journal) Serve(ctx context.Context, kind string, limit int, h PeerHandler) error {
	if !j.Clustered() {
		return ErrNotClustered
	}
	slots := make(chan struct{}, max(limit, 1))
	sub, err := j.nc.Subscribe(rpcSubject(kind, j.Node()), func(m *nats.Msg) {
		select {
		case slots <- struct{}{}:
		default:
			j.answer(m, nil, ErrPeerBusy)
			return
		}
		go func() {
			defer func() { <-slots }()
			out, err := h(ctx, m.Data)
			j.answer(m, out, err)
		}()
	})
	if err == nil {
		err = j.nc.Flush() // the local server has the subscription; the others learn it shortly
	}
	if err != nil {
		return fmt.Errorf("serve %s requests: %w", kind, err)
	}
	go func() {
		<-ctx.Done()
		_ = sub.Unsubscribe()
	}()
	return nil
}

// answer replies to m with out, or with err in the error header.
func (j *Journal) answer(m *nats.Msg, out []byte, err error) {
	r := nats.NewMsg(m.Reply)
	if err != nil {
		r.Header.Set(errorHeader, err.Error())
		for code, sentinel := range peerCodes {
			if errors.Is(err, sentinel) {
				r.Header.Set(codeHeader, code)
			}
		}
	} else {
		r.Data = out
	}
	if perr := j.nc.PublishMsg(r); perr != nil {
		j.log.Warn("journal could not answer a node's request", "subject", m.Subject, "err", perr)
	}
}

// Ask sends a request of kind to node and returns its answer. When the node answered with an
// error, Ask's wraps ErrPeerBusy, ErrFull or ErrNoStream when the node's did, else
// ErrPeerFailed; it wraps ErrPeerAbsent when no node of that name listens (then the request was
// certainly not served).
func (j *Journal) Ask(ctx context.Context, node, kind string, req []byte) ([]byte, error) {
	if !j.Clustered() {
		return nil, ErrNotClustered
	}
	m, err := j.nc.RequestMsgWithContext(ctx, &nats.Msg{Subject: rpcSubject(kind, node), Data: req})
	if errors.Is(err, nats.ErrNoResponders) {
		return nil, fmt.Errorf("ask node %s (%s): %w: %w", node, kind, ErrPeerAbsent, err)
	}
	if err != nil {
		return nil, fmt.Errorf("ask node %s (%s): %w", node, kind, err)
	}
	if e := m.Header.Get(errorHeader); e != "" {
		if sentinel, ok := peerCodes[m.Header.Get(codeHeader)]; ok {
			return nil, fmt.Errorf("ask node %s (%s): %w: %s", node, kind, sentinel, e)
		}
		return nil, fmt.Errorf("ask node %s (%s): %w: %s", node, kind, ErrPeerFailed, e)
	}
	return m.Data, nil
}
