package provision

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
)

// purgeScope says how much a purger removes before DeleteUser.
type purgeScope int

const (
	// purgeOwn removes what sesmtp gives a user: keys, inline policies,
	// group memberships. It is what rollback needs.
	purgeOwn purgeScope = iota
	// purgeAll also removes everything else IAM requires gone first:
	// managed policies, login profile, signing certificates, SSH keys,
	// service-specific credentials and MFA devices.
	purgeAll
)

// purger deletes one user and what IAM requires deleted first, recording
// each removal. Every step tolerates NoSuchEntity, so a second run after a
// partial failure finishes the job.
type purger struct {
	c     IAMAPI
	user  string
	done  []string
	gone  bool   // the user no longer exists
	skips *skips // listings the endpoint lacks (nil: none are skipped)
	// owns, if set, must own every key, inline policy and group
	// membership the purger finds before it deletes any of a listing's: a
	// recovery removes a dead run's user only while it holds nothing else.
	owns ownership
	// sent says a call that changes IAM was sent.
	sent bool
}

// ForeignError stops a recovery's purge that found, on the dead run's
// user, something that run did not make (it appeared after the recovery
// looked): the user is not removed.
type ForeignError struct {
	UserName string
	Thing    string
}

func (e *ForeignError) Error() string {
	return fmt.Sprintf("IAM user %q now holds %s, which the earlier run did not make: sesmtp stopped removing the user", e.UserName, e.Thing)
}

// guard fails if owns does not own thing.
func (p *purger) guard(thing string, created time.Time) error {
	if p.owns == nil || p.owns(thing, created) {
		return nil
	}
	return &ForeignError{UserName: p.user, Thing: thing}
}

// purgePasses bounds how often purge starts over when DeleteUser finds
// something new on the user: a call whose answer was lost (Ctrl-C, a
// dropped connection) can still land after the rollback listed the user.
const purgePasses = 5

func (p *purger) purge(ctx context.Context, scope purgeScope) error {
	steps := []func(context.Context) error{p.accessKeys, p.inlinePolicies, p.groups}
	if scope == purgeAll {
		steps = append(steps, p.unlessSkipped("ListAttachedUserPolicies", p.attachedPolicies), p.loginProfile,
			p.unlessSkipped("ListSigningCertificates", p.signingCertificates), p.unlessSkipped("ListSSHPublicKeys", p.sshKeys),
			p.unlessSkipped("ListServiceSpecificCredentials", p.serviceCredentials), p.unlessSkipped("ListMFADevices", p.mfaDevices))
	}
	for pass := 1; ; pass++ {
		for _, step := range steps {
			if err := step(ctx); err != nil {
				return err
			}
			if p.gone {
				return nil
			}
		}
		p.sent = true
		_, err := p.c.DeleteUser(ctx, &iam.DeleteUserInput{UserName: aws.String(p.user)})
		var conflict *types.DeleteConflictException
		switch {
		case err == nil:
			p.done = append(p.done, fmt.Sprintf("user %q", p.user))
			return nil
		case isNoSuchEntity(err):
			return nil
		case errors.As(err, &conflict) && pass < purgePasses:
			// Something landed since the listing: wait a little, start over.
			select {
			case <-ctx.Done():
				return awsError("DeleteUser", fmt.Sprintf("%q", p.user), err)
			case <-time.After(time.Duration(pass) * 100 * time.Millisecond):
			}
		default:
			return awsError("DeleteUser", fmt.Sprintf("%q", p.user), err)
		}
	}
}

// unlessSkipped runs a step unless its listing is known to be lacking.
func (p *purger) unlessSkipped(listing string, step func(context.Context) error) func(context.Context) error {
	return func(ctx context.Context) error {
		if p.skips.known(listing) {
			return nil
		}
		return step(ctx)
	}
}

// listed handles a listing's error: a missing user ends the purge; a
// listing the endpoint lacks is skipped (DeleteUser has the last word).
func (p *purger) listed(action string, err error) error {
	if isNoSuchEntity(err) {
		p.gone = true
		return nil
	}
	if p.skips.skip(action, err) {
		return nil
	}
	return awsError(action, fmt.Sprintf("of user %q", p.user), err)
}

// removed records a deletion, tolerating one that already happened.
func (p *purger) removed(action, what string, err error) error {
	p.sent = true
	if err != nil && !isNoSuchEntity(err) {
		return awsError(action, what, err)
	}
	if err == nil {
		p.done = append(p.done, what)
	}
	return nil
}

func (p *purger) accessKeys(ctx context.Context) error {
	out, err := p.c.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String(p.user)})
	if err != nil {
		return p.listed("ListAccessKeys", err)
	}
	for _, k := range out.AccessKeyMetadata {
		if err := p.guard("access key "+aws.ToString(k.AccessKeyId), aws.ToTime(k.CreateDate)); err != nil {
			return err
		}
	}
	for _, k := range out.AccessKeyMetadata {
		_, err := p.c.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String(p.user), AccessKeyId: k.AccessKeyId})
		if err := p.removed("DeleteAccessKey", "access key "+aws.ToString(k.AccessKeyId), err); err != nil {
			return err
		}
	}
	return nil
}

func (p *purger) inlinePolicies(ctx context.Context) error {
	out, err := p.c.ListUserPolicies(ctx, &iam.ListUserPoliciesInput{UserName: aws.String(p.user)})
	if err != nil {
		return p.listed("ListUserPolicies", err)
	}
	for _, name := range out.PolicyNames {
		if err := p.guard(fmt.Sprintf("inline policy %q", name), time.Time{}); err != nil {
			return err
		}
	}
	for _, name := range out.PolicyNames {
		_, err := p.c.DeleteUserPolicy(ctx, &iam.DeleteUserPolicyInput{UserName: aws.String(p.user), PolicyName: aws.String(name)})
		if err := p.removed("DeleteUserPolicy", fmt.Sprintf("inline policy %q", name), err); err != nil {
			return err
		}
	}
	return nil
}

func (p *purger) groups(ctx context.Context) error {
	out, err := p.c.ListGroupsForUser(ctx, &iam.ListGroupsForUserInput{UserName: aws.String(p.user)})
	if err != nil {
		return p.listed("ListGroupsForUser", err)
	}
	for _, g := range out.Groups {
		if err := p.guard(fmt.Sprintf("membership of group %q", aws.ToString(g.GroupName)), time.Time{}); err != nil {
			return err
		}
	}
	for _, g := range out.Groups {
		_, err := p.c.RemoveUserFromGroup(ctx, &iam.RemoveUserFromGroupInput{UserName: aws.String(p.user), GroupName: g.GroupName})
		if err := p.removed("RemoveUserFromGroup", fmt.Sprintf("membership of group %q", aws.ToString(g.GroupName)), err); err != nil {
			return err
		}
	}
	return nil
}

func (p *purger) attachedPolicies(ctx context.Context) error {
	out, err := p.c.ListAttachedUserPolicies(ctx, &iam.ListAttachedUserPoliciesInput{UserName: aws.String(p.user)})
	if err != nil {
		return p.listed("ListAttachedUserPolicies", err)
	}
	for _, ap := range out.AttachedPolicies {
		_, err := p.c.DetachUserPolicy(ctx, &iam.DetachUserPolicyInput{UserName: aws.String(p.user), PolicyArn: ap.PolicyArn})
		if err := p.removed("DetachUserPolicy", "managed policy "+aws.ToString(ap.PolicyArn), err); err != nil {
			return err
		}
	}
	return nil
}

func (p *purger) loginProfile(ctx context.Context) error {
	_, err := p.c.DeleteLoginProfile(ctx, &iam.DeleteLoginProfileInput{UserName: aws.String(p.user)})
	return p.removed("DeleteLoginProfile", "console password (login profile)", err)
}

func (p *purger) signingCertificates(ctx context.Context) error {
	out, err := p.c.ListSigningCertificates(ctx, &iam.ListSigningCertificatesInput{UserName: aws.String(p.user)})
	if err != nil {
		return p.listed("ListSigningCertificates", err)
	}
	for _, cert := range out.Certificates {
		_, err := p.c.DeleteSigningCertificate(ctx, &iam.DeleteSigningCertificateInput{UserName: aws.String(p.user), CertificateId: cert.CertificateId})
		if err := p.removed("DeleteSigningCertificate", "signing certificate "+aws.ToString(cert.CertificateId), err); err != nil {
			return err
		}
	}
	return nil
}

func (p *purger) sshKeys(ctx context.Context) error {
	out, err := p.c.ListSSHPublicKeys(ctx, &iam.ListSSHPublicKeysInput{UserName: aws.String(p.user)})
	if err != nil {
		return p.listed("ListSSHPublicKeys", err)
	}
	for _, k := range out.SSHPublicKeys {
		_, err := p.c.DeleteSSHPublicKey(ctx, &iam.DeleteSSHPublicKeyInput{UserName: aws.String(p.user), SSHPublicKeyId: k.SSHPublicKeyId})
		if err := p.removed("DeleteSSHPublicKey", "SSH public key "+aws.ToString(k.SSHPublicKeyId), err); err != nil {
			return err
		}
	}
	return nil
}

func (p *purger) serviceCredentials(ctx context.Context) error {
	out, err := p.c.ListServiceSpecificCredentials(ctx, &iam.ListServiceSpecificCredentialsInput{UserName: aws.String(p.user)})
	if err != nil {
		return p.listed("ListServiceSpecificCredentials", err)
	}
	for _, sc := range out.ServiceSpecificCredentials {
		_, err := p.c.DeleteServiceSpecificCredential(ctx, &iam.DeleteServiceSpecificCredentialInput{
			UserName: aws.String(p.user), ServiceSpecificCredentialId: sc.ServiceSpecificCredentialId})
		if err := p.removed("DeleteServiceSpecificCredential", "service-specific credential "+aws.ToString(sc.ServiceSpecificCredentialId), err); err != nil {
			return err
		}
	}
	return nil
}

func (p *purger) mfaDevices(ctx context.Context) error {
	out, err := p.c.ListMFADevices(ctx, &iam.ListMFADevicesInput{UserName: aws.String(p.user)})
	if err != nil {
		return p.listed("ListMFADevices", err)
	}
	for _, d := range out.MFADevices {
		serial := aws.ToString(d.SerialNumber)
		_, err := p.c.DeactivateMFADevice(ctx, &iam.DeactivateMFADeviceInput{UserName: aws.String(p.user), SerialNumber: d.SerialNumber})
		if err := p.removed("DeactivateMFADevice", "MFA device "+serial, err); err != nil {
			return err
		}
		if isVirtualMFA(serial) {
			_, err := p.c.DeleteVirtualMFADevice(ctx, &iam.DeleteVirtualMFADeviceInput{SerialNumber: d.SerialNumber})
			if err := p.removed("DeleteVirtualMFADevice", "virtual MFA device "+serial, err); err != nil {
				return err
			}
		}
	}
	return nil
}

// isVirtualMFA reports whether serial names a virtual MFA device (an ARN);
// hardware devices have plain serial numbers.
func isVirtualMFA(serial string) bool { return len(serial) > 4 && serial[:4] == "arn:" }
