# Hydrant's everyday commands. `make run` and `make test` are the two commands of README.md.

GO ?= go
# go.work ties the modules together for development; the server builds and tests with its own
# go.mod (the Beam sink's module would otherwise move the server's dependencies).
export GOWORK = off

.PHONY: run build test bench lint generate fuzz

## run: build and start `hydrant serve` on 127.0.0.1:4573 with data in ./hydrant-data
run: build
	./bin/hydrant serve

## build: compile bin/hydrant
build:
	$(GO) build -o bin/hydrant ./cmd/hydrant

## test: set up what the tests need and run every test
test:
	./scripts/test.sh

## bench: run the benchmarks in bench/ and record their results
bench:
	./bench/run.sh
	./bench/run-s3.sh
	./bench/run-partition.sh
	./bench/run-sources.sh
	./bench/run-cluster.sh
	./bench/run-leases.sh
	./bench/run-streams.sh
	$(GO) run ./bench/producer

## lint: vet, formatting and generated files
lint:
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt: files above need formatting"; exit 1; }

## generate: regenerate committed generated files
generate:
	$(GO) generate ./...

## fuzz: run each fuzz target for FUZZTIME (default 60s) and keep new inputs under testdata/fuzz
fuzz:
	./scripts/fuzz.sh
