package providers

import "errors"
import "testing"

func TestRefOrSetting(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, fromRef, setting string
		want, wantErr          string
	}{
		{name: "reference wins", fromRef: "arn:ref", setting: "arn:setting", want: "arn:ref"},
		{name: "setting fills in", setting: "arn:setting", want: "arn:setting"},
		{name: "neither", wantErr: "aws sts: the reference names no role and AWS_ROLE_ARN is not set"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := RefOrSetting("aws sts", "role", tc.fromRef, tc.setting, "AWS_ROLE_ARN")
			if tc.wantErr != "" {
				if !errors.Is(err, ErrConfig) || err.Error() != tc.wantErr {
					t.Fatalf("err = %v, want ErrConfig %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("= %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}
