// Package rclone reaches a repository through rclone, as restic's rclone
// backend does: it starts `rclone serve restic --stdio REMOTE:PATH` (the
// program and its arguments set by rclone.program and rclone.args) and
// speaks restic's REST protocol to it over HTTP/2 on the child's stdin
// and stdout, with the rest backend's code.
//
// The child runs in its own process group, so that a Ctrl-C meant for
// cairn does not kill it in the middle of a request, and with the
// repository password variables removed from its environment. Close ends
// it by closing its stdin, and kills it if it has not exited after five
// seconds. If the child dies while cairn runs, the next request starts a
// new one, so that the retry decorator above the backend carries a
// backup through a crash of rclone. When rclone fails before answering
// its first request (an unknown remote, bad credentials), the error is
// permanent and quotes the end of what rclone wrote on stderr.
package rclone
