// Package tmpl is the playbook template engine: Jinja2 syntax with the semantics the
// NoETL engine needs (chainable undefined, JSON-typed values, 64-bit integers), written
// for the value model nil, bool, int64, float64, string, []any, map[string]any.
//
// Rendering:
//
//	r := tmpl.New(0)                                   // bounded compiled-template cache
//	s, err := r.RenderString("hello {{ who }}", vars)  // text
//	v, err := r.RenderText("{{ start.count + 1 }}", vars) // one string, typed (int64 here)
//	v, err := r.RenderValue(toolConfig, vars)          // a whole structure, typed leaves
//	v, err := r.RenderValueOpts(cfg, vars, tmpl.Options{DeferRoots: []string{"keychain"}})
//	v, err := r.Eval("a.b > 3", vars)                  // a bare expression
//	ok, err := r.EvalCondition(arc.When, vars)         // `{{ x }}` or bare `x`
//	ok := tmpl.Truthy(v)
//
// Typing (render_to_value): a string that is exactly one {{ expression }} (surrounding
// whitespace allowed) evaluates to the expression's value: numbers stay numbers (int64
// exact), maps and lists stay structures, strings stay strings, and undefined or null
// yields nil. Any other string, templated or plain, is rendered as text and retyped by
// Coerce: JSON object/array text becomes the value, true/false (and True/False) a bool,
// integer text an int64, decimal text a float64, and "", "null", "None" nil.
//
// Results may share maps and lists with vars (a whole {{ workload.items }} returns the
// context's own list); treat rendered values as read-only, as the context itself.
//
// Text printing: strings as they are, true/false, null and undefined as nothing, floats
// as Python prints them (2.0), lists and maps as JSON with sorted keys.
//
// Undefined is chainable: an attribute or item of a missing value is undefined again,
// prints as nothing and is replaced by `default`. JSON null behaves like undefined
// except for the `none` test.
//
// Context: BuildContext assembles the evaluation context of the engine from a
// ContextInput (workload keys at top level, `workload`, step results unwrapped by
// ExtractUserData, flattened by FlattenPipeline for pipelines and given a `.data` alias
// by DataAlias, `steps`, durable `ctx` variables, `execution_id`, `catalog_id`, `path`,
// override layers for step/arc `set` and arc `args`, loop iteration variables and
// `iter`, `event`, `output`, and the `ctx` shim). SetKey maps a `set:` key to the
// variable it writes.
//
// References: TextRefs, ConditionRefs and ValueRefs report, without rendering, every
// top-level name a template can read and, for names only read as `name.attr`, which
// attributes. A context that binds just those renders the template as the full one
// does, so the engine builds small contexts and ships workers only what a command's
// unrendered templates can read.
//
// Errors are *Error with Kind "parse" (syntax, with the template line) or "render".
//
// See README.md for why this is a purpose-built evaluator rather than a Jinja library.
package tmpl
