package credfile

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestReadRoundTrip reads back every format Render writes.
func TestReadRoundTrip(t *testing.T) {
	creds := testCreds()
	for _, f := range Formats() {
		if f == ConsoleCSV {
			continue // one region, no region column: TestConsoleCSVGolden reads it back
		}
		t.Run(string(f), func(t *testing.T) {
			var buf bytes.Buffer
			require.NoError(t, Render(&buf, f, creds, Options{}))
			entries, err := Read(&buf)
			require.NoError(t, err)
			require.Len(t, entries, 2)
			for i, e := range entries {
				assert.Equal(t, creds.AccessKeyID, e.Username)
				assert.Equal(t, creds.Passwords[i].Password.Reveal(), e.Password.Reveal())
				assert.Equal(t, creds.Passwords[i].Region, e.Region)
				assert.Equal(t, creds.Passwords[i].Endpoint, e.Host)
			}
		})
	}
}

func TestReadConsoleCSV(t *testing.T) {
	entries, err := Read(strings.NewReader("\ufeffIAM User Name,Smtp Username,Smtp Password\r\nses-smtp-user.1,AKIAIOSFODNN7EXAMPLE,BLBM/9hSUELfq8Gw+rU1YcBjkOxGbhT2XG763xVLGWL9\r\n"))
	require.NoError(t, err)
	require.Len(t, entries, 1)
	assert.Equal(t, "", entries[0].Region, "the console's file has no region")
	assert.Equal(t, "AKIAIOSFODNN7EXAMPLE", entries[0].Username)
}

func TestReadConsoleCSVHeaderVariants(t *testing.T) {
	const pw = "BLBM/9hSUELfq8Gw+rU1YcBjkOxGbhT2XG763xVLGWL9"
	tests := []struct{ name, header, row, wantUser string }{
		{"classic console", "IAM User Name,Smtp Username,Smtp Password", "app,AKIAIOSFODNN7EXAMPLE," + pw, "app"},
		{"newer console", "IAM user name,SMTP user name,SMTP password", "app,AKIAIOSFODNN7EXAMPLE," + pw, "app"},
		{"console with ARN and endpoint", "IAM User Arn,SMTP endpoint,SMTP username,SMTP password",
			"arn:aws:iam::123456789012:user/smtp/app,email-smtp.eu-west-1.amazonaws.com,AKIAIOSFODNN7EXAMPLE," + pw, "app"},
		{"quoted upper case", `"IAM USER NAME","SMTP USERNAME","SMTP PASSWORD"`, "app,AKIAIOSFODNN7EXAMPLE," + pw, "app"},
		{"snake case", "iam_user_name,smtp_username,smtp_password,region", "app,AKIAIOSFODNN7EXAMPLE," + pw + ",eu-west-1", "app"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			entries, err := Read(strings.NewReader(tt.header + "\r\n" + tt.row + "\r\n"))
			require.NoError(t, err)
			require.Len(t, entries, 1)
			assert.Equal(t, tt.wantUser, entries[0].IAMUser)
			assert.Equal(t, "AKIAIOSFODNN7EXAMPLE", entries[0].Username)
			assert.Equal(t, pw, entries[0].Password.Reveal())
			if strings.Contains(tt.row, "email-smtp") || strings.Contains(tt.row, "eu-west-1") {
				assert.Equal(t, "eu-west-1", entries[0].Region)
			}
		})
	}
	_, err := Read(strings.NewReader("IAM user name,Access key ID,Secret access key\napp,AKIA,secret\n"))
	assert.ErrorContains(t, err, "not a credentials file", "an access-key CSV is not SMTP credentials")
}

func TestReadRejects(t *testing.T) {
	secret := "BLBM/9hSUELfq8Gw+rU1YcBjkOxGbhT2XG763xVLGWL9"
	tests := []struct{ name, in, want string }{
		{"empty", "", "empty"},
		{"unknown", "hello", "not a credentials file"},
		{"bad json", `{"smtp_username": "` + secret, "not valid JSON"},
		{"json without endpoints", `{"smtp_username":"AKIA"}`, "holds no credentials"},
		{"short csv row", "IAM User Name,Smtp Username,Smtp Password\nu," + secret + "\n", "line 2 has 2 columns"},
		{"csv without password", "IAM User Name,Smtp Username,Smtp Password\nu,AKIA,\n", "no SMTP username or password"},
		{"bad postfix", "[host]:587 " + secret + "\n", "not a sasl_passwd line"},
		{"bad env quote", "SMTP_USERNAME='AKIA\nSMTP_PASSWORD='" + secret + "'\n", "unterminated quote"},
		{"env line", "SMTP_USERNAME=AKIA\n" + secret + "\n", "line 2 is not NAME=VALUE"},
		{"huge", "IAM User Name," + strings.Repeat("x", maxFileSize), "larger than 1 MiB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Read(strings.NewReader(tt.in))
			require.ErrorContains(t, err, tt.want)
			assert.NotContains(t, err.Error(), secret, "errors never quote the file")
		})
	}
}

func TestRegionOfHost(t *testing.T) {
	assert.Equal(t, "eu-west-1", RegionOfHost("email-smtp.eu-west-1.amazonaws.com"))
	assert.Equal(t, "", RegionOfHost("smtp.example.com"))
	assert.Equal(t, "", RegionOfHost("email-smtp.a.b.amazonaws.com"))
	assert.Equal(t, "us-gov-west-1", RegionOfHost("email-smtp-fips.us-gov-west-1.amazonaws.com"))
	assert.Equal(t, "cn-north-1", RegionOfHost("email-smtp.cn-north-1.amazonaws.com.cn"))
}

func FuzzRead(f *testing.F) {
	for _, fm := range Formats() {
		var buf bytes.Buffer
		_ = Render(&buf, fm, testCreds(), Options{IncludeSecretKey: true})
		f.Add(buf.String())
	}
	f.Add("IAM User Name,Smtp Username,Smtp Password\n\"a,b\",c\n")
	f.Fuzz(func(t *testing.T, in string) {
		entries, err := Read(strings.NewReader(in))
		if err == nil {
			for _, e := range entries {
				if e.Username == "" || e.Password == "" {
					t.Fatal("Read returned an entry without username or password")
				}
			}
		}
	})
}
