// Package access authenticates the public surface (docs/security.md). Every route a
// binary serves has a class, declared once in Table; Gate checks the bearer token a
// request carries against the tokens its route's class accepts, and Verify refuses to
// start a binary that serves a route the table does not class.
package access

import "crypto/sha256"
import "crypto/subtle"
import "errors"
import "fmt"
import "log/slog"
import "net/http"
import "slices"
import "sort"
import "strings"

import "github.com/gin-gonic/gin"

import "github.com/noetl/controlplane/shared/config"
import "github.com/noetl/controlplane/shared/httpx"

// Class names the tokens a route accepts. The internal token is accepted by every class
// but Open (which needs none).
type Class string

const (
	// Open routes need no token: probes, metrics, the upstream health routes.
	Open Class = "open"
	// Client routes take NOETL_API_TOKEN: the CLI, the GUI, operators. While it is unset
	// they take NOETL_WORKER_TOKEN, and with both unset they are open (see tokenOf).
	Client Class = "client"
	// Worker routes take NOETL_WORKER_TOKEN: the worker protocol and credential values.
	// While it is unset they take NOETL_API_TOKEN, and with both unset they are open.
	Worker Class = "worker"
	// ClientOrWorker routes take either token: both kinds of caller use them.
	ClientOrWorker Class = "client_or_worker"
	// Internal routes take only NOETL_INTERNAL_API_TOKEN, and are closed without it.
	Internal Class = "internal"
)

// Token variables, named in errors and warnings.
const (
	EnvAPIToken      = "NOETL_API_TOKEN"
	EnvWorkerToken   = "NOETL_WORKER_TOKEN"
	EnvInternalToken = "NOETL_INTERNAL_API_TOKEN"
)

// Tokens are the configured bearer tokens of a binary.
type Tokens struct {
	Internal config.Secret
	config.PublicTokens
}

// digest is a token prepared for comparison: hashed, so that neither the content nor the
// length of a configured token leaks through timing.
type digest struct {
	set bool
	sum [32]byte
}

func digestOf(s config.Secret) digest {
	// A presented token arrives trimmed (HTTP strips header whitespace), so a configured
	// one is trimmed too: a file-backed secret often ends in a newline.
	return digest{set: s.IsSet(), sum: sha256.Sum256([]byte(strings.TrimSpace(s.Reveal())))}
}

// tokenOf is the variable whose token a public class (Client or Worker) takes: its own
// when that is set, else the other public token when that one is set, and "" only when
// both are unset, which leaves the class open (as upstream left the whole surface, so
// that existing workers and clients keep working). One token set closes every public
// class: an operator who set NOETL_API_TOKEN did not mean to leave credential values
// open to anyone because NOETL_WORKER_TOKEN is unset, and the reverse.
func (t Tokens) tokenOf(c Class) string {
	own, other := EnvAPIToken, EnvWorkerToken
	ownSet, otherSet := t.API.IsSet(), t.Worker.IsSet()
	if c == Worker {
		own, other = other, own
		ownSet, otherSet = otherSet, ownSet
	}
	switch {
	case ownSet:
		return own
	case otherSet:
		return other
	}
	return ""
}

// accepted lists the variables whose tokens a class takes, and whether the class is open
// because no public token is set (see tokenOf).
func (t Tokens) accepted(c Class) (vars []string, open bool) {
	var public []Class
	switch c {
	case Open:
		return nil, true
	case Client, Worker:
		public = []Class{c}
	case ClientOrWorker:
		public = []Class{Client, Worker}
	default: // Internal, and anything unknown, is never open.
		return []string{EnvInternalToken}, false
	}
	for _, pc := range public {
		v := t.tokenOf(pc)
		if v == "" {
			return nil, true
		}
		if !slices.Contains(vars, v) {
			vars = append(vars, v)
		}
	}
	return append(vars, EnvInternalToken), false
}

// OpenClasses lists the public classes that are open: both, when neither public token is
// set, else none.
func (t Tokens) OpenClasses() []Class {
	var out []Class
	for _, c := range []Class{Client, Worker} {
		if t.tokenOf(c) == "" {
			out = append(out, c)
		}
	}
	return out
}

// Mode is what /api/health reports: "open" while the public classes are open (neither
// public token set), else "token".
func (t Tokens) Mode() string {
	if len(t.OpenClasses()) > 0 {
		return "open"
	}
	return "token"
}

// Gate returns the middleware that authenticates every request. Paths under
// /api/internal/ and /internal/ need the internal token whether or not a route matches
// them (probing answers 401, not which internal routes exist); any other matched route
// needs a token of its class; a request no route takes is authenticated by unmatched
// before it learns 404 or 405; a matched route missing from the table answers 500
// (Verify keeps that from happening).
//
// Install it before the routes are registered: gin adds a middleware only to routes
// registered after it.
func Gate(t Tokens) gin.HandlerFunc {
	return ForwardingGate(t, nil)
}

// ForwardingGate is Gate for a binary that passes requests on to the services behind it
// (the router): a request none of its own routes takes, on a path forwarded reports
// forwarded, goes on unauthenticated, since the service that owns the path knows its
// routes' classes and its gate authenticates it; the rest (its own routes, the internal
// prefixes, and paths it forwards nowhere) are answered as Gate answers them, so with
// a public token set a path it forwards nowhere answers 401 before 404.
func ForwardingGate(t Tokens, forwarded func(path string) bool) gin.HandlerFunc {
	internalGate := httpx.RequireInternalToken(t.Internal)
	digests := map[string]digest{
		EnvAPIToken:      digestOf(t.API),
		EnvWorkerToken:   digestOf(t.Worker),
		EnvInternalToken: digestOf(t.Internal),
	}
	// check is nil when c presents a token of one of vars, else the 401 (with its
	// challenge header set on c); what says what needs the token, named which variables
	// the 401 names.
	check := func(c *gin.Context, vars []string, what, named string) error {
		presented, ok := httpx.Bearer(c)
		if !ok {
			return denial(c, fmt.Sprintf("%s requires an 'Authorization: Bearer <token>' header (%s)", what, named))
		}
		got := sha256.Sum256([]byte(presented))
		match := 0
		for _, v := range vars { // every comparison runs: which token matched does not show in the timing
			d := digests[v]
			eq := subtle.ConstantTimeCompare(d.sum[:], got[:])
			if d.set {
				match |= eq
			}
		}
		if match != 1 {
			return denial(c, fmt.Sprintf("invalid token for %s (it takes %s)", what, named))
		}
		return nil
	}
	// authenticated reports whether c presents a token of one of vars, and answers 401
	// when it does not.
	authenticated := func(c *gin.Context, vars []string, named string) bool {
		if err := check(c, vars, "this route", named); err != nil {
			httpx.Abort(c, err)
			return false
		}
		return true
	}
	// raise is what Require calls: the class a request's body gives it, checked like a
	// route's class.
	raise := func(c *gin.Context, class Class, what string) error {
		if class == Internal {
			return check(c, []string{EnvInternalToken}, what, EnvInternalToken)
		}
		vars, open := t.accepted(class)
		if open {
			return nil
		}
		return check(c, vars, what, strings.Join(vars, " or "))
	}
	return func(c *gin.Context) {
		c.Set(raiseKey, raise)
		if httpx.IsGatedPath(c.Request.URL.Path) {
			internalGate(c)
			return
		}
		route := c.FullPath()
		if route == "" && forwarded != nil && forwarded(c.Request.URL.Path) {
			c.Next()
			return
		}
		if route == "" { // the 404 and 405 answers
			if vars, open := t.unmatched(c); !open {
				// One message whatever the path takes: naming its tokens would tell
				// an unknown path from a wrong method.
				if authenticated(c, vars, anyToken) {
					c.Next()
				}
				return
			}
			c.Next()
			return
		}
		key := c.Request.Method + " " + route
		rule, ok := Table[key]
		if !ok {
			// Verify keeps such a route from being served; fail closed all the same.
			httpx.Abort(c, httpx.Internal("route has no access class", fmt.Errorf("%s %s is not in access.Table", c.Request.Method, route)))
			return
		}
		refuseHead := httpx.IsHead(c) && ReleasesValue[key]
		if httpx.IsHead(c) && rule.ValuesParam != "" {
			withoutValues(c, rule.ValuesParam)
		}
		class := rule.ClassOf(c.Request)
		if class == Internal { // the same answers as under the internal prefixes
			internalGate(c)
			return
		}
		vars, open := t.accepted(class)
		if !open && !authenticated(c, vars, strings.Join(vars, " or ")) {
			return
		}
		if refuseHead {
			c.Header("Allow", http.MethodGet)
			httpx.Abort(c, httpx.WithStatus(http.StatusMethodNotAllowed,
				fmt.Sprintf("HEAD is not served on %s: every answer of this route releases a secret value; use GET", route), nil))
			return
		}
		c.Next()
	}
}

// withoutValues drops the query parameter that would make the answer carry values, so
// a HEAD is answered as the metadata-only GET: a HEAD sends no body, and the value
// would be decrypted and its release audited for nothing (docs/security.md, "Methods").
// The URL is copied: the request served as GET shares it with the HEAD net/http holds.
func withoutValues(c *gin.Context, param string) {
	u := *c.Request.URL
	q := u.Query()
	q.Del(param)
	u.RawQuery = q.Encode()
	c.Request.URL = &u
}

// anyToken names the tokens in the 401 of a request no route takes.
var anyToken = strings.Join([]string{EnvAPIToken, EnvWorkerToken, EnvInternalToken}, " or ")

// unmatched is who may learn that no route takes a request: a 404 says the path does not
// exist, a 405 with its Allow header that it does and what it takes, so both are
// answered only to a caller the path's routes would accept (docs/security.md, "Methods").
// A 405 is open when a class of one of the path's routes is open (anyone may use that
// route, and so learn the path) and otherwise takes the tokens of those classes. A 404,
// or a 405 whose routes the table does not list, takes any token, and is open only
// while both public classes are (there is nothing to hide when nothing is closed):
// with either token set an unknown path answers 401 like an existing one.
func (t Tokens) unmatched(c *gin.Context) (vars []string, open bool) {
	seen := map[string]bool{}
	for _, m := range httpx.AllowedMethods(c) {
		for key, rule := range Table {
			method, tmpl, _ := strings.Cut(key, " ")
			if method != m || !matchTemplate(tmpl, c.Request.URL.Path) {
				continue
			}
			cvars, copen := t.accepted(rule.Class)
			if copen {
				return nil, true
			}
			for _, v := range cvars {
				if !seen[v] {
					seen[v] = true
					vars = append(vars, v)
				}
			}
		}
	}
	if len(vars) > 0 {
		return vars, false
	}
	_, clientOpen := t.accepted(Client)
	_, workerOpen := t.accepted(Worker)
	return []string{EnvAPIToken, EnvWorkerToken, EnvInternalToken}, clientOpen && workerOpen
}

// matchTemplate reports whether path matches a gin route template: ":name" is one
// segment that is not empty, "*name" everything from there on.
func matchTemplate(tmpl, path string) bool {
	ts, ps := strings.Split(tmpl, "/"), strings.Split(path, "/")
	for i, seg := range ts {
		if strings.HasPrefix(seg, "*") {
			return true
		}
		if i >= len(ps) {
			return false
		}
		if strings.HasPrefix(seg, ":") {
			if ps[i] == "" {
				return false
			}
			continue
		}
		if seg != ps[i] {
			return false
		}
	}
	return len(ts) == len(ps)
}

func deny(c *gin.Context, msg string) {
	httpx.Abort(c, denial(c, msg))
}

// denial is a 401; httpx.WriteError adds its challenge header.
func denial(c *gin.Context, msg string) error {
	return httpx.Unauthorized("%s", msg)
}

// raiseKey is where Gate leaves Require its check.
const raiseKey = "access.raise"

// Require authenticates a request for class when what its body asks for needs more than
// its route's class: the gate can classify a request by its route and query only, and a
// handler that finds, in the body, that the request writes where only class may write
// calls Require before it writes anything. It answers nil when c presents a token of
// class (or class is open because no public token is set), else the 401 the gate would
// answer, whose message starts with what ("writing an execution's keychain entry") and
// names the tokens class takes. Without the gate in front of the route it fails closed.
func Require(c *gin.Context, class Class, what string) error {
	v, ok := c.Get(raiseKey)
	raise, typed := v.(func(*gin.Context, Class, string) error)
	if !ok || !typed {
		return httpx.Internal("route has no access gate", fmt.Errorf("access.Require(%s) on %s %s without access.Gate", class, c.Request.Method, c.FullPath()))
	}
	return raise(c, class, what)
}

// Verify checks that the table classes every route of a binary: a route without a class
// would be served without authentication, so the binary refuses to start instead.
func Verify(service string, routes gin.RoutesInfo) error {
	if unclassed, _ := Coverage(service, routes); len(unclassed) > 0 {
		return fmt.Errorf("%s serves routes without an access class (add them to shared/access.Table): %s", service, strings.Join(unclassed, ", "))
	}
	return nil
}

// CheckCoverage is Coverage as one error naming both lists, nil when the table and the
// routes a binary serves agree exactly (the tests that start each binary use it).
func CheckCoverage(service string, routes gin.RoutesInfo) error {
	unclassed, unserved := Coverage(service, routes)
	var errs []error
	if len(unclassed) > 0 {
		errs = append(errs, fmt.Errorf("%s serves routes without an access class: %s", service, strings.Join(unclassed, ", ")))
	}
	if len(unserved) > 0 {
		errs = append(errs, fmt.Errorf("access.Table classes %s routes it does not serve: %s", service, strings.Join(unserved, ", ")))
	}
	return errors.Join(errs...)
}

// Coverage compares the routes a binary serves with the table: unclassed are served but
// not classed for this service, unserved are classed for it but not served (a stale
// entry, or a route registered only under some configuration). Both come sorted.
func Coverage(service string, routes gin.RoutesInfo) (unclassed, unserved []string) {
	served := map[string]bool{}
	for _, r := range routes {
		key := r.Method + " " + r.Path
		served[key] = true
		if rule, ok := Table[key]; !ok || (rule.Service != service && rule.Service != AnyService) {
			unclassed = append(unclassed, key)
		}
	}
	for key, rule := range Table {
		if (rule.Service == service || rule.Service == AnyService) && !served[key] {
			unserved = append(unserved, key)
		}
	}
	sort.Strings(unclassed)
	sort.Strings(unserved)
	return unclassed, unserved
}

// WarnOpen logs, for each public class this binary serves whose own token is unset, one
// warning: that the class is open to anyone (neither public token set), or which token
// it takes instead (only the other one set), so that the operator learns what a caller
// of that class must present.
func WarnOpen(log *slog.Logger, routes gin.RoutesInfo, t Tokens) {
	served := map[Class]bool{}
	for _, r := range routes {
		rule := Table[r.Method+" "+r.Path]
		switch rule.Class {
		case ClientOrWorker:
			served[Client], served[Worker] = true, true
		case Client, Worker:
			served[rule.Class] = true
		}
		if rule.ValuesParam != "" {
			served[Worker] = true
		}
	}
	for _, c := range []Class{Client, Worker} {
		own, caller := EnvAPIToken, "clients"
		if c == Worker {
			own, caller = EnvWorkerToken, "workers"
		}
		took := t.tokenOf(c)
		if !served[c] || took == own {
			continue
		}
		if took == "" {
			log.Warn(own+" is not set: the "+string(c)+" routes are open to anyone who can reach this service",
				slog.String("class", string(c)))
			continue
		}
		log.Warn(own+" is not set: the "+string(c)+" routes take "+took+" (give "+caller+" its value as their "+own+")",
			slog.String("class", string(c)), slog.String("token", took))
	}
}

// Rule is a route's class.
type Rule struct {
	// Service serves the route: api, wallet, broker, router, or AnyService.
	Service string
	Class   Class
	// ValuesParam names a query parameter that makes the answer carry credential values
	// (include_data=true): with it set to anything but "" or "false" the route is Worker
	// class, whatever Class says.
	ValuesParam string
}

// ClassOf is the class of one request to the route.
func (r Rule) ClassOf(req *http.Request) Class {
	if r.ValuesParam != "" {
		if v := req.URL.Query().Get(r.ValuesParam); v != "" && v != "false" {
			return Worker
		}
	}
	return r.Class
}

// AnyService marks the routes every binary serves.
const AnyService = "*"
