package provision

import (
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/stretchr/testify/assert"
)

// TestOlderVersion: versions made within one second (CreateDate has whole
// seconds) are ordered by their number, so that setup's makeRoom deletes
// v1, not v2, when ListPolicyVersions lists them newest first.
func TestOlderVersion(t *testing.T) {
	s := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	v := func(id string, at time.Time) types.PolicyVersion {
		return types.PolicyVersion{VersionId: aws.String(id), CreateDate: aws.Time(at)}
	}
	tests := []struct {
		name string
		a, b types.PolicyVersion
		want bool
	}{
		{"earlier second", v("v9", s), v("v2", s.Add(time.Second)), true},
		{"later second", v("v1", s.Add(time.Second)), v("v2", s), false},
		{"same second, lower number", v("v2", s), v("v10", s), true},
		{"same second, higher number", v("v10", s), v("v2", s), false},
		{"same version", v("v2", s), v("v2", s), false},
		{"no number", v("x", s), v("v2", s), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, olderVersion(tt.a, tt.b))
		})
	}
}
