// Package clock is the api's one source of the current time. Components take a Clock
// from their constructor (the zero value reads the wall clock), so a test can fix the
// time and assert the timestamps a component writes.
package clock

import "time"

// Clock returns the current time. A nil Clock is the wall clock.
type Clock func() time.Time

// Now is the current time.
func (c Clock) Now() time.Time {
	if c == nil {
		return time.Now()
	}
	return c()
}

// Since is the time elapsed since t.
func (c Clock) Since(t time.Time) time.Duration { return c.Now().Sub(t) }

// Fixed is a clock stopped at t.
func Fixed(t time.Time) Clock { return func() time.Time { return t } }
