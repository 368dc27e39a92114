// Package engine decides what an execution does next. It is pure: no SQL, no HTTP, no
// clock. The pass driver (package orchestrator) owns the transaction around it.
//
// The model:
//
//   - State is the execution's projection: workload, durable ctx variables, per-step
//     phase and result, outstanding commands, loop progress, fired arcs waiting to be
//     admitted, failures, and the terminal status. It serialises to JSON and is stored
//     next to the execution row, so a pass folds only the events that arrived since the
//     last pass (State.Seq) instead of the whole history. Indexes of the running,
//     unrouted and looping steps (rebuilt when a snapshot is decoded) keep a pass from
//     scanning every step the execution ever ran; loop iteration results leave the state
//     through TakeIterations and come back through an IterationReader.
//   - State.Apply folds one stored event (worker or engine written) into the state.
//   - The graph of a playbook (built once): back-edges found by a depth-first walk from
//     start in arc order, forward upstreams, branch points, and what each decision's
//     templates can read (scopes), so every context holds only that.
//   - Engine.Advance evaluates until quiescent: it routes completed steps (step `set`,
//     then arcs), admits fired targets (freshness, running targets, the fan-in barrier),
//     skips steps whose `when` is false and routes them in their own mode, enters loops
//     and issues commands, tops up loops, and once nothing is in flight and nothing new
//     can start, writes exactly one terminal event. Every decision is an Event, applied to
//     the state as it is emitted. Every pass ends: a skip chain never re-enters a step the
//     pass skipped, and the pass's work is bounded.
//
// The rules are written down in docs/engine.md.
package engine
