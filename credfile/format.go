// Package credfile holds the credentials file formats, their reader and the safe writer.
//
// It renders SMTP credentials in the formats sesmtp writes
// (csv, console-csv, json, env, postfix, url, k8s-secret), reads them back for verify, and writes
// credentials files safely: 0600, O_EXCL, atomically, never overwritten
// without being told to.
package credfile

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/sesmtp/sesmtp/derive"
)

// Format is a credentials file format.
type Format string

// The formats sesmtp writes.
const (
	CSV     Format = "csv"
	JSON    Format = "json"
	Env     Format = "env"
	Postfix Format = "postfix"
	URL     Format = "url"
	// K8sSecret is a Kubernetes Secret manifest (k8s.go).
	K8sSecret Format = "k8s-secret"
	// ConsoleCSV is exactly the file the SES console downloads: the three
	// columns of CSVHeader's start and one row, for one region.
	ConsoleCSV Format = "console-csv"
)

// Formats lists every Format, the default first.
func Formats() []Format { return []Format{CSV, JSON, Env, Postfix, URL, K8sSecret, ConsoleCSV} }

// ParseFormat returns the Format named s.
func ParseFormat(s string) (Format, error) {
	f := Format(strings.ToLower(s))
	if !slices.Contains(Formats(), f) {
		return "", fmt.Errorf("unknown format %q (formats: csv, json, env, postfix, url, k8s-secret, console-csv)", s)
	}
	return f, nil
}

// Ext is the file name extension for f.
func (f Format) Ext() string {
	switch f {
	case Postfix:
		return "sasl_passwd"
	case ConsoleCSV:
		return "csv"
	case K8sSecret:
		return "yaml"
	}
	return string(f)
}

// CheckRegions reports whether f can hold the passwords of regions: the
// console's file has no region column, so it holds one region only.
func CheckRegions(f Format, regions []string) error {
	if f == ConsoleCSV && len(regions) > 1 {
		return fmt.Errorf("--format console-csv holds one region (the console's file has no region column, and SMTP "+
			"passwords differ by region); got %d: %s. Pick one --region, or use --format csv for several",
			len(regions), strings.Join(regions, ", "))
	}
	return nil
}

// CSVHeader is the header row of the CSV format: the console's three
// columns, in the console's words, then sesmtp's.
var CSVHeader = []string{"IAM User Name", "Smtp Username", "Smtp Password", "Region", "Smtp Endpoint"}

// Options change what Render writes.
type Options struct {
	// IncludeSecretKey adds the secret access key (off by default: SMTP
	// needs only the password).
	IncludeSecretKey bool
}

// Render writes creds to w in format f.
func Render(w io.Writer, f Format, creds Credentials, opts Options) error {
	if len(creds.Passwords) == 0 {
		return fmt.Errorf("no SMTP password to write")
	}
	switch f {
	case CSV:
		return renderCSV(w, creds, opts)
	case JSON:
		return renderJSON(w, creds, opts)
	case Env:
		return renderEnv(w, creds, opts)
	case Postfix:
		return renderPostfix(w, creds)
	case URL:
		return renderURL(w, creds)
	case K8sSecret:
		return renderK8sSecret(w, creds, opts)
	case ConsoleCSV:
		return renderConsoleCSV(w, creds, opts)
	}
	return fmt.Errorf("unknown format %q", f)
}

func renderCSV(w io.Writer, creds Credentials, opts Options) error {
	cw := csv.NewWriter(w)
	header := CSVHeader
	if opts.IncludeSecretKey {
		header = append(slices.Clone(header), "Secret Access Key")
	}
	if err := cw.Write(header); err != nil {
		return err
	}
	for _, p := range creds.Passwords {
		row := []string{creds.UserName, creds.AccessKeyID, p.Password.Reveal(), p.Region, p.Endpoint}
		if opts.IncludeSecretKey {
			row = append(row, creds.SecretAccessKey.Reveal())
		}
		if err := cw.Write(safeRow(row)); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// renderConsoleCSV writes the SES console's download byte for byte: its
// three-column header, then one row with the IAM user name in quotes. The
// SES developer guide ("Obtaining Amazon SES SMTP credentials") offers the
// file but does not print it; the header and quoting are those of the
// console's credentials.csv as operators publish it.
func renderConsoleCSV(w io.Writer, creds Credentials, opts Options) error {
	regions := make([]string, len(creds.Passwords))
	for i, p := range creds.Passwords {
		regions[i] = p.Region
	}
	if err := CheckRegions(ConsoleCSV, regions); err != nil {
		return err
	}
	if opts.IncludeSecretKey {
		return fmt.Errorf("--format console-csv has no place for the secret access key (the console's file has three columns)")
	}
	_, err := fmt.Fprintf(w, "%s\n\"%s\",%s,%s\n", strings.Join(CSVHeader[:3], ","),
		strings.ReplaceAll(SafeCell(creds.UserName), `"`, `""`), creds.AccessKeyID, creds.Passwords[0].Password.Reveal())
	return err
}

// jsonFile is the JSON format's shape.
type jsonFile struct {
	IAMUserName     string         `json:"iam_user_name"`
	SMTPUsername    string         `json:"smtp_username"`
	SecretAccessKey string         `json:"secret_access_key,omitempty"`
	Endpoints       []jsonEndpoint `json:"endpoints"`
}

type jsonEndpoint struct {
	Region       string `json:"region"`
	Host         string `json:"host"`
	Port         int    `json:"port"`
	TLSPort      int    `json:"tls_port"`
	SMTPPassword string `json:"smtp_password"`
}

func renderJSON(w io.Writer, creds Credentials, opts Options) error {
	f := jsonFile{IAMUserName: creds.UserName, SMTPUsername: creds.AccessKeyID}
	if opts.IncludeSecretKey {
		f.SecretAccessKey = creds.SecretAccessKey.Reveal()
	}
	for _, p := range creds.Passwords {
		f.Endpoints = append(f.Endpoints, jsonEndpoint{Region: p.Region, Host: p.Endpoint,
			Port: derive.PortSubmission, TLSPort: derive.PortTLS, SMTPPassword: p.Password.Reveal()})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(f)
}

// shellQuote quotes s for POSIX shells and dotenv readers: single quotes,
// with embedded single quotes closed, escaped and reopened.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// envSuffix turns a region into a variable-name suffix: eu-west-1 -> EU_WEST_1.
func envSuffix(region string) string {
	return strings.ToUpper(strings.ReplaceAll(region, "-", "_"))
}

func renderEnv(w io.Writer, creds Credentials, opts Options) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# SES SMTP credentials for IAM user %s (the SMTP username is the access key id)\n", creds.UserName)
	for i, p := range creds.Passwords {
		suffix := ""
		if i > 0 {
			suffix = "_" + envSuffix(p.Region)
			fmt.Fprintf(&b, "# %s\n", p.Region)
		}
		fmt.Fprintf(&b, "SMTP_HOST%s=%s\n", suffix, shellQuote(p.Endpoint))
		fmt.Fprintf(&b, "SMTP_PORT%s=%s\n", suffix, shellQuote(strconv.Itoa(derive.PortSubmission)))
		fmt.Fprintf(&b, "SMTP_USERNAME%s=%s\n", suffix, shellQuote(creds.AccessKeyID))
		fmt.Fprintf(&b, "SMTP_PASSWORD%s=%s\n", suffix, shellQuote(p.Password.Reveal()))
	}
	if opts.IncludeSecretKey {
		fmt.Fprintf(&b, "AWS_SECRET_ACCESS_KEY=%s\n", shellQuote(creds.SecretAccessKey.Reveal()))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// renderPostfix writes Postfix sasl_passwd lines, one per region.
func renderPostfix(w io.Writer, creds Credentials) error {
	for _, p := range creds.Passwords {
		if _, err := fmt.Fprintf(w, "[%s]:%d %s:%s\n", p.Endpoint, derive.PortSubmission, creds.AccessKeyID, p.Password.Reveal()); err != nil {
			return err
		}
	}
	return nil
}

// renderURL writes smtp:// URLs, one per region, with user and password
// percent-encoded: SMTP passwords hold + and /, which break naive configs.
func renderURL(w io.Writer, creds Credentials) error {
	for _, p := range creds.Passwords {
		if _, err := fmt.Fprintf(w, "smtp://%s:%s@%s:%d\n", percentEncode(creds.AccessKeyID),
			percentEncode(p.Password.Reveal()), p.Endpoint, derive.PortSubmission); err != nil {
			return err
		}
	}
	return nil
}

// percentEncode encodes every byte but RFC 3986's unreserved characters,
// so + and / in a password survive every URL parser.
func percentEncode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || strings.IndexByte("-._~", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}
