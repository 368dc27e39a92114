package app

import "testing"

import "github.com/noetl/controlplane/shared/testkit"

// Every variable the worker reads is in the README's environment table with its
// default.
func TestEveryVariableIsDocumented(t *testing.T) {
	testkit.AssertDocumented(t, Config{})
}
