package policy

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// The tags sesmtp puts on every secret and parameter it writes (package
// store writes them; the store statements' conditions name them).
const (
	// StoreIAMUserTag names the IAM user whose credentials a secret holds.
	StoreIAMUserTag = "sesmtp:iam-user"
)

// StoreOptions describe the secret stores an operator may deliver
// credentials to (policy operator --store-prefix).
type StoreOptions struct {
	// Prefixes are "secretsmanager:PREFIX" (secret names that start with
	// PREFIX) and "ssm:/PATH/" (parameters under the path).
	Prefixes []string
	// KMSKeyARN, if set, is the customer managed KMS key the secrets and
	// parameters are encrypted with: the operator may use it through
	// Secrets Manager and SSM only (kms:ViaService).
	KMSKeyARN string
	// Partition and Account scope the ARNs; "" means "aws" and any
	// account ("*": the broad policy, which names no account).
	Partition, Account string
}

// The store actions, by statement (Secrets Manager and Systems Manager
// API references, each call's "Required permissions"; a CreateSecret or
// PutParameter with tags also needs secretsmanager:TagResource or
// ssm:AddTagsToResource).
var (
	// secretReads answer for secrets that do not exist yet too (the first
	// delivery's DescribeSecret), so they carry no tag condition.
	secretReads = []string{"secretsmanager:DescribeSecret"}
	// secretCreate makes a secret: only with sesmtp's tags.
	secretCreate = []string{"secretsmanager:CreateSecret", "secretsmanager:TagResource"}
	// secretWrites change or read an existing secret: only one sesmtp made.
	secretWrites = []string{"secretsmanager:PutSecretValue", "secretsmanager:UpdateSecretVersionStage",
		"secretsmanager:DeleteSecret", "secretsmanager:GetSecretValue"}
	// parameterActions: writes, reads (verify --store, recovery's history)
	// and tagging of parameters under the path.
	parameterActions = []string{"ssm:PutParameter", "ssm:GetParameter", "ssm:GetParameters", "ssm:GetParameterHistory",
		"ssm:DeleteParameter", "ssm:DeleteParameters", "ssm:AddTagsToResource", "ssm:ListTagsForResource"}
	// kmsActions: what the services do with a customer managed key on the
	// caller's behalf (Secrets Manager: GenerateDataKey and Decrypt; SSM:
	// Encrypt for a standard SecureString, Decrypt to read one).
	kmsActions = []string{"kms:GenerateDataKey", "kms:Encrypt", "kms:Decrypt"}
	// storeTagKeys are the only tag keys sesmtp puts on a secret.
	storeTagKeys = Strings{ManagedByTag, StoreIAMUserTag}
)

// Store prefix grammar: a secret name prefix (Secrets Manager's name
// characters) or a parameter path (SSM's level characters between slashes).
var (
	secretPrefixPattern = regexp.MustCompile(`^[A-Za-z0-9/_+=.@-]{1,512}$`)
	parameterPathLevel  = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)
	kmsKeyARNPattern    = regexp.MustCompile(`^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:(key/[A-Za-z0-9-]+|alias/[A-Za-z0-9/_-]+)$`)
)

// storeScope is StoreOptions checked.
type storeScope struct {
	secrets, parameters []string // resource ARN patterns
	kms                 string
}

func (o StoreOptions) scope() (storeScope, error) {
	var s storeScope
	partition, account := o.Partition, o.Account
	if partition == "" {
		partition = "aws"
	}
	if account == "" {
		account = "*"
	}
	for _, p := range o.Prefixes {
		kind, prefix, _ := strings.Cut(p, ":")
		switch kind {
		case "secretsmanager":
			if !secretPrefixPattern.MatchString(prefix) {
				return s, fmt.Errorf("--store-prefix %q: a Secrets Manager name prefix holds 1-512 letters, digits and / _ + = . @ - "+
					"(e.g. secretsmanager:smtp/)", p)
			}
			// A secret's ARN is its name and -XXXXXX: the * covers both.
			s.secrets = append(s.secrets, fmt.Sprintf("arn:%s:secretsmanager:*:%s:secret:%s*", partition, account, prefix))
		case "ssm":
			if err := checkParameterPath(prefix); err != nil {
				return s, fmt.Errorf("--store-prefix %q: %w", p, err)
			}
			s.parameters = append(s.parameters, fmt.Sprintf("arn:%s:ssm:*:%s:parameter/%s*", partition, account, strings.TrimPrefix(prefix, "/")))
		default:
			return s, fmt.Errorf("--store-prefix %q: use secretsmanager:PREFIX or ssm:/PATH/", p)
		}
	}
	if len(o.Prefixes) == 0 {
		return s, errors.New("no --store-prefix")
	}
	if o.KMSKeyARN != "" && !kmsKeyARNPattern.MatchString(o.KMSKeyARN) {
		return s, fmt.Errorf("--kms-key-id %q: give the key's ARN (arn:aws:kms:REGION:ACCOUNT:key/ID): a policy names keys by ARN", o.KMSKeyARN)
	}
	s.kms = o.KMSKeyARN
	return s, nil
}

// checkParameterPath: /a/b/, letters, digits and _ . - per level, not
// starting with aws or ssm (SSM reserves them).
func checkParameterPath(p string) error {
	levels := strings.Split(strings.TrimSuffix(strings.TrimPrefix(p, "/"), "/"), "/")
	if !strings.HasPrefix(p, "/") || !strings.HasSuffix(p, "/") || p == "/" {
		return errors.New("an SSM path starts and ends with / and names at least one level (e.g. ssm:/smtp/)")
	}
	for _, l := range levels {
		if !parameterPathLevel.MatchString(l) {
			return errors.New("SSM path levels hold only letters, digits and _ . -")
		}
	}
	if first := strings.ToLower(levels[0]); strings.HasPrefix(first, "aws") || strings.HasPrefix(first, "ssm") {
		return errors.New("SSM reserves names that begin with aws or ssm")
	}
	return nil
}

// WithStores returns doc with the statements that let its holder deliver
// credentials to the stores o names, and nowhere else: Secrets Manager
// secrets under the prefixes, created only with sesmtp's tags and changed,
// read or deleted only while they carry sesmtp:managed-by=sesmtp; SSM
// parameters under the paths; the KMS key, if any, only through those
// two services.
func WithStores(doc Document, o StoreOptions) (Document, error) {
	s, err := o.scope()
	if err != nil {
		return Document{}, err
	}
	out := Document{Version: doc.Version, Statement: slices.Clone(doc.Statement)}
	if len(s.secrets) > 0 {
		created := Condition{
			"StringEquals":              {"aws:RequestTag/" + ManagedByTag: {ManagedByValue}},
			"ForAllValues:StringEquals": {"aws:TagKeys": storeTagKeys},
		}
		out.Statement = append(out.Statement,
			Statement{Sid: "SesmtpSecretsDescribe", Effect: "Allow", Action: Strings(secretReads), Resource: Strings(s.secrets)},
			Statement{Sid: "SesmtpSecretsCreateTagged", Effect: "Allow", Action: Strings(secretCreate), Resource: Strings(s.secrets), Condition: created},
			Statement{Sid: "SesmtpSecretsOwn", Effect: "Allow", Action: Strings(secretWrites), Resource: Strings(s.secrets),
				Condition: Condition{"StringEquals": {"aws:ResourceTag/" + ManagedByTag: {ManagedByValue}}}})
	}
	if len(s.parameters) > 0 {
		out.Statement = append(out.Statement,
			Statement{Sid: "SesmtpParameters", Effect: "Allow", Action: Strings(parameterActions), Resource: Strings(s.parameters)})
	}
	if s.kms != "" {
		var via Strings
		if len(s.secrets) > 0 {
			via = append(via, "secretsmanager.*.amazonaws.com")
		}
		if len(s.parameters) > 0 {
			via = append(via, "ssm.*.amazonaws.com")
		}
		out.Statement = append(out.Statement, Statement{Sid: "SesmtpStoreKey", Effect: "Allow", Action: Strings(kmsActions),
			Resource: Strings{s.kms}, Condition: Condition{"StringLike": {"kms:ViaService": via}}})
	}
	return out, nil
}

// StoreScopeOf returns the partition and account the bounded policy's
// boundary ARN names, for StoreOptions.
func StoreScopeOf(boundaryARN string) (partition, account string, err error) {
	b, err := ParsePolicyARN(boundaryARN)
	if err != nil {
		return "", "", err
	}
	return b.Partition, b.Account, nil
}
