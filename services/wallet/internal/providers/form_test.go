package providers

import "testing"

func TestFormBody(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		pairs [][2]string
		want  string
	}{
		{"unreserved kept", [][2]string{{"a-b.c_d~e", "AZaz09"}}, "a-b.c_d~e=AZaz09"},
		{"order kept", [][2]string{{"z", "1"}, {"a", "2"}}, "z=1&a=2"},
		{"reserved escaped upper hex", [][2]string{{"RoleArn", "arn:aws:iam::1:role/x+y=z"}}, "RoleArn=arn%3Aaws%3Aiam%3A%3A1%3Arole%2Fx%2By%3Dz"},
		{"space is %20, not +", [][2]string{{"scope", "a b"}}, "scope=a%20b"},
		{"utf-8 bytes", [][2]string{{"k", "é"}}, "k=%C3%A9"},
		{"empty value", [][2]string{{"k", ""}}, "k="},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := FormBody(tc.pairs...); got != tc.want {
				t.Errorf("FormBody = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestRedact(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, msg string
		creds     []string
		want      string
	}{
		{"credential removed", "bad token eyJhbGciOi.payload.sig here", []string{"eyJhbGciOi.payload.sig"}, "bad token [redacted] here"},
		{"quoted value removed", "1 validation error detected: Value 'abc' at 'webIdentityToken' failed", nil,
			"1 validation error detected: value '[redacted]' at 'webIdentityToken' failed"},
		{"short credential not searched", "a b c", []string{"a"}, "a b c"},
		{"nothing to redact", "AccessDenied: Not authorized", []string{"secret-value-1"}, "AccessDenied: Not authorized"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := Redact(tc.msg, tc.creds...); got != tc.want {
				t.Errorf("Redact = %q, want %q", got, tc.want)
			}
		})
	}
}
