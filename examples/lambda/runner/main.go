// Command runner serves the Lambda Invoke API on a local address for the sample functions, so
// that a Hydrant stream with a Lambda processor can run without AWS:
//
//	go run ./examples/lambda/runner -listen 127.0.0.1:9101
//
// and in Hydrant's Lambda configuration Endpoint "http://127.0.0.1:9101" with Anonymous. It
// serves MetadataExtractor (examples/lambda/metadata-extractor), AlwaysFails (every
// invocation is a function error) and Garbage (returns a body that is not JSON), by name or by
// any ARN ending in :function:<name>[:qualifier].
package main

import (
	"context"
	"errors"
	"flag"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/hydrant-dev/hydrant/examples/lambda/emulator"
	"github.com/hydrant-dev/hydrant/examples/lambda/metadata-extractor/extractor"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:9101", "address to serve the Lambda Invoke API on")
	verbose := flag.Bool("v", false, "log every invocation")
	flag.Parse()
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *listen, log); err != nil {
		log.Error("runner failed", "err", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, addr string, log *slog.Logger) error {
	srv, err := emulator.NewServer(map[string]any{
		"MetadataExtractor": extractor.Handle,
		"AlwaysFails":       emulator.AlwaysFails,
		"Garbage":           emulator.Garbage,
	}, log)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}
	log.Info("runner listening", "addr", ln.Addr().String(), "functions", []string{"MetadataExtractor", "AlwaysFails", "Garbage"})
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
