// Command gen writes model_gen.go for package shape from botocore's Firehose model.
//
// Usage (from internal/api/shape, as the package's go:generate line runs it):
//
//	go run ./internal/gen [-model path/to/service-2.json.gz] [-o model_gen.go]
//
// Without -model it asks python3 where botocore is installed.
package main

import (
	"flag"
	"fmt"
	"os"
)

func main() {
	model := flag.String("model", "", "botocore firehose service-2.json.gz (default: located via python3 -c 'import botocore')")
	out := flag.String("o", "model_gen.go", "output file")
	flag.Parse()

	if err := run(*model, *out); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run(model, out string) error {
	if model == "" {
		p, err := locateModel()
		if err != nil {
			return err
		}
		model = p
	}
	raw, err := readModel(model)
	if err != nil {
		return err
	}
	src, err := generate(raw)
	if err != nil {
		return err
	}
	return os.WriteFile(out, src, 0o644)
}
