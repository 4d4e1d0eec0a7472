package cli

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/spf13/cobra"
)

// CloudWatch wire constants of GetMetricStatistics in AWS JSON 1.0.
const (
	cwTarget      = "GraniteServiceVersion20100801.GetMetricStatistics"
	cwContentType = "application/x-amz-json-1.0"
	cwSigningName = "monitoring"
	cwNamespace   = "AWS/Firehose"
)

// streamMetric is a column of the metrics table: a Firehose metric and its statistic.
type streamMetric struct {
	name, statistic string
}

// streamMetrics are the columns of the metrics table.
func streamMetrics() []streamMetric {
	return []streamMetric{
		{"IncomingBytes", "Sum"},
		{"IncomingRecords", "Sum"},
		{"DeliveryToS3.Bytes", "Sum"},
		{"DeliveryToS3.Records", "Sum"},
		{"DeliveryToS3.DataFreshness", "Maximum"},
	}
}

// cwError is an error response of the CloudWatch API.
type cwError struct {
	status        int
	code, message string
}

func (e *cwError) Error() string {
	return fmt.Sprintf("GetMetricStatistics: %s: %s (HTTP %d)", e.code, e.message, e.status)
}

// cwDatapoint is a datapoint of a GetMetricStatistics response: timestamps are epoch seconds.
type cwDatapoint struct {
	Timestamp float64
	Sum       *float64
	Maximum   *float64
}

// cwClient calls GetMetricStatistics with SigV4 signatures for the monitoring service.
type cwClient struct {
	http     *http.Client
	endpoint string
	conn     *conn
	signer   *v4.Signer
}

func (c *cwClient) statistics(ctx context.Context, stream string, m streamMetric, start, end time.Time, period int) ([]cwDatapoint, error) {
	body, err := json.Marshal(map[string]any{
		"Namespace":  cwNamespace,
		"MetricName": m.name,
		"Dimensions": []map[string]string{{"Name": "DeliveryStreamName", "Value": stream}},
		"StartTime":  start.Unix(),
		"EndTime":    end.Unix(),
		"Period":     period,
		"Statistics": []string{m.statistic},
	})
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(c.endpoint, "/")+"/", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", cwContentType)
	req.Header.Set("X-Amz-Target", cwTarget)
	creds, err := c.conn.cfg.Credentials.Retrieve(ctx)
	if err != nil {
		return nil, fmt.Errorf("retrieve credentials: %w", err)
	}
	sum := sha256.Sum256(body)
	if err := c.signer.SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), cwSigningName, c.conn.cfg.Region, time.Now()); err != nil {
		return nil, fmt.Errorf("sign request: %w", err)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GetMetricStatistics: %w", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, fmt.Errorf("GetMetricStatistics: read response: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Type    string `json:"__type"`
			Message string `json:"message"`
			Upper   string `json:"Message"`
		}
		_ = json.Unmarshal(raw, &e)
		code := e.Type
		if i := strings.LastIndexByte(code, '#'); i >= 0 {
			code = code[i+1:]
		}
		if code == "" {
			code = http.StatusText(resp.StatusCode)
		}
		msg := e.Message + e.Upper
		if msg == "" {
			msg = strings.TrimSpace(string(raw))
		}
		return nil, &cwError{status: resp.StatusCode, code: code, message: msg}
	}
	var out struct{ Datapoints []cwDatapoint }
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, fmt.Errorf("GetMetricStatistics: decode response: %w", err)
	}
	return out.Datapoints, nil
}

func newMetrics(stdout io.Writer) *cobra.Command {
	var (
		af              awsFlags
		stream          string
		minutes, period int
	)
	cmd := &cobra.Command{
		Use:   "metrics",
		Short: "Show a delivery stream's CloudWatch metrics as a table",
		Long: `Read IncomingBytes, IncomingRecords, DeliveryToS3.Bytes and DeliveryToS3.Records (Sum) and
DeliveryToS3.DataFreshness (Maximum, seconds) of the last --minutes through the CloudWatch
GetMetricStatistics API, and print one row per period that has data. Hydrant serves that
API on its Firehose endpoint; against AWS (--endpoint-url aws) the requests go to
monitoring.<region>.amazonaws.com. AWS_ENDPOINT_URL_CLOUDWATCH overrides the endpoint
when --endpoint-url is not given.`,
		Example: `  hydrant metrics --delivery-stream-name logs --minutes 30 --period 300`,
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if minutes < 1 {
				return fmt.Errorf("--minutes %d: must be at least 1", minutes)
			}
			if period < 60 || period%60 != 0 {
				return fmt.Errorf("--period %d: must be a positive multiple of 60", period)
			}
			ctx := cmd.Context()
			c, err := af.connect(ctx)
			if err != nil {
				return err
			}
			cw := &cwClient{
				http:     &http.Client{Timeout: 30 * time.Second},
				endpoint: c.cloudWatchEndpoint(ctx, cmd.Flags().Changed("endpoint-url")),
				conn:     c,
				signer:   v4.NewSigner(),
			}
			end := time.Now()
			start := end.Add(-time.Duration(minutes) * time.Minute).Truncate(time.Duration(period) * time.Second)
			cols := streamMetrics()
			rows := map[int64][]string{}
			for i, m := range cols {
				dps, err := cw.statistics(ctx, stream, m, start, end, period)
				if err != nil {
					return err
				}
				for _, dp := range dps {
					v := dp.Sum
					if m.statistic == "Maximum" {
						v = dp.Maximum
					}
					if v == nil {
						continue
					}
					ts := int64(math.Round(dp.Timestamp))
					if rows[ts] == nil {
						rows[ts] = slices.Repeat([]string{"-"}, len(cols))
					}
					rows[ts][i] = strconv.FormatFloat(math.Round(*v*1000)/1000, 'f', -1, 64)
				}
			}
			if len(rows) == 0 {
				if err := checkStreamExists(ctx, c, stream); err != nil {
					return err
				}
			}
			return writeMetricsTable(stdout, cols, rows, time.Local)
		},
	}
	f := cmd.Flags()
	af.register(cmd)
	f.StringVar(&stream, "delivery-stream-name", "", "the delivery stream")
	f.IntVar(&minutes, "minutes", 60, "how far back to read")
	f.IntVar(&period, "period", 60, "seconds per row (a multiple of 60)")
	_ = cmd.MarkFlagRequired("delivery-stream-name")
	return cmd
}

// writeMetricsTable prints one row per period start (epoch seconds), oldest first.
func writeMetricsTable(w io.Writer, cols []streamMetric, rows map[int64][]string, loc *time.Location) error {
	if len(rows) == 0 {
		_, err := fmt.Fprintln(w, "no datapoints")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	header := []string{"TIME"}
	for _, c := range cols {
		h := c.name
		if c.statistic != "Sum" {
			h += " (" + strings.ToLower(c.statistic[:3]) + ")"
		}
		header = append(header, h)
	}
	fmt.Fprintln(tw, strings.Join(header, "\t")+"\t")
	times := make([]int64, 0, len(rows))
	for ts := range rows {
		times = append(times, ts)
	}
	slices.Sort(times)
	for _, ts := range times {
		fmt.Fprintf(tw, "%s\t%s\t\n", time.Unix(ts, 0).In(loc).Format("2006-01-02 15:04"), strings.Join(rows[ts], "\t"))
	}
	return tw.Flush()
}
