package cli

import (
	"bufio"
	"errors"
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/sesmtp/sesmtp/exitcode"
)

const flagYes = "yes"

// confirm asks the operator on a terminal; elsewhere --yes is required.
// It returns nil for a confirm func when --yes or --dry-run was given.
func confirm(c *cli.Context, io stdio, question string) (func(plan []string) bool, error) {
	if c.Bool(flagYes) || c.Bool(flagDryRun) {
		return nil, nil
	}
	if !io.interactive {
		return nil, exitcode.UsageError(errors.New("not a terminal, so sesmtp cannot ask: pass --yes to confirm (or --dry-run to see what would happen)"))
	}
	return func(plan []string) bool {
		fmt.Fprintf(io.err, "%s\n  %s\nProceed? [y/N] ", question, strings.Join(plan, "\n  "))
		line, _ := bufio.NewReader(io.in).ReadString('\n')
		answer := strings.ToLower(strings.TrimSpace(line))
		return answer == "y" || answer == "yes"
	}, nil
}
