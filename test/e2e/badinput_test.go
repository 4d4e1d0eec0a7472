package e2e

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// golden is one fixture of testdata/golden: a raw request and the answer the contract
// (/work/shared/reference/firehose-contract.md) expects.
type golden struct {
	Description string `json:"description"`
	// Target is the X-Amz-Target header; empty sends none.
	Target string `json:"target"`
	// Body is the request body verbatim; Generate builds large bodies instead.
	Body     *string   `json:"body"`
	Generate *generate `json:"generate"`

	Status int    `json:"status"`
	Type   string `json:"type"` // "__type" of the error body; empty for a 200
	// Message is the exact "message"; MessageContains a part of it, where the contract
	// does not pin the whole text.
	Message         string `json:"message"`
	MessageContains string `json:"messageContains"`
}

// generate describes a put whose records are runs of 'x' of the given sizes.
type generate struct {
	Stream  string `json:"stream"`
	Records []struct {
		Size   int `json:"size"`
		Repeat int `json:"repeat"`
	} `json:"records"`
}

// body renders the request; PutRecord takes the first record only.
func (g *generate) body(t testing.TB, target string) (body []byte, decoded int) {
	t.Helper()
	type rec struct {
		Data string `json:"Data"`
	}
	var recs []rec
	for _, r := range g.Records {
		data := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte("x"), r.Size))
		for range r.Repeat {
			recs = append(recs, rec{data})
			decoded += r.Size
		}
	}
	var v any = map[string]any{"DeliveryStreamName": g.Stream, "Records": recs}
	if strings.HasSuffix(target, ".PutRecord") {
		if len(recs) != 1 {
			t.Fatalf("a PutRecord fixture generates %d records, want 1", len(recs))
		}
		v = map[string]any{"DeliveryStreamName": g.Stream, "Record": recs[0]}
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b, decoded
}

var requestIDPattern = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// TestBadInput replays the golden requests over plain HTTP. Requests to stream "bad" must all
// be refused and deliver nothing; the boundary requests to stream "good" must be accepted and
// delivered whole.
func TestBadInput(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test")
	}
	files, err := filepath.Glob(filepath.Join("testdata", "golden", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden fixtures: %v", err)
	}
	srv := startServer(t, "")
	c := newFirehose(srv.URL)
	createS3Stream(t, c, "bad", "bad", 1, 900)
	createS3Stream(t, c, "good", "good", 128, 900)

	acceptedBytes := 0
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".json")
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var g golden
			dec := json.NewDecoder(bytes.NewReader(raw))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&g); err != nil {
				t.Fatalf("fixture %s: %v", f, err)
			}
			var body []byte
			decoded := 0
			switch {
			case g.Body != nil && g.Generate == nil:
				body = []byte(*g.Body)
			case g.Generate != nil && g.Body == nil:
				body, decoded = g.Generate.body(t, g.Target)
			default:
				t.Fatalf("fixture %s: give exactly one of body and generate", f)
			}

			status, reqID, out := rawCall(t, srv.URL, g.Target, body)
			if !requestIDPattern.MatchString(reqID) {
				t.Errorf("x-amzn-RequestId = %q, want a UUID on every response", reqID)
			}
			type answer struct {
				Status  int
				Type    string
				Message string
			}
			gotType, _ := out["__type"].(string)
			gotMsg, _ := out["message"].(string)
			got := answer{status, gotType, gotMsg}
			want := answer{g.Status, g.Type, g.Message}
			if g.Message == "" {
				want.Message = got.Message // not pinned by the contract; checked below if partly
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("%s\nanswer mismatch (-want +got):\n%s", g.Description, diff)
			}
			if g.MessageContains != "" && !strings.Contains(gotMsg, g.MessageContains) {
				t.Errorf("message = %q, want it to contain %q", gotMsg, g.MessageContains)
			}
			if g.Type != "" && gotMsg == "" {
				t.Errorf("error %s has no message", gotType)
			}
			if status == 200 {
				if n, ok := out["FailedPutCount"].(float64); ok && n != 0 {
					t.Errorf("FailedPutCount = %v, want 0", n)
				}
				if g.Body != nil { // an explicit body: count its decoded bytes
					var in struct{ Record struct{ Data []byte } }
					_ = json.Unmarshal(body, &in)
					decoded = len(in.Record.Data)
				}
				acceptedBytes += decoded
			}
		})
	}

	// Nothing that was refused may be delivered; everything accepted must be.
	srv.Flush("")
	if objs := srv.Objects("bad"); len(objs) != 0 {
		t.Errorf("refused requests delivered %d objects to bucket bad, e.g. %s", len(objs), objs[0].Key)
	}
	delivered := 0
	for _, o := range srv.Objects("good") {
		b := readFile(t, o.Path)
		if strings.Trim(string(b), "x") != "" {
			t.Errorf("object %s holds bytes that were never sent", o.Key)
		}
		delivered += len(b)
	}
	if diff := cmp.Diff(acceptedBytes, delivered); diff != "" {
		t.Errorf("bytes delivered to bucket good (-accepted +delivered):\n%s", diff)
	}
}
