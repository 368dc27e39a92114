package httpcall

import "context"
import "errors"
import "net/http"
import "net/http/httptest"
import "strings"
import "testing"

func TestDoReadsABoundedAnswer(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusTeapot)
		_, _ = w.Write([]byte("0123456789"))
	}))
	t.Cleanup(srv.Close)
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, body, err := Do(srv.Client(), req, 4)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusTeapot || string(body) != "0123" {
		t.Fatalf("got %d %q, want 418 \"0123\"", resp.StatusCode, body)
	}
}

func TestDoReportsAnAnswerCutShort(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Length", "100")
		_, _ = w.Write([]byte("short"))
	}))
	t.Cleanup(srv.Close)
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = Do(srv.Client(), req, 1<<10)
	if err == nil || !strings.HasPrefix(err.Error(), "read answer: ") {
		t.Fatalf("err = %v, want a read answer error", err)
	}
}

func TestDoReturnsASendFailureAsItIs(t *testing.T) {
	t.Parallel()
	sent := errors.New("no route")
	client := &http.Client{Transport: roundTrip(func(*http.Request) (*http.Response, error) { return nil, sent })}
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, "http://127.0.0.1:1/", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := Do(client, req, 1); !errors.Is(err, sent) || strings.Contains(err.Error(), "read answer") {
		t.Fatalf("err = %v, want the transport's error", err)
	}
}

type roundTrip func(*http.Request) (*http.Response, error)

func (f roundTrip) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
