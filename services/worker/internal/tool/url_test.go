package tool

import "strings"
import "testing"

// A URL that does not parse is reported without any of its userinfo: Go's own error
// quoted the piece of the authority that failed, which for a password holding a '/' is
// the password's first half.
func TestParseURLHidesUserinfo(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, raw, want string }{
		{"a '/' in the password", "http://alice:pw-Secret/7=z@db.example.test/x", "the part before its last '@' (the userinfo) is not valid"},
		{"a '#' in the password", "https://alice:pw#Secret@db.example.test/x", "the part before its last '@' (the userinfo) is not valid"},
		{"a bad escape in the password", "http://alice:pw%zzSecret@db.example.test/x", "the part before its last '@' (the userinfo) is not valid"},
		{"a token as the user, bad escape", "https://ghp%Secret@github.example.test/x", "the part before its last '@' (the userinfo) is not valid"},
		{"a failure after the userinfo keeps Go's reason", "http://alice:pw-Secret@db.example.test:port/x", `invalid port ":port" after host`},
		{"no userinfo keeps Go's reason", "http://db.example.test:port/x", `invalid port ":port" after host`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			u, err := ParseURL(tc.raw)
			if err == nil {
				t.Fatalf("parsed as %s", u)
			}
			if !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "Secret") {
				t.Fatalf("error %q, want %q without the password", err, tc.want)
			}
		})
	}
	if u, err := ParseURL("http://alice:pw%2FSecret@db.example.test/x"); err != nil || u.Host != "db.example.test" {
		t.Fatalf("a percent-encoded password: %v %v", u, err)
	}
}
