// Package cloudwatch serves the CloudWatch 2010-08-01 read API (GetMetricStatistics,
// GetMetricData, ListMetrics) over Hydrant's metrics, in the three protocols CloudWatch clients
// send: AWS JSON 1.0, the query protocol, and Smithy RPC v2 CBOR.
//
// The handler reads data through Source, an interface this package owns; the server bridges the
// metrics store to it. Is lets the server's single listener recognise CloudWatch requests before reading their bodies.
// The wire contract is docs/design/cloudwatch.md.
package cloudwatch
