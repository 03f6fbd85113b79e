package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
)

// The staging labels Secrets Manager moves by itself (Secrets Manager API
// reference, PutSecretValue and UpdateSecretVersionStage).
const (
	stageCurrent  = "AWSCURRENT"
	stagePrevious = "AWSPREVIOUS"
)

// secretsManagerStore writes the payload as one secret's JSON value.
//
// Each delivery is a secret version whose id (ClientRequestToken) is made
// from the access key id. A version is immutable and tied to its value, so
// "the version staged AWSCURRENT is the key's" is true exactly when the
// secret's current value holds that key: Holds needs no decryption, a
// retried call is idempotent, and Retract knows what Deliver did.
type secretsManagerStore struct {
	api    SecretsManagerAPI
	target Target
	opts   Options
}

func (s *secretsManagerStore) Target() Target { return s.target }

func (s *secretsManagerStore) resource() string { return fmt.Sprintf("secret %q", s.target.Name) }

// versionTokenPrefix starts every version id sesmtp writes.
const versionTokenPrefix = "sesmtp-access-key-"

// versionToken is the version id of the delivery of keyID: readable when
// it fits Secrets Manager's 32-64 characters, else a digest.
func versionToken(keyID string) string {
	if t := versionTokenPrefix + keyID; len(t) >= 32 && len(t) <= 64 {
		return t
	}
	sum := sha256.Sum256([]byte(keyID))
	return "sesmtp-sha256-" + hex.EncodeToString(sum[:])[:50]
}

// keyIDOfToken returns the key id a readable version id names, or "".
func keyIDOfToken(token string) string {
	keyID, _ := strings.CutPrefix(token, versionTokenPrefix)
	if keyID == token {
		return ""
	}
	return keyID
}

func (s *secretsManagerStore) Deliver(ctx context.Context, p Payload) (Receipt, error) {
	if err := p.check(); err != nil {
		return Receipt{}, err
	}
	value, err := p.document()
	if err != nil {
		return Receipt{}, err
	}
	d, err := s.describe(ctx)
	if err != nil {
		return Receipt{}, err
	}
	var it Item
	r := Receipt{Target: s.target, KeyID: p.AccessKeyID}
	if d == nil {
		r.Attempted = true
		it, err = s.create(ctx, p, value)
	} else if err = s.owned(d, p.IAMUser); err == nil {
		r.Attempted = true
		it, err = s.putVersion(ctx, d, p.AccessKeyID, value)
	}
	if err != nil {
		return r, err
	}
	r.Items = []Item{it}
	return r, nil
}

// describe returns the secret's metadata, nil when there is none.
func (s *secretsManagerStore) describe(ctx context.Context) (*secretsmanager.DescribeSecretOutput, error) {
	d, err := s.api.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(s.target.Name)})
	if isCode[*smtypes.ResourceNotFoundException](err) {
		return nil, nil
	}
	return d, awsError("secretsmanager:DescribeSecret", s.resource(), err)
}

// owned refuses a secret sesmtp may not write for iamUser.
func (s *secretsManagerStore) owned(d *secretsmanager.DescribeSecretOutput, iamUser string) error {
	if err := ownerConflict(s.resource(), secretTags(d), iamUser); err != nil {
		return err
	}
	if d.DeletedDate != nil {
		return &ConflictError{Resource: s.resource(), Kind: ErrScheduledForDeletion,
			Detail: "on " + d.DeletedDate.UTC().Format("2006-01-02"),
			Hint:   "restore it first ('aws secretsmanager restore-secret --secret-id " + s.target.Name + "') or choose another name"}
	}
	return nil
}

func secretTags(d *secretsmanager.DescribeSecretOutput) map[string]string {
	tags := map[string]string{}
	for _, t := range d.Tags {
		tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return tags
}

// stageHolder returns the id of the version that carries stage, or "".
func stageHolder(d *secretsmanager.DescribeSecretOutput, stage string) string {
	for id, stages := range d.VersionIdsToStages {
		if slices.Contains(stages, stage) {
			return id
		}
	}
	return ""
}

// create makes the secret with its first version. A ResourceExistsException
// may answer a retry whose first attempt created it: then the secret is
// ours, with this key's version current.
func (s *secretsManagerStore) create(ctx context.Context, p Payload, value string) (Item, error) {
	token := versionToken(p.AccessKeyID)
	in := &secretsmanager.CreateSecretInput{Name: aws.String(s.target.Name), SecretString: aws.String(value),
		ClientRequestToken: aws.String(token), Tags: ownTags[smtypes.Tag](p.IAMUser, smTag),
		Description: aws.String("SES SMTP credentials of IAM user " + p.IAMUser + " (written by sesmtp)")}
	if s.opts.KMSKeyID != "" {
		in.KmsKeyId = aws.String(s.opts.KMSKeyID)
	}
	out, err := s.api.CreateSecret(ctx, in)
	if err == nil {
		return Item{Name: s.target.Name, Outcome: Created, ARN: aws.ToString(out.ARN), Version: token}, nil
	}
	if isCode[*smtypes.ResourceExistsException](err) {
		if d, derr := s.describe(ctx); derr == nil && d != nil {
			if oerr := s.owned(d, p.IAMUser); oerr != nil {
				return Item{Name: s.target.Name}, oerr
			}
			if stageHolder(d, stageCurrent) == token {
				return Item{Name: s.target.Name, Outcome: Created, ARN: aws.ToString(d.ARN), Version: token}, nil
			}
		}
	}
	return Item{Name: s.target.Name}, awsError("secretsmanager:CreateSecret", s.resource(), err)
}

// putVersion writes keyID's version and stages it AWSCURRENT, which moves
// AWSPREVIOUS to the version it replaces. If that version existed already
// (delivered, then retracted), PutSecretValue ignores the write and the
// stage is moved explicitly.
func (s *secretsManagerStore) putVersion(ctx context.Context, d *secretsmanager.DescribeSecretOutput, keyID, value string) (Item, error) {
	token, current := versionToken(keyID), stageHolder(d, stageCurrent)
	it := Item{Name: s.target.Name, ARN: aws.ToString(d.ARN), Version: token, Outcome: Updated}
	if current == token {
		it.Outcome = Unchanged
		return it, nil
	}
	out, err := s.api.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(s.target.Name),
		ClientRequestToken: aws.String(token), SecretString: aws.String(value)})
	if err != nil {
		return it, awsError("secretsmanager:PutSecretValue", s.resource(), err)
	}
	if !slices.Contains(out.VersionStages, stageCurrent) {
		return it, s.moveCurrent(ctx, token, current)
	}
	return it, nil
}

// moveCurrent stages version to AWSCURRENT, taking it from version from.
func (s *secretsManagerStore) moveCurrent(ctx context.Context, to, from string) error {
	in := &secretsmanager.UpdateSecretVersionStageInput{SecretId: aws.String(s.target.Name),
		VersionStage: aws.String(stageCurrent), MoveToVersionId: aws.String(to)}
	if from != "" {
		in.RemoveFromVersionId = aws.String(from)
	}
	_, err := s.api.UpdateSecretVersionStage(ctx, in)
	return awsError("secretsmanager:UpdateSecretVersionStage", s.resource(), err)
}

// Retract: when keyID's version is current, make AWSPREVIOUS current again
// (Secrets Manager then stages the retracted version AWSPREVIOUS), or,
// with no previous version, the secret was created by the delivery: delete
// it without recovery. Anything else is left alone.
func (s *secretsManagerStore) Retract(ctx context.Context, keyID string) (Retraction, error) {
	r := Retraction{Target: s.target, KeyID: keyID, Items: []Item{{Name: s.target.Name, Outcome: Untouched}}}
	d, err := s.describe(ctx)
	if err != nil || d == nil || secretTags(d)[TagManagedBy] != ManagedByValue {
		return r, err
	}
	token := versionToken(keyID)
	if stageHolder(d, stageCurrent) != token {
		return r, nil
	}
	r.Items[0].ARN, r.Items[0].Version = aws.ToString(d.ARN), token
	if prev := stageHolder(d, stagePrevious); prev != "" {
		if err := s.moveCurrent(ctx, prev, token); err != nil {
			return r, err
		}
		r.Items[0].Outcome, r.Items[0].Version = Restored, prev
		return r, nil
	}
	_, err = s.api.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: aws.String(s.target.Name),
		ForceDeleteWithoutRecovery: aws.Bool(true)})
	if err != nil {
		return r, awsError("secretsmanager:DeleteSecret", s.resource(), err)
	}
	r.Items[0].Outcome = Deleted
	return r, nil
}

func (s *secretsManagerStore) Describe(ctx context.Context) (State, error) {
	st := State{Target: s.target}
	d, err := s.describe(ctx)
	if err != nil || d == nil {
		return st, err
	}
	tags := secretTags(d)
	st.Exists, st.ARN, st.KMSKeyID = true, aws.ToString(d.ARN), aws.ToString(d.KmsKeyId)
	st.Managed, st.IAMUser = tags[TagManagedBy] == ManagedByValue, tags[TagIAMUser]
	st.KeyID = keyIDOfToken(stageHolder(d, stageCurrent))
	if d.DeletedDate != nil {
		st.DeletionDate = *d.DeletedDate
	}
	return st, nil
}

func (s *secretsManagerStore) Holds(ctx context.Context, keyID string) (bool, error) {
	d, err := s.describe(ctx)
	if err != nil || d == nil {
		return false, err
	}
	return secretTags(d)[TagManagedBy] == ManagedByValue && d.DeletedDate == nil &&
		stageHolder(d, stageCurrent) == versionToken(keyID), nil
}

func (s *secretsManagerStore) Delete(ctx context.Context, iamUser string, opts DeleteOptions) (Deletion, error) {
	del := Deletion{Target: s.target, Items: []Item{{Name: s.target.Name, Outcome: Untouched}}}
	if err := CheckRecoveryWindow(opts.RecoveryWindowDays); err != nil {
		return del, err
	}
	d, err := s.describe(ctx)
	if err != nil || d == nil {
		return del, err
	}
	if err := ownerConflict(s.resource(), secretTags(d), iamUser); err != nil {
		return del, err
	}
	del.Items[0].ARN = aws.ToString(d.ARN)
	if d.DeletedDate != nil {
		del.Items[0].DeletionDate = *d.DeletedDate
		return del, nil
	}
	days := int64(max(opts.RecoveryWindowDays, 0))
	if days == 0 {
		days = DefaultRecoveryWindowDays
	}
	del.Attempted = true
	out, err := s.api.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: aws.String(s.target.Name),
		RecoveryWindowInDays: aws.Int64(days)})
	if err != nil {
		return s.deleteFailed(ctx, del, err)
	}
	del.Items[0].Outcome, del.Items[0].DeletionDate = ScheduledDeletion, aws.ToTime(out.DeletionDate)
	return del, nil
}

// deleteFailed reads what the secret is after a failed DeleteSecret: a
// retry of a call that took effect (its answer lost) is refused as
// already scheduled, so a secret now scheduled is a success; a refusal
// the service answered, of a secret still not scheduled, removed nothing.
func (s *secretsManagerStore) deleteFailed(ctx context.Context, del Deletion, callErr error) (Deletion, error) {
	d, derr := s.describe(ctx)
	if derr == nil && d != nil && d.DeletedDate != nil {
		del.Items[0].Outcome, del.Items[0].DeletionDate = ScheduledDeletion, *d.DeletedDate
		return del, nil
	}
	err := awsError("secretsmanager:DeleteSecret", s.resource(), callErr)
	var apiErr *APIError
	if derr == nil && errors.As(err, &apiErr) && apiErr.Answered() {
		del.Attempted = false
	}
	return del, err
}

// ownTags are the tags of a new secret or parameter, in the SDK's type T.
func ownTags[T any](iamUser string, mk func(k, v string) T) []T {
	return []T{mk(TagManagedBy, ManagedByValue), mk(TagIAMUser, iamUser)}
}

func smTag(k, v string) smtypes.Tag { return smtypes.Tag{Key: aws.String(k), Value: aws.String(v)} }
