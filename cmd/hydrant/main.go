// Command hydrant is a self-hosted, wire-compatible Amazon Data Firehose.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/hydrant-dev/hydrant/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Execute(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
