module github.com/noetl/controlplane/cli

go 1.26.8

require (
	github.com/noetl/controlplane/shared v0.0.0
	github.com/spf13/cobra v1.10.2
	go.yaml.in/yaml/v3 v3.0.6
	golang.org/x/term v0.48.0
)

require (
	github.com/caarlos0/env/v11 v11.4.2 // indirect
	github.com/inconshreveable/mousetrap v1.1.0 // indirect
	github.com/spf13/pflag v1.0.9 // indirect
	golang.org/x/sys v0.50.0 // indirect
)

replace github.com/noetl/controlplane/shared => ../shared
