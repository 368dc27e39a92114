package orchestrator

import "context"
import "errors"

import "github.com/noetl/controlplane/services/api/internal/engine"
import "github.com/noetl/controlplane/services/api/internal/vars"
import "github.com/noetl/controlplane/shared/jsonx"

// Workers offload tool results too large for an event (over ~100 KiB) to the result
// store and post a call.done whose result is a reference:
//
//	{status, context: {data: {_ref: "noetl://execution/<eid>/result/<id>"}}, reference: {kind: "result_ref", ref, ...}}
//
// Upstream left such results unreachable from templates. Before a pass folds a
// call.done, resolveRefs swaps the stored data in, so {{ step }} sees the real result;
// the stored event keeps the reference. A call.error's data (a failed http step's
// response) is resolved the same way: under spec.on_error: continue it is the step's
// result.

func resolveRefs(ctx context.Context, q vars.RowQuerier, evs []engine.Event) error {
	for i := range evs {
		if evs[i].Type != engine.TypeCallDone && evs[i].Type != engine.TypeCallError {
			continue
		}
		inner, ref := callDoneRef(evs[i].Result)
		if ref == "" {
			continue
		}
		execID, refID, ok := vars.ParseRef(ref)
		if !ok || execID != evs[i].ExecutionID {
			continue // a reference into another execution is not followed
		}
		raw, err := vars.ResultData(ctx, q, execID, refID)
		if errors.Is(err, vars.ErrNotFound) {
			continue // keep the reference visible rather than failing the pass
		}
		if err != nil {
			return err
		}
		data, err := jsonx.Decode(raw)
		if err != nil {
			return err
		}
		evs[i].Result = withData(evs[i].Result, inner, data)
	}
	return nil
}

// callDoneRef finds the result_ref of a call.done (or call.error):
// result.context.result.reference.
func callDoneRef(result any) (inner map[string]any, ref string) {
	rm, _ := result.(map[string]any)
	c, _ := rm["context"].(map[string]any)
	inner, _ = c["result"].(map[string]any)
	r, _ := inner["reference"].(map[string]any)
	if r == nil || (r["kind"] != nil && r["kind"] != "result_ref") {
		return nil, ""
	}
	ref, _ = r["ref"].(string)
	if ref == "" {
		ref, _ = r["logical_uri"].(string)
	}
	return inner, ref
}

// withData returns a copy of the call.done result whose inner context carries data.
func withData(result any, inner map[string]any, data any) any {
	rm := result.(map[string]any)
	c := rm["context"].(map[string]any)
	newInner := make(map[string]any, len(inner)+1)
	for k, v := range inner {
		newInner[k] = v
	}
	ictx, _ := inner["context"].(map[string]any)
	newCtx := make(map[string]any, len(ictx)+1)
	for k, v := range ictx {
		newCtx[k] = v
	}
	newCtx["data"] = data
	newInner["context"] = newCtx
	newC := make(map[string]any, len(c))
	for k, v := range c {
		newC[k] = v
	}
	newC["result"] = newInner
	newR := make(map[string]any, len(rm))
	for k, v := range rm {
		newR[k] = v
	}
	newR["context"] = newC
	return newR
}
