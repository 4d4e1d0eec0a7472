package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

// streamFlag is the flag every command that works on one delivery stream names it with.
const streamFlag = "delivery-stream-name"

// noArgs is cobra.NoArgs with a hint for the commonest slip: a stream name given as an
// argument to a command that takes it as --delivery-stream-name.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	if f := cmd.Flags().Lookup(streamFlag); f != nil && !f.Changed && len(args) == 1 && !strings.ContainsAny(args[0], " \t\n'\"") {
		return fmt.Errorf("unexpected argument %q: give the stream with --%s %s", args[0], streamFlag, args[0])
	}
	return fmt.Errorf("unexpected argument %q: %q takes no arguments (see %s --help)", args[0], cmd.CommandPath(), cmd.CommandPath())
}

// count says n of a noun in the right number: "1 record", "2 records".
func count(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
