package provision

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
)

// Recover removes the user a run that died before handing over its
// credentials created: the user named user, if it carries runID in its
// TagRunID tag (never anybody else's), with its keys, inline policies and
// group memberships. It returns what it removed; nothing when the user is
// gone or not that run's.
func Recover(ctx context.Context, c IAMAPI, user, runID string) ([]string, error) {
	u, err := getUser(ctx, c, user)
	if isNoSuchEntity(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if tagValue(u.Tags, TagRunID) != runID {
		return nil, nil
	}
	p := &purger{c: c, user: user}
	err = p.purge(ctx, purgeOwn)
	return p.done, err
}

// Recovered says what Resolve did about a dead run's work.
type Recovered struct {
	// Kept describes delivered work that stays ("" when none).
	Kept string
	// Removed lists what Resolve undid; Finished what it completed.
	Removed, Finished []string
	// Resume (rotate-recreate) is the configuration to restore the user
	// from: the dead run may have deleted it, and delivered no new key.
	Resume *SavedConfig
}

// Resolve finishes or undoes the work of a run that died (SIGKILL, power
// loss), from the progress its journal recorded and whether its new key
// was delivered (the caller proves that from the target, e.g. the file at
// the path names p.KeyID).
//
// Delivered work is never undone: it stays, and a key rotation's
// retirement of the old keys is completed. Undelivered work is removed,
// but only what p proves was that run's: the user carrying p.UserRunID,
// key p.KeyID (or, when its answer was lost, keys the user did not have
// before, p.OldKeys), and groups in p.Groups that are still empty.
func Resolve(ctx context.Context, c IAMAPI, p Progress, delivered bool) (Recovered, error) {
	var rec Recovered
	var err error
	switch {
	case delivered:
		rec.Kept = fmt.Sprintf("the delivered credentials of IAM user %q (access key %s)", p.User, p.KeyID)
		if p.Flow == FlowRotateKey {
			rec.Finished, err = retireOld(ctx, c, p)
		}
	case p.Flow == FlowRotateKey && p.User != "":
		rec.Removed, err = removeNewKeys(ctx, c, p)
	case p.UserRunID != "" && p.User != "":
		rec.Removed, err = Recover(ctx, c, p.User, p.UserRunID)
	}
	if err != nil {
		return rec, err
	}
	if p.Flow == FlowRecreate && !delivered && p.Saved != nil {
		rec.Resume = p.Saved
	}
	for _, g := range p.Groups {
		removed, err := deleteGroupIfEmpty(ctx, c, g.Name, g.Policy)
		rec.Removed = append(rec.Removed, removed...)
		if err != nil {
			return rec, err
		}
	}
	return rec, nil
}

// retireOld completes a delivered key rotation: the old keys it listed
// are deleted or deactivated as it was told, and the pending retirement
// it noted is recorded on the user (TagRetire).
func retireOld(ctx context.Context, c IAMAPI, p Progress) ([]string, error) {
	var done []string
	if p.Retire == RetireDelete || p.Retire == RetireDeactivate || p.Retire == "" {
		for _, id := range p.OldKeys {
			if err := retireKey(ctx, c, p.User, id, p.Retire == RetireDeactivate); err != nil {
				return done, err
			}
			done = append(done, fmt.Sprintf("old access key %s %sd", id, cmp.Or(p.Retire, RetireDelete)))
		}
	}
	if p.RetireTag == "" || p.Retire == RetireDelete {
		return done, nil
	}
	recorded, err := recordRetirement(ctx, c, p.User, p.RetireTag)
	return append(done, recorded...), err
}

// removeNewKeys removes the undelivered key of a dead key rotation: p.KeyID
// if IAM's answer was recorded, else every key the user did not have before.
func removeNewKeys(ctx context.Context, c IAMAPI, p Progress) ([]string, error) {
	if p.KeyID != "" {
		return DeleteKeys(ctx, c, p.User, []string{p.KeyID})
	}
	keys, err := listKeys(ctx, c, p.User)
	if isNoSuchEntity(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	ids := slices.DeleteFunc(keyIDsOf(keys), func(id string) bool { return slices.Contains(p.OldKeys, id) })
	return DeleteKeys(ctx, c, p.User, ids)
}

// DeleteKeys deletes user's access keys ids; a key or user already gone is
// fine. It returns what it deleted.
func DeleteKeys(ctx context.Context, c IAMAPI, user string, ids []string) ([]string, error) {
	var done []string
	for _, id := range ids {
		_, err := c.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String(user), AccessKeyId: aws.String(id)})
		if isNoSuchEntity(err) {
			continue
		}
		if err != nil {
			return done, awsError("DeleteAccessKey", fmt.Sprintf("%s of user %q", id, user), err)
		}
		done = append(done, "access key "+id)
	}
	return done, nil
}
