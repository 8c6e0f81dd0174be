"""How a worker pod is wired: environment variables and mount paths.

The operator writes Deployments to this contract and the worker reads its
configuration by it; both import it from here so neither can drift.
"""

from __future__ import annotations

from pathlib import PurePosixPath

# Environment variables the operator sets on worker containers.
ENV_REGION = "CONTACTSYNC_REGION"
ENV_TASK_QUEUE = "CONTACTSYNC_TASK_QUEUE"
ENV_CONTACT_SYNC = "CONTACTSYNC_RESOURCE"  # namespace/name
ENV_CONFIG_FILE = "CONTACTSYNC_CONFIG_FILE"
ENV_KEYS_DIR = "CONTACTSYNC_KEYS_DIR"
ENV_SECRETS_DIR = "CONTACTSYNC_SECRETS_DIR"
ENV_STATE_DIR = "CONTACTSYNC_STATE_DIR"
ENV_METRICS_PORT = "CONTACTSYNC_METRICS_PORT"
ENV_TEMPORAL_ADDRESS = "TEMPORAL_ADDRESS"
ENV_TEMPORAL_NAMESPACE = "TEMPORAL_NAMESPACE"
ENV_TEMPORAL_TLS_DIR = "TEMPORAL_TLS_DIR"  # tls.crt, tls.key, ca.crt
ENV_TEMPORAL_API_KEY_FILE = "TEMPORAL_API_KEY_FILE"
# "true": connect without TLS or an API key (development only); otherwise one is required.
ENV_TEMPORAL_PLAINTEXT = "TEMPORAL_PLAINTEXT"

# Where things are mounted in the worker container.
CONFIG_DIR = PurePosixPath("/etc/contactsync")
CONFIG_FILE_NAME = "region.json"
KEYS_DIR = PurePosixPath("/var/run/secrets/contactsync/keys")
SECRETS_DIR = PurePosixPath("/var/run/secrets/contactsync/refs")
TEMPORAL_TLS_DIR = PurePosixPath("/var/run/secrets/contactsync/temporal-tls")
TEMPORAL_API_KEY_DIR = PurePosixPath("/var/run/secrets/contactsync/temporal-api-key")
STATE_DIR = PurePosixPath("/var/lib/contactsync")
METRICS_PORT = 9464

# /tmp is an emptyDir, which the kubelet evicts the pod for outgrowing; each endpoint spec
# says how much its adapter keeps there (tmp_bytes). A file source (CSV, JSON Lines) keeps a
# sealed copy of its file, at most its maxBytes (FILE_SOURCE_MAX_BYTES unless set), and an
# index of its ids, at most twice that; while a changed file replaces them, both versions.
FILE_SOURCE_MAX_BYTES = 64 * 2**20
# The range of maxBytes a spec may set: below 1 MiB the id index has no room to start.
FILE_SOURCE_MIN_BYTES = 2**20
FILE_SOURCE_MAX_BYTES_LIMIT = 16 * 2**30
# A CardDAV source keeps, sealed, what one sync-collection report listed with the cards, at
# most CARDDAV_LISTING_MAX_BYTES (some 400,000 cards of ten properties); while a listing is
# read again, both.
CARDDAV_LISTING_MAX_BYTES = 256 * 2**20
CARDDAV_SCRATCH_BYTES = 2 * CARDDAV_LISTING_MAX_BYTES
TMP_BASE_BYTES = 64 * 2**20  # what Python and the libraries may write besides


def file_source_index_bytes(max_bytes: int) -> int:
    """The most a file source's index of ids may take on disk, for a file of ``max_bytes``."""
    return 2 * max_bytes


def file_source_scratch_bytes(max_bytes: int) -> int:
    """What a file source of ``max_bytes`` keeps in /tmp: two versions of copy and index."""
    return 2 * (max_bytes + file_source_index_bytes(max_bytes))


def tmp_size_limit(scratch_bytes: int) -> str:
    """The size limit of a worker's /tmp when its region's adapters keep ``scratch_bytes``."""
    return f"{(TMP_BASE_BYTES + scratch_bytes) // 2**20}Mi"


def secret_dir(secrets_dir: PurePosixPath, secret_name: str) -> PurePosixPath:
    """Where a Secret named in the spec (credentials, CA bundle, DSN) is mounted: one dir each."""
    return secrets_dir / secret_name


def task_queue(namespace: str, name: str, region: str) -> str:
    """The Temporal task queue of one region of one ContactSync: the operator's schedules
    start runs on it, the region's workers poll it, the CLI sends erasures to it."""
    return f"contactsync/{namespace}/{name}/{region}"
