package iamtest

import "strings"

// authorize decides whether caller may perform action ("secretsmanager:CreateSecret",
// "ssm:PutParameter") on resource (an ARN). It is the hook the policy
// evaluator plugs into for the store actions; until it does, it applies the
// caller's allow-list: "service:Action", "service:*" or "*" (a bare action
// name means an IAM action and does not match). A refusal is the JSON
// services' AccessDeniedException, HTTP 400.
func (s *Server) authorize(caller Caller, action, resource string) *apiError {
	if caller.Allow == nil {
		return nil
	}
	service, _, _ := strings.Cut(action, ":")
	for _, a := range caller.Allow {
		if a == action || a == service+":*" || a == "*" {
			return nil
		}
	}
	return &apiError{Status: 400, Code: "AccessDeniedException",
		Message: "User: " + callerARN(s.account, caller) + " is not authorized to perform: " + action +
			" on resource: " + resource + " because no identity-based policy allows the " + action + " action"}
}
