# PgGate container image: build with Bun, ship FROM scratch with exactly the executable, its
# dynamic loader and the glibc libraries it links (scripts/rootfs.ts reads them from ldd), running
# as the non-root UID 65532. The test suite assembles the same tree and runs it under chroot.
#
#   docker build -t pggate .
#   docker run -p 6432:6432 -v $PWD/pggate.yaml:/etc/pggate/pggate.yaml:ro pggate
#   docker run -p 6432:6432 -e PGGATE_NODES__PRIMARY='{host: db, port: 5432}' pggate   # env only
#
# No CMD: PgGate reads /etc/pggate/pggate.yaml when it is there, else the PGGATE_* variables alone
# (a CMD of "--config /etc/pggate/pggate.yaml" would make the variables-only run fail: no file).
FROM debian:12-slim AS build
RUN apt-get update && apt-get install -y --no-install-recommends nodejs npm git ca-certificates \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci
COPY . .
RUN node_modules/.bin/bun run build && node_modules/.bin/bun run scripts/rootfs.ts /rootfs dist/pggate

FROM scratch
COPY --from=build /rootfs/ /
USER 65532:65532
# Inside the container PgGate listens on every interface; the config file (if mounted) may say
# otherwise, and PGGATE_<SECTION>__<KEY> variables override both.
ENV PGGATE_LISTEN__HOST=0.0.0.0 \
    PGGATE_METRICS__HOST=0.0.0.0
EXPOSE 6432 8080
ENTRYPOINT ["/pggate"]
