package api

import (
	"encoding/json"
	"math"
	"strconv"
	"time"
)

// Timestamp is an AWS JSON 1.1 timestamp: epoch seconds as a JSON number, fractions allowed.
type Timestamp struct{ time.Time }

// MarshalJSON renders the time as epoch seconds with millisecond precision.
func (t Timestamp) MarshalJSON() ([]byte, error) {
	ms := t.UnixMilli()
	return strconv.AppendFloat(nil, float64(ms)/1000, 'f', -1, 64), nil
}

// UnmarshalJSON reads epoch seconds.
func (t *Timestamp) UnmarshalJSON(b []byte) error {
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return err
	}
	sec, frac := math.Modf(f)
	t.Time = time.Unix(int64(sec), int64(frac*1e9)).UTC()
	return nil
}

// DeliveryStreamType is where a delivery stream's records come from.
type DeliveryStreamType string

// DeliveryStreamType values.
const (
	DirectPut             DeliveryStreamType = "DirectPut"
	KinesisStreamAsSource DeliveryStreamType = "KinesisStreamAsSource"
	MSKAsSource           DeliveryStreamType = "MSKAsSource"
	DatabaseAsSource      DeliveryStreamType = "DatabaseAsSource"
)

// DeliveryStreamStatus is the lifecycle state of a delivery stream.
type DeliveryStreamStatus string

// DeliveryStreamStatus values.
const (
	StatusCreating       DeliveryStreamStatus = "CREATING"
	StatusCreatingFailed DeliveryStreamStatus = "CREATING_FAILED"
	StatusDeleting       DeliveryStreamStatus = "DELETING"
	StatusDeletingFailed DeliveryStreamStatus = "DELETING_FAILED"
	StatusActive         DeliveryStreamStatus = "ACTIVE"
)

// EncryptionStatus is the state of server-side encryption of a delivery stream.
type EncryptionStatus string

// EncryptionStatus values.
const (
	EncryptionEnabled         EncryptionStatus = "ENABLED"
	EncryptionEnabling        EncryptionStatus = "ENABLING"
	EncryptionEnablingFailed  EncryptionStatus = "ENABLING_FAILED"
	EncryptionDisabled        EncryptionStatus = "DISABLED"
	EncryptionDisabling       EncryptionStatus = "DISABLING"
	EncryptionDisablingFailed EncryptionStatus = "DISABLING_FAILED"
)

// CompressionFormat is the compression of delivered S3 objects (exact wire values).
type CompressionFormat string

// CompressionFormat values.
const (
	Uncompressed CompressionFormat = "UNCOMPRESSED"
	GZIP         CompressionFormat = "GZIP"
	ZIP          CompressionFormat = "ZIP"
	Snappy       CompressionFormat = "Snappy"
	HadoopSnappy CompressionFormat = "HADOOP_SNAPPY"
)

// Tag is a key/value tag of a delivery stream.
type Tag struct {
	Key   string  `json:"Key"`
	Value *string `json:"Value,omitempty"`
}

// BufferingHints are the size and interval thresholds of a destination buffer.
type BufferingHints struct {
	SizeInMBs         *int `json:"SizeInMBs,omitempty"`
	IntervalInSeconds *int `json:"IntervalInSeconds,omitempty"`
}

// KMSEncryptionConfig names the KMS key that encrypts delivered objects.
type KMSEncryptionConfig struct {
	AWSKMSKeyARN string `json:"AWSKMSKeyARN"`
}

// EncryptionConfiguration is the S3 object encryption setting.
type EncryptionConfiguration struct {
	NoEncryptionConfig  string               `json:"NoEncryptionConfig,omitempty"`
	KMSEncryptionConfig *KMSEncryptionConfig `json:"KMSEncryptionConfig,omitempty"`
}

// CloudWatchLoggingOptions configures error logging of a destination.
type CloudWatchLoggingOptions struct {
	Enabled       *bool  `json:"Enabled,omitempty"`
	LogGroupName  string `json:"LogGroupName,omitempty"`
	LogStreamName string `json:"LogStreamName,omitempty"`
}

// ProcessorParameter is one parameter of a record processor; values are strings.
type ProcessorParameter struct {
	ParameterName  string `json:"ParameterName"`
	ParameterValue string `json:"ParameterValue"`
}

// Processor is one record processor of a ProcessingConfiguration.
type Processor struct {
	Type       string               `json:"Type"`
	Parameters []ProcessorParameter `json:"Parameters,omitempty"`
}

// ProcessingConfiguration lists the record processors of a destination.
type ProcessingConfiguration struct {
	Enabled    *bool       `json:"Enabled,omitempty"`
	Processors []Processor `json:"Processors,omitempty"`
}

// RetryOptions bounds how long a failing step is retried.
type RetryOptions struct {
	DurationInSeconds *int `json:"DurationInSeconds,omitempty"`
}

// DynamicPartitioningConfiguration turns on partitioning by keys taken from the records.
type DynamicPartitioningConfiguration struct {
	Enabled      *bool         `json:"Enabled,omitempty"`
	RetryOptions *RetryOptions `json:"RetryOptions,omitempty"`
}

// S3DestinationConfiguration is the plain S3 destination (also used for backups).
// As a description it is S3DestinationDescription, with the same members.
type S3DestinationConfiguration struct {
	RoleARN                  string                    `json:"RoleARN,omitempty"`
	BucketARN                string                    `json:"BucketARN,omitempty"`
	Prefix                   *string                   `json:"Prefix,omitempty"`
	ErrorOutputPrefix        *string                   `json:"ErrorOutputPrefix,omitempty"`
	BufferingHints           *BufferingHints           `json:"BufferingHints,omitempty"`
	CompressionFormat        CompressionFormat         `json:"CompressionFormat,omitempty"`
	EncryptionConfiguration  *EncryptionConfiguration  `json:"EncryptionConfiguration,omitempty"`
	CloudWatchLoggingOptions *CloudWatchLoggingOptions `json:"CloudWatchLoggingOptions,omitempty"`
}

// ExtendedS3DestinationConfiguration is the S3 destination with processing, backup and partitioning.
// It is also the stored form of a stream's S3 destination, with defaults filled in.
type ExtendedS3DestinationConfiguration struct {
	RoleARN                           string                            `json:"RoleARN,omitempty"`
	BucketARN                         string                            `json:"BucketARN,omitempty"`
	Prefix                            *string                           `json:"Prefix,omitempty"`
	ErrorOutputPrefix                 *string                           `json:"ErrorOutputPrefix,omitempty"`
	BufferingHints                    *BufferingHints                   `json:"BufferingHints,omitempty"`
	CompressionFormat                 CompressionFormat                 `json:"CompressionFormat,omitempty"`
	EncryptionConfiguration           *EncryptionConfiguration          `json:"EncryptionConfiguration,omitempty"`
	CloudWatchLoggingOptions          *CloudWatchLoggingOptions         `json:"CloudWatchLoggingOptions,omitempty"`
	ProcessingConfiguration           *ProcessingConfiguration          `json:"ProcessingConfiguration,omitempty"`
	S3BackupMode                      string                            `json:"S3BackupMode,omitempty"`
	S3BackupConfiguration             *S3DestinationConfiguration       `json:"S3BackupConfiguration,omitempty"`
	DataFormatConversionConfiguration json.RawMessage                   `json:"DataFormatConversionConfiguration,omitempty"`
	DynamicPartitioningConfiguration  *DynamicPartitioningConfiguration `json:"DynamicPartitioningConfiguration,omitempty"`
	FileExtension                     *string                           `json:"FileExtension,omitempty"`
	CustomTimeZone                    *string                           `json:"CustomTimeZone,omitempty"`
}

// ExtendedS3DestinationDescription is an ExtendedS3 destination as DescribeDeliveryStream returns it.
type ExtendedS3DestinationDescription struct {
	RoleARN                           string                            `json:"RoleARN"`
	BucketARN                         string                            `json:"BucketARN"`
	Prefix                            *string                           `json:"Prefix,omitempty"`
	ErrorOutputPrefix                 *string                           `json:"ErrorOutputPrefix,omitempty"`
	BufferingHints                    *BufferingHints                   `json:"BufferingHints"`
	CompressionFormat                 CompressionFormat                 `json:"CompressionFormat"`
	EncryptionConfiguration           *EncryptionConfiguration          `json:"EncryptionConfiguration"`
	CloudWatchLoggingOptions          *CloudWatchLoggingOptions         `json:"CloudWatchLoggingOptions,omitempty"`
	ProcessingConfiguration           *ProcessingConfiguration          `json:"ProcessingConfiguration,omitempty"`
	S3BackupMode                      string                            `json:"S3BackupMode,omitempty"`
	S3BackupDescription               *S3DestinationConfiguration       `json:"S3BackupDescription,omitempty"`
	DataFormatConversionConfiguration json.RawMessage                   `json:"DataFormatConversionConfiguration,omitempty"`
	DynamicPartitioningConfiguration  *DynamicPartitioningConfiguration `json:"DynamicPartitioningConfiguration,omitempty"`
	FileExtension                     *string                           `json:"FileExtension,omitempty"`
	CustomTimeZone                    *string                           `json:"CustomTimeZone,omitempty"`
}

// DeliveryStreamEncryptionConfigurationInput asks for server-side encryption of a stream.
type DeliveryStreamEncryptionConfigurationInput struct {
	KeyType string `json:"KeyType"`
	KeyARN  string `json:"KeyARN,omitempty"`
}

// FailureDescription says why a stream or its encryption is in a failed state.
type FailureDescription struct {
	Type    string `json:"Type"`
	Details string `json:"Details"`
}

// DeliveryStreamEncryptionConfiguration is the described encryption state of a stream.
type DeliveryStreamEncryptionConfiguration struct {
	KeyARN             string              `json:"KeyARN,omitempty"`
	KeyType            string              `json:"KeyType,omitempty"`
	Status             EncryptionStatus    `json:"Status,omitempty"`
	FailureDescription *FailureDescription `json:"FailureDescription,omitempty"`
}

// DirectPutSourceConfiguration is informational: the producer's expected throughput.
type DirectPutSourceConfiguration struct {
	ThroughputHintInMBs int `json:"ThroughputHintInMBs"`
}

// KinesisStreamSourceConfiguration names the Kinesis data stream a stream reads.
type KinesisStreamSourceConfiguration struct {
	KinesisStreamARN string `json:"KinesisStreamARN"`
	RoleARN          string `json:"RoleARN"`
}

// CreateDeliveryStreamInput is the CreateDeliveryStream request. Destinations other than S3 and
// ExtendedS3 are kept as JSON; Destinations() lists every destination member that was given.
type CreateDeliveryStreamInput struct {
	DeliveryStreamName                         string                                      `json:"DeliveryStreamName"`
	DeliveryStreamType                         DeliveryStreamType                          `json:"DeliveryStreamType,omitempty"`
	DirectPutSourceConfiguration               *DirectPutSourceConfiguration               `json:"DirectPutSourceConfiguration,omitempty"`
	KinesisStreamSourceConfiguration           *KinesisStreamSourceConfiguration           `json:"KinesisStreamSourceConfiguration,omitempty"`
	MSKSourceConfiguration                     json.RawMessage                             `json:"MSKSourceConfiguration,omitempty"`
	DatabaseSourceConfiguration                json.RawMessage                             `json:"DatabaseSourceConfiguration,omitempty"`
	DeliveryStreamEncryptionConfigurationInput *DeliveryStreamEncryptionConfigurationInput `json:"DeliveryStreamEncryptionConfigurationInput,omitempty"`
	Tags                                       []Tag                                       `json:"Tags,omitempty"`

	S3DestinationConfiguration                         *S3DestinationConfiguration         `json:"S3DestinationConfiguration,omitempty"`
	ExtendedS3DestinationConfiguration                 *ExtendedS3DestinationConfiguration `json:"ExtendedS3DestinationConfiguration,omitempty"`
	RedshiftDestinationConfiguration                   json.RawMessage                     `json:"RedshiftDestinationConfiguration,omitempty"`
	ElasticsearchDestinationConfiguration              json.RawMessage                     `json:"ElasticsearchDestinationConfiguration,omitempty"`
	AmazonopensearchserviceDestinationConfiguration    json.RawMessage                     `json:"AmazonopensearchserviceDestinationConfiguration,omitempty"`
	SplunkDestinationConfiguration                     json.RawMessage                     `json:"SplunkDestinationConfiguration,omitempty"`
	HttpEndpointDestinationConfiguration               json.RawMessage                     `json:"HttpEndpointDestinationConfiguration,omitempty"`
	AmazonOpenSearchServerlessDestinationConfiguration json.RawMessage                     `json:"AmazonOpenSearchServerlessDestinationConfiguration,omitempty"`
	SnowflakeDestinationConfiguration                  json.RawMessage                     `json:"SnowflakeDestinationConfiguration,omitempty"`
	IcebergDestinationConfiguration                    json.RawMessage                     `json:"IcebergDestinationConfiguration,omitempty"`
}

// CreateDeliveryStreamOutput is the CreateDeliveryStream response.
type CreateDeliveryStreamOutput struct {
	DeliveryStreamARN string `json:"DeliveryStreamARN"`
}

// DeleteDeliveryStreamInput is the DeleteDeliveryStream request.
type DeleteDeliveryStreamInput struct {
	DeliveryStreamName string `json:"DeliveryStreamName"`
	AllowForceDelete   *bool  `json:"AllowForceDelete,omitempty"`
}

// Empty is the output of operations that return no members.
type Empty struct{}

// DescribeDeliveryStreamInput is the DescribeDeliveryStream request.
type DescribeDeliveryStreamInput struct {
	DeliveryStreamName          string `json:"DeliveryStreamName"`
	Limit                       *int   `json:"Limit,omitempty"`
	ExclusiveStartDestinationId string `json:"ExclusiveStartDestinationId,omitempty"`
}

// DestinationDescription is one destination of a described stream. Members other than the S3
// ones are rendered generically from the stored configuration.
type DestinationDescription struct {
	DestinationID                    string                            `json:"DestinationId"`
	S3DestinationDescription         *S3DestinationConfiguration       `json:"S3DestinationDescription,omitempty"`
	ExtendedS3DestinationDescription *ExtendedS3DestinationDescription `json:"ExtendedS3DestinationDescription,omitempty"`
	Other                            map[string]json.RawMessage        `json:"-"`
}

// MarshalJSON merges the generic members into the object.
func (d DestinationDescription) MarshalJSON() ([]byte, error) {
	type plain DestinationDescription
	b, err := json.Marshal(plain(d))
	if err != nil || len(d.Other) == 0 {
		return b, err
	}
	m := map[string]json.RawMessage{}
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	for k, v := range d.Other {
		m[k] = v
	}
	return json.Marshal(m)
}

// SourceDescription describes where a stream's records come from.
type SourceDescription struct {
	DirectPutSourceDescription     *DirectPutSourceConfiguration   `json:"DirectPutSourceDescription,omitempty"`
	KinesisStreamSourceDescription *KinesisStreamSourceDescription `json:"KinesisStreamSourceDescription,omitempty"`
	MSKSourceDescription           json.RawMessage                 `json:"MSKSourceDescription,omitempty"`
	DatabaseSourceDescription      json.RawMessage                 `json:"DatabaseSourceDescription,omitempty"`
}

// KinesisStreamSourceDescription describes a Kinesis data stream source.
type KinesisStreamSourceDescription struct {
	KinesisStreamARN       string     `json:"KinesisStreamARN"`
	RoleARN                string     `json:"RoleARN"`
	DeliveryStartTimestamp *Timestamp `json:"DeliveryStartTimestamp,omitempty"`
}

// DeliveryStreamDescription is a delivery stream as DescribeDeliveryStream returns it.
type DeliveryStreamDescription struct {
	DeliveryStreamName                    string                                 `json:"DeliveryStreamName"`
	DeliveryStreamARN                     string                                 `json:"DeliveryStreamARN"`
	DeliveryStreamStatus                  DeliveryStreamStatus                   `json:"DeliveryStreamStatus"`
	FailureDescription                    *FailureDescription                    `json:"FailureDescription,omitempty"`
	DeliveryStreamEncryptionConfiguration *DeliveryStreamEncryptionConfiguration `json:"DeliveryStreamEncryptionConfiguration,omitempty"`
	DeliveryStreamType                    DeliveryStreamType                     `json:"DeliveryStreamType"`
	VersionID                             string                                 `json:"VersionId"`
	CreateTimestamp                       *Timestamp                             `json:"CreateTimestamp,omitempty"`
	LastUpdateTimestamp                   *Timestamp                             `json:"LastUpdateTimestamp,omitempty"`
	Source                                *SourceDescription                     `json:"Source,omitempty"`
	Destinations                          []DestinationDescription               `json:"Destinations"`
	HasMoreDestinations                   bool                                   `json:"HasMoreDestinations"`
}

// DescribeDeliveryStreamOutput is the DescribeDeliveryStream response.
type DescribeDeliveryStreamOutput struct {
	DeliveryStreamDescription DeliveryStreamDescription `json:"DeliveryStreamDescription"`
}

// ListDeliveryStreamsInput is the ListDeliveryStreams request.
type ListDeliveryStreamsInput struct {
	Limit                            *int               `json:"Limit,omitempty"`
	DeliveryStreamType               DeliveryStreamType `json:"DeliveryStreamType,omitempty"`
	ExclusiveStartDeliveryStreamName string             `json:"ExclusiveStartDeliveryStreamName,omitempty"`
}

// ListDeliveryStreamsOutput is the ListDeliveryStreams response.
type ListDeliveryStreamsOutput struct {
	DeliveryStreamNames    []string `json:"DeliveryStreamNames"`
	HasMoreDeliveryStreams bool     `json:"HasMoreDeliveryStreams"`
}

// PutRecordOutput is the PutRecord response.
type PutRecordOutput struct {
	RecordID  string `json:"RecordId"`
	Encrypted bool   `json:"Encrypted"`
}

// PutRecordBatchResponseEntry is the outcome of one record of a PutRecordBatch.
type PutRecordBatchResponseEntry struct {
	RecordID     string `json:"RecordId,omitempty"`
	ErrorCode    Code   `json:"ErrorCode,omitempty"`
	ErrorMessage string `json:"ErrorMessage,omitempty"`
}

// PutRecordBatchOutput is the PutRecordBatch response: one entry per record, in request order.
type PutRecordBatchOutput struct {
	FailedPutCount   int                           `json:"FailedPutCount"`
	Encrypted        bool                          `json:"Encrypted"`
	RequestResponses []PutRecordBatchResponseEntry `json:"RequestResponses"`
}

// UpdateDestinationInput is the UpdateDestination request; the destination updates are JSON
// objects keyed by their member name (for example "ExtendedS3DestinationUpdate").
type UpdateDestinationInput struct {
	DeliveryStreamName             string                     `json:"DeliveryStreamName"`
	CurrentDeliveryStreamVersionID string                     `json:"CurrentDeliveryStreamVersionId"`
	DestinationID                  string                     `json:"DestinationId"`
	Updates                        map[string]json.RawMessage `json:"-"`
}

// UnmarshalJSON reads the fixed members and collects every "*DestinationUpdate" member.
func (u *UpdateDestinationInput) UnmarshalJSON(b []byte) error {
	type plain UpdateDestinationInput
	if err := json.Unmarshal(b, (*plain)(u)); err != nil {
		return err
	}
	var all map[string]json.RawMessage
	if err := json.Unmarshal(b, &all); err != nil {
		return err
	}
	u.Updates = map[string]json.RawMessage{}
	for k, v := range all {
		if len(k) > len("DestinationUpdate") && k[len(k)-len("DestinationUpdate"):] == "DestinationUpdate" && string(v) != "null" {
			u.Updates[k] = v
		}
	}
	return nil
}

// TagDeliveryStreamInput is the TagDeliveryStream request.
type TagDeliveryStreamInput struct {
	DeliveryStreamName string `json:"DeliveryStreamName"`
	Tags               []Tag  `json:"Tags"`
}

// UntagDeliveryStreamInput is the UntagDeliveryStream request.
type UntagDeliveryStreamInput struct {
	DeliveryStreamName string   `json:"DeliveryStreamName"`
	TagKeys            []string `json:"TagKeys"`
}

// ListTagsForDeliveryStreamInput is the ListTagsForDeliveryStream request.
type ListTagsForDeliveryStreamInput struct {
	DeliveryStreamName   string `json:"DeliveryStreamName"`
	ExclusiveStartTagKey string `json:"ExclusiveStartTagKey,omitempty"`
	Limit                *int   `json:"Limit,omitempty"`
}

// ListTagsForDeliveryStreamOutput is the ListTagsForDeliveryStream response.
type ListTagsForDeliveryStreamOutput struct {
	Tags        []Tag `json:"Tags"`
	HasMoreTags bool  `json:"HasMoreTags"`
}

// StartDeliveryStreamEncryptionInput is the StartDeliveryStreamEncryption request.
type StartDeliveryStreamEncryptionInput struct {
	DeliveryStreamName                         string                                      `json:"DeliveryStreamName"`
	DeliveryStreamEncryptionConfigurationInput *DeliveryStreamEncryptionConfigurationInput `json:"DeliveryStreamEncryptionConfigurationInput,omitempty"`
}

// StopDeliveryStreamEncryptionInput is the StopDeliveryStreamEncryption request.
type StopDeliveryStreamEncryptionInput struct {
	DeliveryStreamName string `json:"DeliveryStreamName"`
}

// HttpEndpointConfiguration is the endpoint of an HTTP endpoint destination. AccessKey is never
// described.
type HttpEndpointConfiguration struct {
	URL       string  `json:"Url"`
	Name      *string `json:"Name,omitempty"`
	AccessKey *string `json:"AccessKey,omitempty"`
}

// HttpEndpointCommonAttribute is one attribute sent with every request.
type HttpEndpointCommonAttribute struct {
	AttributeName  string `json:"AttributeName"`
	AttributeValue string `json:"AttributeValue"`
}

// HttpEndpointRequestConfiguration says how requests are encoded and what they carry.
type HttpEndpointRequestConfiguration struct {
	ContentEncoding  string                        `json:"ContentEncoding,omitempty"`
	CommonAttributes []HttpEndpointCommonAttribute `json:"CommonAttributes,omitempty"`
}

// SecretsManagerConfiguration names the secret that holds a destination's credentials.
type SecretsManagerConfiguration struct {
	SecretARN *string `json:"SecretARN,omitempty"`
	RoleARN   *string `json:"RoleARN,omitempty"`
	Enabled   *bool   `json:"Enabled,omitempty"`
}

// HttpEndpointDestinationConfiguration is an HTTP endpoint destination as created and stored.
type HttpEndpointDestinationConfiguration struct {
	EndpointConfiguration       *HttpEndpointConfiguration        `json:"EndpointConfiguration,omitempty"`
	BufferingHints              *BufferingHints                   `json:"BufferingHints,omitempty"`
	CloudWatchLoggingOptions    *CloudWatchLoggingOptions         `json:"CloudWatchLoggingOptions,omitempty"`
	RequestConfiguration        *HttpEndpointRequestConfiguration `json:"RequestConfiguration,omitempty"`
	ProcessingConfiguration     *ProcessingConfiguration          `json:"ProcessingConfiguration,omitempty"`
	RoleARN                     *string                           `json:"RoleARN,omitempty"`
	RetryOptions                *RetryOptions                     `json:"RetryOptions,omitempty"`
	S3BackupMode                string                            `json:"S3BackupMode,omitempty"`
	S3Configuration             *S3DestinationConfiguration       `json:"S3Configuration,omitempty"`
	SecretsManagerConfiguration *SecretsManagerConfiguration      `json:"SecretsManagerConfiguration,omitempty"`
}
