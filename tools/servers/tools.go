//go:build tools

// Package servers pins the versions of the test servers that cairn's backend
// tests build and run (rest-server). It is a separate module so that the
// main module's go.mod does not gain their dependencies.
package servers

import (
	_ "github.com/restic/rest-server/cmd/rest-server"
)
