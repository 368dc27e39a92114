package clock

import "testing"
import "time"

func TestClock(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	fixed := Fixed(at)
	if got := fixed.Now(); !got.Equal(at) {
		t.Errorf("Fixed.Now() = %v, want %v", got, at)
	}
	if got := fixed.Since(at.Add(-time.Second)); got != time.Second {
		t.Errorf("Fixed.Since = %v, want 1s", got)
	}
	var wall Clock
	before := time.Now()
	if got := wall.Now(); got.Before(before) {
		t.Errorf("nil Clock.Now() = %v, before %v", got, before)
	}
}
