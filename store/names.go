package store

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// Secrets Manager's rules for secret names (Secrets Manager API reference,
// CreateSecret, Name): 1-512 characters, ASCII letters, digits and
// /_+=.@- only; and "do not end your secret name with a hyphen followed by
// six characters": Secrets Manager appends -XXXXXX (six random characters)
// to every secret's ARN, so such a name makes partial-ARN look-ups pick the
// wrong secret.
var (
	secretNamePattern = regexp.MustCompile(`^[A-Za-z0-9/_+=.@-]+$`)
	arnSuffixLike     = regexp.MustCompile(`-[A-Za-z0-9]{6}$`)
)

// MaxSecretNameLen is the longest secret name Secrets Manager accepts.
const MaxSecretNameLen = 512

// CheckSecretName reports whether name is a Secrets Manager secret name
// sesmtp may create.
func CheckSecretName(name string) error {
	switch {
	case name == "":
		return errors.New("the secret name is empty")
	case len(name) > MaxSecretNameLen:
		return fmt.Errorf("the secret name is %d characters; Secrets Manager allows at most %d", len(name), MaxSecretNameLen)
	case !secretNamePattern.MatchString(name):
		return errors.New("a Secrets Manager secret name may hold only ASCII letters, digits and / _ + = . @ - " +
			"(a secret ARN is not a name: give the name)")
	case arnSuffixLike.MatchString(name):
		return fmt.Errorf("the secret name ends in %q, a hyphen and six characters: Secrets Manager appends "+
			"-XXXXXX to every secret's ARN and documents that such names confuse look-ups by partial ARN; "+
			"end the name differently (e.g. %s/smtp)", name[len(name)-7:], name)
	}
	return nil
}

// SSM's rules for parameter names (Systems Manager API reference,
// PutParameter, Name): letters, digits and _ . - with / between the levels
// of a hierarchy, a hierarchical name starts with /, at most fifteen
// levels, no "aws" or "ssm" prefix (case-insensitive), and at most 1011
// characters counting the ARN prefix that precedes the name
// (arn:PARTITION:ssm:REGION:ACCOUNT:parameter/).
var parameterSegment = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

const (
	// MaxParameterLevels is SSM's limit on hierarchy depth.
	MaxParameterLevels = 15
	// MaxParameterNameLen is the longest parameter name sesmtp accepts:
	// SSM's 1011 characters less the longest ARN prefix in any partition
	// ("arn:aws-us-gov:ssm:ap-southeast-2:123456789012:parameter/", 57).
	MaxParameterNameLen = 1011 - 57
)

// CheckParameterName reports whether name is an SSM parameter name.
func CheckParameterName(name string) error {
	if name == "" {
		return errors.New("the parameter name is empty")
	}
	if len(name) > MaxParameterNameLen {
		return fmt.Errorf("the parameter name is %d characters; SSM allows about %d (1011 with the ARN prefix)", len(name), MaxParameterNameLen)
	}
	segments := strings.Split(name, "/")
	if strings.Contains(name, "/") {
		if segments[0] != "" {
			return errors.New("a parameter name in a hierarchy must start with / (e.g. /mail/smtp)")
		}
		segments = segments[1:]
	}
	if len(segments) > MaxParameterLevels {
		return fmt.Errorf("the parameter name has %d levels; SSM allows at most %d", len(segments), MaxParameterLevels)
	}
	for _, s := range segments {
		if !parameterSegment.MatchString(s) {
			return errors.New("SSM parameter names may hold only letters, digits and _ . - with / between levels " +
				"(no spaces, no empty level, no ARN)")
		}
	}
	if first := strings.ToLower(segments[0]); strings.HasPrefix(first, "aws") || strings.HasPrefix(first, "ssm") {
		return fmt.Errorf("SSM reserves parameter names that begin with \"aws\" or \"ssm\" (case-insensitive); %q does", segments[0])
	}
	return nil
}

// checkParameterPath checks a path for one parameter per field: it starts
// and ends with /, and every parameter under it is a valid name.
func checkParameterPath(path string) error {
	if !strings.HasPrefix(path, "/") || path == "/" {
		return errors.New("a parameter path must start and end with / and name at least one level (e.g. /mail/smtp/)")
	}
	for _, name := range (Target{Kind: SSMPath, Name: path}).ParameterNames(true) {
		if err := CheckParameterName(name); err != nil {
			return fmt.Errorf("parameter %s: %w", name, err)
		}
	}
	return nil
}

// tagValuePattern is the character set of Secrets Manager and SSM tag
// values (Secrets Manager API reference, Tag; Systems Manager API
// reference, Tag): letters, digits, spaces and _ . : / = + - @, up to 256.
var tagValuePattern = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]{0,256}$`)

// CheckIAMUser reports whether iamUser can name the owner of a stored
// secret: sesmtp tags the secret or parameter with it, and IAM user names
// may hold a comma, which tag values may not.
func CheckIAMUser(iamUser string) error {
	if iamUser == "" {
		return errors.New("no IAM user name to tag the stored credentials with")
	}
	if !tagValuePattern.MatchString(iamUser) {
		return fmt.Errorf("IAM user %q cannot be written to a store: sesmtp tags the secret with the user name, "+
			"and tag values may not hold a comma", iamUser)
	}
	return nil
}
