package cli

import "fmt"

// warnTo returns a sink that prints each warning a flow sends on its own
// line of stderr, as "warning: ...".
func warnTo(io stdio) func(string) {
	return func(msg string) { fmt.Fprintln(io.err, "warning: "+msg) }
}
