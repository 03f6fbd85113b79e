package iamtest

import (
	"slices"
	"strconv"
	"strings"
)

// Tagging an existing secret or parameter: secretsmanager:TagResource and
// ssm:AddTagsToResource are in the operator policy because a CreateSecret
// or PutParameter with tags is also authorized as them, so an operator can
// call them on their own too; secretsmanager:UntagResource is what undoes
// them. The server answers them so that the store escalation matrix can
// try them, authorized by the evaluator as every other call.

// reservedTagPrefix begins the tag keys AWS reserves: "Do not use the aws:
// prefix in your tag names or values because AWS reserves it for AWS use.
// You can't edit or delete tag names or values with this prefix" (Secrets
// Manager API reference, TagResource; the same rule holds for every
// service's tags, AWS General Reference, "Tagging AWS resources").
const reservedTagPrefix = "aws:"

func errReservedTag() *apiError {
	return errJSONValidation("1 validation error detected: tag keys beginning with aws: are reserved for AWS use")
}

// mergeTags adds tags to have, replacing the value of a key already there.
func mergeTags(have []Tag, tags []smTag) []Tag {
	out := slices.Clone(have)
	for _, t := range tags {
		if i := slices.IndexFunc(out, func(h Tag) bool { return h.Key == t.Key }); i >= 0 {
			out[i].Value = t.Value
			continue
		}
		out = append(out, Tag(t))
	}
	return out
}

func hasReservedKey(keys []string) bool {
	return slices.ContainsFunc(keys, func(k string) bool { return strings.HasPrefix(k, reservedTagPrefix) })
}

func tagKeysOf(tags []smTag) []string {
	keys := make([]string, 0, len(tags))
	for _, t := range tags {
		keys = append(keys, t.Key)
	}
	return keys
}

type tagResourceInput struct {
	SecretId string
	Tags     []smTag
}

// tagResource attaches tags to a secret, appending to its tags and
// replacing the value of a key it already has; at most 50 tags a secret
// (Secrets Manager API reference, TagResource). A secret scheduled for
// deletion is refused, as for every call but DescribeSecret and
// DeleteSecret (liveSecret).
func tagResource(_ *Server, st *storeState, req *jsonRequest) (any, *apiError) {
	var in tagResourceInput
	if aerr := decodeInput(req, &in); aerr != nil {
		return nil, aerr
	}
	if len(in.Tags) == 0 {
		return nil, errJSONValidation("1 validation error detected: Value null at 'tags' failed to satisfy constraint: Member must not be null")
	}
	if aerr := checkSecretTags(in.Tags); aerr != nil {
		return nil, aerr
	}
	if hasReservedKey(tagKeysOf(in.Tags)) {
		return nil, errReservedTag()
	}
	sec, aerr := liveSecret(st, in.SecretId)
	if aerr != nil {
		return nil, aerr
	}
	merged := mergeTags(sec.Tags, in.Tags)
	if len(merged) > maxSecretTags {
		return nil, errSMInvalidParameter("Number of tags exceeds the limit of " + strconv.Itoa(maxSecretTags) + ".")
	}
	sec.Tags = merged
	return struct{}{}, nil
}

type untagResourceInput struct {
	SecretId string
	TagKeys  []string
}

// untagResource removes tag keys from a secret; a key it does not have is
// ignored (Secrets Manager API reference, UntagResource). The request's
// aws:TagKeys are its TagKeys (authorizeStore).
func untagResource(_ *Server, st *storeState, req *jsonRequest) (any, *apiError) {
	var in untagResourceInput
	if aerr := decodeInput(req, &in); aerr != nil {
		return nil, aerr
	}
	if len(in.TagKeys) == 0 {
		return nil, errJSONValidation("1 validation error detected: Value null at 'tagKeys' failed to satisfy constraint: Member must not be null")
	}
	if hasReservedKey(in.TagKeys) {
		return nil, errReservedTag()
	}
	sec, aerr := liveSecret(st, in.SecretId)
	if aerr != nil {
		return nil, aerr
	}
	sec.Tags = slices.DeleteFunc(sec.Tags, func(t Tag) bool { return slices.Contains(in.TagKeys, t.Key) })
	return struct{}{}, nil
}

type addTagsInput struct {
	ResourceType string
	ResourceId   string
	Tags         []smTag
}

// addTagsToResource adds or overwrites tags of a parameter (Systems
// Manager API reference, AddTagsToResource: "Adds or overwrites one or more
// tags for the specified resource"; at most 50 tags a resource,
// TooManyTagsError). A parameter that does not exist answers
// InvalidResourceId, as ListTagsForResource does; only ResourceType
// Parameter is implemented.
func addTagsToResource(_ *Server, st *storeState, req *jsonRequest) (any, *apiError) {
	var in addTagsInput
	if aerr := decodeInput(req, &in); aerr != nil {
		return nil, aerr
	}
	if in.ResourceType != "Parameter" {
		return nil, &apiError{Status: 400, Code: "InvalidResourceType", Message: "iamtest implements ResourceType Parameter only"}
	}
	if len(in.Tags) == 0 {
		return nil, errJSONValidation("1 validation error detected: Value null at 'tags' failed to satisfy constraint: Member must not be null")
	}
	if aerr := checkSSMTags(in.Tags); aerr != nil {
		return nil, aerr
	}
	if hasReservedKey(tagKeysOf(in.Tags)) {
		return nil, errReservedTag()
	}
	p, ok := st.params[in.ResourceId]
	if !ok {
		return nil, &apiError{Status: 400, Code: "InvalidResourceId"}
	}
	merged := mergeTags(p.Tags, in.Tags)
	if len(merged) > maxParameterTags {
		return nil, &apiError{Status: 400, Code: "TooManyTagsError", Message: "The Targets parameter includes too many tags. Remove one or more tags and try the command again."}
	}
	p.Tags = merged
	return struct{}{}, nil
}
