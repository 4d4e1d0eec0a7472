// Package auth holds who may call Hydrant and what they may do: the credentials and access
// policies of the config file, compiled into a Set that can be swapped at once on SIGHUP, and the
// Principal a verified request acts as (docs/design/auth.md).
//
// It does not verify signatures (internal/sigv4 does) nor know routes (internal/server does);
// it answers "is this key known, with which secret" and "may this principal do this action on
// this stream".
package auth

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"regexp"
	"strings"
	"sync/atomic"
)

// Credential is one entry of the config file's credentials.
type Credential struct {
	AccessKeyID         string   `json:"accessKeyId"`
	SecretAccessKey     string   `json:"secretAccessKey,omitempty"`
	SecretAccessKeyFile string   `json:"secretAccessKeyFile,omitempty"`
	SessionToken        string   `json:"sessionToken,omitempty"`
	Name                string   `json:"name,omitempty"`
	Actions             []string `json:"actions,omitempty"`
	Streams             []string `json:"streams,omitempty"`
}

// accessKeyID is the shape of an access key id, as IAM's model bounds it (16 to 128 word
// characters).
var accessKeyID = regexp.MustCompile(`^[\w]{16,128}$`)

// Key is a compiled credential: its secret and its policy.
type Key struct {
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string
	Name            string // the user in AccessDenied texts
	actions         []string
	streams         []string
}

// Set is the credentials in force. The zero Set has none: every request is accepted (the
// server then listens on loopback only, or was told --insecure-no-auth).
type Set struct {
	keys map[string]*Key
}

// Compile checks creds and reads their secret files. An error names the entry by its index.
func Compile(creds []Credential) (*Set, error) {
	s := &Set{keys: make(map[string]*Key, len(creds))}
	var errs []error
	for i, c := range creds {
		k, err := compile(c)
		if err != nil {
			errs = append(errs, fmt.Errorf("credentials[%d]: %w", i, err))
			continue
		}
		if _, dup := s.keys[k.AccessKeyID]; dup {
			errs = append(errs, fmt.Errorf("credentials[%d]: accessKeyId %s appears twice", i, k.AccessKeyID))
			continue
		}
		s.keys[k.AccessKeyID] = k
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return s, nil
}

func compile(c Credential) (*Key, error) {
	if !accessKeyID.MatchString(c.AccessKeyID) {
		return nil, fmt.Errorf("accessKeyId %q: must be 16 to 128 letters, digits or underscores", c.AccessKeyID)
	}
	secret := c.SecretAccessKey
	switch {
	case secret != "" && c.SecretAccessKeyFile != "":
		return nil, fmt.Errorf("accessKeyId %s: secretAccessKey and secretAccessKeyFile are exclusive", c.AccessKeyID)
	case c.SecretAccessKeyFile != "":
		b, err := os.ReadFile(c.SecretAccessKeyFile)
		if err != nil {
			// The path is named, never the content.
			return nil, fmt.Errorf("accessKeyId %s: read secretAccessKeyFile: %w", c.AccessKeyID, err)
		}
		secret = strings.TrimRight(string(b), "\r\n")
	}
	if secret == "" {
		return nil, fmt.Errorf("accessKeyId %s: needs a secretAccessKey or secretAccessKeyFile", c.AccessKeyID)
	}
	k := &Key{AccessKeyID: c.AccessKeyID, SecretAccessKey: secret, SessionToken: c.SessionToken, Name: c.Name}
	if k.Name == "" {
		k.Name = c.AccessKeyID
	}
	for _, a := range c.Actions {
		if err := checkPattern(a); err != nil {
			return nil, fmt.Errorf("accessKeyId %s: actions: %w", c.AccessKeyID, err)
		}
		k.actions = append(k.actions, strings.ToLower(a))
	}
	for _, s := range c.Streams {
		if err := checkPattern(s); err != nil {
			return nil, fmt.Errorf("accessKeyId %s: streams: %w", c.AccessKeyID, err)
		}
		k.streams = append(k.streams, s)
	}
	return k, nil
}

// checkPattern accepts glob patterns of * and ? only: path.Match's character classes and escapes
// are not IAM's, so they are refused rather than given a meaning.
func checkPattern(p string) error {
	if p == "" {
		return errors.New("empty pattern")
	}
	if strings.ContainsAny(p, `[]\`) {
		return fmt.Errorf("pattern %q: only * and ? are wildcards", p)
	}
	return nil
}

// Empty reports whether the set has no credentials.
func (s *Set) Empty() bool { return s == nil || len(s.keys) == 0 }

// Lookup returns the key of an access key id.
func (s *Set) Lookup(id string) (*Key, bool) {
	if s == nil {
		return nil, false
	}
	k, ok := s.keys[id]
	return k, ok
}

// Len returns the number of credentials.
func (s *Set) Len() int {
	if s == nil {
		return 0
	}
	return len(s.keys)
}

// Store holds the Set in force; Swap replaces it for the requests that come after.
type Store struct {
	cur atomic.Pointer[Set]
}

// NewStore returns a Store holding s.
func NewStore(s *Set) *Store {
	st := &Store{}
	st.cur.Store(s)
	return st
}

// Load returns the Set in force.
func (st *Store) Load() *Set { return st.cur.Load() }

// Swap puts s in force.
func (st *Store) Swap(s *Set) { st.cur.Store(s) }

// match reports whether name matches the glob pattern (* any run, ? one character).
func match(pattern, name string) bool {
	// path.Match treats '/' specially; neither actions nor stream names contain one, and a
	// name that does simply fails the match.
	ok, err := path.Match(pattern, name)
	return err == nil && ok
}

// allows reports whether k's policy allows action on stream ("" for actions without a stream).
func (k *Key) allows(action, stream string) bool {
	if len(k.actions) > 0 {
		a := strings.ToLower(action)
		found := false
		for _, p := range k.actions {
			if match(p, a) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	if stream == "" || len(k.streams) == 0 {
		return true
	}
	for _, p := range k.streams {
		if match(p, stream) {
			return true
		}
	}
	return false
}

// Principal is who a request acts as.
type Principal struct {
	key      *Key // nil: open (no credentials configured) or a loopback view
	open     bool
	readOnly []string // the only actions a loopback view may do
	region   string
	account  string
}

// Open is the principal of every request when no credentials are configured.
func Open() *Principal { return &Principal{open: true} }

// Loopback is the principal of an unsigned request from this machine to a read-only view: it
// may do the given actions and nothing else.
func Loopback(actions ...string) *Principal { return &Principal{readOnly: actions} }

// Signed is the principal of a request signed by k, in region and account (for ARNs).
func Signed(k *Key, region, account string) *Principal {
	return &Principal{key: k, region: region, account: account}
}

// KeyID returns the access key id of a signed principal, or "".
func (p *Principal) KeyID() string {
	if p == nil || p.key == nil {
		return ""
	}
	return p.key.AccessKeyID
}

// Denied is an action refused by a policy.
type Denied struct {
	User, Action, Resource string
}

// Error returns AWS's AccessDeniedException text.
func (d *Denied) Error() string {
	return fmt.Sprintf("User: %s is not authorized to perform: %s on resource: %s because no identity-based policy allows the %s action",
		d.User, d.Action, d.Resource, d.Action)
}

// ErrorCode returns the AWS error code of a refusal, AccessDeniedException.
func (d *Denied) ErrorCode() string { return "AccessDeniedException" }

// ErrorMessage returns the refusal's text.
func (d *Denied) ErrorMessage() string { return d.Error() }

// ErrNoPrincipal reports an authorization asked for a request that went through no guard: a
// route left out of the middleware, refused rather than let through.
var ErrNoPrincipal = errors.New("auth: request has no principal")

type ctxKey struct{}

// With returns ctx carrying p.
func With(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, ctxKey{}, p)
}

// From returns the principal of ctx, or nil.
func From(ctx context.Context) *Principal {
	p, _ := ctx.Value(ctxKey{}).(*Principal)
	return p
}

// Authorize checks that the principal of ctx may do action (for example
// "firehose:PutRecordBatch") on stream ("" for actions without a stream resource). It returns a
// *Denied, or ErrNoPrincipal for a context no guard saw.
func Authorize(ctx context.Context, action, stream string) error {
	p := From(ctx)
	switch {
	case p == nil:
		return ErrNoPrincipal
	case p.open:
		return nil
	case p.key == nil: // a loopback view
		for _, a := range p.readOnly {
			if strings.EqualFold(a, action) {
				return nil
			}
		}
		return &Denied{User: "anonymous", Action: action, Resource: "*"}
	case p.key.allows(action, stream):
		return nil
	}
	res := "*"
	if stream != "" {
		res = fmt.Sprintf("arn:aws:firehose:%s:%s:deliverystream/%s", p.region, p.account, stream)
	}
	return &Denied{User: fmt.Sprintf("arn:aws:iam::%s:user/%s", p.account, p.key.Name), Action: action, Resource: res}
}
