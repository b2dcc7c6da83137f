// Package serve is the web page of `cairn serve`: a read-only view of a
// repository in the browser, on the same [browse.View] as the mount.
//
// Pages, all plain HTML from templates embedded in the binary, with plots
// drawn on the server as SVG (no script, no build step):
//
//	/                          the snapshots, filtered by ?host=, ?tag=
//	                           and ?path=, with plots of the repository
//	                           size and data added per snapshot, and of
//	                           files and bytes per snapshot
//	/snapshot/ID/tree/PATH/    a directory of a snapshot, with sizes
//	/snapshot/ID/file/PATH     one file's bytes (ranges too)
//	/snapshot/ID/archive/PATH  a directory as ?format=tar or zip
//	/diff?a=ID&b=ID            the changes between two snapshots
//	/metrics                   Prometheus metrics, if a handler is set
//
// A snapshot ID or path the view does not hold gets a 404 page; a request
// the server cannot answer gets an error page, and the server goes on.
// With Options.Auth set every request needs HTTP basic authentication,
// compared in constant time.
package serve
