//go:build tools

// Package hydrant pins the module's dependencies while the packages that use them are written.
package hydrant

import (
	_ "github.com/aws/aws-lambda-go/events"
	_ "github.com/aws/aws-lambda-go/lambda"
	_ "github.com/aws/aws-sdk-go-v2/config"
	_ "github.com/aws/aws-sdk-go-v2/credentials"
	_ "github.com/aws/aws-sdk-go-v2/feature/s3/manager"
	_ "github.com/aws/aws-sdk-go-v2/service/firehose"
	_ "github.com/aws/aws-sdk-go-v2/service/s3"
	_ "github.com/chromedp/chromedp"
	_ "github.com/google/go-cmp/cmp"
	_ "github.com/google/uuid"
	_ "github.com/itchyny/gojq"
	_ "github.com/klauspost/compress/gzip"
	_ "github.com/klauspost/compress/snappy"
	_ "github.com/nats-io/nats-server/v2/server"
	_ "github.com/nats-io/nats.go"
	_ "github.com/nats-io/nats.go/jetstream"
	_ "github.com/spf13/cobra"
	_ "sigs.k8s.io/yaml"
)
