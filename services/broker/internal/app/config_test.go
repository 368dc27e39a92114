package app

import "strings"
import "testing"
import "time"

func TestLoadConfigWallet(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		env     map[string]string
		want    time.Duration
		wantErr string
	}{
		{name: "default", env: map[string]string{}, want: 30 * time.Second},
		{name: "set", env: map[string]string{"NOETL_BROKER_WALLET_TIMEOUT": "5s"}, want: 5 * time.Second},
		{name: "zero", env: map[string]string{"NOETL_BROKER_WALLET_TIMEOUT": "0s"}, wantErr: "NOETL_BROKER_WALLET_TIMEOUT: must be positive"},
		{name: "not a duration", env: map[string]string{"NOETL_BROKER_WALLET_TIMEOUT": "ten"}, wantErr: "NOETL_BROKER_WALLET_TIMEOUT"},
		{name: "wallet url without scheme", env: map[string]string{"NOETL_WALLET_URL": "wallet:8084"}, wantErr: `NOETL_WALLET_URL: "wallet:8084" is not an http(s) URL`},
		{name: "wallet url not http", env: map[string]string{"NOETL_WALLET_URL": "ftp://wallet:8084"}, wantErr: `NOETL_WALLET_URL: "ftp://wallet:8084" is not an http(s) URL`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg, err := LoadConfig(tc.env)
			if err == nil {
				err = cfg.Validate()
			}
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.WalletTimeout != tc.want {
				t.Fatalf("WalletTimeout = %v, want %v", cfg.WalletTimeout, tc.want)
			}
		})
	}
}
