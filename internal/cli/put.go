package cli

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/hydrant-dev/hydrant/pkg/producer"
	"github.com/spf13/cobra"
)

func newPut(stdout io.Writer) *cobra.Command {
	var (
		af           awsFlags
		stream, data string
		file         string
		newline      bool
		maxTrials    int
	)
	cmd := &cobra.Command{
		Use:   "put",
		Short: "Send one record with PutRecord and print its RecordId",
		Long: `Send one record with PutRecord, retrying throttling and server errors, and print the
RecordId. The record is --data's text as is (not base64) or --file's bytes (- for stdin);
--newline appends a newline, since Firehose concatenates records.`,
		Example: `  hydrant put --delivery-stream-name logs --data '{"msg":"hello"}' --newline
  hydrant put --delivery-stream-name logs --file event.json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			flags := cmd.Flags()
			var record []byte
			switch {
			case flags.Changed("data") && flags.Changed("file"):
				return errors.New("give --data or --file, not both")
			case flags.Changed("data"):
				record = []byte(data)
			case flags.Changed("file"):
				var err error
				if file == "-" {
					record, err = io.ReadAll(cmd.InOrStdin())
				} else {
					record, err = os.ReadFile(file)
				}
				if err != nil {
					return fmt.Errorf("read record: %w", err)
				}
			default:
				return errors.New("give the record with --data or --file")
			}
			if newline {
				record = append(record, '\n')
			}
			ctx := cmd.Context()
			c, err := af.connect(ctx)
			if err != nil {
				return err
			}
			id, err := producer.PutRecord(ctx, c.firehose(), stream, record, producer.Config{MaxTrials: maxTrials})
			if err != nil {
				return err
			}
			fmt.Fprintln(stdout, id)
			return nil
		},
	}
	f := cmd.Flags()
	af.register(cmd)
	f.StringVar(&stream, "delivery-stream-name", "", "the delivery stream")
	f.StringVar(&data, "data", "", "the record's text")
	f.StringVar(&file, "file", "", "file holding the record's bytes (- for stdin)")
	f.BoolVar(&newline, "newline", false, "append a newline to the record")
	f.IntVar(&maxTrials, "max-trials", producer.DefaultMaxTrials, "attempts including the first")
	_ = cmd.MarkFlagRequired("delivery-stream-name")
	return cmd
}
