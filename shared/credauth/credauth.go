// Package credauth is what an http credential's data must hold: the worker turns a
// bearer, basic or api_key credential into a request header (services/worker, "applyCredential"),
// and the wallet refuses at store time a credential of those types that could only fail
// there, at every step that uses it. One function for both, so that the two agree on the
// field names.
package credauth

import "encoding/base64"
import "errors"
import "strings"

// HTTPHeader is the header a credential of type typ (any case) with data becomes, ""
// when the type is not one the http tool applies. A credential missing the field its type
// needs is an error that names the field, never a value.
func HTTPHeader(typ string, data map[string]any) (header, value string, err error) {
	str := func(keys ...string) string {
		for _, k := range keys {
			if s, ok := data[k].(string); ok && s != "" {
				return s
			}
		}
		return ""
	}
	switch strings.ToLower(typ) {
	case "bearer", "bearer_token", "token", "oauth2":
		tok := str("token", "access_token", "bearer_token")
		if tok == "" {
			return "", "", errors.New("a bearer credential needs data.token (a non-empty string; data.access_token or data.bearer_token serve too)")
		}
		return "Authorization", "Bearer " + tok, nil
	case "basic":
		user, pw := str("username", "user"), str("password")
		if user == "" {
			return "", "", errors.New("a basic credential needs data.username (a non-empty string; data.user serves too)")
		}
		return "Authorization", "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pw)), nil
	case "api_key", "apikey":
		key := str("api_key", "key", "value", "token")
		if key == "" {
			return "", "", errors.New("an api_key credential needs data.api_key (a non-empty string; data.key, data.value or data.token serve too)")
		}
		h := str("header", "header_name")
		if h == "" {
			h = "X-API-Key"
		}
		return h, key, nil
	}
	return "", "", nil
}
