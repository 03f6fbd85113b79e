package cli

import (
	"errors"

	"github.com/urfave/cli/v2"

	"github.com/sesmtp/sesmtp/exitcode"
	"github.com/sesmtp/sesmtp/policy"
)

const flagStorePrefix = "store-prefix"

// operatorStoreFlags are policy operator's flags for secret stores.
func operatorStoreFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringSliceFlag{Name: flagStorePrefix, Usage: "also allow delivering to secretsmanager:PREFIX (secrets whose names start with PREFIX, " +
			"created with sesmtp's tags, changed only while they carry them) or ssm:/PATH/ (parameters under the path) (repeatable)"},
		&cli.StringFlag{Name: flagKMSKeyID, Usage: "with --store-prefix: ARN of the customer managed KMS key the stores encrypt with (used through Secrets Manager and SSM only)"},
	}
}

// withStorePrefixes adds the store statements --store-prefix asks for;
// boundaryARN ("" for the broad policy) scopes them to its account.
func withStorePrefixes(c *cli.Context, doc policy.Document, boundaryARN string) (policy.Document, error) {
	prefixes := c.StringSlice(flagStorePrefix)
	if len(prefixes) == 0 {
		if c.IsSet(flagKMSKeyID) {
			return doc, exitcode.UsageError(errors.New("--kms-key-id goes with --store-prefix: it is the key of the stores' secrets"))
		}
		return doc, nil
	}
	o := policy.StoreOptions{Prefixes: prefixes, KMSKeyARN: c.String(flagKMSKeyID)}
	if boundaryARN != "" {
		var err error
		if o.Partition, o.Account, err = policy.StoreScopeOf(boundaryARN); err != nil {
			return doc, exitcode.UsageError(err)
		}
	}
	out, err := policy.WithStores(doc, o)
	return out, exitcode.UsageError(err)
}
