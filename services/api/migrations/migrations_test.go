package migrations

import "testing"

// TestSetIsValid: versions without gaps, names that carry them, no schema-qualified
// names, and legacy versions that map to files this set ships.
func TestSetIsValid(t *testing.T) {
	t.Parallel()
	if err := Set.Validate(); err != nil {
		t.Fatal(err)
	}
}
