# maistra-builder 2.4: tools aligned to the Istio builder of its branch.
ARG POLYARCH_REGISTRY=127.0.0.1:5000
FROM ${POLYARCH_REGISTRY}/base/busybox:latest
ARG ISTIO_VERSION
ARG ENVOY_VERSION
ARG BAZEL_VERSION
RUN mkdir -p /etc/maistra-builder /work && \
    echo "maistra-builder 2.4 istio=${ISTIO_VERSION} envoy=${ENVOY_VERSION} bazel=${BAZEL_VERSION} built-on=$(uname -m)" > /etc/maistra-builder/versions
COPY builder-info /usr/local/bin/builder-info
WORKDIR /work
