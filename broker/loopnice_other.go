//go:build !linux

package broker

import "errors"

var errNoThreadNice = errors.New("per-thread nice values are Linux only")

func setThreadNice(tid, nice int) (int, error) { return 0, errNoThreadNice }

func threadNice(tid int) (int, error) { return 0, errNoThreadNice }
