package iamtest

import (
	"crypto/rand"
	"maps"
	"slices"
	"strings"
	"time"
)

// Tag is an IAM tag.
type Tag struct {
	Key   string
	Value string
}

// AccessKey is an access key the server holds.
type AccessKey struct {
	ID              string
	SecretAccessKey string
	Status          string // Active or Inactive
	Created         time.Time
	LastUsed        time.Time // zero: never used
	LastUsedService string
	LastUsedRegion  string
}

// User is a snapshot of an IAM user the server holds.
type User struct {
	Name                string
	ID                  string
	ARN                 string
	Path                string
	Created             time.Time
	Tags                []Tag
	PermissionsBoundary string
	// InlinePolicies maps policy name to its JSON document.
	InlinePolicies map[string]string
	// AttachedPolicies maps managed policy ARN to its name.
	AttachedPolicies map[string]string
	Groups           []string
	AccessKeys       []AccessKey
	LoginProfile     bool
	// Extras that block DeleteUser until removed.
	SigningCertificates []string
	SSHPublicKeys       []string
	ServiceCredentials  []string
	MFADevices          []string // serial numbers; virtual devices start with arn:
}

// Group is a snapshot of an IAM group the server holds.
type Group struct {
	Name           string
	ID             string
	ARN            string
	Path           string
	Created        time.Time
	InlinePolicies map[string]string
	Members        []string

	// AttachedPolicies maps managed policy ARN to its name.
	AttachedPolicies map[string]string
}

type state struct {
	account string
	issued  []string          // every secret access key ever issued, for leak checks
	users   map[string]*User  // by lower-case name
	groups  map[string]*Group // by lower-case name

	policies map[string]*ManagedPolicy // managed policies by ARN
	parsed   parseCache                // policy documents the evaluator has read

	// virtualMFA holds the serials (ARNs) of the account's virtual MFA
	// devices: they exist apart from the users they are assigned to, and
	// outlive DeactivateMFADevice until DeleteVirtualMFADevice (IAM API
	// reference: CreateVirtualMFADevice, EnableMFADevice,
	// DeactivateMFADevice, DeleteVirtualMFADevice).
	virtualMFA map[string]bool
}

func newState(account string) *state {
	return &state{account: account, users: map[string]*User{}, groups: map[string]*Group{}, policies: seedAWSManaged(),
		virtualMFA: map[string]bool{}}
}

func (st *state) user(name string) (*User, *apiError) {
	u, ok := st.users[strings.ToLower(name)]
	if !ok {
		return nil, errNoSuchEntity("The user with name %s cannot be found.", name)
	}
	return u, nil
}

func (st *state) group(name string) (*Group, *apiError) {
	g, ok := st.groups[strings.ToLower(name)]
	if !ok {
		return nil, errNoSuchEntity("The group with name %s cannot be found.", name)
	}
	return g, nil
}

func (st *state) sortedUsers() []*User {
	us := slices.Collect(maps.Values(st.users))
	slices.SortFunc(us, func(a, b *User) int { return strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name)) })
	return us
}

func (st *state) findKey(id string) (*User, int) {
	for _, u := range st.users {
		for i, k := range u.AccessKeys {
			if k.ID == id {
				return u, i
			}
		}
	}
	return nil, -1
}

// Random identifiers shaped like IAM's.
const (
	upperAlnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	secretSet  = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
)

func randomString(alphabet string, n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

func newAccessKeyID() string { return "AKIA" + randomString(upperAlnum, 16) }
func newSecret() string      { return randomString(secretSet, 40) }
func newUserID() string      { return "AIDA" + randomString(upperAlnum, 17) }
func newGroupID() string     { return "AGPA" + randomString(upperAlnum, 17) }

func cloneUser(u *User) User {
	c := *u
	c.Tags = slices.Clone(u.Tags)
	c.InlinePolicies = maps.Clone(u.InlinePolicies)
	c.AttachedPolicies = maps.Clone(u.AttachedPolicies)
	c.Groups = slices.Clone(u.Groups)
	c.AccessKeys = slices.Clone(u.AccessKeys)
	c.SigningCertificates = slices.Clone(u.SigningCertificates)
	c.SSHPublicKeys = slices.Clone(u.SSHPublicKeys)
	c.ServiceCredentials = slices.Clone(u.ServiceCredentials)
	c.MFADevices = slices.Clone(u.MFADevices)
	return c
}

// Users returns a snapshot of every user, sorted by name.
func (s *Server) Users() []User {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []User
	for _, u := range s.state.sortedUsers() {
		out = append(out, cloneUser(u))
	}
	return out
}

// User returns a snapshot of the named user.
func (s *Server) User(name string) (User, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, err := s.state.user(name)
	if err != nil {
		return User{}, false
	}
	return cloneUser(u), true
}

// Group returns a snapshot of the named group.
func (s *Server) Group(name string) (Group, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, err := s.state.group(name)
	if err != nil {
		return Group{}, false
	}
	c := *g
	c.InlinePolicies = maps.Clone(g.InlinePolicies)
	c.AttachedPolicies = maps.Clone(g.AttachedPolicies)
	c.Members = slices.Clone(g.Members)
	return c, true
}

// Groups returns the names of every group, sorted.
func (s *Server) Groups() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var names []string
	for _, g := range s.state.groups {
		names = append(names, g.Name)
	}
	slices.Sort(names)
	return names
}

// IssuedSecrets returns every secret access key the server has issued,
// deleted ones included, so tests can assert none leaked into output.
func (s *Server) IssuedSecrets() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.state.issued)
}

// KeyCount returns how many access keys all users hold together.
func (s *Server) KeyCount() int {
	n := 0
	for _, u := range s.Users() {
		n += len(u.AccessKeys)
	}
	return n
}

// PutUser stores u as given (replacing a user of the same name), filling in
// the id, ARN, path and creation time when empty. It is for setting up
// states the API cannot make, such as a login profile or an MFA device.
func (s *Server) PutUser(u User) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u.Path == "" {
		u.Path = "/"
	}
	if u.ID == "" {
		u.ID = newUserID()
	}
	if u.ARN == "" {
		u.ARN = "arn:aws:iam::" + s.account + ":user" + u.Path + u.Name
	}
	if u.Created.IsZero() {
		u.Created = time.Now().UTC().Truncate(time.Second)
	}
	c := cloneUser(&u)
	if c.InlinePolicies == nil {
		c.InlinePolicies = map[string]string{}
	}
	if c.AttachedPolicies == nil {
		c.AttachedPolicies = map[string]string{}
	}
	for i := range c.AccessKeys {
		if c.AccessKeys[i].Status == "" {
			c.AccessKeys[i].Status = "Active"
		}
	}
	for _, serial := range c.MFADevices {
		if strings.HasPrefix(serial, "arn:") {
			s.state.virtualMFA[serial] = true
		}
	}
	for _, g := range c.Groups {
		if grp, ok := s.state.groups[strings.ToLower(g)]; ok && !slices.Contains(grp.Members, c.Name) {
			grp.Members = append(grp.Members, c.Name)
		}
	}
	s.state.users[strings.ToLower(u.Name)] = &c
}

// SetKeyLastUsed records that key id was last used at t for service in region.
func (s *Server) SetKeyLastUsed(id string, t time.Time, service, region string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, i := s.state.findKey(id)
	if u == nil {
		return false
	}
	u.AccessKeys[i].LastUsed, u.AccessKeys[i].LastUsedService, u.AccessKeys[i].LastUsedRegion = t, service, region
	return true
}

// SetKeyCreated backdates key id, for tests of key ages.
func (s *Server) SetKeyCreated(id string, t time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, i := s.state.findKey(id)
	if u == nil {
		return false
	}
	u.AccessKeys[i].Created = t
	return true
}
