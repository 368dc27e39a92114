// Package httptool is the `http` tool: one HTTP request whose data is the response
// envelope {status_code, headers, data, body}. A non-2xx answer is an error outcome that
// keeps the envelope (policy rules read it); a transport failure is a retryable error.
package httptool

import "bufio"
import "bytes"
import "compress/flate"
import "compress/gzip"
import "compress/zlib"
import "context"
import "crypto/tls"
import "errors"
import "fmt"
import "io"
import "net"
import "net/http"
import "net/url"
import "strconv"
import "strings"
import "sync"
import "time"
import "unicode/utf8"

import "github.com/noetl/controlplane/services/worker/internal/tool"
import "github.com/noetl/controlplane/shared/jsonx"
import "github.com/noetl/controlplane/shared/tlsx"

// DefaultTimeout applies when a call sets no timeout_seconds.
const DefaultTimeout = 30 * time.Second

// MaxBody bounds the response body read into the result.
const MaxBody = 32 << 20

// Tool sends HTTP requests. Clients are shared per TLS setting, so connections are
// reused across commands.
type Tool struct {
	mu      sync.Mutex
	clients map[string]*http.Client
	maxBody int
}

// New returns the http tool, which keeps response bodies of up to MaxBody bytes.
func New() *Tool { return NewWithMaxBody(MaxBody) }

// NewWithMaxBody returns the http tool with another bound on the response body.
func NewWithMaxBody(maxBody int) *Tool {
	return &Tool{clients: map[string]*http.Client{}, maxBody: maxBody}
}

var methods = map[string]bool{"GET": true, "POST": true, "PUT": true, "PATCH": true, "DELETE": true, "HEAD": true, "OPTIONS": true}

// Run sends the request.
func (t *Tool) Run(ctx context.Context, call tool.Call) tool.Result {
	start := time.Now()
	req, timeout, client, responseType, err := t.build(ctx, call.Config)
	if err != nil {
		return tool.ConfigFailure("http", err)
	}
	rctx, cancel := context.WithTimeout(req.Context(), timeout) // ctx, with the request's values
	defer cancel()
	resp, err := client.Do(req.WithContext(rctx))
	if err != nil {
		r := transportFailure(ctx, rctx, err, timeout)
		r.Duration = time.Since(start)
		return r
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(decoded(resp), int64(t.maxBody)+1))
	if err != nil {
		r := transportFailure(ctx, rctx, err, timeout)
		r.Duration = time.Since(start)
		return r
	}
	headers := map[string]any{}
	for k, v := range resp.Header {
		headers[strings.ToLower(k)] = strings.Join(v, ", ")
	}
	if len(raw) > t.maxBody {
		// The answer came, only its body is too large to keep: the status and headers
		// still tell a step (on_error: continue, policy rules) what happened.
		r := tool.Failed("http", false, "HTTP error: response body larger than %d bytes (HTTP %d)", t.maxBody, resp.StatusCode)
		r.Fault.StatusCode = resp.StatusCode
		r.HTTP = &tool.HTTPInfo{Status: resp.StatusCode, Headers: headers}
		r.Duration = time.Since(start)
		return r.WithData(map[string]any{"status_code": int64(resp.StatusCode), "headers": headers})
	}
	body, base64Body := parseBody(raw, responseType)
	envelope := map[string]any{"status_code": int64(resp.StatusCode), "headers": headers, "data": body, "body": body}
	if base64Body {
		envelope["body_encoding"] = "base64"
	}
	r := tool.Result{Status: tool.Success, Duration: time.Since(start), HTTP: &tool.HTTPInfo{Status: resp.StatusCode, Headers: headers}}.WithData(envelope)
	// A 3xx that reaches here was not followed (follow_redirects: false, a 304, no
	// Location): it is the answer, not a failure.
	if resp.StatusCode < 200 || resp.StatusCode > 399 {
		r.Status = tool.Error
		r.Error = fmt.Sprintf("HTTP %d response", resp.StatusCode)
		r.Fault = &tool.Fault{Kind: statusKind(resp.StatusCode), Retryable: resp.StatusCode == 429 || resp.StatusCode >= 500,
			Code: "HTTP_" + strconv.Itoa(resp.StatusCode), StatusCode: resp.StatusCode}
	}
	return r
}

func statusKind(code int) string {
	switch {
	case code == 429:
		return "rate_limit"
	case code == 401 || code == 403:
		return "auth"
	case code == 404:
		return "not_found"
	case code >= 500:
		return "server_error"
	default:
		return "client_error"
	}
}

// transportFailure classifies an error without a response: a timeout or a connection
// problem, both retryable; a cancelled command is neither.
func transportFailure(cmdCtx, reqCtx context.Context, err error, timeout time.Duration) tool.Result {
	var ne net.Error
	switch {
	case cmdCtx.Err() != nil:
		return tool.Failed("cancelled", false, "HTTP error: the command was cancelled")
	case reqCtx.Err() != nil || (errors.As(err, &ne) && ne.Timeout()):
		return tool.TimedOut(true, "HTTP error: request timed out after %s", timeout)
	case errors.As(err, new(redirectError)):
		// A redirect loop, or one to an ftp: URL, answers the same way every time: not
		// a connection failure a retry could mend.
		return tool.Failed("http", false, "HTTP error: %v", err)
	}
	return tool.Failed("connection", true, "HTTP error: %v", err)
}

// decoded is the response body as sent before its Content-Encoding: Go's transport
// decompresses gzip only when it asked for it itself, so a step that sets its own
// Accept-Encoding (copied from a browser or curl) got the compressed bytes as base64.
// The headers then describe the decoded body, as when the transport decodes it.
func decoded(resp *http.Response) io.Reader {
	if resp.Uncompressed {
		return resp.Body
	}
	enc := strings.ToLower(strings.TrimSpace(resp.Header.Get("Content-Encoding")))
	if enc != "gzip" && enc != "x-gzip" && enc != "deflate" {
		return resp.Body
	}
	br := bufio.NewReader(resp.Body)
	head, _ := br.Peek(2)
	var r io.Reader
	switch {
	case len(head) < 2:
		return br // no body (a HEAD, a 204)
	case enc != "deflate" && head[0] == 0x1f && head[1] == 0x8b:
		z, err := gzip.NewReader(br)
		if err != nil {
			return br
		}
		r = z
	case enc == "deflate" && head[0]&0x0f == 8 && (uint16(head[0])<<8|uint16(head[1]))%31 == 0:
		z, err := zlib.NewReader(br)
		if err != nil {
			return br
		}
		r = z
	case enc == "deflate":
		r = flate.NewReader(br) // raw deflate, as some servers send it
	default:
		return br // labelled gzip but not: the bytes as sent
	}
	resp.Header.Del("Content-Encoding")
	resp.Header.Del("Content-Length")
	return r
}

// bom is the byte order mark some servers put before UTF-8 JSON.
var bom = []byte("\xef\xbb\xbf")

// parseBody is the response body as data: JSON decoded (after a byte order mark), else
// text. A body asked for as binary, or one that is not UTF-8 (which a JSON string
// cannot carry unmangled) or holds a NUL byte (which PostgreSQL cannot store in text,
// so the control plane refused the whole outcome), is {base64, size}; base64Body says
// which.
func parseBody(raw []byte, responseType string) (body any, base64Body bool) {
	if responseType != "binary" && responseType != "text" {
		if v, err := jsonx.DecodeExactIntegers(bytes.TrimPrefix(raw, bom)); err == nil {
			return v, false
		}
	}
	if responseType == "binary" || !utf8.Valid(raw) || bytes.IndexByte(raw, 0) >= 0 {
		return tool.Base64(raw), true
	}
	return string(raw), false
}

// build turns the config into a request: method (GET default, any case), url with
// params, headers, body from json > form > body (data and payload are accepted as JSON
// bodies too), timeout_seconds, TLS options, follow_redirects.
func (t *Tool) build(ctx context.Context, cfg map[string]any) (*http.Request, time.Duration, *http.Client, string, error) {
	rawURL, ok, err := tool.String(cfg, "url", "endpoint")
	if err != nil {
		return nil, 0, nil, "", err
	}
	if !ok {
		return nil, 0, nil, "", tool.Configf("url is required")
	}
	// A URL from a folded YAML string or a template ends in a newline often enough.
	rawURL = strings.TrimSpace(rawURL)
	u, err := tool.ParseURL(rawURL)
	if err != nil {
		return nil, 0, nil, "", tool.Configf("url does not parse: %v", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, 0, nil, "", tool.Configf("url %q is not an http(s) URL", u.Redacted())
	}
	method, _, err := tool.String(cfg, "method")
	if err != nil {
		return nil, 0, nil, "", err
	}
	method = strings.ToUpper(strings.TrimSpace(method))
	if method == "" {
		method = "GET"
	}
	if !methods[method] {
		return nil, 0, nil, "", tool.Configf("method %q is not one of GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS", method)
	}
	params, err := tool.RepeatedPairs(cfg, "params")
	if err != nil {
		return nil, 0, nil, "", err
	}
	// The URL's own query stays as written (re-encoding it would drop a `;` pair, turn
	// `flag` into `flag=`, reorder it); only what may not stand in a URL is escaped.
	u.RawQuery = escapeQuery(u.RawQuery)
	if q := encodePairs(params); q != "" {
		if u.RawQuery != "" {
			u.RawQuery += "&"
		}
		u.RawQuery += q
	}
	u.ForceQuery = false
	headers, err := tool.StringPairs(cfg, "headers")
	if err != nil {
		return nil, 0, nil, "", err
	}
	if err := checkHeaders(headers); err != nil {
		return nil, 0, nil, "", err
	}
	body, contentType, err := requestBody(cfg, headers)
	if err != nil {
		return nil, 0, nil, "", err
	}
	// A redirect to another host must not carry the headers a credential became.
	if names, _ := cfg[tool.CredentialHeadersKey].([]string); len(names) > 0 {
		ctx = context.WithValue(ctx, credentialHeadersCtx{}, names)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return nil, 0, nil, "", tool.Configf("request: %v", err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for _, h := range headers {
		if strings.EqualFold(h.Key, "Host") {
			// Go's client sends req.Host and ignores a Host in the header map: a step
			// that names the virtual host to ask would reach the URL's host instead.
			req.Host = h.Value
			continue
		}
		req.Header.Set(h.Key, h.Value)
	}
	timeout, ok, err := tool.Seconds(cfg, "timeout_seconds")
	if err != nil {
		return nil, 0, nil, "", err
	}
	if !ok {
		timeout = DefaultTimeout
	}
	client, err := t.client(cfg)
	if err != nil {
		return nil, 0, nil, "", err
	}
	responseType, _, err := tool.String(cfg, "response_type")
	if err != nil {
		return nil, 0, nil, "", err
	}
	responseType = strings.ToLower(strings.TrimSpace(responseType))
	switch responseType {
	case "", "json", "text", "binary":
	default:
		// A typo ("bin", "bytes") would quietly parse a binary body as JSON or text.
		return nil, 0, nil, "", tool.Configf("response_type %q is not one of json, text, binary", responseType)
	}
	return req, timeout, client, responseType, nil
}

// requestBody is the body and its Content-Type. An object or a list under `form`, or
// under json, data, payload or body when the step's own Content-Type header is
// application/x-www-form-urlencoded, is form-encoded, a list value repeating its key.
// A string under data or payload goes as written when the step's Content-Type says the
// body is not JSON (XML, text, a form already encoded): JSON-encoded, it went out in
// quotes, "<a/>".
func requestBody(cfg map[string]any, headers []tool.Pair) (io.Reader, string, error) {
	formHeader, otherHeader := false, false
	for _, h := range headers {
		if strings.EqualFold(h.Key, "Content-Type") {
			mt, _, _ := strings.Cut(h.Value, ";")
			mt = strings.ToLower(strings.TrimSpace(mt))
			formHeader = mt == "application/x-www-form-urlencoded"
			otherHeader = mt != "" && mt != "application/json" && !strings.HasSuffix(mt, "+json")
		}
	}
	for _, k := range []string{"json", "data", "payload"} {
		if v, ok := cfg[k]; ok && v != nil {
			if _, isMap := v.(map[string]any); isMap && formHeader {
				return formBody(cfg, k)
			}
			if text, isText := v.(string); isText && otherHeader && k != "json" {
				return strings.NewReader(text), "", nil
			}
			b, err := jsonx.Marshal(v)
			if err != nil {
				return nil, "", tool.Configf("%s: %v", k, err)
			}
			return bytes.NewReader(b), "application/json", nil
		}
	}
	if v, ok := cfg["form"]; ok && v != nil {
		return formBody(cfg, "form")
	}
	switch v := cfg["body"].(type) {
	case nil:
		return nil, "", nil
	case string:
		return strings.NewReader(v), "", nil
	case map[string]any:
		if formHeader {
			return formBody(cfg, "body")
		}
	}
	b, err := jsonx.Marshal(cfg["body"])
	if err != nil {
		return nil, "", tool.Configf("body: %v", err)
	}
	return bytes.NewReader(b), "application/json", nil
}

func formBody(cfg map[string]any, key string) (io.Reader, string, error) {
	pairs, err := tool.RepeatedPairs(cfg, key)
	if err != nil {
		return nil, "", err
	}
	return strings.NewReader(encodePairs(pairs)), "application/x-www-form-urlencoded", nil
}

// encodePairs is pairs as application/x-www-form-urlencoded text. url.Values sorts by
// key and keeps each key's values in order, which is the order tool.RepeatedPairs gives.
func encodePairs(pairs []tool.Pair) string {
	v := make(url.Values, len(pairs))
	for _, p := range pairs {
		v.Add(p.Key, p.Value)
	}
	return v.Encode()
}

// escapeQuery percent-encodes the bytes a query may not hold as they are (a space,
// non-ASCII, a `%` that starts no escape), leaving escapes and separators as written.
func escapeQuery(q string) string {
	var b strings.Builder
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case c == '%' && i+2 < len(q) && isHex(q[i+1]) && isHex(q[i+2]):
			b.WriteByte(c)
		case c > ' ' && c < 0x7f && c != '%' && !strings.ContainsRune(`"<>\^`+"`"+`{|}#`, rune(c)):
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// checkHeaders refuses what Go's client would only refuse when sending, as a transport
// failure worth retrying: a name that is not an HTTP token, a value with a line break or
// another control character.
func checkHeaders(headers []tool.Pair) error {
	for _, h := range headers {
		if h.Key == "" || strings.IndexFunc(h.Key, func(r rune) bool { return !isTokenChar(r) }) >= 0 {
			return tool.Configf("headers: %q is not a valid header name", h.Key)
		}
		if strings.IndexFunc(h.Value, func(r rune) bool { return r < ' ' && r != '\t' || r == 0x7f }) >= 0 {
			return tool.Configf("headers: the value of %q holds a line break or a control character", h.Key)
		}
	}
	return nil
}

// isTokenChar: RFC 9110's tchar.
func isTokenChar(r rune) bool {
	return r < 0x7f && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("!#$%&'*+-.^_`|~", r))
}

// client returns a client for the call's TLS options: verify_ssl (default true),
// ca_file, client_cert + client_key, follow_redirects (default true).
func (t *Tool) client(cfg map[string]any) (*http.Client, error) {
	verify, err := tool.Bool(cfg, "verify_ssl", true)
	if err != nil {
		return nil, err
	}
	if _, ok := cfg["verify"]; ok {
		if verify, err = tool.Bool(cfg, "verify", true); err != nil {
			return nil, err
		}
	}
	follow, err := tool.Bool(cfg, "follow_redirects", true)
	if err != nil {
		return nil, err
	}
	caFile, _, err := tool.String(cfg, "ca_file", "ca_cert")
	if err != nil {
		return nil, err
	}
	certFile, _, err := tool.String(cfg, "client_cert")
	if err != nil {
		return nil, err
	}
	keyFile, _, err := tool.String(cfg, "client_key")
	if err != nil {
		return nil, err
	}
	if (certFile == "") != (keyFile == "") {
		return nil, tool.Configf("client_cert and client_key go together")
	}
	key := fmt.Sprintf("%t|%t|%s|%s|%s", verify, follow, caFile, certFile, keyFile)
	t.mu.Lock()
	defer t.mu.Unlock()
	if c, ok := t.clients[key]; ok {
		return c, nil
	}
	tlsCfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: !verify} //nolint:gosec // the playbook asked for it
	if caFile != "" {
		pool, err := tlsx.LoadCAPool(caFile)
		if err != nil {
			return nil, tool.Configf("ca_file: %v", err)
		}
		tlsCfg.RootCAs = pool
	}
	if certFile != "" {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, tool.Configf("client certificate: %v", err)
		}
		tlsCfg.Certificates = []tls.Certificate{cert}
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tlsCfg
	tr.MaxIdleConnsPerHost = 16
	c := &http.Client{Transport: tr, CheckRedirect: followRedirect}
	if !follow {
		c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	}
	t.clients[key] = c
	return c, nil
}

// credentialHeadersCtx carries the names of the request's credential headers.
type credentialHeadersCtx struct{}

// redirectError is a redirect the tool does not follow: past Go's bound of 10 in a row,
// or to a URL that is not http(s).
type redirectError string

func (e redirectError) Error() string { return string(e) }

// followRedirect is Go's default policy (at most 10 redirects) plus one rule: a redirect
// to another host than the first request's (or a subdomain of it) drops the headers a
// credential became. Go drops Authorization and Cookie there itself; an api_key
// credential's header (X-API-Key, or any name the credential gives) it would forward,
// handing the key to whatever host a server, or an open redirect, points at.
func followRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= 10 {
		return redirectError("stopped after 10 redirects")
	}
	if req.URL.Scheme != "http" && req.URL.Scheme != "https" {
		return redirectError(fmt.Sprintf("a redirect to a %q URL, which is not http(s)", req.URL.Scheme))
	}
	names, _ := req.Context().Value(credentialHeadersCtx{}).([]string)
	if len(names) > 0 && !sameOrSubdomain(req.URL.Hostname(), via[0].URL.Hostname()) {
		for _, n := range names {
			req.Header.Del(n)
		}
	}
	return nil
}

// sameOrSubdomain is Go's rule for forwarding sensitive headers on a redirect.
func sameOrSubdomain(dest, initial string) bool {
	dest, initial = strings.ToLower(dest), strings.ToLower(initial)
	return dest == initial || strings.HasSuffix(dest, "."+initial)
}
