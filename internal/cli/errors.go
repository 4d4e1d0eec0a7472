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
			u := strings.TrimRight(endpoint, "/") + "/_hydrant/streams/" + url.PathEscape(stream) + "/delivery"
			req, err := http.NewRequestWithContext(cmd.Context(), http.MethodGet, u, nil)
			if err != nil {
				return err
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return fmt.Errorf("read delivery status: %w", err)
			}
			defer resp.Body.Close()
			if resp.StatusCode == http.StatusNotFound {
				af := awsFlags{endpoint: endpoint}
				c, err := af.connect(cmd.Context())
				if err != nil {
					return err
				}
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
