package provision

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
)

// DefaultListConcurrency is how many users list inspects at once.
const DefaultListConcurrency = 8

// DefaultInUseWithin is how recent a key's last use must be for list to
// call it in use.
const DefaultInUseWithin = 24 * time.Hour

// How list recognised a user as an SMTP user.
const (
	ByTag    = "sesmtp tag"
	ByPolicy = "inline " + DefaultPolicyName
	ByGroup  = "group " + ConsoleGroupName
)

// ListInput is what List needs.
type ListInput struct {
	// AllUsers lists every user, not only SMTP users.
	AllUsers bool
	// PathPrefix limits the listing to users under an IAM path.
	PathPrefix string
	// Concurrency bounds the users inspected at once (default 8).
	Concurrency int
	// Now is the time key ages are measured at.
	Now time.Time
	// InUseWithin: a key last used within it is in use (default DefaultInUseWithin).
	InUseWithin time.Duration
}

// ListedKey is one access key in a listing.
type ListedKey struct {
	AccessKeyID     string     `json:"access_key_id"`
	Status          string     `json:"status"`
	Created         time.Time  `json:"created"`
	AgeDays         int        `json:"age_days"`
	LastUsed        *time.Time `json:"last_used,omitempty"`
	LastUsedService string     `json:"last_used_service,omitempty"`
	LastUsedRegion  string     `json:"last_used_region,omitempty"`
	// InUse: last used within ListInput.InUseWithin.
	InUse bool `json:"in_use"`
	// Retiring: the user's TagRetire names this key.
	Retiring bool `json:"retiring,omitempty"`
}

// ListedUser is one user in a listing.
type ListedUser struct {
	UserName string      `json:"user_name"`
	Path     string      `json:"path"`
	Created  time.Time   `json:"created"`
	SMTP     bool        `json:"smtp_user"`
	Reasons  []string    `json:"recognised_by,omitempty"`
	Keys     []ListedKey `json:"access_keys"`
	// PendingRetirement is the old key of a key rotation that 'sesmtp
	// retire' has yet to finish (TagRetire); PendingRetirementError says
	// why a TagRetire could not be read.
	PendingRetirement      *Retirement `json:"pending_retirement,omitempty"`
	PendingRetirementError string      `json:"pending_retirement_error,omitempty"`
}

// Listing is what List found.
type Listing struct {
	// Users are the users listed, in ListUsers' order.
	Users []ListedUser
	// Gone are the users ListUsers named that were deleted before List
	// could read them (NoSuchEntity): they are not listed.
	Gone []string
}

// errUserGone: the user was deleted while List read it.
var errUserGone = errors.New("user deleted while listing")

// List pages through ListUsers and inspects each user (tags, inline policy
// names, groups; keys and their last use for SMTP users) with bounded
// concurrency. A user is an SMTP user if sesmtp tagged it, it holds the
// console's inline policy AmazonSesSendingAccess, or it is in the console's
// group AWSSESSendingGroupDoNotRename. The result keeps ListUsers' order. A
// user deleted between ListUsers and its own calls is left out, in Gone.
func List(ctx context.Context, c IAMAPI, in ListInput) (Listing, error) {
	users, err := listAllUsers(ctx, c, in.PathPrefix)
	if err != nil {
		return Listing{}, beforeChange(err)
	}
	if in.Now.IsZero() {
		in.Now = time.Now()
	}
	if in.InUseWithin <= 0 {
		in.InUseWithin = DefaultInUseWithin
	}
	out, errs, err := describeAll(ctx, c, users, in)
	if err != nil {
		return Listing{}, err
	}
	var listing Listing
	for i, u := range out {
		switch {
		case errors.Is(errs[i], errUserGone):
			listing.Gone = append(listing.Gone, u.UserName)
		case u.SMTP || in.AllUsers:
			listing.Users = append(listing.Users, u)
		}
	}
	return listing, nil
}

// describeAll describes users, in.Concurrency at a time, stopping at the
// first failure; a user deleted meanwhile is no failure (errUserGone in
// its place of errs).
func describeAll(ctx context.Context, c IAMAPI, users []types.User, in ListInput) ([]ListedUser, []error, error) {
	workers := in.Concurrency
	if workers <= 0 {
		workers = DefaultListConcurrency
	}
	out := make([]ListedUser, len(users))
	errs := make([]error, len(users))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	each(len(users), workers, func(i int) {
		if ctx.Err() != nil {
			return
		}
		out[i], errs[i] = describeUser(ctx, c, users[i], in)
		if errs[i] != nil && !errors.Is(errs[i], errUserGone) {
			cancel()
		}
	})
	for _, err := range errs {
		if err != nil && !errors.Is(err, errUserGone) {
			return nil, nil, beforeChange(err)
		}
	}
	if ctx.Err() != nil { // stopped before every user was read
		return nil, nil, fmt.Errorf("list: %s before every user was read", StopReason(context.Cause(ctx)))
	}
	return out, errs, nil
}

func listAllUsers(ctx context.Context, c IAMAPI, prefix string) ([]types.User, error) {
	input := &iam.ListUsersInput{MaxItems: aws.Int32(listPageSize)}
	if prefix != "" {
		input.PathPrefix = aws.String(prefix)
	}
	var users []types.User
	p := iam.NewListUsersPaginator(c, input)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, awsError("ListUsers", "", err)
		}
		users = append(users, page.Users...)
	}
	return users, nil
}

// describeUser recognises an SMTP user with as few calls as it can, then
// reads its keys. A user IAM no longer knows (NoSuchEntity) is errUserGone.
func describeUser(ctx context.Context, c IAMAPI, u types.User, in ListInput) (ListedUser, error) {
	name := aws.ToString(u.UserName)
	lu := ListedUser{UserName: name, Path: aws.ToString(u.Path), Created: aws.ToTime(u.CreateDate)}
	switch {
	case name == "":
		return lu, missing("ListUsers", "Users.UserName")
	case u.CreateDate == nil:
		return lu, missing("ListUsers", fmt.Sprintf("Users.CreateDate (of user %q)", name))
	}
	reasons, tags, err := recognise(ctx, c, name)
	if err != nil {
		return lu, goneOr(err)
	}
	lu.Reasons, lu.SMTP = reasons, len(reasons) > 0
	if !lu.SMTP && !in.AllUsers {
		return lu, nil
	}
	records, recordsErr := retirementsIn(name, tags)
	keys, err := c.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String(name)})
	if err != nil {
		return lu, goneOr(awsError("ListAccessKeys", fmt.Sprintf("of %q", name), err))
	}
	held, heldErr := listedRetirement(name, records, keys.AccessKeyMetadata)
	lu.PendingRetirement = held
	var bad *BadRetireTagError
	if errors.As(errors.Join(recordsErr, heldErr), &bad) {
		lu.PendingRetirementError = bad.Err.Error()
	}
	for _, k := range keys.AccessKeyMetadata {
		lk, err := describeKey(ctx, c, name, k, in)
		if err != nil {
			return lu, err
		}
		lk.Retiring = slices.ContainsFunc(records, func(r Retirement) bool { return r.AccessKeyID == lk.AccessKeyID })
		lu.Keys = append(lu.Keys, lk)
	}
	return lu, nil
}

// goneOr is errUserGone for IAM's NoSuchEntity, else err.
func goneOr(err error) error {
	if isNoSuchEntity(err) {
		return errUserGone
	}
	return err
}

// describeKey checks key k of user and reads its last use. Every field
// list shows is required: an answer without one is an AnswerError.
func describeKey(ctx context.Context, c IAMAPI, user string, k types.AccessKeyMetadata, in ListInput) (ListedKey, error) {
	lk := ListedKey{AccessKeyID: aws.ToString(k.AccessKeyId), Status: string(k.Status), Created: aws.ToTime(k.CreateDate)}
	switch {
	case lk.AccessKeyID == "":
		return lk, missing("ListAccessKeys", fmt.Sprintf("AccessKeyMetadata.AccessKeyId (of a key of user %q)", user))
	case k.CreateDate == nil:
		return lk, missing("ListAccessKeys", "AccessKeyMetadata.CreateDate (of access key "+lk.AccessKeyID+")")
	case lk.Status == "":
		return lk, missing("ListAccessKeys", "AccessKeyMetadata.Status (of access key "+lk.AccessKeyID+")")
	}
	lk.AgeDays = int(in.Now.Sub(lk.Created).Hours() / 24)
	use, err := lastUse(ctx, c, lk.AccessKeyID)
	if err != nil {
		return lk, err
	}
	if use != nil {
		lk.LastUsed, lk.LastUsedService, lk.LastUsedRegion = &use.When, use.Service, use.Region
		lk.InUse = in.Now.Sub(use.When) < in.InUseWithin
	}
	return lk, nil
}

// recognise returns why name is an SMTP user, stopping at the first
// reason, and the user's tags.
func recognise(ctx context.Context, c IAMAPI, name string) ([]string, []types.Tag, error) {
	out, err := c.ListUserTags(ctx, &iam.ListUserTagsInput{UserName: aws.String(name)})
	if err != nil {
		return nil, nil, awsError("ListUserTags", fmt.Sprintf("of %q", name), err)
	}
	tags := out.Tags
	if tagValue(tags, TagManagedBy) == ManagedByValue {
		return []string{ByTag}, tags, nil
	}
	pols, err := c.ListUserPolicies(ctx, &iam.ListUserPoliciesInput{UserName: aws.String(name)})
	if err != nil {
		return nil, nil, awsError("ListUserPolicies", fmt.Sprintf("of %q", name), err)
	}
	for _, p := range pols.PolicyNames {
		if strings.EqualFold(p, DefaultPolicyName) {
			return []string{ByPolicy}, tags, nil
		}
	}
	groups, err := c.ListGroupsForUser(ctx, &iam.ListGroupsForUserInput{UserName: aws.String(name)})
	if err != nil {
		return nil, nil, awsError("ListGroupsForUser", fmt.Sprintf("of %q", name), err)
	}
	for _, g := range groups.Groups {
		if strings.EqualFold(aws.ToString(g.GroupName), ConsoleGroupName) {
			return []string{ByGroup}, tags, nil
		}
	}
	return nil, tags, nil
}

// KeysOlderThan keeps the users with a key older than age, and of those
// only the old keys.
func KeysOlderThan(users []ListedUser, age time.Duration, now time.Time) []ListedUser {
	var out []ListedUser
	for _, u := range users {
		var old []ListedKey
		for _, k := range u.Keys {
			if now.Sub(k.Created) > age {
				old = append(old, k)
			}
		}
		if len(old) > 0 {
			u.Keys = old
			out = append(out, u)
		}
	}
	return out
}

// listedRetirement is the retirement list shows for a user: the one of a
// key it holds, else a stale one (its key is gone; 'retire' removes it).
func listedRetirement(user string, records []Retirement, keys []types.AccessKeyMetadata) (*Retirement, error) {
	held, stale, err := pendingOf(user, records, keys)
	if held == nil && len(stale) > 0 {
		held = &stale[0]
	}
	return held, err
}
