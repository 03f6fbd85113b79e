package store

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
)

// ssmStore writes SecureString parameters: one holding the JSON payload
// (ssm:/path/name) or one per field (ssm:/path/). Never String: a plaintext
// parameter holding a password is an audit finding.
//
// Every version sesmtp writes carries a Description naming the access key
// (marker). PutParameter writes the value and the description together,
// so the newest version's description says whose value it is; Retract
// finds what a delivery replaced in GetParameterHistory.
type ssmStore struct {
	api    SSMAPI
	target Target
	opts   Options
}

// defaultSSMKey is the AWS managed key SSM encrypts a SecureString with
// when no KeyId is given (Systems Manager API reference, PutParameter, KeyId).
const defaultSSMKey = "alias/aws/ssm"

func (s *ssmStore) Target() Target { return s.target }

func paramResource(name string) string { return fmt.Sprintf("parameter %q", name) }

// marker is the Description of a version sesmtp writes.
func marker(what, iamUser, keyID string) string {
	return fmt.Sprintf("SES SMTP %s of IAM user %s, access key %s (written by sesmtp)", what, iamUser, keyID)
}

var markerPattern = regexp.MustCompile(`access key (\S+) \(written by sesmtp\)$`)

// markedKey returns the access key id a version's description names, or "".
func markedKey(h ssmtypes.ParameterHistory) string {
	if m := markerPattern.FindStringSubmatch(aws.ToString(h.Description)); m != nil {
		return m[1]
	}
	return ""
}

// writes returns the parameters of a delivery of p: name, value and what
// the value is, in the order they are written.
func (s *ssmStore) writes(p Payload) ([][3]string, error) {
	if s.target.Kind == SSMParameter {
		doc, err := p.document()
		return [][3]string{{s.target.Name, doc, "credentials"}}, err
	}
	var out [][3]string
	for _, f := range pathFields(p.SecretAccessKey != "") {
		out = append(out, [3]string{s.target.Name + f, p.fieldValue(f), f})
	}
	return out, nil
}

func (s *ssmStore) Deliver(ctx context.Context, p Payload) (Receipt, error) {
	r := Receipt{Target: s.target, KeyID: p.AccessKeyID}
	if err := p.check(); err != nil {
		return r, err
	}
	writes, err := s.writes(p)
	if err != nil {
		return r, err
	}
	var found []*ssmtypes.ParameterHistory
	for _, w := range writes { // refuse before writing anything
		newest, err := s.inspect(ctx, w[0], p.IAMUser)
		if err != nil {
			return r, err
		}
		found = append(found, newest)
	}
	r.Attempted = true
	for i, w := range writes {
		it, err := s.put(ctx, w, found[i], p)
		if err != nil {
			return r, err
		}
		r.Items = append(r.Items, it)
	}
	return r, nil
}

// inspect returns the newest version of an existing parameter sesmtp may
// write for iamUser, nil when there is none, a ConflictError otherwise.
func (s *ssmStore) inspect(ctx context.Context, name, iamUser string) (*ssmtypes.ParameterHistory, error) {
	tags, found, err := s.tags(ctx, name)
	if err != nil || !found {
		return nil, err
	}
	if err := ownerConflict(paramResource(name), tags, iamUser); err != nil {
		return nil, err
	}
	h, err := s.history(ctx, name, false)
	if err != nil || len(h) == 0 {
		return nil, err
	}
	return &h[len(h)-1], nil
}

// tags returns a parameter's tags; found is false when it does not exist
// (SSM answers InvalidResourceId).
func (s *ssmStore) tags(ctx context.Context, name string) (tags map[string]string, found bool, err error) {
	out, err := s.api.ListTagsForResource(ctx, &ssm.ListTagsForResourceInput{
		ResourceType: ssmtypes.ResourceTypeForTaggingParameter, ResourceId: aws.String(name)})
	if isCode[*ssmtypes.InvalidResourceId](err) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, awsError("ssm:ListTagsForResource", paramResource(name), err)
	}
	tags = map[string]string{}
	for _, t := range out.TagList {
		tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return tags, true, nil
}

// managed reports whether a parameter exists and carries sesmtp's
// managed-by tag. The operator policy lets GetParameterHistory,
// GetParameter, PutParameter (overwrite) and DeleteParameter through only
// for such a parameter: AWS authorizes before it looks the parameter up, so
// asking another one's history answers AccessDenied, not ParameterNotFound.
// ListTagsForResource is allowed for any parameter under the path.
func (s *ssmStore) managed(ctx context.Context, name string) (bool, error) {
	tags, found, err := s.tags(ctx, name)
	return found && tags[TagManagedBy] == ManagedByValue, err
}

// history returns every version SSM keeps of a parameter, oldest first;
// nil when it does not exist. decrypt asks for SecureString values in
// plaintext (kms:Decrypt).
func (s *ssmStore) history(ctx context.Context, name string, decrypt bool) ([]ssmtypes.ParameterHistory, error) {
	var all []ssmtypes.ParameterHistory
	pages := ssm.NewGetParameterHistoryPaginator(s.api, &ssm.GetParameterHistoryInput{Name: aws.String(name),
		WithDecryption: aws.Bool(decrypt), MaxResults: aws.Int32(50)})
	for pages.HasMorePages() {
		out, err := pages.NextPage(ctx)
		if isCode[*ssmtypes.ParameterNotFound](err) {
			return nil, nil
		}
		if err != nil {
			return nil, awsError("ssm:GetParameterHistory", paramResource(name), err)
		}
		all = append(all, out.Parameters...)
	}
	slices.SortFunc(all, func(a, b ssmtypes.ParameterHistory) int { return cmp.Compare(a.Version, b.Version) })
	return all, nil
}

// put writes one parameter: created with sesmtp's tags, or overwritten
// (SSM refuses tags together with Overwrite). An overwrite keeps the KMS
// key of the newest version unless Options.KMSKeyID names one.
func (s *ssmStore) put(ctx context.Context, w [3]string, newest *ssmtypes.ParameterHistory, p Payload) (Item, error) {
	name := w[0]
	in := &ssm.PutParameterInput{Name: aws.String(name), Value: aws.String(w[1]), Type: ssmtypes.ParameterTypeSecureString,
		Description: aws.String(marker(w[2], p.IAMUser, p.AccessKeyID))}
	kms := s.opts.KMSKeyID
	if newest != nil {
		in.Overwrite = aws.Bool(true)
		if k := aws.ToString(newest.KeyId); kms == "" && k != defaultSSMKey {
			kms = k
		}
	} else {
		in.Tags = ownTags[ssmtypes.Tag](p.IAMUser, ssmTag)
	}
	if kms != "" {
		in.KeyId = aws.String(kms)
	}
	it := Item{Name: name, Outcome: Created}
	if newest != nil {
		it.Outcome = Updated
	}
	out, err := s.api.PutParameter(ctx, in)
	if err == nil {
		it.Version = strconv.FormatInt(out.Version, 10)
		return it, nil
	}
	if newest == nil && isCode[*ssmtypes.ParameterAlreadyExists](err) {
		return s.adoptCreated(ctx, name, p, err)
	}
	return it, awsError("ssm:PutParameter", paramResource(name), err)
}

// adoptCreated handles ParameterAlreadyExists on a create: a retry whose
// first attempt created the parameter meets it; the parameter is then
// sesmtp's, for this user, with this key's version newest.
func (s *ssmStore) adoptCreated(ctx context.Context, name string, p Payload, putErr error) (Item, error) {
	it := Item{Name: name, Outcome: Created}
	newest, err := s.inspect(ctx, name, p.IAMUser)
	if err != nil {
		return it, err
	}
	if newest == nil || markedKey(*newest) != p.AccessKeyID {
		return it, awsError("ssm:PutParameter", paramResource(name), putErr)
	}
	it.Version = strconv.FormatInt(newest.Version, 10)
	return it, nil
}

// Retract undoes keyID's delivery parameter by parameter, the user name
// first (the reverse of Deliver's order).
func (s *ssmStore) Retract(ctx context.Context, keyID string) (Retraction, error) {
	r := Retraction{Target: s.target, KeyID: keyID}
	names := s.target.ParameterNames(true)
	slices.Reverse(names)
	for _, name := range names {
		it, err := s.retractOne(ctx, name, keyID)
		r.Items = append(r.Items, it)
		if err != nil {
			return r, err
		}
	}
	return r, nil
}

// retractOne: when the newest version is keyID's, write the newest value
// that is not keyID's again as a new version (SSM cannot make an old
// version the newest; GetParameter reads the newest), or, when every
// version is keyID's from version 1 on, delete the parameter the delivery
// created. When keyID's versions reach back past the 100 versions SSM
// keeps, the value before them is gone: ErrCannotRestore.
func (s *ssmStore) retractOne(ctx context.Context, name, keyID string) (Item, error) {
	it := Item{Name: name, Outcome: Untouched}
	if ours, err := s.managed(ctx, name); err != nil || !ours { // sesmtp writes only parameters it tags
		return it, err
	}
	h, err := s.history(ctx, name, true)
	if err != nil || len(h) == 0 || markedKey(h[len(h)-1]) != keyID {
		return it, err
	}
	i := len(h) - 1
	for i >= 0 && markedKey(h[i]) == keyID {
		i--
	}
	switch {
	case i >= 0:
		return s.restore(ctx, h[i])
	case h[0].Version == 1:
		if _, err := s.api.DeleteParameter(ctx, &ssm.DeleteParameterInput{Name: aws.String(name)}); err != nil {
			return it, awsError("ssm:DeleteParameter", paramResource(name), err)
		}
		it.Outcome = Deleted
		return it, nil
	}
	return it, fmt.Errorf("%s: %w: every version SSM still keeps (from %d on) holds access key %s; "+
		"put the value it should hold back by hand", paramResource(name), ErrCannotRestore, h[0].Version, keyID)
}

// restore writes an earlier version's value, description and KMS key
// again, as a SecureString.
func (s *ssmStore) restore(ctx context.Context, prev ssmtypes.ParameterHistory) (Item, error) {
	name := aws.ToString(prev.Name)
	in := &ssm.PutParameterInput{Name: prev.Name, Value: prev.Value, Type: ssmtypes.ParameterTypeSecureString,
		Description: aws.String(aws.ToString(prev.Description)), Overwrite: aws.Bool(true)}
	if k := aws.ToString(prev.KeyId); k != "" && k != defaultSSMKey {
		in.KeyId = aws.String(k)
	}
	out, err := s.api.PutParameter(ctx, in)
	if err != nil {
		return Item{Name: name, Outcome: Untouched}, awsError("ssm:PutParameter", paramResource(name), err)
	}
	return Item{Name: name, Outcome: Restored, Version: strconv.FormatInt(out.Version, 10)}, nil
}

// primary is the parameter that says whose credentials the target holds.
func (s *ssmStore) primary() string {
	if s.target.Kind == SSMPath {
		return s.target.Name + FieldUsername
	}
	return s.target.Name
}

func (s *ssmStore) Describe(ctx context.Context) (State, error) {
	st := State{Target: s.target}
	name := s.primary()
	tags, found, err := s.tags(ctx, name)
	if err != nil || !found {
		return st, err
	}
	st.Exists, st.Managed, st.IAMUser = true, tags[TagManagedBy] == ManagedByValue, tags[TagIAMUser]
	if !st.Managed { // not sesmtp's: nothing to read, and the operator policy allows no reading it
		return st, nil
	}
	h, err := s.history(ctx, name, false)
	if err != nil || len(h) == 0 {
		return st, err
	}
	st.KeyID, st.KMSKeyID = markedKey(h[len(h)-1]), aws.ToString(h[len(h)-1].KeyId)
	return st, nil
}

// Holds: every parameter of the delivery has keyID's version newest, and
// the value that names the key (the JSON, or the username parameter)
// does name it, read decrypted.
func (s *ssmStore) Holds(ctx context.Context, keyID string) (bool, error) {
	for _, name := range s.target.ParameterNames(false) {
		valued := name == s.primary()
		if ours, err := s.managed(ctx, name); err != nil || !ours {
			return false, err
		}
		h, err := s.history(ctx, name, valued)
		if err != nil || len(h) == 0 || markedKey(h[len(h)-1]) != keyID {
			return false, err
		}
		if valued && !s.valueNames(aws.ToString(h[len(h)-1].Value), keyID) {
			return false, nil
		}
	}
	return true, nil
}

// valueNames reports whether the primary parameter's value holds keyID.
func (s *ssmStore) valueNames(value, keyID string) bool {
	if s.target.Kind == SSMPath {
		return value == keyID
	}
	var doc document
	return json.Unmarshal([]byte(value), &doc) == nil && doc.Username == keyID && doc.AccessKeyID == keyID
}

func (s *ssmStore) Delete(ctx context.Context, iamUser string, _ DeleteOptions) (Deletion, error) {
	del := Deletion{Target: s.target}
	var existing []string
	for _, name := range s.target.ParameterNames(true) { // refuse before deleting anything
		tags, found, err := s.tags(ctx, name)
		if err != nil {
			return del, err
		}
		if !found {
			continue
		}
		if err := ownerConflict(paramResource(name), tags, iamUser); err != nil {
			return del, err
		}
		existing = append(existing, name)
	}
	for _, name := range existing {
		it := Item{Name: name, Outcome: Deleted}
		del.Attempted = true
		_, err := s.api.DeleteParameter(ctx, &ssm.DeleteParameterInput{Name: aws.String(name)})
		if isCode[*ssmtypes.ParameterNotFound](err) {
			it.Outcome, err = Untouched, nil
		}
		del.Items = append(del.Items, it)
		if err != nil {
			return del, awsError("ssm:DeleteParameter", paramResource(name), err)
		}
	}
	return del, nil
}

func ssmTag(k, v string) ssmtypes.Tag { return ssmtypes.Tag{Key: aws.String(k), Value: aws.String(v)} }
