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
// env, postfix, url), and the SES console's three-column CSV. Errors name
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
	case bytes.HasPrefix(text, []byte("IAM User Name,")) || bytes.HasPrefix(text, []byte("\"IAM User Name\"")):
		entries, err = readCSV(text)
	case bytes.HasPrefix(text, []byte("smtp://")) || bytes.HasPrefix(text, []byte("smtps://")):
		entries, err = readLines(text, parseURL)
	case text[0] == '[':
		entries, err = readLines(text, parsePostfix)
	case bytes.Contains(text, []byte("SMTP_USERNAME")):
		entries, err = readEnv(text)
	default:
		return nil, errors.New("not a credentials file sesmtp knows (csv with the console's header, json, env, postfix sasl_passwd or smtp:// url)")
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

// RegionOfHost returns REGION from email-smtp.REGION.amazonaws.com, or "".
func RegionOfHost(host string) string {
	r, ok := strings.CutPrefix(host, "email-smtp.")
	if !ok {
		return ""
	}
	r, ok = strings.CutSuffix(r, ".amazonaws.com")
	if !ok || strings.Contains(r, ".") {
		return ""
	}
	return r
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
		col[h] = i
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
		out = append(out, Entry{IAMUser: get(row, "IAM User Name"), Username: get(row, "Smtp Username"),
			Password: Secret(get(row, "Smtp Password")), Region: get(row, "Region"), Host: get(row, "Smtp Endpoint")})
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
