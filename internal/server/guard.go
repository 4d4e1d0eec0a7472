package server

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hydrant-dev/hydrant/internal/api"
	"github.com/hydrant-dev/hydrant/internal/auth"
	"github.com/hydrant-dev/hydrant/internal/listen"
	"github.com/hydrant-dev/hydrant/internal/metrics"
	"github.com/hydrant-dev/hydrant/internal/metrics/cloudwatch"
	"github.com/hydrant-dev/hydrant/internal/sigv4"
)

// route is what a request is for, told from its method, path and headers before its body is
// read (docs/design/auth.md, "Who is asked what").
type route int

const (
	routeFirehose   route = iota // the Firehose API, and anything unknown (answered as Firehose)
	routeCloudWatch              // the CloudWatch read API, in any of its three protocols
	routeAdmin                   // /_hydrant/*: flush, delivery status, faults
	routeView                    // the console and /metrics: read-only views
	routeHealth                  // /_hydrant/health: answered to anyone
)

// classify returns r's route and, for the admin and view routes, the action and stream it does.
func classify(r *http.Request) (rt route, action, stream string) {
	p := r.URL.Path
	switch {
	case p == "/_hydrant/health":
		return routeHealth, "", ""
	case p == "/_hydrant/cluster":
		return routeAdmin, "hydrant:GetClusterStatus", ""
	case p == "/_hydrant/flush":
		return routeAdmin, "hydrant:Flush", r.URL.Query().Get("stream")
	case strings.HasPrefix(p, "/_hydrant/streams/"):
		name, what, _ := strings.Cut(strings.TrimPrefix(p, "/_hydrant/streams/"), "/")
		switch {
		case what == "delivery":
			return routeAdmin, "hydrant:GetDeliveryStatus", name
		case what == "source":
			return routeAdmin, "hydrant:GetSourceStatus", name
		case what == "faults" && r.Method == http.MethodGet:
			return routeAdmin, "hydrant:GetFaults", name
		case what == "faults" && r.Method == http.MethodDelete:
			return routeAdmin, "hydrant:DeleteFaults", name
		case what == "faults":
			return routeAdmin, "hydrant:PutFaults", name
		}
		return routeAdmin, "hydrant:Unknown", name
	case strings.HasPrefix(p, "/_hydrant/"):
		return routeAdmin, "hydrant:Unknown", ""
	case cloudwatch.Is(r):
		return routeCloudWatch, "", ""
	case p == "/metrics":
		return routeView, "hydrant:GetMetrics", ""
	case strings.HasPrefix(p, "/console/") || p == "/console" || (p == "/" && r.Method != http.MethodPost):
		return routeView, "hydrant:ViewConsole", ""
	}
	return routeFirehose, "", ""
}

// guard is the first handler of every request: it classifies the route, verifies the
// signature when credentials are configured, puts the principal in the request's context and
// checks the policy where the route alone says what is done. The Firehose and CloudWatch
// handlers check theirs once they know the operation and stream (auth.Authorize).
type guard struct {
	creds           *auth.Store
	region, account string
	now             func() time.Time
	firehose, cw    http.Handler // where requests go once let through
	log             *logLimiter
	logf            func(msg string, args ...any)

	mu       sync.Mutex
	refusals map[string]int64 // by code
}

func (g *guard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rt, action, stream := classify(r)
	next := g.firehose
	if rt == routeCloudWatch {
		next = g.cw
	}
	set := g.creds.Load()
	ctx := r.Context()
	switch {
	case rt == routeHealth:
		next.ServeHTTP(w, r)
		return
	case set.Empty():
		next.ServeHTTP(w, r.WithContext(auth.With(ctx, auth.Open())))
		return
	case rt == routeView && r.Header.Get("Authorization") == "" && listen.PeerIsLoopback(r):
		ctx = auth.With(ctx, auth.Loopback(action))
	default:
		service := "firehose"
		if rt == routeCloudWatch {
			service = cloudwatch.SigningName
		}
		v := sigv4.Verifier{Region: g.region, Now: g.now, Lookup: func(id string) (sigv4.Key, bool) {
			k, ok := set.Lookup(id)
			if !ok {
				return sigv4.Key{}, false
			}
			return sigv4.Key{AccessKeyID: k.AccessKeyID, SecretAccessKey: k.SecretAccessKey, SessionToken: k.SessionToken}, true
		}}
		key, err := v.Verify(r, service)
		if err != nil {
			g.refuse(w, r, rt, err)
			return
		}
		r.Body = &refusingBody{ReadCloser: r.Body, g: g}
		k, _ := set.Lookup(key.AccessKeyID)
		ctx = auth.With(ctx, auth.Signed(k, g.region, g.account))
	}
	if rt == routeAdmin || rt == routeView {
		if err := auth.Authorize(ctx, action, stream); err != nil {
			g.refuse(w, r, rt, err)
			return
		}
	}
	next.ServeHTTP(w, r.WithContext(ctx))
}

// refuse answers a refused request in its route's protocol, counts it by code and logs it at
// most once a second per code, with the key id when the request named one, never a header's
// or the body's content.
func (g *guard) refuse(w http.ResponseWriter, r *http.Request, rt route, err error) {
	code, msg, status := api.CodeInternalFailure, "We encountered an internal error. Please try again.", http.StatusInternalServerError
	var se *sigv4.Error
	var de *auth.Denied
	switch {
	case errors.As(err, &se):
		code, msg, status = api.Code(se.Code), se.Message, se.Status
	case errors.As(err, &de):
		code, msg, status = api.CodeAccessDenied, de.Error(), api.CodeAccessDenied.Status()
	}
	g.count(string(code))
	if ok, suppressed := g.log.allow("auth:" + string(code)); ok {
		g.logf("request refused", "code", code, "path", r.URL.Path, "remote", r.RemoteAddr, "key_id", keyIDOf(r), "suppressed", suppressed)
	}
	switch rt {
	case routeCloudWatch:
		cloudwatch.WriteAuthError(w, r, string(code), msg)
	case routeView:
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(string(code) + ": " + msg + "\n"))
	default:
		api.WriteError(w, &api.Error{Code: code, Message: msg})
	}
}

// refusingBody is a verified request's body: a signature that does not cover it surfaces as a
// read error that the handlers answer with its AWS code (api.WireError), and is counted.
type refusingBody struct {
	io.ReadCloser
	g       *guard
	counted bool
}

func (b *refusingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	var se *sigv4.Error
	if err != nil && errors.As(err, &se) {
		if !b.counted {
			b.counted = true
			b.g.count(se.Code)
		}
		return n, &wireError{code: se.Code, message: se.Message}
	}
	return n, err
}

// wireError is an authentication refusal met while reading a body, in the shape the handlers
// answer (api.WireError).
type wireError struct{ code, message string }

func (e *wireError) Error() string        { return e.code + ": " + e.message }
func (e *wireError) ErrorCode() string    { return e.code }
func (e *wireError) ErrorMessage() string { return e.message }

// count counts one refusal of code.
func (g *guard) count(code string) {
	g.mu.Lock()
	g.refusals[code]++
	g.mu.Unlock()
}

// keyIDOf returns the access key id a well-formed Authorization header names: the only part
// of a refused request that is logged.
func keyIDOf(r *http.Request) string {
	a, err := sigv4.ParseAuthorization(r.Header.Get("Authorization"))
	if err != nil {
		return ""
	}
	return a.AccessKeyID
}

// samples returns the refusals by code, for /metrics.
func (g *guard) samples() []metrics.Sample {
	g.mu.Lock()
	defer g.mu.Unlock()
	codes := make([]string, 0, len(g.refusals))
	for c := range g.refusals {
		codes = append(codes, c)
	}
	slices.Sort(codes)
	out := make([]metrics.Sample, 0, len(codes))
	for _, c := range codes {
		out = append(out, metrics.Sample{Labels: map[string]string{"code": c}, Value: float64(g.refusals[c])})
	}
	return out
}

// slowDown answers a request beyond the listener's bound on requests served at once, in the
// protocol of its route.
func slowDown(w http.ResponseWriter, r *http.Request) {
	switch rt, _, _ := classify(r); rt {
	case routeFirehose, routeAdmin:
		api.WriteError(w, api.Errorf(api.CodeServiceUnavailable, "Slow down."))
	default:
		http.Error(w, "Slow down.", http.StatusServiceUnavailable)
	}
}

// warnInsecure says at the start what an operator should know of how the listener is exposed.
func (s *Server) warnInsecure() {
	loopback := listen.IsLoopback(s.cfg.Listen)
	switch {
	case s.creds.Load().Empty() && !loopback:
		s.log.Warn("serving without authentication on a non-loopback address (--insecure-no-auth): anyone who reaches it can read, write and delete every stream", "addr", s.cfg.Listen)
	case !loopback && s.certs == nil:
		s.log.Warn("serving without TLS on a non-loopback address: signatures protect the keys and the integrity of requests, but bodies and answers travel in clear text", "addr", s.cfg.Listen)
	}
}

// reloadOnHangup reloads the credentials (through Config.Reload) and the TLS certificate on
// each SIGHUP until ctx ends. What fails to load is logged and the old stays in force.
func (s *Server) reloadOnHangup(ctx context.Context) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			s.reload()
		}
	}
}

// reload is one SIGHUP's work.
func (s *Server) reload() {
	log := s.log.With("part", "auth")
	if s.certs != nil {
		if err := s.certs.Reload(); err != nil {
			log.Error("reload TLS certificate; the old one stays", "err", err)
		} else {
			log.Info("TLS certificate reloaded", "cert", s.cfg.TLSCert)
		}
	}
	if s.cfg.Reload == nil {
		return
	}
	cfg, err := s.cfg.Reload()
	if err != nil {
		log.Error("reload config; the credentials in force stay", "err", err)
		return
	}
	set, err := auth.Compile(cfg.Credentials)
	switch {
	case err != nil:
		log.Error("reload credentials; the ones in force stay", "err", err)
	case set.Empty() != s.creds.Load().Empty():
		// Turning authentication on or off changes what the listener may be exposed to
		// (docs/design/auth.md): that takes a restart, with its checks.
		log.Error("reload credentials: adding the first or removing the last credential takes a restart; the ones in force stay")
	default:
		s.creds.Swap(set)
		log.Info("credentials reloaded", "credentials", set.Len())
	}
}
