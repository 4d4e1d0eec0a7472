package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
)

func newCluster(stdout io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cluster",
		Short: "Inspect a cluster of Hydrant nodes",
	}
	cmd.AddCommand(newClusterStatus(stdout))
	return cmd
}

// clusterStatus is the answer of GET /_hydrant/cluster.
type clusterStatus struct {
	Node      string `json:"node"`
	Clustered bool   `json:"clustered"`
	Replicas  int    `json:"replicas"`
	Leases    *struct {
		Nodes []struct {
			Name    string    `json:"name"`
			Addr    string    `json:"addr"`
			Started time.Time `json:"started"`
			Live    bool      `json:"live"`
		} `json:"nodes"`
		Owners map[string]string `json:"owners"`
	} `json:"leases"`
}

func newClusterStatus(stdout io.Writer) *cobra.Command {
	var endpoint string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the nodes of the cluster and which node delivers which stream",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			af := awsFlags{endpoint: endpoint}
			c, err := af.connect(cmd.Context())
			if err != nil {
				return err
			}
			resp, err := c.adminGet(cmd.Context(), "/_hydrant/cluster")
			if err != nil {
				return fmt.Errorf("read cluster status: %w", err)
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
			if err != nil {
				return fmt.Errorf("read cluster status: %w", err)
			}
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("read cluster status: %s: %s", resp.Status, strings.TrimSpace(string(b)))
			}
			if asJSON {
				_, err := stdout.Write(b)
				return err
			}
			var st clusterStatus
			if err := json.Unmarshal(b, &st); err != nil {
				return fmt.Errorf("decode cluster status: %w", err)
			}
			return writeClusterStatus(stdout, st)
		},
	}
	f := cmd.Flags()
	f.StringVar(&endpoint, "endpoint-url", "http://127.0.0.1:4573", "any node's address")
	f.BoolVar(&asJSON, "json", false, "print the server's JSON answer")
	return cmd
}

func writeClusterStatus(w io.Writer, st clusterStatus) error {
	if !st.Clustered || st.Leases == nil {
		_, err := fmt.Fprintf(w, "%s is a single node (not clustered)\n", st.Node)
		return err
	}
	fmt.Fprintf(w, "answered by %s; every stream and bucket has %d replicas\n\n", st.Node, st.Replicas)
	streams := map[string][]string{}
	for s, n := range st.Leases.Owners {
		streams[n] = append(streams[n], s)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tADDRESS\tSTATE\tSTARTED\tSTREAMS DELIVERED")
	for _, n := range st.Leases.Nodes {
		state := "live"
		if !n.Live {
			state = "gone"
		}
		owned := streams[n.Name]
		slices.Sort(owned)
		started := ""
		if !n.Started.IsZero() {
			started = n.Started.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d %s\n", n.Name, n.Addr, state, started, len(owned), strings.Join(owned, ","))
	}
	return tw.Flush()
}
