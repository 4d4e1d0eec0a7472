package cli

import (
	"fmt"
	"io"
	"math/rand/v2"
	"time"

	"github.com/hydrant-dev/hydrant/internal/mockdata"
	"github.com/spf13/cobra"
)

func newMockData(stdout io.Writer) *cobra.Command {
	var (
		count int
		seed  uint64
		end   string
	)
	cmd := &cobra.Command{
		Use:   "mock-data",
		Short: "Write realistic web-traffic records as JSON lines",
		Long: `Write --count web-traffic records to stdout, one JSON object a line: ip, timestamp (RFC 3339,
rising over the hour before --end), method, path, status, bytes, referrer, user_agent and
session. Requests of one session share its address and browser. The same --seed and --end
give the same bytes; without --seed the seed is random.`,
		Example: `  hydrant mock-data --count 2550 --seed 7 > traffic.jsonl`,
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if count < 0 {
				return fmt.Errorf("--count %d: must not be negative", count)
			}
			t := time.Now()
			if end != "" {
				var err error
				if t, err = time.Parse(time.RFC3339, end); err != nil {
					return fmt.Errorf("--end %q: %w", end, err)
				}
			}
			if !cmd.Flags().Changed("seed") {
				seed = rand.Uint64()
			}
			return mockdata.New(seed).Generate(stdout, count, t)
		},
	}
	f := cmd.Flags()
	f.IntVar(&count, "count", 1000, "number of records")
	f.Uint64Var(&seed, "seed", 0, "seed of the generator (default random)")
	f.StringVar(&end, "end", "", "RFC 3339 time of the last hour's end (default now)")
	return cmd
}
