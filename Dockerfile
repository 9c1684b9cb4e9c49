# exch in a small image: the exchange, its robots and tools, run as a non-root user.
#
#   docker build -t exch .
#   docker run -d --name exch -p 8443:8443 -v exch-data:/data exch
#   docker logs exch                          # the admin password of the first start
#   docker cp exch:/data/tls/ca.pem .         # what remote clients trust (--cafile ca.pem)
#
# Two stages on the same slim base: the first installs the project into a virtual
# environment exactly as the README does (pip install .), which compiles the
# engine with mypyc, so it has a C compiler; the second copies only that
# environment, so no source tree, pip cache or build tools reach the image.
# Every dependency ships manylinux wheels.

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN apt-get update \
    && apt-get install -y --no-install-recommends gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/exch
WORKDIR /src
COPY . .
RUN /opt/exch/bin/pip install .
# The image ships the compiled engine or is not built (exch version says why not).
RUN /opt/exch/bin/exch version | tee /dev/stderr | grep -q "engine: compiled"

FROM python:3.11-slim
ENV PATH=/opt/exch/bin:$PATH \
    EXCH_HOME=/data \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN useradd --system --uid 10001 --user-group --home-dir /data --shell /usr/sbin/nologin exch \
    && mkdir -p /data \
    && chown exch:exch /data \
    && chmod 0700 /data
COPY --from=build /opt/exch /opt/exch
USER exch
WORKDIR /data
# Journal, checkpoints, users, TLS keys and the admin password: keep them on a volume.
VOLUME ["/data"]
EXPOSE 8443
# GET /healthz over HTTPS, trusting the CA the server generated in $EXCH_HOME/tls (exit 0 = ok).
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["exch", "health", "--quiet"]
# SIGTERM: stop accepting, commit, checkpoint, close clients with 1001, exit 0.
STOPSIGNAL SIGTERM
CMD ["exch", "serve", "--host", "0.0.0.0"]
