package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/firehose"
	"github.com/aws/aws-sdk-go-v2/service/firehose/types"

	"github.com/hydrant-dev/hydrant/internal/testenv"
)

// argAfter returns the value after flag in args, or "".
func argAfter(args []string, flag string) string {
	if i := slices.Index(args, flag); i >= 0 && i+1 < len(args) {
		return args[i+1]
	}
	return ""
}

// dropArg returns args without flag and its value.
func dropArg(args []string, flag string) []string {
	i := slices.Index(args, flag)
	if i < 0 || i+1 >= len(args) {
		return args
	}
	return slices.Concat(args[:i], args[i+2:])
}

// tlsClient returns an HTTP client trusting the CA in caFile.
func tlsClient(t testing.TB, caFile string) *http.Client {
	t.Helper()
	pem, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatalf("no certificate in %s", caFile)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool}
	tr.ForceAttemptHTTP2 = true
	return &http.Client{Transport: tr}
}

// The keys of the secured servers: the acceptance check's two (one allowed everything, one
// only Describe* and List*), and one with a session token.
const (
	adminKey, adminSecret     = "AKIAE2EADMIN00001", "admin-secret-1"
	readerKey, readerSecret   = "AKIAE2EREADER0001", "reader-secret-1"
	sessionKey, sessionSecret = "AKIAE2ESESSION001", "session-secret-1"
	sessionToken              = "e2e-session-token"
)

// writeAuthConfig writes a config file with the three credentials (the admin's secret given)
// and, when certFile is set, TLS.
func writeAuthConfig(t *testing.T, path, adminSecretNow, certFile, keyFile string) {
	t.Helper()
	cfg := fmt.Sprintf(`credentials:
  - accessKeyId: %s
    secretAccessKey: %s
  - accessKeyId: %s
    secretAccessKey: %s
    name: reader
    actions: ["firehose:Describe*", "firehose:List*"]
  - accessKeyId: %s
    secretAccessKey: %s
    sessionToken: %s
`, adminKey, adminSecretNow, readerKey, readerSecret, sessionKey, sessionSecret, sessionToken)
	if certFile != "" {
		cfg += fmt.Sprintf("tlsCert: %s\ntlsKey: %s\n", certFile, keyFile)
	}
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
}

// signer returns a function that signs admin requests with the admin key.
func signer(secret *string) func(*http.Request) {
	return func(r *http.Request) {
		sum := sha256.Sum256(nil)
		_ = v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: adminKey, SecretAccessKey: *secret}, r,
			hex.EncodeToString(sum[:]), "firehose", "us-east-1", time.Now())
	}
}

// botoAuthScript runs every client case of the acceptance check with boto3 and prints, per
// case, the error code it got ("" for success).
const botoAuthScript = `
import json, sys, boto3, botocore
from botocore import UNSIGNED
from botocore.config import Config
url, stream = sys.argv[1], sys.argv[2]
keys = json.loads(sys.argv[3])
cfg = Config(retries={"max_attempts": 1})
def client(svc, key=None, secret=None, token=None, unsigned=False):
    c = cfg.merge(Config(signature_version=UNSIGNED)) if unsigned else cfg
    return boto3.client(svc, endpoint_url=url, region_name="us-east-1", config=c,
                        aws_access_key_id=key or "x", aws_secret_access_key=secret or "x", aws_session_token=token)
def code(f):
    try:
        f()
        return ""
    except botocore.exceptions.ClientError as e:
        return e.response["Error"]["Code"] + ": " + e.response["Error"]["Message"]
admin = client("firehose", keys["admin"][0], keys["admin"][1])
reader = client("firehose", keys["reader"][0], keys["reader"][1])
out = {}
out["admin create"] = code(lambda: admin.create_delivery_stream(DeliveryStreamName=stream,
    ExtendedS3DestinationConfiguration={"RoleARN": "arn:aws:iam::000000000000:role/r", "BucketARN": "arn:aws:s3:::authb"}))
import time
for _ in range(100):
    if admin.describe_delivery_stream(DeliveryStreamName=stream)["DeliveryStreamDescription"]["DeliveryStreamStatus"] == "ACTIVE":
        break
    time.sleep(0.1)
out["admin put_record_batch"] = code(lambda: admin.put_record_batch(DeliveryStreamName=stream, Records=[{"Data": b"boto-admin-1\n"}, {"Data": b"boto-admin-2\n"}]))
out["reader describe"] = code(lambda: reader.describe_delivery_stream(DeliveryStreamName=stream))
out["reader list"] = code(lambda: reader.list_delivery_streams())
out["reader put_record"] = code(lambda: reader.put_record(DeliveryStreamName=stream, Record={"Data": b"boto-reader\n"}))
out["reader delete"] = code(lambda: reader.delete_delivery_stream(DeliveryStreamName=stream))
out["wrong secret"] = code(lambda: client("firehose", keys["admin"][0], "wrong").put_record(DeliveryStreamName=stream, Record={"Data": b"boto-wrong\n"}))
out["unknown key"] = code(lambda: client("firehose", "AKIAE2EUNKNOWN001", "x").list_delivery_streams())
out["unsigned"] = code(lambda: client("firehose", unsigned=True).list_delivery_streams())
out["session token"] = code(lambda: client("firehose", keys["session"][0], keys["session"][1], keys["session"][2]).put_record(DeliveryStreamName=stream, Record={"Data": b"boto-session\n"}))
out["session token wrong"] = code(lambda: client("firehose", keys["session"][0], keys["session"][1], "other").put_record(DeliveryStreamName=stream, Record={"Data": b"boto-session-wrong\n"}))
out["cloudwatch admin"] = code(lambda: client("cloudwatch", keys["admin"][0], keys["admin"][1]).list_metrics(Namespace="AWS/Firehose"))
out["cloudwatch reader"] = code(lambda: client("cloudwatch", keys["reader"][0], keys["reader"][1]).list_metrics(Namespace="AWS/Firehose"))
out["cloudwatch wrong secret"] = code(lambda: client("cloudwatch", keys["admin"][0], "wrong").list_metrics(Namespace="AWS/Firehose"))
print(json.dumps(out))
`

// TestAuthAcceptance: a server with credentials, with and without TLS, refuses every unsigned,
// wrongly signed, unknown-key or not-allowed request with AWS's code, seen through boto3, the
// AWS CLI and aws-sdk-go-v2, stores nothing of them, and rotates a secret on SIGHUP.
func TestAuthAcceptance(t *testing.T) {
	py := requireTool(t, "python3")
	cli := requireTool(t, "aws")
	for _, useTLS := range []bool{false, true} {
		t.Run(map[bool]string{false: "http", true: "https"}[useTLS], func(t *testing.T) {
			dir := t.TempDir()
			var caFile, certFile, keyFile string
			args := []string{"--config", filepath.Join(dir, "hydrant.yaml")}
			if useTLS {
				if err := os.Mkdir(filepath.Join(dir, "tls"), 0o700); err != nil {
					t.Fatal(err)
				}
				caFile, certFile, keyFile = testenv.TLSFiles(t, filepath.Join(dir, "tls"))
				args = append(args, "--tls-ca", caFile)
			}
			writeAuthConfig(t, filepath.Join(dir, "hydrant.yaml"), adminSecret, certFile, keyFile)
			srv := startServerArgs(t, "", args)
			secret := adminSecret
			srv.signAs = signer(&secret)
			env := append(os.Environ(), "AWS_CA_BUNDLE="+caFile, "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null")
			stream := "auth-" + map[bool]string{false: "http", true: "https"}[useTLS]

			// boto3: every case of the acceptance check.
			keys, _ := json.Marshal(map[string][]string{
				"admin": {adminKey, adminSecret}, "reader": {readerKey, readerSecret}, "session": {sessionKey, sessionSecret, sessionToken}})
			cmd := exec.Command(py, "-c", botoAuthScript, srv.URL, stream, string(keys))
			cmd.Env = env
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("boto3: %v\n%s", err, stderrOf(err))
			}
			var got map[string]string
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatalf("boto3 output %q: %v", out, err)
			}
			want := map[string]string{
				"admin create": "", "admin put_record_batch": "", "reader describe": "", "reader list": "",
				"reader put_record":       "AccessDeniedException: User: arn:aws:iam::000000000000:user/reader is not authorized to perform: firehose:PutRecord on resource: arn:aws:firehose:us-east-1:000000000000:deliverystream/" + stream,
				"reader delete":           "AccessDeniedException: User: arn:aws:iam::000000000000:user/reader is not authorized to perform: firehose:DeleteDeliveryStream",
				"wrong secret":            "InvalidSignatureException: The request signature we calculated does not match the signature you provided.",
				"unknown key":             "UnrecognizedClientException: The security token included in the request is invalid.",
				"unsigned":                "MissingAuthenticationTokenException: Missing Authentication Token",
				"session token":           "",
				"session token wrong":     "UnrecognizedClientException: The security token included in the request is invalid.",
				"cloudwatch admin":        "",
				"cloudwatch reader":       "AccessDenied",
				"cloudwatch wrong secret": "SignatureDoesNotMatch",
			}
			for k, w := range want {
				if g, ok := got[k]; !ok || (w == "" && g != "") || !strings.HasPrefix(g, w) {
					t.Errorf("boto3 %s: got %q, want %q", k, g, w)
				}
			}

			// The AWS CLI, with the CA bundle.
			awsRun := func(key, secret string, args ...string) (string, error) {
				c := exec.Command(cli, append([]string{"--endpoint-url", srv.URL, "--region", "us-east-1", "firehose"}, args...)...)
				c.Env = append(slices.Clone(env), "AWS_ACCESS_KEY_ID="+key, "AWS_SECRET_ACCESS_KEY="+secret, "AWS_PAGER=", "AWS_MAX_ATTEMPTS=1")
				var stderr bytes.Buffer
				c.Stderr = &stderr
				o, err := c.Output()
				return string(o) + stderr.String(), err
			}
			if o, err := awsRun(adminKey, adminSecret, "put-record", "--delivery-stream-name", stream, "--record", "Data=cli-admin"); err != nil {
				t.Errorf("aws put-record as admin: %v\n%s", err, o)
			}
			if o, err := awsRun(readerKey, readerSecret, "list-delivery-streams"); err != nil || !strings.Contains(o, stream) {
				t.Errorf("aws list-delivery-streams as reader: %v\n%s", err, o)
			}
			if o, err := awsRun(readerKey, readerSecret, "put-record", "--delivery-stream-name", stream, "--record", "Data=cli-reader"); err == nil || !strings.Contains(o, "AccessDeniedException") {
				t.Errorf("aws put-record as reader: %v, want AccessDeniedException\n%s", err, o)
			}

			// aws-sdk-go-v2 over the same client; a request signed 6 minutes in the past
			// ("Signature expired") and one whose body was changed after signing.
			hc := srv.client
			sdk := firehose.New(firehose.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), HTTPClient: hc, RetryMaxAttempts: 1,
				Credentials: credentials.NewStaticCredentialsProvider(adminKey, adminSecret, "")})
			_, err = sdk.PutRecord(context.Background(), &firehose.PutRecordInput{DeliveryStreamName: aws.String(stream), Record: &types.Record{Data: []byte("sdk-admin\n")}})
			if err != nil {
				t.Errorf("aws-sdk-go-v2 put as admin: %v", err)
			}
			expired := signedRaw(t, hc, srv.URL, adminKey, adminSecret, time.Now().Add(-6*time.Minute), stream, "sdk-expired\n")
			if !strings.Contains(expired, "InvalidSignatureException") || !strings.Contains(expired, "Signature expired") {
				t.Errorf("a request signed 6 minutes ago: %s", expired)
			}
			tampered := signedRawTampered(t, hc, srv.URL, adminKey, adminSecret, stream)
			if !strings.Contains(tampered, "InvalidSignatureException") {
				t.Errorf("a tampered body: %s", tampered)
			}

			// Only the allowed puts were stored: boto3's two and session's one, the CLI's and
			// the SDK's.
			srv.Flush(stream)
			var all []byte
			for _, o := range srv.Objects("authb") {
				all = append(all, readFile(t, o.Path)...)
			}
			for _, r := range []string{"boto-admin-1", "boto-admin-2", "boto-session", "cli-admin", "sdk-admin"} {
				if n := bytes.Count(all, []byte(r)); n != 1 {
					t.Errorf("allowed record %q delivered %d times, want once", r, n)
				}
			}
			for _, r := range []string{"boto-reader", "boto-wrong", "boto-session-wrong", "cli-reader", "sdk-expired", "sdk-tampered", "sdk-tamperEd"} {
				if bytes.Contains(all, []byte(r)) {
					t.Errorf("refused record %q was delivered", r)
				}
			}

			// SIGHUP rotates the admin's secret.
			writeAuthConfig(t, filepath.Join(dir, "hydrant.yaml"), "admin-secret-2", certFile, keyFile)
			srv.signal(syscall.SIGHUP)
			deadline := time.Now().Add(10 * time.Second)
			for {
				_, errNew := awsRun(adminKey, "admin-secret-2", "list-delivery-streams")
				if errNew == nil {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("the rotated secret is not accepted 10 s after SIGHUP\n%s", srv.logTail())
				}
				time.Sleep(100 * time.Millisecond)
			}
			if o, err := awsRun(adminKey, adminSecret, "list-delivery-streams"); err == nil || !strings.Contains(o, "InvalidSignatureException") {
				t.Errorf("the old secret after SIGHUP: %v\n%s", err, o)
			}
			secret = "admin-secret-2"
			if strings.Contains(srv.logTail(), adminSecret) || strings.Contains(srv.logTail(), "admin-secret-2") {
				t.Error("the log shows a secret")
			}
		})
	}
}

// stderrOf returns the stderr of a failed exec.
func stderrOf(err error) string {
	if ee, ok := err.(*exec.ExitError); ok {
		return string(ee.Stderr)
	}
	return ""
}

// signedRaw sends a PutRecord signed by aws-sdk-go-v2's signer at time at and returns the
// status and body.
func signedRaw(t *testing.T, hc *http.Client, url, key, secret string, at time.Time, stream, data string) string {
	t.Helper()
	body := fmt.Sprintf(`{"DeliveryStreamName":%q,"Record":{"Data":%q}}`, stream, []byte(data))
	return doSigned(t, hc, url, key, secret, at, body, body)
}

// signedRawTampered signs one body and sends another.
func signedRawTampered(t *testing.T, hc *http.Client, url, key, secret, stream string) string {
	t.Helper()
	signed := fmt.Sprintf(`{"DeliveryStreamName":%q,"Record":{"Data":"c2RrLXRhbXBlcmVk"}}`, stream)
	sent := strings.Replace(signed, "c2RrLXRhbXBlcmVk", "c2RrLXRhbXBlckVk", 1)
	return doSigned(t, hc, url, key, secret, time.Now(), signed, sent)
}

func doSigned(t *testing.T, hc *http.Client, url, key, secret string, at time.Time, signedBody, sentBody string) string {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url+"/", strings.NewReader(sentBody))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", "Firehose_20150804.PutRecord")
	sum := sha256.Sum256([]byte(signedBody))
	if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: key, SecretAccessKey: secret}, req,
		hex.EncodeToString(sum[:]), "firehose", "us-east-1", at); err != nil {
		t.Fatal(err)
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	return fmt.Sprintf("%d %s", resp.StatusCode, b.String())
}

// TestAuthSecureDefault: without credentials, a non-loopback --listen fails the start at once
// with the reason; --insecure-no-auth starts it.
func TestAuthSecureDefault(t *testing.T) {
	port := freeAddr(t)
	_, p, _ := net.SplitHostPort(port)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, "serve", "--data-dir", t.TempDir(), "--listen", "0.0.0.0:"+p)
	out, err := cmd.CombinedOutput()
	if err == nil || ctx.Err() != nil {
		t.Fatalf("serve on 0.0.0.0 without credentials: err %v (context %v)\n%s", err, ctx.Err(), out)
	}
	if !strings.Contains(string(out), "refusing to serve 0.0.0.0:"+p+" without authentication") || !strings.Contains(string(out), "--insecure-no-auth") {
		t.Errorf("output does not say why:\n%s", out)
	}
}

// TestAuthSlowClient: a client sending its body a byte a second is cut off at readTimeout, on
// the real binary.
func TestAuthSlowClient(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "hydrant.yaml"), []byte("readTimeout: 2s\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := startServerArgs(t, "", []string{"--config", filepath.Join(dir, "hydrant.yaml")})
	conn, err := net.Dial("tcp", srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	start := time.Now()
	if _, err := fmt.Fprintf(conn, "POST / HTTP/1.1\r\nHost: %s\r\nX-Amz-Target: Firehose_20150804.ListDeliveryStreams\r\nContent-Type: application/x-amz-json-1.1\r\nContent-Length: 100\r\n\r\n", srv.Addr); err != nil {
		t.Fatal(err)
	}
	closed := make(chan time.Duration, 1)
	go func() {
		buf := make([]byte, 1)
		for {
			if _, err := conn.Read(buf); err != nil {
				closed <- time.Since(start)
				return
			}
		}
	}()
	for i := 0; i < 100; i++ {
		select {
		case d := <-closed:
			if d > 5*time.Second {
				t.Errorf("connection closed after %v, want about the 2 s readTimeout", d)
			}
			return
		case <-time.After(time.Second):
		}
		if _, err := conn.Write([]byte("{")); err != nil {
			d := time.Since(start)
			if d > 5*time.Second {
				t.Errorf("write failed after %v, want about the 2 s readTimeout", d)
			}
			return
		}
	}
	t.Fatal("the slow client held the connection for 100 s")
}
