package derive

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// smtpRegions lists the AWS regions where Amazon SES offers an SMTP
// endpoint. Source: AWS General Reference, "Amazon Simple Email Service
// endpoints and quotas", SMTP endpoints table (email-smtp.<region>.amazonaws.com),
// as of 2026. New regions appear: callers may accept an unlisted region
// that is shaped like one (see CheckRegion).
var smtpRegions = []string{
	"af-south-1",
	"ap-northeast-1",
	"ap-northeast-2",
	"ap-northeast-3",
	"ap-south-1",
	"ap-south-2",
	"ap-southeast-1",
	"ap-southeast-2",
	"ap-southeast-3",
	"ap-southeast-5",
	"ca-central-1",
	"ca-west-1",
	"eu-central-1",
	"eu-central-2",
	"eu-north-1",
	"eu-south-1",
	"eu-south-2",
	"eu-west-1",
	"eu-west-2",
	"eu-west-3",
	"il-central-1",
	"me-central-1",
	"me-south-1",
	"sa-east-1",
	"us-east-1",
	"us-east-2",
	"us-gov-east-1",
	"us-gov-west-1",
	"us-west-1",
	"us-west-2",
}

// SMTP ports of every SES SMTP endpoint.
const (
	// PortSubmission is the default port: plain connection upgraded with STARTTLS.
	PortSubmission = 587
	// PortSTARTTLSAlt is the alternative STARTTLS port.
	PortSTARTTLSAlt = 2587
	// PortSMTP is port 25, STARTTLS; often blocked by cloud providers.
	PortSMTP = 25
	// PortTLS is the implicit-TLS ("TLS wrapper") port.
	PortTLS = 465
	// PortTLSAlt is the alternative implicit-TLS port.
	PortTLSAlt = 2465
)

// regionShape is what any AWS region name looks like: a partition prefix,
// an optional qualifier such as "gov", a direction and a number.
var regionShape = regexp.MustCompile(`^[a-z]{2}(-(gov|iso|isob|isof|isoe))?-[a-z]+-[0-9]{1,2}$`)

// Regions returns the regions where SES offers SMTP, sorted.
func Regions() []string {
	return slices.Clone(smtpRegions)
}

// Endpoint returns the SES SMTP host name for region.
func Endpoint(region string) string {
	return "email-smtp." + region + ".amazonaws.com"
}

// UnknownRegionError reports a region that is not in the SES SMTP list.
type UnknownRegionError struct {
	// Region is the name that was given.
	Region string
	// Suggestion is the closest known region, or "" if none is close.
	Suggestion string
	// Malformed is true when Region does not even look like a region name.
	Malformed bool
}

func (e *UnknownRegionError) Error() string {
	var b strings.Builder
	if e.Malformed {
		fmt.Fprintf(&b, "%q is not an AWS region name (regions look like eu-west-1)", e.Region)
	} else {
		fmt.Fprintf(&b, "region %q has no known SES SMTP endpoint", e.Region)
	}
	if e.Suggestion != "" {
		fmt.Fprintf(&b, "; did you mean %s?", e.Suggestion)
	}
	if !e.Malformed {
		b.WriteString(" (if SES has just launched there, pass --allow-unknown-region)")
	}
	return b.String()
}

// CheckRegion returns nil if SES offers SMTP in region. With allowUnknown,
// any name shaped like a region is accepted. Otherwise it returns an
// *UnknownRegionError naming the closest known region.
func CheckRegion(region string, allowUnknown bool) error {
	if slices.Contains(smtpRegions, region) {
		return nil
	}
	shaped := regionShape.MatchString(region)
	if shaped && allowUnknown {
		return nil
	}
	return &UnknownRegionError{Region: region, Suggestion: closest(region), Malformed: !shaped}
}

// closest returns the known region with the smallest edit distance to name,
// if that distance is small enough to be a plausible typo.
func closest(name string) string {
	best, bestDist := "", max(3, len(name)/4+1)
	lower := strings.ToLower(strings.TrimSpace(name))
	for _, r := range smtpRegions {
		if d := distance(lower, r); d < bestDist {
			best, bestDist = r, d
		}
	}
	return best
}

// distance is the Levenshtein edit distance between a and b.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
