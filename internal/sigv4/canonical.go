package sigv4

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// verification is one request's signature check: the canonical request hashed up to its
// payload hash and, once Verify has replaced the request's body with it, the reader that
// hashes the payload as it passes (body.go).
type verification struct {
	amzDate, date, region, service, secret string
	sig                                    [sha256.Size]byte // the signature sent
	claimed                                [sha256.Size]byte // X-Amz-Content-Sha256, when hasClaimed
	hasClaimed                             bool

	canon hash.Hash // the canonical request up to its payload hash
	alt   hash.Hash // the same with botocore's normalised URI; nil when that is the same URI
	buf   []byte    // scratch, reused for the string to sign and HMAC messages

	// HMAC scratch. They are fields rather than locals because slices handed to a hash.Hash
	// escape: as locals each would cost an allocation.
	kblock        [sha256.BlockSize]byte
	pad           [sha256.BlockSize]byte
	inner, k, mac [sha256.Size]byte
	sum1, sum2    [sha256.Size]byte
	psum          [sha256.Size]byte // the payload's hash
	name          [64]byte          // a signed header's canonical name

	// The body, once wrapped.
	rc        io.ReadCloser
	payload   hash.Hash
	remaining int64 // bytes still due by Content-Length; -1 when unknown
	ahead     [1]byte
	hasAhead  bool // ahead holds the last byte read, not yet delivered (unknown length)
	probe     [1]byte
	verified  bool // the signature matched; what is left is to see that no byte follows
	err       error
}

// canonicalPrefix hashes the canonical request up to its payload hash:
//
//	METHOD \n URI \n QUERY \n name:value \n … \n \n signed;headers \n
func (s *verification) canonicalPrefix(r *http.Request, signed []string) {
	b := make([]byte, 0, 1024)
	b = append(b, r.Method...)
	b = append(b, '\n')
	m := len(b)
	// Both SDKs escape the path as sent once more (aws-sdk-go-v2: httpbinding.EscapePath of
	// URL.EscapedPath; botocore: quote(path, safe='/~')), so "%2F" is signed as "%252F".
	path := r.URL.EscapedPath()
	if path == "" {
		path = "/"
	}
	b = appendEscaped(b, path, true)
	u := len(b)
	b = append(b, '\n')
	b = appendQuery(b, r.URL.RawQuery)
	b = append(b, '\n')
	for _, name := range signed {
		b = append(b, name...)
		b = append(b, ':')
		b = s.appendHeader(b, r, name)
		b = append(b, '\n')
	}
	b = append(b, '\n')
	for i, name := range signed {
		if i > 0 {
			b = append(b, ';')
		}
		b = append(b, name...)
	}
	b = append(b, '\n')
	s.canon = sha256.New()
	s.canon.Write(b)
	if norm := normalize(path); norm != path {
		s.alt = sha256.New()
		s.alt.Write(b[:m])
		s.alt.Write(appendEscaped(nil, norm, true))
		s.alt.Write(b[u:])
	}
	s.buf = b[:0]
}

// appendHeader appends the canonical value of the signed header name: values trimmed, inner
// runs of spaces collapsed, repeated headers joined by ",", as aws-sdk-go-v2 writes them
// (TrimSpace after collapsing spaces). Go's server keeps Host and Transfer-Encoding out of
// the header map, and the length is in ContentLength when the request was built in process.
func (s *verification) appendHeader(b []byte, r *http.Request, name string) []byte {
	if name == "host" {
		host := r.Host
		if host == "" {
			host = r.URL.Host
		}
		// The SDK trims spaces only, not other white space, from the host.
		return appendCollapsed(b, strings.Trim(host, " "))
	}
	vals := s.lookup(r.Header, name)
	if vals == nil {
		switch name {
		case "content-length":
			if r.ContentLength >= 0 {
				return strconv.AppendInt(b, r.ContentLength, 10)
			}
		case "transfer-encoding":
			vals = r.TransferEncoding
		}
	}
	for i, v := range vals {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendCollapsed(b, strings.TrimSpace(v))
	}
	return b
}

// lookup returns the values of the header name (lower case, as signed) without allocating:
// it canonicalises the name as textproto does into a field and indexes the map with it, and
// looks further only for a request built in process with a key not in canonical form.
func (s *verification) lookup(h http.Header, name string) []string {
	if len(name) <= len(s.name) {
		n := canonicalKey(s.name[:0], name)
		if v, ok := h[string(n)]; ok {
			return v
		}
	}
	for k, v := range h {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return nil
}

// canonicalKey appends name in textproto's canonical form ("x-amz-date" → "X-Amz-Date"), or
// unchanged when it holds a byte that is not a token character (textproto leaves those too).
func canonicalKey(dst []byte, name string) []byte {
	upper := true
	start := len(dst)
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !isToken(c) {
			return append(dst[:start], name...)
		}
		if upper && 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		} else if !upper && 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
		upper = c == '-'
	}
	return dst
}

func isToken(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// appendCollapsed appends v with each run of spaces collapsed to one.
func appendCollapsed(b []byte, v string) []byte {
	for i := 0; i < len(v); i++ {
		if v[i] == ' ' && i > 0 && v[i-1] == ' ' {
			continue
		}
		b = append(b, v[i])
	}
	return b
}

// appendEscaped appends s URI-encoded as SigV4 wants: every byte but the RFC 3986 unreserved
// characters (and '/' when keepSlash) as %XX with upper-case hex.
func appendEscaped(b []byte, s string, keepSlash bool) []byte {
	const hexDigits = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		c := s[i]
		if unreserved(c) || c == '/' && keepSlash {
			b = append(b, c)
		} else {
			b = append(b, '%', hexDigits[c>>4], hexDigits[c&15])
		}
	}
	return b
}

func unreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

// appendQuery appends the canonical query: each name and value decoded ("+" is a space, as
// url.ParseQuery reads it, which is what aws-sdk-go-v2 signs) and encoded again per RFC 3986,
// the pairs sorted by encoded name, then value. Both SDKs send queries already in that
// encoding, so for them this is the query as sent, sorted. A component that does not decode is
// encoded as it is (its "%" becomes "%25"): it was not signed by an SDK.
func appendQuery(b []byte, raw string) []byte {
	if raw == "" {
		return b
	}
	type pair struct{ k, v string }
	pairs := make([]pair, 0, strings.Count(raw, "&")+1)
	for raw != "" {
		var p string
		p, raw, _ = strings.Cut(raw, "&")
		if p == "" {
			continue
		}
		k, v, _ := strings.Cut(p, "=")
		pairs = append(pairs, pair{queryComponent(k), queryComponent(v)})
	}
	slices.SortFunc(pairs, func(x, y pair) int {
		if c := strings.Compare(x.k, y.k); c != 0 {
			return c
		}
		return strings.Compare(x.v, y.v)
	})
	for i, p := range pairs {
		if i > 0 {
			b = append(b, '&')
		}
		b = append(b, p.k...)
		b = append(b, '=')
		b = append(b, p.v...)
	}
	return b
}

func queryComponent(s string) string {
	clean := true
	for i := 0; i < len(s); i++ {
		clean = clean && unreserved(s[i])
	}
	if clean {
		return s
	}
	if d, err := url.QueryUnescape(s); err == nil {
		s = d
	}
	return string(appendEscaped(nil, s, false))
}

// normalize returns p as botocore signs it (and AWS computes it for non-S3 services): "." and
// ".." segments resolved, empty segments ("//") dropped. It returns p itself when p has none.
func normalize(p string) string {
	dirty := false
	for i := 0; !dirty; {
		j := strings.IndexByte(p[i:], '/')
		last := j < 0
		seg := p[i:]
		if !last {
			seg = p[i : i+j]
		}
		dirty = seg == "." || seg == ".." || seg == "" && i > 0 && !last
		if last {
			break
		}
		i += j + 1
	}
	if !dirty {
		return p
	}
	var out []string
	for _, seg := range strings.Split(p, "/") {
		switch seg {
		case "", ".":
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
		default:
			out = append(out, seg)
		}
	}
	n := strings.Join(out, "/")
	if strings.HasPrefix(p, "/") {
		n = "/" + n
	}
	if strings.HasSuffix(p, "/") && len(out) > 0 {
		n += "/"
	}
	return n
}

// finish completes the canonical request with the payload's hash and compares the signature.
func (s *verification) finish(payload [sha256.Size]byte) error {
	if s.hasClaimed && s.claimed != payload {
		return invalid(msgContentSHA)
	}
	s.buf = hex.AppendEncode(s.buf[:0], payload[:])
	s.canon.Write(s.buf)
	s.canon.Sum(s.sum1[:0])
	if s.alt != nil {
		s.alt.Write(s.buf)
		s.alt.Sum(s.sum2[:0])
	}

	// The signing key: HMAC chain from "AWS4"+secret over date, region, service,
	// "aws4_request". The canonical request's hash is taken, so its hasher is free.
	h := s.canon
	s.setKey(h, append(append(s.buf[:0], "AWS4"...), s.secret...))
	for _, part := range [...]string{s.date, s.region, s.service, terminator} {
		s.buf = append(s.buf[:0], part...)
		s.sum(h, s.buf, &s.k)
		s.setKey(h, s.k[:])
	}

	// The string to sign; its last 64 bytes are the canonical request's hash.
	b := append(s.buf[:0], Algorithm+"\n"...)
	b = append(b, s.amzDate...)
	b = append(b, '\n')
	b = append(b, s.date...)
	b = append(b, '/')
	b = append(b, s.region...)
	b = append(b, '/')
	b = append(b, s.service...)
	b = append(b, "/"+terminator+"\n"...)
	n := len(b)
	b = hex.AppendEncode(b, s.sum1[:])
	s.buf = b
	s.sum(h, b, &s.mac)
	ok := hmac.Equal(s.mac[:], s.sig[:])
	if s.alt != nil {
		hex.Encode(b[n:], s.sum2[:])
		s.sum(h, b, &s.mac)
		ok = hmac.Equal(s.mac[:], s.sig[:]) || ok
	}
	if !ok {
		return invalid(msgMismatch)
	}
	return nil
}

// setKey makes key the HMAC key of the following sum calls.
func (s *verification) setKey(h hash.Hash, key []byte) {
	if len(key) > len(s.kblock) {
		h.Reset()
		h.Write(key)
		h.Sum(s.kblock[:0])
		clear(s.kblock[sha256.Size:])
		return
	}
	clear(s.kblock[copy(s.kblock[:], key):])
}

// sum writes HMAC-SHA256(key, msg) to out, reusing h instead of allocating as crypto/hmac does
// (five HMACs per request, each hmac.New several allocations).
func (s *verification) sum(h hash.Hash, msg []byte, out *[sha256.Size]byte) {
	for i, c := range s.kblock {
		s.pad[i] = c ^ 0x36
	}
	h.Reset()
	h.Write(s.pad[:])
	h.Write(msg)
	h.Sum(s.inner[:0])
	for i, c := range s.kblock {
		s.pad[i] = c ^ 0x5c
	}
	h.Reset()
	h.Write(s.pad[:])
	h.Write(s.inner[:])
	h.Sum(out[:0])
}
