package provision

import (
	"fmt"
	"slices"
	"strings"

	"github.com/sesmtp/sesmtp/exitcode"
)

// SendDeniedError reports that IAM denies the user ses:SendRawEmail: SES
// accepts SMTP AUTH from it and answers 554 Access denied when it sends.
type SendDeniedError struct {
	Result PermissionResult
	// Hint, if set, says what to do (it depends on the command).
	Hint string
}

func (e *SendDeniedError) Error() string {
	r := e.Result
	var b strings.Builder
	fmt.Fprintf(&b, "IAM user %s (%s) may not send mail: %s%s is ", r.UserName, r.UserARN, r.Action, r.fromNote())
	denied := r.denied()
	if len(denied) == 1 {
		fmt.Fprintf(&b, "denied %s: %s.", resourceNote(denied[0].Resource), explainDeny(denied[0]))
	} else {
		b.WriteString("denied:")
		for _, d := range denied {
			fmt.Fprintf(&b, "\n  - %s: %s", resourceNote(d.Resource), explainDeny(d))
		}
	}
	b.WriteString("\nSES accepts SMTP AUTH from such a user and answers 554 Access denied when it sends mail.")
	if e.Hint != "" {
		b.WriteString(" " + e.Hint)
	}
	return b.String()
}

// ExitCode implements exitcode.Coder: the credentials will be rejected
// when they are used, as surely as a 535 rejects them now.
func (e *SendDeniedError) ExitCode() int { return exitcode.Rejected }

// Err returns a *SendDeniedError when IAM denies sending, else nil (an
// undetermined verdict is not an error: it depends on the mail).
func (r PermissionResult) Err() error {
	if r.Verdict != VerdictDenied {
		return nil
	}
	return &SendDeniedError{Result: r}
}

// Describe says in one line what IAM answered, for a verdict that is not
// denied (SendDeniedError explains those).
func (r PermissionResult) Describe() string {
	who := fmt.Sprintf("IAM user %s (%s)", r.UserName, r.UserARN)
	switch r.Verdict {
	case VerdictAllowed:
		s := fmt.Sprintf("%s may send: %s%s is allowed %s by %s", who, r.Action, r.fromNote(), resourceNote(r.Resources[0].Resource),
			deciders(r.Resources[0].Matched))
		if b := r.Resources[0].BoundaryAllows; b != nil && *b {
			s += ", within its permissions boundary"
		}
		if len(r.MissingContext) > 0 {
			s += fmt.Sprintf(" (the policies also test %s, which the check did not supply: some mail may still be denied)",
				strings.Join(r.MissingContext, ", "))
		}
		return s
	case VerdictUndetermined:
		return fmt.Sprintf("%s may send %s only for some values of %s, which the check did not supply (%s): IAM's answer depends on the mail",
			who, r.Action, strings.Join(r.MissingContext, ", "), r.contextNote())
	}
	return (&SendDeniedError{Result: r}).Error()
}

// denied returns the resources IAM denied.
func (r PermissionResult) denied() []ResourceDecision {
	var out []ResourceDecision
	for _, d := range r.Resources {
		if d.Decision != DecisionAllowed {
			out = append(out, d)
		}
	}
	return out
}

func (r PermissionResult) fromNote() string {
	if r.FromAddress == "" {
		return ""
	}
	return " From " + r.FromAddress
}

func (r PermissionResult) contextNote() string {
	if r.FromAddress == "" {
		return "no From address was given"
	}
	return "the From address was " + r.FromAddress
}

// resourceNote names a simulated resource: "*" is any identity.
func resourceNote(resource string) string {
	if resource == "*" || resource == "" {
		return "on any identity (*)"
	}
	return "through " + resource
}

// explainDeny says why one resource was denied, naming the deciding
// policy, the permissions boundary and the SCPs where they decided.
func explainDeny(d ResourceDecision) string {
	var why []string
	switch {
	case d.Decision == DecisionExplicitDeny:
		why = append(why, "an explicit deny, by "+deciders(d.Matched))
	case len(d.Matched) > 0:
		why = append(why, "an implicit deny, although "+deciders(d.Matched)+" allows it")
	default:
		why = append(why, "an implicit deny: no policy of the user or its groups allows it")
	}
	if d.BoundaryAllows != nil && !*d.BoundaryAllows {
		why = append(why, "its permissions boundary does not allow it (an action must be allowed by the user's policies and by its boundary)")
	}
	if d.OrganizationsAllow != nil && !*d.OrganizationsAllow {
		why = append(why, "an AWS Organizations service control policy does not allow it")
	}
	if len(d.MissingContext) > 0 {
		why = append(why, "the policies also test "+strings.Join(d.MissingContext, ", ")+", which the check did not supply")
	}
	return strings.Join(why, "; ")
}

// policyTypeNames spells SourcePolicyType (IAM API Reference, Statement)
// for people.
var policyTypeNames = map[string]string{
	"user": "inline user policy", "group": "group policy", "role": "role policy",
	"aws-managed": "AWS managed policy", "user-managed": "managed policy", "resource": "resource-based policy", "none": "policy",
}

// deciders names the matched statements' policies.
func deciders(ms []MatchedStatement) string {
	if len(ms) == 0 {
		return "a policy IAM did not name"
	}
	var names []string
	for _, m := range ms {
		kind := policyTypeNames[m.PolicyType]
		if kind == "" {
			kind = m.PolicyType + " policy"
		}
		n := kind + " " + m.PolicyID
		if m.Line > 0 {
			n += fmt.Sprintf(" (statement at line %d)", m.Line)
		}
		if !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	return strings.Join(names, " and ")
}
