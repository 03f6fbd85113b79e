package iamtest

// maxGroupsPerUser is the quota "Groups an IAM user can be a member of: 10"
// (IAM User Guide, "IAM and AWS STS quotas"; GetAccountSummary calls it
// GroupsPerUserQuota). AddUserToGroup over it answers LimitExceeded.
const maxGroupsPerUser = 10

// checkPolicyChars applies the PolicyDocument parameter's pattern
// [\u0009\u000A\u000D\u0020-\u00FF]+ (IAM API reference, PutUserPolicy and
// PutGroupPolicy; the quotas page: "Policy documents can contain only the
// following Unicode characters: horizontal tab (U+0009), linefeed (U+000A),
// carriage return (U+000D), and characters in the range U+0020 to U+00FF").
// A value outside a parameter's pattern fails IAM's request validation
// with a ValidationError before the document is parsed, worded as AWS's
// validation layer words it ("Value at '...' failed to satisfy constraint",
// as reported for IAM's CreateRole Description in ministack issue 1411).
func checkPolicyChars(doc string) *apiError {
	for _, r := range doc {
		if r != '\t' && r != '\n' && r != '\r' && (r < 0x20 || r > 0xFF) {
			return errValidation(`1 validation error detected: Value at 'policyDocument' failed to satisfy constraint: Member must satisfy regular expression pattern: [\u0009\u000A\u000D\u0020-\u00FF]+`)
		}
	}
	return nil
}
