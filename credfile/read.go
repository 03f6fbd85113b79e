package credfile

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"unicode"

	"github.com/sesmtp/sesmtp/derive"
)

// Entry is one set of SMTP credentials read back from a credentials file.
type Entry struct {
	// IAMUser is the IAM user name, when the file has it.
	IAMUser string
	// Username is the SMTP username (the access key id).
	Username string
	// Password is the SMTP password.
	Password Secret
	// Region and Host say where the password is for ("" when unknown).
	Region string
	Host   string
	// Port is the SMTP port the file names, 0 when it names none.
	Port int
}

// maxFileSize bounds what Read accepts: credentials files are small.
const maxFileSize = 1 << 20

// Read parses a credentials file in any format sesmtp writes (csv, json,
// env, postfix, url, k8s-secret), and the SES console's three-column CSV. Errors name
// the line and never quote a value.
func Read(r io.Reader) ([]Entry, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxFileSize {
		return nil, errors.New("credentials file is larger than 1 MiB; not a credentials file")
	}
	text := bytes.TrimSpace(bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")))
	var entries []Entry
	switch {
	case len(text) == 0:
		return nil, errors.New("credentials file is empty")
	case text[0] == '{':
		entries, err = readJSON(text)
	case isConsoleCSV(text):
		entries, err = readCSV(text)
	case bytes.HasPrefix(text, []byte("smtp://")) || bytes.HasPrefix(text, []byte("smtps://")):
		entries, err = readLines(text, parseURL)
	case text[0] == '[':
		entries, err = readLines(text, parsePostfix)
	case isK8sSecret(text):
		entries, err = readK8sSecret(text)
	case bytes.Contains(text, []byte("SMTP_USERNAME")):
		entries, err = readEnv(text)
	default:
		return nil, errors.New("not a credentials file sesmtp knows (csv with the console's header, json, env, postfix sasl_passwd, smtp:// url or Kubernetes Secret)")
	}
	if err != nil {
		return nil, err
	}
	if len(entries) == 0 {
		return nil, errors.New("credentials file holds no credentials")
	}
	for i, e := range entries {
		if e.Username == "" || e.Password == "" {
			return nil, fmt.Errorf("credentials entry %d has no SMTP username or password", i+1)
		}
		if e.Region == "" && e.Host != "" {
			entries[i].Region = RegionOfHost(e.Host)
		}
	}
	return entries, nil
}

// RegionOfHost returns the region of an SES SMTP host name
// (email-smtp[-fips].REGION.amazonaws.com, or another partition's
// suffix), or "".
func RegionOfHost(host string) string {
	region, _, _ := derive.ParseEndpoint(host)
	return region
}

func readJSON(text []byte) ([]Entry, error) {
	var f jsonFile
	if err := json.Unmarshal(text, &f); err != nil {
		return nil, fmt.Errorf("credentials file is not valid JSON (%s)", jsonErrorPlace(err))
	}
	var out []Entry
	for _, ep := range f.Endpoints {
		out = append(out, Entry{IAMUser: f.IAMUserName, Username: f.SMTPUsername, Password: Secret(ep.SMTPPassword),
			Region: ep.Region, Host: ep.Host, Port: ep.Port})
	}
	return out, nil
}

// jsonErrorPlace describes where JSON parsing failed without quoting input.
func jsonErrorPlace(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("syntax error at byte %d", se.Offset)
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("field %q has the wrong type", te.Field)
	}
	return "unreadable"
}

// Columns of a credentials CSV.
const (
	colIAMUser    = "iam user"
	colIAMUserARN = "iam user arn"
	colUsername   = "smtp username"
	colPassword   = "smtp password"
	colRegion     = "region"
	colEndpoint   = "smtp endpoint"
)

// csvColumns maps normalized headers to columns. The console has written
// its CSV with several headers over the years, all read here, in any case:
// "IAM User Name,Smtp Username,Smtp Password" (the classic console file,
// as many READMEs quote it), "IAM user name,SMTP user name,SMTP password"
// and "IAM User Arn,SMTP endpoint,SMTP username,SMTP password" (newer
// consoles, as tools that parse the download list them). sesmtp's own CSV
// adds Region and Smtp Endpoint.
var csvColumns = map[string]string{
	"iamusername": colIAMUser, "iamuser": colIAMUser, "username": colIAMUser,
	"iamuserarn":   colIAMUserARN,
	"smtpusername": colUsername, "smtpuser": colUsername, "smtplogin": colUsername,
	"smtppassword": colPassword,
	"region":       colRegion, "smtpregion": colRegion,
	"smtpendpoint": colEndpoint, "smtphost": colEndpoint, "smtpserver": colEndpoint, "endpoint": colEndpoint,
}

// normalizeHeader lower-cases a CSV header and drops spaces, dashes and
// underscores: "SMTP user name", "Smtp Username" and "smtp_username" match.
func normalizeHeader(h string) string {
	return strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' || r == '_' {
			return -1
		}
		return unicode.ToLower(r)
	}, strings.TrimSpace(h))
}

// isConsoleCSV reports whether text starts with a CSV header that names
// an SMTP username and an SMTP password column.
func isConsoleCSV(text []byte) bool {
	line, _, _ := bytes.Cut(text, []byte("\n"))
	header, err := csv.NewReader(bytes.NewReader(line)).Read()
	if err != nil {
		return false
	}
	found := map[string]bool{}
	for _, h := range header {
		found[csvColumns[normalizeHeader(h)]] = true
	}
	return found[colUsername] && found[colPassword]
}

func readCSV(text []byte) ([]Entry, error) {
	cr := csv.NewReader(bytes.NewReader(text))
	cr.FieldsPerRecord = -1
	rows, err := cr.ReadAll()
	if err != nil {
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("credentials CSV is malformed at line %d", pe.Line)
		}
		return nil, errors.New("credentials CSV is malformed")
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		if name, ok := csvColumns[normalizeHeader(h)]; ok {
			col[name] = i
		}
	}
	get := func(row []string, name string) string {
		if i, ok := col[name]; ok && i < len(row) {
			return UnsafeCell(row[i])
		}
		return ""
	}
	var out []Entry
	for n, row := range rows[1:] {
		if len(row) < 3 {
			return nil, fmt.Errorf("credentials CSV line %d has %d columns; want at least 3", n+2, len(row))
		}
		user := get(row, colIAMUser)
		if arn := get(row, colIAMUserARN); user == "" && arn != "" {
			user = arn[strings.LastIndex(arn, "/")+1:]
		}
		out = append(out, Entry{IAMUser: user, Username: get(row, colUsername),
			Password: Secret(get(row, colPassword)), Region: get(row, colRegion), Host: get(row, colEndpoint)})
	}
	return out, nil
}

// readLines parses one entry per non-empty, non-comment line.
func readLines(text []byte, parse func(string) (Entry, error)) ([]Entry, error) {
	var out []Entry
	sc := bufio.NewScanner(bytes.NewReader(text))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		e, err := parse(line)
		if err != nil {
			return nil, fmt.Errorf("credentials line %d: %w", n, err)
		}
		out = append(out, e)
	}
	return out, sc.Err()
}

func parseURL(line string) (Entry, error) {
	u, err := url.Parse(line)
	if err != nil || u.User == nil {
		return Entry{}, errors.New("not an smtp://USER:PASSWORD@HOST:PORT url")
	}
	pw, _ := u.User.Password()
	port, _ := strconv.Atoi(u.Port())
	return Entry{Username: u.User.Username(), Password: Secret(pw), Host: u.Hostname(), Port: port}, nil
}

// parsePostfix reads "[HOST]:PORT USER:PASSWORD".
func parsePostfix(line string) (Entry, error) {
	dest, cred, ok := strings.Cut(line, " ")
	host, port, ok2 := strings.Cut(strings.TrimPrefix(dest, "["), "]:")
	user, pw, ok3 := strings.Cut(strings.TrimSpace(cred), ":")
	if !ok || !ok2 || !ok3 {
		return Entry{}, errors.New("not a sasl_passwd line ([HOST]:PORT USER:PASSWORD)")
	}
	p, _ := strconv.Atoi(port)
	return Entry{Username: user, Password: Secret(pw), Host: host, Port: p}, nil
}

// readEnv reads SMTP_* assignments, grouping suffixed ones by region.
func readEnv(text []byte) ([]Entry, error) {
	vars := map[string]string{}
	var order []string
	sc := bufio.NewScanner(bytes.NewReader(text))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(sc.Text()), "export "))
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("credentials line %d is not NAME=VALUE", n)
		}
		val, err := unquote(v)
		if err != nil {
			return nil, fmt.Errorf("credentials line %d: %w", n, err)
		}
		vars[k] = val
		order = append(order, k)
	}
	var out []Entry
	for _, k := range order {
		suffix, ok := strings.CutPrefix(k, "SMTP_USERNAME")
		if !ok {
			continue
		}
		port, _ := strconv.Atoi(vars["SMTP_PORT"+suffix])
		out = append(out, Entry{Username: vars[k], Password: Secret(vars["SMTP_PASSWORD"+suffix]), Host: vars["SMTP_HOST"+suffix], Port: port})
	}
	return out, sc.Err()
}

// unquote undoes shellQuote (and accepts bare and double-quoted values).
func unquote(v string) (string, error) {
	switch {
	case strings.HasPrefix(v, "'"):
		var b strings.Builder
		for len(v) > 0 {
			if !strings.HasPrefix(v, "'") {
				if rest, ok := strings.CutPrefix(v, `\'`); ok {
					b.WriteByte('\'')
					v = rest
					continue
				}
				return "", errors.New("badly quoted value")
			}
			end := strings.IndexByte(v[1:], '\'')
			if end < 0 {
				return "", errors.New("unterminated quote")
			}
			b.WriteString(v[1 : 1+end])
			v = v[end+2:]
		}
		return b.String(), nil
	case strings.HasPrefix(v, `"`):
		s, err := strconv.Unquote(v)
		if err != nil {
			return "", errors.New("badly quoted value")
		}
		return s, nil
	}
	return v, nil
}
