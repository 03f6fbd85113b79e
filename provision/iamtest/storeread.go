package iamtest

import (
	"slices"
	"strings"
)

// The reads an application (and 'sesmtp verify --store') makes of what
// sesmtp stored: Secrets Manager GetSecretValue and SSM GetParameter.

type getSecretValueInput struct {
	SecretId     string
	VersionId    string
	VersionStage string
}

type getSecretValueOutput struct {
	ARN           string    `json:"ARN"`
	Name          string    `json:"Name"`
	VersionID     string    `json:"VersionId"`
	SecretString  string    `json:"SecretString"`
	VersionStages []string  `json:"VersionStages"`
	CreatedDate   epochTime `json:"CreatedDate"`
}

// getSecretValue answers the version VersionId names, or the one staged
// VersionStage (default AWSCURRENT); a secret scheduled for deletion is
// refused with InvalidRequestException (Secrets Manager API reference,
// GetSecretValue: "If you specify both [VersionId and VersionStage], they
// must match"; ResourceNotFoundException when no version matches).
func getSecretValue(_ *Server, st *storeState, req *jsonRequest) (any, *apiError) {
	var in getSecretValueInput
	if aerr := decodeInput(req, &in); aerr != nil {
		return nil, aerr
	}
	sec, aerr := liveSecret(st, in.SecretId)
	if aerr != nil {
		return nil, aerr
	}
	stage := in.VersionStage
	if stage == "" && in.VersionId == "" {
		stage = StageCurrent
	}
	for _, v := range sec.Versions {
		if (in.VersionId == "" || v.ID == in.VersionId) && (stage == "" || slices.Contains(v.Stages, stage)) {
			return getSecretValueOutput{ARN: sec.ARN, Name: sec.Name, VersionID: v.ID, SecretString: v.Value,
				VersionStages: slices.Clone(v.Stages), CreatedDate: epochTime(v.Created)}, nil
		}
	}
	return nil, &apiError{Status: 400, Code: "ResourceNotFoundException",
		Message: "Secrets Manager can't find the specified secret value for staging label: " + stage}
}

type getParameterInput struct {
	Name           string
	WithDecryption bool
}

type parameterOutput struct {
	Name             string    `json:"Name"`
	Type             string    `json:"Type"`
	Value            string    `json:"Value"`
	Version          int64     `json:"Version"`
	ARN              string    `json:"ARN"`
	LastModifiedDate epochTime `json:"LastModifiedDate"`
	DataType         string    `json:"DataType"`
}

// getParameter answers the newest version of a parameter; a SecureString's
// value is its ciphertext unless WithDecryption (Systems Manager API
// reference, GetParameter). Version and label selectors (NAME:N) are not
// implemented: such a name answers ParameterNotFound.
func getParameter(_ *Server, st *storeState, req *jsonRequest) (any, *apiError) {
	var in getParameterInput
	if aerr := decodeInput(req, &in); aerr != nil {
		return nil, aerr
	}
	p, ok := st.params[in.Name]
	if !ok {
		return nil, errParameterNotFound(in.Name)
	}
	v := p.Latest()
	e := historyOf(p, v, in.WithDecryption)
	return struct {
		Parameter parameterOutput `json:"Parameter"`
	}{parameterOutput{Name: p.Name, Type: v.Type, Value: e.Value, Version: v.Version, ARN: p.ARN,
		LastModifiedDate: epochTime(v.Modified), DataType: "text"}}, nil
}

// Secrets returns a snapshot of every secret, sorted by name.
func (s *Server) Secrets() []Secret {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Secret
	for _, sec := range s.stores.get().secrets {
		out = append(out, cloneSecret(sec))
	}
	slices.SortFunc(out, func(a, b Secret) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Parameters returns a snapshot of every parameter, sorted by name.
func (s *Server) Parameters() []Parameter {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Parameter
	for _, p := range s.stores.get().params {
		out = append(out, cloneParameter(p))
	}
	slices.SortFunc(out, func(a, b Parameter) int { return strings.Compare(a.Name, b.Name) })
	return out
}
