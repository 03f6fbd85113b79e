package credfile

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite golden files")

// testCreds uses a password with + and / and a user name with =, the
// characters that break naive config files.
func testCreds() Credentials {
	return Credentials{
		UserName:        "ses-smtp-user.20261128-120000",
		AccessKeyID:     "AKIAIOSFODNN7EXAMPLE",
		SecretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
		Passwords: []RegionPassword{
			{Region: "us-east-1", Endpoint: "email-smtp.us-east-1.amazonaws.com", Password: "BLBM/9hSUELfq8Gw+rU1YcBjkOxGbhT2XG763xVLGWL9"},
			{Region: "us-east-2", Endpoint: "email-smtp.us-east-2.amazonaws.com", Password: "BMPPgbAHoFVbze1Ud0oA5uNdXRwUXUZ+qOwphGJbl/cS"},
		},
	}
}

func TestRenderGolden(t *testing.T) {
	for _, f := range Formats() {
		if f == ConsoleCSV {
			continue // one region, no key: TestConsoleCSVGolden
		}
		for _, withKey := range []bool{false, true} {
			name := string(f)
			if withKey {
				name += "-with-secret-key"
			}
			t.Run(name, func(t *testing.T) {
				var buf bytes.Buffer
				require.NoError(t, Render(&buf, f, testCreds(), Options{IncludeSecretKey: withKey}))
				golden := filepath.Join("testdata", name+".golden")
				if *update {
					require.NoError(t, os.WriteFile(golden, buf.Bytes(), 0o644))
				}
				want, err := os.ReadFile(golden)
				require.NoError(t, err)
				assert.Equal(t, string(want), buf.String())
				hasKey := bytes.Contains(buf.Bytes(), []byte(testCreds().SecretAccessKey))
				assert.Equal(t, withKey && f != Postfix && f != URL, hasKey, "the secret key appears only when asked for")
			})
		}
	}
}

func TestCSVHeaderIsTheConsoles(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, Render(&buf, CSV, testCreds(), Options{}))
	assert.True(t, bytes.HasPrefix(buf.Bytes(), []byte("IAM User Name,Smtp Username,Smtp Password,Region,Smtp Endpoint\n")))
}

func TestURLPercentEncodesPassword(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, Render(&buf, URL, testCreds(), Options{}))
	assert.Contains(t, buf.String(), "smtp://AKIAIOSFODNN7EXAMPLE:BLBM%2F9hSUELfq8Gw%2BrU1YcBjkOxGbhT2XG763xVLGWL9@email-smtp.us-east-1.amazonaws.com:587\n")
}

func TestShellQuote(t *testing.T) {
	assert.Equal(t, `'a'\''b'`, shellQuote("a'b"))
	assert.Equal(t, `'+/='`, shellQuote("+/="))
}

func TestSecretNeverPrints(t *testing.T) {
	c := testCreds()
	var logBuf bytes.Buffer
	slog.New(slog.NewTextHandler(&logBuf, nil)).Info("creds", "secret", c.SecretAccessKey, "all", c)
	js, err := json.Marshal(c)
	require.NoError(t, err)
	for _, s := range []string{
		fmt.Sprint(c), fmt.Sprintf("%v %+v %#v %s %q %x", c, c, c, c.SecretAccessKey, c.SecretAccessKey, c.SecretAccessKey),
		fmt.Errorf("wrapped: %v", c).Error(), logBuf.String(), string(js),
	} {
		assert.NotContains(t, s, c.SecretAccessKey.Reveal())
		assert.NotContains(t, s, c.Passwords[0].Password.Reveal())
	}
	assert.Contains(t, fmt.Sprint(c.SecretAccessKey), Redacted)
}

func TestWrite(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "new", "sub", "creds.csv")
	require.NoError(t, Check(path, false))
	_, err := os.Stat(filepath.Join(dir, "new"))
	assert.ErrorIs(t, err, os.ErrNotExist, "Check creates nothing")

	require.NoError(t, Write(path, []byte("first"), false))
	info, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(FileMode), info.Mode().Perm())
	for _, d := range []string{filepath.Join(dir, "new"), filepath.Join(dir, "new", "sub")} {
		di, err := os.Stat(d)
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(DirMode), di.Mode().Perm())
	}

	var exists *ExistsError
	require.ErrorAs(t, Check(path, false), &exists)
	require.ErrorAs(t, Write(path, []byte("second"), false), &exists)
	got, _ := os.ReadFile(path)
	assert.Equal(t, "first", string(got), "never overwritten without force")

	require.NoError(t, Check(path, true))
	require.NoError(t, Write(path, []byte("second"), true))
	got, _ = os.ReadFile(path)
	assert.Equal(t, "second", string(got))

	entries, err := os.ReadDir(filepath.Dir(path))
	require.NoError(t, err)
	assert.Len(t, entries, 1, "no temporary file is left behind")
}

func TestCheckRejects(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	require.NoError(t, os.WriteFile(file, nil, 0o600))
	tests := []struct {
		name, path, want string
	}{
		{"directory", dir, "is a directory"},
		{"under a file", filepath.Join(file, "x.csv"), "not a directory"},
		// /proc refuses new files even to root, who may write anywhere else.
		{"unwritable directory", "/proc/sesmtp-credentials.csv", "cannot write credentials to /proc/sesmtp-credentials.csv"},
		{"empty", "", "empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.ErrorContains(t, Check(tt.path, false), tt.want)
		})
	}
	assert.NoError(t, Check(Stdout, false))
}

// firstRegion is testCreds for its first region only.
func firstRegion() Credentials {
	c := testCreds()
	c.Passwords = c.Passwords[:1]
	return c
}

// TestConsoleCSVGolden: exactly the file the SES console downloads, three
// columns with the user name quoted, for tools that parse that file.
func TestConsoleCSVGolden(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, Render(&buf, ConsoleCSV, firstRegion(), Options{}))
	golden := filepath.Join("testdata", "console-csv.golden")
	if *update {
		require.NoError(t, os.WriteFile(golden, buf.Bytes(), 0o644))
	}
	want, err := os.ReadFile(golden)
	require.NoError(t, err)
	assert.Equal(t, string(want), buf.String())
	assert.Equal(t, "IAM User Name,Smtp Username,Smtp Password\n"+
		`"ses-smtp-user.20261128-120000",AKIAIOSFODNN7EXAMPLE,BLBM/9hSUELfq8Gw+rU1YcBjkOxGbhT2XG763xVLGWL9`+"\n", buf.String())

	entries, err := Read(&buf)
	require.NoError(t, err)
	assert.Equal(t, []Entry{{IAMUser: "ses-smtp-user.20261128-120000", Username: "AKIAIOSFODNN7EXAMPLE",
		Password: "BLBM/9hSUELfq8Gw+rU1YcBjkOxGbhT2XG763xVLGWL9"}}, entries)
}

func TestConsoleCSVRefuses(t *testing.T) {
	var buf bytes.Buffer
	assert.ErrorContains(t, Render(&buf, ConsoleCSV, testCreds(), Options{}), "one region")
	assert.ErrorContains(t, Render(&buf, ConsoleCSV, firstRegion(), Options{IncludeSecretKey: true}), "no place for the secret access key")
	assert.Empty(t, buf.String())
	assert.ErrorContains(t, CheckRegions(ConsoleCSV, []string{"eu-west-1", "us-east-1"}), "one region")
	assert.NoError(t, CheckRegions(ConsoleCSV, []string{"eu-west-1"}))
	assert.NoError(t, CheckRegions(CSV, []string{"eu-west-1", "us-east-1"}))
}
