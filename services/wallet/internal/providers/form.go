package providers

import "context"
import "net/http"
import "regexp"
import "strings"

// PostForm POSTs pairs as a form (FormBody) asking for JSON, and answers as Do does: the
// body of a 2xx answer, else the *StatusError for the backend to classify by its own
// error codes. what says what was attempted, for the errors.
func PostForm(ctx context.Context, client *http.Client, url, what string, pairs ...[2]string) ([]byte, *StatusError, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(FormBody(pairs...)))
	if err != nil {
		return nil, nil, Errorf(ErrConfig, "%s: %v", what, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	req.Header.Set("Accept", "application/json")
	return Do(client, req, what)
}

// FormBody encodes pairs as an application/x-www-form-urlencoded body in the order given,
// escaping every byte outside RFC 3986's unreserved set (A-Z a-z 0-9 - . _ ~) as %XX.
// url.Values would sort the keys and write a space as '+'; the token endpoints accept
// both, but one strict encoding keeps the body the same on every call and in the tests.
func FormBody(pairs ...[2]string) string {
	var b strings.Builder
	for i, kv := range pairs {
		if i > 0 {
			b.WriteByte('&')
		}
		escape(&b, kv[0])
		b.WriteByte('=')
		escape(&b, kv[1])
	}
	return b.String()
}

func escape(b *strings.Builder, s string) {
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
}

// quotedValue is how AWS validation messages quote a request field ("Value 'x' at
// 'webIdentityToken' failed to satisfy constraint"), and the like.
var quotedValue = regexp.MustCompile(`(?i)value '[^']*'`)

// Redact removes from an issuer's error text what must never reach a log or an error
// body: the credentials the request carried (a web identity token, a client secret) and
// any value the issuer quotes back. A credential shorter than 8 bytes is not searched
// for (it would blank unrelated text); the quoted-value rule still covers it.
func Redact(msg string, credentials ...string) string {
	for _, c := range credentials {
		if len(c) >= 8 {
			msg = strings.ReplaceAll(msg, c, "[redacted]")
		}
	}
	return quotedValue.ReplaceAllString(msg, "value '[redacted]'")
}
