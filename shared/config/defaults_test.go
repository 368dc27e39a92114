package config

import "testing"
import "time"

func TestPositiveOr(t *testing.T) {
	t.Parallel()
	if got := PositiveOr(5, 100); got != 5 {
		t.Errorf("PositiveOr(5, 100) = %d, want 5", got)
	}
	for _, v := range []int{0, -1} {
		if got := PositiveOr(v, 100); got != 100 {
			t.Errorf("PositiveOr(%d, 100) = %d, want the default 100", v, got)
		}
	}
	if got := PositiveOr(time.Duration(0), time.Hour); got != time.Hour {
		t.Errorf("PositiveOr(0s, 1h) = %v, want 1h", got)
	}
	if got := PositiveOr(time.Minute, time.Hour); got != time.Minute {
		t.Errorf("PositiveOr(1m, 1h) = %v, want 1m", got)
	}
}
