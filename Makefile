# NoETL control plane. `make run` brings the suite up locally; `make test` runs every test.
SHELL := /bin/bash
MODULES := shared services/api services/wallet services/broker services/router services/worker cli tests
PKGS := $(addsuffix /...,$(addprefix ./,$(MODULES)))
BINARIES := router api wallet broker worker
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X github.com/noetl/controlplane/shared/version.Version=$(VERSION)
FUZZTIME ?= 10s

.PHONY: all build run test test-unit deps fuzz bench vet fmt tidy clean

all: build

build: $(addprefix bin/noetl-,$(BINARIES)) bin/noetl

bin/noetl-%: FORCE
	@mkdir -p bin
	go build -trimpath -ldflags '$(LDFLAGS)' -o $@ ./services/$*/cmd/noetl-$*

# The command-line client (cli/README.md).
bin/noetl: FORCE
	@mkdir -p bin
	go build -trimpath -ldflags '$(LDFLAGS)' -o $@ ./cli/cmd/noetl

FORCE:

# The servers the tests use (NOETL_TEST_DATABASE_URL, NOETL_TEST_NATS_URL), not those
# DATABASE_URL or NATS_URL name for make run.
deps:
	./scripts/deps.sh --tests

run: build
	./scripts/run-local.sh

# The whole suite: PostgreSQL and NATS are started when not already up; fuzz targets run
# for FUZZTIME each.
test: deps build vet
	go test -count=1 -timeout 20m $(PKGS)
	$(MAKE) --no-print-directory fuzz

test-unit:
	go test -count=1 -short $(PKGS)

fuzz:
	./scripts/fuzz.sh $(FUZZTIME)

bench: deps
	./scripts/bench.sh

vet:
	go vet $(PKGS)
	@unformatted=$$(gofmt -l $(MODULES)); if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	@./scripts/check-imports.sh $(MODULES)

fmt:
	gofmt -w $(MODULES)

tidy:
	@for m in $(MODULES); do (cd $$m && go mod tidy) || exit 1; done

clean:
	rm -rf bin .run
