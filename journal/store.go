package journal

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/sesmtp/sesmtp/credfile"
	"github.com/sesmtp/sesmtp/store"
)

// StepStored: the store write succeeded; the marker does not say
// delivered yet.
const StepStored = "stored"

// Store is a secret store target (--store): a Secrets Manager secret or
// SSM parameters. Every write a delivery makes is keyed by the access key
// id (a secret version's id, a parameter version's description), and the
// marker records the key id before the write: so Holds reads the store to
// tell whether the key was delivered, and Retract takes back exactly that
// delivery, after a crash as in the run itself.
//
// Its lock and marker are kept on this machine, under the state directory
// (StorePlace): the lock keeps two runs on this machine off one secret;
// runs on other machines are kept apart only by the store's own checks
// (sesmtp writes a secret only for the IAM user it is tagged with).
type Store struct {
	// Store is the target bound to its client.
	Store store.Store
	// Region is the store's region (for messages).
	Region string
	// Payload says what the payload holds (the secret access key or not).
	Payload store.PayloadOptions
	// Path is the place of the lock and marker (StorePlace).
	Path string
}

// Name implements Target.
func (s Store) Name() string {
	return store.Location{Target: s.Store.Target(), Region: s.Region}.String()
}

// Place implements Target.
func (s Store) Place() string { return s.Path }

// Deliver implements Target: it writes the payload; the key id the
// journal recorded names everything the write makes.
func (s Store) Deliver(ctx context.Context, creds credfile.Credentials, _ string, _ func(...string) error, step func(string)) error {
	p, err := store.NewPayload(creds, s.Payload)
	if err != nil {
		return err
	}
	r, err := s.Store.Deliver(ctx, p)
	if err != nil && !r.Attempted {
		return &NotWrittenError{Err: fmt.Errorf("write %s: %w", s.Name(), err)}
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", s.Name(), err)
	}
	step(StepStored)
	return nil
}

// NotWrittenError is a delivery that failed before it wrote anything:
// there is nothing to take back.
type NotWrittenError struct{ Err error }

func (e *NotWrittenError) Error() string { return e.Err.Error() }

// Unwrap returns the failure.
func (e *NotWrittenError) Unwrap() error { return e.Err }

// Holds implements Target: the store holds key id now.
func (s Store) Holds(ctx context.Context, _ Marker, id string) (bool, error) {
	return s.Store.Holds(ctx, id)
}

// Retract implements Target: it takes back the delivery of key id, if the
// store still holds it; anything else there is left alone.
func (s Store) Retract(ctx context.Context, id string) error {
	if _, err := s.Store.Retract(ctx, id); err != nil {
		return fmt.Errorf("take the credentials of key %s back from %s: %w", id, s.Name(), err)
	}
	return nil
}

// Cleanup implements Target: a store write leaves nothing to clean up.
func (s Store) Cleanup(Marker) error { return nil }

// Both is a credentials file and a store (--out and --store together):
// the run is delivered only when both are. The lock and marker are the
// file's.
type Both struct {
	File  File
	Store Store
}

// Name implements Target.
func (b Both) Name() string { return b.File.Name() + " and " + b.Store.Name() }

// Place implements Target.
func (b Both) Place() string { return b.File.Place() }

// Deliver implements Target: the file, then the store. If the store
// write fails, the Journal retracts both; if it failed before writing,
// the file alone is taken back here.
func (b Both) Deliver(ctx context.Context, creds credfile.Credentials, token string, record func(...string) error, step func(string)) error {
	if err := b.File.Deliver(ctx, creds, token, record, step); err != nil {
		return err
	}
	err := b.Store.Deliver(ctx, creds, token, record, step)
	var notWritten *NotWrittenError
	if errors.As(err, &notWritten) {
		if rerr := b.File.Retract(context.WithoutCancel(ctx), creds.AccessKeyID); rerr != nil {
			return fmt.Errorf("%w; removing %s failed too: %w", notWritten.Err, b.File.Path, rerr)
		}
	}
	return err
}

// Holds implements Target: both hold key id.
func (b Both) Holds(ctx context.Context, m Marker, id string) (bool, error) {
	inFile, err := b.File.Holds(ctx, m, id)
	if err != nil || !inFile {
		return false, err
	}
	return b.Store.Holds(ctx, m, id)
}

// Restore puts the file back, as File.Restore does.
func (b Both) Restore(m Marker, id string) (bool, error) { return b.File.Restore(m, id) }

// FileFormat is the file's format.
func (b Both) FileFormat() credfile.Format { return b.File.Format }

// Retract implements Target: the store's delivery, then the file's.
func (b Both) Retract(ctx context.Context, id string) error {
	return errors.Join(b.Store.Retract(ctx, id), b.File.Retract(ctx, id))
}

// Cleanup implements Target.
func (b Both) Cleanup(m Marker) error { return b.File.Cleanup(m) }

// EnvStateDir names the directory sesmtp keeps store journals in.
const EnvStateDir = "SESMTP_STATE_DIR"

// StateDir is where sesmtp keeps the locks and markers of deliveries that
// have no local file: $SESMTP_STATE_DIR, else $XDG_STATE_HOME/sesmtp, else
// ~/.local/state/sesmtp (the XDG base directory specification's state
// directory: "data that should persist between restarts").
func StateDir() (string, error) {
	if d := os.Getenv(EnvStateDir); d != "" {
		return d, nil
	}
	if d := os.Getenv("XDG_STATE_HOME"); filepath.IsAbs(d) {
		return filepath.Join(d, "sesmtp"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("no state directory for sesmtp's journal (set %s): %w", EnvStateDir, err)
	}
	return filepath.Join(home, ".local", "state", "sesmtp"), nil
}

// StoreIdentity says which account a store belongs to as far as this
// machine can tell without asking AWS: the endpoint ("" for AWS's own),
// and the profile and role the run signs with.
type StoreIdentity struct {
	Endpoint, Profile, RoleARN string
}

// StorePlace is where the lock and marker of deliveries to loc are kept:
// dir/stores/ENDPOINT/IDENTITY/REGION/KIND_NAME-HASH. The same store
// reached the same way always maps to the same place, so the next run
// finds a dead run's marker.
func StorePlace(dir string, loc store.Location, id StoreIdentity) string {
	endpoint := "aws"
	if id.Endpoint != "" {
		endpoint = id.Endpoint
		if u, err := url.Parse(id.Endpoint); err == nil && u.Host != "" {
			endpoint = u.Host
		}
	}
	who := id.Profile
	if who == "" {
		who = "default"
	}
	if id.RoleARN != "" {
		who += "+" + id.RoleARN
	}
	spec := loc.Target.String()
	sum := sha256.Sum256([]byte(spec))
	name := loc.Target.Service() + "_" + pathSafe(loc.Target.Name, 100) + "-" + hex.EncodeToString(sum[:4])
	return filepath.Join(dir, "stores", pathSafe(endpoint, 100), pathSafe(who, 100), pathSafe(loc.Region, 40), name)
}

// pathSafe keeps letters, digits and . _ - of s (others become _), at most n bytes.
func pathSafe(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if r < 128 && (r == '.' || r == '_' || r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return r
		}
		return '_'
	}, s)
	s = strings.TrimLeft(s, ".")
	if s == "" {
		s = "_"
	}
	return s[:min(len(s), n)]
}

// PlaceName is a file name for key: its safe characters and a digest.
func PlaceName(key string) string {
	sum := sha256.Sum256([]byte(key))
	return pathSafe(key, 100) + "-" + hex.EncodeToString(sum[:4])
}
