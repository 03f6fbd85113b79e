package exitcode

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
)

type leftBehind struct{}

func (leftBehind) Error() string { return "left" }
func (leftBehind) ExitCode() int { return LeftBehind }

func TestOf(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"nil", nil, OK},
		{"plain", errors.New("x"), Failed},
		{"usage", UsageError(errors.New("x")), Usage},
		{"wrapped usage", fmt.Errorf("ctx: %w", UsageError(errors.New("x"))), Usage},
		{"custom coder", fmt.Errorf("ctx: %w", leftBehind{}), LeftBehind},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, Of(tt.err))
		})
	}
	assert.NoError(t, UsageError(nil))
}
