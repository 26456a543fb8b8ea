# appointmentd image (SPEC §9): built on Debian 12 with the -dev packages and meson, run on
# Debian 12 with only the runtime libraries, as a non-root user (docker-compose.yml also makes
# its root file system read-only). One image, four binaries; docker-compose.yml picks the
# command per service. debian:12 is the only base image: where no registry is reachable,
# docker/debian-base.sh makes it.
#   docker build --network host -t appointmentd .
ARG DEBIAN_RELEASE=12

FROM debian:${DEBIAN_RELEASE} AS build
# A C compiler is all the build needs of build-essential (no C++, no dpkg-dev).
RUN export DEBIAN_FRONTEND=noninteractive \
 && apt-get -o Acquire::Retries=3 update \
 && apt-get -o Acquire::Retries=3 install -y --no-install-recommends \
      gcc libc6-dev meson ninja-build pkg-config \
      libmicrohttpd-dev libcurl4-openssl-dev libjson-c-dev libpq-dev libsystemd-dev \
      libexpat1-dev uuid-dev libinih-dev libssl-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Only what the build reads (.dockerignore keeps build trees and the test stack out).
COPY meson.build meson_options.txt ./
COPY lib/ lib/
COPY daemons/ daemons/
COPY etc/ etc/
COPY sql/ sql/
COPY systemd/ systemd/
COPY scripts/install-conf.sh scripts/
# --prefix=/usr puts the config in /etc/appointmentd (scripts/install-conf.sh copies the samples
# of /usr/share/appointmentd/examples there) and sql/ in /usr/share/appointmentd/sql, where the
# binaries look by default. No test suites in the image.
RUN meson setup /build --prefix=/usr -Dtests=disabled \
 && ninja -C /build \
 && DESTDIR=/out meson install -C /build --no-rebuild --strip

FROM debian:${DEBIAN_RELEASE}
# Runtime libraries of the binaries (ldd), CA certificates for real AWS endpoints, curl for
# the compose healthchecks and docker/provision.sh.
RUN export DEBIAN_FRONTEND=noninteractive \
 && apt-get -o Acquire::Retries=3 update \
 && apt-get -o Acquire::Retries=3 install -y --no-install-recommends \
      ca-certificates curl \
      libcurl4 libinih1 libjson-c5 libmicrohttpd12 libpq5 libssl3 libsystemd0 libuuid1 libexpat1 \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --user-group --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin appointmentd
COPY --from=build /out/usr/sbin/ /usr/sbin/
COPY --from=build /out/usr/bin/appointmentctl /usr/bin/appointmentctl
COPY --from=build /out/etc/appointmentd/ /etc/appointmentd/
COPY --from=build /out/usr/share/appointmentd/ /usr/share/appointmentd/
COPY docker/provision.sh /usr/share/appointmentd/provision.sh
USER 10001:10001
WORKDIR /nonexistent
# 8080: the API ([api] listen); 9100: a consumer's /metrics and /healthz ([worker] metrics_listen).
EXPOSE 8080 9100
# The daemons log JSON lines on stderr (docker logs), take SIGTERM as "drain and exit 0", and
# never fork: no init process is needed.
CMD ["appointment-api"]
