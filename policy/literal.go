package policy

import (
	"fmt"
	"strings"
)

// policySpecialChars are the characters IAM accepts in a path (CreateUser
// and CreatePolicy API reference, Path: any of \u0021 to \u007F) that a
// policy does not read literally: * and ? are wildcards in a Resource ARN
// ("IAM JSON policy elements: Resource", using wildcards in resource ARNs)
// and $ starts a policy variable, ${aws:username} say, expanded in Resource
// and in condition values ("IAM policy elements: Variables and tags").
const policySpecialChars = "*?$"

// CheckLiteralPath reports whether path, an IAM path, means only itself
// when a policy names it: the bounded operator policy trusts every user
// under its path, so user/s*/* there would trust every user under /sales/
// (or /s3/...) as well. what names the flag the path came from.
func CheckLiteralPath(what, path string) error {
	i := strings.IndexAny(path, policySpecialChars)
	if i < 0 {
		return nil
	}
	return fmt.Errorf("%s %q holds %q: IAM accepts it in a path, but a policy naming the path (the bounded operator "+
		"policy's Resource and conditions) reads * and ? as wildcards and ${...} as a policy variable, so user%s* "+
		"would take in users under other paths too; choose a path without * ? or $, e.g. %s",
		what, path, path[i], path, DefaultUserPath)
}
