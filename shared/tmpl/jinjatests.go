package tmpl

// Jinja tests (`x is mapping`, `n is even`, ...): the registry's tests table.

import "fmt"

func tMapping(v any, _ []any) (bool, error) {
	switch v.(type) {
	case map[string]any, *namespace:
		return true, nil
	}
	return false, nil
}

func tIterable(v any, _ []any) (bool, error) {
	switch v.(type) {
	case []any, map[string]any, string, *namespace:
		return true, nil
	}
	return false, nil
}

func tParity(want int64) testFunc {
	return func(v any, _ []any) (bool, error) {
		i, ok := v.(int64)
		if !ok {
			return false, nil
		}
		r := i % 2
		if r < 0 {
			r = -r
		}
		return r == want, nil
	}
}

func tDivisible(v any, args []any) (bool, error) {
	if len(args) != 1 {
		return false, fmt.Errorf("expects one argument")
	}
	m, err := arith("%", v, args[0])
	if err != nil {
		return false, err
	}
	return equal(m, int64(0)), nil
}

func tCmp(op string) testFunc {
	return func(v any, args []any) (bool, error) {
		if len(args) != 1 {
			return false, fmt.Errorf("expects one argument")
		}
		return compareOp(op, v, args[0])
	}
}

func tIn(v any, args []any) (bool, error) {
	if len(args) != 1 {
		return false, fmt.Errorf("expects one argument")
	}
	return contains(args[0], v)
}

func tSameAs(v any, args []any) (bool, error) {
	if len(args) != 1 {
		return false, fmt.Errorf("expects one argument")
	}
	switch a := args[0].(type) {
	case nil, bool, int64, float64, string:
		return v == a, nil
	case undefinedType:
		return isUndef(v), nil
	}
	return false, nil
}

func tCase(is, isNot func(rune) bool) testFunc {
	return func(v any, _ []any) (bool, error) {
		s, ok := v.(string)
		if !ok {
			return false, nil
		}
		cased := false
		for _, r := range s {
			if isNot(r) {
				return false, nil
			}
			if is(r) {
				cased = true
			}
		}
		return cased, nil
	}
}
