package config

// PositiveOr is v when it is positive, else def: a component's tuning value (a batch
// size, a period) left at zero, or set below it, takes the component's default.
func PositiveOr[T ~int | ~int32 | ~int64 | ~float64](v, def T) T {
	if v > 0 {
		return v
	}
	return def
}
