package derive

import (
	"fmt"
	"regexp"
)

// Partition is an AWS partition: a set of regions with its own accounts,
// IAM and DNS suffix. An access key of one partition is unknown to every
// other, so one SMTP user cannot serve regions of two partitions.
type Partition struct {
	// ID is AWS's name for the partition, e.g. "aws-us-gov".
	ID string
	// DNSSuffix ends every endpoint host name in the partition.
	DNSSuffix string
}

// partitions are AWS's partitions, from the SDK's endpoint data for SES
// ("email") in aws-sdk-go-v2, service/ses/internal/endpoints/endpoints.go
// (partitionRegexp and each partition's default host name), read in 2026.
// Order matters only for readability: no two patterns overlap.
var partitions = []struct {
	Partition
	pattern *regexp.Regexp
}{
	{Partition{"aws", "amazonaws.com"}, regexp.MustCompile(`^(us|eu|ap|sa|ca|me|af|il|mx)-[a-z]+-[0-9]+$`)},
	{Partition{"aws-us-gov", "amazonaws.com"}, regexp.MustCompile(`^us-gov-[a-z]+-[0-9]+$`)},
	{Partition{"aws-cn", "amazonaws.com.cn"}, regexp.MustCompile(`^cn-[a-z]+-[0-9]+$`)},
	{Partition{"aws-iso", "c2s.ic.gov"}, regexp.MustCompile(`^us-iso-[a-z]+-[0-9]+$`)},
	{Partition{"aws-iso-b", "sc2s.sgov.gov"}, regexp.MustCompile(`^us-isob-[a-z]+-[0-9]+$`)},
	{Partition{"aws-iso-e", "cloud.adc-e.uk"}, regexp.MustCompile(`^eu-isoe-[a-z]+-[0-9]+$`)},
	{Partition{"aws-iso-f", "csp.hci.ic.gov"}, regexp.MustCompile(`^us-isof-[a-z]+-[0-9]+$`)},
	{Partition{"aws-eusc", "amazonaws.eu"}, regexp.MustCompile(`^eusc-de-[a-z]+-[0-9]+$`)},
}

// commercial is the partition of a region no pattern above knows: AWS's
// new commercial regions have come with new prefixes (il- in 2023, mx- in
// 2025), all in the aws partition.
var commercial = partitions[0].Partition

// regionShape is what any AWS region name looks like: a prefix, an
// optional qualifier such as "gov", a direction and a number.
var regionShape = regexp.MustCompile(`^[a-z]{2,4}(-(gov|iso|isob|isof|isoe|de))?-[a-z]+-[0-9]{1,2}$`)

// PartitionOf returns the partition of region; a region shaped like one
// whose prefix no partition claims is taken to be commercial (aws).
func PartitionOf(region string) Partition {
	for _, p := range partitions {
		if p.pattern.MatchString(region) {
			return p.Partition
		}
	}
	return commercial
}

// MixedPartitionsError reports regions of two partitions in one run: an
// access key belongs to one partition, so one SMTP user cannot serve both.
type MixedPartitionsError struct {
	// First and Second are regions of different partitions.
	First, Second string
}

func (e *MixedPartitionsError) Error() string {
	return fmt.Sprintf("%s (partition %s) and %s (partition %s) are in different AWS partitions: an access key "+
		"belongs to one partition's IAM, so one SMTP user cannot work in both; create one per partition",
		e.First, PartitionOf(e.First).ID, e.Second, PartitionOf(e.Second).ID)
}

// CheckSamePartition returns a *MixedPartitionsError unless every region
// is in the same partition.
func CheckSamePartition(regions []string) error {
	for _, r := range regions[min(1, len(regions)):] {
		if PartitionOf(r) != PartitionOf(regions[0]) {
			return &MixedPartitionsError{First: regions[0], Second: r}
		}
	}
	return nil
}
