package provision

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/sesmtp/sesmtp/credfile"
	"github.com/sesmtp/sesmtp/derive"
	"github.com/sesmtp/sesmtp/exitcode"
)

// Rotation strategies.
const (
	// StrategyRecreate deletes the user and creates it again with the same
	// configuration and a new key: the method AWS documents. Senders fail
	// from the delete until they use the new password.
	StrategyRecreate = "recreate"
	// StrategyKey adds a second key and hands it over, leaving the old one
	// active and recorded for 'sesmtp retire' (TagRetire): senders move to
	// the new password, then retire deactivates and deletes the old key.
	StrategyKey = "key"
)

// RotateInput is what Rotate needs.
type RotateInput struct {
	UserName string
	Strategy string
	Regions  []string
	// FIPS is as in CreateInput.
	FIPS bool
	// Journal and Verify are as in CreateInput; Journal is required.
	Journal Journal
	Verify  func(context.Context, credfile.Credentials) error
	// Resume (recreate) is the configuration a rotation that died after
	// deleting the user saved (from its journal): the user is restored
	// from it rather than from what is left of the user.
	Resume *SavedConfig
	// ReplaceOldest (key strategy) deletes the older of two existing keys
	// first instead of refusing (never while a retirement is pending).
	ReplaceOldest bool
	// DeactivateOld (key strategy, deprecated) deactivates the old key as
	// soon as the new one is delivered, and records that in TagRetire, as
	// a first 'sesmtp retire' would; retire deletes it after its grace.
	DeactivateOld bool
	// RetireNow (key strategy) deletes the old key as soon as the new one
	// is delivered: the one-step rotation, for a key that must go now.
	RetireNow bool
	// Now is when the rotation begins, recorded in TagRetire, if IAM's
	// answer carries no time of its own (IAM's clock, its Date header, is
	// what is recorded); zero: time.Now().
	Now time.Time
	// Force rotates a user that holds more than an SMTP user (AnyUserFlag);
	// without it both strategies refuse one, as Delete does.
	Force bool
	// Confirm, if set, is called once the user is found to exist and to be
	// an SMTP user, before anything changes; false aborts with nothing changed.
	Confirm func() bool
	// PermissionsBoundary (recreate), if set, is the boundary the new user
	// gets, whatever the old one had; else it keeps the old one's.
	PermissionsBoundary string
	// Warn is as in DeleteInput (recreate).
	Warn func(string)
	// OwnTags (recreate) are sesmtp's own tags the recreated user gets
	// (where its credentials are stored), as in CreateInput.
	OwnTags []Tag
	// Delivery is as in CreateInput.
	Delivery Delivery
}

// RotateResult says what Rotate did. It holds no secret.
type RotateResult struct {
	UserName       string   `json:"user_name"`
	Strategy       string   `json:"strategy"`
	NewAccessKeyID string   `json:"new_access_key_id"`
	OldAccessKeys  []string `json:"old_access_key_ids"`
	// OldKeys says what happened to them: "deleted", "active, pending
	// retirement", "deactivated, pending retirement" or "none".
	OldKeys string       `json:"old_keys"`
	Regions []string     `json:"regions"`
	Saved   *SavedConfig `json:"saved_configuration,omitempty"`
	// PendingRetirement (key strategy) is the old key's retirement as
	// TagRetire records it; Next is the command that finishes it.
	PendingRetirement *Retirement `json:"pending_retirement,omitempty"`
	Next              string      `json:"next,omitempty"`
}

// SavedConfig is the configuration of a user that recreate restores.
type SavedConfig struct {
	Path                string            `json:"path"`
	Tags                []Tag             `json:"tags,omitempty"`
	PermissionsBoundary string            `json:"permissions_boundary,omitempty"`
	InlinePolicies      map[string]string `json:"inline_policies,omitempty"`
	Groups              []string          `json:"groups,omitempty"`
}

// Rotate gives user a new access key and SMTP password by in.Strategy.
func Rotate(ctx context.Context, c IAMAPI, in RotateInput) (RotateResult, error) {
	if err := CheckName("user name", in.UserName, MaxUserNameLen); err != nil {
		return RotateResult{}, err
	}
	if len(in.Regions) == 0 {
		return RotateResult{}, errNoRegions
	}
	if in.Journal == nil {
		return RotateResult{}, errNoJournal
	}
	if in.Strategy != StrategyKey && in.Strategy != StrategyRecreate && in.Strategy != "" {
		return RotateResult{}, exitcode.UsageError(fmt.Errorf("unknown strategy %q: use %s or %s", in.Strategy, StrategyRecreate, StrategyKey))
	}
	if in.RetireNow && in.DeactivateOld {
		return RotateResult{}, exitcode.UsageError(errors.New("--retire-now deletes the old key and --deactivate-old keeps it inactive: choose one"))
	}
	sk := &skips{warn: in.Warn} // one warning per skipped listing, inspection and purge alike
	insp, err := checkRotatable(ctx, c, in, sk)
	var missing *NoSuchUserError
	gone := in.Strategy != StrategyKey && in.Resume != nil && errors.As(err, &missing) // a dead rotation deleted it
	if err != nil && !gone {
		return RotateResult{UserName: in.UserName, Strategy: in.Strategy, Regions: in.Regions}, err
	}
	if in.Strategy == StrategyKey {
		return rotateKey(ctx, c, in, insp.User)
	}
	return recreate(ctx, c, in, insp, gone, sk)
}

// checkRotatable inspects the user before any change: it must exist and,
// unless in.Force, look like an SMTP user (a key for an administrator is
// not SMTP credentials); then in.Confirm is asked.
func checkRotatable(ctx context.Context, c IAMAPI, in RotateInput, sk *skips) (Inspection, error) {
	insp, err := inspect(ctx, c, in.UserName, sk)
	if isNoSuchEntity(err) {
		return insp, &NoSuchUserError{UserName: in.UserName, Command: "rotate"}
	}
	if err != nil {
		return insp, beforeChange(err)
	}
	if found := insp.NotSMTP(); len(found) > 0 && !in.Force {
		return insp, &NotSMTPUserError{UserName: in.UserName, Found: found, Command: "rotate"}
	}
	if in.Confirm != nil && !in.Confirm() {
		return insp, ErrAborted
	}
	return insp, nil
}

// TooManyKeysError refuses a key rotation for a user that already has the
// two keys IAM allows.
type TooManyKeysError struct {
	UserName string
	Keys     []types.AccessKeyMetadata
}

func (e *TooManyKeysError) Error() string {
	var ks []string
	for _, k := range e.Keys {
		ks = append(ks, fmt.Sprintf("%s (%s, created %s)", aws.ToString(k.AccessKeyId), k.Status, aws.ToTime(k.CreateDate).Format("2006-01-02")))
	}
	return fmt.Sprintf("IAM user %q already has the two access keys IAM allows: %s. A key rotation needs room for a "+
		"new one: delete the one no sender uses ('sesmtp list' shows when each was last used), or pass "+
		"--replace-oldest to delete the older first. Nothing was changed", e.UserName, strings.Join(ks, ", "))
}

// ExitCode implements exitcode.Coder.
func (e *TooManyKeysError) ExitCode() int { return exitcode.Usage }

func rotateKey(ctx context.Context, c IAMAPI, in RotateInput, user types.User) (RotateResult, error) {
	res := RotateResult{UserName: in.UserName, Strategy: StrategyKey, Regions: in.Regions}
	mode := retireMode(in)
	if in.Now.IsZero() {
		in.Now = time.Now()
	}
	old, replaced, listedAt, err := oldKeys(ctx, c, in, user.Tags)
	if err != nil {
		return res, err
	}
	res.OldAccessKeys = keyIDsOf(old)
	pending := pendingRetirement(mode, res.OldAccessKeys, listedAt)
	note := keyRotationNote{old: res.OldAccessKeys, mode: mode, pending: pending,
		userID: aws.ToString(user.UserId), window: keyWindow(ctx, listedAt)}
	if err := noteKeyRotation(in, note); err != nil {
		return res, err
	}
	kr := &keyRun{c: c, in: in, keep: res.OldAccessKeys, replaced: replaced}
	id, err := kr.run(ctx)
	if err != nil {
		return res, kr.rollback(ctx, err)
	}
	res.NewAccessKeyID = id
	res.OldKeys = describeOld(mode, res.OldAccessKeys)
	if err := finishOld(ctx, c, in.UserName, mode, old, pending); err != nil {
		return res, kr.afterDelivery(ctx, err)
	}
	if replaced != "" {
		res.OldAccessKeys = append(res.OldAccessKeys, replaced)
	}
	if pending != nil {
		res.PendingRetirement, res.Next = pending, "sesmtp retire --user "+in.UserName
	}
	return res, kr.confirm(ctx)
}

// oldKeys lists the user's keys and makes room for a new one: it refuses
// a user with a pending retirement, and one at two keys unless
// in.ReplaceOldest, which deletes the older (returned as replaced). It
// returns IAM's time of the listing too.
func oldKeys(ctx context.Context, c IAMAPI, in RotateInput, tags []types.Tag) ([]types.AccessKeyMetadata, string, time.Time, error) {
	old, listedAt, err := listKeysAt(ctx, c, in.UserName, in.Now)
	if err != nil {
		return nil, "", listedAt, beforeChange(err)
	}
	if err := checkNoPendingRetirement(in.UserName, tags, old); err != nil {
		return nil, "", listedAt, err
	}
	if len(old) < 2 {
		return old, "", listedAt, nil
	}
	if !in.ReplaceOldest {
		return nil, "", listedAt, &TooManyKeysError{UserName: in.UserName, Keys: old}
	}
	oldest := slices.MinFunc(old, func(a, b types.AccessKeyMetadata) int {
		return aws.ToTime(a.CreateDate).Compare(aws.ToTime(b.CreateDate))
	})
	replaced := aws.ToString(oldest.AccessKeyId)
	if _, err := c.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String(in.UserName), AccessKeyId: oldest.AccessKeyId}); err != nil {
		return nil, "", listedAt, beforeChange(awsError("DeleteAccessKey", replaced, err))
	}
	return slices.DeleteFunc(old, func(k types.AccessKeyMetadata) bool { return aws.ToString(k.AccessKeyId) == replaced }), replaced, listedAt, nil
}

// keyRotationNote is what a key rotation records before CreateAccessKey.
type keyRotationNote struct {
	old     []string
	mode    string
	pending *Retirement
	userID  string
	window  *Window
}

// noteKeyRotation records, before CreateAccessKey, the old keys (a
// recovery removes only a key that is not one of these, and retires or
// records only these), what becomes of them, the record to write, and
// which user and when (a recovery that does not learn the new key's id
// removes only a key of that very user made within that window).
func noteKeyRotation(in RotateInput, n keyRotationNote) error {
	err := in.Journal.Note(func(p *Progress) {
		p.Flow, p.User, p.OldKeys, p.Retire, p.KeyID, p.RetireTag = FlowRotateKey, in.UserName, n.old, n.mode, "", ""
		p.UserID, p.KeyWindow, p.Request = n.userID, n.window, in.Request()
		if n.pending != nil {
			p.RetireTag = n.pending.Value()
		}
	})
	if err != nil {
		return fmt.Errorf("record the rotation of %q: %w", in.UserName, err)
	}
	return nil
}

// keyRun is a key rotation between creating the new key and retiring the old.
type keyRun struct {
	c         IAMAPI
	in        RotateInput
	keep      []string // the old keys, which stay until the new one works
	replaced  string   // the oldest key, deleted to make room (cannot be undone)
	newKey    string
	retried   bool // CreateAccessKey was retried: a lost answer may have made a stray key
	delivered bool
}

func (k *keyRun) run(ctx context.Context) (string, error) {
	var tries attempts
	out, err := k.c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(k.in.UserName)}, tries.option)
	if err != nil {
		// An answered error of a call sent once made no key: there is
		// nothing to sweep, and a key another run made meanwhile is not
		// this run's. Only a lost answer, or a retry after one, may have.
		k.retried = tries.mayHaveTakenEffect(err)
		if isNoSuchEntity(err) && !k.retried {
			return "", &UserGoneError{UserName: k.in.UserName}
		}
		return "", awsError("CreateAccessKey", fmt.Sprintf("for user %q", k.in.UserName), err)
	}
	k.retried = tries.retried()
	if err := checkAccessKey(out.AccessKey); err != nil {
		k.retried = true // a key was made, and its id may be unknown: sweep
		if out.AccessKey != nil {
			k.newKey = aws.ToString(out.AccessKey.AccessKeyId)
		}
		return "", err
	}
	k.newKey = aws.ToString(out.AccessKey.AccessKeyId)
	if err := k.in.Journal.Note(func(p *Progress) { p.KeyID = k.newKey }); err != nil {
		return "", fmt.Errorf("record new access key %s: %w", k.newKey, err)
	}
	if k.retried {
		if _, err := deleteKeysExcept(ctx, k.c, k.in.UserName, append(slices.Clone(k.keep), k.newKey)...); err != nil {
			return "", err
		}
	}
	creds := credentialsFor(k.in.UserName, out.AccessKey, k.in.Regions, k.in.FIPS)
	if err := k.in.Journal.Deliver(ctx, creds); err != nil {
		return "", fmt.Errorf("hand over the new credentials: %w", err)
	}
	k.delivered = true
	if k.in.Verify != nil {
		if err := k.in.Verify(ctx, creds); err != nil {
			return "", err
		}
	}
	return k.newKey, nil
}

// confirm is the rotation's last IAM call: the new key must still be
// there, or exit 0 would be a lie. By now the old keys are retired, so a
// failure is reported, not rolled back.
func (k *keyRun) confirm(ctx context.Context) error {
	err := finalCheck(ctx, k.c, k.in.UserName, k.newKey)
	var conflict *ConflictError
	if errors.As(err, &conflict) {
		conflict.RetractErr = k.in.Journal.Retract(context.WithoutCancel(ctx))
		conflict.Retracted = conflict.RetractErr == nil
	}
	return err
}

// afterDelivery is the error to report when a step after the delivery
// failed: if another process removed the new key (or the whole user)
// meanwhile, that is the truth, and the delivery, which names a deleted
// key, is taken back (a ConflictError, exit 1); else err.
func (k *keyRun) afterDelivery(ctx context.Context, err error) error {
	var conflict *ConflictError
	if !errors.As(confirmKey(ctx, k.c, k.in.UserName, k.newKey), &conflict) {
		return err
	}
	conflict.RetractErr = k.in.Journal.Retract(context.WithoutCancel(ctx))
	conflict.Retracted = conflict.RetractErr == nil
	return conflict
}

// rollback deletes the new key (and any stray one) and retracts the file.
// Only the new key is deleted when its id is known and no retry may have
// made another: a key another run made meanwhile is not this run's.
func (k *keyRun) rollback(ctx context.Context, cause error) error {
	if left := keepPartial(cause, fmt.Sprintf("new access key %s of user %q (the old keys stay)", k.newKey, k.in.UserName)); left != nil {
		return left
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), rollbackTimeout)
	defer cancel()
	var undone []string
	if k.delivered {
		if err := k.in.Journal.Retract(ctx); err != nil {
			return &LeftBehindError{Err: cause, UndoErr: err, Remains: []string{"the new credentials file"}, Cleanup: "remove the file by hand"}
		}
		undone = append(undone, "the new credentials file")
	}
	var stray int
	var err error
	switch {
	case k.retried:
		// A lost answer may have made a key whose id nobody knows.
		stray, err = deleteKeysExcept(ctx, k.c, k.in.UserName, k.keep...)
	case k.newKey != "":
		_, err = DeleteKeys(ctx, k.c, k.in.UserName, []string{k.newKey})
	}
	if err != nil {
		return &LeftBehindError{Err: cause, UndoErr: err, Undone: undone,
			Remains: []string{"a new access key of user " + k.in.UserName + " that no file holds the secret of"},
			Cleanup: fmt.Sprintf("sesmtp list --all-users, then aws iam delete-access-key --user-name %s --access-key-id ID for any key but %s",
				k.in.UserName, strings.Join(k.keep, ", "))}
	}
	switch {
	case k.newKey != "":
		undone = append(undone, "new access key "+k.newKey)
	case stray > 0:
		undone = append(undone, fmt.Sprintf("%d access key(s) made by calls whose answers were lost", stray))
	}
	if k.newKey != "" && stray > 1 {
		undone = append(undone, fmt.Sprintf("%d access key(s) made by calls whose answers were lost", stray-1))
	}
	if k.replaced != "" {
		return &LeftBehindError{Err: cause, UndoErr: errors.New("the oldest key cannot be restored"), Undone: undone,
			Remains: []string{"old access key " + k.replaced + " is deleted (--replace-oldest)"},
			Cleanup: fmt.Sprintf("sesmtp rotate --user %s --strategy key once the cause is fixed", k.in.UserName)}
	}
	return &RolledBackError{Err: cause, Undone: undone}
}

// retireKeys deletes (or deactivates) the old keys once the new one is out.
func retireKeys(ctx context.Context, c IAMAPI, user string, old []types.AccessKeyMetadata, deactivate bool) error {
	for _, k := range old {
		id := aws.ToString(k.AccessKeyId)
		if err := retireKey(ctx, c, user, id, deactivate); err != nil {
			return &LeftBehindError{Err: err, UndoErr: errors.New("the new credentials are written and work; the old key stays"),
				Remains: []string{"old access key " + id + " (still " + string(k.Status) + ")"},
				Cleanup: fmt.Sprintf("aws iam delete-access-key --user-name %s --access-key-id %s", user, id)}
		}
	}
	return nil
}

// retireKey deletes or deactivates one old key; one already gone is fine.
func retireKey(ctx context.Context, c IAMAPI, user, id string, deactivate bool) error {
	if deactivate {
		_, err := c.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String(user), AccessKeyId: aws.String(id), Status: types.StatusTypeInactive})
		if isNoSuchEntity(err) {
			return nil
		}
		return awsError("UpdateAccessKey", id, err)
	}
	_, err := c.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String(user), AccessKeyId: aws.String(id)})
	if isNoSuchEntity(err) {
		return nil
	}
	return awsError("DeleteAccessKey", id, err)
}

// credentialsFor derives the passwords of a new key for regions (their
// FIPS endpoints if fips).
func credentialsFor(user string, key *types.AccessKey, regions []string, fips bool) credfile.Credentials {
	creds := credfile.Credentials{UserName: user, AccessKeyID: aws.ToString(key.AccessKeyId),
		SecretAccessKey: credfile.Secret(aws.ToString(key.SecretAccessKey))}
	for _, region := range regions {
		creds.Passwords = append(creds.Passwords, credfile.RegionPassword{
			Region: region, Endpoint: derive.Endpoint(region, fips),
			Password: credfile.Secret(derive.PasswordV4(creds.SecretAccessKey.Reveal(), region)),
		})
	}
	return creds
}

// RecreateError reports a user that was deleted and could not be created
// again; it carries the configuration to recreate it by hand.
type RecreateError struct {
	UserName string
	Saved    SavedConfig
	Err      error
}

func (e *RecreateError) Error() string {
	cfg, _ := json.Marshal(e.Saved)
	return fmt.Sprintf("IAM user %q was deleted but could not be created again: %v. Its configuration was %s. "+
		"Recreate it with sesmtp create --user %s (with those --path, --tag and --group or policy) once the cause is fixed",
		e.UserName, e.Err, cfg, e.UserName)
}

// Unwrap returns the failure.
func (e *RecreateError) Unwrap() error { return e.Err }

// ExitCode implements exitcode.Coder.
func (e *RecreateError) ExitCode() int { return exitcode.LeftBehind }

func recreate(ctx context.Context, c IAMAPI, in RotateInput, insp Inspection, gone bool, sk *skips) (RotateResult, error) {
	res := RotateResult{UserName: in.UserName, Strategy: StrategyRecreate, Regions: in.Regions, OldKeys: "deleted"}
	saved := saveConfig(insp)
	if in.Resume != nil {
		saved = *in.Resume
	}
	if in.PermissionsBoundary != "" {
		saved.PermissionsBoundary = in.PermissionsBoundary
	}
	if err := CheckBoundary(ctx, c, saved.PermissionsBoundary); err != nil {
		return res, err // before anything is deleted
	}
	res.Saved = &saved
	res.OldAccessKeys = keyIDsOf(insp.AccessKeys)
	// Recorded before the delete: if this run dies after it, the next
	// rotation restores the user from this, not from what is left.
	if err := in.Journal.Note(func(p *Progress) {
		p.Flow, p.User, p.Saved, p.Request = FlowRecreate, in.UserName, &saved, in.Request()
	}); err != nil {
		return res, fmt.Errorf("record the configuration of %q before deleting it: %w", in.UserName, err)
	}
	if !gone {
		p := &purger{c: c, user: in.UserName, skips: sk}
		if err := p.purge(ctx, purgeAll); err != nil {
			if len(p.done) == 0 && in.Resume == nil {
				return res, beforeChange(err)
			}
			return res, &RecreateError{UserName: in.UserName, Saved: saved, Err: fmt.Errorf("the delete stopped part way: %w", err)}
		}
	}
	created, err := Create(ctx, c, CreateInput{
		UserName: in.UserName, Path: saved.Path, Tags: saved.Tags, PermissionsBoundary: saved.PermissionsBoundary,
		Restore: &saved, Regions: in.Regions, FIPS: in.FIPS, Journal: in.Journal, Verify: in.Verify, Listed: true,
		OwnTags: in.OwnTags,
	})
	var conflict *ConflictError
	var unconfirmed *UnconfirmedError
	if errors.As(err, &conflict) || errors.As(err, &unconfirmed) {
		return res, err
	}
	if err != nil {
		return res, &RecreateError{UserName: in.UserName, Saved: saved, Err: err}
	}
	res.NewAccessKeyID = created.AccessKeyID
	return res, nil
}

// saveConfig keeps what recreate restores: path, tags (not sesmtp's own),
// boundary, inline policies and groups.
func saveConfig(insp Inspection) SavedConfig {
	saved := SavedConfig{Path: aws.ToString(insp.User.Path), InlinePolicies: insp.InlinePolicies,
		Groups: append(slices.Clone(insp.SendingGroups), insp.OtherGroups...)}
	if insp.User.PermissionsBoundary != nil {
		saved.PermissionsBoundary = aws.ToString(insp.User.PermissionsBoundary.PermissionsBoundaryArn)
	}
	for _, t := range insp.User.Tags {
		if !strings.HasPrefix(strings.ToLower(aws.ToString(t.Key)), ownTagPrefix) {
			saved.Tags = append(saved.Tags, Tag{Key: aws.ToString(t.Key), Value: aws.ToString(t.Value)})
		}
	}
	return saved
}

// restoreGrants puts saved inline policies and group memberships on user.
func restoreGrants(ctx context.Context, c IAMAPI, user string, saved *SavedConfig) error {
	for _, name := range slices.Sorted(maps.Keys(saved.InlinePolicies)) {
		_, err := c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String(user), PolicyName: aws.String(name),
			PolicyDocument: aws.String(saved.InlinePolicies[name])})
		if err != nil {
			return awsError("PutUserPolicy", fmt.Sprintf("%q on user %q", name, user), err)
		}
	}
	for _, g := range saved.Groups {
		_, err := c.AddUserToGroup(ctx, &iam.AddUserToGroupInput{UserName: aws.String(user), GroupName: aws.String(g)})
		if err != nil {
			return awsError("AddUserToGroup", fmt.Sprintf("user %q to group %q", user, g), err)
		}
	}
	return nil
}
