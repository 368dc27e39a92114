module github.com/noetl/controlplane/services/router

go 1.26.8

require github.com/noetl/controlplane/shared v0.0.0

require (
	github.com/prometheus/client_model v0.6.3 // indirect
	github.com/prometheus/common v0.73.1 // indirect
	google.golang.org/protobuf v1.36.12 // indirect
)

replace github.com/noetl/controlplane/shared => ../../shared
