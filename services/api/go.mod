module github.com/noetl/controlplane/services/api

go 1.26.8

require (
	github.com/noetl/controlplane/shared v0.0.0
	go.yaml.in/yaml/v3 v3.0.6
)

replace github.com/noetl/controlplane/shared => ../../shared
