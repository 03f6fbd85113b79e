package verify

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"
)

// Resolver looks up host names; *net.Resolver satisfies it, tests use a stub.
type Resolver interface {
	LookupHost(ctx context.Context, host string) ([]string, error)
}

// resolveTimeout bounds one look-up: the check is advice, never a wait.
const resolveTimeout = 3 * time.Second

// UnresolvedError reports an SMTP host name that DNS says does not exist.
type UnresolvedError struct {
	Host string
}

func (e *UnresolvedError) Error() string {
	return fmt.Sprintf("%s does not resolve (DNS: no such host): SES has no SMTP endpoint there, "+
		"or not yet; a password for it has nowhere to go", e.Host)
}

// CheckResolves returns an *UnresolvedError if DNS answers that host does
// not exist. It returns nil if host resolves and also when DNS cannot be
// asked (no network, a timeout): only a definite "no such host" counts.
func CheckResolves(ctx context.Context, r Resolver, host string) error {
	ctx, cancel := context.WithTimeout(ctx, resolveTimeout)
	defer cancel()
	_, err := r.LookupHost(ctx, host)
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) && dnsErr.IsNotFound {
		return &UnresolvedError{Host: host}
	}
	return nil
}
