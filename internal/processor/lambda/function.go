package lambda

import (
	"errors"
	"fmt"
	"strings"
)

// ErrInvalidFunction is returned for a function reference that is neither a function name,
// a partial ARN nor a Lambda function ARN.
var ErrInvalidFunction = errors.New("invalid function name or ARN")

// function is a parsed function reference, in any form the Invoke API's FunctionName takes:
//
//	MetadataExtractor
//	MetadataExtractor:1
//	123456789012:function:MetadataExtractor[:qualifier]
//	arn:aws:lambda:us-east-1:123456789012:function:MetadataExtractor[:qualifier]
type function struct {
	partition, region, account string // from a (partial) ARN; empty otherwise
	name, qualifier            string
}

// unqualifiedARN returns the ARN without its qualifier, or "" when f was not a full ARN.
func (f function) unqualifiedARN() string {
	if f.region == "" {
		return ""
	}
	return "arn:" + f.partition + ":lambda:" + f.region + ":" + f.account + ":function:" + f.name
}

// parseFunction parses s and checks its parts against the Invoke API's patterns.
func parseFunction(s string) (function, error) {
	var f function
	parts := strings.Split(s, ":")
	var rest []string
	switch {
	case len(parts) >= 7 && parts[0] == "arn":
		if parts[2] != "lambda" || parts[5] != "function" {
			return f, fmt.Errorf("%w: %q is not a Lambda function ARN", ErrInvalidFunction, s)
		}
		f.partition, f.region, f.account = parts[1], parts[3], parts[4]
		if !isWord(f.partition, "-") || !isWord(f.region, "-") {
			return f, fmt.Errorf("%w: %q has an invalid partition or region", ErrInvalidFunction, s)
		}
		rest = parts[6:]
	case len(parts) >= 3 && parts[1] == "function":
		f.account = parts[0]
		rest = parts[2:]
	default:
		rest = parts
	}
	if f.account != "" && (len(f.account) != 12 || !isDigits(f.account)) {
		return f, fmt.Errorf("%w: %q: account %q must be 12 digits", ErrInvalidFunction, s, f.account)
	}
	if len(rest) > 2 {
		return f, fmt.Errorf("%w: %q", ErrInvalidFunction, s)
	}
	f.name = rest[0]
	if f.name == "" || len(f.name) > 64 || !isWord(f.name, "-_") {
		return f, fmt.Errorf("%w: %q: function name must be 1..64 of [a-zA-Z0-9-_]", ErrInvalidFunction, s)
	}
	if len(rest) == 2 {
		f.qualifier = rest[1]
		if f.qualifier == "" || len(f.qualifier) > 128 || !isWord(f.qualifier, "-_$") {
			return f, fmt.Errorf("%w: %q: qualifier must be 1..128 of [a-zA-Z0-9-_$]", ErrInvalidFunction, s)
		}
	}
	return f, nil
}

func isWord(s, extra string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || strings.ContainsRune(extra, r)) {
			return false
		}
	}
	return true
}

func isDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// dnsSuffix returns the DNS suffix of AWS endpoints in partition (or, without a partition, of
// region).
func dnsSuffix(partition, region string) string {
	switch {
	case partition == "aws-cn", partition == "" && strings.HasPrefix(region, "cn-"):
		return "amazonaws.com.cn"
	case partition == "aws-iso":
		return "c2s.ic.gov"
	case partition == "aws-iso-b":
		return "sc2s.sgov.gov"
	}
	return "amazonaws.com"
}
