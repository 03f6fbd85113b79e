package iamtest

import (
	"encoding/base64"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// SSM Parameter Store, as the Systems Manager API reference describes the
// calls package store makes: PutParameter, ListTagsForResource,
// GetParameterHistory, DeleteParameter; GetParameter (storeread.go);
// AddTagsToResource (storetags.go).

// Parameter is a snapshot of a parameter the server holds.
type Parameter struct {
	Name, ARN string
	Tags      []Tag
	// Versions are oldest first; SSM keeps the last 100.
	Versions []ParameterVersion
}

// ParameterVersion is one version of a parameter.
type ParameterVersion struct {
	Version     int64
	Type        string // String, StringList or SecureString
	Value       string
	KeyID       string // the KMS key of a SecureString ("alias/aws/ssm" by default)
	Description string
	Tier        string
	Modified    time.Time
	ModifiedBy  string // the caller's ARN (LastModifiedUser)
	ciphertext  string // what a SecureString shows without decryption
}

// Latest returns the newest version.
func (p Parameter) Latest() ParameterVersion { return p.Versions[len(p.Versions)-1] }

type parameter = Parameter

// Parameter returns a snapshot of the named parameter.
func (s *Server) Parameter(name string) (Parameter, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.stores.get().params[name]
	if !ok {
		return Parameter{}, false
	}
	return cloneParameter(p), true
}

// cloneParameter is a snapshot of p that shares nothing with it.
func cloneParameter(p *Parameter) Parameter {
	c := *p
	c.Tags = slices.Clone(p.Tags)
	c.Versions = slices.Clone(p.Versions)
	return c
}

var ssmOperations = map[string]jsonOperation{
	"PutParameter": putParameter, "ListTagsForResource": listTagsForResource,
	"GetParameterHistory": getParameterHistory, "DeleteParameter": deleteParameter,
	"GetParameter": getParameter, "AddTagsToResource": addTagsToResource,
}

// Limits from the API reference (PutParameter, Tag, GetParameterHistory).
const (
	maxParameterLevels   = 15
	maxParameterName     = 2048
	maxStandardValue     = 4096
	maxParameterDesc     = 1024
	maxParameterVersions = 100
	maxParameterTags     = 50
	maxHistoryResults    = 50
	defaultSecureKey     = "alias/aws/ssm"
)

var parameterLevel = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

// errParameterName is SSM's answer to a name it rejects, word for word as
// AWS sends it (quoted in aws-sdk-php#1952 and localstack#11538).
func errParameterName() *apiError {
	return errJSONValidation(`Parameter name: can't be prefixed with "ssm" (case-insensitive). If formed as a path, ` +
		`it can consist of sub-paths divided by slash symbol; each sub-path can be formed as a mix of letters, ` +
		`numbers and the following 3 symbols .-_`)
}

// checkParameterName applies PutParameter's naming constraints: a
// hierarchical name starts with /, levels hold a-zA-Z0-9_.-, at most
// fifteen levels (HierarchyLevelLimitExceededException), no "aws" or "ssm"
// prefix (case-insensitive), no ARN.
func checkParameterName(name string) *apiError {
	if name == "" || len(name) > maxParameterName {
		return errJSONValidation("1 validation error detected: Value at 'name' failed to satisfy constraint: Member must have length between 1 and %d", maxParameterName)
	}
	levels := strings.Split(name, "/")
	if len(levels) > 1 {
		if levels[0] != "" {
			return errParameterName()
		}
		levels = levels[1:]
	}
	for _, l := range levels {
		if !parameterLevel.MatchString(l) {
			return errParameterName()
		}
	}
	if first := strings.ToLower(levels[0]); strings.HasPrefix(first, "aws") || strings.HasPrefix(first, "ssm") {
		return errParameterName()
	}
	if len(levels) > maxParameterLevels {
		return &apiError{Status: 400, Code: "HierarchyLevelLimitExceededException",
			Message: "A hierarchy can have a maximum of 15 levels. For more information, see Requirements and constraints for parameter names in the Amazon Web Services Systems Manager User Guide."}
	}
	return nil
}

func parameterARN(region, account, name string) string {
	return "arn:aws:ssm:" + region + ":" + account + ":parameter/" + strings.TrimPrefix(name, "/")
}

type putParameterInput struct {
	Name        string
	Value       *string
	Type        string
	KeyId       string
	Overwrite   *bool
	Tags        []smTag
	Description *string
	Tier        string
	DataType    string
}

type putParameterOutput struct {
	Version int64  `json:"Version"`
	Tier    string `json:"Tier"`
}

// putParameter creates a parameter (Type required, Tags allowed) or, with
// Overwrite, adds a version. Tags and Overwrite together are refused even
// for a new parameter ("Invalid request: tags and overwrite can't be used
// together", recorded from AWS in moto#4283 and terraform-provider-aws#18550).
// A SecureString without KeyId is encrypted with the account's default key
// alias/aws/ssm. A Description left out keeps the previous one.
func putParameter(s *Server, st *storeState, req *jsonRequest) (any, *apiError) {
	var in putParameterInput
	if aerr := decodeInput(req, &in); aerr != nil {
		return nil, aerr
	}
	if aerr := checkPutParameter(in); aerr != nil {
		return nil, aerr
	}
	overwrite := in.Overwrite != nil && *in.Overwrite
	p, exists := st.params[in.Name]
	switch {
	case exists && !overwrite:
		return nil, &apiError{Status: 400, Code: "ParameterAlreadyExists",
			Message: "The parameter already exists. To overwrite this value, set the overwrite option in the request to true."}
	case !exists && in.Type == "":
		return nil, errJSONValidation("A parameter type is required when you create a parameter.")
	case !exists:
		p = &parameter{Name: in.Name, ARN: parameterARN(req.region, s.account, in.Name)}
		for _, t := range in.Tags {
			p.Tags = append(p.Tags, Tag(t))
		}
		st.params[in.Name] = p
	}
	v := newParameterVersion(p, in)
	v.ModifiedBy = callerARN(s.account, req.caller.UserName)
	p.Versions = append(p.Versions, v)
	if len(p.Versions) > maxParameterVersions {
		p.Versions = slices.Delete(p.Versions, 0, 1)
	}
	return putParameterOutput{Version: v.Version, Tier: v.Tier}, nil
}

// newParameterVersion is the version in builds on p's history.
func newParameterVersion(p *parameter, in putParameterInput) ParameterVersion {
	v := ParameterVersion{Version: 1, Type: in.Type, Value: *in.Value, KeyID: in.KeyId, Tier: "Standard",
		Modified: time.Now().UTC()}
	if len(p.Versions) > 0 {
		prev := p.Latest()
		v.Version, v.Description = prev.Version+1, prev.Description
		if v.Type == "" {
			v.Type = prev.Type
		}
	}
	if in.Description != nil {
		v.Description = *in.Description
	}
	if v.Type == "SecureString" {
		if v.KeyID == "" {
			v.KeyID = defaultSecureKey
		}
		v.ciphertext = base64.StdEncoding.EncodeToString([]byte("iamtest-kms:" + randomString(alnum, 48)))
	}
	return v
}

func checkPutParameter(in putParameterInput) *apiError {
	if aerr := checkParameterName(in.Name); aerr != nil {
		return aerr
	}
	switch {
	case in.Value == nil || *in.Value == "":
		return errJSONValidation("1 validation error detected: Value at 'value' failed to satisfy constraint: Member must have length greater than or equal to 1")
	case len(*in.Value) > maxStandardValue:
		return errJSONValidation("Standard tier parameters support a maximum parameter value of 4096 characters. To create a larger parameter value, upgrade the parameter to use the advanced-parameter tier.")
	case in.Type != "" && in.Type != "String" && in.Type != "StringList" && in.Type != "SecureString":
		return errJSONValidation("1 validation error detected: Value '%s' at 'type' failed to satisfy constraint: Member must satisfy enum value set: [SecureString, StringList, String]", in.Type)
	case in.KeyId != "" && in.Type != "SecureString":
		return errJSONValidation("KeyId is required for SecureString type parameter only.")
	case in.Tier != "" && in.Tier != "Standard":
		return errJSONValidation("iamtest implements the Standard tier only")
	case in.Description != nil && len(*in.Description) > maxParameterDesc:
		return errJSONValidation("1 validation error detected: Value at 'description' failed to satisfy constraint: Member must have length less than or equal to %d", maxParameterDesc)
	case len(in.Tags) > 0 && in.Overwrite != nil && *in.Overwrite:
		return errJSONValidation("Invalid request: tags and overwrite can't be used together. To create a parameter with tags, " +
			"please remove overwrite flag. To update tags for an existing parameter, please use AddTagsToResource or RemoveTagsFromResource.")
	case len(in.Tags) > maxParameterTags:
		return &apiError{Status: 400, Code: "TooManyTagsError", Message: "The Targets parameter includes too many tags. Remove one or more tags and try the command again."}
	}
	return checkSSMTags(in.Tags)
}

func checkSSMTags(tags []smTag) *apiError {
	for _, t := range tags {
		if t.Key == "" || len(t.Key) > 128 || !smTagPattern.MatchString(t.Key) || len(t.Value) > 256 || !smTagPattern.MatchString(t.Value) {
			return errJSONValidation("1 validation error detected: Value at 'tags' failed to satisfy constraint: tag keys must be 1-128 and values 0-256 of [\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]")
		}
	}
	return nil
}

type listTagsInput struct {
	ResourceType string
	ResourceId   string
}

type listTagsOutput struct {
	TagList []smTag `json:"TagList"`
}

// listTagsForResource answers a parameter's tags. A parameter that does not
// exist answers InvalidResourceId with no message, HTTP 400 (recorded from
// AWS in moto#4360); only ResourceType Parameter is implemented.
func listTagsForResource(_ *Server, st *storeState, req *jsonRequest) (any, *apiError) {
	var in listTagsInput
	if aerr := decodeInput(req, &in); aerr != nil {
		return nil, aerr
	}
	if in.ResourceType != "Parameter" {
		return nil, &apiError{Status: 400, Code: "InvalidResourceType", Message: "iamtest implements ResourceType Parameter only"}
	}
	p, ok := st.params[in.ResourceId]
	if !ok {
		return nil, &apiError{Status: 400, Code: "InvalidResourceId"}
	}
	out := listTagsOutput{TagList: []smTag{}}
	for _, t := range p.Tags {
		out.TagList = append(out.TagList, smTag(t))
	}
	return out, nil
}

type historyInput struct {
	Name           string
	WithDecryption bool
	MaxResults     *int
	NextToken      string
}

type historyEntry struct {
	Name             string    `json:"Name"`
	Type             string    `json:"Type"`
	KeyID            string    `json:"KeyId,omitempty"`
	LastModifiedDate epochTime `json:"LastModifiedDate"`
	LastModifiedUser string    `json:"LastModifiedUser"`
	Description      string    `json:"Description,omitempty"`
	Value            string    `json:"Value"`
	Version          int64     `json:"Version"`
	Labels           []string  `json:"Labels"`
	Tier             string    `json:"Tier"`
	DataType         string    `json:"DataType"`
}

type historyOutput struct {
	Parameters []historyEntry `json:"Parameters"`
	NextToken  string         `json:"NextToken,omitempty"`
}

// getParameterHistory pages through a parameter's versions, oldest first,
// at most 50 a page (MaxResults 1-50). A SecureString's value is its
// ciphertext unless WithDecryption.
func getParameterHistory(_ *Server, st *storeState, req *jsonRequest) (any, *apiError) {
	var in historyInput
	if aerr := decodeInput(req, &in); aerr != nil {
		return nil, aerr
	}
	size := maxHistoryResults
	if in.MaxResults != nil {
		if size = *in.MaxResults; size < 1 || size > maxHistoryResults {
			return nil, errJSONValidation("1 validation error detected: Value '%d' at 'maxResults' failed to satisfy constraint: Member must have value between 1 and 50", size)
		}
	}
	p, ok := st.params[in.Name]
	if !ok {
		return nil, errParameterNotFound(in.Name)
	}
	start := 0
	if in.NextToken != "" {
		n, err := strconv.Atoi(strings.TrimPrefix(in.NextToken, "iamtest-"))
		if err != nil || n < 0 || n > len(p.Versions) {
			return nil, &apiError{Status: 400, Code: "InvalidNextToken", Message: "The specified token isn't valid."}
		}
		start = n
	}
	end := min(start+size, len(p.Versions))
	var out historyOutput
	for _, v := range p.Versions[start:end] {
		out.Parameters = append(out.Parameters, historyOf(p, v, in.WithDecryption))
	}
	if end < len(p.Versions) {
		out.NextToken = "iamtest-" + strconv.Itoa(end)
	}
	return out, nil
}

func historyOf(p *parameter, v ParameterVersion, decrypt bool) historyEntry {
	e := historyEntry{Name: p.Name, Type: v.Type, LastModifiedDate: epochTime(v.Modified), LastModifiedUser: v.ModifiedBy,
		Description: v.Description, Value: v.Value, Version: v.Version, Labels: []string{}, Tier: v.Tier, DataType: "text"}
	if v.Type == "SecureString" {
		e.KeyID = v.KeyID
		if !decrypt {
			e.Value = v.ciphertext
		}
	}
	return e
}

func errParameterNotFound(name string) *apiError {
	return &apiError{Status: 400, Code: "ParameterNotFound", Message: "Parameter " + name + " not found."}
}

type nameInput struct{ Name string }

// deleteParameter removes a parameter with its history and tags.
func deleteParameter(_ *Server, st *storeState, req *jsonRequest) (any, *apiError) {
	var in nameInput
	if aerr := decodeInput(req, &in); aerr != nil {
		return nil, aerr
	}
	if _, ok := st.params[in.Name]; !ok {
		return nil, errParameterNotFound(in.Name)
	}
	delete(st.params, in.Name)
	return struct{}{}, nil
}
