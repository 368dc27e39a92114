package resolve

import "time"

// minCacheTTL is the shortest time a resolved value is cached: below it a cache write
// costs more than it saves.
const minCacheTTL = 5 * time.Second

// cacheFor decides how long a resolved value may be cached. Without an issuer expiry it is
// def. With one, the value is cached until margin before that expiry, at most def and at
// least minCacheTTL; when that deadline has already passed it is not cached at all
// (ok false), so that no fetch is ever answered with a value about to expire.
func cacheFor(expiresAt *time.Time, def, margin time.Duration, now time.Time) (ttl time.Duration, ok bool) {
	if expiresAt == nil {
		return def, true
	}
	deadline := expiresAt.Add(-margin)
	if !deadline.After(now) {
		return 0, false
	}
	left := deadline.Sub(now).Truncate(time.Second)
	return max(min(left, def), minCacheTTL), true
}
