# The operator image: built with the Swift 6 toolchain, the Swift runtime linked statically, and run on a slim Debian
# 12 with only what the binary loads (libcurl, libyaml, libxml2 for FoundationXML, zlib) and what backup and restore Jobs run (the PostgreSQL 15
# client: pg_dump, pg_restore, psql), as a non-root user. The same image runs the operator and its Jobs.
#   docker build -t ghcr.io/salespot/salespot-operator:0.1.0 .
# CI checks that the runtime stage's packages exist in Debian 12 and that the binary copied is the one
# `swift build -c release --static-swift-stdlib --product salespot-operator` makes (Tests/OperatorManifestsTests).

FROM swift:6.3-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends libcurl4-openssl-dev libyaml-dev zlib1g-dev pkg-config \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# The manifest first, so the dependencies are fetched in a layer of their own.
COPY Package.* ./
RUN swift package resolve
COPY . .
RUN swift build -c release --static-swift-stdlib --product salespot-operator

FROM debian:12-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends libcurl4 libyaml-0-2 libxml2 zlib1g ca-certificates tzdata postgresql-client-15 \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/.build/release/salespot-operator /usr/local/bin/salespot-operator
# 65532: the conventional "nonroot" id (distroless); the Deployment's securityContext asks for it too.
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/salespot-operator"]
CMD ["run"]
