# syntax=docker/dockerfile:1
#
# auth-manager container image: a static Go binary on distroless (no shell, no package
# manager), running as the unprivileged "nonroot" user (uid/gid 65532).
#
#   docker build --build-arg VERSION=$(git describe --tags --always --dirty) -t auth-manager .
#   (or: make image)
#
# The entrypoint is `auth-manager serve`, which applies migrations at start; set
# AUTH_MANAGER_SKIP_MIGRATIONS=true when a separate job runs `auth-manager migrate up`
# (the Helm chart does). Other subcommands: `docker run --rm auth-manager keygen`.
#
# HEALTHCHECK runs the binary's own probe (`auth-manager healthcheck`: exit 0 when
# GET http://127.0.0.1:$PORT/health/ready answers 200), since the runtime image has no
# shell and no curl. Kubernetes probes over HTTP instead: liveness GET /health,
# readiness GET /health/ready (503 while the database is unreachable or the process is
# draining after SIGTERM). See docker-compose.yml and deploy/helm/auth-manager.

ARG GO_VERSION=1.26

FROM golang:${GO_VERSION} AS build
WORKDIR /src
# Dependencies first: this layer is reused as long as go.mod and go.sum do not change.
# The client module's go.mod too: go.mod replaces it with ./client.
COPY go.mod go.sum ./
COPY client/go.mod client/go.sum ./client/
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG VERSION=dev
ARG REVISION=
ARG TARGETOS=linux
ARG TARGETARCH=amd64
# -buildvcs=false: .git is not in the build context (.dockerignore); VERSION and
# REVISION stamp it (`auth-manager version`, /version, the build_info metric).
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} \
    go build -buildvcs=false -trimpath -ldflags "-s -w -X main.version=${VERSION} -X main.commit=${REVISION}" \
      -o /out/auth-manager ./cmd/auth-manager

# static-debian12 carries CA certificates, tzdata and /etc/passwd with the nonroot user.
FROM gcr.io/distroless/static-debian12:nonroot
ARG VERSION=dev
ARG REVISION=unknown
LABEL org.opencontainers.image.title="auth-manager" \
      org.opencontainers.image.description="Vault for Keycloak refresh/offline tokens that hands out access tokens" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}"
COPY --from=build /out/auth-manager /auth-manager
# The service reads ./.env when present; an empty working directory has none.
WORKDIR /home/nonroot
USER 65532:65532
ENV HOST=0.0.0.0 \
    PORT=8000
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
  CMD ["/auth-manager", "healthcheck"]
ENTRYPOINT ["/auth-manager"]
CMD ["serve"]
