package smtptest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/sesmtp/sesmtp/provision/iamtest"
)

// IAMCheck asks a local IAM endpoint (package iamtest, cmd/iam-local)
// whether SMTP credentials are the v4 password, for one region, of an
// active key it issued: what SES asks IAM when a client authenticates.
// The secret access key never leaves the IAM endpoint.
type IAMCheck struct {
	// URL is the IAM endpoint's base URL, e.g. http://127.0.0.1:4599.
	URL string
	// Region is the region whose passwords are accepted.
	Region string
	// MinKeyAge rejects keys younger than this with 535, as SES does
	// while IAM propagates a new key to it.
	MinKeyAge time.Duration
	// Client makes the requests (default http.DefaultClient).
	Client *http.Client
	// Now is the clock for MinKeyAge (default time.Now).
	Now func() time.Time
}

// Check is an Options.Check: nil accepts, SES's 535s reject, and any
// other error (the IAM endpoint is down) answers 454.
func (c IAMCheck) Check(ctx context.Context, username, password string) error {
	answer, err := c.ask(ctx, username, password)
	if err != nil {
		return err
	}
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	switch answer.Result {
	case iamtest.SMTPAuthOK:
		if now().Sub(answer.KeyCreated) < c.MinKeyAge {
			return ReplyInvalid // not propagated yet
		}
		return nil
	case iamtest.SMTPAuthV2:
		return ReplySigV2
	case iamtest.SMTPAuthRejected, iamtest.SMTPAuthInactive:
		return ReplyInvalid
	}
	return fmt.Errorf("the IAM endpoint answered %q", answer.Result)
}

func (c IAMCheck) ask(ctx context.Context, username, password string) (iamtest.SMTPAuthAnswer, error) {
	var answer iamtest.SMTPAuthAnswer
	form := url.Values{"username": {username}, "password": {password}, "region": {c.Region}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(c.URL, "/")+iamtest.SMTPAuthPath,
		strings.NewReader(form.Encode()))
	if err != nil {
		return answer, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	client := c.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return answer, fmt.Errorf("ask the IAM endpoint: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return answer, fmt.Errorf("the IAM endpoint answered HTTP %d (is %s an iam-local?)", resp.StatusCode, c.URL)
	}
	if err := json.NewDecoder(resp.Body).Decode(&answer); err != nil {
		return answer, fmt.Errorf("the IAM endpoint's answer: %w", err)
	}
	return answer, nil
}
