package main

import (
	"github.com/glassmq/glassmq/admin"
	"github.com/glassmq/glassmq/broker"
)

// The admin API asks the engine why it would refuse an operation only when
// the engine says it can: keep it so.
var _ admin.Capabilities = (*broker.Engine)(nil)
