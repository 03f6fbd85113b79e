package cli

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/sesmtp/sesmtp/batch"
	"github.com/sesmtp/sesmtp/exitcode"
	"github.com/sesmtp/sesmtp/journal"
	"github.com/sesmtp/sesmtp/store"
)

// batchStores are the senders' store targets of a batch with --store.
type batchStores map[string]*storeTarget

// readBatchStore reads a batch's --store: a template holding {user},
// expanded and checked for every sender now, before any call. With no
// --out-dir the credentials go to the stores only.
func readBatchStore(c *cli.Context, opts *batch.Options) (batchStores, error) {
	spec := c.String(flagStore)
	if spec == "" {
		return nil, checkStoreFlags(c, false)
	}
	if !strings.Contains(spec, userPlaceholder) {
		return nil, exitcode.UsageError(fmt.Errorf("--store %q with --from-file: every sender needs a secret of its own; "+
			"put %s in the name, e.g. secretsmanager:smtp/%s/credentials or ssm:/smtp/%s/", spec, userPlaceholder, userPlaceholder, userPlaceholder))
	}
	if !c.IsSet(flagOutDir) {
		for _, f := range []string{flagFormat, flagForce} {
			if c.IsSet(f) {
				return nil, exitcode.UsageError(fmt.Errorf("--%s is about credentials files, and with --store and no --out-dir there are none; "+
					"give --out-dir DIR to write files too", f))
			}
		}
	}
	stores := batchStores{}
	var problems []batch.Problem
	for _, s := range opts.Senders {
		t, err := readStore(c, strings.ReplaceAll(spec, userPlaceholder, s.User), opts.Regions, s.User)
		if err != nil {
			problems = append(problems, batch.Problem{Line: s.Line, Msg: err.Error()})
			continue
		}
		stores[s.User] = t
	}
	if len(problems) > 0 {
		return nil, &batch.ManifestError{Problems: problems}
	}
	opts.StoreLocation = func(user string) store.Location { return stores[user].loc }
	return stores, nil
}

// bind gives every sender's store its client (one per batch) and the
// batch its journal directory when there is no --out-dir.
func (bs batchStores) bind(ctx context.Context, c *cli.Context, io stdio, opts *batch.Options) error {
	if bs == nil {
		return nil
	}
	var b *storeBinder
	region := ""
	for _, s := range bs {
		region = s.loc.Region
		if b == nil {
			var err error
			if b, err = newStoreBinder(ctx, c, io, s.loc.Region, s.endpoint); err != nil {
				return err
			}
		}
		if err := b.bind(s); err != nil {
			return err
		}
	}
	opts.Store = func(user string) (journal.Store, error) {
		s, ok := bs[user]
		if !ok && b != nil {
			// A sender an earlier run of this batch began that the manifest
			// no longer lists: its recovery needs its store, by the template.
			var err error
			if s, err = readStore(c, strings.ReplaceAll(c.String(flagStore), userPlaceholder, user), opts.Regions, user); err != nil {
				return journal.Store{}, err
			}
			if err := b.bind(s); err != nil {
				return journal.Store{}, err
			}
		}
		if s == nil || s.bound == nil {
			return journal.Store{}, errors.New("internal error: no store for sender " + user)
		}
		return *s.bound, nil
	}
	if b != nil {
		opts.StateDir = filepath.Join(b.dir, "batches", journal.PlaceName(strings.Join([]string{c.String(flagStore), region,
			b.identity.Profile, b.identity.RoleARN, c.String(flagStoreEndpointURL)}, " ")))
	}
	return nil
}
