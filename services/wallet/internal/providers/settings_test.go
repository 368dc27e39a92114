package providers

import "errors"
import "testing"

func TestBounded(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		v, want int
		wantErr string
	}{
		{name: "zero is the default", v: 0, want: 3600},
		{name: "a value within the bounds", v: 900, want: 900},
		{name: "the upper bound", v: 43200, want: 43200},
		{name: "below", v: 899, wantErr: "aws sts: NOETL_AWS_STS_DURATION_SECS must be between 900 and 43200, got 899"},
		{name: "above", v: 43201, wantErr: "aws sts: NOETL_AWS_STS_DURATION_SECS must be between 900 and 43200, got 43201"},
		{name: "negative", v: -1, wantErr: "aws sts: NOETL_AWS_STS_DURATION_SECS must be between 900 and 43200, got -1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := Bounded("aws sts", "NOETL_AWS_STS_DURATION_SECS", tc.v, 3600, 900, 43200)
			if tc.wantErr != "" {
				if !errors.Is(err, ErrConfig) || err.Error() != tc.wantErr {
					t.Fatalf("err = %v, want ErrConfig %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("= %d, %v; want %d", got, err, tc.want)
			}
		})
	}
}

func TestAWSEndpoint(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, override, region, path string
		want, wantErr, wantRef       string
	}{
		{name: "regional endpoint", region: "eu-west-1", want: "https://sts.eu-west-1.amazonaws.com"},
		{name: "with a path", region: "eu-west-1", path: "/", want: "https://sts.eu-west-1.amazonaws.com/"},
		{name: "override", override: "http://127.0.0.1:9000", region: "eu-west-1", path: "/", want: "http://127.0.0.1:9000/"},
		{name: "override with the region", override: "https://sts.{region}.example", region: "us-east-2", want: "https://sts.us-east-2.example"},
		{name: "override needing a region", override: "https://sts.{region}.example", wantErr: "X holds {region}, but the keychain entry has no region and NOETL_SERVER_REGION is not set"},
		{name: "override not a URL", override: "ftp//{region}", region: "eu-west-1", path: "/", wantErr: `aws sts: X "ftp//eu-west-1/" is not a URL`},
		// A region is a keychain entry's, which the playbook's author writes: it must not
		// move the host the signed request (and the web identity token) goes to.
		{name: "region moving the host", region: "evil.example/#", wantRef: `region "evil.example/#" is not a region name (letters, digits and dashes, at most 63)`},
		{name: "region moving the override's host", override: "https://sts.{region}.example", region: "x@evil.example#", path: "/",
			wantRef: `region "x@evil.example#" is not a region name (letters, digits and dashes, at most 63)`},
		{name: "region with a dot", region: "evil.example", wantRef: `region "evil.example" is not a region name (letters, digits and dashes, at most 63)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			u, err := AWSEndpoint("aws sts", "X", tc.override, "sts", tc.region, tc.path)
			if tc.wantRef != "" {
				if !errors.Is(err, ErrInvalidRef) || err.Error() != tc.wantRef {
					t.Fatalf("= %v, %v; want ErrInvalidRef %q", u, err, tc.wantRef)
				}
				return
			}
			if tc.wantErr != "" {
				if !errors.Is(err, ErrConfig) || err.Error() != tc.wantErr {
					t.Fatalf("err = %v, want ErrConfig %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || u.String() != tc.want {
				t.Fatalf("= %v, %v; want %s", u, err, tc.want)
			}
		})
	}
}

func TestSetting(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, value, want string }{
		{"set", "https://vault.example", "https://vault.example"},
		{"trimmed", "  7.5\n", "7.5"},
		{"empty is the default", "", "dflt"},
		{"blank is the default", " \t", "dflt"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Setting(tc.value, "dflt"); got != tc.want {
				t.Fatalf("Setting(%q) = %q, want %q", tc.value, got, tc.want)
			}
		})
	}
}
