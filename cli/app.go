// Package cli holds the commands: flags in, one call to the packages below, output.
//
// It is sesmtp's command-line interface: one file per command
// (urfave/cli/v2), each reading its flags into an input and calling one
// function of provision, derive, verify, policy or credfile, then printing.
// No AWS logic lives here.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/sesmtp/sesmtp/exitcode"
	"github.com/sesmtp/sesmtp/verify"
)

// Version is the version --version prints; main sets it from the build.
var Version = "dev"

// Main runs sesmtp with the process's arguments and standard streams and
// returns the exit code.
func Main(ctx context.Context) int {
	return run(ctx, os.Args, newStdio())
}

// stdio is what a run reads from and writes to; tests supply their own.
type stdio struct {
	in  io.Reader
	out io.Writer
	err io.Writer
	// interactive reports whether a person is at the terminal (stdin and
	// stderr are terminals), for confirmations and progress bars.
	interactive bool
	now         func() time.Time
	// resolver checks that SES SMTP host names resolve (nil: no check).
	resolver verify.Resolver
	// step, if set, is told each step of a journaled run (tests kill the
	// process at each one); nil in sesmtp itself.
	step func(string)
}

func newStdio() stdio {
	return stdio{
		in: os.Stdin, out: os.Stdout, err: os.Stderr,
		interactive: term.IsTerminal(int(os.Stdin.Fd())) && term.IsTerminal(int(os.Stderr.Fd())),
		now:         time.Now,
		resolver:    net.DefaultResolver,
	}
}

// run runs sesmtp with args and returns the exit code. Errors are printed
// once, here, to stderr.
func run(ctx context.Context, args []string, io stdio) int {
	// Concurrent senders, the request log and progress share these.
	io.out, io.err = &syncWriter{w: io.out}, &syncWriter{w: io.err}
	app := newApp(io)
	err := app.RunContext(ctx, args)
	if err != nil {
		fmt.Fprintf(io.err, "sesmtp: %v\n", err)
	}
	return exitcode.Of(err)
}

// syncWriter serialises writes to w, so that lines written by concurrent
// goroutines do not interleave or race.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

const appDescription = `sesmtp does what the SES console's "Create SMTP credentials" button does, from a
terminal or a script, and the rest of the credentials' life cycle: it creates an IAM
user allowed to send through SES, creates its access key, derives the SMTP password
and writes it to a credentials file (0600, never overwritten, never lost).

Secrets are never taken as arguments: they come from the environment or stdin.
AWS settings follow aws-cli: --profile, --region, AWS_* variables, ~/.aws/config.

EXAMPLES:
   sesmtp create --user app-mailer --region eu-west-1
   sesmtp verify --credentials credentials.csv
   AWS_SECRET_ACCESS_KEY=... sesmtp derive --region eu-west-1
   sesmtp setup --group ses-senders > sesmtp-operator.json   # once per account, as an admin

EXIT CODES:
   0  done
   1  failed, nothing left changed
   2  bad usage or input, nothing attempted
   3  SMTP credentials rejected, or IAM denies their user ses:SendRawEmail (verify, --verify)
   4  failed and left something behind; the message lists it and the command that removes it`

// newApp builds the CLI. It holds no state beyond io.
func newApp(io stdio) *cli.App {
	app := &cli.App{
		Name:                 "sesmtp",
		Usage:                "Amazon SES SMTP credentials in one command, safe for their whole life",
		Description:          appDescription,
		Version:              Version,
		Reader:               io.in,
		Writer:               io.out,
		ErrWriter:            io.err,
		EnableBashCompletion: true,
		Suggest:              true,
		HideHelpCommand:      true,
		ExitErrHandler:       func(*cli.Context, error) {}, // run picks the exit code
		Commands: []*cli.Command{
			createCommand(io),
			rotateCommand(io),
			retireCommand(io),
			deleteCommand(io),
			listCommand(io),
			verifyCommand(io),
			deriveCommand(io),
			policyCommand(io),
			setupCommand(io),
		},
	}
	app.Action = unknownCommand
	for _, c := range app.Commands {
		setUsageErrors(c)
	}
	app.OnUsageError = usageError
	return app
}

// setUsageErrors makes flag errors exit 2 and unknown subcommands an error,
// for c and its subcommands; urfave/cli's defaults would exit 1 or 3.
func setUsageErrors(c *cli.Command) {
	c.OnUsageError = usageError
	if len(c.Subcommands) > 0 && c.Action == nil {
		c.Action = unknownCommand
	}
	for _, s := range c.Subcommands {
		setUsageErrors(s)
	}
}

func usageError(c *cli.Context, err error, _ bool) error {
	return exitcode.UsageError(fmt.Errorf("%w (see '%s --help')", err, c.Command.HelpName))
}

// unknownCommand is the action of the app and of commands with
// subcommands: with no argument it shows help, else it names the unknown command.
func unknownCommand(c *cli.Context) error {
	name := c.Command.HelpName
	if name == "" {
		name = c.App.Name
	}
	if !c.Args().Present() {
		_ = cli.ShowSubcommandHelp(c)
		return exitcode.UsageError(errors.New("a command is required"))
	}
	var names []string
	for _, cmd := range visibleCommands(c) {
		if !cmd.Hidden {
			names = append(names, cmd.Name)
		}
	}
	return exitcode.UsageError(fmt.Errorf("%q is not a %s command (commands: %s; see '%s --help')",
		c.Args().First(), name, strings.Join(names, ", "), name))
}

func visibleCommands(c *cli.Context) []*cli.Command {
	if c.Command != nil && len(c.Command.Subcommands) > 0 {
		return c.Command.Subcommands
	}
	return c.App.Commands
}
