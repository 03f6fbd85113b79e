package provision

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/sesmtp/sesmtp/policy"
)

// sendingActions are the actions a policy may allow and still be an SES
// sending policy.
var sendingActions = []string{"ses:SendRawEmail", "ses:SendEmail"}

// Inspection is what a user holds, as delete and rotate see it.
type Inspection struct {
	User types.User
	// ManagedBySesmtp: the user carries TagManagedBy.
	ManagedBySesmtp bool
	// InlinePolicies maps each inline policy's name to its JSON document.
	InlinePolicies map[string]string
	// SendingGroups and OtherGroups split the user's groups by whether
	// they grant SES sending and nothing more (isSendingGroup).
	SendingGroups, OtherGroups []string
	AttachedPolicies           []string
	AccessKeys                 []types.AccessKeyMetadata
	LoginProfile               bool
	// Others counts signing certificates, SSH keys, service-specific
	// credentials and MFA devices.
	Others []string
}

// Inspect reads everything IAM holds for user. A user that does not exist
// gives an error for which isNoSuchEntity holds.
func Inspect(ctx context.Context, c IAMAPI, user string) (Inspection, error) {
	return inspect(ctx, c, user, nil)
}

// inspect is Inspect, skipping (with sk) the listings of extras the
// endpoint does not implement.
func inspect(ctx context.Context, c IAMAPI, user string, sk *skips) (Inspection, error) {
	var in Inspection
	u, err := getUser(ctx, c, user)
	if err != nil {
		return in, err
	}
	in.User = *u
	in.ManagedBySesmtp = tagValue(u.Tags, TagManagedBy) == ManagedByValue
	name := aws.String(user)
	for _, step := range []func() error{
		func() (err error) { in.InlinePolicies, err = userPolicies(ctx, c, user); return err },
		func() error { return in.readGroups(ctx, c, user) },
		func() error {
			out, err := c.ListAttachedUserPolicies(ctx, &iam.ListAttachedUserPoliciesInput{UserName: name})
			if sk.skip("ListAttachedUserPolicies", err) {
				return nil
			}
			if err != nil {
				return awsError("ListAttachedUserPolicies", fmt.Sprintf("of %q", user), err)
			}
			for _, p := range out.AttachedPolicies {
				in.AttachedPolicies = append(in.AttachedPolicies, aws.ToString(p.PolicyArn))
			}
			return nil
		},
		func() (err error) { in.AccessKeys, err = listKeys(ctx, c, user); return err },
		func() error {
			_, err := c.GetLoginProfile(ctx, &iam.GetLoginProfileInput{UserName: name})
			in.LoginProfile = err == nil
			if isNoSuchEntity(err) || sk.skip("GetLoginProfile", err) {
				return nil
			}
			return awsError("GetLoginProfile", fmt.Sprintf("of %q", user), err)
		},
		func() error { return in.readOthers(ctx, c, user, sk) },
	} {
		if err := step(); err != nil {
			return in, err
		}
	}
	return in, nil
}

// userPolicies returns the user's inline policies by name, decoded.
func userPolicies(ctx context.Context, c IAMAPI, user string) (map[string]string, error) {
	names, err := c.ListUserPolicies(ctx, &iam.ListUserPoliciesInput{UserName: aws.String(user)})
	if err != nil {
		return nil, awsError("ListUserPolicies", fmt.Sprintf("of %q", user), err)
	}
	docs := map[string]string{}
	for _, n := range names.PolicyNames {
		p, err := c.GetUserPolicy(ctx, &iam.GetUserPolicyInput{UserName: aws.String(user), PolicyName: aws.String(n)})
		if err != nil {
			return nil, awsError("GetUserPolicy", fmt.Sprintf("%q of %q", n, user), err)
		}
		if docs[n], err = decodePolicy(aws.ToString(p.PolicyDocument)); err != nil {
			return nil, err
		}
	}
	return docs, nil
}

// decodePolicy undoes the URL encoding IAM applies to policy documents.
func decodePolicy(doc string) (string, error) {
	decoded, err := url.PathUnescape(doc)
	if err != nil {
		return "", fmt.Errorf("decode policy document: %w", err)
	}
	return decoded, nil
}

func (in *Inspection) readGroups(ctx context.Context, c IAMAPI, user string) error {
	out, err := c.ListGroupsForUser(ctx, &iam.ListGroupsForUserInput{UserName: aws.String(user)})
	if err != nil {
		return awsError("ListGroupsForUser", fmt.Sprintf("of %q", user), err)
	}
	for _, g := range out.Groups {
		name := aws.ToString(g.GroupName)
		sending, err := isSendingGroup(ctx, c, name)
		if err != nil {
			return err
		}
		if sending {
			in.SendingGroups = append(in.SendingGroups, name)
		} else {
			in.OtherGroups = append(in.OtherGroups, name)
		}
	}
	return nil
}

// isSendingGroup reports whether group grants SES sending and nothing
// more, by the test create --group applies (GroupInfo.BeyondSending): its
// inline policies and the default versions of its attached managed
// policies allow nothing beyond SES sending, and one of them allows
// sending. A group holding the SES inline policy with AdministratorAccess
// attached is not one: its members are admins, and rotate and delete
// must not take them for SMTP users.
func isSendingGroup(ctx context.Context, c GroupReader, group string) (bool, error) {
	policies, err := groupPolicies(ctx, c, group)
	if err != nil {
		return false, err
	}
	info := GroupInfo{Name: group, Exists: true, Policies: policies}
	return len(info.BeyondSending()) == 0 && slices.ContainsFunc(policies, func(p GroupPolicy) bool { return allowsSending(p.Document) }), nil
}

// allowsSending reports whether doc has an Allow statement naming an SES
// sending action.
func allowsSending(doc string) bool {
	var d policy.Document
	if err := json.Unmarshal([]byte(doc), &d); err != nil {
		return false
	}
	return slices.ContainsFunc(d.Statement, func(st policy.Statement) bool {
		return st.Effect == "Allow" && slices.ContainsFunc(st.Action, func(a string) bool {
			return slices.ContainsFunc(sendingActions, func(s string) bool { return strings.EqualFold(s, a) })
		})
	})
}

func (in *Inspection) readOthers(ctx context.Context, c IAMAPI, user string, sk *skips) error {
	name := aws.String(user)
	for _, x := range []struct {
		action, what string
		count        func() (int, error)
	}{
		{"ListSigningCertificates", "signing certificate", func() (int, error) {
			out, err := c.ListSigningCertificates(ctx, &iam.ListSigningCertificatesInput{UserName: name})
			return countOf(out, err, func(o *iam.ListSigningCertificatesOutput) int { return len(o.Certificates) })
		}},
		{"ListSSHPublicKeys", "SSH public key", func() (int, error) {
			out, err := c.ListSSHPublicKeys(ctx, &iam.ListSSHPublicKeysInput{UserName: name})
			return countOf(out, err, func(o *iam.ListSSHPublicKeysOutput) int { return len(o.SSHPublicKeys) })
		}},
		{"ListServiceSpecificCredentials", "service-specific credential", func() (int, error) {
			out, err := c.ListServiceSpecificCredentials(ctx, &iam.ListServiceSpecificCredentialsInput{UserName: name})
			return countOf(out, err, func(o *iam.ListServiceSpecificCredentialsOutput) int { return len(o.ServiceSpecificCredentials) })
		}},
		{"ListMFADevices", "MFA device", func() (int, error) {
			out, err := c.ListMFADevices(ctx, &iam.ListMFADevicesInput{UserName: name})
			return countOf(out, err, func(o *iam.ListMFADevicesOutput) int { return len(o.MFADevices) })
		}},
	} {
		n, err := x.count()
		if sk.skip(x.action, err) {
			continue
		}
		if err != nil {
			return awsError(x.action, fmt.Sprintf("of %q", user), err)
		}
		if n > 0 {
			in.Others = append(in.Others, fmt.Sprintf("%d %s(s)", n, x.what))
		}
	}
	return nil
}

// countOf counts a listing's items, or passes its error on.
func countOf[T any](out *T, err error, n func(*T) int) (int, error) {
	if err != nil || out == nil {
		return 0, err
	}
	return n(out), nil
}

// IsSendingPolicy reports whether doc only allows SES sending actions.
func IsSendingPolicy(doc string) bool {
	var d policy.Document
	if err := json.Unmarshal([]byte(doc), &d); err != nil || len(d.Statement) == 0 {
		return false
	}
	for _, st := range d.Statement {
		if st.Effect != "Allow" || len(st.Action) == 0 {
			return false
		}
		for _, a := range st.Action {
			if !slices.ContainsFunc(sendingActions, func(s string) bool { return strings.EqualFold(s, a) }) {
				return false
			}
		}
	}
	return true
}

// NotSMTP lists what makes the user more than an SMTP user: anything
// besides SES sending policies, SES sending groups and access keys; and
// access keys on a user nothing marks as an SMTP user. Empty: it is safe
// to delete as an SMTP user.
func (in Inspection) NotSMTP() []string {
	var found []string
	recognised := in.ManagedBySesmtp || len(in.SendingGroups) > 0
	for name, doc := range in.InlinePolicies {
		if IsSendingPolicy(doc) {
			recognised = true
		} else {
			found = append(found, fmt.Sprintf("inline policy %q (not an SES sending policy)", name))
		}
	}
	slices.Sort(found)
	for _, g := range in.OtherGroups {
		found = append(found, fmt.Sprintf("membership of group %q (not an SES sending group)", g))
	}
	for _, arn := range in.AttachedPolicies {
		found = append(found, "managed policy "+arn)
	}
	if in.LoginProfile {
		found = append(found, "a console password (login profile)")
	}
	found = append(found, in.Others...)
	if len(in.AccessKeys) > 0 && !recognised {
		found = append(found, fmt.Sprintf("%d access key(s) on a user with no SES sending policy, group or sesmtp tag", len(in.AccessKeys)))
	}
	return found
}
