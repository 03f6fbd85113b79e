package iampolicy

import (
	"encoding/json"
	"regexp"
)

// TrustPolicy is a parsed role trust policy: a resource-based policy whose
// statements name the principals that may assume the role ("IAM roles":
// trust policy; "AWS JSON policy elements: Principal").
type TrustPolicy struct {
	Version    string
	Statements []TrustStatement
}

// TrustStatement is a statement of a trust policy with its principals.
type TrustStatement struct {
	Statement
	// AWS holds the Principal's "AWS" values: account ids, account root
	// ARNs, user, role and role session ARNs, or "*".
	AWS []string
}

type rawPrincipal struct {
	AWS json.RawMessage `json:"AWS"`
}

// ParseTrust parses a role trust policy: each statement names a Principal
// ("*" or an object; only its AWS key can match an IAM caller: Service and
// Federated name services and identity providers) and needs no Resource,
// the role being the resource. NotPrincipal is not supported: an error, so
// that no test passes on a guess.
func ParseTrust(doc string) (*TrustPolicy, error) {
	var raw rawDocument
	if err := json.Unmarshal([]byte(doc), &raw); err != nil {
		return nil, malformed("Syntax errors in policy.")
	}
	rawStmts, err := statementList(raw.Statement)
	if err != nil {
		return nil, err
	}
	tp := &TrustPolicy{Version: raw.Version}
	for _, rs := range rawStmts {
		ts, err := parseTrustStatement(rs)
		if err != nil {
			return nil, err
		}
		tp.Statements = append(tp.Statements, ts)
	}
	return tp, nil
}

func parseTrustStatement(rs rawStatement) (TrustStatement, error) {
	var ts TrustStatement
	if len(rs.NotPrincipal) > 0 {
		return ts, malformed("iamtest does not evaluate NotPrincipal in a trust policy")
	}
	if len(rs.Principal) == 0 {
		return ts, malformed("Missing required field Principal")
	}
	var err error
	if ts.AWS, err = principalAWS(rs.Principal); err != nil {
		return ts, err
	}
	rs.Principal = nil
	if len(rs.Resource) == 0 && len(rs.NotResource) == 0 {
		rs.Resource = json.RawMessage(`"*"`) // the role itself
	}
	ts.Statement, err = parseStatement(rs)
	return ts, err
}

// principalAWS reads the AWS principals of a Principal element: "*" alone
// means every principal; otherwise an object whose AWS key holds a value or
// a list.
func principalAWS(raw json.RawMessage) ([]string, error) {
	var star string
	if json.Unmarshal(raw, &star) == nil {
		if star != "*" {
			return nil, malformed("Invalid principal in policy: %s", star)
		}
		return []string{"*"}, nil
	}
	var p rawPrincipal
	if err := json.Unmarshal(raw, &p); err != nil {
		return nil, malformed("Invalid principal in policy")
	}
	if len(p.AWS) == 0 {
		return nil, nil
	}
	vals, err := stringOrList(p.AWS)
	if err != nil {
		return nil, malformed("Invalid principal in policy")
	}
	return vals, nil
}

// Trust is how a trust policy answers a caller.
type Trust string

// The answers of EvaluateTrust, after "Policy evaluation logic" (the
// resource-based policy step) and "AWS JSON policy elements: Principal".
const (
	// NotTrusted: no statement allows the caller.
	NotTrusted Trust = "not trusted"
	// TrustDenied: a Deny statement applies to the caller.
	TrustDenied Trust = "denied"
	// TrustDelegated: an Allow names the caller's account, the role whose
	// session the caller is, or every principal ("*"): the caller's own
	// identity policies, within its boundary, must allow the call too.
	TrustDelegated Trust = "delegated"
	// TrustDirect: an Allow names the caller itself, an IAM user ARN or a
	// role session ARN: within one account, an implicit deny in its
	// identity policies or boundary does not limit that.
	TrustDirect Trust = "direct"
)

// TrustCaller identifies who asks to assume a role.
type TrustCaller struct {
	// ARN is the caller's ARN: arn:aws:iam::ACCOUNT:user/PATH/NAME or a
	// role session's arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION.
	ARN string
	// Account is the caller's account id.
	Account string
	// RoleARN is, for a role session, the role's ARN.
	RoleARN string
}

// accountRoot matches an account principal: "123456789012" or
// arn:PARTITION:iam::123456789012:root.
var accountRoot = regexp.MustCompile(`^(?:([0-9]{12})|arn:[a-z-]+:iam::([0-9]{12}):root)$`)

// principalMatch says how one AWS principal value names c ("" if not).
// Principal values are compared exactly: IAM allows no wildcard in them
// but "*" alone ("AWS JSON policy elements: Principal").
func principalMatch(v string, c TrustCaller) Trust {
	switch {
	case v == c.ARN:
		return TrustDirect
	case v == "*", c.RoleARN != "" && v == c.RoleARN:
		// "*" does not name the caller; iamtest takes the stricter
		// reading and asks the identity policies too.
		return TrustDelegated
	}
	if m := accountRoot.FindStringSubmatch(v); m != nil && m[1]+m[2] == c.Account {
		return TrustDelegated
	}
	return ""
}

// EvaluateTrust evaluates trust policies for req (Action "sts:AssumeRole",
// Resource the role's ARN, Context with sts:ExternalId when given and the
// global keys) asked by c: an explicit Deny naming the caller wins, else
// the strongest Allow naming it.
func EvaluateTrust(req Request, c TrustCaller, policies ...*TrustPolicy) (Trust, error) {
	best := NotTrusted
	for _, tp := range policies {
		vars := tp.Version == "2012-10-17"
		for _, st := range tp.Statements {
			named := Trust("")
			for _, v := range st.AWS {
				if m := principalMatch(v, c); m == TrustDirect || named == "" {
					named = m
				}
			}
			if named == "" || !st.appliesTo(req, vars) {
				continue
			}
			ok, err := st.conditionsHold(req.Context, vars)
			if err != nil {
				return NotTrusted, err
			}
			switch {
			case !ok:
			case st.Effect == Deny:
				return TrustDenied, nil
			case named == TrustDirect || best == NotTrusted:
				best = named
			}
		}
	}
	return best, nil
}
