package cli

import (
	"errors"
	"fmt"
	"os"
	"text/tabwriter"

	"github.com/schollz/progressbar/v3"
	"github.com/urfave/cli/v2"

	"github.com/sesmtp/sesmtp/batch"
	"github.com/sesmtp/sesmtp/exitcode"
)

const (
	flagFromFile = "from-file"
	flagOutDir   = "out-dir"
	// batchMaxAttempts lets a batch ride out IAM throttling: retries back off,
	// and the client paces itself below the rate IAM accepted (awscfg's pacer).
	batchMaxAttempts = 10
)

// batchFlags are create's flags for onboarding many senders.
func batchFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: flagFromFile, Usage: "create one sender per row of this manifest (CSV: user,from_address,identity_arn,tags,group; or one name a line)", Category: "BATCH"},
		&cli.StringFlag{Name: flagOutDir, Usage: "with --from-file: write DIR/<user>.<ext> for each sender (DIR created 0700)", Category: "BATCH"},
		&cli.IntFlag{Name: flagConcurrency, Value: batch.DefaultConcurrency, Usage: "with --from-file: senders created at once (IAM throttles writes; retries adapt)", Category: "BATCH"},
	}
}

func runBatch(c *cli.Context, io stdio) error {
	for _, f := range []string{flagUser, flagOut} {
		if c.IsSet(f) {
			return exitcode.UsageError(fmt.Errorf("--%s does not go with --from-file (names come from the manifest, files go to --out-dir)", f))
		}
	}
	opts, stores, format, err := readBatchOptions(c, io)
	if err != nil {
		return err
	}
	if c.Bool(flagDryRun) {
		plan, err := batch.Plan(opts)
		if err != nil {
			return err
		}
		return printPlan(io, format, planOutput{Command: "create --from-file", Steps: plan, Format: string(opts.Format)})
	}
	awsOpts := awsOptions(c, io)
	awsOpts.Adaptive, awsOpts.MaxAttempts = true, batchMaxAttempts
	client, err := iamClient(c.Context, awsOpts)
	if err != nil {
		return err
	}
	if err := stores.bind(c.Context, c, io, &opts); err != nil {
		return err
	}
	if opts.Verify, err = verifyHook(c, io, client, manifestNarrowing(opts.Senders)); err != nil {
		return err
	}
	// Ctrl-C (c.Context) stops new senders; --timeout bounds the run.
	ctx, cancel := withTimeout(c)
	defer cancel()
	finish := batchProgress(io, len(opts.Senders), &opts)
	opts.Journal = journalOptions(c, io)
	sum, err := batch.Run(ctx, client, opts)
	finish()
	for _, line := range sum.Recovered {
		fmt.Fprintln(io.err, line)
	}
	if err != nil {
		return err
	}
	if format == outputJSON {
		if err := writeJSON(io, sum); err != nil {
			return err
		}
	} else if err := printBatchSummary(io, sum); err != nil {
		return err
	}
	return sum.Err()
}

func readBatchOptions(c *cli.Context, io stdio) (batch.Options, batchStores, string, error) {
	opts, format, err := readBatchFlags(c, io)
	if err != nil {
		return opts, nil, "", err
	}
	stores, err := readBatchStore(c, &opts)
	if err != nil {
		return opts, nil, "", err
	}
	_, err = batch.Prepare(opts) // every problem now, before any IAM call
	return opts, stores, format, err
}

func readBatchFlags(c *cli.Context, io stdio) (batch.Options, string, error) {
	var opts batch.Options
	format, err := outputFormat(c)
	if err != nil {
		return opts, "", err
	}
	f, err := os.Open(c.String(flagFromFile))
	if err != nil {
		return opts, "", exitcode.UsageError(fmt.Errorf("--from-file: %w", err))
	}
	defer f.Close()
	if opts.Senders, err = batch.ParseManifest(f); err != nil {
		return opts, "", err
	}
	target, err := fileFormat(c)
	if err != nil {
		return opts, "", err
	}
	if opts.Regions, err = credentialRegions(c, io, target.format); err != nil {
		return opts, "", err
	}
	opts.FIPS = c.Bool(flagFIPS)
	if c.Int(flagConcurrency) < 1 {
		return opts, "", exitcode.UsageError(errors.New("--concurrency must be at least 1"))
	}
	if opts.Tags, err = userTags(c); err != nil {
		return opts, "", err
	}
	if len(c.StringSlice(flagFromAddress))+len(c.StringSlice(flagIdentityARN)) > 0 {
		return opts, "", exitcode.UsageError(errors.New("with --from-file, from addresses and identity ARNs go in the manifest's from_address and identity_arn columns"))
	}
	opts.Dir, opts.Format, opts.FileOptions, opts.Force = c.String(flagOutDir), target.format, target.opts, target.force
	if opts.PermissionsBoundary, err = configuredBoundary(c); err != nil {
		return opts, "", err
	}
	if opts.Path, err = configuredPath(c, opts.PermissionsBoundary); err != nil {
		return opts, "", err
	}
	opts.PolicyName, opts.Group, opts.Concurrency = c.String(flagPolicyName), c.String(flagGroup), c.Int(flagConcurrency)
	opts.AllowAnyGroup, opts.Warn = c.Bool(flagAllowAnyGroup), func(msg string) { fmt.Fprintln(io.err, "warning: "+msg) }
	return opts, format, nil
}

// batchProgress shows a bar on a terminal and a line per sender
// elsewhere; the returned func ends the bar.
func batchProgress(io stdio, total int, opts *batch.Options) func() {
	if io.interactive {
		bar := progressbar.NewOptions(total, progressbar.OptionSetWriter(io.err), progressbar.OptionSetDescription("creating senders"),
			progressbar.OptionShowCount(), progressbar.OptionClearOnFinish())
		opts.Progress = func(_, _ int, _ batch.Outcome) { _ = bar.Add(1) }
		return func() { _ = bar.Finish() }
	}
	opts.Progress = func(done, total int, o batch.Outcome) {
		line := fmt.Sprintf("[%d/%d] %s: %s", done, total, o.User, o.Status)
		if o.AccessKeyID != "" && o.Status == batch.StatusCreated {
			where := o.File
			if where == "" {
				where = o.Store
			}
			line += fmt.Sprintf(" (%s -> %s)", o.AccessKeyID, where)
		}
		if o.Error != "" {
			line += ": " + o.Error
		}
		fmt.Fprintln(io.err, line)
	}
	return func() {}
}

func printBatchSummary(io stdio, sum batch.Summary) error {
	w := tabwriter.NewWriter(io.out, 0, 4, 2, ' ', 0)
	dest := "FILE"
	if len(sum.Outcomes) > 0 && sum.Outcomes[0].File == "" && sum.Outcomes[0].Store != "" {
		dest = "STORE"
	}
	fmt.Fprintf(w, "USER\tACCESS KEY\t%s\tSTATUS\n", dest)
	for _, o := range sum.Outcomes {
		key := o.AccessKeyID
		if key == "" {
			key = "-"
		}
		where := o.File
		if where == "" {
			where = o.Store
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", o.User, key, where, o.Status)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	counts := sum.Counts()
	fmt.Fprintf(io.err, "%d senders: %d created, %d skipped, %d failed\n", len(sum.Outcomes), counts[batch.StatusCreated],
		counts[batch.StatusSkipped], len(sum.Outcomes)-counts[batch.StatusCreated]-counts[batch.StatusSkipped])
	return nil
}
