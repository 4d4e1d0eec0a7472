package journal

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// lastMsg returns the last message on subject in the JetStream stream stream: its data and
// sequence, or found false. On one node it is a direct get. In a cluster a direct get may be
// answered by a replica that has not yet stored the newest messages, so the request goes to the
// stream's leader, which answers with what the quorum stored (docs/design/cluster.md).
func (j *Journal) lastMsg(ctx context.Context, stream, subject string) (data []byte, seq uint64, found bool, err error) {
	if !j.Clustered() {
		m, err := j.directGet(ctx, streamRef{stream: stream}, directGetReq{LastBySubj: subject})
		if err != nil || m == nil {
			return nil, 0, false, err
		}
		seq, err := strconv.ParseUint(m.Header.Get(jetstream.SequenceHeader), 10, 64)
		if err != nil {
			return nil, 0, false, fmt.Errorf("last message of %s: %w", subject, err)
		}
		if op := m.Header.Get("KV-Operation"); op == "DEL" || op == "PURGE" {
			return nil, seq, false, nil
		}
		return m.Data, seq, true, nil
	}
	return j.leaderGet(ctx, stream, directGetReq{LastBySubj: subject})
}

// leaderGetAttempt bounds one request to a stream's leader: a request that reached a leader as
// it was replaced (a server killed, a partition) gets no answer, and is sent again.
const leaderGetAttempt = 2 * time.Second

// leaderGet asks the leader of the JetStream stream stream for the message req finds. A request
// without an answer within leaderGetAttempt is sent again until ctx ends.
func (j *Journal) leaderGet(ctx context.Context, stream string, req directGetReq) (data []byte, seq uint64, found bool, err error) {
	subject := req.LastBySubj + req.NextBySubj
	body, err := json.Marshal(req)
	if err != nil {
		return nil, 0, false, err
	}
	var msg *nats.Msg
	for {
		actx, cancel := context.WithTimeout(ctx, leaderGetAttempt)
		msg, err = j.nc.RequestWithContext(actx, "$JS.API.STREAM.MSG.GET."+stream, body)
		cancel()
		if err == nil || ctx.Err() != nil || !errors.Is(err, context.DeadlineExceeded) {
			break
		}
		j.log.Debug("journal asks a stream's leader again", "stream", stream, "err", err)
	}
	if err != nil {
		if errors.Is(err, nats.ErrNoResponders) {
			return nil, 0, false, ErrNoStream
		}
		return nil, 0, false, err
	}
	var resp struct {
		Error   *jetstream.APIError `json:"error"`
		Message *struct {
			Seq  uint64 `json:"seq"`
			Hdrs []byte `json:"hdrs"`
			Data []byte `json:"data"`
		} `json:"message"`
	}
	if err := json.Unmarshal(msg.Data, &resp); err != nil {
		return nil, 0, false, fmt.Errorf("last message of %s: %w", subject, err)
	}
	switch {
	case resp.Error != nil && resp.Error.ErrorCode == jetstream.JSErrCodeMessageNotFound:
		return nil, 0, false, nil
	case resp.Error != nil && resp.Error.ErrorCode == jetstream.JSErrCodeStreamNotFound:
		return nil, 0, false, ErrNoStream
	case resp.Error != nil:
		return nil, 0, false, resp.Error
	case resp.Message == nil:
		return nil, 0, false, fmt.Errorf("last message of %s: empty answer", subject)
	}
	if bytes.Contains(resp.Message.Hdrs, []byte("KV-Operation: DEL")) || bytes.Contains(resp.Message.Hdrs, []byte("KV-Operation: PURGE")) {
		return nil, resp.Message.Seq, false, nil
	}
	return resp.Message.Data, resp.Message.Seq, true, nil
}

// wakeSubject carries, in a cluster, the news that a stream was appended to on some node, so
// that every node's parked readers and sleeping workers of it look again (docs/design/cluster.md).
const wakeSubject = "hydrant.wake."

// announce tells the other nodes that the stream name was appended to.
func (j *Journal) announce(name string) {
	if j.Clustered() {
		_ = j.nc.Publish(wakeSubject+encodeName(name), nil) // best effort: readers also poll
	}
}

// forgetSubject carries, in a cluster, the news that a stream was deleted on some node, so that
// every node drops what it cached of it (its place, its committer, its last message): a stream
// created again under the name gets a new nonce, which its record IDs carry.
const forgetSubject = "hydrant.forget."

// announceDelete tells the other nodes that the stream name was deleted.
func (j *Journal) announceDelete(name string) {
	if j.Clustered() {
		_ = j.nc.Publish(forgetSubject+encodeName(name), nil) // best effort, see forgetSubject
	}
}

// listenWakes wakes this node's readers of a stream another node appended to, and forgets the
// streams other nodes deleted.
func (j *Journal) listenWakes() error {
	if !j.Clustered() {
		return nil
	}
	if _, err := j.nc.Subscribe(wakeSubject+"*", func(m *nats.Msg) {
		name, err := decodeName(m.Subject[len(wakeSubject):])
		if err == nil {
			j.wake(name)
		}
	}); err != nil {
		return err
	}
	_, err := j.nc.Subscribe(forgetSubject+"*", func(m *nats.Msg) {
		name, err := decodeName(m.Subject[len(forgetSubject):])
		if err == nil {
			j.forget(name)
			j.wake(name) // parked readers find the stream gone
		}
	})
	return err
}
