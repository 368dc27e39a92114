package credauth

import "strings"
import "testing"

func TestHTTPHeader(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, typ     string
		data          map[string]any
		header, value string
		err           string // a substring of the error; "" for none
	}{
		{"bearer", "bearer", map[string]any{"token": "t1"}, "Authorization", "Bearer t1", ""},
		{"bearer any case, access_token", "Bearer", map[string]any{"access_token": "t2"}, "Authorization", "Bearer t2", ""},
		{"oauth2 bearer_token", "oauth2", map[string]any{"bearer_token": "t3"}, "Authorization", "Bearer t3", ""},
		{"bearer without token", "bearer", map[string]any{"user": "u"}, "", "", "data.token"},
		{"bearer with an empty token", "bearer_token", map[string]any{"token": ""}, "", "", "data.token"},
		{"bearer with a number", "token", map[string]any{"token": 5.0}, "", "", "data.token"},
		{"basic", "basic", map[string]any{"username": "u", "password": "p"}, "Authorization", "Basic dTpw", ""},
		{"basic user, no password", "basic", map[string]any{"user": "u"}, "Authorization", "Basic dTo=", ""},
		{"basic without username", "basic", map[string]any{"password": "p"}, "", "", "data.username"},
		{"api_key default header", "api_key", map[string]any{"api_key": "k"}, "X-API-Key", "k", ""},
		{"apikey own header", "APIKEY", map[string]any{"value": "k", "header": "X-Token"}, "X-Token", "k", ""},
		{"api_key without key", "api_key", map[string]any{"header": "X-Token"}, "", "", "data.api_key"},
		{"not an http type", "postgres", map[string]any{}, "", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h, v, err := HTTPHeader(tc.typ, tc.data)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one naming %s", err, tc.err)
				}
				return
			}
			if err != nil || h != tc.header || v != tc.value {
				t.Errorf("= %q, %q, %v; want %q, %q", h, v, err, tc.header, tc.value)
			}
		})
	}
}
