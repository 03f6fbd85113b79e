// Command iam-local serves the local IAM endpoint (package iamtest) on a port.
//
// It is for demos and manual testing. It accepts AWS's documented example credentials
// (AKIAIOSFODNN7EXAMPLE) and keeps its state in memory until it stops.
//
//	make build && bin/iam-local --port 4599
//	AWS_ENDPOINT_URL_IAM=http://127.0.0.1:4599 \
//	AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE AWS_SECRET_ACCESS_KEY=... sesmtp create
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/sesmtp/sesmtp/provision/iamtest"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "iam-local:", err)
		os.Exit(1)
	}
}

func run() error {
	port := flag.Int("port", 4599, "TCP port to listen on (0 picks a free one)")
	account := flag.String("account", iamtest.DefaultAccountID, "account id used in ARNs")
	urlFile := flag.String("url-file", "", "write the endpoint URL to this file once listening (for scripts)")
	latency := flag.Duration("latency", 0, "delay added to every call, to stand in for IAM's real latency")
	flag.Parse()

	srv := iamtest.NewUnstartedServer(iamtest.WithAccountID(*account))
	if *latency > 0 {
		srv.Inject(iamtest.Fault{Kind: iamtest.Delay, Delay: *latency})
	}
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(*port)))
	if err != nil {
		return err
	}
	url := "http://" + ln.Addr().String()
	if *urlFile != "" {
		if err := os.WriteFile(*urlFile, []byte(url+"\n"), 0o644); err != nil {
			return err
		}
	}
	fmt.Printf("iam-local: serving IAM on %s (access key %s, account %s)\n", url, iamtest.DefaultAccessKeyID, *account)

	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = hs.Shutdown(shutdown)
	}()
	if err := hs.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
