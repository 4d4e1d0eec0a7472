package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/firehose"
	"github.com/aws/aws-sdk-go-v2/service/firehose/types"
	"github.com/aws/smithy-go"
	"github.com/spf13/cobra"
)

// ErrCreateFailed is returned by streams create --wait when the stream ends in CREATING_FAILED.
var ErrCreateFailed = errors.New("delivery stream creation failed")

// callError is a failed API call; its message is the operation, the error code and the
// service's message, as the AWS CLI reports them.
type callError struct {
	op  string
	err error
}

func (e *callError) Error() string {
	var ae smithy.APIError
	if errors.As(e.err, &ae) {
		return fmt.Sprintf("%s: %s: %s", e.op, ae.ErrorCode(), ae.ErrorMessage())
	}
	return e.op + ": " + e.err.Error()
}

func (e *callError) Unwrap() error { return e.err }

func newStreams(stdout, stderr io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "streams",
		Short: "List, describe, create and delete delivery streams",
		Long: `List, describe, create and delete delivery streams through the Firehose API, on Hydrant
or on AWS (--endpoint-url aws). Output is JSON as the AWS CLI prints it.`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(newStreamsList(stdout), newStreamsDescribe(stdout), newStreamsCreate(stdout, stderr), newStreamsDelete(stderr))
	return cmd
}

func newStreamsList(stdout io.Writer) *cobra.Command {
	var (
		af                awsFlags
		streamType, start string
		output            string
		limit             int32
	)
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List delivery stream names",
		Long: `List delivery stream names, one a line, following every page. With --output json it makes one
ListDeliveryStreams call (--limit, --exclusive-start-delivery-stream-name) and prints the
response as the AWS CLI's "firehose list-delivery-streams" does.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			c, err := af.connect(ctx)
			if err != nil {
				return err
			}
			in := &firehose.ListDeliveryStreamsInput{}
			if streamType != "" {
				in.DeliveryStreamType = types.DeliveryStreamType(streamType)
			}
			if limit > 0 {
				in.Limit = aws.Int32(limit)
			}
			if start != "" {
				in.ExclusiveStartDeliveryStreamName = aws.String(start)
			}
			switch output {
			case "json":
				var raw []byte
				if _, err := c.firehose(captureBody(&raw)).ListDeliveryStreams(ctx, in); err != nil {
					return &callError{"ListDeliveryStreams", err}
				}
				return writeCLIJSON(stdout, raw, time.Local)
			case "text":
				client := c.firehose()
				for {
					out, err := client.ListDeliveryStreams(ctx, in)
					if err != nil {
						return &callError{"ListDeliveryStreams", err}
					}
					for _, n := range out.DeliveryStreamNames {
						fmt.Fprintln(stdout, n)
					}
					if !aws.ToBool(out.HasMoreDeliveryStreams) || len(out.DeliveryStreamNames) == 0 {
						return nil
					}
					in.ExclusiveStartDeliveryStreamName = aws.String(out.DeliveryStreamNames[len(out.DeliveryStreamNames)-1])
				}
			default:
				return fmt.Errorf("--output %q: must be text or json", output)
			}
		},
	}
	f := cmd.Flags()
	af.register(cmd)
	f.StringVar(&streamType, "delivery-stream-type", "", "only streams of this type: DirectPut, KinesisStreamAsSource, MSKAsSource or DatabaseAsSource")
	f.Int32Var(&limit, "limit", 0, "names per ListDeliveryStreams call (default: the service's, 10)")
	f.StringVar(&start, "exclusive-start-delivery-stream-name", "", "list names after this one")
	f.StringVar(&output, "output", "text", "text (names, one a line) or json (one call's response, as the AWS CLI prints it)")
	return cmd
}

func newStreamsDescribe(stdout io.Writer) *cobra.Command {
	var (
		af            awsFlags
		name, startID string
		limit         int32
	)
	cmd := &cobra.Command{
		Use:   "describe",
		Short: "Describe a delivery stream (JSON, as the AWS CLI prints it)",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			c, err := af.connect(ctx)
			if err != nil {
				return err
			}
			in := &firehose.DescribeDeliveryStreamInput{DeliveryStreamName: aws.String(name)}
			if limit > 0 {
				in.Limit = aws.Int32(limit)
			}
			if startID != "" {
				in.ExclusiveStartDestinationId = aws.String(startID)
			}
			var raw []byte
			out, err := c.firehose(captureBody(&raw)).DescribeDeliveryStream(ctx, in)
			if err != nil {
				return &callError{"DescribeDeliveryStream", err}
			}
			if t := out.DeliveryStreamDescription.DeliveryStreamType; t == types.DeliveryStreamTypeKinesisStreamAsSource || t == types.DeliveryStreamTypeMSKAsSource {
				raw = withSourceStatus(ctx, c, name, raw)
			}
			return writeCLIJSON(stdout, raw, time.Local)
		},
	}
	f := cmd.Flags()
	af.register(cmd)
	f.StringVar(&name, "delivery-stream-name", "", "the delivery stream")
	f.Int32Var(&limit, "limit", 0, "most destinations to describe")
	f.StringVar(&startID, "exclusive-start-destination-id", "", "describe destinations after this one")
	_ = cmd.MarkFlagRequired("delivery-stream-name")
	return cmd
}

func newStreamsCreate(stdout, stderr io.Writer) *cobra.Command {
	var (
		af                      awsFlags
		input, name, streamType string
		wait                    bool
		waitTimeout             time.Duration
	)
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Create a delivery stream from a CreateDeliveryStream request",
		Long: `Create a delivery stream. --cli-input-json takes the CreateDeliveryStream request as the AWS
CLI does: JSON text, or file://path to read it from a file. --delivery-stream-name and
--delivery-stream-type, when given, override the JSON's. The response is printed as the AWS
CLI prints it; --wait then polls until the stream is ACTIVE (and fails on CREATING_FAILED).`,
		Example: `  hydrant streams create --cli-input-json file://stream.json --wait
  hydrant streams create --delivery-stream-name logs --cli-input-json '{"ExtendedS3DestinationConfiguration":{"RoleARN":"arn:aws:iam::000000000000:role/r","BucketARN":"arn:aws:s3:::logs"}}'`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			in := &firehose.CreateDeliveryStreamInput{}
			if input != "" {
				b, err := readCLIInput(input)
				if err != nil {
					return err
				}
				if err := decodeInput(b, in); err != nil {
					return err
				}
			}
			if name != "" {
				in.DeliveryStreamName = aws.String(name)
			}
			if streamType != "" {
				in.DeliveryStreamType = types.DeliveryStreamType(streamType)
			}
			if aws.ToString(in.DeliveryStreamName) == "" {
				return fmt.Errorf("%w: missing required parameter DeliveryStreamName (--delivery-stream-name or in --cli-input-json)", errParamValidation)
			}
			c, err := af.connect(ctx)
			if err != nil {
				return err
			}
			var raw []byte
			client := c.firehose(captureBody(&raw))
			if _, err := client.CreateDeliveryStream(ctx, in); err != nil {
				return &callError{"CreateDeliveryStream", err}
			}
			if err := writeCLIJSON(stdout, raw, time.Local); err != nil {
				return err
			}
			if !wait {
				return nil
			}
			ctx, cancel := context.WithTimeout(ctx, waitTimeout)
			defer cancel()
			err = poll(ctx, func() (bool, error) {
				out, err := client.DescribeDeliveryStream(ctx, &firehose.DescribeDeliveryStreamInput{DeliveryStreamName: in.DeliveryStreamName})
				if err != nil {
					return false, &callError{"DescribeDeliveryStream", err}
				}
				d := out.DeliveryStreamDescription
				switch d.DeliveryStreamStatus {
				case types.DeliveryStreamStatusActive:
					return true, nil
				case types.DeliveryStreamStatusCreatingFailed:
					msg := ""
					if fd := d.FailureDescription; fd != nil {
						msg = fmt.Sprintf(": %s: %s", fd.Type, aws.ToString(fd.Details))
					}
					return false, fmt.Errorf("%w%s", ErrCreateFailed, msg)
				}
				return false, nil
			})
			if err != nil {
				return fmt.Errorf("wait for %s to be ACTIVE: %w", aws.ToString(in.DeliveryStreamName), err)
			}
			fmt.Fprintf(stderr, "delivery stream %s is ACTIVE\n", aws.ToString(in.DeliveryStreamName))
			return nil
		},
	}
	f := cmd.Flags()
	af.register(cmd)
	f.StringVar(&input, "cli-input-json", "", "the CreateDeliveryStream request: JSON text or file://path")
	f.StringVar(&name, "delivery-stream-name", "", "the delivery stream's name (overrides the JSON's)")
	f.StringVar(&streamType, "delivery-stream-type", "", "DirectPut, KinesisStreamAsSource, MSKAsSource or DatabaseAsSource (overrides the JSON's)")
	f.BoolVar(&wait, "wait", false, "wait until the stream is ACTIVE")
	f.DurationVar(&waitTimeout, "wait-timeout", 10*time.Minute, "longest wait with --wait")
	return cmd
}

func newStreamsDelete(stderr io.Writer) *cobra.Command {
	var (
		af          awsFlags
		name        string
		force, wait bool
		waitTimeout time.Duration
	)
	cmd := &cobra.Command{
		Use:   "delete",
		Short: "Delete a delivery stream",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			c, err := af.connect(ctx)
			if err != nil {
				return err
			}
			client := c.firehose()
			in := &firehose.DeleteDeliveryStreamInput{DeliveryStreamName: aws.String(name)}
			if force {
				in.AllowForceDelete = aws.Bool(true)
			}
			if _, err := client.DeleteDeliveryStream(ctx, in); err != nil {
				return &callError{"DeleteDeliveryStream", err}
			}
			if !wait {
				return nil
			}
			ctx, cancel := context.WithTimeout(ctx, waitTimeout)
			defer cancel()
			err = poll(ctx, func() (bool, error) {
				_, err := client.DescribeDeliveryStream(ctx, &firehose.DescribeDeliveryStreamInput{DeliveryStreamName: aws.String(name)})
				var nf *types.ResourceNotFoundException
				if errors.As(err, &nf) {
					return true, nil
				}
				if err != nil {
					return false, &callError{"DescribeDeliveryStream", err}
				}
				return false, nil
			})
			if err != nil {
				return fmt.Errorf("wait for %s to be deleted: %w", name, err)
			}
			fmt.Fprintf(stderr, "delivery stream %s is deleted\n", name)
			return nil
		},
	}
	f := cmd.Flags()
	af.register(cmd)
	f.StringVar(&name, "delivery-stream-name", "", "the delivery stream")
	f.BoolVar(&force, "allow-force-delete", false, "delete even if the stream's CMK is unusable (AllowForceDelete)")
	f.BoolVar(&wait, "wait", false, "wait until the stream is gone")
	f.DurationVar(&waitTimeout, "wait-timeout", 10*time.Minute, "longest wait with --wait")
	_ = cmd.MarkFlagRequired("delivery-stream-name")
	return cmd
}

// poll calls done with growing pauses (100 ms doubling to 2 s) until it reports true or
// an error, or ctx ends.
func poll(ctx context.Context, done func() (bool, error)) error {
	pause := 100 * time.Millisecond
	for {
		ok, err := done()
		if ok || err != nil {
			return err
		}
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		pause = min(2*pause, 2*time.Second)
	}
}

// checkStreamExists calls DescribeDeliveryStream and returns its error only when the
// stream does not exist, for commands whose own API answers a missing stream with nothing
// (CloudWatch returns no datapoints) or with a message of its own. Other failures, such as
// a missing permission, are not the command's concern and yield nil.
func checkStreamExists(ctx context.Context, c *conn, name string) error {
	_, err := c.firehose().DescribeDeliveryStream(ctx, &firehose.DescribeDeliveryStreamInput{DeliveryStreamName: aws.String(name)})
	if nf := (*types.ResourceNotFoundException)(nil); errors.As(err, &nf) {
		return &callError{"DescribeDeliveryStream", err}
	}
	return nil
}

// withSourceStatus adds Hydrant's view of a source stream's reader (state, lag, the position in
// each shard or partition) to a DescribeDeliveryStream answer, as HydrantSourceStatus beside
// DeliveryStreamDescription. An answer it cannot extend (AWS, an older server) is kept as it is.
func withSourceStatus(ctx context.Context, c *conn, name string, raw []byte) []byte {
	resp, err := c.adminGet(ctx, "/_hydrant/streams/"+url.PathEscape(name)+"/source")
	if err != nil {
		return raw
	}
	defer resp.Body.Close()
	status, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil || resp.StatusCode != http.StatusOK || !json.Valid(status) {
		return raw
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(raw, &doc); err != nil {
		return raw
	}
	doc["HydrantSourceStatus"] = bytes.TrimSpace(status)
	b, err := json.Marshal(doc)
	if err != nil {
		return raw
	}
	return b
}
