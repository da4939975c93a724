# hih's mock partners in a container: `hih mock serve` on fixed ports, the admin API behind HIH_ADMIN_TOKEN.
#
#   docker build -t hih-mocks .
#   docker run --rm -e HIH_ADMIN_TOKEN=change-me -p 127.0.0.1:8082:8082 -p 127.0.0.1:8081:8081 hih-mocks blood-center
#
# Which partners: the arguments (insurance, blood-center, mch-platform, lis, pacs, or all), else HIH_INTERFACES,
# else all five. Ports: insurance 8080, admin API 8081 (/__hih/), blood-center 8082 (and its console), mch-platform
# 8083, lis 2575, pacs 2576 (MLLP). HIH_ADMIN_TOKEN is required: the mocks bind 0.0.0.0 here, and hih refuses to
# serve the admin API (and the blood centre's console) off loopback without a token. More in docs/containers.md.

ARG PYTHON_IMAGE=python:3.12.12-slim-bookworm
FROM ${PYTHON_IMAGE}

LABEL org.opencontainers.image.title="hih mocks" \
      org.opencontainers.image.description="Hospital Interface Harness: contract-driven mock partners (hih mock serve)" \
      org.opencontainers.image.licenses="Apache-2.0"

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HIH_CONTRACTS=/opt/hih/contracts \
    HIH_HEALTHCHECK_URL=http://127.0.0.1:8081/__hih/

WORKDIR /opt/hih
COPY pyproject.toml README.md ./
COPY harness ./harness
COPY mocks ./mocks
COPY connectors ./connectors
COPY contracts ./contracts
RUN python -m pip install /opt/hih \
    && rm -rf /opt/hih/harness /opt/hih/mocks /opt/hih/connectors \
    && useradd --system --uid 10001 --user-group --home-dir /var/lib/hih --create-home --shell /usr/sbin/nologin hih

USER 10001:10001
WORKDIR /var/lib/hih

EXPOSE 8080 8081 8082 8083 2575 2576

HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request as u; u.build_opener(u.ProxyHandler({})).open(u.Request(os.environ['HIH_HEALTHCHECK_URL'], headers={'Authorization': 'Bearer ' + os.environ['HIH_ADMIN_TOKEN']}), timeout=4)"]

ENTRYPOINT ["python", "-m", "harness.container_serve"]
CMD []
