# One image for the whole suite: the four binaries, chosen by the container command
# (noetl-router, noetl-api, noetl-wallet, noetl-broker; `noetl-api migrate` applies the
# schema). Static binaries on a distroless base: no shell, runs as nonroot.
# The reference worker needs python3 and a shell for its tools: `--target worker` builds
# its image (noetl-worker on a python base).
FROM golang:1.26 AS build
WORKDIR /src
ENV CGO_ENABLED=0 GOFLAGS=-trimpath
COPY go.work go.work.sum ./
COPY shared/go.mod shared/go.sum shared/
COPY services/api/go.mod services/api/go.sum services/api/
COPY services/wallet/go.mod services/wallet/go.sum services/wallet/
COPY services/broker/go.mod services/broker/go.sum services/broker/
COPY services/router/go.mod services/router/go.sum services/router/
COPY services/worker/go.mod services/worker/go.sum services/worker/
COPY tests/go.mod tests/go.sum tests/
RUN go mod download
COPY . .
ARG VERSION=dev
RUN for s in router api wallet broker worker; do \
      go build -ldflags "-s -w -X github.com/noetl/controlplane/shared/version.Version=${VERSION}" \
        -o /out/noetl-$s ./services/$s/cmd/noetl-$s || exit 1; \
    done

FROM python:3.12-slim AS worker
COPY --from=build /out/noetl-worker /usr/local/bin/noetl-worker
# A numeric user without a home: python writes nothing outside /tmp.
ENV HOME=/tmp PYTHONDONTWRITEBYTECODE=1
USER 65532:65532
EXPOSE 8086
CMD ["noetl-worker"]

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/ /usr/local/bin/
USER nonroot:nonroot
EXPOSE 8082 8083 8084 8085
ENTRYPOINT []
CMD ["noetl-router"]
