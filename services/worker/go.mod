module github.com/noetl/controlplane/services/worker

go 1.26.8

require github.com/noetl/controlplane/shared v0.0.0

replace github.com/noetl/controlplane/shared => ../../shared
