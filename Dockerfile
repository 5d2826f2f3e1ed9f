# syntax=docker/dockerfile:1
#
# sendfile-otel agent image.
#
#   docker build -t sendfile-otel:0.0.0-dev .
#
# Stage 1 builds a static binary (CGO_ENABLED=0) with the Go release the root
# go.mod names. The eBPF objects are committed next to their bpf2go wrappers
# in bpf/, so the build needs no clang. The builder runs on the build host's
# platform and cross-compiles for the target platform (amd64 or arm64).
#
# Stage 2 is scratch: the binary, CA certificates (for an https:// OTLP
# endpoint) and nothing else. There is no shell and no package manager.
#
# How to run it (capabilities, mounts, kernels): deploy/README.md.
# docker-compose.yaml and deploy/kubernetes/ run it with exactly the
# capability set in the LABEL below; deploy/test checks that the three agree.

FROM --platform=$BUILDPLATFORM golang:1.26.8 AS build
ARG TARGETOS=linux
ARG TARGETARCH
# Same -X flag as the Makefile's build target.
ARG VERSION=dev
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -ldflags="-s -w -X main.version=${VERSION}" -o /out/sendfile-otel ./cmd/sendfile-otel

FROM scratch
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/sendfile-otel /usr/local/bin/sendfile-otel

# The agent runs as uid 0 *inside the container* but with every capability
# dropped except the four below (cap_drop: ALL in the deployments). Container
# runtimes give a non-root user no capabilities at all: Docker and Kubernetes
# set no ambient capabilities (moby/moby#50083, kubernetes/kubernetes#56374),
# and file capabilities set in a build stage are not reliably kept by COPY
# (moby/buildkit#2250). deploy/README.md explains the choice and what each
# capability is for, per kernel version.
USER 0:0
LABEL org.opencontainers.image.title="sendfile-otel" \
      org.opencontainers.image.description="OpenTelemetry-native eBPF agent that traces sendfile calls" \
      org.opencontainers.image.source="https://github.com/sendfile-otel/sendfile-otel" \
      io.github.sendfile-otel.capabilities="BPF,PERFMON,DAC_READ_SEARCH,SYS_PTRACE"

ENV SENDFILE_OTEL_PASSWD_FILE=/host/etc/passwd \
    OTEL_SERVICE_NAME=sendfile-otel

ENTRYPOINT ["/usr/local/bin/sendfile-otel"]
CMD ["run"]
