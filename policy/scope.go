package policy

import (
	"fmt"
	"slices"
	"strings"
)

// SendingActions are the actions a policy may allow and still only allow
// SES sending: what an SMTP user needs (ses:SendRawEmail) and its sibling.
var SendingActions = []string{"ses:SendRawEmail", "ses:SendEmail"}

// BeyondSending lists what the Allow statements of d grant beyond SES
// sending, one entry per action pattern, e.g. `"iam:*"` or `NotAction
// "ses:SendRawEmail" (everything else)`. Empty: d allows SES sending at
// most. It is conservative: a wildcard pattern counts as beyond sending
// even where it happens to match only sending actions, and Deny
// statements (which only take away) are ignored.
func (d Document) BeyondSending() []string {
	var found []string
	for _, st := range d.Statement {
		if st.Effect != "Allow" {
			continue
		}
		if len(st.NotAction) > 0 {
			found = append(found, fmt.Sprintf("NotAction %s (every other action)", strings.Join(st.NotAction, ",")))
			continue
		}
		for _, a := range st.Action {
			if !isSendingAction(a) && !slices.Contains(found, a) {
				found = append(found, a)
			}
		}
	}
	return found
}

func isSendingAction(a string) bool {
	return slices.ContainsFunc(SendingActions, func(s string) bool { return strings.EqualFold(s, a) })
}
