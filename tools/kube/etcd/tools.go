//go:build tools

// Package tools pins the etcd server command built by ../setup.sh.
package tools

import _ "go.etcd.io/etcd/server/v3"
