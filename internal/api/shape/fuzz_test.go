package shape

import (
	"errors"
	"testing"
)

// FuzzDecodePutRecordBatch checks the fast decoder against Validate + encoding/json: same
// records or the same error, and the fast path never accepts what Validate rejects.
func FuzzDecodePutRecordBatch(f *testing.F) {
	for _, c := range putBatchCases {
		if len(c.body) < 4096 {
			f.Add([]byte(c.body))
		}
	}
	dirty := &PutBatch{}
	f.Fuzz(func(t *testing.T, body []byte) {
		checkPut(t, body, true, dirty)
	})
}

// FuzzDecodePutRecord is FuzzDecodePutRecordBatch for PutRecord bodies.
func FuzzDecodePutRecord(f *testing.F) {
	f.Add([]byte(`{"DeliveryStreamName":"s","Record":{"Data":"aGVsbG8K"}}`))
	f.Add([]byte(`{"X":[{}],"DeliveryStreamName":"s","Record":{"Y":null,"Data":"\/\/\/\/"},"Records":[1]}`))
	f.Add([]byte(`{"DeliveryStreamName":"s","Record":{"Data":null}}`))
	dirty := &PutBatch{}
	f.Fuzz(func(t *testing.T, body []byte) {
		checkPut(t, body, false, dirty)
	})
}

// FuzzValidate runs CreateDeliveryStream bodies through Validate, which must not panic and must
// return one of its documented error types.
func FuzzValidate(f *testing.F) {
	seeds := []string{
		`{"DeliveryStreamName":"s1","ExtendedS3DestinationConfiguration":{"RoleARN":"arn:aws:iam::123456789012:role/r","BucketARN":"arn:aws:s3:::b","CompressionFormat":"Snappy","BufferingHints":{"SizeInMBs":5,"IntervalInSeconds":300},"ProcessingConfiguration":{"Enabled":true,"Processors":[{"Type":"Lambda","Parameters":[{"ParameterName":"LambdaArn","ParameterValue":"arn:aws:lambda:us-east-1:123456789012:function:f"}]}]},"DataFormatConversionConfiguration":{"InputFormatConfiguration":{"Deserializer":{"OpenXJsonSerDe":{"ColumnToJsonKeyMappings":{"a":"b"}}}},"OutputFormatConfiguration":{"Serializer":{"OrcSerDe":{"PaddingTolerance":0.5}}}}},"Tags":[{"Key":"aws:x","Value":"v"}]}`,
		`{"DeliveryStreamName":"s","HttpEndpointDestinationConfiguration":{"EndpointConfiguration":{"Url":"http://x"},"S3Configuration":{}}}`,
		`{"DeliveryStreamName":"s","MSKSourceConfiguration":{"ReadFromTimestamp":1.7e9,"MSKClusterARN":"arn:x","TopicName":"t"}}`,
		`{"DeliveryStreamName":"s","RedshiftDestinationConfiguration":{"ClusterJDBCURL":"jdbc:redshift://a.b.redshift.c:1/d","CopyCommand":{"DataTableName":"t"}}}`,
		`{"DeliveryStreamName":"s","DatabaseSourceConfiguration":{"Type":"MySQL","Port":70000,"Databases":{"Include":["a",null]}}}`,
		`{"Tags":[null,{"Key":1}]}`, `[]`, ``, `{"DeliveryStreamName":"\ud800"}`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		err := Validate("CreateDeliveryStream", body)
		if err == nil {
			return
		}
		var se *SerializationError
		var ve *ValidationError
		switch {
		case errors.As(err, &se):
		case errors.As(err, &ve):
			if len(ve.Violations) == 0 {
				t.Fatal("ValidationError without violations")
			}
		default:
			t.Fatalf("Validate returned %T: %v", err, err)
		}
		if err.Error() == "" {
			t.Fatal("empty error text")
		}
	})
}
