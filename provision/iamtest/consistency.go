package iamtest

import (
	"slices"
	"strings"
	"time"
)

// Consistency makes the server eventually consistent, as IAM is: "IAM ...
// uses a distributed computing model called eventual consistency. Any change
// that you make in IAM ... takes time to become visible from all possible
// endpoints" (IAM User Guide, Troubleshooting IAM, "Changes that I make are
// not always immediately visible",
// https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_general.html#troubleshoot_general_eventual-consistency;
// and "Resilience in IAM": changes are made in one control plane in
// us-east-1 and propagated to a read-only data plane in every region).
//
// With it on, a new user, access key, inline policy (of a user or a group),
// group or group membership is invisible to every other call until it has
// aged: the call that made it answers normally, but a call that names it
// answers NoSuchEntity, as IAM does for an entity it cannot find, and
// listings leave it out. A name stays taken meanwhile: CreateUser of an
// invisible user answers EntityAlreadyExists (uniqueness is decided where
// the change is made). terraform-provider-aws retries NoSuchEntity for up
// to two minutes after creating an IAM entity for exactly this reason.
//
// An entity becomes visible once both conditions hold; zero turns one off,
// and the zero Consistency turns the mode off.
type Consistency struct {
	// Delay is how long after it was made an entity stays invisible, by the
	// server's clock (WithClock; a real delay for iam-local).
	Delay time.Duration
	// Calls is how many calls to the server after the one that made an
	// entity do not see it: deterministic for tests.
	Calls int
}

func (c Consistency) on() bool { return c.Delay > 0 || c.Calls > 0 }

// WithConsistency starts the server in the eventual-consistency mode c.
func WithConsistency(c Consistency) Option { return func(s *Server) { s.strict.consistency = c } }

// SetConsistency changes the eventual-consistency mode while the server
// runs; entities already invisible are judged by the new c.
func (s *Server) SetConsistency(c Consistency) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.strict.consistency = c
}

// entityKind names what an entity is; entity keys are lower-case where
// IAM's names are case-insensitive (users, groups).
type entityKind int

const (
	kindUser entityKind = iota + 1
	kindGroup
	kindKey
	kindUserPolicy
	kindGroupPolicy
	kindMembership // a: user, b: group
)

type entity struct {
	kind entityKind
	a, b string
}

func userEntity(name string) entity  { return entity{kindUser, strings.ToLower(name), ""} }
func groupEntity(name string) entity { return entity{kindGroup, strings.ToLower(name), ""} }
func memberEntity(user, group string) entity {
	return entity{kindMembership, strings.ToLower(user), strings.ToLower(group)}
}

// madeWhen is when an entity was made: the call number and the time.
type madeWhen struct {
	seq int
	at  time.Time
}

// visible reports whether e can be seen by the current call; an entity
// that has aged is forgotten. Callers hold s.mu.
func (s *Server) visible(e entity) bool {
	m, ok := s.strict.pending[e]
	if !ok || !s.strict.consistency.on() {
		return true
	}
	c := s.strict.consistency
	if s.strict.seq > m.seq+c.Calls && !s.strict.now().Before(m.at.Add(c.Delay)) {
		delete(s.strict.pending, e)
		return true
	}
	return false
}

// consistent runs op as eventual consistency lets the request see the
// state: it answers NoSuchEntity for an invisible entity the request
// names, leaves invisible entities out of the answer, and makes what the
// op created invisible to the next calls. Callers hold s.mu.
func (s *Server) consistent(req *request, op operation) (any, *apiError) {
	s.strict.seq++
	if !s.strict.consistency.on() {
		return op(s.state, req)
	}
	if aerr := s.hiddenTarget(req); aerr != nil {
		return nil, aerr
	}
	made := s.willMake(req)
	res, aerr := op(s.state, req)
	if aerr != nil {
		return nil, aerr
	}
	if key, ok := res.(accessKeyResult); ok {
		made = append(made, entity{kind: kindKey, a: key.AccessKey.AccessKeyID})
	}
	for _, e := range made {
		s.strict.pending[e] = madeWhen{s.strict.seq, s.strict.now()}
	}
	return s.hideInvisible(req, res), nil
}

// hiddenTarget answers NoSuchEntity, with the text the action's own lookup
// uses, when the request names an entity the call cannot see yet.
func (s *Server) hiddenTarget(req *request) *apiError {
	user, group := req.form.Get("UserName"), req.form.Get("GroupName")
	policy, key := req.form.Get("PolicyName"), req.form.Get("AccessKeyId")
	switch {
	case user != "" && req.action != "CreateUser" && !s.visible(userEntity(user)):
		return errNoSuchEntity("The user with name %s cannot be found.", user)
	case group != "" && req.action != "CreateGroup" && !s.visible(groupEntity(group)):
		return errNoSuchEntity("The group with name %s cannot be found.", group)
	case key != "" && !s.visible(entity{kind: kindKey, a: key}):
		if req.action == "GetAccessKeyLastUsed" {
			return &apiError{Status: 403, Type: "Sender", Code: "AccessDenied",
				Message: "User is not authorized to perform iam:GetAccessKeyLastUsed on access key " + key}
		}
		return errNoSuchEntity("The Access Key with id %s cannot be found.", key)
	case (req.action == "GetUserPolicy" || req.action == "DeleteUserPolicy") &&
		!s.visible(entity{kindUserPolicy, strings.ToLower(user), policy}):
		return errNoSuchEntity("The user policy with name %s cannot be found.", policy)
	case (req.action == "GetGroupPolicy" || req.action == "DeleteGroupPolicy") &&
		!s.visible(entity{kindGroupPolicy, strings.ToLower(group), policy}):
		return errNoSuchEntity("The group policy with name %s cannot be found.", policy)
	case req.action == "RemoveUserFromGroup" && !s.visible(memberEntity(user, group)):
		return errNoSuchEntity("The user with name %s is not in group %s.", user, group)
	}
	return nil
}

// willMake returns the entities the request creates if it succeeds (access
// keys are known only from the answer).
func (s *Server) willMake(req *request) []entity {
	user, group, policy := req.form.Get("UserName"), req.form.Get("GroupName"), req.form.Get("PolicyName")
	switch req.action {
	case "CreateUser":
		return []entity{userEntity(user)}
	case "CreateGroup":
		return []entity{groupEntity(group)}
	case "PutUserPolicy":
		if u, ok := s.state.users[strings.ToLower(user)]; ok && u.InlinePolicies[policy] == "" {
			return []entity{{kindUserPolicy, strings.ToLower(user), policy}}
		}
	case "PutGroupPolicy":
		if g, ok := s.state.groups[strings.ToLower(group)]; ok && g.InlinePolicies[policy] == "" {
			return []entity{{kindGroupPolicy, strings.ToLower(group), policy}}
		}
	case "AddUserToGroup":
		if u, ok := s.state.users[strings.ToLower(user)]; ok && !slices.ContainsFunc(u.Groups, func(g string) bool { return strings.EqualFold(g, group) }) {
			return []entity{memberEntity(user, group)}
		}
	}
	return nil
}

// hideInvisible leaves out of a listing what the call cannot see yet. IAM
// may return fewer items than MaxItems on a page, so a shorter page is
// still a faithful one (IAM API reference, MaxItems).
func (s *Server) hideInvisible(req *request, res any) any {
	user, group := req.form.Get("UserName"), req.form.Get("GroupName")
	switch r := res.(type) {
	case listUsersResult:
		r.Users.Member = slices.DeleteFunc(r.Users.Member, func(u userXML) bool { return !s.visible(userEntity(u.UserName)) })
		return r
	case listAccessKeysResult:
		r.AccessKeyMetadata.Member = slices.DeleteFunc(r.AccessKeyMetadata.Member, func(k accessKeyXML) bool {
			return !s.visible(entity{kind: kindKey, a: k.AccessKeyID})
		})
		return r
	case policyNamesResult:
		kind, owner := kindUserPolicy, user
		if req.action == "ListGroupPolicies" {
			kind, owner = kindGroupPolicy, group
		}
		r.PolicyNames.Member = slices.DeleteFunc(r.PolicyNames.Member, func(p string) bool {
			return !s.visible(entity{kind, strings.ToLower(owner), p})
		})
		return r
	case groupsResult:
		r.Groups.Member = slices.DeleteFunc(r.Groups.Member, func(g groupXML) bool {
			return !s.visible(groupEntity(g.GroupName)) || !s.visible(memberEntity(user, g.GroupName))
		})
		return r
	case getGroupResult:
		r.Users.Member = slices.DeleteFunc(r.Users.Member, func(u userXML) bool {
			return !s.visible(userEntity(u.UserName)) || !s.visible(memberEntity(u.UserName, group))
		})
		return r
	}
	return res
}
