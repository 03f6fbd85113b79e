package provision

import (
	"context"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
)

// listPageSize is the largest page ListUsers allows: fewest round trips.
const listPageSize = 1000

// FindUsers pages through ListUsers until every name in wanted has been seen
// or the listing ends, and returns the users found by lower-case name (IAM
// user names are case-insensitive). One listing serves a whole batch.
func FindUsers(ctx context.Context, c IAMAPI, wanted []string) (map[string]types.User, error) {
	want := map[string]bool{}
	for _, n := range wanted {
		want[strings.ToLower(n)] = true
	}
	found := map[string]types.User{}
	p := iam.NewListUsersPaginator(c, &iam.ListUsersInput{MaxItems: aws.Int32(listPageSize)})
	for p.HasMorePages() && len(found) < len(want) {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, awsError("ListUsers", "", err)
		}
		for _, u := range page.Users {
			if n := strings.ToLower(aws.ToString(u.UserName)); want[n] {
				found[n] = u
			}
		}
	}
	return found, nil
}
