package providers

import "testing"

func TestNameRuleMatch(t *testing.T) {
	cases := []struct {
		rule NameRule
		s    string
		want bool
	}{
		{NameRule{Extra: "-"}, "", true},
		{NameRule{Extra: "-"}, "us-east-1", true},
		{NameRule{Extra: "-"}, "us_east", false},
		{NameRule{MinLen: 3, MaxLen: 24, Extra: "-"}, "ab", false},
		{NameRule{MinLen: 3, MaxLen: 24, Extra: "-"}, "My-Vault", true},
		{NameRule{MinLen: 3, MaxLen: 24, Extra: "-"}, "abcdefghijklmnopqrstuvwxy", false},
		{NameRule{MinLen: 1, MaxLen: 253, LowerOnly: true, Extra: "-.", NoDotNames: true}, "db.creds", true},
		{NameRule{MinLen: 1, MaxLen: 253, LowerOnly: true, Extra: "-.", NoDotNames: true}, "DB", false},
		{NameRule{MinLen: 1, MaxLen: 253, LowerOnly: true, Extra: "-.", NoDotNames: true}, "..", false},
		{NameRule{MinLen: 1, MaxLen: 253, Extra: "-._"}, "..", true},
		{NameRule{MinLen: 1, Extra: "-_.@"}, "a@b/c", false},
		{NameRule{MinLen: 1, Extra: "-_.@"}, "é", false},
	}
	for _, c := range cases {
		if got := c.rule.Match(c.s); got != c.want {
			t.Errorf("%+v.Match(%q) = %v, want %v", c.rule, c.s, got, c.want)
		}
	}
}
