package iamtest

import (
	"encoding/json"

	"github.com/sesmtp/sesmtp/provision/iamtest/iampolicy"
)

// authorizeStore evaluates the caller's policies for a Secrets Manager or
// SSM action ("secretsmanager:CreateSecret", "ssm:PutParameter") on
// resource (an ARN), as authorize does for IAM actions. A request that
// carries Tags has aws:RequestTag/${TagKey} and aws:TagKeys in its context
// ("Controlling access to AWS resources using tags", IAM user guide; both
// services list these keys for CreateSecret/TagResource and
// PutParameter/AddTagsToResource in the Service Authorization Reference);
// an existing secret's or parameter's tags are aws:ResourceTag/${TagKey}.
// A refusal is the JSON services' AccessDeniedException (HTTP 400) in IAM's
// words.
func (s *Server) authorizeStore(req *jsonRequest, action, resource string) *apiError {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, err := s.state.principalFor(req.caller)
	if err != nil {
		return errEvaluation(err)
	}
	if p.unrestricted {
		return nil
	}
	ctx := iampolicy.Context{}
	globalContext(ctx, s.state, p, req.region)
	for _, t := range s.storeResourceTags(req) {
		ctx.Set("aws:ResourceTag/"+t.Key, t.Value)
	}
	tags, untagKeys := jsonRequestTags(req.body)
	if len(tags) > 0 {
		for _, t := range tags {
			ctx.Set("aws:RequestTag/"+t.Key, t.Value)
		}
		ctx.Set("aws:TagKeys", tagKeysOf(tags)...)
	}
	if len(untagKeys) > 0 {
		ctx.Set("aws:TagKeys", untagKeys...)
	}
	res, err := iampolicy.Evaluate(iampolicy.Request{Action: action, Resource: resource, Context: ctx}, p.policies)
	if err != nil {
		return errEvaluation(err)
	}
	if res.Decision != iampolicy.Allowed {
		e := errAccessDenied(p.arn, action, resource, res)
		e.Status, e.Code = 400, "AccessDeniedException"
		return e
	}
	return nil
}

// jsonRequestTags reads the Tags of a JSON-protocol request body, and the
// TagKeys of an UntagResource, whose aws:TagKeys they are (Service
// Authorization Reference, Secrets Manager: UntagResource lists aws:TagKeys).
func jsonRequestTags(body []byte) (tags []smTag, untagKeys []string) {
	var in struct {
		Tags    []smTag
		TagKeys []string
	}
	_ = json.Unmarshal(body, &in) // parseJSON has already checked it is an object
	return in.Tags, in.TagKeys
}

// storeResourceTags returns the tags of the secret or parameter the call
// is about, if it exists; the caller holds s.mu.
func (s *Server) storeResourceTags(req *jsonRequest) []Tag {
	st := s.stores.get()
	if req.service == "secretsmanager" {
		if sec := st.secret(req.name); sec != nil {
			return sec.Tags
		}
		return nil
	}
	if p, ok := st.params[req.name]; ok {
		return p.Tags
	}
	return nil
}
