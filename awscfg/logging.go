package awscfg

import (
	"fmt"
	"log/slog"

	"github.com/aws/smithy-go/logging"
)

// slogAdapter passes the SDK's log lines (retry notices) to slog at debug level.
type slogAdapter struct{ l *slog.Logger }

// Logf implements logging.Logger.
func (a slogAdapter) Logf(class logging.Classification, format string, v ...any) {
	a.l.Debug(fmt.Sprintf(format, v...), "sdk", string(class))
}
