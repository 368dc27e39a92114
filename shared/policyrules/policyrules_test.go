package policyrules

import "testing"

func TestCheckAction(t *testing.T) {
	t.Parallel()
	for _, do := range Actions {
		if err := CheckAction(do); err != nil {
			t.Errorf("%s: %v", do, err)
		}
	}
	for _, do := range []string{"", "retyr", "Retry", "continue "} {
		err := CheckAction(do)
		if err == nil || err.Error() != "unknown action '"+do+"'. Valid: [continue, retry, fail, break, jump]" {
			t.Errorf("%q: %v", do, err)
		}
	}
}
