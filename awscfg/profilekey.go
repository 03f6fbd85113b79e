package awscfg

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/config"
)

// ProfileSetting returns the value of key in the profile's section of the
// shared config file, "" when the file, the section or the key is absent.
// The SDK's shared-config loader keeps only the settings it knows, so
// sesmtp's own (e.g. sesmtp_permissions_boundary) are read here from the
// same file the SDK reads (AWS_CONFIG_FILE, else ~/.aws/config) and the
// same profile (profile, else AWS_PROFILE or AWS_DEFAULT_PROFILE, else
// "default"), with the file's grammar as the AWS CLI documents it
// ("Configuration and credential file settings"): [default] or
// [profile NAME] sections, "key = value" lines, # and ; comments.
func ProfileSetting(profile, key string) (string, error) {
	env, err := config.NewEnvConfig()
	if err != nil {
		return "", fmt.Errorf("read the AWS environment: %w", err)
	}
	file := env.SharedConfigFile
	if file == "" {
		file = config.DefaultSharedConfigFilename()
	}
	if profile == "" {
		profile = env.SharedConfigProfile
	}
	if profile == "" {
		profile = config.DefaultSharedConfigProfile
	}
	f, err := os.Open(file)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read %s: %w", file, err)
	}
	defer f.Close()
	value, err := sectionValue(bufio.NewScanner(f), profile, key)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", file, err)
	}
	return value, nil
}

// sectionValue scans an INI-style config file for key in profile's
// section. The default profile's section is [default] (or [profile
// default]); any other is [profile NAME].
func sectionValue(sc *bufio.Scanner, profile, key string) (string, error) {
	in, value := false, ""
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || line[0] == '#' || line[0] == ';':
			continue
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			name := strings.Join(strings.Fields(line[1:len(line)-1]), " ")
			in = name == "profile "+profile || (profile == config.DefaultSharedConfigProfile && name == profile)
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if in && ok && strings.TrimSpace(k) == key {
			value = strings.TrimSpace(stripComment(v))
		}
	}
	return value, sc.Err()
}

// stripComment drops an inline comment: " #" or " ;" after a value.
func stripComment(v string) string {
	for _, mark := range []string{" #", "\t#", " ;", "\t;"} {
		if i := strings.Index(v, mark); i >= 0 {
			v = v[:i]
		}
	}
	return v
}
