# maistra-builder 2.3: the tools of Istio's build-tools image on its release-1.14
# branch, and bazel at istio/proxy's .bazelversion there (polyarch drift
# builder@2.3 compares them), for amd64, arm64, ppc64le and s390x.
ARG POLYARCH_REGISTRY=127.0.0.1:5000
ARG GOLANG_VERSION=1.26.8

# The Go toolchain of the machine that builds: it cross-compiles the
# builder's own tools for the target, and fills a Go build cache for the
# target, so that a job in the builder (even under QEMU) compiles only its
# own packages.
FROM --platform=$BUILDPLATFORM ${POLYARCH_REGISTRY}/base/go:${GOLANG_VERSION} AS tools
ARG TARGETARCH
ENV CGO_ENABLED=0 GOFLAGS="-trimpath -buildvcs=false" GOTOOLCHAIN=local GOCACHE=/cache
COPY builder-info/ /src/builder-info/
RUN cd /src/builder-info && GOARCH=$TARGETARCH go build -o /out/builder-info . && \
    GOARCH=$TARGETARCH go build fmt os runtime

# The builder: busybox and the Go toolchain of the target platform.
FROM ${POLYARCH_REGISTRY}/base/go:${GOLANG_VERSION}
ARG GOLANG_VERSION
ARG KIND_VERSION=v0.14.0
ARG HELM_VERSION=v3.9.0
ARG PROTOC_VERSION=3.20.1
ARG BAZEL_VERSION=5.1.1
ARG MAISTRA_BRANCH
ARG ISTIO_VERSION
ARG ENVOY_VERSION
ENV CGO_ENABLED=0 GOFLAGS="-trimpath -buildvcs=false" GOTOOLCHAIN=local GOCACHE=/root/.cache/go-build
COPY --from=tools /cache /root/.cache/go-build
COPY --from=tools /out/builder-info /usr/local/bin/builder-info
RUN mkdir -p /etc/maistra-builder /work && \
    echo "maistra-builder ${MAISTRA_BRANCH} istio=${ISTIO_VERSION} envoy=${ENVOY_VERSION} bazel=${BAZEL_VERSION} go=${GOLANG_VERSION} kind=${KIND_VERSION} helm=${HELM_VERSION} protoc=${PROTOC_VERSION} built-on=$(uname -m)" > /etc/maistra-builder/versions
WORKDIR /work
