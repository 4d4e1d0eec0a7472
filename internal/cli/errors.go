package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
)

// emptySHA256 is the hex SHA-256 of an empty body.
const emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

func newErrors(stdout io.Writer) *cobra.Command {
	var endpoint, stream string
	var limit int
	cmd := &cobra.Command{
		Use:   "errors",
		Short: "Show a delivery stream's latest delivery, processing and partitioning failures",
		Long: `Show the latest failures Hydrant kept for a delivery stream: failed object writes with
the destination's error code, and records sent to the error output by processing or
dynamic partitioning. Each is also logged by the server as a structured record.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			af := awsFlags{endpoint: endpoint}
			c, err := af.connect(cmd.Context())
			if err != nil {
				return err
			}
			resp, err := c.adminGet(cmd.Context(), "/_hydrant/streams/"+url.PathEscape(stream)+"/delivery")
			if err != nil {
				return fmt.Errorf("read delivery status: %w", err)
			}
			defer resp.Body.Close()
			if resp.StatusCode == http.StatusNotFound {
				if err := checkStreamExists(cmd.Context(), c, stream); err != nil {
					return err
				}
			}
			if resp.StatusCode != http.StatusOK {
				b, _ := io.ReadAll(resp.Body)
				return fmt.Errorf("read delivery status: %s: %s", resp.Status, strings.TrimSpace(string(b)))
			}
			var st struct {
				Failures []struct {
					Time                     time.Time
					Leg, Kind, Code, Message string
				} `json:"recentFailures"`
			}
			if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
				return fmt.Errorf("decode delivery status: %w", err)
			}
			if len(st.Failures) == 0 {
				fmt.Fprintf(stdout, "no failures kept for %s\n", stream)
				return nil
			}
			tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "TIME\tLEG\tKIND\tCODE\tMESSAGE")
			for i, f := range st.Failures {
				if i == limit {
					break
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", f.Time.UTC().Format(time.RFC3339), f.Leg, f.Kind, f.Code, f.Message)
			}
			return tw.Flush()
		},
	}
	f := cmd.Flags()
	f.StringVar(&endpoint, "endpoint-url", "http://127.0.0.1:4573", "Hydrant's address")
	f.StringVar(&stream, "delivery-stream-name", "", "the delivery stream")
	f.IntVar(&limit, "limit", 20, "most failures to show")
	_ = cmd.MarkFlagRequired("delivery-stream-name")
	return cmd
}
