package firehoseio

import (
	"fmt"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// redacted is what a credential prints as.
const redacted = "[redacted]"

// secret is a credential. It travels with the pipeline as a DoFn field (encoded as
// JSON, like every setting), but it prints and logs as "[redacted]" whatever the verb
// or handler.
type secret string

// String returns "[redacted]".
func (secret) String() string { return redacted }

// GoString returns "[redacted]", quoted.
func (secret) GoString() string { return `"` + redacted + `"` }

// Format writes "[redacted]" for every verb.
func (secret) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(redacted)) }

// LogValue is "[redacted]".
func (secret) LogValue() slog.Value { return slog.StringValue(redacted) }

// staticCredentials are the Credentials option's keys.
type staticCredentials struct {
	AccessKeyID, SecretAccessKey, SessionToken secret
}

// set reports whether the option was given.
func (c staticCredentials) set() bool {
	return c.AccessKeyID != "" || c.SecretAccessKey != "" || c.SessionToken != ""
}

// validate reports keys given without their pair.
func (c staticCredentials) validate() error {
	switch {
	case !c.set():
		return nil
	case c.AccessKeyID == "" || c.SecretAccessKey == "":
		return fmt.Errorf("%w: Credentials need both an access key ID and a secret access key", ErrInvalidOption)
	}
	return nil
}

// provider returns the SDK's static provider for the keys.
func (c staticCredentials) provider() aws.CredentialsProvider {
	return credentials.NewStaticCredentialsProvider(string(c.AccessKeyID), string(c.SecretAccessKey), string(c.SessionToken))
}

// String is the credentials with every key redacted.
func (c staticCredentials) String() string {
	if !c.set() {
		return "{}"
	}
	return "{AccessKeyID:" + redacted + " SecretAccessKey:" + redacted + " SessionToken:" + redacted + "}"
}

// LogValue is the credentials with every key redacted.
func (c staticCredentials) LogValue() slog.Value {
	if !c.set() {
		return slog.GroupValue()
	}
	return slog.GroupValue(slog.String("access_key_id", redacted), slog.String("secret_access_key", redacted), slog.String("session_token", redacted))
}
