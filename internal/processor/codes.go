package processor

// The errorCode values of failures. Those marked [AWS] are documented by AWS
// or observed on AWS; the others are Hydrant's (docs/design/processing.md).
const (
	// CodeLambdaFunctionError: the function ran and returned an error. [AWS]
	CodeLambdaFunctionError = "Lambda.FunctionError"
	// CodeLambdaInvokeLimitExceeded: Lambda throttled the invocation. [AWS]
	CodeLambdaInvokeLimitExceeded = "Lambda.InvokeLimitExceeded"
	// CodeLambdaInvocationFailure: any other invocation error.
	CodeLambdaInvocationFailure = "Lambda.InvocationFailure"
	// CodeLambdaJSONProcessing: the response does not follow the status
	// model; every record of the batch fails. [AWS]
	CodeLambdaJSONProcessing = "Lambda.JsonProcessingException"
	// CodeLambdaMissingRecordID: a record was not returned. [AWS]
	CodeLambdaMissingRecordID = "Lambda.MissingRecordId"
	// CodeLambdaDuplicatedRecordID: a record was returned twice. [AWS]
	CodeLambdaDuplicatedRecordID = "Lambda.DuplicatedRecordId"
	// CodeLambdaProcessingFailed: the function set result ProcessingFailed.
	// [AWS, observed by floci]
	CodeLambdaProcessingFailed = "Lambda.ProcessingFailedStatus"
	// CodeLambdaInvalidReturnFormat: result Ok without data.
	// [AWS message, observed by floci]
	CodeLambdaInvalidReturnFormat = "Lambda.InvalidReturnFormat"

	// CodeDecompressionInvalidData: the record is not valid gzip.
	CodeDecompressionInvalidData = "Decompression.InvalidData"
	// CodeDecompressionSizeLimitExceeded: the record decompresses to more
	// than MaxDecompressedSize bytes.
	CodeDecompressionSizeLimitExceeded = "Decompression.SizeLimitExceeded"
	// CodeCloudWatchLogsInvalidData: the decompressed record is not a
	// CloudWatch Logs subscription message.
	CodeCloudWatchLogsInvalidData = "CloudWatchLogProcessing.InvalidData"
	// CodeDeaggregationInvalidJSON: SubRecordType JSON on a record that is
	// not a sequence of JSON objects.
	CodeDeaggregationInvalidJSON = "RecordDeAggregation.InvalidJson"
	// CodeMetadataExtractionFailed: the JQ query could not produce the
	// partition keys of the record.
	CodeMetadataExtractionFailed = "DynamicPartitioning.MetadataExtractionFailed"
)

// The errorMessage texts AWS uses for its codes.
const (
	msgLambdaFunctionError  = "The Lambda function was successfully invoked but it returned an error result."
	msgLambdaJSONProcessing = "There was an error parsing returned records from the Lambda function. Ensure that the returned records follow the status model required by Firehose."
	msgLambdaMissing        = "One or more record Ids were not returned. Ensure that the Lambda function returns all received record Ids."
	msgLambdaDuplicated     = "Multiple records were returned with the same record Id. Ensure that the Lambda function returns a unique record Id for each record."
	msgLambdaFailedStatus   = "ProcessingFailed status set for record"
	msgLambdaNullData       = "The data field cannot be null when the SourceType is DirectPut or KinesisStreamAsSource and processing result is Ok. The value field cannot be null when the SourceType is MSKAsSource and processing result is Ok."
)
