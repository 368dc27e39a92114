package residency

import "errors"
import "testing"

import "github.com/noetl/controlplane/shared/internalapi"

// The seed's decision table, as a pure function; resolve's tests run each row through
// the whole resolution.
func TestDecide(t *testing.T) {
	t.Parallel()
	tests := []struct {
		policy, entry, server string
		allowed               []string
		want                  string
	}{
		{"", "eu", "us", nil, AllowedNoPolicy},
		{"none", "eu", "us", nil, AllowedNoPolicy},
		{"strict", "", "", nil, AllowedNoPolicy},
		{"advisory", "eu", "eu", nil, AllowedSameRegion},
		{"advisory", "eu", "eu-west", []string{"eu-west"}, AllowedInAllowlist},
		{"advisory", "eu", "us", []string{"eu-west"}, ViolationAllowed},
		{"strict", "eu", "eu", nil, AllowedSameRegion},
		{"strict", "eu", "eu-west", []string{"eu-west"}, AllowedInAllowlist},
		{"strict", "eu", "us", []string{"eu-west"}, ViolationBlocked},
		{"strict", "eu", "", []string{""}, ViolationBlocked},
		{"bogus", "eu", "us", nil, ViolationBlocked},
	}
	for _, tc := range tests {
		if got := Decide(tc.policy, tc.entry, tc.server, tc.allowed); got != tc.want {
			t.Errorf("Decide(%q, %q, %q, %q) = %s, want %s", tc.policy, tc.entry, tc.server, tc.allowed, got, tc.want)
		}
	}
}

func TestGateUsesTheServerRegionWhenTheEntryHasNone(t *testing.T) {
	t.Parallel()
	g := NewGate("eu", nil)
	if d, err := g.Check(internalapi.KeychainEntry{Name: "x", Residency: "strict"}); err != nil || d != AllowedSameRegion {
		t.Errorf("= %s, %v", d, err)
	}
	_, err := g.Check(internalapi.KeychainEntry{Name: "x", Residency: "strict", Region: "us"})
	var v *Violation
	if !errors.As(err, &v) || v.EntryRegion != "us" || v.ServerRegion != "eu" ||
		err.Error() != "Residency violation: credential 'x' is region-locked to 'us'; this server is in 'eu'" {
		t.Errorf("err = %v", err)
	}
}
