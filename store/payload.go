package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/sesmtp/sesmtp/credfile"
	"github.com/sesmtp/sesmtp/derive"
	"github.com/sesmtp/sesmtp/exitcode"
)

// Payload is what a store target holds: one region's SES SMTP credentials.
//
// One region per target: the SMTP password is derived per region, and an
// application reads one host and one password from one secret. Several
// regions in one secret would need a shape no application reads (a list,
// or suffixed keys); several secrets from one --store would need names
// sesmtp invents. So a store delivery takes exactly one region
// (CheckRegions), and a sender in two regions gets two targets.
type Payload struct {
	// IAMUser is the IAM user the key belongs to; the target is tagged with it.
	IAMUser string
	// AccessKeyID is the access key id: the SMTP user name.
	AccessKeyID string
	// Password is the SMTP password for Region.
	Password credfile.Secret
	// Region, Host and Port say where the password works.
	Region string
	Host   string
	Port   int
	// SecretAccessKey is written only when set (PayloadOptions.IncludeSecretKey).
	SecretAccessKey credfile.Secret
}

// PayloadOptions change what NewPayload puts in a payload.
type PayloadOptions struct {
	// IncludeSecretKey adds the secret access key (SMTP needs only the password).
	IncludeSecretKey bool
}

// The payload's field names: the JSON keys, the parameter names under an
// ssm:/path/ target, and credfile's k8s-secret keys.
const (
	FieldUsername        = "username"
	FieldPassword        = "password"
	FieldHost            = "host"
	FieldPort            = "port"
	FieldRegion          = "region"
	FieldIAMUser         = "iam_user"
	FieldAccessKeyID     = "access_key_id"
	FieldSecretAccessKey = "secret_access_key"
)

// CheckRegions reports whether a store delivery can take regions: exactly
// one (see Payload). Callers check it before anything changes.
func CheckRegions(regions []string) error {
	if len(regions) != 1 {
		return exitcode.UsageError(fmt.Errorf("--store holds one region's SMTP password and %d regions were given; "+
			"give one --region per store target (the password is derived per region, and an application "+
			"reads one host and one password)", len(regions)))
	}
	return nil
}

// NewPayload builds the payload for creds, which must hold one region.
func NewPayload(creds credfile.Credentials, opts PayloadOptions) (Payload, error) {
	regions := make([]string, 0, len(creds.Passwords))
	for _, p := range creds.Passwords {
		regions = append(regions, p.Region)
	}
	if err := CheckRegions(regions); err != nil {
		return Payload{}, err
	}
	rp := creds.Passwords[0]
	p := Payload{IAMUser: creds.UserName, AccessKeyID: creds.AccessKeyID, Password: rp.Password,
		Region: rp.Region, Host: rp.Endpoint, Port: derive.PortSubmission}
	if opts.IncludeSecretKey {
		p.SecretAccessKey = creds.SecretAccessKey
	}
	return p, p.check()
}

// check reports a payload that cannot be written.
func (p Payload) check() error {
	switch {
	case p.AccessKeyID == "":
		return errors.New("payload has no access key id")
	case p.Password == "":
		return errors.New("payload has no SMTP password")
	case p.Host == "" || p.Port == 0:
		return errors.New("payload has no SMTP host and port")
	}
	return exitcode.UsageError(CheckIAMUser(p.IAMUser))
}

// document is the JSON a secret or a single parameter holds. It reveals
// the secrets: only writers call it.
type document struct {
	Username        string `json:"username"`
	Password        string `json:"password"`
	Host            string `json:"host"`
	Port            int    `json:"port"`
	Region          string `json:"region"`
	IAMUser         string `json:"iam_user"`
	AccessKeyID     string `json:"access_key_id"`
	SecretAccessKey string `json:"secret_access_key,omitempty"`
}

// document renders the payload as the JSON a store holds.
func (p Payload) document() (string, error) {
	b, err := json.Marshal(document{Username: p.AccessKeyID, Password: p.Password.Reveal(), Host: p.Host,
		Port: p.Port, Region: p.Region, IAMUser: p.IAMUser, AccessKeyID: p.AccessKeyID,
		SecretAccessKey: p.SecretAccessKey.Reveal()})
	return string(b), err
}

// pathFields are the parameters an ssm:/path/ target writes, in the order
// they are written: the user name last, so that a user name naming the key
// means every other field was written before it.
func pathFields(withSecretKey bool) []string {
	fields := []string{FieldPassword, FieldHost, FieldPort}
	if withSecretKey {
		fields = append(fields, FieldSecretAccessKey)
	}
	return append(fields, FieldUsername)
}

// fieldValue returns one field's value for an ssm:/path/ target.
func (p Payload) fieldValue(field string) string {
	switch field {
	case FieldUsername:
		return p.AccessKeyID
	case FieldPassword:
		return p.Password.Reveal()
	case FieldHost:
		return p.Host
	case FieldPort:
		return strconv.Itoa(p.Port)
	case FieldSecretAccessKey:
		return p.SecretAccessKey.Reveal()
	}
	return ""
}
