package iamtest

import (
	"net/url"
	"regexp"
	"strconv"

	"github.com/sesmtp/sesmtp/provision/iamtest/iampolicy"
)

// XML shapes of SimulatePrincipalPolicy's result, as the SDK model names
// them (service/iam response snapshot SimulatePrincipalPolicy).
type evaluationResultXML struct {
	EvalActionName                    string                `xml:"EvalActionName"`
	EvalResourceName                  string                `xml:"EvalResourceName"`
	EvalDecision                      string                `xml:"EvalDecision"`
	MatchedStatements                 members[statementXML] `xml:"MatchedStatements"`
	MissingContextValues              members[string]       `xml:"MissingContextValues"`
	PermissionsBoundaryDecisionDetail *boundaryDetailXML    `xml:"PermissionsBoundaryDecisionDetail,omitempty"`
}

type statementXML struct {
	SourcePolicyID   string `xml:"SourcePolicyId"`
	SourcePolicyType string `xml:"SourcePolicyType"`
}

type boundaryDetailXML struct {
	AllowedByPermissionsBoundary bool `xml:"AllowedByPermissionsBoundary"`
}

type simulateResult struct {
	EvaluationResults members[evaluationResultXML] `xml:"EvaluationResults"`
	IsTruncated       bool                         `xml:"IsTruncated"`
	Marker            string                       `xml:"Marker,omitempty"`
}

var userARNPattern = regexp.MustCompile(`^arn:aws[a-z-]*:iam::[0-9]{12}:user/`)

// simulatePrincipalPolicy answers SimulatePrincipalPolicy for a user
// (SimulatePrincipalPolicy API reference): the user's live policies (inline,
// attached, its groups') and permissions boundary, plus PolicyInputList,
// with PermissionsBoundaryPolicyInputList replacing the boundary, are
// evaluated for every action in ActionNames on every resource in
// ResourceArns (default "*") with only the ContextEntries as the request
// context: the simulator fills in no keys, and reports the keys the
// applicable statements need but lack as MissingContextValues. This server
// answers one EvaluationResult per action and resource.
func simulatePrincipalPolicy(st *state, req *request) (any, *apiError) {
	src := req.form.Get("PolicySourceArn")
	if !userARNPattern.MatchString(src) {
		return nil, errInvalidInput("Invalid ARN: %s; iamtest simulates users only.", src)
	}
	var user *User
	for _, u := range st.users {
		if u.ARN == src {
			user = u
		}
	}
	if user == nil {
		return nil, errNoSuchEntity("The user with ARN %s cannot be found.", src)
	}
	actions := listMember(req.form, "ActionNames", "")
	if len(actions) == 0 {
		return nil, errValidation("1 validation error detected: Value null at 'actionNames' failed to satisfy constraint: Member must not be null")
	}
	p, aerr := simulatedPrincipal(st, user, req.form)
	if aerr != nil {
		return nil, aerr
	}
	all, aerr := simulate(p, actions, req.form)
	if aerr != nil {
		return nil, aerr
	}
	start, end, next, aerr := page(req.form, len(all))
	if aerr != nil {
		return nil, aerr
	}
	return simulateResult{EvaluationResults: members[evaluationResultXML]{Member: all[start:end]}, IsTruncated: next != "", Marker: next}, nil
}

// simulate evaluates every action on every resource of ResourceArns
// (default "*") with the ContextEntries.
func simulate(p iampolicy.Principal, actions []string, form url.Values) ([]evaluationResultXML, *apiError) {
	resources := listMember(form, "ResourceArns", "")
	if len(resources) == 0 {
		resources = []string{"*"}
	}
	ctx := contextEntries(form)
	var all []evaluationResultXML
	for _, a := range actions {
		for _, r := range resources {
			res, err := iampolicy.Evaluate(iampolicy.Request{Action: a, Resource: r, Context: ctx}, p)
			if err != nil {
				return nil, errEvaluation(err)
			}
			all = append(all, toEvaluationXML(a, r, res))
		}
	}
	return all, nil
}

// simulatedPrincipal is the user's live principal with the request's
// extra policies.
func simulatedPrincipal(st *state, u *User, form url.Values) (iampolicy.Principal, *apiError) {
	p, err := st.livePrincipal(u)
	if err != nil {
		return p, errEvaluation(err)
	}
	for i, doc := range listMember(form, "PolicyInputList", "") {
		d, err := iampolicy.Parse(doc)
		if err != nil {
			return p, errMalformedPolicy("PolicyInputList.%d: %v", i+1, err)
		}
		p.Identity = append(p.Identity, iampolicy.Policy{ID: "PolicyInputList." + strconv.Itoa(i+1), Type: iampolicy.SourceNone, Document: d})
	}
	if docs := listMember(form, "PermissionsBoundaryPolicyInputList", ""); len(docs) > 0 {
		d, err := iampolicy.Parse(docs[0])
		if err != nil {
			return p, errMalformedPolicy("PermissionsBoundaryPolicyInputList.1: %v", err)
		}
		p.Boundary = &iampolicy.Policy{ID: "PermissionsBoundaryPolicyInputList.1", Type: iampolicy.SourceNone, Document: d}
	}
	return p, nil
}

// contextEntries reads ContextEntries.member.N.{ContextKeyName,
// ContextKeyValues.member.M}; every type is compared as strings.
func contextEntries(form url.Values) iampolicy.Context {
	ctx := iampolicy.Context{}
	for i := 1; ; i++ {
		prefix := "ContextEntries.member." + strconv.Itoa(i)
		name := form.Get(prefix + ".ContextKeyName")
		if name == "" {
			return ctx
		}
		ctx.Set(name, listMember(form, prefix+".ContextKeyValues", "")...)
	}
}

func toEvaluationXML(action, resource string, res iampolicy.Result) evaluationResultXML {
	x := evaluationResultXML{EvalActionName: action, EvalResourceName: resource, EvalDecision: string(res.Decision),
		MissingContextValues: members[string]{Member: res.MissingKeys}}
	for _, m := range res.Matched {
		x.MatchedStatements.Member = append(x.MatchedStatements.Member, statementXML{m.PolicyID, m.PolicyType})
	}
	if res.HasBoundary {
		x.PermissionsBoundaryDecisionDetail = &boundaryDetailXML{res.BoundaryAllowed}
	}
	return x
}
