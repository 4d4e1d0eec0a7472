package cloudwatch

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"flag"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite testdata/responses from the handler's answers")

// goldenRequest is a request as a client sent it (testdata/requests, see capture.py).
type goldenRequest struct {
	Client     string            `json:"client"`
	Method     string            `json:"method"`
	Path       string            `json:"path"`
	Headers    map[string]string `json:"headers"`
	Body       string            `json:"body,omitempty"`
	BodyBase64 string            `json:"body_base64,omitempty"`
}

// goldenResponse is the handler's answer (testdata/responses). CBOR bodies are kept as base64
// and, for reading, decoded into BodyDecoded.
type goldenResponse struct {
	Status      int               `json:"status"`
	Headers     map[string]string `json:"headers"`
	Body        string            `json:"body,omitempty"`
	BodyBase64  string            `json:"body_base64,omitempty"`
	BodyDecoded any               `json:"body_decoded,omitempty"`
}

// goldenHeaders are the response headers the golden files pin.
var goldenHeaders = []string{"Content-Type", "Smithy-Protocol", "X-Amzn-Query-Error", "X-Amzn-Requestid"}

func readGoldenRequest(tb testing.TB, path string) *http.Request {
	tb.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	var g goldenRequest
	if err := json.Unmarshal(raw, &g); err != nil {
		tb.Fatalf("%s: %v", path, err)
	}
	body := []byte(g.Body)
	if g.BodyBase64 != "" {
		if body, err = base64.StdEncoding.DecodeString(g.BodyBase64); err != nil {
			tb.Fatalf("%s: %v", path, err)
		}
	}
	r := httptest.NewRequest(g.Method, g.Path, bytes.NewReader(body))
	for k, v := range g.Headers {
		r.Header.Set(k, v)
	}
	return r
}

// cborDiag renders a decoded CBOR value as JSON-friendly data; tag-1 times become "1(<epoch>)".
func cborDiag(v any) any {
	switch x := v.(type) {
	case time.Time:
		return "1(" + epochSeconds(x) + ")"
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = cborDiag(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = cborDiag(e)
		}
		return out
	}
	return v
}

func TestGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/requests/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden requests: %v", err)
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".json")
		t.Run(name, func(t *testing.T) {
			r := readGoldenRequest(t, file)
			if !Is(r) {
				t.Errorf("Is = false for %s", name)
			}
			w := httptest.NewRecorder()
			newTestHandler(t, newFakeSource()).ServeHTTP(w, r)
			got := goldenResponse{Status: w.Code, Headers: map[string]string{}}
			for _, h := range goldenHeaders {
				if v := w.Header().Get(h); v != "" {
					got.Headers[h] = v
				}
			}
			if strings.HasPrefix(w.Header().Get("Content-Type"), contentCBOR) {
				got.BodyBase64 = base64.StdEncoding.EncodeToString(w.Body.Bytes())
				v, err := decodeCBOR(w.Body.Bytes())
				if err != nil {
					t.Fatalf("response is not CBOR: %v", err)
				}
				got.BodyDecoded = cborDiag(v)
			} else {
				got.Body = w.Body.String()
			}
			// Round-trip through JSON so that got and want have the same dynamic types.
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			enc.SetEscapeHTML(false)
			enc.SetIndent("", " ")
			if err := enc.Encode(got); err != nil {
				t.Fatal(err)
			}
			gotJSON := buf.Bytes()
			wantPath := filepath.Join("testdata", "responses", name+".json")
			if *update {
				if err := os.MkdirAll(filepath.Dir(wantPath), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(wantPath, gotJSON, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			wantJSON, err := os.ReadFile(wantPath)
			if err != nil {
				t.Fatalf("%v (run: go test ./internal/metrics/cloudwatch -run TestGolden -update)", err)
			}
			var gotV, wantV goldenResponse
			if err := json.Unmarshal(gotJSON, &gotV); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(wantJSON, &wantV); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(wantV, gotV); diff != "" {
				t.Errorf("response mismatch (-want +got), regenerate with -update if intended:\n%s", diff)
			}
		})
	}
}
