# One image for the whole suite: the binaries noetl-router, noetl-api, noetl-wallet and
# noetl-broker (and the noetl client, for `kubectl exec` or `docker compose exec`: the api
# container holds NOETL_API_TOKEN, and the router is `--server http://router:8082` in
# compose, `--server http://noetl-router:8082` in the chart), chosen
# by the container command (`noetl-api migrate` and `noetl-wallet migrate` apply their
# schema migrations, `noetl-api certs` writes development certificates). Static binaries on a distroless
# base: no shell, a numeric non-root user (Kubernetes' runAsNonRoot can only verify a
# numeric USER).
#
# The reference worker needs python3 and a shell for its tools: `--target worker` builds
# its image (noetl-worker on a python base, the same numeric user).
#
# The build image is pinned to the Go release the code is written for. Pin the runtime
# base by digest for releases: --build-arg RUNTIME_IMAGE=gcr.io/distroless/static-debian12@sha256:...
ARG RUNTIME_IMAGE=gcr.io/distroless/static-debian12:nonroot
# The worker's base (python); pin it by digest the same way: --build-arg WORKER_BASE_IMAGE=python@sha256:...
ARG WORKER_BASE_IMAGE=python:3.12.8-slim-bookworm
FROM golang:1.26.8-bookworm AS build
WORKDIR /src
ENV CGO_ENABLED=0 GOFLAGS=-trimpath
COPY go.work go.work.sum ./
COPY shared/go.mod shared/go.sum shared/
COPY services/api/go.mod services/api/go.sum services/api/
COPY services/wallet/go.mod services/wallet/go.sum services/wallet/
COPY services/broker/go.mod services/broker/go.sum services/broker/
COPY services/router/go.mod services/router/go.sum services/router/
COPY services/worker/go.mod services/worker/go.sum services/worker/
COPY cli/go.mod cli/go.sum cli/
COPY tests/go.mod tests/go.sum tests/
RUN go mod download
COPY . .
ARG VERSION=dev
ARG BINARIES="router api wallet broker"
RUN for s in $BINARIES; do \
      go build -ldflags "-s -w -X github.com/noetl/controlplane/shared/version.Version=${VERSION}" \
        -o /out/bin/noetl-$s ./services/$s/cmd/noetl-$s || exit 1; \
    done && mkdir -p /out/certs && \
    go build -ldflags "-s -w -X github.com/noetl/controlplane/shared/version.Version=${VERSION}" \
      -o /out/worker/noetl-worker ./services/worker/cmd/noetl-worker && \
    go build -ldflags "-s -w -X github.com/noetl/controlplane/shared/version.Version=${VERSION}" \
      -o /out/bin/noetl ./cli/cmd/noetl

# The worker: python for the python tool, a shell for shell steps.
FROM ${WORKER_BASE_IMAGE} AS worker
COPY --from=build /out/worker/noetl-worker /usr/local/bin/noetl-worker
# No home directory for the numeric user: python writes nothing outside /tmp.
ENV HOME=/tmp PYTHONDONTWRITEBYTECODE=1
USER 65532:65532
EXPOSE 8086
ENTRYPOINT []
CMD ["noetl-worker", "serve"]

FROM ${RUNTIME_IMAGE}
COPY --from=build /out/bin/ /usr/local/bin/
# Where `noetl-api certs` writes in compose: a named volume mounted here starts with this
# directory's owner, so the non-root user can write it.
COPY --from=build --chown=65532:65532 /out/certs /var/lib/noetl/certs
USER 65532:65532
EXPOSE 8082 8083 8084 8085
ENTRYPOINT []
CMD ["noetl-router", "serve"]
