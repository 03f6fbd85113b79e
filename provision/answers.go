package provision

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/sesmtp/sesmtp/exitcode"
)

// AnswerError reports an IAM answer without a field sesmtp needs. Every
// answer is checked before use; an incomplete one is a failure (the flow
// rolls back), never a panic.
type AnswerError struct {
	// Action is the IAM action, e.g. "iam:CreateAccessKey".
	Action string
	// Field is the missing field, e.g. "AccessKey.SecretAccessKey".
	Field string
}

func (e *AnswerError) Error() string {
	return fmt.Sprintf("%s: IAM's answer has no %s; sesmtp used none of it (is --endpoint-url an IAM endpoint?)", e.Action, e.Field)
}

// ExitCode implements exitcode.Coder.
func (e *AnswerError) ExitCode() int { return exitcode.Failed }

func missing(action, field string) error {
	return &AnswerError{Action: "iam:" + action, Field: field}
}

// checkUser checks the user in a CreateUser or GetUser answer.
func checkUser(action string, u *types.User) error {
	switch {
	case u == nil:
		return missing(action, "User")
	case u.UserName == nil:
		return missing(action, "User.UserName")
	case u.Arn == nil:
		return missing(action, "User.Arn")
	}
	return nil
}

// checkAccessKey checks a CreateAccessKey answer.
func checkAccessKey(k *types.AccessKey) error {
	switch {
	case k == nil:
		return missing("CreateAccessKey", "AccessKey")
	case aws.ToString(k.AccessKeyId) == "":
		return missing("CreateAccessKey", "AccessKey.AccessKeyId")
	case aws.ToString(k.SecretAccessKey) == "":
		return missing("CreateAccessKey", "AccessKey.SecretAccessKey")
	}
	return nil
}

// getUser calls GetUser and checks the answer.
func getUser(ctx context.Context, c IAMAPI, user string) (*types.User, error) {
	out, err := c.GetUser(ctx, &iam.GetUserInput{UserName: aws.String(user)})
	if err != nil {
		return nil, awsError("GetUser", fmt.Sprintf("%q", user), err)
	}
	if err := checkUser("GetUser", out.User); err != nil {
		return nil, err
	}
	return out.User, nil
}

// listKeys calls ListAccessKeys and checks that every key has an id.
func listKeys(ctx context.Context, c IAMAPI, user string) ([]types.AccessKeyMetadata, error) {
	keys, _, err := listKeysAt(ctx, c, user, time.Now())
	return keys, err
}

// listKeysAt is listKeys, with IAM's time of its answer (iamTime; fallback
// when it carries none).
func listKeysAt(ctx context.Context, c IAMAPI, user string, fallback time.Time) ([]types.AccessKeyMetadata, time.Time, error) {
	out, err := c.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String(user)})
	if err != nil {
		return nil, time.Time{}, awsError("ListAccessKeys", fmt.Sprintf("of user %q", user), err)
	}
	for _, k := range out.AccessKeyMetadata {
		if aws.ToString(k.AccessKeyId) == "" {
			return nil, time.Time{}, missing("ListAccessKeys", "AccessKeyMetadata.AccessKeyId")
		}
	}
	return out.AccessKeyMetadata, iamTime(out.ResultMetadata, fallback), nil
}

func keyIDsOf(keys []types.AccessKeyMetadata) []string {
	ids := make([]string, 0, len(keys))
	for _, k := range keys {
		ids = append(ids, aws.ToString(k.AccessKeyId))
	}
	return ids
}

// HoldsKey reports whether user exists and holds access key id.
func HoldsKey(ctx context.Context, c IAMAPI, user, id string) (bool, error) {
	keys, err := listKeys(ctx, c, user)
	if isNoSuchEntity(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return slices.Contains(keyIDsOf(keys), id), nil
}
