package tmpl

import "fmt"
import "strings"

// Error is a template failure. Kind is "parse" for a syntax error (the template never
// runs) and "render" for an error while evaluating it (a failing filter, a type error).
type Error struct {
	Kind string
	Msg  string
	Line int // 1-based line of the template where the problem is; 0 if unknown
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("template %s error: %s (line %d)", e.Kind, e.Msg, e.Line)
	}
	return fmt.Sprintf("template %s error: %s", e.Kind, e.Msg)
}

func errorf(src string, pos int, format string, args ...any) *Error {
	if pos > len(src) {
		pos = len(src)
	}
	if pos < 0 {
		pos = 0
	}
	return &Error{Kind: "parse", Msg: fmt.Sprintf(format, args...), Line: strings.Count(src[:pos], "\n") + 1}
}

func renderErr(format string, args ...any) *Error {
	return &Error{Kind: "render", Msg: fmt.Sprintf(format, args...)}
}
