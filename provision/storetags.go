package provision

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
)

// UserTags returns the tags of user (iam:GetUser), keyed by tag key. A
// user that does not exist is a *NoSuchUserError for command.
func UserTags(ctx context.Context, c IAMAPI, user, command string) (map[string]string, error) {
	u, err := getUser(ctx, c, user)
	if isNoSuchEntity(err) {
		return nil, &NoSuchUserError{UserName: user, Command: command}
	}
	if err != nil {
		return nil, beforeChange(err)
	}
	tags := map[string]string{}
	for _, t := range u.Tags {
		tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return tags, nil
}

// UserTagger is the IAM call SetOwnTags makes.
type UserTagger interface {
	TagUser(ctx context.Context, in *iam.TagUserInput, opts ...func(*iam.Options)) (*iam.TagUserOutput, error)
}

// SetOwnTags writes sesmtp's own tags (sesmtp:store and its kin) on an
// existing user, with iam:TagUser, which overwrites a key's value.
func SetOwnTags(ctx context.Context, c UserTagger, user string, tags []Tag) error {
	if len(tags) == 0 {
		return nil
	}
	in := &iam.TagUserInput{UserName: aws.String(user)}
	for _, t := range tags {
		in.Tags = append(in.Tags, types.Tag{Key: aws.String(t.Key), Value: aws.String(t.Value)})
	}
	_, err := c.TagUser(ctx, in)
	return awsError("TagUser", fmt.Sprintf("%q", user), err)
}
