package provision

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/sesmtp/sesmtp/exitcode"
	"github.com/sesmtp/sesmtp/policy"
)

// checkBoundaryDocument refuses a permissions boundary whose default
// version allows more than SES sending. The bounded operator policy lets
// operators put any inline policy on the users they create, themselves
// included, because the boundary caps it ("Permissions boundaries for IAM
// entities": effective permissions are the intersection); a widened
// boundary turns those inline policies into real power. sesmtp refuses
// rather than warns: whoever changed it broke what the delegation rests
// on, and only an admin can put it back.
func checkBoundaryDocument(ctx context.Context, c GroupReader, arn string, p *iam.GetPolicyOutput) error {
	if p.Policy == nil || p.Policy.DefaultVersionId == nil {
		return fmt.Errorf("iam:GetPolicy %s: IAM's answer names no default version", arn)
	}
	version := aws.ToString(p.Policy.DefaultVersionId)
	v, err := c.GetPolicyVersion(ctx, &iam.GetPolicyVersionInput{PolicyArn: aws.String(arn), VersionId: aws.String(version)})
	if err != nil {
		return awsError("GetPolicyVersion", fmt.Sprintf("%s of %s", version, arn), err)
	}
	if v.PolicyVersion == nil || v.PolicyVersion.Document == nil {
		return fmt.Errorf("iam:GetPolicyVersion %s: IAM's answer holds no document", arn)
	}
	doc, err := decodePolicy(aws.ToString(v.PolicyVersion.Document))
	if err != nil {
		return err
	}
	var d policy.Document
	found := []string{"a document that cannot be read as a policy"}
	if json.Unmarshal([]byte(doc), &d) == nil {
		found = d.BeyondSending()
	}
	if len(found) == 0 {
		return nil
	}
	return &BoundaryTooWideError{ARN: arn, Version: version, Found: found}
}

// BoundaryTooWideError refuses to create or recreate users under a
// permissions boundary that allows more than SES sending.
type BoundaryTooWideError struct {
	ARN, Version string
	Found        []string
}

func (e *BoundaryTooWideError) Error() string {
	return fmt.Sprintf("the permissions boundary %s allows more than SES sending in its default version %s (%s); nothing was "+
		"changed. sesmtp's boundary must allow SES sending only: with a wider one, operators holding the bounded policy can "+
		"give the users they create, and so themselves (they hold those users' keys), all of that. Someone changed it: an admin puts SES sending only back "+
		"with 'sesmtp setup --update' (and CloudTrail's CreatePolicyVersion and SetDefaultPolicyVersion events say who changed it); "+
		"or name another boundary with --permissions-boundary",
		e.ARN, e.Version, strings.Join(e.Found, ", "))
}

// ExitCode implements exitcode.Coder: bad input, nothing changed.
func (e *BoundaryTooWideError) ExitCode() int { return exitcode.Usage }
