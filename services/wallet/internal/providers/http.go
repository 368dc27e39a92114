package providers

import "context"
import "crypto/tls"
import "crypto/x509"
import "errors"
import "io"
import "net/http"
import "os"
import "strings"
import "time"

// Timeout bounds one request to a backend (and a token fetch). A hung secret manager must
// not hold a worker's credential fetch forever.
const Timeout = 10 * time.Second

const (
	maxBody         = 1 << 20
	errSnippetChars = 200
)

// StatusError is a non-2xx answer; Do classifies it by status.
type StatusError struct {
	Status int
	Body   []byte // bounded
}

// Kind classifies the answer by its status alone: 404 ErrNotFound, 401/403 ErrDenied,
// anything else ErrUpstream. Backends whose answers carry an error code read that first.
func (se *StatusError) Kind() error {
	switch se.Status {
	case http.StatusNotFound:
		return ErrNotFound
	case http.StatusUnauthorized, http.StatusForbidden:
		return ErrDenied
	default:
		return ErrUpstream
	}
}

// Do sends req and returns the body of a 2xx answer. A transport failure is ErrUpstream;
// a non-2xx answer is classified by status (404 ErrNotFound, 401/403 ErrDenied, anything
// else ErrUpstream) and its message quotes the start of the answer: backends describe
// failures there, never values. what says what was attempted ("vault: read 'x'").
// The *StatusError is returned beside the error so that a backend whose statuses mean
// something else (AWS answers 400 for a missing secret) can classify it itself.
func Do(client *http.Client, req *http.Request, what string) ([]byte, *StatusError, error) {
	resp, err := client.Do(req)
	if err != nil {
		return nil, nil, Errorf(ErrUpstream, "%s: %v", what, scrub(err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, nil, Errorf(ErrUpstream, "%s: read answer: %v", what, err)
	}
	if resp.StatusCode >= 200 && resp.StatusCode <= 299 {
		return body, nil, nil
	}
	se := &StatusError{Status: resp.StatusCode, Body: body}
	return nil, se, Errorf(se.Kind(), "%s: HTTP %d %s", what, resp.StatusCode, Snippet(body))
}

// TokenSource hands out a metadata endpoint's bearer token (cloudtoken.Source).
type TokenSource interface {
	Get(ctx context.Context) (token string, cached bool, err error)
	Drop(token string)
}

// WithToken runs call with a token of tokens. A 401 drops the token; when that token came
// from the cache, call runs once more with a fresh one: the service may have revoked a
// token before its stated expiry (a rotated managed identity, a changed Workload
// Identity binding), which is no reason to fail the read. A fresh token refused is the
// answer. A token that cannot be had is ErrUpstream.
func WithToken(ctx context.Context, tokens TokenSource, call func(token string) ([]byte, *StatusError, error)) ([]byte, *StatusError, error) {
	for attempt := 0; ; attempt++ {
		tok, cached, err := tokens.Get(ctx)
		if err != nil {
			return nil, nil, Errorf(ErrUpstream, "%v", err)
		}
		body, status, err := call(tok)
		if status == nil || status.Status != http.StatusUnauthorized {
			return body, status, err
		}
		tokens.Drop(tok)
		if !cached || attempt > 0 {
			return body, status, err
		}
	}
}

// Snippet is the start of an error answer, valid UTF-8, on one line.
func Snippet(body []byte) string {
	s := strings.ToValidUTF8(strings.TrimSpace(string(body)), "?")
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > errSnippetChars {
		s = string(r[:errSnippetChars]) + "..."
	}
	return s
}

// scrub drops the URL a transport error quotes: it can hold a reference, which is not
// secret, but the cause is what matters and the URL makes messages long.
func scrub(err error) error {
	var ue interface{ Unwrap() error }
	if errors.As(err, &ue) {
		if inner := ue.Unwrap(); inner != nil {
			return inner
		}
	}
	return err
}

// Client builds the HTTP client of a backend. caFile adds trust roots to the system's:
// with required, a caFile that is set must be readable PEM; without it an unreadable file
// is skipped (the in-cluster CA path does not exist out of cluster) but a readable file
// that holds no certificate is still an error. variable names the setting in errors.
func Client(variable, caFile string, required bool) (*http.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		switch {
		case err != nil && required:
			return nil, Errorf(ErrConfig, "%s: read CA bundle: %v", variable, err)
		case err == nil:
			pool, perr := x509.SystemCertPool()
			if perr != nil || pool == nil {
				pool = x509.NewCertPool()
			}
			if !pool.AppendCertsFromPEM(pem) {
				return nil, Errorf(ErrConfig, "%s: %s holds no PEM certificate", variable, caFile)
			}
			tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
		}
	}
	return &http.Client{Timeout: Timeout, Transport: tr}, nil
}

// ReadToken reads a token file, trimmed; it is read on every fetch so that a rotated
// (projected) token is picked up.
func ReadToken(variable, path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", Errorf(ErrConfig, "%s: read token file: %v", variable, err)
	}
	tok := strings.TrimSpace(string(b))
	clear(b)
	if tok == "" {
		return "", Errorf(ErrConfig, "%s: token file %s is empty", variable, path)
	}
	return tok, nil
}
