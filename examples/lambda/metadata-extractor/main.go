// Command metadata-extractor is the MetadataExtractor sample Lambda function for Firehose
// dynamic partitioning (see package extractor for what it returns). It runs unchanged on AWS
// Lambda's provided.al2023 runtime:
//
//	GOOS=linux GOARCH=arm64 go build -tags lambda.norpc -o bootstrap ./examples/lambda/metadata-extractor
//	zip function.zip bootstrap
//
// and locally, in-process, behind examples/lambda/runner.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/hydrant-dev/hydrant/examples/lambda/metadata-extractor/extractor"
)

func main() {
	lambda.Start(extractor.Handle)
}
