package provision

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
)

// Recover removes the user a run that died before handing over its
// credentials created: the user named user, if it carries runID in its
// TagRunID tag (never anybody else's), with its keys, inline policies and
// group memberships. It returns what it removed; nothing when the user is
// gone or not that run's.
func Recover(ctx context.Context, c IAMAPI, user, runID string) ([]string, error) {
	u, err := c.GetUser(ctx, &iam.GetUserInput{UserName: aws.String(user)})
	if isNoSuchEntity(err) {
		return nil, nil
	}
	if err != nil {
		return nil, awsError("GetUser", fmt.Sprintf("%q", user), err)
	}
	if tagValue(u.User.Tags, TagRunID) != runID {
		return nil, nil
	}
	p := &purger{c: c, user: user}
	err = p.purge(ctx, purgeOwn)
	return p.done, err
}
