package derive

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// awsExampleKey is the secret access key AWS documents as an example.
const awsExampleKey = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"

func TestPasswordV4KnownAnswers(t *testing.T) {
	tests := []struct {
		source, secret, region, want string
	}{
		{"AWS example key", awsExampleKey, "us-east-1", "BLBM/9hSUELfq8Gw+rU1YcBjkOxGbhT2XG763xVLGWL9"},
		{"AWS example key", awsExampleKey, "us-east-2", "BMPPgbAHoFVbze1Ud0oA5uNdXRwUXUZ+qOwphGJbl/cS"},
		// terraform-provider-aws, internal/service/iam/access_key_test.go.
		{"terraform", "some+secret+key", "eu-central-1", "BMXhUYlu5Z3gSXVQORxlVa7XPaz91aGWdfHxvkOZdWZ2"},
		{"terraform", "another+secret+key", "eu-central-1", "BBbphbrQmrKMx42d1N6+C7VINYEBGI5v9VsZeTxwskfh"},
		{"terraform", "some+secret+key", "us-west-1", "BH+jbMzper5WwlwUar9E1ySBqHa9whi0GPo+sJ0mVYJj"},
		{"terraform", "another+secret+key", "us-west-1", "BKVmjjMDFk/qqw8EROW99bjCS65PF8WKvK5bSr4Y6EqF"},
	}
	for _, tt := range tests {
		t.Run(tt.source+"/"+tt.region, func(t *testing.T) {
			assert.Equal(t, tt.want, PasswordV4(tt.secret, tt.region))
		})
	}
}

func TestPasswordV2KnownAnswers(t *testing.T) {
	tests := []struct {
		source, secret, want string
	}{
		{"AWS example key", awsExampleKey, "An60U4ZD3sd4fg+FvXUjayOipTt8LO4rUUmhpdX6ctDy"},
		// terraform-provider-aws, internal/service/iam/access_key_test.go.
		{"terraform", "some+secret+key", "AnkqhOiWEcszZZzTMCQbOY1sPGoLFgMH9zhp4eNgSjo4"},
		{"terraform", "another+secret+key", "Akwqr0Giwi8FsQFgW3DXWCC2DiiQ/jZjqLDWK8TeTBgL"},
	}
	for _, tt := range tests {
		t.Run(tt.source+"/"+tt.secret[:4], func(t *testing.T) {
			assert.Equal(t, tt.want, PasswordV2(tt.secret))
		})
	}
}

func TestPasswordV4DependsOnRegion(t *testing.T) {
	seen := map[string]string{}
	for _, r := range Regions() {
		p := PasswordV4(awsExampleKey, r)
		if other, dup := seen[p]; dup {
			t.Fatalf("regions %s and %s give the same password", r, other)
		}
		seen[p] = r
	}
}

func TestCheckRegion(t *testing.T) {
	tests := []struct {
		name           string
		region         string
		allowUnknown   bool
		wantErr        bool
		wantSuggestion string
		wantMalformed  bool
	}{
		{"known", "eu-west-1", false, false, "", false},
		{"govcloud", "us-gov-west-1", false, false, "", false},
		{"typo", "eu-wset-1", false, true, "eu-west-1", false},
		{"missing digit", "us-east", false, true, "us-east-1", true},
		{"upper case", "EU-WEST-1", false, true, "eu-west-1", true},
		{"unlisted but shaped", "xx-north-9", false, true, "", false},
		{"unlisted allowed", "xx-north-9", true, false, "", false},
		{"malformed even when allowed", "nowhere", true, true, "", true},
		{"nonsense", "nowhere-1", false, true, "", true},
		{"guide: no SMTP in Cape Town", "af-south-1", false, true, "", false},
		{"guide: no SMTP in Milan", "eu-south-1", false, true, "", false},
		{"guide: no SMTP in Jakarta", "ap-southeast-3", false, true, "", false},
		{"guide: no SMTP in Tel Aviv", "il-central-1", false, true, "", false},
		{"guide: no SMTP in Bahrain", "me-south-1", false, true, "", false},
		{"not an SES region", "eu-south-2", false, true, "", false},
		{"china", "cn-north-1", false, true, "", false},
		{"china allowed", "cn-north-1", true, false, "", false},
		{"documented gap allowed", "af-south-1", true, false, "", false},
		{"govcloud east", "us-gov-east-1", false, false, "", false},
		{"empty", "", false, true, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckRegion(tt.region, tt.allowUnknown)
			if !tt.wantErr {
				require.NoError(t, err)
				return
			}
			var ure *UnknownRegionError
			require.ErrorAs(t, err, &ure)
			assert.Equal(t, tt.wantSuggestion, ure.Suggestion)
			assert.Equal(t, tt.wantMalformed, ure.Malformed)
			if tt.wantSuggestion != "" {
				assert.Contains(t, err.Error(), "did you mean "+tt.wantSuggestion+"?")
			}
		})
	}
}

func TestRefusedRegionsSayWhy(t *testing.T) {
	for region, want := range map[string]string{
		"af-south-1": "SES Developer Guide", "eu-south-2": "endpoint data for SES has no eu-south-2",
		"cn-northwest-1": "not offered in the China regions", "us-iso-east-1": "isolated partitions",
	} {
		err := CheckRegion(region, false)
		require.Error(t, err, region)
		assert.Contains(t, err.Error(), want)
		assert.Contains(t, err.Error(), "--allow-unknown-region")
		assert.NotContains(t, err.Error(), "did you mean", "no typo suggestion for a region refused on evidence")
	}
}

func TestEndpoint(t *testing.T) {
	tests := []struct {
		region string
		fips   bool
		want   string
	}{
		{"eu-west-1", false, "email-smtp.eu-west-1.amazonaws.com"},
		{"us-east-1", true, "email-smtp-fips.us-east-1.amazonaws.com"},
		{"us-gov-west-1", false, "email-smtp.us-gov-west-1.amazonaws.com"},
		{"us-gov-west-1", true, "email-smtp-fips.us-gov-west-1.amazonaws.com"},
		{"cn-north-1", false, "email-smtp.cn-north-1.amazonaws.com.cn"},
		{"us-iso-east-1", false, "email-smtp.us-iso-east-1.c2s.ic.gov"},
		{"us-isob-east-1", false, "email-smtp.us-isob-east-1.sc2s.sgov.gov"},
		{"eu-isoe-west-1", false, "email-smtp.eu-isoe-west-1.cloud.adc-e.uk"},
		{"us-isof-south-1", false, "email-smtp.us-isof-south-1.csp.hci.ic.gov"},
		{"eusc-de-east-1", false, "email-smtp.eusc-de-east-1.amazonaws.eu"},
		{"xx-north-9", false, "email-smtp.xx-north-9.amazonaws.com"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			assert.Equal(t, tt.want, Endpoint(tt.region, tt.fips))
			region, fips, ok := ParseEndpoint(tt.want)
			assert.True(t, ok)
			assert.Equal(t, tt.region, region)
			assert.Equal(t, tt.fips, fips)
		})
	}
	for _, host := range []string{"smtp.example.com", "email-smtp.eu-west-1.amazonaws.com.cn", "email-smtp.cn-north-1.amazonaws.com",
		"email-smtp.bad.region.amazonaws.com", "email-smtp..amazonaws.com", "email-smtp-fips.amazonaws.com"} {
		_, _, ok := ParseEndpoint(host)
		assert.False(t, ok, host)
	}
}

func TestCheckFIPS(t *testing.T) {
	for _, r := range []string{"us-east-1", "us-west-2", "us-gov-west-1"} {
		assert.NoError(t, CheckFIPS(r, false), r)
	}
	for _, r := range []string{"eu-west-1", "us-east-2", "us-gov-east-1", "ca-central-1"} {
		err := CheckFIPS(r, false)
		var nf *NoFIPSError
		require.ErrorAs(t, err, &nf, r)
		assert.Contains(t, err.Error(), "us-east-1, us-gov-west-1, us-west-2")
		assert.NoError(t, CheckFIPS(r, true), "--allow-unknown-region goes beyond the record")
	}
}

func TestCheckSamePartition(t *testing.T) {
	assert.NoError(t, CheckSamePartition(nil))
	assert.NoError(t, CheckSamePartition([]string{"eu-west-1", "us-east-1", "xx-north-9"}))
	assert.NoError(t, CheckSamePartition([]string{"us-gov-west-1", "us-gov-east-1"}))
	err := CheckSamePartition([]string{"eu-west-1", "us-east-1", "us-gov-west-1"})
	var mixed *MixedPartitionsError
	require.ErrorAs(t, err, &mixed)
	assert.Equal(t, "us-gov-west-1", mixed.Second)
	assert.Contains(t, err.Error(), "eu-west-1 (partition aws) and us-gov-west-1 (partition aws-us-gov)")
}

func TestRegionsSortedAndShaped(t *testing.T) {
	rs := Regions()
	require.NotEmpty(t, rs)
	for i, r := range rs {
		assert.Regexp(t, regionShape, r)
		if i > 0 {
			assert.Less(t, rs[i-1], r, "list must stay sorted and free of duplicates")
		}
	}
	rs[0] = "mutated"
	assert.NotEqual(t, "mutated", Regions()[0], "Regions must return a copy")
}

func TestCheckSecret(t *testing.T) {
	tests := []struct {
		name      string
		secret    string
		anyLength bool
		wantErr   bool
	}{
		{"real shape", awsExampleKey, false, false},
		{"empty", "", true, true},
		{"inner space", "wJalrXUtnFEMI/K7MDENG bPxRfiCYEXAMPLEKEY", false, true},
		{"tab", "wJalrXUtnFEMI/K7MDENG\tbPxRfiCYEXAMPLEKEY", false, true},
		{"trailing newline", awsExampleKey[:39] + "\n", false, true},
		{"control char", "wJalrXUtnFEMI/K7MDENG\x01bPxRfiCYEXAMPLEKEY", false, true},
		{"non-ascii", "wJalrXUtnFEMI/K7MDENGébPxRfiCYEXAMPLEKE", false, true},
		{"short", "some+secret+key", false, true},
		{"short but forced", "some+secret+key", true, false},
		{"long", awsExampleKey + "X", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckSecret(tt.secret, tt.anyLength)
			if !tt.wantErr {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			if tt.secret != "" {
				assert.NotContains(t, err.Error(), tt.secret, "error must not echo the secret")
			}
		})
	}
	var le *SecretLengthError
	require.True(t, errors.As(CheckSecret("short", false), &le))
	assert.Equal(t, 5, le.Len)
}

// referenceV4 is a straightforward transcription of AWS's published
// algorithm, used to cross-check PasswordV4 on fuzzed inputs.
func referenceV4(secret, region string) string {
	sign := func(key []byte, msg string) []byte {
		m := hmac.New(sha256.New, key)
		m.Write([]byte(msg))
		return m.Sum(nil)
	}
	sig := []byte("AWS4" + secret)
	for _, msg := range []string{sigDate, region, sigService, sigTerminal, sigMessage} {
		sig = sign(sig, msg)
	}
	return base64.StdEncoding.EncodeToString(append([]byte{versionV4}, sig...))
}

func FuzzPasswords(f *testing.F) {
	f.Add(awsExampleKey, uint8(0))
	f.Add("", uint8(3))
	f.Add("some+secret+key", uint8(7))
	f.Add(strings.Repeat("x", 200), uint8(255))
	regions := Regions()
	f.Fuzz(func(t *testing.T, secret string, pick uint8) {
		region := regions[int(pick)%len(regions)]
		for _, tc := range []struct {
			password string
			lead     string
			version  byte
		}{
			{PasswordV4(secret, region), "B", versionV4},
			{PasswordV2(secret), "A", versionV2},
		} {
			if len(tc.password) != PasswordLen || !strings.HasPrefix(tc.password, tc.lead) {
				t.Fatalf("bad password shape: len %d, lead %q", len(tc.password), tc.password[:1])
			}
			raw, err := base64.StdEncoding.DecodeString(tc.password)
			if err != nil || len(raw) != 33 || raw[0] != tc.version {
				t.Fatalf("password does not decode to 33 bytes with version %d: %v", tc.version, err)
			}
		}
		if got, want := PasswordV4(secret, region), referenceV4(secret, region); got != want {
			t.Fatal("PasswordV4 disagrees with the reference transcription")
		}
	})
}

func FuzzCheckRegion(f *testing.F) {
	for _, s := range []string{"eu-west-1", "eu-wset-1", "us-gov-west-1", "", "EU-WEST-1", "xx-north-9", "a-b-1"} {
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, region string, allowUnknown bool) {
		err := CheckRegion(region, allowUnknown)
		if err == nil {
			if !regionShape.MatchString(region) {
				t.Fatalf("accepted %q, which is not shaped like a region", region)
			}
			if got, fips, ok := ParseEndpoint(Endpoint(region, true)); !ok || got != region || !fips {
				t.Fatalf("endpoint %s does not parse back", Endpoint(region, true))
			}
			return
		}
		var ure *UnknownRegionError
		if !errors.As(err, &ure) || ure.Region != region {
			t.Fatalf("error %v is not an UnknownRegionError for the input", err)
		}
		if ure.Suggestion != "" && CheckRegion(ure.Suggestion, false) != nil {
			t.Fatalf("suggested unknown region %q", ure.Suggestion)
		}
	})
}
