package batch

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/sesmtp/sesmtp/credfile"
	"github.com/sesmtp/sesmtp/exitcode"
	"github.com/sesmtp/sesmtp/journal"
	"github.com/sesmtp/sesmtp/policy"
	"github.com/sesmtp/sesmtp/provision"
	"github.com/sesmtp/sesmtp/store"
)

// DefaultConcurrency is how many senders are created at once: IAM
// throttles mutating calls, so a handful, on a client that paces itself
// once throttled (awscfg.Options.Adaptive).
const DefaultConcurrency = 4

// Statuses of a sender in the summary.
const (
	StatusCreated    = "created"
	StatusSkipped    = "skipped (user and file exist)"
	StatusFailed     = "failed"
	StatusRolledBack = "failed, rolled back"
	StatusLeft       = "failed, left behind"
	StatusNotStarted = "not started (interrupted)"
)

// Options is a batch run.
type Options struct {
	Senders []Sender
	// Dir receives DIR/<user>.<ext>, created 0700.
	Dir         string
	Format      credfile.Format
	FileOptions credfile.Options
	// Force overwrites credentials files of senders that are created.
	Force bool
	// Defaults every sender shares.
	Regions             []string
	FIPS                bool
	Path                string
	Tags                []provision.Tag
	PermissionsBoundary string
	PolicyName          string
	// Group is used for senders whose row names none.
	Group       string
	Concurrency int
	// Verify, if set, checks each sender's new credentials (as create --verify).
	Verify func(context.Context, credfile.Credentials) error
	// Progress receives each sender's outcome as it is decided (may be nil).
	Progress func(done, total int, o Outcome)
	// AllowAnyGroup lets senders join groups that allow more than SES
	// sending; Warn, if set, receives the warning (see provision.CheckGroup).
	AllowAnyGroup bool
	Warn          func(string)
	// Journal configures the journals: the batch's own on Dir (its lock,
	// and the groups it creates) and each sender's on its file.
	Journal journal.Options
	// StoreLocation, if set, says where each sender's credentials are
	// stored (--store); with Dir empty they go there only. Store binds a
	// sender's location to its client for the run.
	StoreLocation func(user string) store.Location
	Store         func(user string) (journal.Store, error)
	// StateDir keeps the batch's own journal when there is no Dir.
	StateDir string
}

// Outcome is one sender's result.
type Outcome struct {
	User        string `json:"user"`
	AccessKeyID string `json:"access_key_id,omitempty"`
	File        string `json:"file"`
	// Store is where the credentials are stored (--store), e.g.
	// "secretsmanager:smtp/u (eu-west-1)".
	Store  string `json:"store,omitempty"`
	Status string `json:"status"`
	Error  string `json:"error,omitempty"`
	// Next says what will get a failed sender created: NextRetry, or a
	// command to run first when a re-run would fail the same way.
	Next string `json:"next,omitempty"`
	code int
}

// Advice for failed senders.
const (
	// NextRetry is the advice for senders a re-run can finish.
	NextRetry   = "run the same command again"
	nextCleanUp = "run the cleanup command the error names, then " + NextRetry
)

// Summary is a batch run's result, in manifest order.
type Summary struct {
	Outcomes []Outcome `json:"senders"`
	// Interrupted is true when the run stopped before starting every sender.
	Interrupted bool `json:"interrupted,omitempty"`
	// stopped says why: Ctrl-C or --timeout.
	stopped string
	// Recovered describes what earlier runs that died left, and what
	// became of it.
	Recovered []string `json:"recovered,omitempty"`
}

// Counts returns how many senders ended in each status.
func (s Summary) Counts() map[string]int {
	m := map[string]int{}
	for _, o := range s.Outcomes {
		m[o.Status]++
	}
	return m
}

// Err returns the run's error: nil when every sender was created or
// skipped, else an error with exit code 4 if anything was left behind, 1 otherwise.
func (s Summary) Err() error {
	var failed, retry, advice []string
	code := exitcode.Failed
	for _, o := range s.Outcomes {
		if o.Status == StatusCreated || o.Status == StatusSkipped {
			continue
		}
		failed = append(failed, o.User)
		if o.code == exitcode.LeftBehind {
			code = exitcode.LeftBehind
		}
		if o.Next == NextRetry {
			retry = append(retry, o.User)
		} else {
			advice = append(advice, o.User+": "+o.Next)
		}
	}
	if len(failed) == 0 {
		return nil
	}
	msg := fmt.Sprintf("%d of %d senders were not created: %s", len(failed), len(s.Outcomes), strings.Join(failed, ", "))
	if len(failed) < len(s.Outcomes) {
		msg += "; the others are done"
	}
	if len(retry) > 0 {
		msg += fmt.Sprintf("\n  %s to retry %s (done senders are skipped)", NextRetry, strings.Join(retry, ", "))
	}
	for _, a := range advice {
		msg += "\n  " + a
	}
	if s.Interrupted {
		why := s.stopped
		if why == "" {
			why = "interrupted"
		}
		msg = why + ": " + msg
	}
	return &exitcode.Error{Code: code, Err: errors.New(msg)}
}

// Prepare turns senders into create inputs, checking everything IAM would
// reject, and returns every problem at once (a *ManifestError).
func Prepare(opts Options) ([]provision.CreateInput, error) {
	var inputs []provision.CreateInput
	var problems []Problem
	for _, s := range opts.Senders {
		doc, err := policy.Sender(policy.SenderOptions{FromAddresses: s.FromAddresses, IdentityARNs: s.IdentityARNs})
		if err != nil {
			problems = append(problems, Problem{s.Line, err.Error()})
			continue
		}
		in := provision.CreateInput{
			UserName: s.User, Path: opts.Path, Tags: append(append([]provision.Tag{}, opts.Tags...), s.Tags...),
			PermissionsBoundary: opts.PermissionsBoundary, Policy: doc, PolicyName: opts.PolicyName,
			Group: s.Group, Regions: opts.Regions, FIPS: opts.FIPS, Listed: true, GroupReady: true,
		}
		if in.Group == "" {
			in.Group = opts.Group
		}
		in.OwnTags = storeTags(opts, s.User)
		if err := checkFileName(opts, s.User); err != nil {
			problems = append(problems, Problem{s.Line, err.Error()})
			continue
		}
		if err := in.Validate(); err != nil {
			problems = append(problems, Problem{s.Line, err.Error()})
			continue
		}
		inputs = append(inputs, in)
	}
	if len(problems) > 0 {
		return nil, &ManifestError{Problems: problems}
	}
	return inputs, nil
}

// Plan returns what Run would do, for --dry-run: the one listing, each
// group ensured once, and each sender's calls and file. It calls nothing.
func Plan(opts Options) ([]string, error) {
	inputs, err := Prepare(opts)
	if err != nil {
		return nil, err
	}
	var plan []string
	if opts.PermissionsBoundary != "" {
		plan = append(plan, "iam:GetPolicy PolicyArn="+opts.PermissionsBoundary+" (stop, nothing changed, unless the permissions boundary exists)")
	}
	plan = append(plan, fmt.Sprintf("iam:ListUsers (once, for all %d senders; those whose user and file exist are skipped)", len(inputs)))
	groups := map[string]bool{}
	for _, in := range inputs {
		if in.Group != "" && !groups[in.Group] {
			groups[in.Group] = true
			plan = append(plan, provision.GroupPlan(in.Group, policyName(in), in.Policy, in.PermissionsBoundary != "")...)
		}
	}
	for _, in := range inputs {
		steps, err := provision.PlanCreate(in)
		if err != nil {
			return nil, err
		}
		plan = append(plan, fmt.Sprintf("# %s -> %s", in.UserName, where(opts, in.UserName)))
		plan = append(plan, steps...)
	}
	return plan, nil
}

// checkFileName refuses a sender whose file would have a name the
// journal keeps for itself (a user named .a.csv.tmp-x writes
// .a.csv.tmp-x.csv, a temporary name of a.csv's runs).
func checkFileName(opts Options, user string) error {
	if opts.Dir == "" {
		return nil
	}
	return journal.CheckName(FilePath(opts.Dir, opts.Format, user))
}

// FilePath is where a sender's credentials go.
func FilePath(dir string, f credfile.Format, user string) string {
	return filepath.Join(dir, user+"."+f.Ext())
}

// Run creates every sender's credentials: one ListUsers pass for the whole
// batch, each group ensured once, then opts.Concurrency senders at a time.
// A sender that fails is rolled back alone; the others stay. Senders whose
// user and file exist, the file naming a key the user holds, are skipped,
// so re-running resumes. When ctx ends, no new sender starts; those in
// flight finish (or roll back).
//
// The batch holds the lock on opts.Dir (a second batch on it exits 2 at
// once) and each sender the lock on its file. Before its first IAM call it
// recovers what dead runs left: each sender's marker, then the batch's own.
func Run(ctx context.Context, c provision.IAMAPI, opts Options) (Summary, error) {
	inputs, err := Prepare(opts)
	if err != nil {
		return Summary{}, err
	}
	journalDir := opts.Dir
	if opts.Dir == "" && opts.Store != nil {
		journalDir = opts.StateDir
	}
	if err := checkDir(journalDir); err != nil {
		return Summary{}, err
	}
	if err := preflight(ctx, c, opts, inputs); err != nil {
		return Summary{}, err
	}
	dj, err := journal.Open(journal.Dir(journalDir), opts.Journal)
	if err != nil {
		return Summary{}, err
	}
	sum, err := runLocked(ctx, c, opts, inputs, dj)
	result := err
	if result == nil {
		result = sum.Err()
	}
	if cerr := dj.Close(result); cerr != nil {
		sum.Recovered = append(sum.Recovered, "warning: "+cerr.Error())
	}
	return sum, err
}

func runLocked(ctx context.Context, c provision.IAMAPI, opts Options, inputs []provision.CreateInput, dj *journal.Journal) (Summary, error) {
	r := &run{c: c, opts: opts, inputs: inputs, outcomes: make([]Outcome, len(inputs)), dir: dj}
	if err := r.recoverAll(ctx); err != nil {
		return Summary{Recovered: r.recovered}, err
	}
	names := make([]string, len(inputs))
	for i, in := range inputs {
		names[i] = in.UserName
	}
	// Before any sender starts: a rerun recovers every one of them, even
	// if its manifest no longer lists it.
	if err := dj.NoteMembers(names); err != nil {
		return Summary{Recovered: r.recovered}, fmt.Errorf("record the batch's senders in %s: %w", journalPlace(opts), err)
	}
	existing, err := provision.FindUsers(ctx, c, names)
	if err != nil {
		return Summary{Recovered: r.recovered}, err
	}
	todo := r.ensureGroups(ctx, r.classify(ctx, existing))
	r.createAll(ctx, todo)
	return Summary{Outcomes: r.outcomes, Interrupted: ctx.Err() != nil && r.notStarted > 0, Recovered: r.recovered,
		stopped: provision.StopReason(context.Cause(ctx))}, nil
}

func checkDir(dir string) error {
	if dir == "" {
		return exitcode.UsageError(errors.New("--out-dir is required with --from-file"))
	}
	info, err := os.Stat(dir)
	if err == nil && !info.IsDir() {
		return exitcode.UsageError(fmt.Errorf("--out-dir %s is not a directory", dir))
	}
	if err := credfile.Check(filepath.Join(dir, ".sesmtp-check"), true); err != nil {
		return exitcode.UsageError(err)
	}
	return nil
}

type run struct {
	c          provision.IAMAPI
	opts       Options
	inputs     []provision.CreateInput
	dir        *journal.Journal
	mu         sync.Mutex
	outcomes   []Outcome
	done       int
	notStarted int
	recovered  []string
}

// record sets sender i's outcome and reports progress; calls to
// Progress are serialised.
func (r *run) record(i int, o Outcome) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if o.Status != StatusCreated && o.Status != StatusSkipped && o.Next == "" {
		o.Next = NextRetry
		if o.code == exitcode.LeftBehind {
			o.Next = nextCleanUp
		}
	}
	r.outcomes[i] = o
	r.done++
	if r.opts.Progress != nil {
		r.opts.Progress(r.done, len(r.outcomes), o)
	}
}

// recoverAll recovers what dead runs left: each sender's marker (its
// undelivered user goes; a delivered one stays), first those of senders a
// dead batch recorded that the manifest no longer lists, then the
// manifest's, then the batch's own (groups it created that are still
// empty). A listed sender whose recovery fails fails; a dropped one stops
// the batch (nothing else can report it); a sender another live run holds
// is left for createOne to report.
func (r *run) recoverAll(ctx context.Context) error {
	if err := r.recoverDropped(ctx); err != nil {
		return err
	}
	for i, in := range r.inputs {
		if err := r.recoverOne(ctx, in.UserName, ""); err != nil {
			r.record(i, r.outcome(in.UserName, Outcome{Status: StatusFailed, Error: err.Error(), code: exitcode.Of(err)}))
		}
	}
	rec, err := r.dir.Recover(ctx, r.c)
	r.noteRecovery(rec, journalPlace(r.opts))
	return err
}

// recoverDropped recovers the senders the dead batch's marker records
// that the manifest no longer lists, exactly as a listed sender's: at the
// place this batch's options give them (the same --out-dir, --format and
// --store), only what each one's marker proves was the dead run's.
func (r *run) recoverDropped(ctx context.Context) error {
	members, err := r.dir.DeadMembers()
	if err != nil {
		return err
	}
	listed := map[string]bool{}
	for _, in := range r.inputs {
		listed[strings.ToLower(in.UserName)] = true
	}
	var dropped []string
	for _, user := range members {
		if listed[strings.ToLower(user)] {
			continue
		}
		if err := provision.CheckName("user name", user, provision.MaxUserNameLen); err != nil {
			// Not what a batch records: its file name could be anywhere.
			return exitcode.UsageError(fmt.Errorf("the batch's journal in %s records a sender that is not an IAM user name (%w); "+
				"nothing was changed: check who wrote it", journalPlace(r.opts), err))
		}
		dropped = append(dropped, user)
	}
	for _, user := range dropped {
		if err := r.recoverOne(ctx, user, " (sender "+user+", no longer in the manifest)"); err != nil {
			return fmt.Errorf("sender %s, whom an earlier batch that died had begun and the manifest no longer lists: %w", user, err)
		}
	}
	return nil
}

// recoverOne recovers what a dead run left at user's target, if anything;
// note is added to the target's name in the report. A target another
// live run holds is left to it.
func (r *run) recoverOne(ctx context.Context, user, note string) error {
	target, err := r.target(user)
	if err == nil && !leftByDeadRun(target.Place()) {
		return nil
	}
	var j *journal.Journal
	if err == nil {
		j, err = journal.Open(target, r.opts.Journal)
	}
	var held *journal.HeldError
	if errors.As(err, &held) {
		return nil
	}
	if err != nil {
		return err
	}
	rec, err := j.Recover(ctx, r.c)
	r.noteRecovery(rec, target.Name()+note)
	_ = j.Close(err)
	return err
}

// journalPlace names where the batch keeps its own journal.
func journalPlace(opts Options) string {
	if opts.Dir == "" {
		return "the state directory"
	}
	return opts.Dir
}

// leftByDeadRun reports whether a marker or a lock file is beside file:
// a dead run's (or a live one's, which Open then reports).
func leftByDeadRun(file string) bool {
	for _, p := range []string{journal.MarkerPath(file), journal.LockPath(file)} {
		if _, err := os.Lstat(p); err == nil {
			return true
		}
	}
	return false
}

func (r *run) noteRecovery(rec journal.Recovery, target string) {
	if s := rec.Summary(target); s != "" {
		r.mu.Lock()
		r.recovered = append(r.recovered, s)
		r.mu.Unlock()
	}
}

// target is the journal target of user's delivery: the file, the store, or both.
func (r *run) target(user string) (journal.Target, error) {
	file := journal.File{Path: FilePath(r.opts.Dir, r.opts.Format, user), Format: r.opts.Format, Options: r.opts.FileOptions, Force: r.opts.Force}
	if r.opts.Store == nil {
		return file, nil
	}
	s, err := r.opts.Store(user)
	switch {
	case err != nil:
		return nil, err
	case r.opts.Dir == "":
		return s, nil
	}
	return journal.Both{File: file, Store: s}, nil
}

// classify decides, from the one listing, which senders need creating.
// A sender counts as done only if its file names a key its user holds.
func (r *run) classify(ctx context.Context, existing map[string]types.User) []int {
	var todo []int
	done := map[int][]string{} // senders whose user and file exist: the key ids the file names
	for i, in := range r.inputs {
		if r.outcomes[i].Status != "" {
			continue // decided by the recovery
		}
		file, where := r.names(in.UserName)
		_, userExists := existing[strings.ToLower(in.UserName)]
		ids, fileExists, anyExists, fileErr := r.held(ctx, in.UserName)
		failed := r.outcome(in.UserName, Outcome{Status: StatusFailed, code: exitcode.Failed})
		var notRegular *credfile.NotRegularError
		switch {
		case errors.As(fileErr, &notRegular) || exitcode.Of(fileErr) == exitcode.Usage:
			failed.Error, failed.code = fileErr.Error(), exitcode.Usage
		case userExists && anyExists && fileErr == nil:
			done[i] = ids
			continue
		case fileErr != nil && !fileExists:
			failed.Error = fileErr.Error()
		case userExists && fileExists:
			failed.Error = fmt.Sprintf("IAM user exists, and %s is not a credentials file sesmtp can read (%v)", file, fileErr)
			failed.Next = "move " + file + " away, then " + r.rotateAdvice(in.UserName, file)
		case userExists:
			failed.Error = fmt.Sprintf("IAM user exists but %s does not hold its credentials: its password is not recoverable", where)
			failed.Next = r.rotateAdvice(in.UserName, file)
		case fileExists && !r.opts.Force:
			failed.Error = (&credfile.ExistsError{Path: file}).Error()
			failed.Next = fmt.Sprintf("%s holds credentials of a user IAM no longer has: move it away, or pass --force to overwrite it", file)
		default:
			todo = append(todo, i)
			continue
		}
		r.record(i, failed)
	}
	r.checkExisting(ctx, done)
	return todo
}

// rotateAdvice is what helps a sender whose user exists without its file:
// a new key written where the batch expects it (the next run skips it), or
// deleting the user (the next run creates it).
func (r *run) rotateAdvice(user, file string) string {
	dest := ""
	if file != "" {
		dest = " --out " + file
		if r.opts.Format != credfile.CSV {
			dest = " --format " + string(r.opts.Format) + dest
		}
	}
	if r.opts.StoreLocation != nil {
		loc := r.opts.StoreLocation(user)
		dest += fmt.Sprintf(" --store %s --store-region %s", loc.Target, loc.Region)
	}
	return fmt.Sprintf("if the user is this sender's, 'sesmtp rotate --user %s --strategy key --region %s%s' gives it a new key "+
		"there (the next run skips it), or 'sesmtp delete --user %s' lets the next run create it afresh; "+
		"if the name belongs to someone else, choose another in the manifest", user, strings.Join(r.opts.Regions, ","), dest, user)
}

// checkExisting runs recordExisting for the senders in done, as many at
// once as senders are created.
func (r *run) checkExisting(ctx context.Context, done map[int][]string) {
	sem := make(chan struct{}, max(r.opts.Concurrency, 1))
	var wg sync.WaitGroup
	for i, ids := range done {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			r.recordExisting(ctx, i, ids)
		})
	}
	wg.Wait()
}

// recordExisting skips a sender whose user and file exist if the file
// names a key the user holds; a file naming another key is stale.
func (r *run) recordExisting(ctx context.Context, i int, ids []string) {
	user := r.inputs[i].UserName
	file, where := r.names(user)
	for _, id := range ids {
		held, err := provision.HoldsKey(ctx, r.c, user, id)
		if err != nil {
			r.record(i, r.outcome(user, Outcome{Status: StatusFailed, Error: err.Error(), code: exitcode.Failed}))
			return
		}
		if held {
			r.record(i, r.outcome(user, Outcome{AccessKeyID: id, Status: StatusSkipped}))
			return
		}
	}
	next := r.rotateAdvice(user, file)
	if file != "" {
		next = "move " + file + " away, then " + next
	}
	r.record(i, r.outcome(user, Outcome{Status: StatusFailed, code: exitcode.Failed,
		Error: fmt.Sprintf("%s names no access key IAM user %s holds (or not the same one): it is stale", where, user),
		Next:  next}))
}

// ensureGroups makes sure each group the senders name exists, once; the
// senders of a group that cannot be made fail without starting.
func (r *run) ensureGroups(ctx context.Context, todo []int) []int {
	failed := map[string]error{}
	for _, i := range todo {
		in := r.inputs[i]
		if in.Group == "" {
			continue
		}
		if _, done := failed[in.Group]; !done {
			_, err := provision.EnsureGroup(ctx, r.c, r.dir, in.Group, policyName(in), in.Policy)
			failed[in.Group] = err
		}
	}
	for g, err := range failed {
		if err == nil {
			delete(failed, g)
		}
	}
	if len(failed) == 0 {
		return todo
	}
	var kept []int
	for _, i := range todo {
		if err, bad := failed[r.inputs[i].Group]; bad {
			r.record(i, Outcome{User: r.inputs[i].UserName, Status: StatusFailed, Error: err.Error(), code: exitcode.Failed})
			continue
		}
		kept = append(kept, i)
	}
	return kept
}

func policyName(in provision.CreateInput) string {
	if in.PolicyName == "" {
		return provision.DefaultPolicyName
	}
	return in.PolicyName
}

// createAll runs the senders through a pool of workers. Once ctx ends no
// sender starts; in-flight senders run on to finish or roll back, bounded
// only by ctx's deadline.
func (r *run) createAll(ctx context.Context, todo []int) {
	jobs := make(chan int)
	var wg sync.WaitGroup
	workers := r.opts.Concurrency
	if workers <= 0 {
		workers = DefaultConcurrency
	}
	// In-flight senders ignore Ctrl-C (they finish or roll back) but keep
	// ctx's deadline (--timeout).
	inflight, cancel := context.WithoutCancel(ctx), context.CancelFunc(func() {})
	if d, ok := ctx.Deadline(); ok {
		inflight, cancel = context.WithDeadline(inflight, d)
	}
	defer cancel()
	for range min(workers, len(todo)) {
		wg.Go(func() {
			for i := range jobs {
				r.record(i, r.createOne(inflight, r.inputs[i]))
			}
		})
	}
	next := 0
dispatch:
	for next < len(todo) && ctx.Err() == nil {
		select {
		case jobs <- todo[next]:
			next++
		case <-ctx.Done():
			break dispatch
		}
	}
	close(jobs)
	wg.Wait()
	for _, i := range todo[next:] {
		if r.outcomes[i].Status == "" {
			r.notStarted++
			r.record(i, Outcome{User: r.inputs[i].UserName, Status: StatusNotStarted, code: exitcode.Failed})
		}
	}
}

func (r *run) createOne(ctx context.Context, in provision.CreateInput) Outcome {
	target, err := r.target(in.UserName)
	var j *journal.Journal
	if err == nil {
		j, err = journal.Open(target, r.opts.Journal)
	}
	if err != nil {
		return r.outcome(in.UserName, Outcome{Status: StatusFailed, Error: err.Error(), code: exitcode.Of(err)})
	}
	res, err := r.createJournaled(ctx, j, in, target.Name())
	_ = j.Close(err) // after exit 4 the marker stays, for the next run to finish the cleanup
	o := r.outcome(in.UserName, Outcome{AccessKeyID: res.AccessKeyID, Status: StatusCreated})
	if err != nil {
		o.Error, o.code = err.Error(), exitcode.Of(err)
		o.Status = StatusFailed
		var rolled *provision.RolledBackError
		switch {
		case errors.As(err, &rolled):
			o.Status = StatusRolledBack
		case o.code == exitcode.LeftBehind:
			o.Status = StatusLeft
		}
	}
	return o
}

// createJournaled creates one sender under the lock on its file.
func (r *run) createJournaled(ctx context.Context, j *journal.Journal, in provision.CreateInput, file string) (provision.CreateResult, error) {
	rec, err := j.Recover(ctx, r.c) // a run that died since recoverAll
	r.noteRecovery(rec, file)
	if err == nil {
		err = rec.RequireNoResume(file, false)
	}
	if err != nil {
		return provision.CreateResult{}, err
	}
	in.Journal, in.RunID, in.Verify = j, j.RunID(), r.opts.Verify
	return provision.Create(ctx, r.c, in)
}
