// Command sesmtp runs package cli with the process's arguments and signals.
//
// sesmtp gives operations engineers Amazon SES SMTP credentials in one
// command, and keeps them safe for their whole life.
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
