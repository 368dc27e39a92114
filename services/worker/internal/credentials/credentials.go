// Package credentials resolves the credential aliases a command names (`auth` or
// `credential` on an http or postgres tool, `{{ keychain.<alias>.<field> }}` in a
// template) through the control plane, plain or sealed to the worker's key, and applies
// them to the tool's config. Each command gets a Session, which caches what it fetched
// and remembers every secret value it saw, so the worker can scrub them from anything it
// posts or logs.
package credentials

import "context"
import "encoding/json"
import "errors"
import "fmt"
import "regexp"
import "sort"
import "strconv"
import "strings"
import "time"

import "github.com/noetl/controlplane/services/worker/internal/controlplane"
import "github.com/noetl/controlplane/services/worker/internal/tool"
import "github.com/noetl/controlplane/shared/credauth"
import "github.com/noetl/controlplane/shared/crypto/sealed"
import "github.com/noetl/controlplane/shared/jsonx"

// Fetcher is what the resolver needs from the control plane.
type Fetcher interface {
	Credential(ctx context.Context, server, alias string, executionID int64) (controlplane.Credential, error)
	SealedCredential(ctx context.Context, server, alias, workerID string, executionID int64) ([]byte, error)
}

// Resolver fetches credentials for commands.
type Resolver struct {
	f        Fetcher
	sealed   bool
	key      sealed.SecretKey
	workerID string
	// patience and pause bound the asking again while the wallet (or the router before
	// it) cannot be reached; tests shorten them.
	patience, pause time.Duration
}

// Patience is how long a credential fetch keeps asking while the wallet or the control
// plane cannot be reached. A restart of the wallet takes seconds to a minute; failing
// the step at the first refusal would fail the execution on every restart.
const Patience = 2 * time.Minute

// NewResolver returns a resolver. With sealedDelivery, values are fetched sealed to key
// (whose public half the worker registered under workerID).
func NewResolver(f Fetcher, sealedDelivery bool, key sealed.SecretKey, workerID string) *Resolver {
	return &Resolver{f: f, sealed: sealedDelivery, key: key, workerID: workerID, patience: Patience, pause: 250 * time.Millisecond}
}

// Session is the credential state of one command.
type Session struct {
	r     *Resolver
	exec  tool.Exec
	cache map[string]controlplane.Credential
	Scrub *Scrubber
}

// Session starts the credential state of a command.
func (r *Resolver) Session(exec tool.Exec) *Session {
	return &Session{r: r, exec: exec, cache: map[string]controlplane.Credential{}, Scrub: NewScrubber()}
}

// Error is a credential that could not be resolved or applied; Retryable when the
// control plane could not be reached.
type Error struct {
	Msg       string
	Retryable bool
}

func (e *Error) Error() string { return e.Msg }

// Get fetches a credential by alias (once per command).
func (s *Session) Get(ctx context.Context, alias string) (controlplane.Credential, error) {
	if c, ok := s.cache[alias]; ok {
		return c, nil
	}
	var c controlplane.Credential
	var err error
	// A transient failure (no answer, 5xx, 429) is asked again, backing off, for up to
	// the resolver's patience: the wallet restarting is waited out like the control
	// plane's is when the worker reports an event.
	giveUp := time.Now().Add(s.r.patience)
	for pause := s.r.pause; ; pause = min(pause*2, 5*time.Second) {
		c, err = s.fetch(ctx, alias)
		if err == nil || !controlplane.Transient(err) || time.Now().Add(pause).After(giveUp) {
			break
		}
		select {
		case <-ctx.Done():
			return c, ctx.Err()
		case <-time.After(pause):
		}
	}
	if err != nil {
		if errors.Is(err, controlplane.ErrCredentialNotFound) {
			return c, &Error{Msg: notFoundMessage(alias, err)}
		}
		return c, &Error{Msg: fmt.Sprintf("credential alias %q: %v", alias, err), Retryable: controlplane.Transient(err)}
	}
	s.Scrub.AddCredential(c)
	s.cache[alias] = c
	return c, nil
}

// notFoundMessage says why an alias was not found. The wallet's plain miss adds nothing
// to "not found"; a keychain entry's miss names what its provider or its credential:
// lacked, which a user needs to fix the right thing.
func notFoundMessage(alias string, err error) string {
	msg := fmt.Sprintf("credential alias %q not found", alias)
	var nf *controlplane.NotFoundError
	if errors.As(err, &nf) && nf.Detail != "" && nf.Detail != fmt.Sprintf("Credential '%s' not found", alias) {
		msg += ": " + nf.Detail
	}
	return msg
}

func (s *Session) fetch(ctx context.Context, alias string) (controlplane.Credential, error) {
	if !s.r.sealed {
		return s.r.f.Credential(ctx, s.exec.ServerURL, alias, s.exec.ExecutionID)
	}
	raw, err := s.r.f.SealedCredential(ctx, s.exec.ServerURL, alias, s.r.workerID, s.exec.ExecutionID)
	if err != nil {
		return controlplane.Credential{}, err
	}
	var env sealed.Envelope
	if err := json.Unmarshal(raw, &env); err != nil {
		return controlplane.Credential{}, fmt.Errorf("sealed credential: %w", err)
	}
	plain, err := sealed.Open(s.r.key, env)
	if err != nil {
		return controlplane.Credential{}, fmt.Errorf("sealed credential: %w", err)
	}
	defer clear(plain)
	return controlplane.ParseCredential(plain)
}

// Apply resolves the alias in `auth` or `credential` of an http or postgres config and
// applies it: a postgres credential's fields become connection fields (fields the step
// set win), a bearer, basic or api_key credential becomes a request header. Other tools
// keep their config as written.
func (s *Session) Apply(ctx context.Context, kind string, cfg map[string]any) error {
	kind = strings.ToLower(kind)
	if kind != "http" && kind != "postgres" {
		return nil
	}
	for _, key := range []string{"auth", "credential"} {
		v, ok := cfg[key]
		if !ok || v == nil {
			continue
		}
		switch t := v.(type) {
		case string:
			if strings.TrimSpace(t) == "" {
				delete(cfg, key)
				continue
			}
			c, err := s.Get(ctx, t)
			if err != nil {
				return err
			}
			delete(cfg, key)
			if err := applyCredential(kind, cfg, t, c.Type, c.Data, s.Scrub); err != nil {
				return err
			}
		case map[string]any:
			if err := s.applyInline(ctx, kind, cfg, key, t); err != nil {
				return err
			}
		default:
			return &Error{Msg: fmt.Sprintf("%s must be a credential alias or an object", key)}
		}
	}
	return nil
}

// applyInline handles an auth object: {type, credential: <alias>} or the values inline
// ({type: bearer, token}, {type: basic, username, password}).
func (s *Session) applyInline(ctx context.Context, kind string, cfg map[string]any, key string, m map[string]any) error {
	typ, _ := m["type"].(string)
	delete(cfg, key)
	if strings.EqualFold(typ, "none") {
		return nil
	}
	alias, _ := m["credential"].(string)
	if alias == "" {
		alias, _ = m["alias"].(string)
	}
	if alias != "" {
		c, err := s.Get(ctx, alias)
		if err != nil {
			return err
		}
		if typ == "" {
			typ = c.Type
		}
		return applyCredential(kind, cfg, alias, typ, c.Data, s.Scrub)
	}
	data := map[string]any{}
	for k, v := range m {
		if k != "type" {
			data[k] = v
		}
	}
	s.Scrub.AddData(data)
	if typ == "" {
		typ = kind
	}
	return applyCredential(kind, cfg, key, typ, data, s.Scrub)
}

func applyCredential(kind string, cfg map[string]any, alias, typ string, data map[string]any, scrub *Scrubber) error {
	typ = strings.ToLower(typ)
	switch kind {
	case "postgres":
		if typ != "postgres" && typ != "postgresql" {
			break
		}
		// A credential may be one connection string; a connection string the step set
		// wins, as its other fields do.
		if _, set := cfg["connection_string"]; !set {
			if _, set := cfg["dsn"]; !set {
				for _, src := range []string{"connection_string", "dsn"} {
					if v, ok := data[src]; ok && v != nil {
						cfg["connection_string"] = v
						break
					}
				}
			}
		}
		for _, m := range [][]string{{"host", "db_host", "host"}, {"port", "db_port", "port"}, {"user", "db_user", "user", "username"},
			{"password", "db_password", "password"}, {"database", "db_name", "database", "dbname"}, {"sslmode", "sslmode"}, {"schema", "schema"}} {
			if _, set := cfg[m[0]]; set {
				continue
			}
			for _, src := range m[1:] {
				if v, ok := data[src]; ok && v != nil {
					if m[0] == "port" {
						p, err := portOf(v)
						if err != nil {
							return &Error{Msg: fmt.Sprintf("postgres credential %q: %s %v", alias, src, err)}
						}
						v = p
					}
					cfg[m[0]] = v
					break
				}
			}
		}
		return nil
	case "http":
		header, value, err := httpAuth(typ, data)
		if err != nil {
			return &Error{Msg: fmt.Sprintf("credential %q: %v", alias, err)}
		}
		if header == "" {
			break
		}
		headers, _ := cfg["headers"].(map[string]any)
		out := map[string]any{}
		for k, v := range headers {
			out[k] = v
		}
		for k := range out {
			if strings.EqualFold(k, header) {
				cfg["headers"] = out
				return nil // a header the step set itself wins
			}
		}
		out[header] = value
		cfg["headers"] = out
		names, _ := cfg[tool.CredentialHeadersKey].([]string)
		cfg[tool.CredentialHeadersKey] = append(names, header)
		// The header is derived from the secret fields: "Basic <base64 of user:password>"
		// is not one of them, yet a server echoing it back (in a body or an error) would
		// hand the password to anyone reading the step's result.
		scrub.Add(value)
		if _, cred, ok := strings.Cut(value, " "); ok {
			scrub.Add(cred)
		}
		return nil
	}
	msg := fmt.Sprintf("credential %q has type %q, which the %s tool cannot use", alias, typ, kind)
	if typ == "keychain" {
		// A keychain entry resolves to data without a credential type of its own.
		msg += fmt.Sprintf(`; a keychain entry names its type in the step: auth: {type: <type>, credential: %s}`, alias)
	}
	return &Error{Msg: msg}
}

// httpAuth is the header a credential becomes ("" when the type is not for http); the
// wallet refuses at store time what it would refuse (shared/credauth).
var httpAuth = credauth.HTTPHeader

func portOf(v any) (int64, error) {
	switch t := v.(type) {
	case int64:
		if t > 0 && t < 65536 {
			return t, nil
		}
	case float64:
		if t > 0 && t < 65536 && t == float64(int64(t)) {
			return int64(t), nil
		}
	case string:
		if n, err := strconv.Atoi(strings.TrimSpace(t)); err == nil && n > 0 && n < 65536 {
			return int64(n), nil
		}
	}
	return 0, errors.New("is not a port number")
}

// keychainRef finds {{ keychain.<alias> }} and {{ keychain['<alias>'] }} references.
var keychainRef = regexp.MustCompile(`keychain\s*(?:\.\s*([A-Za-z0-9_\-]+)|\[\s*['"]([^'"]+)['"]\s*\])`)

// KeychainAliases lists the aliases a value's strings reference under `keychain`.
func KeychainAliases(v any) []string {
	seen := map[string]bool{}
	for t := range jsonx.Strings(v) {
		if !strings.Contains(t, "keychain") {
			continue
		}
		for _, m := range keychainRef.FindAllStringSubmatch(t, -1) {
			name := m[1]
			if name == "" {
				name = m[2]
			}
			seen[name] = true
		}
	}
	out := make([]string, 0, len(seen))
	for k := range seen {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Keychain fetches the aliases v references and returns the `keychain` variable:
// alias → the credential's data.
func (s *Session) Keychain(ctx context.Context, v any) (map[string]any, error) {
	aliases := KeychainAliases(v)
	if len(aliases) == 0 {
		return nil, nil
	}
	out := make(map[string]any, len(aliases))
	for _, a := range aliases {
		c, err := s.Get(ctx, a)
		if err != nil {
			return nil, err
		}
		v := c.Content()            // an object, or the string of a keychain entry without a map
		s.Scrub.AddTemplateValue(v) // a template may put any field anywhere
		out[a] = v
	}
	return out, nil
}
