// Package version carries the build version, set with
// -ldflags "-X github.com/noetl/controlplane/shared/version.Version=v1.2.3".
package version

// Version is the suite version reported by health endpoints and logs.
var Version = "dev"
