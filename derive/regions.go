package derive

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Where SES has an SMTP endpoint, from three sources read in 2026:
//
//   - SES Developer Guide, "Obtaining Amazon SES SMTP credentials"
//     (docs.aws.amazon.com/ses/latest/dg/smtp-credentials.html): "SMTP
//     endpoints are not currently available in Africa (Cape Town), Asia
//     Pacific (Jakarta), Europe (Milan), Israel (Tel Aviv), Middle East
//     (Bahrain)". Its 2022 revision (awsdocs/amazon-ses-developer-guide,
//     doc-source/smtp-credentials.md, 2022-10-28) named only Cape Town,
//     Milan and Bahrain: the list grows, it has not shrunk.
//   - aws-sdk-go-v2's endpoint data for SES ("email"),
//     service/ses/internal/endpoints/endpoints.go: the regions where SES
//     exists at all. It has no eu-south-2 (Spain), no region in aws-cn
//     and none in the isolated partitions.
//   - AWS General Reference, "Amazon Simple Email Service endpoints and
//     quotas", SMTP endpoints table (docs.aws.amazon.com/general/latest/gr/ses.html).
//     Only its API table could be read in full here; its SMTP FIPS hosts
//     are taken from a copy of that table in reviewboard's SES tests
//     (email-smtp-fips in us-east-1, us-west-2 and us-gov-west-1), which
//     the certificate of SES's us-west-2 VPC endpoint confirms (it names
//     email-smtp-fips.us-west-2.amazonaws.com).
//
// The sources disagree: the SDK lists the five regions above for the SES
// API, and FIPS API hosts (email-fips) in us-east-2, us-west-1,
// ca-central-1 and us-gov-east-1 that no source shows for SMTP. The
// conservative side wins: a region (or FIPS host) is listed only where SES
// exists and no AWS document says SMTP is missing; anything else needs
// --allow-unknown-region, and the resolver check at run time backs this up.

// smtpRegions maps each region with an SES SMTP endpoint to whether it
// also has a FIPS one (email-smtp-fips.REGION...).
var smtpRegions = map[string]bool{
	"ap-northeast-1": false,
	"ap-northeast-2": false,
	"ap-northeast-3": false,
	"ap-south-1":     false,
	"ap-south-2":     false,
	"ap-southeast-1": false,
	"ap-southeast-2": false,
	"ap-southeast-5": false,
	"ca-central-1":   false,
	"ca-west-1":      false,
	"eu-central-1":   false,
	"eu-central-2":   false,
	"eu-north-1":     false,
	"eu-west-1":      false,
	"eu-west-2":      false,
	"eu-west-3":      false,
	"me-central-1":   false,
	"sa-east-1":      false,
	"us-east-1":      true,
	"us-east-2":      false,
	"us-gov-east-1":  false,
	"us-gov-west-1":  true,
	"us-west-1":      false,
	"us-west-2":      true,
}

// guideNoSMTP is why the SES guide's regions are refused.
const guideNoSMTP = "the SES Developer Guide (\"Obtaining Amazon SES SMTP credentials\") says SMTP endpoints are not available there; " +
	"send through the SES API, or use another region's SMTP endpoint"

// noSMTP maps regions sesmtp refuses on evidence to the reason.
var noSMTP = map[string]string{
	"af-south-1":     guideNoSMTP,
	"ap-southeast-3": guideNoSMTP,
	"eu-south-1":     guideNoSMTP,
	"il-central-1":   guideNoSMTP,
	"me-south-1":     guideNoSMTP,
	"eu-south-2":     "SES does not operate there (the AWS SDK's endpoint data for SES has no eu-south-2)",
}

// partitionNoSMTP maps partitions with no public SES SMTP endpoint to the reason.
var partitionNoSMTP = map[string]string{
	"aws-cn":  "SES is not offered in the China regions (the AWS SDK's endpoint data for SES lists no region in aws-cn)",
	"aws-iso": isolated, "aws-iso-b": isolated, "aws-iso-e": isolated, "aws-iso-f": isolated,
	"aws-eusc": "SES SMTP in the European Sovereign Cloud is not in the SES SMTP documentation",
}

const isolated = "SES SMTP endpoints in the isolated partitions are not publicly documented"

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

// Regions returns the regions where SES offers SMTP, sorted.
func Regions() []string {
	return slices.Sorted(maps.Keys(smtpRegions))
}

// FIPSRegions returns the regions with a FIPS SMTP endpoint, sorted.
func FIPSRegions() []string {
	var out []string
	for _, r := range Regions() {
		if smtpRegions[r] {
			out = append(out, r)
		}
	}
	return out
}

// Endpoint returns the SES SMTP host name for region, the FIPS one if
// fips: email-smtp[-fips].REGION. and the partition's DNS suffix.
func Endpoint(region string, fips bool) string {
	prefix := "email-smtp."
	if fips {
		prefix = "email-smtp-fips."
	}
	return prefix + region + "." + PartitionOf(region).DNSSuffix
}

// ParseEndpoint returns the region of an SES SMTP host name and whether
// it is a FIPS one; ok is false for any other host.
func ParseEndpoint(host string) (region string, fips, ok bool) {
	rest, fips := strings.CutPrefix(host, "email-smtp-fips.")
	if !fips {
		if rest, ok = strings.CutPrefix(host, "email-smtp."); !ok {
			return "", false, false
		}
	}
	region, suffix, _ := strings.Cut(rest, ".")
	if !regionShape.MatchString(region) || suffix != PartitionOf(region).DNSSuffix {
		return "", false, false
	}
	return region, fips, true
}

// UnknownRegionError reports a region that is not in the SES SMTP list.
type UnknownRegionError struct {
	// Region is the name that was given.
	Region string
	// Suggestion is the closest known region, or "" if none is close.
	Suggestion string
	// Malformed is true when Region does not even look like a region name.
	Malformed bool
	// Reason, if set, is the evidence that the region has no SMTP endpoint.
	Reason string
}

func (e *UnknownRegionError) Error() string {
	var b strings.Builder
	switch {
	case e.Malformed:
		fmt.Fprintf(&b, "%q is not an AWS region name (regions look like eu-west-1)", e.Region)
	case e.Reason != "":
		fmt.Fprintf(&b, "region %s has no SES SMTP endpoint: %s", e.Region, e.Reason)
	default:
		fmt.Fprintf(&b, "region %q has no known SES SMTP endpoint", e.Region)
	}
	if e.Suggestion != "" {
		fmt.Fprintf(&b, "; did you mean %s?", e.Suggestion)
	}
	if !e.Malformed {
		b.WriteString(" (if SES has just launched SMTP there, pass --allow-unknown-region)")
	}
	return b.String()
}

// CheckRegion returns nil if SES offers SMTP in region. With allowUnknown,
// any name shaped like a region is accepted. Otherwise it returns an
// *UnknownRegionError with the evidence against the region, or the
// closest known region.
func CheckRegion(region string, allowUnknown bool) error {
	if _, ok := smtpRegions[region]; ok {
		return nil
	}
	shaped := regionShape.MatchString(region)
	if shaped && allowUnknown {
		return nil
	}
	e := &UnknownRegionError{Region: region, Malformed: !shaped}
	if shaped {
		e.Reason = noSMTP[region]
		if r, ok := partitionNoSMTP[PartitionOf(region).ID]; ok {
			e.Reason = r
		}
	}
	if e.Reason == "" {
		e.Suggestion = closest(region)
	}
	return e
}

// NoFIPSError reports --fips for a region with no known FIPS SMTP endpoint.
type NoFIPSError struct {
	// Region is the region asked for.
	Region string
}

func (e *NoFIPSError) Error() string {
	return fmt.Sprintf("region %s has no documented FIPS SMTP endpoint (email-smtp-fips.%s); AWS documents them in %s "+
		"(if that has changed, pass --allow-unknown-region)", e.Region, e.Region, strings.Join(FIPSRegions(), ", "))
}

// CheckFIPS returns nil if region has a documented FIPS SMTP endpoint,
// or if allowUnknown (the operator knows better than the record);
// otherwise a *NoFIPSError.
func CheckFIPS(region string, allowUnknown bool) error {
	if smtpRegions[region] || allowUnknown {
		return nil
	}
	return &NoFIPSError{Region: region}
}

// closest returns the known region with the smallest edit distance to name,
// if that distance is small enough to be a plausible typo.
func closest(name string) string {
	best, bestDist := "", max(3, len(name)/4+1)
	lower := strings.ToLower(strings.TrimSpace(name))
	for _, r := range Regions() {
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
