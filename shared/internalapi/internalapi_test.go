package internalapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/noetl/controlplane/shared/config"
)

func TestWorkerPublicKey(t *testing.T) {
	t.Parallel()
	const token = "tok-123"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+token {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error":"invalid token","status":401}`))
			return
		}
		if r.URL.Path != "/internal/runtime/worker-key" {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		name := r.URL.Query().Get("name")
		w.Header().Set("Content-Type", "application/json")
		switch name {
		case "keyed", "a b&c":
			_ = json.NewEncoder(w).Encode(map[string]any{"name": name, "worker_public_key": "KEY=" + name})
		case "nokey":
			_, _ = w.Write([]byte(`{"name":"nokey","worker_public_key":null}`))
		case "empty":
			_, _ = w.Write([]byte(`{"name":"empty","worker_public_key":""}`))
		case "broken":
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = w.Write([]byte(`{"error":"database down","status":500}`))
		case "garbage":
			_, _ = w.Write([]byte(`not json`))
		default:
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"error":"no row","status":404}`))
		}
	}))
	t.Cleanup(srv.Close)

	api, err := New(Config{BaseURL: srv.URL + "/", Token: config.Secret(token)})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		worker    string
		wantKey   string
		wantFound bool
		wantErr   string
	}{
		{"keyed", "KEY=keyed", true, ""},
		{"a b&c", "KEY=a b&c", true, ""}, // the name is query-escaped
		{"nokey", "", false, ""},
		{"empty", "", false, ""},
		{"missing", "", false, ""},
		{"broken", "", false, "HTTP 500: database down"},
		{"garbage", "", false, "decode api answer"},
	}
	for _, tc := range tests {
		t.Run(tc.worker, func(t *testing.T) {
			t.Parallel()
			key, found, err := api.WorkerPublicKey(context.Background(), tc.worker)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || key != tc.wantKey || found != tc.wantFound {
				t.Fatalf("= %q, %v, %v; want %q, %v", key, found, err, tc.wantKey, tc.wantFound)
			}
		})
	}

	t.Run("wrong token", func(t *testing.T) {
		t.Parallel()
		bad, err := New(Config{BaseURL: srv.URL, Token: "nope"})
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = bad.WorkerPublicKey(context.Background(), "keyed")
		var se *StatusError
		if !errors.As(err, &se) || se.Status != http.StatusUnauthorized {
			t.Fatalf("err = %v, want a 401 StatusError", err)
		}
		if strings.Contains(err.Error(), "nope") {
			t.Errorf("error %q quotes the token", err)
		}
	})
}

func TestWorkerPublicKeyUnreachable(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.NotFoundHandler())
	base := srv.URL
	srv.Close()
	api, err := New(Config{BaseURL: base, Token: "secret-token-value"})
	if err != nil {
		t.Fatal(err)
	}
	_, found, err := api.WorkerPublicKey(context.Background(), "w")
	if err == nil || found {
		t.Fatalf("found=%v err=%v, want a transport error", found, err)
	}
	if strings.Contains(err.Error(), "secret-token-value") {
		t.Errorf("error %q quotes the token", err)
	}
}

func TestNewRejectsBadURL(t *testing.T) {
	t.Parallel()
	for _, u := range []string{"", "ftp://x", "not a url", "http://"} {
		if _, err := New(Config{BaseURL: u}); err == nil || !strings.Contains(err.Error(), "NOETL_API_URL") {
			t.Errorf("New(%q) err = %v, want one naming NOETL_API_URL", u, err)
		}
	}
}
