package iamtest

import (
	"regexp"
	"slices"
	"strconv"
	"time"
)

// Secrets Manager, as the Secrets Manager API reference (version
// 2017-10-17) describes the calls package store makes: CreateSecret,
// DescribeSecret, PutSecretValue, UpdateSecretVersionStage, DeleteSecret;
// GetSecretValue (storeread.go); TagResource and UntagResource (storetags.go).
// One account, one region's worth of secrets: ARNs take the region of the
// request's credential scope.

// The staging labels Secrets Manager itself moves (API reference,
// UpdateSecretVersionStage; user guide, "Secret versions").
const (
	StageCurrent  = "AWSCURRENT"
	StagePrevious = "AWSPREVIOUS"
	StagePending  = "AWSPENDING"
)

// Secret is a snapshot of a secret the server holds.
type Secret struct {
	Name, ARN, Description string
	// KMSKeyID is the KmsKeyId given to CreateSecret ("" for the AWS
	// managed key aws/secretsmanager, which DescribeSecret leaves out).
	KMSKeyID string
	Tags     []Tag
	Created  time.Time
	Changed  time.Time
	// DeletionDate is when a scheduled deletion happens; zero if none.
	DeletionDate time.Time
	// Versions are oldest first, deprecated ones (no stage) included.
	Versions []SecretVersion
}

// SecretVersion is one version of a secret.
type SecretVersion struct {
	ID      string
	Value   string
	Stages  []string
	Created time.Time
}

// Stage returns the version that carries stage.
func (s Secret) Stage(stage string) (SecretVersion, bool) {
	for _, v := range s.Versions {
		if slices.Contains(v.Stages, stage) {
			return v, true
		}
	}
	return SecretVersion{}, false
}

// secret is the server's own copy.
type secret = Secret

func cloneSecret(s *Secret) Secret {
	c := *s
	c.Tags = slices.Clone(s.Tags)
	c.Versions = slices.Clone(s.Versions)
	for i := range c.Versions {
		c.Versions[i].Stages = slices.Clone(s.Versions[i].Stages)
	}
	return c
}

// Secret returns a snapshot of the named secret (by name or ARN),
// including one scheduled for deletion.
func (s *Server) Secret(name string) (Secret, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec := s.stores.get().secret(name)
	if sec == nil {
		return Secret{}, false
	}
	return cloneSecret(sec), true
}

var secretsManagerOperations = map[string]jsonOperation{
	"CreateSecret": createSecret, "DescribeSecret": describeSecret, "PutSecretValue": putSecretValue,
	"UpdateSecretVersionStage": updateSecretVersionStage, "DeleteSecret": deleteSecret,
	"GetSecretValue": getSecretValue, "TagResource": tagResource, "UntagResource": untagResource,
}

// Limits from the API reference (CreateSecret, PutSecretValue, Tag).
var (
	secretNameChars = regexp.MustCompile(`^[A-Za-z0-9/_+=.@-]+$`)
	smTagPattern    = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$`)
)

const (
	maxSecretName      = 512
	maxSecretString    = 65536
	minRequestToken    = 32
	maxRequestToken    = 64
	maxSecretTags      = 50
	maxSecretVersions  = 100 // Secrets Manager removes deprecated versions beyond about 100
	defaultRecoveryDay = 30
)

func secretARNPrefix(region, account string) string {
	return "arn:aws:secretsmanager:" + region + ":" + account + ":secret:"
}

// secret finds a secret by name or full ARN.
func (st *storeState) secret(id string) *secret {
	if sec, ok := st.secrets[id]; ok {
		return sec
	}
	for _, sec := range st.secrets {
		if sec.ARN == id {
			return sec
		}
	}
	return nil
}

func errSMNotFound() *apiError {
	return &apiError{Status: 400, Code: "ResourceNotFoundException", Message: "Secrets Manager can't find the specified secret."}
}

func errSMInvalidParameter(msg string) *apiError {
	return &apiError{Status: 400, Code: "InvalidParameterException", Message: msg}
}

func errSMInvalidRequest(msg string) *apiError {
	return &apiError{Status: 400, Code: "InvalidRequestException", Message: msg}
}

// liveSecret finds a secret that is not scheduled for deletion: every call
// but DescribeSecret and DeleteSecret fails on one with
// InvalidRequestException (API reference, "InvalidRequestException: ... You
// tried to perform the operation on a secret that's currently marked deleted").
func liveSecret(st *storeState, id string) (*secret, *apiError) {
	sec := st.secret(id)
	if sec == nil {
		return nil, errSMNotFound()
	}
	if !sec.DeletionDate.IsZero() {
		return nil, errSMInvalidRequest("You can't perform this operation on the secret because it was marked for deletion.")
	}
	return sec, nil
}

type smTag struct {
	Key   string `json:"Key"`
	Value string `json:"Value"`
}

type createSecretInput struct {
	Name               string
	ClientRequestToken string
	Description        string
	KmsKeyId           string
	SecretString       *string
	Tags               []smTag
}

type secretVersionOutput struct {
	ARN           string   `json:"ARN"`
	Name          string   `json:"Name"`
	VersionID     string   `json:"VersionId,omitempty"`
	VersionStages []string `json:"VersionStages,omitempty"`
}

// createSecret: a new secret with its first version staged AWSCURRENT. An
// existing name answers ResourceExistsException, one scheduled for deletion
// InvalidRequestException. The API reference says a repeated request with
// the same ClientRequestToken and value "is ignored"; it does not say what
// CreateSecret answers then, so the server answers the stricter
// ResourceExistsException and callers must cope with it (a retried call
// whose first answer was lost meets it).
func createSecret(s *Server, st *storeState, req *jsonRequest) (any, *apiError) {
	var in createSecretInput
	if aerr := decodeInput(req, &in); aerr != nil {
		return nil, aerr
	}
	if aerr := checkCreateSecret(in); aerr != nil {
		return nil, aerr
	}
	if old, ok := st.secrets[in.Name]; ok {
		if !old.DeletionDate.IsZero() {
			return nil, errSMInvalidRequest("You can't create this secret because a secret with this name is already scheduled for deletion.")
		}
		return nil, &apiError{Status: 400, Code: "ResourceExistsException", Message: "The operation failed because the secret " + in.Name + " already exists."}
	}
	now := time.Now().UTC()
	sec := &secret{Name: in.Name, ARN: secretARNPrefix(req.region, s.account) + in.Name + "-" + randomString(alnum, 6),
		Description: in.Description, KMSKeyID: in.KmsKeyId, Created: now, Changed: now}
	for _, t := range in.Tags {
		sec.Tags = append(sec.Tags, Tag(t))
	}
	out := secretVersionOutput{ARN: sec.ARN, Name: sec.Name}
	if in.SecretString != nil {
		sec.Versions = []SecretVersion{{ID: in.ClientRequestToken, Value: *in.SecretString, Stages: []string{StageCurrent}, Created: now}}
		out.VersionID = in.ClientRequestToken
	}
	st.secrets[in.Name] = sec
	return out, nil
}

// alnum is the alphabet of the six characters Secrets Manager appends to a
// secret's ARN.
const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

func checkCreateSecret(in createSecretInput) *apiError {
	switch {
	case in.Name == "" || len(in.Name) > maxSecretName:
		return errJSONValidation("1 validation error detected: Value at 'name' failed to satisfy constraint: Member must have length between 1 and %d", maxSecretName)
	case !secretNameChars.MatchString(in.Name):
		return errSMInvalidParameter("Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: -/_+=.@!")
	case in.SecretString != nil && in.ClientRequestToken == "":
		return errSMInvalidParameter("You must provide a ClientRequestToken when you create a secret with a value.")
	}
	if aerr := checkVersionInput(in.ClientRequestToken, in.SecretString); aerr != nil {
		return aerr
	}
	return checkSecretTags(in.Tags)
}

// checkVersionInput checks a ClientRequestToken (32-64 characters) and a
// SecretString (at most 65536 bytes). The value is never quoted back.
func checkVersionInput(token string, value *string) *apiError {
	if token != "" && (len(token) < minRequestToken || len(token) > maxRequestToken) {
		return errJSONValidation("1 validation error detected: Value at 'clientRequestToken' failed to satisfy constraint: Member must have length between %d and %d", minRequestToken, maxRequestToken)
	}
	if value != nil && (len(*value) == 0 || len(*value) > maxSecretString) {
		return errJSONValidation("1 validation error detected: Value at 'secretString' failed to satisfy constraint: Member must have length between 1 and %d", maxSecretString)
	}
	return nil
}

func checkSecretTags(tags []smTag) *apiError {
	if len(tags) > maxSecretTags {
		return errSMInvalidParameter("Number of tags exceeds the limit of " + strconv.Itoa(maxSecretTags) + ".")
	}
	for _, t := range tags {
		if t.Key == "" || len(t.Key) > 128 || !smTagPattern.MatchString(t.Key) || len(t.Value) > 256 || !smTagPattern.MatchString(t.Value) {
			return errJSONValidation("1 validation error detected: Value at 'tags' failed to satisfy constraint: tag keys must be 1-128 and values 0-256 of [\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]")
		}
	}
	return nil
}

type secretIDInput struct{ SecretId string }

type describeSecretOutput struct {
	ARN                string              `json:"ARN"`
	Name               string              `json:"Name"`
	Description        string              `json:"Description,omitempty"`
	KmsKeyID           string              `json:"KmsKeyId,omitempty"`
	Tags               []smTag             `json:"Tags,omitempty"`
	VersionIDsToStages map[string][]string `json:"VersionIdsToStages,omitempty"`
	CreatedDate        epochTime           `json:"CreatedDate"`
	LastChangedDate    epochTime           `json:"LastChangedDate"`
	DeletedDate        *epochTime          `json:"DeletedDate,omitempty"`
}

// describeSecret: metadata, tags and the versions that carry a staging
// label (deprecated versions are left out); it answers for a secret
// scheduled for deletion too, with its DeletedDate.
func describeSecret(_ *Server, st *storeState, req *jsonRequest) (any, *apiError) {
	var in secretIDInput
	if aerr := decodeInput(req, &in); aerr != nil {
		return nil, aerr
	}
	sec := st.secret(in.SecretId)
	if sec == nil {
		return nil, errSMNotFound()
	}
	out := describeSecretOutput{ARN: sec.ARN, Name: sec.Name, Description: sec.Description, KmsKeyID: sec.KMSKeyID,
		CreatedDate: epochTime(sec.Created), LastChangedDate: epochTime(sec.Changed), VersionIDsToStages: map[string][]string{}}
	for _, t := range sec.Tags {
		out.Tags = append(out.Tags, smTag(t))
	}
	for _, v := range sec.Versions {
		if len(v.Stages) > 0 {
			out.VersionIDsToStages[v.ID] = slices.Clone(v.Stages)
		}
	}
	if !sec.DeletionDate.IsZero() {
		d := epochTime(sec.DeletionDate)
		out.DeletedDate = &d
	}
	return out, nil
}

type putSecretValueInput struct {
	SecretId           string
	ClientRequestToken string
	SecretString       *string
	VersionStages      []string
}

// putSecretValue adds a version, staged AWSCURRENT unless VersionStages
// says otherwise; moving AWSCURRENT moves AWSPREVIOUS to the version that
// lost it. A token that names an existing version is ignored when the
// value is the same and refused (ResourceExistsException) when it differs:
// versions are immutable (API reference, PutSecretValue, ClientRequestToken).
func putSecretValue(_ *Server, st *storeState, req *jsonRequest) (any, *apiError) {
	var in putSecretValueInput
	if aerr := decodeInput(req, &in); aerr != nil {
		return nil, aerr
	}
	if in.SecretString == nil || in.ClientRequestToken == "" {
		return nil, errSMInvalidParameter("You must provide a SecretString and a ClientRequestToken.")
	}
	if aerr := checkVersionInput(in.ClientRequestToken, in.SecretString); aerr != nil {
		return nil, aerr
	}
	sec, aerr := liveSecret(st, in.SecretId)
	if aerr != nil {
		return nil, aerr
	}
	out := secretVersionOutput{ARN: sec.ARN, Name: sec.Name, VersionID: in.ClientRequestToken}
	if i := sec.version(in.ClientRequestToken); i >= 0 {
		if sec.Versions[i].Value != *in.SecretString {
			return nil, &apiError{Status: 400, Code: "ResourceExistsException",
				Message: "You can't modify an existing version, you can only create a new version."}
		}
		out.VersionStages = slices.Clone(sec.Versions[i].Stages)
		return out, nil
	}
	stages := in.VersionStages
	if len(stages) == 0 {
		stages = []string{StageCurrent}
	}
	now := time.Now().UTC()
	sec.Versions = append(sec.Versions, SecretVersion{ID: in.ClientRequestToken, Value: *in.SecretString, Created: now})
	for _, stage := range stages {
		sec.moveStage(stage, in.ClientRequestToken)
	}
	sec.Changed = now
	sec.prune()
	out.VersionStages = slices.Clone(stages)
	return out, nil
}

// version returns the index of the version with id, or -1.
func (sec *secret) version(id string) int {
	return slices.IndexFunc(sec.Versions, func(v SecretVersion) bool { return v.ID == id })
}

// moveStage puts stage on version to (removing it from whichever version
// had it); moving AWSCURRENT moves AWSPREVIOUS to the version that had it.
func (sec *secret) moveStage(stage, to string) {
	from := ""
	for i := range sec.Versions {
		if j := slices.Index(sec.Versions[i].Stages, stage); j >= 0 {
			from = sec.Versions[i].ID
			sec.Versions[i].Stages = slices.Delete(sec.Versions[i].Stages, j, j+1)
		}
	}
	i := sec.version(to)
	sec.Versions[i].Stages = append(sec.Versions[i].Stages, stage)
	if stage == StageCurrent && from != "" && from != to {
		sec.moveStage(StagePrevious, from)
	}
}

// prune drops the oldest deprecated versions beyond the kept number.
func (sec *secret) prune() {
	for len(sec.Versions) > maxSecretVersions {
		i := slices.IndexFunc(sec.Versions, func(v SecretVersion) bool { return len(v.Stages) == 0 })
		if i < 0 {
			return
		}
		sec.Versions = slices.Delete(sec.Versions, i, i+1)
	}
}

type updateStageInput struct {
	SecretId            string
	VersionStage        string
	MoveToVersionId     string
	RemoveFromVersionId string
}

// updateSecretVersionStage moves a staging label. When the label is on a
// version, RemoveFromVersionId must name that version (InvalidParameterException
// otherwise); AWSCURRENT cannot be removed without being moved; moving
// AWSCURRENT moves AWSPREVIOUS to the version it left (API reference,
// UpdateSecretVersionStage).
func updateSecretVersionStage(_ *Server, st *storeState, req *jsonRequest) (any, *apiError) {
	var in updateStageInput
	if aerr := decodeInput(req, &in); aerr != nil {
		return nil, aerr
	}
	sec, aerr := liveSecret(st, in.SecretId)
	if aerr != nil {
		return nil, aerr
	}
	if in.VersionStage == "" || len(in.VersionStage) > 256 {
		return nil, errJSONValidation("1 validation error detected: Value at 'versionStage' failed to satisfy constraint: Member must have length between 1 and 256")
	}
	if aerr := sec.checkStageMove(in); aerr != nil {
		return nil, aerr
	}
	if in.MoveToVersionId != "" {
		sec.moveStage(in.VersionStage, in.MoveToVersionId)
	} else if i := sec.version(in.RemoveFromVersionId); i >= 0 {
		sec.Versions[i].Stages = slices.DeleteFunc(sec.Versions[i].Stages, func(s string) bool { return s == in.VersionStage })
	}
	sec.Changed = time.Now().UTC()
	return secretVersionOutput{ARN: sec.ARN, Name: sec.Name}, nil
}

func (sec *secret) checkStageMove(in updateStageInput) *apiError {
	holder := ""
	if v, ok := sec.Stage(in.VersionStage); ok {
		holder = v.ID
	}
	switch {
	case in.MoveToVersionId != "" && sec.version(in.MoveToVersionId) < 0:
		return errSMNotFound()
	case in.RemoveFromVersionId != "" && in.RemoveFromVersionId != holder:
		return errSMInvalidParameter("The staging label " + in.VersionStage + " is not attached to version " + in.RemoveFromVersionId + ".")
	case holder != "" && holder != in.MoveToVersionId && in.RemoveFromVersionId != holder:
		return errSMInvalidParameter("The parameter RemoveFromVersionId can't be empty. Staging label " + in.VersionStage +
			" is currently attached to version " + holder + ", so you must explicitly reference that version in RemoveFromVersionId.")
	case in.VersionStage == StageCurrent && in.MoveToVersionId == "":
		return errSMInvalidParameter("You can't remove the staging label AWSCURRENT without moving it to another version.")
	case in.MoveToVersionId == "" && in.RemoveFromVersionId == "":
		return errSMInvalidParameter("You must specify MoveToVersionId or RemoveFromVersionId.")
	}
	return nil
}

type deleteSecretInput struct {
	SecretId                   string
	RecoveryWindowInDays       *int64
	ForceDeleteWithoutRecovery *bool
}

type deleteSecretOutput struct {
	ARN          string    `json:"ARN"`
	Name         string    `json:"Name"`
	DeletionDate epochTime `json:"DeletionDate"`
}

// deleteSecret schedules deletion after a recovery window of 7-30 days
// (default 30), or deletes at once with ForceDeleteWithoutRecovery; the two
// together are refused (API reference, DeleteSecret). Deleting a secret
// already scheduled for deletion is refused unless forced. A forced
// deletion is immediate here; AWS completes it asynchronously, so a secret
// of the same name created at once may still meet ResourceExistsException.
func deleteSecret(_ *Server, st *storeState, req *jsonRequest) (any, *apiError) {
	var in deleteSecretInput
	if aerr := decodeInput(req, &in); aerr != nil {
		return nil, aerr
	}
	force := in.ForceDeleteWithoutRecovery != nil && *in.ForceDeleteWithoutRecovery
	days := int64(defaultRecoveryDay)
	if in.RecoveryWindowInDays != nil {
		days = *in.RecoveryWindowInDays
	}
	switch {
	case force && in.RecoveryWindowInDays != nil:
		return nil, errSMInvalidParameter("You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays.")
	case days < 7 || days > 30:
		return nil, errSMInvalidParameter("The RecoveryWindowInDays value must be between 7 and 30 days (inclusive).")
	}
	sec := st.secret(in.SecretId)
	if sec == nil {
		return nil, errSMNotFound()
	}
	now := time.Now().UTC()
	if force {
		delete(st.secrets, sec.Name)
		return deleteSecretOutput{ARN: sec.ARN, Name: sec.Name, DeletionDate: epochTime(now)}, nil
	}
	if !sec.DeletionDate.IsZero() {
		return nil, errSMInvalidRequest("You can't perform this operation on the secret because it was already scheduled for deletion.")
	}
	sec.DeletionDate = now.Add(time.Duration(days) * 24 * time.Hour)
	return deleteSecretOutput{ARN: sec.ARN, Name: sec.Name, DeletionDate: epochTime(sec.DeletionDate)}, nil
}

// epochTime marshals as the JSON protocols' timestamps: seconds since the
// epoch, with a fraction (smithy timestampFormat epoch-seconds).
type epochTime time.Time

// MarshalJSON implements json.Marshaler.
func (t epochTime) MarshalJSON() ([]byte, error) {
	return []byte(strconv.FormatFloat(float64(time.Time(t).UnixMilli())/1000, 'f', 3, 64)), nil
}
