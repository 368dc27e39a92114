package app

import "testing"

import "github.com/noetl/controlplane/shared/testkit"

// Every variable this binary reads is in the README's environment table with its
// default (the rule that a variable change updates the docs in the same commit).
func TestEveryVariableIsDocumented(t *testing.T) {
	testkit.AssertDocumented(t, Config{})
}
