package playbook

import "fmt"

// ParseError is a playbook that cannot be read: invalid YAML, or a value of the wrong
// type where the language needs a particular one. The HTTP layer answers 400.
type ParseError struct {
	Line int // 1-based line in the YAML source; 0 when unknown
	Msg  string
}

func (e *ParseError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("invalid playbook YAML at line %d: %s", e.Line, e.Msg)
	}
	return "invalid playbook YAML: " + e.Msg
}

// LimitError is a document that passes a size limit once its aliases are expanded (an
// alias bomb: a few kilobytes of YAML that stand for gigabytes). It is detected while the
// YAML is converted, before anything is marshalled. The HTTP layer answers 422.
type LimitError struct {
	Line  int    // where the limit was passed
	Limit int    // the limit
	Unit  string // "bytes" or "nodes"
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("the document expands to more than %d %s with its aliases expanded (passed at line %d); that is the limit", e.Limit, e.Unit, e.Line)
}

// ValidationError is a well-formed playbook that breaks a rule of the language
// (missing start step, unknown next target, ...). Msg is the exact upstream message
// where upstream has one. The HTTP layer answers 422.
type ValidationError struct {
	Msg  string
	Line int // line of the offending step or entry when known; not part of Msg
}

func (e *ValidationError) Error() string { return e.Msg }

func validationf(line int, format string, args ...any) *ValidationError {
	return &ValidationError{Msg: fmt.Sprintf(format, args...), Line: line}
}
