"""The generation store: a folder of immutable, content-addressed generations.

Layout: ``<root>/<generation id>/manifest.json`` and ``tables/<tenant>/<table>/...``.
A generation is written into ``<root>/.tmp-<pid>-<random>/``, its files made read-only,
then renamed to its id folder in one ``os.rename``: a reader sees the whole generation or
nothing. Temporary folders are never listed; those left by a dead process are removed by
the next generate or import.
"""

from __future__ import annotations

import difflib
import errno
import os
import secrets
import shutil
import stat
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

import pyarrow as pa
import pyarrow.fs as pafs

from simulator.config import NAME_RE
from simulator.datasets import synthetic
from simulator.datasets.importer import import_tables
from simulator.datasets.layout import OpenOutput, open_output, write_bytes, write_table
from simulator.datasets.manifest import (
    FORMAT_VERSION,
    MANIFEST_FILE,
    canonical_json,
    decode_schema,
    manifest_id,
    read_manifest,
)
from simulator.datasets.table_spec import TableSpec
from simulator.errors import DatasetError
from simulator.progress import progress

DEFAULT_ROOT = "datasets/store"
TMP_PREFIX = ".tmp-"
MIN_PREFIX = 4
# A stream of (tenant, table, rows, partition columns), as the generator and importer yield.
TableStream = Iterable[tuple[str, str, pa.Table, list[str]]]


def check_generation_name(name: str, what: str = "generation name") -> str:
    """Return ``name`` if it is safe as a name (no path separator, no ``..``); else raise."""
    if not isinstance(name, str) or not NAME_RE.match(name) or ".." in name:
        raise DatasetError(
            f"{what}: {name!r} is not a valid name (letters, digits, '_', '-', '.'; no '/' or '..')"
        )
    return name


def local_root(root: str | Path) -> Path:
    """The absolute local folder of a store given as a path or a ``file://`` URI; refuses
    other file systems (object stores are opened by
    :func:`simulator.datasets.object_store.open_store`).

    Absolute, because table specs hand these paths to engine workers, whose current
    directory is their workspace."""
    text = str(root)
    if "://" not in text:
        return Path(text).expanduser().absolute()
    try:
        filesystem, path = pafs.FileSystem.from_uri(text)
    except (pa.ArrowInvalid, OSError) as err:
        raise DatasetError(f"store {text}: not a usable file system URI ({err})") from None
    if not isinstance(filesystem, pafs.LocalFileSystem):
        raise DatasetError(
            f"store {text}: {filesystem.type_name} stores are not supported "
            "(a local folder or an s3:// URI is)"
        )
    return Path(path)


@dataclass(frozen=True)
class StoredFiles:
    """Where a generation's committed files live when that is not its local folder (an
    object store): a pyarrow file system, the generation's folder in it, and its URI."""

    filesystem: pafs.FileSystem
    base: str
    uri: str


@dataclass(frozen=True)
class Generation:
    """One committed generation: its id, its manifest (a dict) and its local folder.

    ``store`` is where it was read from (a folder or an object store URI). For a
    generation of an object store, ``stored`` says where its committed files are and
    ``path`` is this node's cache folder for it, which holds only the files fetched
    (:mod:`simulator.datasets.node_cache`)."""

    id: str
    manifest: dict[str, Any]
    path: Path
    store: str = ""
    stored: StoredFiles | None = None

    @property
    def name(self) -> str:
        return self.manifest["name"]

    @property
    def created_at(self) -> str:
        return self.manifest["created_at"]

    @property
    def parent(self) -> str | None:
        return self.manifest.get("parent")

    def tenants(self) -> list[str]:
        """Tenant ids, sorted."""
        return sorted(self.manifest["tenants"])

    def tables(self, tenant: str) -> list[str]:
        """Table names of ``tenant``, sorted; refuses an unknown tenant."""
        return sorted(self._tenant(tenant))

    def entry(self, tenant: str, table: str) -> dict[str, Any]:
        """The manifest entry of one table; refuses an unknown tenant or table."""
        tables = self._tenant(tenant)
        if table not in tables:
            raise DatasetError(
                f"generation {self.id[:12]}: tenant {tenant} has no table {table!r} "
                f"(tables: {', '.join(sorted(tables))})"
            )
        return tables[table]

    def schema(self, tenant: str, table: str) -> pa.Schema:
        """The full Arrow schema of a table, partition columns included."""
        where = f"{self.path / MANIFEST_FILE}: tenants.{tenant}.{table}"
        return decode_schema(self.entry(tenant, table)["schema"], where)

    def partition_columns(self, tenant: str, table: str) -> list[str]:
        """The hive partition columns of a table (``[]`` when unpartitioned)."""
        return list(self.entry(tenant, table)["partition_columns"])

    def files(self, tenant: str, table: str) -> list[Path]:
        """Absolute paths of a table's Parquet files."""
        return [self.path / f["path"] for f in self.entry(tenant, table)["files"]]

    def table_specs(self, tenant: str) -> list[TableSpec]:
        """Read-only TableSpecs of all of ``tenant``'s tables, over the generation's files."""
        return [
            TableSpec(
                name=table,
                files=tuple(str(p) for p in self.files(tenant, table)),
                schema=self.schema(tenant, table),
                partition_columns=tuple(self.partition_columns(tenant, table)),
                writable=False,
            )
            for table in self.tables(tenant)
        ]

    def row_count(self) -> int:
        """Rows across all tenants and tables."""
        return sum(e["row_count"] for t in self.manifest["tenants"].values() for e in t.values())

    def byte_count(self) -> int:
        """Bytes of all Parquet files."""
        return sum(e["bytes"] for t in self.manifest["tenants"].values() for e in t.values())

    def stored_name(self, relative: str) -> str:
        """The committed file ``relative`` (a manifest path) as messages name it."""
        if self.stored is None:
            return str(self.path / relative)
        return f"{self.stored.uri}/{relative}"

    def open_stored(self, relative: str) -> BinaryIO:
        """Open the committed file ``relative`` for reading where the store keeps it (not
        a cached copy); FileNotFoundError when it is not there."""
        if self.stored is None:
            return open(self.path / relative, "rb")
        return self.stored.filesystem.open_input_file(f"{self.stored.base}/{relative}")

    def stored_table_files(self) -> list[str]:
        """Relative paths of every file the store holds under the generation's tables."""
        if self.stored is None:
            root = self.path / "tables"
            found = root.rglob("*") if root.is_dir() else []
            return sorted(p.relative_to(self.path).as_posix() for p in found if p.is_file())
        selector = pafs.FileSelector(f"{self.stored.base}/tables", True, True)
        infos = self.stored.filesystem.get_file_info(selector)
        start = len(self.stored.base) + 1
        return sorted(i.path[start:] for i in infos if i.type == pafs.FileType.File)

    def _tenant(self, tenant: str) -> dict[str, Any]:
        tenants = self.manifest["tenants"]
        if tenant not in tenants:
            raise DatasetError(
                f"generation {self.id[:12]}: no tenant {tenant!r} "
                f"(tenants: {', '.join(sorted(tenants)) or 'none'})"
            )
        return tenants[tenant]


def resolve_among(ref: str, generations: list[Generation], where: str) -> Generation:
    """The generation ``ref`` names among ``generations`` (of the store ``where``): by
    name (the newest), then by a unique id prefix of at least 4 characters; a DatasetError
    listing close matches when none or several match."""
    named = [g for g in generations if g.name == ref]
    if named:
        return max(named, key=lambda g: (g.created_at, g.id))
    prefixed = [g for g in generations if len(ref) >= MIN_PREFIX and g.id.startswith(ref)]
    if len(prefixed) == 1:
        return prefixed[0]
    if prefixed:
        ids = ", ".join(g.id[:12] for g in prefixed[:5])
        raise DatasetError(f"generation {ref!r} is ambiguous in {where} (matches: {ids})")
    choices = {g.name for g in generations} | {g.id[:12] for g in generations}
    close = difflib.get_close_matches(ref, sorted(choices), n=5, cutoff=0.5)
    hint = (
        f"close matches: {', '.join(close)}"
        if close
        else (
            f"known: {', '.join(sorted({g.name for g in generations})[:8])}"
            if generations
            else "the store is empty"
        )
    )
    raise DatasetError(f"generation {ref!r} not found in {where} ({hint})")


class GenerationStore:
    """A folder of generations. ``output`` opens each file the store writes (a seam for
    fault injection such as a full disk; the default is ``open(path, "wb")``);
    ``parents`` resolves a new generation's parent (default: in this store; a staging
    store of an object store resolves parents in the object store)."""

    def __init__(
        self,
        root: str | Path = DEFAULT_ROOT,
        *,
        output: OpenOutput = open_output,
        parents: Callable[[str], Generation] | None = None,
    ):
        self.root = local_root(root)
        self._output = output
        self._parents = parents or self.resolve

    def generate(
        self, name: str, scale: float, seed: int, tenants: int = 8, parent: str | None = None
    ) -> Generation:
        """Build and commit the synthetic world; returns the generation (the existing one
        when the same name, parent and parameters were generated before)."""
        source = {
            "generator": synthetic.GENERATOR,
            "seed": seed,
            "params": {
                "scale": scale,
                "tenants": tenants,
                "version": synthetic.GENERATOR_VERSION,
            },
        }
        check_generation_name(name)
        synthetic.check_params(scale, seed, tenants)  # refuse before touching the disk
        tables = synthetic.world(scale, seed, tenants)
        return self._commit(name, parent, source, tables, tenants * len(synthetic.TABLES))

    def import_folder(self, source: str | Path, name: str, parent: str | None = None) -> Generation:
        """Import ``source/<tenant>/<table>/`` Parquet or CSV files (hive ``k=v`` folders
        kept as string partition columns) as a new generation."""
        check_generation_name(name)
        folder = Path(source).expanduser().resolve()
        return self._commit(name, parent, {"import": str(folder)}, import_tables(folder))

    def list(self) -> list[Generation]:
        """Committed generations, oldest first; skips folders whose manifest is unreadable
        (see :meth:`broken`) and temporary folders. Reading a store never creates it: a
        store folder that does not exist is refused (DatasetError naming it) here and in
        :meth:`get`, :meth:`resolve` and :meth:`broken`; only :meth:`generate` and
        :meth:`import_folder` create one."""
        return self._scan()[0]

    def broken(self) -> list[str]:
        """One line per generation folder whose manifest cannot be read."""
        return self._scan()[1]

    def get(self, generation_id: str) -> Generation:
        """The generation with exactly this id; refuses an unknown id or unsafe text."""
        check_generation_name(generation_id, "generation id")
        if not self.root.is_dir():
            raise self._missing()
        folder = self.root / generation_id
        manifest_path = folder / MANIFEST_FILE
        try:
            text = manifest_path.read_bytes()
        except FileNotFoundError:
            raise DatasetError(f"generation {generation_id!r} not found in {self.root}") from None
        except OSError as err:
            raise DatasetError(f"{manifest_path}: cannot read ({err.strerror})") from None
        manifest = read_manifest(text, str(manifest_path))
        return Generation(generation_id, manifest, folder, store=str(self.root))

    def resolve(self, ref: str) -> Generation:
        """Find a generation by full id, then by name (the newest with that name), then by
        a unique id prefix of at least 4 characters. Unknown or ambiguous refs raise a
        DatasetError listing close matches."""
        check_generation_name(ref, "generation")
        if (self.root / ref / MANIFEST_FILE).is_file():
            return self.get(ref)
        return resolve_among(ref, self.list(), str(self.root))

    def _missing(self) -> DatasetError:
        return DatasetError(
            f"store {self.root} does not exist (qsim dataset generate or import creates one)"
        )

    def _scan(self) -> tuple[list[Generation], list[str]]:
        if not self.root.is_dir():
            raise self._missing()
        found, broken = [], []
        for folder in sorted(self.root.iterdir()):
            if folder.name.startswith(".") or not (folder / MANIFEST_FILE).is_file():
                continue
            try:
                found.append(self.get(folder.name))
            except DatasetError as err:
                broken.append(str(err))
        found.sort(key=lambda g: (g.created_at, g.id))
        return found, broken

    def _commit(
        self,
        name: str,
        parent: str | None,
        source: dict[str, Any],
        tables: TableStream,
        expected_tables: int | None = None,
    ) -> Generation:
        parent_id = self._parents(parent).id if parent else None
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise DatasetError(f"store {self.root}: cannot create ({err.strerror})") from None
        self._remove_stale_temporaries()
        tmp = self.root / f"{TMP_PREFIX}{os.getpid()}-{secrets.token_hex(6)}"
        try:
            tmp.mkdir()
            tenants: dict[str, dict[str, Any]] = {}
            with progress(expected_tables, f"write {name}", unit="table") as bar:
                for tenant, table, rows, partition_columns in tables:
                    folder = tmp / "tables" / tenant / table
                    entry = write_table(rows, partition_columns, folder, tmp, self._output)
                    tenants.setdefault(tenant, {})[table] = entry
                    bar.update(1)
            manifest: dict[str, Any] = {
                "format_version": FORMAT_VERSION,
                "name": name,
                "parent": parent_id,
                "source": source,
                "tenants": {t: dict(sorted(v.items())) for t, v in sorted(tenants.items())},
            }
            manifest["id"] = manifest_id(manifest)
            manifest["created_at"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            write_bytes(self._output, tmp / MANIFEST_FILE, canonical_json(manifest))
            _make_read_only(tmp)
            target = self.root / manifest["id"]
            try:
                os.rename(tmp, target)
            except OSError as err:
                # Same content already committed (maybe by a concurrent writer that won the
                # race): keep the original, drop this copy.
                if (
                    err.errno not in (errno.ENOTEMPTY, errno.EEXIST)
                    or not (target / MANIFEST_FILE).is_file()
                ):
                    raise
                shutil.rmtree(tmp)
            _fsync_folder(self.root)
        except OSError as err:
            shutil.rmtree(tmp, ignore_errors=True)
            where = f" ({err.filename})" if err.filename else ""
            raise DatasetError(
                f"store {self.root}: cannot write generation {name!r}: {err.strerror or err}{where}"
            ) from None
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return self.get(manifest["id"])

    def _remove_stale_temporaries(self) -> None:
        """Remove temporary folders whose writing process is gone (a killed generate)."""
        for folder in self.root.glob(f"{TMP_PREFIX}*"):
            pid_text = folder.name[len(TMP_PREFIX) :].split("-", 1)[0]
            if pid_text.isdigit() and int(pid_text) > 0 and process_alive(int(pid_text)):
                continue
            shutil.rmtree(folder, ignore_errors=True)


def _fsync_folder(folder: Path) -> None:
    """Persist a rename inside ``folder`` (the commit) before reporting success."""
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` exists (owner of a temporary folder or file)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _make_read_only(folder: Path) -> None:
    """Make every file under ``folder`` read-only (r--r--r--)."""
    read_only = stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH
    for dirpath, _, filenames in os.walk(folder):
        for filename in filenames:
            os.chmod(os.path.join(dirpath, filename), read_only)
