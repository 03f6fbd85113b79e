package batch

import (
	"context"
	"strings"

	"github.com/sesmtp/sesmtp/provision"
)

// preflight checks, once for the whole batch and before anything
// changes, that the permissions boundary exists and that every group the
// senders name allows SES sending only (or, with a boundary configured,
// exists): a problem there is bad input for every sender alike.
func preflight(ctx context.Context, c provision.IAMAPI, opts Options, inputs []provision.CreateInput) error {
	if err := provision.CheckBoundary(ctx, c, opts.PermissionsBoundary); err != nil {
		return err
	}
	var groups []string
	seen := map[string]bool{}
	for _, in := range inputs {
		if g := strings.ToLower(in.Group); g != "" && !seen[g] {
			seen[g] = true
			groups = append(groups, in.Group)
		}
	}
	return provision.CheckGroups(ctx, c, groups, provision.GroupCheck{AllowAny: opts.AllowAnyGroup,
		Bounded: opts.PermissionsBoundary != "", Warn: opts.Warn})
}
