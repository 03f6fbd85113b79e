package cli

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/sesmtp/sesmtp/awscfg"
	"github.com/sesmtp/sesmtp/credfile"
	"github.com/sesmtp/sesmtp/derive"
	"github.com/sesmtp/sesmtp/exitcode"
	"github.com/sesmtp/sesmtp/journal"
	"github.com/sesmtp/sesmtp/provision"
	"github.com/sesmtp/sesmtp/store"
)

const (
	flagStore            = "store"
	flagStoreRegion      = "store-region"
	flagKMSKeyID         = "kms-key-id"
	flagStoreEndpointURL = "store-endpoint-url"
	flagDeleteStored     = "delete-stored"
	flagRecoveryWindow   = "recovery-window-days"
	// userPlaceholder is replaced by each sender's user name in a batch's --store.
	userPlaceholder = "{user}"
	categoryStore   = "SECRET STORE"
)

// storeFlags are the --store flags of create and rotate.
func storeFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: flagStore, Category: categoryStore, Usage: "deliver the credentials to secretsmanager:NAME, ssm:/PATH/NAME " +
			"(one SecureString holding JSON) or ssm:/PATH/ (one SecureString per field) instead of a file (both with --out); " +
			"with --from-file a template holding " + userPlaceholder + ", e.g. secretsmanager:smtp/" + userPlaceholder + "/credentials"},
		storeRegionFlag("the store's region (default: the SES region of the credentials)"),
		&cli.StringFlag{Name: flagKMSKeyID, Category: categoryStore, Usage: "with --store: the KMS key (id, ARN or alias) that encrypts a new secret or parameter (default: the AWS managed key)"},
		storeEndpointFlag(),
	}
}

func storeRegionFlag(usage string) cli.Flag {
	return &cli.StringFlag{Name: flagStoreRegion, Category: categoryStore, Usage: usage}
}

func storeEndpointFlag() cli.Flag {
	return &cli.StringFlag{Name: flagStoreEndpointURL, Category: categoryStore,
		Usage: "Secrets Manager or SSM endpoint URL (default: AWS_ENDPOINT_URL_SECRETS_MANAGER or AWS_ENDPOINT_URL_SSM, AWS_ENDPOINT_URL, or the service's own)"}
}

// storeTarget is a delivery to a secret store, as the flags (or the IAM
// user's sesmtp:store tag) name it.
type storeTarget struct {
	loc      store.Location
	kms      string
	endpoint string
	payload  store.PayloadOptions
	// fromTag says the location came from the user's tag (rotate).
	fromTag bool
	// bound is the journal target, once bind has made the clients.
	bound *journal.Store
}

// checkStoreFlags refuses the store flags that mean nothing without --store.
func checkStoreFlags(c *cli.Context, storeGiven bool) error {
	if storeGiven {
		return nil
	}
	for _, f := range []string{flagKMSKeyID, flagStoreRegion} {
		if c.IsSet(f) {
			return exitcode.UsageError(fmt.Errorf("--%s goes with --store: it says how to write the secret store (there is none here)", f))
		}
	}
	return nil
}

// readStore reads --store (spec), --store-region, --kms-key-id and
// --store-endpoint-url for a delivery of regions' credentials of iamUser;
// nil when spec is "". Every problem is a usage error, before any call.
func readStore(c *cli.Context, spec string, regions []string, iamUser string) (*storeTarget, error) {
	if spec == "" {
		return nil, checkStoreFlags(c, false)
	}
	t, err := store.ParseTarget(spec)
	if err != nil {
		return nil, err
	}
	if err := store.CheckRegions(regions); err != nil {
		return nil, err
	}
	if iamUser != "" {
		if err := store.CheckIAMUser(iamUser); err != nil {
			return nil, exitcode.UsageError(err)
		}
	}
	region := regions[0]
	if r := c.String(flagStoreRegion); r != "" {
		if err := derive.CheckRegion(r, true); err != nil {
			return nil, exitcode.UsageError(fmt.Errorf("--%s: %w", flagStoreRegion, err))
		}
		region = r
	}
	return &storeTarget{loc: store.Location{Target: t, Region: region}, kms: c.String(flagKMSKeyID),
		endpoint: c.String(flagStoreEndpointURL), payload: store.PayloadOptions{IncludeSecretKey: c.Bool(flagIncludeSecretKey)}}, nil
}

// withStore makes s part of t's delivery: instead of the file unless
// --out was given, then both. File flags without a file are refused.
func (t *fileTarget) withStore(c *cli.Context, s *storeTarget) error {
	if s == nil {
		return nil
	}
	t.store = s
	if c.IsSet(flagOut) {
		if t.path == credfile.Stdout {
			return exitcode.UsageError(fmt.Errorf("--out - with --store: the credentials would be on the terminal as well as in %s; "+
				"write the file elsewhere, or leave out --out", s.loc))
		}
		return nil
	}
	for _, f := range []string{flagFormat, flagForce} {
		if c.IsSet(f) {
			why := "with --store and no --out there is none"
			if s.fromTag {
				why = fmt.Sprintf("the user's credentials go to the store its %s tag names, and with no --out there is no file", store.UserTagStore)
			}
			return exitcode.UsageError(fmt.Errorf("--%s is about the credentials file, and %s: %s gets "+
				"JSON (or one parameter per field); give --out FILE to write a file too", f, why, s.loc))
		}
	}
	t.path = ""
	return nil
}

// bind makes the store's client from the same AWS configuration as IAM's
// and the place of its journal. Nothing is called yet.
func (s *storeTarget) bind(ctx context.Context, c *cli.Context, io stdio) error {
	b, err := newStoreBinder(ctx, c, io, s.loc.Region, s.endpoint)
	if err != nil {
		return err
	}
	return b.bind(s)
}

// storeBinder makes store targets' journal targets with clients of one
// region and endpoint, made once.
type storeBinder struct {
	clients  store.Clients
	endpoint string // the endpoint the clients use, for the journal's place
	identity journal.StoreIdentity
	dir      string
}

func newStoreBinder(ctx context.Context, c *cli.Context, io stdio, region, endpoint string) (*storeBinder, error) {
	opts := awsOptions(c, io)
	if c.Command.Name == "create" && c.IsSet(flagFromFile) {
		opts.Adaptive, opts.MaxAttempts = true, batchMaxAttempts
	}
	cfg, err := awscfg.Load(ctx, opts)
	if err != nil {
		return nil, exitcode.UsageError(err)
	}
	dir, err := journal.StateDir()
	if err != nil {
		return nil, exitcode.UsageError(err)
	}
	so := awscfg.StoreOptions{Region: region, EndpointURL: endpoint}
	return &storeBinder{dir: dir, endpoint: endpoint,
		clients:  store.Clients{SecretsManager: awscfg.SecretsManager(cfg, opts, so), SSM: awscfg.SSM(cfg, opts, so)},
		identity: journal.StoreIdentity{Profile: opts.Profile, RoleARN: opts.RoleARN}}, nil
}

func (b *storeBinder) bind(s *storeTarget) error {
	st, err := store.New(s.loc.Target, b.clients, store.Options{KMSKeyID: s.kms})
	if err != nil {
		return err
	}
	id := b.identity
	id.Endpoint = awscfg.StoreEndpoint(s.loc.Target.Service(), awscfg.StoreOptions{EndpointURL: b.endpoint})
	s.bound = &journal.Store{Store: st, Region: s.loc.Region, Payload: s.payload, Path: journal.StorePlace(b.dir, s.loc, id)}
	return nil
}

// ownTags are the IAM user tags that say where the credentials are stored.
func (s *storeTarget) ownTags(existing map[string]string) []provision.Tag {
	if s == nil {
		return nil
	}
	var tags []provision.Tag
	for _, kv := range s.loc.UserTags(existing) {
		tags = append(tags, provision.Tag{Key: kv[0], Value: kv[1]})
	}
	return tags
}

// journalTarget is where the run delivers: the file, the store, or both.
func (t fileTarget) journalTarget() journal.Target {
	switch {
	case t.store == nil:
		return t.file()
	case t.path == "":
		return *t.store.bound
	}
	return journal.Both{File: t.file(), Store: *t.store.bound}
}

// name names the delivery in messages.
func (t fileTarget) name() string {
	switch {
	case t.store == nil:
		return t.path
	case t.path == "":
		return t.store.loc.String()
	}
	return t.path + " and " + t.store.loc.String()
}

// storeSpec is the --store value of the delivery ("" for none).
func (t fileTarget) storeSpec() string {
	if t.store == nil {
		return ""
	}
	return t.store.loc.Target.String()
}

// storePlan is what --dry-run says a store delivery would do.
func (s *storeTarget) storePlan(user string) []string {
	if s == nil {
		return nil
	}
	var step string
	switch s.loc.Target.Kind {
	case store.SecretsManager:
		step = fmt.Sprintf("secretsmanager:DescribeSecret, then CreateSecret (tagged %s=%s, %s=%s) or, for a secret sesmtp wrote for the same user, "+
			"PutSecretValue: secret %s in %s", store.TagManagedBy, store.ManagedByValue, store.TagIAMUser, user, s.loc.Target.Name, s.loc.Region)
	default:
		step = fmt.Sprintf("ssm:ListTagsForResource, GetParameterHistory, then PutParameter (SecureString, tagged %s=%s, %s=%s; "+
			"overwriting only what sesmtp wrote for the same user): %s in %s", store.TagManagedBy, store.ManagedByValue, store.TagIAMUser, user,
			strings.Join(s.loc.Target.ParameterNames(s.payload.IncludeSecretKey), ", "), s.loc.Region)
	}
	return []string{step}
}

// verifyHint is the command that checks stored credentials.
func (s *storeTarget) verifyHint() string {
	return fmt.Sprintf("sesmtp verify --store %s --store-region %s", s.loc.Target, s.loc.Region)
}

// printStored says where the credentials went, for create's and rotate's summaries.
func printStored(io stdio, t fileTarget, user string) {
	if t.store == nil {
		return
	}
	fmt.Fprintf(io.err, "  stored:        %s: %s, tagged %s=%s\n", t.store.loc, describeKind(t.store.loc.Target), store.TagIAMUser, user)
	if t.path == "" {
		fmt.Fprintf(io.err, "Next: %s\n", t.store.verifyHint())
	}
}

// fileFormatName is the file's format, "" when there is no file.
func fileFormatName(t fileTarget) string {
	if t.path == "" {
		return ""
	}
	return string(t.format)
}

// storeLocation names the store, "" when there is none.
func (t fileTarget) storeLocation() string {
	if t.store == nil {
		return ""
	}
	return t.store.loc.String()
}

func describeKind(t store.Target) string {
	switch t.Kind {
	case store.SecretsManager:
		return "a Secrets Manager secret holding JSON; applications read its AWSCURRENT version"
	case store.SSMParameter:
		return "an SSM SecureString holding JSON"
	}
	return "one SSM SecureString per field"
}

// resolveRotateStore decides where a rotation delivers: --store, else
// the store the user's sesmtp:store tag names (with --out, the file
// too), else the file. It reads the user's tags (iam:GetUser) and returns
// them; a user that does not exist is left for the rotation to report.
func resolveRotateStore(ctx context.Context, c *cli.Context, client provision.IAMAPI, in provision.RotateInput, t *fileTarget) (map[string]string, error) {
	tags, err := provision.UserTags(ctx, client, in.UserName, "rotate")
	var missing *provision.NoSuchUserError
	if errors.As(err, &missing) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	loc, found, err := store.LocationOf(tags)
	if err != nil {
		return nil, exitcode.UsageError(fmt.Errorf("IAM user %s: %w", in.UserName, err))
	}
	switch {
	case t.store != nil:
		return tags, nil
	case !found:
		return tags, nil
	}
	s, err := readStore(c, loc.Target.String(), in.Regions, in.UserName)
	if err != nil {
		return nil, fmt.Errorf("the store IAM user %s is tagged with (%s): %w", in.UserName, loc, err)
	}
	s.loc.Region, s.fromTag = loc.Region, true
	return tags, t.withStore(c, s)
}

// retagStore, after a key rotation, tags the user with where its
// credentials are now stored, if its tags said otherwise. A failure only
// warns: the credentials are delivered and work.
func retagStore(ctx context.Context, io stdio, client provision.UserTagger, in provision.RotateInput, t fileTarget, tags map[string]string) {
	if t.store == nil {
		return
	}
	if old, found, _ := store.LocationOf(tags); found && old != t.store.loc {
		fmt.Fprintf(io.err, "warning: IAM user %s's credentials were stored in %s; they are now in %s, and %s still holds the old key's, "+
			"which stop working once it is retired: remove them with '%s'\n", in.UserName, old, t.store.loc, old, awsRemoveCommand(old))
	}
	want := t.store.ownTags(tags)
	changed := false
	for _, tag := range want {
		changed = changed || tags[tag.Key] != tag.Value
	}
	if !changed {
		return
	}
	if err := provision.SetOwnTags(ctx, client, in.UserName, want); err != nil {
		fmt.Fprintf(io.err, "warning: the credentials are in %s, but tagging IAM user %s with where they are failed (%v); "+
			"'sesmtp rotate' and 'sesmtp delete' will not find them unless you give --store, or tag the user: "+
			"aws iam tag-user --user-name %s --tags %s\n", t.store.loc, in.UserName, err, in.UserName, tagArgs(want))
	}
}

// tagArgs renders tags as aws-cli's --tags arguments.
func tagArgs(tags []provision.Tag) string {
	var parts []string
	for _, t := range tags {
		parts = append(parts, fmt.Sprintf("Key=%s,Value=%s", t.Key, t.Value))
	}
	return strings.Join(parts, " ")
}

// preflight reads the store (without decrypting) and refuses, before any
// IAM change, a secret or parameter sesmtp did not write for iamUser, or a
// secret scheduled for deletion: the delivery would refuse it after the
// key exists. A failed read is left for the delivery to meet.
func (s *storeTarget) preflight(ctx context.Context, iamUser string) error {
	if s == nil {
		return nil
	}
	st, err := s.bound.Store.Describe(ctx)
	if err != nil || !st.Exists {
		return nil
	}
	switch {
	case !st.Managed:
		return exitcode.UsageError(fmt.Errorf("%s exists and sesmtp did not write it (no %s=%s tag); sesmtp overwrites only what it wrote: "+
			"choose another --store, or delete it yourself if it is stale. Nothing was changed", s.loc, store.TagManagedBy, store.ManagedByValue))
	case !strings.EqualFold(st.IAMUser, iamUser): // IAM user names are not distinguished by case (IAM API reference, CreateUser)
		return exitcode.UsageError(fmt.Errorf("%s holds the credentials of IAM user %s (tag %s), not %s: choose another --store. Nothing was changed",
			s.loc, st.IAMUser, store.TagIAMUser, iamUser))
	case !st.DeletionDate.IsZero():
		return exitcode.UsageError(fmt.Errorf("%s is scheduled for deletion on %s: restore it first ('aws secretsmanager restore-secret --secret-id %s --region %s') "+
			"or choose another --store. Nothing was changed", s.loc, st.DeletionDate.UTC().Format("2006-01-02"), s.loc.Target.Name, s.loc.Region))
	}
	return nil
}

// awsRemoveCommand is the aws-cli command that removes what loc holds,
// with only the actions the operator policy grants (sesmtp policy
// operator): ssm:DeleteParameter, once a parameter, and not
// delete-parameters, which is another IAM action (ssm:DeleteParameters).
// A store written without the secret access key has no secret_access_key
// parameter: it comes last, so that its ParameterNotFound (DeleteParameter,
// SSM API reference) ends the chain after the others are gone.
func awsRemoveCommand(loc store.Location) string {
	if loc.Target.Kind == store.SecretsManager {
		return fmt.Sprintf("aws secretsmanager delete-secret --secret-id %s --region %s --recovery-window-in-days %d",
			loc.Target.Name, loc.Region, store.DefaultRecoveryWindowDays)
	}
	names := loc.Target.ParameterNames(false)
	for _, name := range loc.Target.ParameterNames(true) {
		if !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	cmds := make([]string, len(names))
	for i, name := range names {
		cmds[i] = fmt.Sprintf("aws ssm delete-parameter --name %s --region %s", name, loc.Region)
	}
	return strings.Join(cmds, " && ")
}
