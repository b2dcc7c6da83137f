// Package archtest holds only a test: it enforces the direction of
// dependencies between cairn's packages (style guide, habit 1), so that the
// layering cannot drift.
package archtest
