package cli

import (
	"errors"
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/sesmtp/sesmtp/exitcode"
	"github.com/sesmtp/sesmtp/policy"
)

const flagStorePrefix = "store-prefix"

// operatorStoreFlags are policy operator's flags for secret stores.
func operatorStoreFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringSliceFlag{Name: flagStorePrefix, Usage: "also allow delivering to secretsmanager:PREFIX/ (secrets whose names start with it) " +
			"or ssm:/PATH/ (parameters under it), created with sesmtp's tags, changed, read or deleted only while they carry them; " +
			"operators can read, write and delete every item under it, so it must hold only sesmtp's (repeatable)"},
		&cli.StringFlag{Name: flagKMSKeyID, Usage: "with --store-prefix: the key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID, not an alias) of the customer " +
			"managed KMS key the stores encrypt with (used through Secrets Manager and SSM only)"},
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

// warnStorePrefixes says on stderr, after the policy, what a store prefix
// hands operators: the policy cannot stop them tagging an item under it as
// sesmtp's (the tagging a create does looks the same), and then reading,
// overwriting or deleting it.
func warnStorePrefixes(c *cli.Context, io stdio) {
	prefixes := c.StringSlice(flagStorePrefix)
	if len(prefixes) == 0 {
		return
	}
	fmt.Fprintf(io.err, "warning: every secret and parameter under %s is readable, writable and deletable by operators holding this policy "+
		"(they may tag any of them %s=%s): these prefixes must hold only sesmtp's items. See docs/store.md.\n",
		strings.Join(prefixes, ", "), policy.ManagedByTag, policy.ManagedByValue)
}
