package redact

import "reflect"
import "strings"
import "testing"

func TestSensitiveKey(t *testing.T) {
	t.Parallel()
	cases := []struct {
		key  string
		want bool
	}{
		// Matched on whole name segments (docs/security.md).
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
	out := Value(in).(map[string]any)
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

// TestSensitiveKeyCompoundsAndPlurals: a secret word ending a compound or in its plural
// marks a secret; counters and aliases that merely contain such words do not.
func TestSensitiveKeyCompoundsAndPlurals(t *testing.T) {
	t.Parallel()
	cases := []struct {
		key  string
		want bool
	}{
		{"PGPASSWORD", true}, {"MYSQL_ROOT_PASSWORD", true}, {"csrftoken", true}, {"dbsecret", true},
		{"secrets", true}, {"passwords", true}, {"db_passwords", true}, {"apiKeys", true}, {"api_keys", true},
		{"cookies", true}, {"Set-Cookie", true}, {"sessionid", true}, {"session_id", true}, {"credentials", true},
		{"aws_credentials", true}, {"privateKeys", true},
		{"author", false}, {"tokens_used", false}, {"max_tokens", false}, {"total_tokens", false},
		{"auth", false}, {"credential", false}, {"credential_id", false}, {"keychain", false}, {"hash", false},
		{"sha256", false}, {"execution_id", false}, {"monkey", false}, {"tokenizer", false}, {"secretary", false},
	}
	for _, c := range cases {
		if got := SensitiveKey(c.key); got != c.want {
			t.Errorf("SensitiveKey(%q) = %v, want %v", c.key, got, c.want)
		}
	}
}

// TestRedactShapes is every shape of the security review, both directions: what must be
// redacted (and exactly what the text becomes) and what must stay as it was.
func TestRedactShapes(t *testing.T) {
	t.Parallel()
	jwt := "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
	ghp := "ghp_" + strings.Repeat("aB3", 12)
	sk := "sk-" + strings.Repeat("x9Z", 14)
	cases := []struct {
		name string
		in   any
		want any
	}{
		// Keys.
		{"PGPASSWORD key", map[string]any{"PGPASSWORD": "pw", "PGHOST": "db"}, map[string]any{"PGPASSWORD": Redacted, "PGHOST": "db"}},
		{"plural keys", map[string]any{"secrets": map[string]any{"a": "b"}, "passwords": []any{"x"}, "apiKeys": []any{"k"}, "cookies": "c=1", "sessionid": "s", "credentials": map[string]any{"u": "p"}},
			map[string]any{"secrets": Redacted, "passwords": Redacted, "apiKeys": Redacted, "cookies": Redacted, "sessionid": Redacted, "credentials": Redacted}},
		{"name/value pair", []any{map[string]any{"name": "DB_PASSWORD", "value": "hunter2"}, map[string]any{"name": "DB_HOST", "value": "db"}},
			[]any{map[string]any{"name": "DB_PASSWORD", "value": Redacted}, map[string]any{"name": "DB_HOST", "value": "db"}}},
		{"key/value pair", map[string]any{"key": "api_key", "value": "k-1"}, map[string]any{"key": "api_key", "value": Redacted}},

		// Values embedded in text.
		{"embedded authorization header", "curl -H 'Authorization: Bearer abcdef123456' https://x.io", "curl -H 'Authorization: Bearer [REDACTED]' https://x.io"},
		{"embedded basic credential", "sent Basic dXNlcjpwYXNzd29yZA== to the proxy", "sent Basic [REDACTED] to the proxy"},
		{"token=<JWT>", "token=" + jwt, "token=[REDACTED]"},
		{"JWT inside text", "login ok, session " + jwt + " issued", "login ok, session [REDACTED] issued"},
		{"access_token query parameter", "https://api.x.io/cb?code=42&access_token=abc123&state=s", "https://api.x.io/cb?code=42&access_token=[REDACTED]&state=s"},
		{"client_secret form field", "client_secret=shh&grant_type=client_credentials", "client_secret=[REDACTED]&grant_type=client_credentials"},
		{"libpq DSN password", "host=db password=hunter2 dbname=app", "host=db password=[REDACTED] dbname=app"},
		{"URL userinfo password", "postgresql://app:s3cr3t@db.internal:5432/app", "postgresql://app:[REDACTED]@db.internal:5432/app"},
		{"userinfo in a message", "could not connect to redis://:pass@cache:6379/0", "could not connect to redis://:[REDACTED]@cache:6379/0"},
		{"GitHub token", "cloning with " + ghp, "cloning with [REDACTED]"},
		{"Slack token", "xoxb-123456789012-abcdefghijkl", Redacted},
		{"AWS access key id", "key AKIAIOSFODNN7EXAMPLE rotated", "key [REDACTED] rotated"},
		{"sk- key", "OPENAI_API_KEY=" + sk, "OPENAI_API_KEY=[REDACTED]"},
		{"JSON quoted in text", `token endpoint answered 500: {"access_token": "at-123456", "scope": "read", "expires_in": 3600}`,
			`token endpoint answered 500: {"access_token": "[REDACTED]", "scope": "read", "expires_in": 3600}`},
		{"escaped JSON quoted in text", `{\"client_secret\":\"cs-98765\",\"client_id\":\"app\"}`, `{\"client_secret\":\"[REDACTED]\",\"client_id\":\"app\"}`},
		{"a printed Python dict", "headers: {'X-Api-Key': 'k-24680', 'Accept': 'text/plain'}", "headers: {'X-Api-Key': '[REDACTED]', 'Accept': 'text/plain'}"},
		{"error field", map[string]any{"error": "auth failed for postgresql://u:pw@h/db"}, map[string]any{"error": "auth failed for postgresql://u:[REDACTED]@h/db"}},

		// What stays.
		{"author, counters, aliases, ids", map[string]any{"author": "ann", "tokens_used": int64(12), "auth": "pg_local", "credential_id": int64(7), "credential": "pg_local", "max_tokens": int64(100)},
			map[string]any{"author": "ann", "tokens_used": int64(12), "auth": "pg_local", "credential_id": int64(7), "credential": "pg_local", "max_tokens": int64(100)}},
		{"sha256 hex", "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"},
		{"base64 id", "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9w", "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9w"},
		{"snowflake id", "320816801799737344", "320816801799737344"},
		{"uuid", "123e4567-e89b-12d3-a456-426614174000", "123e4567-e89b-12d3-a456-426614174000"},
		{"prose with bearer", "The bearer of this letter is a friend.", "The bearer of this letter is a friend."},
		{"basic auth mentioned", "basic auth failed", "basic auth failed"},
		{"harmless query", "https://example.com/list?page=2&sort=name", "https://example.com/list?page=2&sort=name"},
		{"URL without a password", "https://user@host.io/x and git@github.com:org/repo.git", "https://user@host.io/x and git@github.com:org/repo.git"},
		{"URL with a port", "http://host:8080/path?x=1", "http://host:8080/path?x=1"},
		{"short look-alikes", "ghp_short sk-1 task-sk-2 eyJhbGc", "ghp_short sk-1 task-sk-2 eyJhbGc"},
		{"token count", "used tokens=120 of max_tokens=4000", "used tokens=120 of max_tokens=4000"},
		{"quoted pairs of harmless names", `{"author": "ann", "tokens_used": "12", 'auth': 'pg_local', "x": "y"}`, `{"author": "ann", "tokens_used": "12", 'auth': 'pg_local', "x": "y"}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := Value(tc.in)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Value(%#v)\n got %#v\nwant %#v", tc.in, got, tc.want)
			}
		})
	}
}
