package firehoseio_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/passert"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"
	"github.com/hydrant-dev/hydrant/firehoseio"
)

// TestWriteMissingStream points pipelines at a stream that does not exist: with the
// check (the default) the pipeline fails at setup with an error naming the stream;
// without it, it runs and every record comes back failed with ResourceNotFoundException.
func TestWriteMissingStream(t *testing.T) {
	h := startHydrant(t)
	h.createStream(t, "clicks")

	p, s := beam.NewPipelineWithRoot()
	firehoseio.Write(s, "clickz", beam.Create(s, []string{"one", "two"}), firehoseio.Endpoint(h.URL))
	err := ptest.Run(p)
	if err == nil {
		t.Fatal("pipeline writing to a missing stream succeeded")
	}
	t.Logf("pipeline error: %v", err)
	for _, want := range []string{"firehoseio.Write to clickz", "delivery stream not found", "ResourceNotFoundException"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}

	p, s = beam.NewPipelineWithRoot()
	failed := firehoseio.Write(s, "clickz", beam.Create(s, []string{"one", "two"}), firehoseio.Endpoint(h.URL), firehoseio.CheckStream(false))
	passert.Equals(s, beam.ParDo(s, summary, failed), "one: one ResourceNotFoundException 1", "two: two ResourceNotFoundException 1")
	ptest.RunAndValidate(t, p)
}

// fakeFirehose answers DescribeDeliveryStream (ACTIVE) and PutRecordBatch (every record
// accepted) and records the credentials each request was signed with.
type fakeFirehose struct {
	mu     sync.Mutex
	keys   map[string]int // access key ID and session token of each request
	record bytes.Buffer   // the data of every record, concatenated
}

func (f *fakeFirehose) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	_, cred, _ := strings.Cut(r.Header.Get("Authorization"), "Credential=")
	key, _, _ := strings.Cut(cred, "/")
	f.mu.Lock()
	defer f.mu.Unlock()
	f.keys[key+" "+r.Header.Get("X-Amz-Security-Token")]++
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	switch r.Header.Get("X-Amz-Target") {
	case "Firehose_20150804.DescribeDeliveryStream":
		fmt.Fprint(w, `{"DeliveryStreamDescription":{"DeliveryStreamName":"s","DeliveryStreamARN":"arn:aws:firehose:us-east-1:000000000000:deliverystream/s",`+
			`"DeliveryStreamStatus":"ACTIVE","DeliveryStreamType":"DirectPut","VersionId":"1","Destinations":[],"HasMoreDestinations":false}}`)
	case "Firehose_20150804.PutRecordBatch":
		var in struct{ Records []struct{ Data []byte } }
		if err := json.Unmarshal(body, &in); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		entries := make([]string, len(in.Records))
		for i, rec := range in.Records {
			f.record.Write(rec.Data)
			entries[i] = fmt.Sprintf(`{"RecordId":"r%d"}`, i)
		}
		fmt.Fprintf(w, `{"FailedPutCount":0,"Encrypted":false,"RequestResponses":[%s]}`, strings.Join(entries, ","))
	default:
		http.Error(w, "unexpected "+r.Header.Get("X-Amz-Target"), http.StatusBadRequest)
	}
}

// TestWriteCredentials signs with the Credentials option's keys, or a profile's, rather
// than the environment's (AKID, set by TestMain), and logs none of the secrets, even at
// debug level.
func TestWriteCredentials(t *testing.T) {
	const (
		keyID   = "AKIDFIREHOSEIOTEST"
		secret  = "firehoseio-secret-7f3a9c"
		token   = "firehoseio-token-41b2e8"
		profKey = "AKIDPROFILETEST"
		profSec = "profile-secret-9d8e7f"
	)
	creds := filepath.Join(t.TempDir(), "credentials")
	if err := os.WriteFile(creds, []byte("[firehoseio-test]\naws_access_key_id = "+profKey+"\naws_secret_access_key = "+profSec+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", creds)
	tests := []struct {
		name string
		opt  firehoseio.Option
		want string // access key ID and session token of every request
	}{
		{"static keys", firehoseio.Credentials(keyID, secret, token), keyID + " " + token},
		{"profile", firehoseio.Profile("firehoseio-test"), profKey + " "},
		{"default chain", nil, "AKID "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := &fakeFirehose{keys: map[string]int{}}
			srv := httptest.NewServer(fake)
			defer srv.Close()
			var logs bytes.Buffer
			prev := slog.Default()
			slog.SetDefault(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
			defer slog.SetDefault(prev)

			p, s := beam.NewPipelineWithRoot()
			opts := []firehoseio.Option{firehoseio.Endpoint(srv.URL), firehoseio.LogLevel(slog.LevelDebug)}
			if tt.opt != nil {
				opts = append(opts, tt.opt)
			}
			passert.Empty(s, firehoseio.Write(s, "s", beam.Create(s, []string{"one", "two"}), opts...))
			ptest.RunAndValidate(t, p)
			slog.SetDefault(prev)

			fake.mu.Lock()
			defer fake.mu.Unlock()
			if len(fake.keys) != 1 || fake.keys[tt.want] < 2 {
				t.Errorf("requests signed with %v, want every one (a describe and a put at least) with %q", fake.keys, tt.want)
			}
			if got := fake.record.String(); got != "onetwo" {
				t.Errorf("records %q, want onetwo", got)
			}
			if !strings.Contains(logs.String(), `msg="put record batch"`) {
				t.Errorf("the debug log lacks the put:\n%s", logs.String())
			}
			for _, v := range []string{secret, token, profSec} {
				if strings.Contains(logs.String(), v) {
					t.Errorf("the log shows the secret %q:\n%s", v, logs.String())
				}
			}
		})
	}
}
