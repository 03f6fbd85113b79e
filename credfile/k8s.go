package credfile

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	"github.com/sesmtp/sesmtp/derive"
)

// The k8s-secret format is a Kubernetes Secret manifest (apiVersion v1,
// kind Secret, type Opaque) for `kubectl apply -f`, one document per region
// ("---" between them). Its stringData holds the fields a store payload
// holds (package store): username, password, host, port, region, iam_user,
// access_key_id, and secret_access_key only when asked for. Every value is
// a double-quoted YAML scalar written as a JSON string (JSON strings are
// valid YAML double-quoted scalars), so no value is ever read as a number,
// a boolean or YAML syntax.

// k8sField is one stringData entry, in the order written.
type k8sField struct{ key, value string }

func renderK8sSecret(w io.Writer, creds Credentials, opts Options) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# SES SMTP credentials for IAM user %s (the SMTP username is the access key id).\n", creds.UserName)
	b.WriteString("# Apply with: kubectl apply -f FILE [-n NAMESPACE]\n")
	for i, p := range creds.Passwords {
		name := K8sSecretName(creds.UserName)
		if len(creds.Passwords) > 1 {
			name += "-" + p.Region
		}
		if i > 0 {
			b.WriteString("---\n")
		}
		fields := []k8sField{{"username", creds.AccessKeyID}, {"password", p.Password.Reveal()}, {"host", p.Endpoint},
			{"port", strconv.Itoa(derive.PortSubmission)}, {"region", p.Region}, {"iam_user", creds.UserName},
			{"access_key_id", creds.AccessKeyID}}
		if opts.IncludeSecretKey {
			fields = append(fields, k8sField{"secret_access_key", creds.SecretAccessKey.Reveal()})
		}
		writeK8sDocument(&b, name, fields)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writeK8sDocument(b *strings.Builder, name string, fields []k8sField) {
	b.WriteString("apiVersion: v1\nkind: Secret\nmetadata:\n")
	fmt.Fprintf(b, "  name: %s\n", yamlString(name))
	b.WriteString("  labels:\n    app.kubernetes.io/managed-by: sesmtp\ntype: Opaque\nstringData:\n")
	for _, f := range fields {
		fmt.Fprintf(b, "  %s: %s\n", f.key, yamlString(f.value))
	}
}

// yamlString quotes s as a JSON string, which YAML reads as the same string.
func yamlString(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	return strings.TrimSuffix(b.String(), "\n")
}

// MaxK8sNameLen is the longest DNS subdomain name Kubernetes accepts.
const MaxK8sNameLen = 253

var k8sInvalid = regexp.MustCompile(`[^a-z0-9.-]`)

// K8sSecretName derives a Secret's metadata.name from an IAM user name: a
// DNS-1123 subdomain (lower-case letters, digits, '-' and '.', each
// dot-separated label starting and ending with a letter or digit, at most
// 253 characters), as Kubernetes requires of Secret names. IAM's other
// characters (_ + = , @) become '-'. A name changed by more than case (IAM
// names are unique regardless of case) gets "-" and six hex digits of the
// SHA-256 of the exact IAM name, so two users (app_mailer, app-mailer)
// never share one Secret that a later kubectl apply would overwrite.
func K8sSecretName(iamUser string) string {
	var labels []string
	for _, l := range strings.Split(k8sInvalid.ReplaceAllString(strings.ToLower(iamUser), "-"), ".") {
		if l = strings.Trim(l, "-"); l != "" {
			labels = append(labels, l)
		}
	}
	name := strings.Join(labels, ".")
	if name == "" {
		name = "ses-smtp-credentials"
	}
	if name == strings.ToLower(iamUser) && len(name) <= MaxK8sNameLen {
		return name
	}
	sum := sha256.Sum256([]byte(iamUser))
	suffix := "-" + hex.EncodeToString(sum[:3])
	if len(name) > MaxK8sNameLen-len(suffix) {
		name = strings.TrimRight(name[:MaxK8sNameLen-len(suffix)], ".-")
	}
	return name + suffix
}

// isK8sSecret reports whether text looks like a Secret manifest.
func isK8sSecret(text []byte) bool {
	return bytes.Contains(text, []byte("\nkind: Secret")) || bytes.HasPrefix(text, []byte("apiVersion:")) && bytes.Contains(text, []byte("kind: Secret"))
}

// readK8sSecret reads the stringData (or base64 data) of each Secret
// document. It reads what renderK8sSecret writes and what `kubectl get
// secret -o yaml` prints, not YAML in general; errors name the line and
// never quote a value.
func readK8sSecret(text []byte) ([]Entry, error) {
	var out []Entry
	doc, section, base64Data := map[string]string{}, "", false
	flush := func() {
		if len(doc) > 0 {
			out = append(out, k8sEntry(doc))
		}
		doc, section = map[string]string{}, ""
	}
	sc := bufio.NewScanner(bytes.NewReader(text))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimRight(sc.Text(), " \r")
		switch {
		case line == "---":
			flush()
		case line == "" || strings.HasPrefix(strings.TrimSpace(line), "#"):
		case !strings.HasPrefix(line, " "):
			section = strings.TrimSuffix(line, ":")
			base64Data = section == "data"
		case section == "stringData" || section == "data":
			k, v, err := k8sValue(line, base64Data)
			if err != nil {
				return nil, fmt.Errorf("credentials line %d: %w", n, err)
			}
			doc[k] = v
		}
	}
	flush()
	return out, sc.Err()
}

// k8sValue parses "  key: value" (double-quoted, single-quoted or bare).
func k8sValue(line string, base64Data bool) (string, string, error) {
	k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
	if !ok {
		return "", "", errors.New("not a KEY: VALUE line")
	}
	v = strings.TrimSpace(v)
	switch {
	case strings.HasPrefix(v, `"`):
		if err := json.Unmarshal([]byte(v), &v); err != nil {
			return "", "", errors.New("badly quoted value")
		}
	case strings.HasPrefix(v, "'"):
		if len(v) < 2 || !strings.HasSuffix(v, "'") {
			return "", "", errors.New("badly quoted value")
		}
		v = strings.ReplaceAll(v[1:len(v)-1], "''", "'")
	}
	if base64Data {
		raw, err := base64.StdEncoding.DecodeString(v)
		if err != nil {
			return "", "", errors.New("a data value is not base64")
		}
		v = string(raw)
	}
	return k, v, nil
}

func k8sEntry(doc map[string]string) Entry {
	port, _ := strconv.Atoi(doc["port"])
	return Entry{IAMUser: doc["iam_user"], Username: doc["username"], Password: Secret(doc["password"]),
		Region: doc["region"], Host: doc["host"], Port: port}
}
