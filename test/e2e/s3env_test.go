package e2e

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/firehose"
	"github.com/aws/aws-sdk-go-v2/service/firehose/types"
	"github.com/hydrant-dev/hydrant/internal/testenv"
)

// TestEndpointFromEnvironment runs the binary exactly as the README says a user points it at
// MinIO: AWS_ENDPOINT_URL_S3 and the standard credential variables, nothing else.
func TestEndpointFromEnvironment(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: runs the built binary")
	}
	m := testenv.StartMinIO(t)
	m.CreateBucket(t, "lake")
	s := startServer(t, "", m.Env()...)
	c := newFirehose(s.URL)
	createS3Stream(t, c, "to-minio", "lake", 1, 60)
	recs := []types.Record{{Data: []byte("one\n")}, {Data: []byte("two\n")}}
	if _, err := c.PutRecordBatch(context.Background(), &firehose.PutRecordBatchInput{DeliveryStreamName: aws.String("to-minio"), Records: recs}); err != nil {
		t.Fatal(err)
	}
	s.Flush("to-minio")
	objs := m.Objects(t, "lake")
	if len(objs) != 1 {
		t.Fatalf("MinIO holds %d objects, want 1", len(objs))
	}
	for k, b := range objs {
		if string(b) != "one\ntwo\n" {
			t.Errorf("%s = %q", k, b)
		}
	}
	if local := s.Objects("lake"); len(local) != 0 {
		t.Errorf("objects also written to the local directory: %v", local)
	}
}
