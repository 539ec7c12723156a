//go:build !linux

package broker

func setDeferAccept(int) error { return nil }
