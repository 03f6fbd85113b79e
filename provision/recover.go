package provision

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/sesmtp/sesmtp/exitcode"
)

// Recovered says what Resolve did about a dead run's work.
type Recovered struct {
	// Kept describes delivered work that stays ("" when none).
	Kept string
	// Removed lists what Resolve undid; Finished what it completed; Left
	// what it left because nothing proves it was the dead run's.
	Removed, Finished, Left []string
	// Resume (rotate-recreate) is the configuration to restore the user
	// from: the dead run may have deleted it, and delivered no new key.
	Resume *SavedConfig
	// Withdrawn says the dead run had delivered, but IAM no longer holds
	// its key (another process deleted the key or the user since): the
	// delivery names a deleted key, and the caller takes it back.
	Withdrawn bool
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
		held, herr := HoldsKey(ctx, c, p.User, p.KeyID)
		switch {
		case herr != nil:
			return rec, herr
		case !held:
			rec.Withdrawn = true // and a key rotation's old keys stay: the new one is gone
		case p.Flow == FlowRotateKey:
			rec.Kept = fmt.Sprintf("the delivered credentials of IAM user %q (access key %s)", p.User, p.KeyID)
			rec.Finished, err = retireOld(ctx, c, p)
		default:
			rec.Kept = fmt.Sprintf("the delivered credentials of IAM user %q (access key %s)", p.User, p.KeyID)
		}
	case p.Flow == FlowRotateKey && p.User != "":
		rec.Removed, err = removeNewKeys(ctx, c, p)
	case p.UserRunID != "" && p.User != "":
		rec.Removed, rec.Left, err = recoverUser(ctx, c, p)
	}
	var unproven *UnprovenKeysError
	if err != nil && !errors.As(err, &unproven) {
		return rec, withGroups(err, p.Groups)
	}
	if p.Flow == FlowRecreate && !delivered && p.Saved != nil {
		rec.Resume = p.Saved
	}
	for i, g := range p.Groups {
		removed, err := deleteGroupIfEmpty(ctx, c, g.Name, g.Policy)
		rec.Removed = append(rec.Removed, removed...)
		if err != nil && len(rec.Removed) > 0 {
			return rec, withGroups(&RecoveryLeftError{Err: err, Removed: rec.Removed}, p.Groups[i:])
		}
		if err != nil {
			return rec, err
		}
	}
	if unproven != nil {
		for _, k := range unproven.Keys {
			rec.Left = append(rec.Left, "access key "+aws.ToString(k.AccessKeyId))
		}
		return rec, unproven // the rest is done; these keys are the operator's to judge
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
// if IAM's answer was recorded. Else the run died while its
// CreateAccessKey may have made a key nobody knows: of the keys the user
// did not have before (p.OldKeys), only those created within the run's
// window (p.KeyWindow) can be its, and only on the very user it rotated
// (p.UserID): those are removed. Any other is left, and reported (an
// *UnprovenKeysError, exit 4): a key another run delivered since, or one
// made by hand, is not the dead run's to remove.
func removeNewKeys(ctx context.Context, c IAMAPI, p Progress) ([]string, error) {
	if p.KeyID != "" {
		return DeleteKeys(ctx, c, p.User, []string{p.KeyID})
	}
	u, err := getUser(ctx, c, p.User)
	if isNoSuchEntity(err) {
		return nil, nil // gone, with every key it had
	}
	if err != nil {
		return nil, err
	}
	if p.UserID != "" && aws.ToString(u.UserId) != p.UserID {
		return nil, nil // another user of that name, made since: none of its keys is the dead run's
	}
	keys, err := listKeys(ctx, c, p.User)
	if isNoSuchEntity(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var strays []string
	var unproven []types.AccessKeyMetadata
	for _, k := range keys {
		switch id := aws.ToString(k.AccessKeyId); {
		case slices.Contains(p.OldKeys, id):
		case p.KeyWindow.Contains(aws.ToTime(k.CreateDate)):
			strays = append(strays, id)
		default:
			unproven = append(unproven, k)
		}
	}
	removed, err := DeleteKeys(ctx, c, p.User, strays)
	if err != nil || len(unproven) == 0 {
		return removed, err
	}
	return removed, &UnprovenKeysError{UserName: p.User, Window: p.KeyWindow, Keys: unproven, Removed: removed}
}

// UnprovenKeysError reports keys a recovery leaves because nothing proves
// they are the dead run's: a key rotation died while its CreateAccessKey
// may have made a key whose id it never recorded, and the user holds keys
// made outside that run's window (or the run recorded none). They may be
// another run's delivered key, or one made by hand; if no file or store
// holds one's secret, the operator removes it.
type UnprovenKeysError struct {
	UserName string
	Window   *Window
	Keys     []types.AccessKeyMetadata
	// Removed is what the recovery did remove (keys made within the window).
	Removed []string
}

func (e *UnprovenKeysError) Error() string {
	var keys, cmds []string
	for _, k := range e.Keys {
		id := aws.ToString(k.AccessKeyId)
		keys = append(keys, fmt.Sprintf("%s (created %s)", id, aws.ToTime(k.CreateDate).UTC().Format(time.RFC3339)))
		cmds = append(cmds, fmt.Sprintf("aws iam delete-access-key --user-name %s --access-key-id %s", e.UserName, id))
	}
	within := fmt.Sprintf("it could only have made one within %s, and IAM user %q holds access key(s) %s made outside that window or not before it: "+
		"another run's, or made by hand", e.Window, e.UserName, strings.Join(keys, ", "))
	if e.Window == nil || e.Window.Until.IsZero() {
		within = fmt.Sprintf("it recorded no end to the time in which it could have made one (--timeout 0, or an earlier sesmtp), "+
			"so none of IAM user %q's access key(s) %s can be proven its: each may be another run's, or made by hand", e.UserName, strings.Join(keys, ", "))
	}
	msg := fmt.Sprintf("the earlier run died while its iam:CreateAccessKey for user %q may have made a key whose id it never recorded; "+
		"%s, so sesmtp leaves them. Left behind: possibly a key no file holds the secret of. "+
		"Check 'sesmtp list --all-users' and your credentials files; remove a key no sender has with: %s. "+
		"The earlier run's record is removed: run the command again",
		e.UserName, within, strings.Join(cmds, "; "))
	if len(e.Removed) > 0 {
		msg += fmt.Sprintf(" (already removed, made within that window: %s)", strings.Join(e.Removed, ", "))
	}
	return msg
}

// ExitCode implements exitcode.Coder: something may be left behind.
func (e *UnprovenKeysError) ExitCode() int { return exitcode.LeftBehind }

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
