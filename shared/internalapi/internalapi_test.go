package internalapi

import "strings"
import "testing"

func TestNewRejectsBadURL(t *testing.T) {
	t.Parallel()
	for _, u := range []string{"", "ftp://x", "not a url", "http://"} {
		if _, err := New(Config{BaseURL: u}); err == nil || !strings.Contains(err.Error(), "NOETL_API_URL") {
			t.Errorf("New(%q) err = %v, want one naming NOETL_API_URL", u, err)
		}
	}
}
