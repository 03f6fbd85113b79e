package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"

	"github.com/urfave/cli/v2"

	"github.com/sesmtp/sesmtp/awscfg"
	"github.com/sesmtp/sesmtp/exitcode"
	"github.com/sesmtp/sesmtp/policy"
	"github.com/sesmtp/sesmtp/provision"
)

// Where --path is read from when not given, besides the flag.
const (
	envPath           = "SESMTP_PATH"
	configPath        = "sesmtp_path"
	flagAllowAnyGroup = "allow-any-group"
)

// permissionsBoundaryFlag is --permissions-boundary of the commands that
// create users; usage says what it does there.
func permissionsBoundaryFlag(usage string) cli.Flag {
	return &cli.StringFlag{Name: flagPermissionsBoundary, EnvVars: []string{provision.EnvPermissionsBoundary},
		Usage: usage + " (sesmtp setup makes it; default: the profile's " + provision.ConfigPermissionsBoundary + " in ~/.aws/config)"}
}

// pathFlag is --path of the commands that create users.
func pathFlag() cli.Flag {
	return &cli.StringFlag{Name: flagPath, EnvVars: []string{envPath},
		Usage: "IAM path for new users, e.g. /smtp/ (default: the profile's " + configPath + "; else " + policy.DefaultUserPath +
			" when a permissions boundary is configured, as the bounded operator policy expects, and / without one)"}
}

func allowAnyGroupFlag() cli.Flag {
	return &cli.BoolFlag{Name: flagAllowAnyGroup,
		Usage: "let users join a --group whose policies allow more than SES sending (they get all of that; a warning says what)"}
}

// configuredBoundary returns the permissions boundary: --permissions-boundary
// or SESMTP_PERMISSIONS_BOUNDARY, else the profile's sesmtp_permissions_boundary,
// "" for none. A value that is not a policy ARN is bad input.
func configuredBoundary(c *cli.Context) (string, error) {
	b, err := flagOrProfile(c, flagPermissionsBoundary, provision.ConfigPermissionsBoundary)
	if err != nil || b == "" {
		return "", err
	}
	if err := provision.CheckPolicyARN("permissions boundary", b); err != nil {
		return "", exitcode.UsageError(fmt.Errorf("%w (from --%s, %s or the profile's %s)", err,
			flagPermissionsBoundary, provision.EnvPermissionsBoundary, provision.ConfigPermissionsBoundary))
	}
	return b, nil
}

// configuredPath returns the IAM path for new users: --path or
// SESMTP_PATH, else the profile's sesmtp_path, else policy.DefaultUserPath
// with a boundary (where the bounded operator policy lets users live) and
// "" (IAM's /) without.
func configuredPath(c *cli.Context, boundary string) (string, error) {
	p, err := flagOrProfile(c, flagPath, configPath)
	if err != nil {
		return "", err
	}
	if p == "" && boundary != "" {
		p = policy.DefaultUserPath
	}
	if p != "" {
		if err := provision.CheckPath(p); err != nil {
			return "", err
		}
	}
	if boundary != "" {
		// IAM would take the path, but no bounded operator policy can
		// name it (policy.BoundedOptions refuses it: its * ? $ would be
		// wildcards there), so users under it could never be managed
		// the bounded way; say so now rather than fail at CreateUser.
		if err := policy.CheckLiteralPath("--path (with a permissions boundary)", p); err != nil {
			return "", exitcode.UsageError(err)
		}
	}
	return p, nil
}

// flagOrProfile returns the flag's value (the flag or its environment
// variable) or else the profile's setting of key.
func flagOrProfile(c *cli.Context, flag, key string) (string, error) {
	if v := c.String(flag); v != "" {
		return v, nil
	}
	v, err := awscfg.ProfileSetting(c.String(flagProfile), key)
	if err != nil {
		return "", exitcode.UsageError(err)
	}
	return v, nil
}

// printGroupAccess says what access a user got through its group: for an
// existing group, the policies that actually apply to its members.
func printGroupAccess(w io.Writer, res provision.CreateResult) {
	switch {
	case res.GroupCreated:
		fmt.Fprintf(w, "  access:        member of group %s, created with the sending policy\n", res.Group)
	case len(res.GroupPolicies) == 0:
		fmt.Fprintf(w, "  access:        member of group %s, which holds no policy: the user cannot send until it does\n", res.Group)
	default:
		fmt.Fprintf(w, "  access:        member of group %s, whose policies apply to it:\n", res.Group)
		for _, p := range res.GroupPolicies {
			name := p.Name
			if p.ARN != "" {
				name = p.ARN
			}
			fmt.Fprintf(w, "                   %s %s: %s\n", p.Kind(), name, compactJSON(p.Document))
		}
	}
}

// compactJSON returns doc on one line, or as it is if it is not JSON.
func compactJSON(doc string) string {
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(doc)); err != nil {
		return doc
	}
	return b.String()
}
