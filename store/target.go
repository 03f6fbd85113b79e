// Package store holds delivery of credentials to Secrets Manager or SSM Parameter Store.
//
// It delivers SES SMTP credentials to AWS Secrets Manager or to
// SSM Parameter Store (SecureString), and takes them back: Deliver writes,
// Retract undoes exactly what Deliver did, Holds tells a recovery whether a
// store holds a given access key, Delete removes what sesmtp stored.
//
// A store target is parsed from a --store spec (ParseTarget), checked
// against the service's documented name rules before anything changes,
// and bound to an SDK client with New. The writers call the SDK through
// small interfaces (SecretsManagerAPI, SSMAPI) holding only the methods
// they use.
package store

import (
	"errors"
	"fmt"
	"strings"

	"github.com/sesmtp/sesmtp/exitcode"
)

// Kind is the kind of place a target writes to.
type Kind int

// The kinds of store target.
const (
	// SecretsManager is one Secrets Manager secret holding the JSON payload.
	SecretsManager Kind = iota + 1
	// SSMParameter is one SSM SecureString parameter holding the JSON payload.
	SSMParameter
	// SSMPath is one SSM SecureString parameter per field under a path
	// (username, password, host, port; secret_access_key when asked).
	SSMPath
)

func (k Kind) String() string {
	switch k {
	case SecretsManager:
		return "secretsmanager"
	case SSMParameter:
		return "ssm parameter"
	case SSMPath:
		return "ssm path"
	}
	return "unknown"
}

// Target is where a store delivery goes.
type Target struct {
	Kind Kind
	// Name is the secret name (SecretsManager), the parameter name
	// (SSMParameter) or the path ending in "/" (SSMPath).
	Name string
}

// String returns the spec the target was parsed from.
func (t Target) String() string {
	if t.Kind == SecretsManager {
		return "secretsmanager:" + t.Name
	}
	return "ssm:" + t.Name
}

// Service is the AWS service the target lives in: "secretsmanager" or "ssm".
func (t Target) Service() string {
	if t.Kind == SecretsManager {
		return "secretsmanager"
	}
	return "ssm"
}

// specHelp is the grammar every spec error repeats.
const specHelp = "use secretsmanager:NAME, ssm:/PATH/NAME (one SecureString holding JSON) " +
	"or ssm:/PATH/ (one SecureString per field under the path)"

// ParseTarget parses a --store spec: secretsmanager:NAME, ssm:/path/name
// or ssm:/path/ (trailing slash). The name is checked against the service's
// rules; every error is a usage error (exit 2).
func ParseTarget(spec string) (Target, error) {
	scheme, name, ok := strings.Cut(spec, ":")
	if !ok || name == "" {
		return Target{}, usagef("--store %q is not a store spec; %s", spec, specHelp)
	}
	var t Target
	switch strings.ToLower(scheme) {
	case "secretsmanager":
		t = Target{Kind: SecretsManager, Name: name}
	case "ssm":
		t = Target{Kind: SSMParameter, Name: name}
		if strings.HasSuffix(name, "/") {
			t.Kind = SSMPath
		}
	default:
		return Target{}, usagef("--store %q: unknown store %q; %s", spec, scheme, specHelp)
	}
	if err := t.check(); err != nil {
		return Target{}, exitcode.UsageError(fmt.Errorf("--store %q: %w", spec, err))
	}
	return t, nil
}

// check applies the service's name rules to the target.
func (t Target) check() error {
	switch t.Kind {
	case SecretsManager:
		return CheckSecretName(t.Name)
	case SSMParameter:
		return CheckParameterName(t.Name)
	case SSMPath:
		return checkParameterPath(t.Name)
	}
	return errors.New("unknown store kind")
}

// ParameterNames returns the SSM parameter names the target writes for a
// payload (with the secret_access_key parameter when withSecretKey), in
// the order Deliver writes them; nil for a Secrets Manager target.
func (t Target) ParameterNames(withSecretKey bool) []string {
	switch t.Kind {
	case SSMParameter:
		return []string{t.Name}
	case SSMPath:
		var names []string
		for _, f := range pathFields(withSecretKey) {
			names = append(names, t.Name+f)
		}
		return names
	}
	return nil
}

func usagef(format string, args ...any) error {
	return exitcode.UsageError(fmt.Errorf(format, args...))
}
