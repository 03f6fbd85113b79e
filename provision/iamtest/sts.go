package iamtest

import (
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
// accepts as a caller with the role's allow-list.
type Role struct {
	// ARN is the role's ARN, e.g. arn:aws:iam::210987654321:role/mail-admin.
	ARN string
	// ExternalID, if set, must be given by the caller.
	ExternalID string
	// Allow is the assumed session's allow-list (nil: every action).
	Allow []string
}

// WithRole lets callers assume r.
func WithRole(r Role) Option {
	return func(s *Server) { s.roles = append(s.roles, r) }
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
	if role == nil || role.ExternalID != "" && role.ExternalID != req.form.Get("ExternalId") {
		fail(&apiError{Status: 403, Type: "Sender", Code: "AccessDenied",
			Message: "User: arn:aws:iam::" + s.account + ":user/" + req.caller.UserName +
				" is not authorized to perform: sts:AssumeRole on resource: " + arn})
		return
	}
	name := arn[strings.LastIndex(arn, "/")+1:]
	temp := Caller{AccessKeyID: "ASIA" + randomString(upperAlnum, 16), SecretAccessKey: newSecret(),
		UserName: "assumed-role/" + name + "/" + session, Allow: role.Allow}
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
