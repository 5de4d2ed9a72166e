# One image for every role of ipnsim: the hub, an agency's intermediate server, the seed job.
# The role is the command given to the entry point `ipnsim`:
#
#   serve hub    --host 0.0.0.0 --port 8000   the hub (情報提供ネットワークシステム)
#   serve agency --host 0.0.0.0 --port 8000   one agency's intermediate server (中間サーバー)
#   seed --data-dir /etc/ipnsim                register the synthetic population (one-shot)
#
# Settings come from the environment (IPNSIM_HUB_* / IPNSIM_AGENCY_*); docker-compose.yml
# wires the whole network. Each service keeps its SQLite database under /data (mount a volume).
#
# The project is installed from wheels built on the host, so the build itself needs no network.
# First build the wheels (the project and all its dependencies), from the repository root:
#
#   rm -rf dist/wheels && pip wheel . -w dist/wheels
#
# With a registry (the default base, python:3.11-slim, is pulled):
#
#   docker build -t localhost/ipnsim:latest .
#   docker compose up -d --build          # or: podman-compose up -d --build
#
# Without a registry (podman, see docs/containers.md): make a Debian base image with debootstrap and
# pass it as BASE; Debian 12's python3 is 3.11, and python3-venv provides pip inside the venv.
#
#   debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates bookworm ROOTFS
#   tar -C ROOTFS -c . | podman import - localhost/ipnsim-base:bookworm
#   podman build --build-arg BASE=localhost/ipnsim-base:bookworm -t localhost/ipnsim:latest .
#   IPNSIM_IMAGE_BASE=localhost/ipnsim-base:bookworm podman-compose up -d --build
#
# The wheels must suit the image: Python 3.11 on Linux with glibc (both bases are Debian 12).

ARG BASE=python:3.11-slim

# --- build: a virtual environment at /opt/ipnsim, installed from the host's wheels only -----
FROM ${BASE} AS build

COPY dist/wheels/ /tmp/wheels/
RUN python3 -m venv /opt/ipnsim \
 && /opt/ipnsim/bin/python -m pip install --no-index --find-links /tmp/wheels \
        --no-cache-dir --disable-pip-version-check ipnsim \
 && /opt/ipnsim/bin/ipnsim --help > /dev/null

# --- run: the same base with the venv only (no wheels, no build leftovers) ------------------
FROM ${BASE}

ENV PATH=/opt/ipnsim/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1

COPY --from=build /opt/ipnsim /opt/ipnsim

# A non-root user; /data is where the services keep their databases (a named volume in
# docker-compose.yml takes the owner of this directory when it is first created).
RUN useradd --user-group --uid 10001 --home-dir /data --no-create-home \
        --shell /usr/sbin/nologin ipnsim \
 && mkdir -p /data \
 && chown ipnsim:ipnsim /data

USER ipnsim
WORKDIR /data
EXPOSE 8000

ENTRYPOINT ["ipnsim"]
CMD ["--help"]
