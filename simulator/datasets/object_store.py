"""A generation store on object storage: ``s3://bucket/prefix`` (AWS S3 or any
S3-compatible server), through pyarrow's own S3 file system.

Layout, as in a local store: ``<prefix>/<generation id>/manifest.json`` and
``<prefix>/<id>/tables/<tenant>/<table>/...``. An object store has no rename, so a commit
works like this: the generation is built and hashed in a local staging folder (beside the
node cache), each table file is uploaded under the generation's key, and the manifest is
uploaded **last**: it is the commit. Readers find generations only by their manifest, so
files of an interrupted commit are never seen; committing the same generation again
rewrites them (same content, same keys) and adds the manifest.

Connection settings come from the URI's query (``endpoint_override``, ``scheme``,
``region``) or the usual AWS environment (``AWS_ENDPOINT_URL_S3`` or ``AWS_ENDPOINT_URL``,
``AWS_REGION``), and
credentials only from the environment or the AWS credential chain (``AWS_ACCESS_KEY_ID``,
``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN``, ``AWS_PROFILE``), never from the URI,
which run.json records.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import parse_qsl, urlsplit

import pyarrow.fs as pafs

from simulator.datasets.layout import HASH_CHUNK_BYTES
from simulator.datasets.manifest import MANIFEST_FILE, canonical_json, read_manifest
from simulator.datasets.node_cache import cache_root
from simulator.datasets.store import (
    Generation,
    GenerationStore,
    StoredFiles,
    check_generation_name,
    process_alive,
    resolve_among,
)
from simulator.errors import DatasetError

SCHEME = "s3://"
URI_OPTIONS = ("endpoint_override", "scheme", "region")
STAGING_PREFIX = ".staging-"
# Few, short retries: a wrong endpoint must fail in about a second, not after minutes.
RETRY = pafs.AwsStandardS3RetryStrategy(max_attempts=3)
CONNECT_TIMEOUT_S = 5.0
CREDENTIAL_ERRORS = ("ACCESS_DENIED", "SIGNATURE_DOES_NOT_MATCH", "INVALID_ACCESS_KEY_ID")
# Opens one object of the store for writing (the seam a test uses to cut a commit short).
OpenObject = Callable[[pafs.FileSystem, str], BinaryIO]
GENERATION_ID = re.compile(r"^[0-9a-f]{32}$")


def is_object_store(location: str | Path) -> bool:
    """Whether ``location`` names an object store (``s3://...``) rather than a folder."""
    return str(location).startswith(SCHEME)


def open_store(
    location: str | Path, cache: str | Path | None = None
) -> GenerationStore | ObjectGenerationStore:
    """The generation store at ``location``: a folder (or ``file://`` URI), or an
    ``s3://bucket/prefix`` object store whose files this node caches under ``cache``
    (see :func:`simulator.datasets.node_cache.cache_root`)."""
    if is_object_store(location):
        return ObjectGenerationStore(str(location), cache)
    return GenerationStore(location)


def connect(uri: str) -> tuple[pafs.S3FileSystem, str]:
    """The S3 file system and ``bucket/prefix`` of a store URI; refuses a URI without a
    bucket, with credentials in it, or with query options other than URI_OPTIONS."""
    parts = urlsplit(uri)
    if "@" in parts.netloc:
        raise DatasetError(
            f"store {SCHEME}...{parts.path}: credentials do not belong in the store URI "
            "(set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE)"
        )
    display = uri.split("?", 1)[0]
    if not parts.netloc:
        raise DatasetError(f"store {display}: no bucket (expected s3://bucket/prefix)")
    options = dict(parse_qsl(parts.query, keep_blank_values=True))
    unknown = sorted(set(options) - set(URI_OPTIONS))
    if unknown:
        raise DatasetError(
            f"store {display}: unknown URI option {unknown[0]!r} (known: {', '.join(URI_OPTIONS)})"
        )
    kwargs: dict[str, Any] = {"retry_strategy": RETRY, "connect_timeout": CONNECT_TIMEOUT_S}
    kwargs.update({k: v for k, v in options.items() if v})
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    if endpoint and "endpoint_override" not in kwargs:
        kwargs["endpoint_override"] = endpoint
    try:
        filesystem = pafs.S3FileSystem(**kwargs)
    except (OSError, ValueError, TypeError) as err:
        raise DatasetError(f"store {display}: cannot connect ({err})") from None
    base = "/".join(p for p in [parts.netloc, *parts.path.split("/")] if p)
    return filesystem, base


def store_error(uri: str, doing: str, err: BaseException) -> DatasetError:
    """One line naming the store, what failed and why (the AWS error without its request
    id), with a hint when the credentials or the endpoint are the likely cause."""
    text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    reason = text.split("AWS Error ", 1)[-1]
    reason = re.sub(r"\s*\(Request ID: [^)]*\)", "", reason)
    reason = reason.split("; Details:", 1)[0].strip()
    hint = ""
    if any(code in reason for code in CREDENTIAL_ERRORS):
        hint = " (check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or AWS_PROFILE)"
    elif "NETWORK_CONNECTION" in reason:
        hint = " (check the endpoint: endpoint_override in the URI or AWS_ENDPOINT_URL)"
    return DatasetError(f"store {uri}: cannot {doing}: {reason}{hint}")


def _open_object(filesystem: pafs.FileSystem, key: str) -> BinaryIO:
    return filesystem.open_output_stream(key)


class ObjectGenerationStore:
    """A store of generations on object storage; the same public interface as
    :class:`~simulator.datasets.store.GenerationStore`. ``open_object`` opens each object
    a commit writes (a seam for fault injection)."""

    def __init__(
        self, uri: str, cache: str | Path | None = None, *, open_object: OpenObject = _open_object
    ) -> None:
        self.uri = uri.split("?", 1)[0].rstrip("/")
        self.location = uri
        self.filesystem, self.base = connect(uri)
        self.cache = cache_root(cache)
        self._open_object = open_object

    @property
    def root(self) -> str:
        """The store as messages name it."""
        return self.uri

    # -- reading ------------------------------------------------------------------------
    def get(self, generation_id: str) -> Generation:
        """The generation with exactly this id (its manifest read from the store; its
        files are fetched into the node cache only when a session needs them)."""
        check_generation_name(generation_id, "generation id")
        where = f"{self.uri}/{generation_id}/{MANIFEST_FILE}"
        try:
            with self.filesystem.open_input_stream(
                f"{self.base}/{generation_id}/{MANIFEST_FILE}"
            ) as handle:
                text = handle.read()
        except FileNotFoundError:
            raise DatasetError(f"generation {generation_id!r} not found in {self.uri}") from None
        except OSError as err:
            raise store_error(self.uri, f"read {generation_id}/{MANIFEST_FILE}", err) from None
        return Generation(
            generation_id,
            read_manifest(text, where),
            self.cache / generation_id,
            store=self.location,
            stored=StoredFiles(
                self.filesystem, f"{self.base}/{generation_id}", f"{self.uri}/{generation_id}"
            ),
        )

    def list(self) -> list[Generation]:
        """Committed generations (those whose manifest is in the store), oldest first;
        skips unreadable manifests (see :meth:`broken`)."""
        return self._scan()[0]

    def broken(self) -> list[str]:
        """One line per generation whose manifest cannot be read."""
        return self._scan()[1]

    def resolve(self, ref: str) -> Generation:
        """Find a generation by full id, then by name (newest), then by unique id prefix."""
        check_generation_name(ref, "generation")
        if GENERATION_ID.match(ref):
            with contextlib.suppress(DatasetError):
                return self.get(ref)
        return resolve_among(ref, self.list(), self.uri)

    def _scan(self) -> tuple[list[Generation], list[str]]:
        bucket = self.base.split("/", 1)[0]
        try:
            infos = self.filesystem.get_file_info(pafs.FileSelector(self.base, True, False))
            folders = [i.base_name for i in infos if i.type == pafs.FileType.Directory]
            if (
                not folders
                and self.filesystem.get_file_info(bucket).type != pafs.FileType.Directory
            ):
                raise DatasetError(
                    f"store {self.uri}: cannot list generations: bucket {bucket!r} does not exist"
                )
        except OSError as err:
            raise store_error(self.uri, "list generations", err) from None
        found, broken = [], []
        for name in sorted(folders):
            if name.startswith("."):
                continue
            try:
                found.append(self.get(name))
            except DatasetError as err:
                if "not found in" not in str(err):  # files of an unfinished commit
                    broken.append(str(err))
        found.sort(key=lambda g: (g.created_at, g.id))
        return found, broken

    # -- writing ------------------------------------------------------------------------
    def generate(
        self, name: str, scale: float, seed: int, tenants: int = 8, parent: str | None = None
    ) -> Generation:
        """Build the synthetic world in local staging, then commit it to the store."""
        with self._staging() as staging:
            local = staging.generate(name, scale, seed, tenants, parent)
            return self._adopt(local, self.publish(local))

    def import_folder(self, source: str | Path, name: str, parent: str | None = None) -> Generation:
        """Import ``source`` in local staging, then commit it to the store."""
        with self._staging() as staging:
            local = staging.import_folder(source, name, parent)
            return self._adopt(local, self.publish(local))

    def publish(self, local: Generation) -> Generation:
        """Upload a committed local generation: every table file, then the manifest (the
        commit). Returns the store's generation; one already in the store is kept."""
        with contextlib.suppress(DatasetError):
            return self.get(local.id)
        target = f"{self.base}/{local.id}"
        current = MANIFEST_FILE
        try:
            for tenant in local.tenants():
                for table in local.tables(tenant):
                    for file in local.entry(tenant, table)["files"]:
                        current = file["path"]
                        self._upload(local.path / current, f"{target}/{current}")
            current = MANIFEST_FILE
            self._put(f"{target}/{MANIFEST_FILE}", canonical_json(local.manifest))
        except OSError as err:
            raise store_error(
                self.uri, f"write generation {local.name!r} ({local.id[:12]}/{current})", err
            ) from None
        return self.get(local.id)

    def _upload(self, source: Path, key: str) -> None:
        with open(source, "rb") as reader, self._open_object(self.filesystem, key) as writer:
            while chunk := reader.read(HASH_CHUNK_BYTES):
                writer.write(chunk)

    def _put(self, key: str, payload: bytes) -> None:
        with self._open_object(self.filesystem, key) as writer:
            writer.write(payload)

    @contextlib.contextmanager
    def _staging(self) -> Iterator[GenerationStore]:
        """A private local store beside the node cache, removed afterwards."""
        folder = self.cache / f"{STAGING_PREFIX}{os.getpid()}-{secrets.token_hex(6)}"
        for stale in self.cache.glob(f"{STAGING_PREFIX}*"):
            pid = stale.name[len(STAGING_PREFIX) :].split("-", 1)[0]
            if not (pid.isdigit() and process_alive(int(pid))):
                shutil.rmtree(stale, ignore_errors=True)  # left by a killed generate
        try:
            folder.mkdir(parents=True)
        except OSError as err:
            raise DatasetError(f"{folder}: cannot create staging folder ({err.strerror})") from None
        try:
            yield GenerationStore(folder, parents=self.resolve)
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def _adopt(self, staged: Generation, committed: Generation) -> Generation:
        """Keep the staged files as this node's cache of the committed generation (hashed
        against the manifest on first use, then trusted by stamp, like any cached file)."""
        if not committed.path.exists():
            with contextlib.suppress(OSError):
                os.rename(staged.path, committed.path)
        return committed
