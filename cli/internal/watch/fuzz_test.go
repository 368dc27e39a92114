package watch

import "encoding/json"
import "os"
import "testing"
import "time"

import "github.com/noetl/controlplane/cli/internal/client"

// FuzzModelApply: any event log the server could send (events of any type, in any order,
// with any meta and result) folds without a panic and draws a view.
func FuzzModelApply(f *testing.F) {
	for _, name := range []string{"loop_events.json", "fail_events.json"} {
		if b, err := os.ReadFile("testdata/" + name); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"events":[{"seq":1,"event_type":"command.completed","node_name":"x","result":{"context":{"command_id":7}}}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var page client.EventPage
		if json.Unmarshal(b, &page) != nil {
			return
		}
		m := NewModel()
		m.Apply(page.Events)
		m.Apply(page.Events) // a page read twice
		_ = View("1", m, time.Now())
		_ = Summary(m)
	})
}
