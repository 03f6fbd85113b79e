package awscfg

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
)

// DefaultPropagationWait is how long a client waits for IAM to show an
// entity it just created: IAM is eventually consistent ("Changes that I
// make are not always immediately visible", IAM User Guide,
// troubleshoot_general.html#troubleshoot_general_eventual-consistency), and
// terraform-provider-aws waits up to two minutes after creating an IAM
// entity for the same reason.
const DefaultPropagationWait = 2 * time.Minute

// propagation makes an IAM client read its own writes. It remembers what
// the client made (users, groups, access keys, inline policies, group
// memberships) and when; a later call about one of those that IAM answers
// NoSuchEntity, or a listing that leaves one out, is retried until IAM
// shows it or the wait since it was made runs out. Only what this client
// made (or was told exists, by EntityAlreadyExists) is waited for: a
// NoSuchEntity about anything else is answered at once.
type propagation struct {
	wait       time.Duration
	maxBackoff time.Duration
	logger     *slog.Logger

	mu    sync.Mutex
	known map[string]madeEntity // by entityKey
}

// madeEntity is something the client made: when, and for an access key
// the user it belongs to. For a keyCountKey it is what IAM's write path
// said: the user holds count keys.
type madeEntity struct {
	at    time.Time
	owner string // lower-case user name, for access keys
	count int
}

func newPropagation(opts Options) *propagation {
	if opts.PropagationWait < 0 {
		return nil
	}
	p := &propagation{wait: opts.PropagationWait, maxBackoff: 2 * time.Second, logger: opts.Logger, known: map[string]madeEntity{}}
	if p.wait == 0 {
		p.wait = DefaultPropagationWait
	}
	if opts.MaxBackoff > 0 {
		p.maxBackoff = min(p.maxBackoff, opts.MaxBackoff)
	}
	return p
}

func (p *propagation) addTo(s *middleware.Stack) error {
	return s.Initialize.Add(middleware.InitializeMiddlewareFunc("sesmtpReadOwnWrites", p.handle), middleware.After)
}

// handle runs the call, and again while it is stale about something the
// client made, backing off, until the wait for that entity runs out.
func (p *propagation) handle(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (
	middleware.InitializeOutput, middleware.Metadata, error,
) {
	for attempt := 1; ; attempt++ {
		out, md, err := next.HandleInitialize(ctx, in)
		attempts, _ := retry.GetAttemptResults(md)
		p.learn(in.Parameters, out.Result, err, len(attempts.Results) > 1)
		key, deadline, stale := p.stale(in.Parameters, out.Result, err)
		if !stale || !time.Now().Before(deadline) {
			return out, md, err
		}
		if attempt == 1 && p.logger != nil {
			p.logger.InfoContext(ctx, "waiting for IAM to propagate a change this run made", "operation",
				awsmiddleware.GetOperationName(ctx), "entity", key, "until", deadline.Format(time.TimeOnly))
		}
		delay := min(p.maxBackoff, 100*time.Millisecond<<min(attempt, 6), time.Until(deadline))
		select {
		case <-ctx.Done():
			return out, md, err
		case <-time.After(delay):
		}
	}
}

// stale reports whether a call's answer is stale about an entity the
// client made within the wait, naming the entity and the end of its wait.
func (p *propagation) stale(params, result any, err error) (string, time.Time, bool) {
	var keys []string
	var noSuch *types.NoSuchEntityException
	switch {
	case errors.As(err, &noSuch):
		keys = targets(params, p.isKnown)
	case err == nil:
		keys = p.missingFrom(params, result)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, k := range keys {
		if m, ok := p.known[k]; ok {
			return k, m.at.Add(p.wait), true
		}
	}
	return "", time.Time{}, false
}

func (p *propagation) isKnown(key string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, ok := p.known[key]
	return ok
}

// Entity keys: IAM's user and group names are case-insensitive.
func userKey(name *string) string  { return "user " + strings.ToLower(aws.ToString(name)) }
func groupKey(name *string) string { return "group " + strings.ToLower(aws.ToString(name)) }
func accessKeyKey(id *string) string {
	return "access key " + aws.ToString(id)
}
func userPolicyKey(user, policy *string) string {
	return "policy " + aws.ToString(policy) + " of " + userKey(user)
}
func groupPolicyKey(group, policy *string) string {
	return "policy " + aws.ToString(policy) + " of " + groupKey(group)
}
func memberKey(user, group *string) string { return userKey(user) + " in " + groupKey(group) }

// keyCountKey records that a retried CreateAccessKey answered
// LimitExceeded: an earlier attempt, whose answer was lost, made a key, and
// IAM's write path, which enforces the quota, holds the two keys a user
// may have, even if that key is not listed yet. A listing of fewer is
// stale.
func keyCountKey(user *string) string { return "the access keys of " + userKey(user) }

// targets returns the entities whose absence a NoSuchEntity answer to the
// call may mean, most specific first. Calls whose NoSuchEntity means
// something no client makes (a login profile, an MFA device) have none.
func targets(params any, known func(string) bool) []string {
	specific := func(k string, fallback ...string) []string {
		if known(k) {
			return []string{k}
		}
		return fallback
	}
	switch in := params.(type) {
	case *iam.GetUserInput:
		return []string{userKey(in.UserName)}
	case *iam.CreateAccessKeyInput:
		return []string{userKey(in.UserName)}
	case *iam.PutUserPolicyInput:
		return []string{userKey(in.UserName)}
	case *iam.TagUserInput:
		return []string{userKey(in.UserName)}
	case *iam.DeleteUserInput:
		return []string{userKey(in.UserName)}
	case *iam.ListAccessKeysInput:
		return []string{userKey(in.UserName)}
	case *iam.ListUserPoliciesInput:
		return []string{userKey(in.UserName)}
	case *iam.ListGroupsForUserInput:
		return []string{userKey(in.UserName)}
	case *iam.ListAttachedUserPoliciesInput:
		return []string{userKey(in.UserName)}
	case *iam.ListUserTagsInput:
		return []string{userKey(in.UserName)}
	case *iam.DeleteAccessKeyInput:
		return specific(accessKeyKey(in.AccessKeyId), userKey(in.UserName))
	case *iam.UpdateAccessKeyInput:
		return specific(accessKeyKey(in.AccessKeyId), userKey(in.UserName))
	case *iam.GetUserPolicyInput:
		return specific(userPolicyKey(in.UserName, in.PolicyName), userKey(in.UserName))
	case *iam.DeleteUserPolicyInput:
		return specific(userPolicyKey(in.UserName, in.PolicyName), userKey(in.UserName))
	case *iam.AddUserToGroupInput:
		return []string{userKey(in.UserName), groupKey(in.GroupName)}
	case *iam.RemoveUserFromGroupInput:
		return specific(memberKey(in.UserName, in.GroupName), userKey(in.UserName), groupKey(in.GroupName))
	case *iam.GetGroupInput:
		return []string{groupKey(in.GroupName)}
	case *iam.PutGroupPolicyInput:
		return []string{groupKey(in.GroupName)}
	case *iam.ListGroupPoliciesInput:
		return []string{groupKey(in.GroupName)}
	case *iam.DeleteGroupInput:
		return []string{groupKey(in.GroupName)}
	case *iam.GetGroupPolicyInput:
		return specific(groupPolicyKey(in.GroupName, in.PolicyName), groupKey(in.GroupName))
	case *iam.DeleteGroupPolicyInput:
		return specific(groupPolicyKey(in.GroupName, in.PolicyName), groupKey(in.GroupName))
	}
	return nil
}

// missingFrom returns what the client made that a complete listing of the
// call leaves out: its access keys, inline policies and group memberships
// of the listed user. A truncated page proves nothing.
func (p *propagation) missingFrom(params, result any) []string {
	var want, got []string
	switch in := params.(type) {
	case *iam.ListAccessKeysInput:
		out, ok := result.(*iam.ListAccessKeysOutput)
		if !ok || out.IsTruncated {
			return nil
		}
		want = p.keysOf(strings.ToLower(aws.ToString(in.UserName)))
		for _, k := range out.AccessKeyMetadata {
			got = append(got, accessKeyKey(k.AccessKeyId))
		}
		if p.countOf(keyCountKey(in.UserName)) > len(out.AccessKeyMetadata) {
			want = append(want, keyCountKey(in.UserName))
		}
	case *iam.ListUserPoliciesInput:
		out, ok := result.(*iam.ListUserPoliciesOutput)
		if !ok || out.IsTruncated {
			return nil
		}
		want = p.withPrefix("policy ", " of "+userKey(in.UserName))
		for _, n := range out.PolicyNames {
			got = append(got, userPolicyKey(in.UserName, aws.String(n)))
		}
	case *iam.ListGroupsForUserInput:
		out, ok := result.(*iam.ListGroupsForUserOutput)
		if !ok || out.IsTruncated {
			return nil
		}
		want = p.withPrefix(userKey(in.UserName)+" in ", "")
		for _, g := range out.Groups {
			got = append(got, memberKey(in.UserName, g.GroupName))
		}
	}
	return slices.DeleteFunc(want, func(k string) bool { return slices.Contains(got, k) })
}

func (p *propagation) keysOf(user string) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var keys []string
	for k, m := range p.known {
		if m.owner == user && strings.HasPrefix(k, "access key ") {
			keys = append(keys, k)
		}
	}
	return keys
}

func (p *propagation) countOf(key string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.known[key].count
}

func (p *propagation) withPrefix(prefix, suffix string) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var keys []string
	for k := range p.known {
		if strings.HasPrefix(k, prefix) && strings.HasSuffix(k, suffix) {
			keys = append(keys, k)
		}
	}
	return keys
}

// learn remembers what a call made, or was told exists, and forgets what
// it deleted. A CreateUser without an answer may have made the user: it is
// remembered too, so that a rollback does not read a NoSuchEntity that
// IAM has not caught up with as "never made".
func (p *propagation) learn(params, result any, err error, retried bool) {
	var exists *types.EntityAlreadyExistsException
	var ae smithy.APIError
	made := err == nil
	told := errors.As(err, &exists)
	unanswered := err != nil && !errors.As(err, &ae)
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	switch in := params.(type) {
	case *iam.CreateUserInput:
		if made || told || unanswered {
			p.known[userKey(in.UserName)] = madeEntity{at: now}
		}
	case *iam.CreateGroupInput:
		if made || told {
			p.known[groupKey(in.GroupName)] = madeEntity{at: now}
		}
	case *iam.CreateAccessKeyInput:
		if out, ok := result.(*iam.CreateAccessKeyOutput); made && ok && out.AccessKey != nil {
			p.known[accessKeyKey(out.AccessKey.AccessKeyId)] = madeEntity{at: now, owner: strings.ToLower(aws.ToString(out.AccessKey.UserName))}
		}
		var limit *types.LimitExceededException
		if errors.As(err, &limit) && retried {
			p.known[keyCountKey(in.UserName)] = madeEntity{at: now, count: 2}
		}
	case *iam.PutUserPolicyInput:
		p.remember(made, userPolicyKey(in.UserName, in.PolicyName), now)
	case *iam.PutGroupPolicyInput:
		p.remember(made, groupPolicyKey(in.GroupName, in.PolicyName), now)
	case *iam.AddUserToGroupInput:
		p.remember(made, memberKey(in.UserName, in.GroupName), now)
	default:
		if made {
			p.forget(params)
		}
	}
}

func (p *propagation) remember(made bool, key string, now time.Time) {
	if made {
		p.known[key] = madeEntity{at: now}
	}
}

// forget drops what a successful delete removed. Callers hold p.mu.
func (p *propagation) forget(params any) {
	switch in := params.(type) {
	case *iam.DeleteUserInput:
		user := userKey(in.UserName)
		for k, m := range p.known { // the user, and its keys, policies and memberships
			if k == user || m.owner == strings.ToLower(aws.ToString(in.UserName)) ||
				strings.HasSuffix(k, " of "+user) || strings.HasPrefix(k, user+" in ") {
				delete(p.known, k)
			}
		}
	case *iam.DeleteGroupInput:
		delete(p.known, groupKey(in.GroupName))
	case *iam.DeleteAccessKeyInput:
		delete(p.known, accessKeyKey(in.AccessKeyId))
		if m, ok := p.known[keyCountKey(in.UserName)]; ok {
			m.count--
			p.known[keyCountKey(in.UserName)] = m
		}
	case *iam.DeleteUserPolicyInput:
		delete(p.known, userPolicyKey(in.UserName, in.PolicyName))
	case *iam.DeleteGroupPolicyInput:
		delete(p.known, groupPolicyKey(in.GroupName, in.PolicyName))
	case *iam.RemoveUserFromGroupInput:
		delete(p.known, memberKey(in.UserName, in.GroupName))
	}
}
