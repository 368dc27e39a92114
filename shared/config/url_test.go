package config

import "testing"

func TestHTTPURL(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		value, wantErr string
	}{
		{value: "http://127.0.0.1:8084"},
		{value: "https://wallet.example.com/base/"},
		{value: "ftp://wallet", wantErr: `NOETL_WALLET_URL: "ftp://wallet" is not an http(s) URL`},
		{value: "wallet:8084", wantErr: `NOETL_WALLET_URL: "wallet:8084" is not an http(s) URL`},
		{value: "http://", wantErr: `NOETL_WALLET_URL: "http://" is not an http(s) URL`},
		{value: "", wantErr: `NOETL_WALLET_URL: "" is not an http(s) URL`},
		{value: "http://bad host", wantErr: `NOETL_WALLET_URL: "http://bad host" is not an http(s) URL`},
	} {
		t.Run(tc.value, func(t *testing.T) {
			t.Parallel()
			u, err := HTTPURL("NOETL_WALLET_URL", tc.value)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || u.String() != tc.value {
				t.Fatalf("= %v, %v; want %q", u, err, tc.value)
			}
		})
	}
}
