package engine

import "bytes"
import "encoding/json"
import "fmt"

import "github.com/noetl/controlplane/shared/jsonx"

// EncodeState serialises a snapshot. Integers keep all 64 bits.
func EncodeState(s *State) ([]byte, error) { return jsonx.Marshal(s) }

// DecodeState reads a snapshot. encoding/json would turn numbers inside `any` fields
// into float64, so numbers are decoded as json.Number and normalised to int64/float64.
func DecodeState(b []byte) (*State, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var s State
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("decode execution snapshot: %w", err)
	}
	s.Normalize()
	s.Workload = normMap(s.Workload)
	s.Ctx = normMap(s.Ctx)
	for _, st := range s.Steps {
		st.Envelope = jsonx.Normalize(st.Envelope)
		st.Data = jsonx.Normalize(st.Data)
		st.EntryArgs = normMap(st.EntryArgs)
		st.EntrySet = normMap(st.EntrySet)
		if l := st.Loop; l != nil {
			for i := range l.Items {
				l.Items[i] = jsonx.Normalize(l.Items[i])
			}
		}
	}
	for _, c := range s.Commands {
		c.Envelope = jsonx.Normalize(c.Envelope)
		c.ErrorData = jsonx.Normalize(c.ErrorData)
		c.ErrorEnvelope = jsonx.Normalize(c.ErrorEnvelope)
	}
	for _, f := range s.Pending {
		f.Args = normMap(f.Args)
		f.Set = normMap(f.Set)
	}
	return &s, nil
}

func normMap(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	out, _ := jsonx.Normalize(m).(map[string]any)
	return out
}
