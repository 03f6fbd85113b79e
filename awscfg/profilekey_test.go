package awscfg_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sesmtp/sesmtp/awscfg"
	"github.com/sesmtp/sesmtp/provision/iamtest"
)

func TestProfileSetting(t *testing.T) {
	const file = `# sesmtp settings live beside the SDK's
[default]
sesmtp_permissions_boundary = arn:aws:iam::111111111111:policy/sesmtp/SesmtpSenderBoundary
[profile mail]
region = eu-west-1
sesmtp_permissions_boundary=arn:aws:iam::222222222222:policy/B   # inline comment
[profile  other]
; nothing here
[sso-session mail]
sesmtp_permissions_boundary = not-a-profile
`
	tests := []struct {
		name, profile, envProfile, want string
	}{
		{"default section", "", "", "arn:aws:iam::111111111111:policy/sesmtp/SesmtpSenderBoundary"},
		{"named profile", "mail", "", "arn:aws:iam::222222222222:policy/B"},
		{"AWS_PROFILE", "", "mail", "arn:aws:iam::222222222222:policy/B"},
		{"flag beats AWS_PROFILE", "other", "mail", ""},
		{"unknown profile", "nope", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			iamtest.Isolate(t)
			cfg := filepath.Join(t.TempDir(), "config")
			require.NoError(t, os.WriteFile(cfg, []byte(file), 0o600))
			t.Setenv("AWS_CONFIG_FILE", cfg)
			if tt.envProfile != "" {
				t.Setenv("AWS_PROFILE", tt.envProfile)
			}
			got, err := awscfg.ProfileSetting(tt.profile, "sesmtp_permissions_boundary")
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
	t.Run("no config file", func(t *testing.T) {
		iamtest.Isolate(t)
		t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "absent"))
		got, err := awscfg.ProfileSetting("", "sesmtp_permissions_boundary")
		require.NoError(t, err)
		assert.Empty(t, got)
	})
}
