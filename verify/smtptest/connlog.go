package smtptest

import (
	"crypto/tls"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/sesmtp/sesmtp/verify"
)

// logListener wraps each accepted connection so that its close writes
// one log line: go-smtp ends a session at STARTTLS too, so only the
// connection knows when it is over.
type logListener struct {
	net.Listener
	log func(string)
}

func (l *logListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &logConn{Conn: c, info: &connInfo{client: c.RemoteAddr().String(), start: time.Now()}, log: l.log}, nil
}

// logConn is an accepted connection that logs its connInfo once, on Close.
type logConn struct {
	net.Conn
	info *connInfo
	log  func(string)
	once sync.Once
}

func (c *logConn) Close() error {
	c.once.Do(func() {
		if c.log != nil {
			c.log(c.info.line())
		}
	})
	return c.Conn.Close()
}

// connInfo is what one connection did. It never holds a password.
type connInfo struct {
	mu      sync.Mutex
	client  string
	start   time.Time
	tls     string
	answers []string
	mails   int
}

// infoOf finds the connInfo of a go-smtp connection (under TLS, if any).
func infoOf(c *smtp.Conn) *connInfo {
	nc := c.Conn()
	if tc, ok := nc.(*tls.Conn); ok {
		nc = tc.NetConn()
	}
	if lc, ok := nc.(*logConn); ok {
		if state, ok := c.TLSConnectionState(); ok {
			lc.info.mu.Lock()
			lc.info.tls = tls.VersionName(state.Version)
			lc.info.mu.Unlock()
		}
		return lc.info
	}
	return &connInfo{}
}

func (i *connInfo) auth(mech, username string, err error) {
	i.mu.Lock()
	defer i.mu.Unlock()
	who := ""
	if username != "" {
		// Not an access key id: maybe a password given as the username.
		who = " " + verify.DescribeUsername(username)
	}
	i.answers = append(i.answers, fmt.Sprintf("AUTH %s%s: %s", mech, who, describe(err)))
}

func (i *connInfo) mail() {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.mails++
}

// line is the connection's log line.
func (i *connInfo) line() string {
	i.mu.Lock()
	defer i.mu.Unlock()
	tlsNote := "no TLS"
	if i.tls != "" {
		tlsNote = i.tls
	}
	auth := "no AUTH"
	if len(i.answers) > 0 {
		auth = strings.Join(i.answers, "; ")
	}
	mails := ""
	if i.mails > 0 {
		mails = fmt.Sprintf(", %d MAIL refused", i.mails)
	}
	return fmt.Sprintf("%s %s, %s%s (%s)", i.client, tlsNote, auth, mails, time.Since(i.start).Round(time.Millisecond))
}
