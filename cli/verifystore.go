package cli

import (
	"errors"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/sesmtp/sesmtp/awscfg"
	"github.com/sesmtp/sesmtp/credfile"
	"github.com/sesmtp/sesmtp/derive"
	"github.com/sesmtp/sesmtp/exitcode"
	"github.com/sesmtp/sesmtp/store"
	"github.com/sesmtp/sesmtp/verify"
)

// verifyStoreFlags are verify's flags for reading the credentials from a store.
func verifyStoreFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: flagStore, Category: categoryStore, Usage: "read the credentials from secretsmanager:NAME, ssm:/PATH/NAME or ssm:/PATH/ " +
			"(secretsmanager:GetSecretValue or ssm:GetParameter, as an application reads them)"},
		storeRegionFlag("the region of --store (default: --region, else AWS_REGION or the profile's region)"),
		storeEndpointFlag(),
	}
}

// storeEntries reads the credentials --store holds, as an application
// does: the secret's AWSCURRENT version, the parameters' newest, decrypted.
func storeEntries(c *cli.Context, io stdio) ([]credfile.Entry, error) {
	if c.IsSet(flagCredentials) {
		return nil, exitcode.UsageError(errors.New("--credentials and --store both name the credentials to check; give one"))
	}
	t, err := store.ParseTarget(c.String(flagStore))
	if err != nil {
		return nil, err
	}
	region, err := verifyStoreRegion(c, io)
	if err != nil {
		return nil, err
	}
	opts := awsOptions(c, io)
	cfg, err := awscfg.Load(c.Context, opts)
	if err != nil {
		return nil, exitcode.UsageError(err)
	}
	so := awscfg.StoreOptions{Region: region, EndpointURL: c.String(flagStoreEndpointURL)}
	st, err := store.Read(c.Context, t, store.Readers{SecretsManager: awscfg.SecretsManager(cfg, opts, so), SSM: awscfg.SSM(cfg, opts, so)})
	if errors.Is(err, store.ErrNotStored) {
		return nil, exitcode.UsageError(fmt.Errorf("%w (in %s)", err, region))
	}
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(io.err, "read %s (%s): access key %s, for %s:%d\n", t, region, verify.DescribeUsername(st.Username), st.Host, st.Port)
	return []credfile.Entry{{IAMUser: st.IAMUser, Username: st.Username, Password: st.Password, Region: st.Region, Host: st.Host, Port: st.Port}}, nil
}

// verifyStoreRegion is the store's region: --store-region, --region, or the configured one.
func verifyStoreRegion(c *cli.Context, io stdio) (string, error) {
	region, source := c.String(flagStoreRegion), "--"+flagStoreRegion
	if region == "" {
		region, source = c.String(flagRegion), "--"+flagRegion
	}
	if region == "" {
		configured, err := configuredRegion(c, io)
		if err != nil {
			return "", err
		}
		region, source = configured, "the configured region (AWS_REGION or the profile's region)"
	}
	if region == "" {
		return "", exitcode.UsageError(errors.New("--store needs --store-region (or --region, or AWS_REGION): a secret lives in one region"))
	}
	if err := derive.CheckRegion(region, true); err != nil {
		return "", exitcode.UsageError(fmt.Errorf("%s: %w", source, err))
	}
	return region, nil
}
