package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
)

// logLevels maps -log-level's values to slog levels.
var logLevels = map[string]slog.Level{
	"debug": slog.LevelDebug,
	"info":  slog.LevelInfo,
	"warn":  slog.LevelWarn,
	"error": slog.LevelError,
}

// logLevel is the level in force of the logger newLogger made: SIGHUP
// changes it when the configuration file's log-level changed.
var logLevel slog.LevelVar

// newLogger returns the logger that -log-level and -log-format ask for,
// writing to w, or an error naming each bad flag, its value and what is
// valid.
func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	lv, ok := logLevels[level]
	var errs []error
	if !ok {
		errs = append(errs, fmt.Errorf("glassmq: -log-level %q: want debug, info, warn or error", level))
	}
	logLevel.Set(lv)
	opts := &slog.HandlerOptions{Level: &logLevel}
	var h slog.Handler
	switch format {
	case "text":
		h = slog.NewTextHandler(w, opts)
	case "json":
		h = slog.NewJSONHandler(w, opts)
	default:
		errs = append(errs, fmt.Errorf("glassmq: -log-format %q: want text or json", format))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return slog.New(h), nil
}
