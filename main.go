// Command sesmtp gives operations engineers Amazon SES SMTP credentials in
// one command, and keeps them safe for their whole life. The commands live
// in package cli; this file only wires the process to it.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/sesmtp/sesmtp/cli"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	cli.Version = version
	code := cli.Main(ctx)
	stop()
	os.Exit(code)
}
