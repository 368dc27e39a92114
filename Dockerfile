# One image for the whole suite: the binaries noetl-router, noetl-api, noetl-wallet and
# noetl-broker, chosen by the container command (`noetl-api migrate` applies the schema,
# `noetl-api certs` writes development certificates). Static binaries on a distroless
# base: no shell, a numeric non-root user (Kubernetes' runAsNonRoot can only verify a
# numeric USER).
#
# The build image is pinned to the Go release the code is written for. Pin the runtime
# base by digest for releases: --build-arg RUNTIME_IMAGE=gcr.io/distroless/static-debian12@sha256:...
ARG RUNTIME_IMAGE=gcr.io/distroless/static-debian12:nonroot
FROM golang:1.26.8-bookworm AS build
WORKDIR /src
ENV CGO_ENABLED=0 GOFLAGS=-trimpath
COPY go.work go.work.sum ./
COPY shared/go.mod shared/go.sum shared/
COPY services/api/go.mod services/api/go.sum services/api/
COPY services/wallet/go.mod services/wallet/go.sum services/wallet/
COPY services/broker/go.mod services/broker/go.sum services/broker/
COPY services/router/go.mod services/router/go.sum services/router/
COPY tests/go.mod tests/go.sum tests/
RUN go mod download
COPY . .
ARG VERSION=dev
ARG BINARIES="router api wallet broker"
RUN for s in $BINARIES; do \
      go build -ldflags "-s -w -X github.com/noetl/controlplane/shared/version.Version=${VERSION}" \
        -o /out/bin/noetl-$s ./services/$s/cmd/noetl-$s || exit 1; \
    done && mkdir -p /out/certs

FROM ${RUNTIME_IMAGE}
COPY --from=build /out/bin/ /usr/local/bin/
# Where `noetl-api certs` writes in compose: a named volume mounted here starts with this
# directory's owner, so the non-root user can write it.
COPY --from=build --chown=65532:65532 /out/certs /var/lib/noetl/certs
USER 65532:65532
EXPOSE 8082 8083 8084 8085
ENTRYPOINT []
CMD ["noetl-router", "serve"]
