package cli

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
)

// unmodelledAttempts are escalation attempts through IAM actions iamtest
// does not implement: it authorizes them as IAM does before answering
// InvalidAction, so each must be AccessDenied for the bounded operator
// (Service Authorization Reference for their resources; none is in the
// operator policy's Allow statements).
func unmodelledAttempts(op *iam.Client) []escalationAttempt {
	const trust = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:user/ops"},"Action":"sts:AssumeRole"}]}`
	call := func(f func(ctx context.Context) error) func(context.Context) error { return f }
	return []escalationAttempt{
		{"console password for a human (CreateLoginProfile)", call(func(ctx context.Context) error {
			_, err := op.CreateLoginProfile(ctx, &iam.CreateLoginProfileInput{UserName: aws.String("legacy1"), Password: aws.String("Passw0rd!Passw0rd!")})
			return err
		})},
		{"change a human admin's console password (UpdateLoginProfile)", call(func(ctx context.Context) error {
			_, err := op.UpdateLoginProfile(ctx, &iam.UpdateLoginProfileInput{UserName: aws.String("alice"), Password: aws.String("Passw0rd!Passw0rd!")})
			return err
		})},
		{"move a sesmtp user out of the path (UpdateUser)", call(func(ctx context.Context) error {
			_, err := op.UpdateUser(ctx, &iam.UpdateUserInput{UserName: aws.String("m1"), NewPath: aws.String("/")})
			return err
		})},
		{"move a human admin into the path (UpdateUser)", call(func(ctx context.Context) error {
			_, err := op.UpdateUser(ctx, &iam.UpdateUserInput{UserName: aws.String("alice"), NewPath: aws.String("/sesmtp/")})
			return err
		})},
		{"SSH key for a sesmtp user (UploadSSHPublicKey)", call(func(ctx context.Context) error {
			_, err := op.UploadSSHPublicKey(ctx, &iam.UploadSSHPublicKeyInput{UserName: aws.String("m1"), SSHPublicKeyBody: aws.String("ssh-rsa AAAA")})
			return err
		})},
		{"service-specific credential for a human admin (CreateServiceSpecificCredential)", call(func(ctx context.Context) error {
			_, err := op.CreateServiceSpecificCredential(ctx, &iam.CreateServiceSpecificCredentialInput{UserName: aws.String("alice"),
				ServiceName: aws.String("codecommit.amazonaws.com")})
			return err
		})},
		{"signing certificate for a human admin (UploadSigningCertificate)", call(func(ctx context.Context) error {
			_, err := op.UploadSigningCertificate(ctx, &iam.UploadSigningCertificateInput{UserName: aws.String("alice"), CertificateBody: aws.String("-----BEGIN CERTIFICATE-----")})
			return err
		})},
		{"MFA device of its own on a human admin (EnableMFADevice)", call(func(ctx context.Context) error {
			_, err := op.EnableMFADevice(ctx, &iam.EnableMFADeviceInput{UserName: aws.String("alice"), SerialNumber: aws.String("arn:aws:iam::123456789012:mfa/evil"),
				AuthenticationCode1: aws.String("123456"), AuthenticationCode2: aws.String("654321")})
			return err
		})},
		{"create a role it may assume (CreateRole)", call(func(ctx context.Context) error {
			_, err := op.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("escalator"), AssumeRolePolicyDocument: aws.String(trust)})
			return err
		})},
		{"AdministratorAccess on a role (AttachRolePolicy)", call(func(ctx context.Context) error {
			_, err := op.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: aws.String("admin"), PolicyArn: aws.String(adminPolicyARN)})
			return err
		})},
		{"trust itself on an admin role (UpdateAssumeRolePolicy)", call(func(ctx context.Context) error {
			_, err := op.UpdateAssumeRolePolicy(ctx, &iam.UpdateAssumeRolePolicyInput{RoleName: aws.String("admin"), PolicyDocument: aws.String(trust)})
			return err
		})},
		{"pass an admin role (AddRoleToInstanceProfile: iam:PassRole)", call(func(ctx context.Context) error {
			_, err := op.AddRoleToInstanceProfile(ctx, &iam.AddRoleToInstanceProfileInput{InstanceProfileName: aws.String("p"), RoleName: aws.String("admin")})
			return err
		})},
	}
}
