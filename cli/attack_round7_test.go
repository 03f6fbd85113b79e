package cli

import (
	"encoding/csv"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sesmtp/sesmtp/exitcode"
	"github.com/sesmtp/sesmtp/provision/iamtest"
)

// TestAttack7ConsoleCSVFormulaInjection: IAM user names may start with
// = + - @ (IAM API reference, CreateUser: [\w+=,.@-]+), and the csv format
// escapes such cells (credfile.SafeCell, OWASP "CSV Injection"); console-csv
// wrote the user name raw, so a spreadsheet opening the file ran "=1+2".
// The test asserts no console-csv cell starts a formula. The reader undoes
// SafeCell on every cell, so escaping keeps verify --credentials working.
func TestAttack7ConsoleCSVFormulaInjection(t *testing.T) {
	for _, user := range []string{"=1+2", "+cmd", "-2+3", "@SUM"} {
		t.Run(user, func(t *testing.T) {
			e := iamtest.Start(t)
			e.State(t)
			out := filepath.Join(t.TempDir(), "c.csv")
			res := runCLI(t, "", createArgs(e, out, "--user", user, "--region", "eu-west-1", "--format", "console-csv")...)
			require.Equal(t, exitcode.OK, res.code, res.stderr)
			b, err := os.ReadFile(out)
			require.NoError(t, err)
			rows, err := csv.NewReader(strings.NewReader(string(b))).ReadAll()
			require.NoError(t, err)
			require.Len(t, rows, 2)
			for _, cell := range rows[1] {
				assert.NotContains(t, "=+-@", cell[:1], "cell %q of the console-csv file starts a spreadsheet formula", cell)
			}
		})
	}
}

// TestAttack7K8sSecretNameCollision: two distinct IAM users (IAM names are
// unique only case-insensitively, so app_mailer and app-mailer coexist)
// got the same Kubernetes Secret metadata.name; the test asserts they now
// differ. Before, `kubectl apply -f` of the second file silently replaced
// the first user's Secret: app_mailer's workload sent with app-mailer's
// key, and app_mailer's own password, whose only copy was that file, was
// gone from the cluster. Same for users made only of _+=,@ characters,
// which all became "ses-smtp-credentials".
func TestAttack7K8sSecretNameCollision(t *testing.T) {
	nameRE := regexp.MustCompile(`(?m)^  name: "([^"]*)"$`)
	for _, pair := range [][2]string{{"app_mailer", "app-mailer"}, {"a@b", "a=b"}, {"__", "@@"}} {
		t.Run(pair[0]+" vs "+pair[1], func(t *testing.T) {
			e := iamtest.Start(t)
			e.State(t)
			dir := t.TempDir()
			var names []string
			for i, u := range pair {
				out := filepath.Join(dir, string(rune('a'+i))+".yaml")
				res := runCLI(t, "", createArgs(e, out, "--user", u, "--region", "eu-west-1", "--format", "k8s-secret")...)
				require.Equal(t, exitcode.OK, res.code, res.stderr)
				b, err := os.ReadFile(out)
				require.NoError(t, err)
				m := nameRE.FindStringSubmatch(string(b))
				require.NotNil(t, m, "no metadata.name in the k8s-secret file (its content holds the password: not printed)")
				names = append(names, m[1])
			}
			assert.NotEqual(t, names[0], names[1], "IAM users %q and %q get one Kubernetes Secret name", pair[0], pair[1])
		})
	}
}
