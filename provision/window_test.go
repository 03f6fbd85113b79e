package provision

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestWindowContains(t *testing.T) {
	from := time.Date(2026, 11, 29, 8, 0, 0, 0, time.UTC)
	bounded := &Window{From: from, Until: from.Add(6 * time.Minute)}
	open := &Window{From: from}
	tests := []struct {
		name string
		w    *Window
		t    time.Time
		want bool
	}{
		{"at the start", bounded, from, true},
		{"at the end", bounded, from.Add(6 * time.Minute), true},
		{"within", bounded, from.Add(time.Minute), true},
		{"before", bounded, from.Add(-time.Second), false},
		{"after", bounded, from.Add(7 * time.Minute), false},
		{"no end (--timeout 0): proves nothing, even at the start", open, from, false},
		{"no end: not an hour later either", open, from.Add(time.Hour), false},
		{"not recorded", nil, from, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, tc.w.Contains(tc.t))
		})
	}
}
