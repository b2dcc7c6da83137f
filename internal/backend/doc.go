// Package backend defines the storage interface a repository lives on and
// the value types that go with it. Implementations (local, and later sftp,
// rest and s3) live in sub-packages; cross-cutting behaviour (retries,
// connection limits, caching) wraps a Backend as a decorator.
//
// Backends store opaque bytes under a [Handle]; they know nothing of
// encryption, packs or indexes.
package backend
