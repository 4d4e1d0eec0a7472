package sigv4

import (
	"strings"
)

// Algorithm is the only signing algorithm accepted: the SDKs sign Firehose and CloudWatch
// requests with it.
const Algorithm = "AWS4-HMAC-SHA256"

// terminator ends every SigV4 credential scope.
const terminator = "aws4_request"

// Messages of the IncompleteSignatureException answers. AWS appends the whole Authorization
// header to most of them; Hydrant does not, so that no signature or key id of someone else's
// request ends up in a log line or an answer (docs/design/auth.md).
const (
	msgNeedCredential    = "Authorization header requires 'Credential' parameter."
	msgNeedSignature     = "Authorization header requires 'Signature' parameter."
	msgNeedSignedHeaders = "Authorization header requires 'SignedHeaders' parameter."
	// msgAlgorithm does not echo what was sent: it may be a bearer token meant for another server.
	msgAlgorithm = "Unsupported AWS 'algorithm': only '" + Algorithm + "' is accepted."
	msgPair      = "Authorization header has a component that is not a valid key=value pair (missing equal-sign)."
	msgUnknown   = "Authorization header has a component other than 'Credential', 'SignedHeaders' and 'Signature'."
	msgDuplicate = "Authorization header has a component more than once."
	// AWS answers a malformed scope with texts such as "Credential should be scoped to a valid
	// region, not '…'."; these say what the scope must look like instead of echoing it.
	msgScopeParts      = "Credential should be scoped as '<access key id>/<yyyymmdd>/<region>/<service>/aws4_request'."
	msgScopeTerminator = "Credential should be scoped with a valid terminator: 'aws4_request'."
)

// Authorization is a parsed SigV4 Authorization header:
// "AWS4-HMAC-SHA256 Credential=<AccessKeyID>/<Date>/<Region>/<Service>/aws4_request,
// SignedHeaders=<a;b;c>, Signature=<hex>".
type Authorization struct {
	// AccessKeyID, Date (yyyymmdd), Region and Service are the credential scope's parts.
	AccessKeyID, Date, Region, Service string
	// SignedHeaders are the lower-case names of the signed headers, in the order sent (the
	// canonical request lists them in that order).
	SignedHeaders []string
	// Signature is the hex signature as sent.
	Signature string
}

// String formats a as an Authorization header value, as the SDKs write it.
func (a Authorization) String() string {
	return Algorithm + " Credential=" + a.AccessKeyID + "/" + a.Date + "/" + a.Region + "/" +
		a.Service + "/" + terminator + ", SignedHeaders=" + strings.Join(a.SignedHeaders, ";") +
		", Signature=" + a.Signature
}

// ParseAuthorization parses an Authorization header value. Its components are separated by
// commas with optional spaces, in any order; each must appear once, and no other may appear
// (choice: AWS's SDKs send exactly these three, and anything else is a client bug worth
// reporting). Failures are *Error with CodeIncomplete; their messages never quote h.
func ParseAuthorization(h string) (Authorization, error) {
	var a Authorization
	rest, ok := strings.CutPrefix(h, Algorithm)
	if !ok || (rest != "" && rest[0] != ' ') {
		return a, incomplete(msgAlgorithm)
	}
	var credential, signedHeaders string
	var seen [3]bool
	for rest != "" {
		var comp string
		comp, rest, _ = strings.Cut(rest, ",")
		comp = strings.TrimSpace(comp)
		if comp == "" {
			continue // "a, b," or the spaces after the algorithm
		}
		k, v, ok := strings.Cut(comp, "=")
		if !ok {
			return a, incomplete(msgPair)
		}
		var i int
		switch k {
		case "Credential":
			i, credential = 0, v
		case "SignedHeaders":
			i, signedHeaders = 1, v
		case "Signature":
			i, a.Signature = 2, v
		default:
			return a, incomplete(msgUnknown)
		}
		if seen[i] {
			return a, incomplete(msgDuplicate)
		}
		seen[i] = true
	}
	// AWS names every missing component at once, in this order.
	var missing []string
	if credential == "" {
		missing = append(missing, msgNeedCredential)
	}
	if a.Signature == "" {
		missing = append(missing, msgNeedSignature)
	}
	if signedHeaders == "" {
		missing = append(missing, msgNeedSignedHeaders)
	}
	if missing != nil {
		return a, incomplete(strings.Join(missing, " "))
	}

	if strings.Count(credential, "/") != 4 {
		return Authorization{}, incomplete(msgScopeParts)
	}
	var parts [5]string
	s := credential
	for i := range 4 {
		parts[i], s, _ = strings.Cut(s, "/")
	}
	parts[4] = s
	if parts[4] != terminator {
		return Authorization{}, incomplete(msgScopeTerminator)
	}
	a.AccessKeyID, a.Date, a.Region, a.Service = parts[0], parts[1], parts[2], parts[3]
	a.SignedHeaders = strings.Split(signedHeaders, ";")
	return a, nil
}
