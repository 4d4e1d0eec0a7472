// Package e2e holds end-to-end tests that build the hydrant binary, run it as a separate
// process on a loopback port, and drive it with real clients: the AWS CLI, boto3,
// aws-sdk-go-v2 and plain HTTP. The package has no code of its own; see the _test.go files.
package e2e
