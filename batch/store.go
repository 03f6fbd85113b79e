package batch

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/sesmtp/sesmtp/credfile"
	"github.com/sesmtp/sesmtp/exitcode"
	"github.com/sesmtp/sesmtp/provision"
	"github.com/sesmtp/sesmtp/store"
)

// storeTags are the IAM user tags saying where user's credentials are
// stored; nil without --store.
func storeTags(opts Options, user string) []provision.Tag {
	if opts.StoreLocation == nil {
		return nil
	}
	var tags []provision.Tag
	for _, kv := range opts.StoreLocation(user).UserTags(nil) {
		tags = append(tags, provision.Tag{Key: kv[0], Value: kv[1]})
	}
	return tags
}

// where names user's delivery: its file, its store, or both.
func where(opts Options, user string) string {
	file := ""
	if opts.Dir != "" {
		file = FilePath(opts.Dir, opts.Format, user)
	}
	switch {
	case opts.StoreLocation == nil:
		return file
	case file == "":
		return opts.StoreLocation(user).String()
	}
	return file + " and " + opts.StoreLocation(user).String()
}

// names returns user's file ("" when there is none) and where its
// delivery goes, for messages.
func (r *run) names(user string) (file, all string) {
	if r.opts.Dir != "" {
		file = FilePath(r.opts.Dir, r.opts.Format, user)
	}
	return file, where(r.opts, user)
}

// outcome fills in o's user, file and store.
func (r *run) outcome(user string, o Outcome) Outcome {
	o.User = user
	o.File, _ = r.names(user)
	if r.opts.StoreLocation != nil {
		o.Store = r.opts.StoreLocation(user).String()
	}
	return o
}

// held reads what user's delivery holds now: the access key ids it names
// (the file's, the store's, or those both name), whether a file is there
// (replacing it needs --force), and whether anything is.
func (r *run) held(ctx context.Context, user string) (ids []string, fileExists, exists bool, err error) {
	file, _ := r.names(user)
	if file != "" {
		if ids, fileExists, err = credfile.KeyIDs(file); err != nil {
			return nil, fileExists, fileExists, err
		}
	}
	if r.opts.Store == nil {
		return ids, fileExists, fileExists, nil
	}
	stored, found, err := r.storedKey(ctx, user)
	if err != nil {
		return nil, fileExists, true, err
	}
	if file == "" {
		return stored, false, found, nil
	}
	return slices.DeleteFunc(ids, func(id string) bool { return !slices.Contains(stored, id) }), fileExists, fileExists || found, nil
}

// storedKey reads (without decrypting) which key user's store holds.
// Something there that is not sesmtp's, or is another user's, or a secret
// scheduled for deletion, is a usage error: the delivery would refuse it.
func (r *run) storedKey(ctx context.Context, user string) ([]string, bool, error) {
	s, err := r.opts.Store(user)
	if err != nil {
		return nil, false, err
	}
	st, err := s.Store.Describe(ctx)
	switch {
	case err != nil:
		return nil, false, err
	case !st.Exists:
		return nil, false, nil
	case !st.Managed || !strings.EqualFold(st.IAMUser, user): // IAM user names are not distinguished by case
		return nil, true, exitcode.UsageError(fmt.Errorf("%s exists and is not sesmtp's store of IAM user %s (tags %s=%t, %s=%q): "+
			"sesmtp writes only what it wrote for the same user; choose another --store", s.Name(), user,
			store.TagManagedBy, st.Managed, store.TagIAMUser, st.IAMUser))
	case !st.DeletionDate.IsZero():
		return nil, true, exitcode.UsageError(fmt.Errorf("%s is scheduled for deletion; restore it (aws secretsmanager restore-secret) "+
			"or choose another --store", s.Name()))
	case st.KeyID == "":
		return nil, true, nil
	}
	return []string{st.KeyID}, true, nil
}
