//go:build tools

// Package gcs pins the version of the Google Cloud Storage emulator that
// cairn's gs backend tests build and run (fake-gcs-server). It is a
// separate module so that the main module's go.mod does not gain its
// dependencies.
package gcs

import (
	_ "github.com/fsouza/fake-gcs-server"
)
