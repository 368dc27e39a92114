package events

import (
	"strings"
	"testing"
)

func TestSensitiveKey(t *testing.T) {
	t.Parallel()
	cases := []struct {
		key  string
		want bool
	}{
		// decisions §5: matched on whole name segments.
		{"api_key", true}, {"client-secret", true}, {"accessToken", true}, {"authorization", true},
		{"Authorization", true}, {"password", true}, {"db_password", true}, {"X-API-Key", true},
		{"private_key", true}, {"refresh_token", true}, {"secretKey", true}, {"connection_string", true},
		{"apikey", true}, {"pwd", true}, {"session_token", true},
		{"author", false}, {"tokens_used", false}, {"credential_id", false}, {"auth", false},
		{"keychain", false}, {"monkey", false}, {"tokenizer", false}, {"key", false}, {"status", false},
	}
	for _, c := range cases {
		t.Run(c.key, func(t *testing.T) {
			t.Parallel()
			if got := SensitiveKey(c.key); got != c.want {
				t.Errorf("SensitiveKey(%q) = %v, want %v", c.key, got, c.want)
			}
		})
	}
}

func TestSensitiveValue(t *testing.T) {
	t.Parallel()
	jwt := "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
	cases := []struct {
		name, value string
		want        bool
	}{
		{"bearer", "Bearer abc.def", true},
		{"basic", "basic dXNlcjpwYXNz", true},
		{"jwt", jwt, true},
		{"pem", "-----BEGIN RSA PRIVATE KEY-----\nMIIE...\n-----END RSA PRIVATE KEY-----", true},
		// The upstream "40+ base64-looking characters" rule is not copied: hashes and ids stay.
		{"sha256 hex", strings.Repeat("ab12", 16), false},
		{"base64 id", "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9w", false},
		{"plain", "hello world", false},
		{"bearer word alone", "bearer", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			if got := SensitiveValue(c.value); got != c.want {
				t.Errorf("SensitiveValue(%q) = %v, want %v", c.value, got, c.want)
			}
		})
	}
}

func TestRedactNested(t *testing.T) {
	t.Parallel()
	in := map[string]any{
		"command_id": "1:start:2",
		"auth":       "pg_alias",
		"result": map[string]any{
			"context": map[string]any{
				"data": map[string]any{
					"rows":          []any{map[string]any{"api_key": "k-123", "name": "n"}},
					"header":        "Bearer s3cr3t",
					"password":      map[string]any{"nested": "x"},
					"tokens_used":   int64(12),
					"credential_id": int64(7),
				},
			},
		},
	}
	out := Redact(in).(map[string]any)
	data := out["result"].(map[string]any)["context"].(map[string]any)["data"].(map[string]any)
	if data["rows"].([]any)[0].(map[string]any)["api_key"] != Redacted || data["rows"].([]any)[0].(map[string]any)["name"] != "n" {
		t.Errorf("rows: %v", data["rows"])
	}
	if data["header"] != Redacted || data["password"] != Redacted {
		t.Errorf("header/password not redacted: %v", data)
	}
	if data["tokens_used"] != int64(12) || data["credential_id"] != int64(7) || out["auth"] != "pg_alias" {
		t.Errorf("non-secrets changed: %v %v", data, out["auth"])
	}
	// The input is not modified.
	if in["result"].(map[string]any)["context"].(map[string]any)["data"].(map[string]any)["header"] != "Bearer s3cr3t" {
		t.Errorf("Redact modified its input")
	}
}

type fixedIDs struct{}

func (fixedIDs) Next() (int64, error) { return 99, nil }

// What a worker posts is redacted before it becomes a row: its payload (stored as
// result.context) and its meta.
func TestBuildRedactsWorkerEvents(t *testing.T) {
	t.Parallel()
	step := "login"
	req := eventRequest{
		ExecutionID: []byte(`1`), Step: &step, EventType: "call.done",
		Payload: []byte(`{"command_id":"1:login:2","result":{"context":{"data":{"access_token":"tok-abc","user":"u"}}}}`),
		Meta:    []byte(`{"authorization":"Basic dXNlcjpwYXNz","attempts":1}`),
	}
	ev, err := build(req, true, "", fixedIDs{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := ev.Result.(map[string]any)["context"].(map[string]any)
	data := ctx["result"].(map[string]any)["context"].(map[string]any)["data"].(map[string]any)
	if data["access_token"] != Redacted || data["user"] != "u" {
		t.Errorf("payload not redacted: %v", data)
	}
	if ev.Meta["authorization"] != Redacted || ev.Meta["attempts"] != int64(1) {
		t.Errorf("meta not redacted: %v", ev.Meta)
	}
	if ctx["command_id"] != "1:login:2" || !ev.Minted {
		t.Errorf("event: %+v", ev)
	}
}
