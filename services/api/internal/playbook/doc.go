// Package playbook reads the NoETL playbook language (apiVersion noetl.io/v2, kind
// Playbook): YAML in, a typed model out, with upstream's validation messages. It does
// no rendering, no HTTP and no SQL.
//
//	pb, err := playbook.Parse(src)      // decode + resolve workbook + validate
//	// err is *playbook.ParseError (400: YAML or type problem, with Line)
//	//     or *playbook.ValidationError (422: a language rule, upstream's message)
//	pb, err := playbook.Decode(src)     // decode only (catalog registration)
//	err = pb.Validate()
//
//	pb.Step("name"), pb.Start(), pb.WorkloadMap()
//	pb.FindKeychain("alias"), pb.FindWorkbook("action")
//	step.Tool.Single / step.Tool.Pipeline, step.Tool.Kind(), step.Tool.Labels(),
//	step.Tool.Config()                  // upstream tool_config shape, unrendered
//	step.Next.Shape, step.Next.Arcs, step.RoutingMode()
//	step.Loop.{In, Iterator, Mode, MaxInFlight}, step.Set, step.Args, step.Input
//
// Everything the worker needs unrendered stays as written: each ToolSpec keeps Raw
// (the tool map), Spec (policy rules) and Set (pipeline task set); steps keep Raw.
// Unknown keys are kept in Extra maps at every level, never rejected. Values use the
// shared model (int64 integers, exact beyond 2^53).
//
// Decisions beyond upstream (see README.md): a step without `tool`, an unknown tool
// kind, a bad loop mode, an arc without a target and a bad keychain residency are
// validation errors with clear messages; `when` may be a YAML boolean; step-level
// `input` is kept (HEAD drops it).
package playbook
