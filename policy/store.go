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
// PutParameter with tags is also authorized as secretsmanager:TagResource
// or ssm:AddTagsToResource: Service Authorization Reference, Systems
// Manager, "API operations": PutParameter authorizes ssm:AddTagsToResource
// and ssm:PutParameter).
var (
	// secretReads answer for secrets that do not exist yet too (the first
	// delivery's DescribeSecret), so they carry no tag condition.
	secretReads = []string{"secretsmanager:DescribeSecret"}
	// secretCreate makes a secret: only with sesmtp's tags.
	secretCreate = []string{"secretsmanager:CreateSecret", "secretsmanager:TagResource"}
	// secretWrites change or read an existing secret: only one sesmtp made.
	secretWrites = []string{"secretsmanager:PutSecretValue", "secretsmanager:UpdateSecretVersionStage",
		"secretsmanager:DeleteSecret", "secretsmanager:GetSecretValue",
		// RestoreSecret undoes a DeleteSecret within its recovery window:
		// sesmtp prints 'aws secretsmanager restore-secret' as the way back
		// from delete --delete-stored, and a secret scheduled for deletion
		// keeps its tags, so the same condition holds.
		"secretsmanager:RestoreSecret"}
	// parameterTags answers for parameters that do not exist yet too (the
	// first delivery asks whether there is one): no tag condition. It
	// reveals tags, never values.
	parameterTags = []string{"ssm:ListTagsForResource"}
	// parameterCreate makes a parameter: PutParameter with sesmtp's tags
	// (SSM refuses Tags together with Overwrite, so such a call can only
	// create), and the ssm:AddTagsToResource it is also authorized as.
	parameterCreate = []string{"ssm:PutParameter", "ssm:AddTagsToResource"}
	// parameterOwn overwrites (rotation, taking back), reads (verify
	// --store, recovery's history) and deletes a parameter sesmtp made.
	// The Service Authorization Reference (Systems Manager) lists
	// aws:ResourceTag/${TagKey} for each of them.
	parameterOwn = []string{"ssm:PutParameter", "ssm:GetParameter", "ssm:GetParameterHistory", "ssm:DeleteParameter"}
	// kmsActions: what the services do with a customer managed key on the
	// caller's behalf (Secrets Manager: GenerateDataKey and Decrypt; SSM:
	// Encrypt for a standard SecureString, Decrypt to read one).
	kmsActions = []string{"kms:GenerateDataKey", "kms:Encrypt", "kms:Decrypt"}
	// storeTagKeys are the only tag keys sesmtp puts on a secret or parameter.
	storeTagKeys = Strings{ManagedByTag, StoreIAMUserTag}
)

// Store prefix grammar: a secret name prefix (Secrets Manager's name
// characters) or a parameter path (SSM's level characters between
// slashes); a KMS key ARN.
var (
	secretPrefixPattern = regexp.MustCompile(`^[A-Za-z0-9/_+=.@-]{1,512}$`)
	parameterPathLevel  = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)
	// kmsKeyARNPattern: an IAM policy names a KMS key by its key ARN only.
	// AWS KMS Developer Guide, "Specifying KMS keys in IAM policy
	// statements": "You cannot use a key id, alias name, or alias ARN to
	// identify a KMS key in an IAM policy statement"; an alias ARN there
	// controls the alias operations (CreateAlias...), not the key's use.
	kmsKeyARNPattern = regexp.MustCompile(`^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]+$`)
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
	if len(o.Prefixes) == 0 {
		return s, errors.New("no --store-prefix")
	}
	for _, p := range o.Prefixes {
		kind, prefix, _ := strings.Cut(p, ":")
		switch kind {
		case "secretsmanager":
			if err := checkSecretPrefix(prefix); err != nil {
				return s, fmt.Errorf("--store-prefix %q: %w", p, err)
			}
			// A secret's ARN is its name and -XXXXXX: the * covers both.
			s.secrets = append(s.secrets, fmt.Sprintf("arn:%s:secretsmanager:*:%s:secret:%s*", partition, account, prefix))
		case "ssm":
			if err := checkParameterPath(prefix); err != nil {
				return s, fmt.Errorf("--store-prefix %q: %w", p, err)
			}
			s.parameters = append(s.parameters, fmt.Sprintf("arn:%s:ssm:*:%s:parameter/%s*", partition, account, strings.TrimPrefix(prefix, "/")))
		default:
			return s, fmt.Errorf("--store-prefix %q: use secretsmanager:PREFIX/ or ssm:/PATH/ (e.g. secretsmanager:smtp/, ssm:/smtp/)", p)
		}
	}
	if o.KMSKeyARN != "" && !kmsKeyARNPattern.MatchString(o.KMSKeyARN) {
		return s, fmt.Errorf("--kms-key-id %q: give the key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID): an IAM policy names a KMS key "+
			"by its key ARN only, never by alias or key id (AWS KMS Developer Guide, \"Specifying KMS keys in IAM policy statements\"); "+
			"find it with: aws kms describe-key --key-id %s --query KeyMetadata.Arn --output text", o.KMSKeyARN, kmsDescribeID(o.KMSKeyARN))
	}
	s.kms = o.KMSKeyARN
	return s, nil
}

// kmsDescribeID is what to pass to aws kms describe-key --key-id for a
// --kms-key-id that is not a key ARN: an alias ARN's alias/NAME, or the
// value itself.
func kmsDescribeID(id string) string {
	if _, alias, ok := strings.Cut(id, ":alias/"); ok && strings.HasPrefix(id, "arn:") {
		return "alias/" + alias
	}
	if id == "" || strings.ContainsAny(id, " '\"$`\\") {
		return "alias/NAME"
	}
	return id
}

// errTooBroad says why a prefix that is not one level of its own is refused.
const errTooBroad = "too broad: operators may read, write and delete what is under a store prefix, so it must " +
	"name at least one whole level of its own, ending in / (e.g. secretsmanager:smtp/), and hold only sesmtp's secrets"

// checkSecretPrefix: Secrets Manager's name characters, no wildcard, and at
// least one whole level: "prod" would also cover prod-db and production/...
func checkSecretPrefix(p string) error {
	if strings.ContainsAny(p, "*?") {
		return errors.New("give the prefix itself, without wildcards: the policy adds the * (e.g. secretsmanager:smtp/)")
	}
	if p == "" || !secretPrefixPattern.MatchString(p) {
		return errors.New("a Secrets Manager name prefix holds 1-512 letters, digits and / _ + = . @ - (e.g. secretsmanager:smtp/)")
	}
	if strings.Index(strings.TrimLeft(p, "/"), "/") <= 0 {
		return errors.New(errTooBroad)
	}
	return nil
}

// checkParameterPath: /a/b/, letters, digits and _ . - per level, not
// starting with aws or ssm (SSM reserves them), no wildcard.
func checkParameterPath(p string) error {
	if strings.ContainsAny(p, "*?") {
		return errors.New("give the path itself, without wildcards: the policy adds the * (e.g. ssm:/smtp/)")
	}
	levels := strings.Split(strings.TrimSuffix(strings.TrimPrefix(p, "/"), "/"), "/")
	if !strings.HasPrefix(p, "/") || !strings.HasSuffix(p, "/") || p == "/" {
		return errors.New("an SSM path starts and ends with / and names at least one level (e.g. ssm:/smtp/): " +
			"operators may read, write and delete what is under it, so / alone or a level without its closing / is too broad")
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
// credentials to the stores o names, and nowhere else: secrets and
// parameters under the prefixes, created only with sesmtp's tags and
// changed, read or deleted only while they carry sesmtp:managed-by=sesmtp;
// the KMS key, if any, only through those two services. Its holder may
// still tag an item under a prefix as sesmtp's (the tagging a create does
// cannot be told apart), hence prefixes that hold only sesmtp's items.
func WithStores(doc Document, o StoreOptions) (Document, error) {
	s, err := o.scope()
	if err != nil {
		return Document{}, err
	}
	out := Document{Version: doc.Version, Statement: slices.Clone(doc.Statement)}
	if len(s.secrets) > 0 {
		out.Statement = append(out.Statement,
			Statement{Sid: "SesmtpSecretsDescribe", Effect: "Allow", Action: Strings(secretReads), Resource: Strings(s.secrets)},
			Statement{Sid: "SesmtpSecretsCreateTagged", Effect: "Allow", Action: Strings(secretCreate), Resource: Strings(s.secrets), Condition: createdTagged()},
			Statement{Sid: "SesmtpSecretsOwn", Effect: "Allow", Action: Strings(secretWrites), Resource: Strings(s.secrets), Condition: ownedTagged()})
	}
	if len(s.parameters) > 0 {
		out.Statement = append(out.Statement,
			Statement{Sid: "SesmtpParametersTags", Effect: "Allow", Action: Strings(parameterTags), Resource: Strings(s.parameters)},
			Statement{Sid: "SesmtpParametersCreateTagged", Effect: "Allow", Action: Strings(parameterCreate), Resource: Strings(s.parameters), Condition: createdTagged()},
			Statement{Sid: "SesmtpParametersOwn", Effect: "Allow", Action: Strings(parameterOwn), Resource: Strings(s.parameters), Condition: ownedTagged()})
	}
	if s.kms != "" {
		out.Statement = append(out.Statement, kmsStatement(s))
	}
	return out, nil
}

// createdTagged: the request tags sesmtp's managed-by tag, and no key but
// sesmtp's two.
func createdTagged() Condition {
	return Condition{
		"StringEquals":              {"aws:RequestTag/" + ManagedByTag: {ManagedByValue}},
		"ForAllValues:StringEquals": {"aws:TagKeys": slices.Clone(storeTagKeys)},
	}
}

// ownedTagged: the secret or parameter carries sesmtp's managed-by tag.
func ownedTagged() Condition {
	return Condition{"StringEquals": {"aws:ResourceTag/" + ManagedByTag: {ManagedByValue}}}
}

func kmsStatement(s storeScope) Statement {
	var via Strings
	if len(s.secrets) > 0 {
		via = append(via, "secretsmanager.*.amazonaws.com")
	}
	if len(s.parameters) > 0 {
		via = append(via, "ssm.*.amazonaws.com")
	}
	return Statement{Sid: "SesmtpStoreKey", Effect: "Allow", Action: Strings(kmsActions),
		Resource: Strings{s.kms}, Condition: Condition{"StringLike": {"kms:ViaService": via}}}
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
