// Package engine decides what an execution does next. It is pure: no SQL, no HTTP, no
// clock. The pass driver (package orchestrator) owns the transaction around it.
//
// The model:
//
//   - State is the execution's projection: workload, durable ctx variables, per-step
//     phase and result, outstanding commands, loop progress, fired arcs waiting for a
//     fan-in barrier, failures, and the terminal status. It serialises to JSON and is
//     stored next to the execution row, so a pass folds only the events that arrived
//     since the last pass (State.Seq) instead of the whole history.
//   - State.Apply folds one stored event (worker or engine written) into the state.
//   - Engine.Advance evaluates until quiescent: it routes completed steps (step `set`,
//     then arcs), dispatches fired targets that pass the fan-in barrier (step `when`
//     skip chains, loops, commands), tops up loops, and once nothing is in flight and
//     nothing new can start, writes exactly one terminal event. Every decision is an
//     Event, applied to the state as it is emitted, so the state always equals the
//     fold of the event log plus the engine's own bookkeeping.
//
// Semantics follow decisions.md §7 and the "Recommended rules for the Go engine" of
// reference/engine-head-server.md, including every (fix).
package engine
