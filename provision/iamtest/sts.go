package iamtest

import (
	"encoding/json"
	"encoding/xml"
	"net/http"
	"strings"
	"time"
)

// STSVersion is the STS API version AssumeRole answers to.
const STSVersion = "2011-06-15"

// stsNamespace is the XML namespace of STS responses.
const stsNamespace = "https://sts.amazonaws.com/doc/2011-06-15/"

// Role is an IAM role that callers may assume with sts:AssumeRole, so that
// tests can check cross-account set-ups: the server answers AssumeRole
// (signed for service "sts") with temporary credentials that it then
// accepts as a caller holding the role's policies. AssumeRole is
// authorized as AWS documents it (see authorizeAssumeRole).
type Role struct {
	// ARN is the role's ARN, e.g. arn:aws:iam::210987654321:role/mail-admin.
	ARN string
	// TrustPolicy is the role's trust policy (JSON). "" trusts the
	// server's account, {"Principal":{"AWS":"arn:aws:iam::ACCOUNT:root"}}:
	// its callers may assume the role if their own policies allow
	// sts:AssumeRole on it, as the console's "another AWS account" role
	// does.
	TrustPolicy string
	// ExternalID, if set, must be given by the caller: the trust policy
	// then also denies every principal unless sts:ExternalId equals it
	// ("How to use an external ID when granting access to your AWS
	// resources to a third party").
	ExternalID string
	// Allow is the assumed session's allow-list and Policies its policy
	// documents (JSON), as a Caller's; both nil: every action.
	Allow    []string
	Policies []string
}

// WithRole lets callers assume r.
func WithRole(r Role) Option {
	return func(s *Server) { s.roles = append(s.roles, r) }
}

// trustPolicies returns r's trust policy documents: its own or the
// default for account, and the external id's Deny.
func (r Role) trustPolicies(account string) []string {
	trust := r.TrustPolicy
	if trust == "" {
		trust = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + account +
			`:root"},"Action":"sts:AssumeRole"}]}`
	}
	docs := []string{trust}
	if r.ExternalID != "" {
		id, _ := json.Marshal(r.ExternalID)
		docs = append(docs, `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"sts:AssumeRole",`+
			`"Condition":{"StringNotEquals":{"sts:ExternalId":`+string(id)+`}}}]}`)
	}
	return docs
}

type assumeRoleResponse struct {
	XMLName xml.Name `xml:"AssumeRoleResponse"`
	Xmlns   string   `xml:"xmlns,attr"`
	Result  struct {
		AssumedRoleUser struct {
			AssumedRoleID string `xml:"AssumedRoleId"`
			Arn           string `xml:"Arn"`
		} `xml:"AssumedRoleUser"`
		Credentials struct {
			AccessKeyID     string `xml:"AccessKeyId"`
			SecretAccessKey string `xml:"SecretAccessKey"`
			SessionToken    string `xml:"SessionToken"`
			Expiration      string `xml:"Expiration"`
		} `xml:"Credentials"`
	} `xml:"AssumeRoleResult"`
	Metadata responseMetadata `xml:"ResponseMetadata"`
}

// assumeRole answers sts:AssumeRole and registers the session's
// credentials as a caller.
func (s *Server) assumeRole(w http.ResponseWriter, req *request) {
	call := Call{Action: "AssumeRole", Caller: req.caller.UserName}
	fail := func(e *apiError) {
		call.Outcome = e.Code
		s.record(call)
		writeError(w, req.id, e)
	}
	arn, session := req.form.Get("RoleArn"), req.form.Get("RoleSessionName")
	if req.form.Get("Version") != STSVersion || arn == "" || session == "" {
		fail(errValidation("AssumeRole needs Version %s, RoleArn and RoleSessionName.", STSVersion))
		return
	}
	var role *Role
	for i := range s.roles {
		if s.roles[i].ARN == arn {
			role = &s.roles[i]
		}
	}
	if aerr := s.authorizeAssumeRole(req, role, arn); aerr != nil {
		fail(aerr)
		return
	}
	name := arn[strings.LastIndex(arn, "/")+1:]
	temp := Caller{AccessKeyID: "ASIA" + randomString(upperAlnum, 16), SecretAccessKey: newSecret(),
		UserName: "assumed-role/" + name + "/" + session, Allow: role.Allow, Policies: role.Policies}
	s.SetCaller(temp)
	var resp assumeRoleResponse
	resp.Xmlns = stsNamespace
	resp.Result.AssumedRoleUser.AssumedRoleID = "AROA" + randomString(upperAlnum, 17) + ":" + session
	resp.Result.AssumedRoleUser.Arn = strings.Replace(strings.Replace(arn, ":iam::", ":sts::", 1), ":role/", ":assumed-role/", 1) + "/" + session
	resp.Result.Credentials.AccessKeyID = temp.AccessKeyID
	resp.Result.Credentials.SecretAccessKey = temp.SecretAccessKey
	resp.Result.Credentials.SessionToken = randomString(secretSet, 64)
	resp.Result.Credentials.Expiration = isoTime(time.Now().Add(time.Hour))
	resp.Metadata.RequestID = req.id
	body, _ := xml.Marshal(resp)
	call.Outcome = "ok"
	s.record(call)
	w.Header().Set("Content-Type", "text/xml")
	_, _ = w.Write(append([]byte(xml.Header), body...))
}
