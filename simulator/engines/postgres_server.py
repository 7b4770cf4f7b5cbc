"""A throwaway local PostgreSQL cluster for a run (parent side), and DSN checks.

:class:`LocalPostgres` runs ``initdb`` + ``pg_ctl start`` in a fresh private temporary
folder. The server listens on no TCP address at all (``listen_addresses = ''``), only on a
Unix socket inside that folder (mode 0700), so nothing else on the machine can reach it.
Authentication is ``trust`` for that socket only: the folder's permissions are the gate.
initdb refuses to run as root, so when qsim runs as root the cluster is created and run
as the ``postgres`` system user (created by Debian's server package) through ``runuser``.

Each engine/tenant gets its own database via :meth:`LocalPostgres.create_database`, owned
by a fresh LOGIN role that is not superuser, cannot create roles or databases, and is in
none of ``pg_read_server_files``, ``pg_write_server_files``, ``pg_execute_server_program``;
replayed SQL runs as that role. The DSN it returns goes into the engine's settings
(``dsn``), where :class:`simulator.engines.adapters.postgres.PostgresAdapter` reads it.
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import hashlib
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

import psycopg

from simulator.errors import EngineError

ADMIN_ROLE = "qsim_admin"
PORT = 5432
SERVER_SETTINGS = {
    "listen_addresses": "''",
    "unix_socket_permissions": "0700",
    # A throwaway cluster: durability is worth nothing, speed is.
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "shared_buffers": "'64MB'",
    "max_connections": "100",
}
DATABASE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,40}$")
PASSWORD_IN_DSN = re.compile(r"(password\s*=\s*)('[^']*'|\S+)|(://[^:/@]+:)([^@]*)(@)", re.I)


def redact_dsn(dsn: str) -> str:
    """``dsn`` with any password replaced by ``***`` (for messages and logs)."""

    def hide(match: re.Match[str]) -> str:
        if match.group(1):
            return match.group(1) + "***"
        return match.group(3) + "***" + match.group(5)

    return PASSWORD_IN_DSN.sub(hide, dsn)


def database_name(engine: str, tenant: str) -> str:
    """The database :meth:`LocalPostgres.create_database` should get for one engine and
    tenant: readable, a valid identifier, and distinct for distinct (engine, tenant)."""
    readable = re.sub(r"[^a-z0-9_]", "_", f"{engine}_{tenant}".lower())[:28]
    digest = hashlib.sha256(f"{engine}\0{tenant}".encode()).hexdigest()[:8]
    return f"q_{readable}_{digest}"


def find_bindir() -> Path | None:
    """The folder holding ``initdb`` and ``pg_ctl``: ``$QSIM_PG_BINDIR``, then
    ``pg_config --bindir``, then the newest ``/usr/lib/postgresql/*/bin``; None if absent."""
    candidates: list[Path] = []
    if os.environ.get("QSIM_PG_BINDIR"):
        candidates.append(Path(os.environ["QSIM_PG_BINDIR"]))
    if shutil.which("pg_config"):
        found = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True)
        if found.returncode == 0:
            candidates.append(Path(found.stdout.strip()))
    versions = glob.glob("/usr/lib/postgresql/*/bin")
    versions.sort(key=lambda path: int(re.sub(r"\D", "", Path(path).parent.name) or 0))
    candidates.extend(Path(path) for path in reversed(versions))
    for folder in candidates:
        if (folder / "initdb").is_file() and (folder / "pg_ctl").is_file():
            return folder
    return None


def check_reachable(dsn: str, engine: str = "postgres") -> str:
    """Connect to ``dsn`` and return the server's ``version()``.

    Raises EngineError (one line naming the engine and the redacted DSN) when the server
    cannot be reached or refuses the login.
    """
    try:
        with psycopg.connect(dsn, connect_timeout=5) as conn:
            return str(conn.execute("SELECT version()").fetchone()[0])
    except psycopg.Error as err:
        reason = " ".join(str(err).split()) or type(err).__name__
        raise EngineError(
            f"engine {engine}: PostgreSQL at {redact_dsn(dsn)!r} is not reachable: {reason}"
        ) from None


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class LocalPostgres:
    """A private PostgreSQL cluster: ``start()`` -> ``create_database()`` ... -> ``stop()``.

    Usable as a context manager. ``parent`` is where the private folder is created (the
    system temporary folder by default; it must be traversable by the ``postgres`` user
    when running as root). ``bindir`` overrides :func:`find_bindir`.
    """

    def __init__(self, parent: Path | None = None, bindir: Path | None = None) -> None:
        self.parent = parent
        self.bindir = bindir
        self.folder: Path | None = None
        self._running = False
        self._as_postgres = os.geteuid() == 0

    @property
    def data_dir(self) -> Path:
        return self._folder / "data"

    @property
    def socket_dir(self) -> Path:
        """The folder holding the server's Unix socket (the DSN's ``host``)."""
        return self._folder / "socket"

    @property
    def _folder(self) -> Path:
        if self.folder is None:
            raise EngineError("local postgres: not started")
        return self.folder

    def dsn(self, dbname: str = "postgres", user: str = ADMIN_ROLE) -> str:
        """A libpq DSN to ``dbname`` as ``user`` over the private socket."""
        return f"host={self.socket_dir} port={PORT} dbname={dbname} user={user}"

    @property
    def admin_dsn(self) -> str:
        """The superuser's DSN (for qsim only: never hand it to an engine)."""
        return self.dsn()

    def _run(self, *args: str) -> None:
        command = list(args)
        if self._as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, cwd=self._folder, capture_output=True, text=True)
        if done.returncode != 0:
            lines = (done.stderr or done.stdout).strip().splitlines() or ["no output"]
            raise EngineError(
                f"local postgres: {Path(args[0]).name} failed in {self._folder}: {lines[-1]}"
            )

    def start(self, announce: Callable[[Path], None] | None = None) -> LocalPostgres:
        """initdb a new cluster and start it; returns self. ``announce`` is called with the
        cluster's folder as soon as it exists, before any server process does, so the
        caller can record it (see :func:`stop_leftover`).

        Raises EngineError when no server binaries exist, or initdb/pg_ctl fail.
        """
        bindir = self.bindir or find_bindir()
        if bindir is None:
            raise EngineError(
                "local postgres: no initdb/pg_ctl found (install the PostgreSQL server "
                "package, or set QSIM_PG_BINDIR)"
            )
        self.bindir = bindir
        self.folder = Path(tempfile.mkdtemp(prefix="qsim-pg-", dir=self.parent))
        if announce is not None:
            announce(self.folder)
        self.socket_dir.mkdir(mode=0o700)
        if self._as_postgres:
            for path in (self.folder, self.socket_dir):
                shutil.chown(path, "postgres", "postgres")
        self._run(
            str(bindir / "initdb"),
            "-D",
            str(self.data_dir),
            "-U",
            ADMIN_ROLE,
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
            "--no-instructions",
        )
        settings = {**SERVER_SETTINGS, "unix_socket_directories": f"'{self.socket_dir}'"}
        with open(self.data_dir / "postgresql.conf", "a", encoding="utf-8") as conf:
            conf.writelines(f"{key} = {value}\n" for key, value in settings.items())
        self._run(
            str(bindir / "pg_ctl"),
            "-D",
            str(self.data_dir),
            "-l",
            str(self.folder / "server.log"),
            "-w",
            "-t",
            "60",
            "start",
        )
        self._running = True
        atexit.register(self.stop)
        with psycopg.connect(self.admin_dsn, autocommit=True) as conn:
            # Engine roles may connect only to their own database.
            for database in ("postgres", "template1"):
                conn.execute(f"REVOKE CONNECT ON DATABASE {database} FROM PUBLIC")
        return self

    def version(self) -> str:
        """The server's ``version()`` string."""
        return check_reachable(self.admin_dsn, "local postgres")

    def create_database(self, name: str) -> str:
        """Create database ``name`` owned by a new unprivileged role ``name``; return the
        DSN that logs in as that role. Refuses (EngineError) a name that is not a plain
        lowercase identifier of at most 41 characters, or one that exists."""
        if not DATABASE_NAME.match(name):
            raise EngineError(f"local postgres: {name!r} is not a valid database name")
        role = f"qsim_r_{name}"
        with psycopg.connect(self.admin_dsn, autocommit=True) as conn:
            try:
                conn.execute(
                    f"CREATE ROLE {_ident(role)} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE "
                    "NOREPLICATION NOBYPASSRLS"
                )
                conn.execute(
                    f"CREATE DATABASE {_ident(name)} OWNER {_ident(role)} TEMPLATE template0 "
                    "ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'"
                )
            except psycopg.Error as err:
                raise EngineError(
                    f"local postgres: cannot create database {name!r}: {err}"
                ) from None
            conn.execute(f"REVOKE CONNECT ON DATABASE {_ident(name)} FROM PUBLIC")
            conn.execute(f"GRANT CONNECT ON DATABASE {_ident(name)} TO {_ident(role)}")
        return self.dsn(dbname=name, user=role)

    def stop(self) -> None:
        """Stop the server and delete its folder; safe to call twice, and after something
        else stopped it (:func:`stop_leftover`)."""
        if self.folder is None:
            return
        if self._running and self.bindir is not None:
            self._running = False
            atexit.unregister(self.stop)
        if self.folder.is_dir() and self.bindir is not None and postmaster_pid(self.folder):
            # Not when ``qsim clean`` or the reaper already stopped it and removed its folder.
            self._run(
                str(self.bindir / "pg_ctl"),
                "-D",
                str(self.data_dir),
                "-m",
                "immediate",
                "-w",
                "stop",
            )
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder = None

    def __enter__(self) -> LocalPostgres:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def postmaster_pid(folder: Path) -> int | None:
    """The pid of the live postmaster serving ``folder/data``, or None. The pid from
    ``postmaster.pid`` counts only if that process's command line names the data folder
    (a pid reused by another process is never reported)."""
    data_dir = Path(folder) / "data"
    try:
        pid = int((data_dir / "postmaster.pid").read_text().split()[0])
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except (OSError, ValueError, IndexError):
        return None
    return pid if str(data_dir) in cmdline else None


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            continue
    return found


def stop_leftover(folder: Path, timeout_s: float = 10.0) -> bool:
    """Stop the throwaway cluster a dead driver left in ``folder`` and delete the folder.

    The postmaster gets SIGQUIT (PostgreSQL's immediate shutdown, which ends its children
    too), then SIGKILL with its children if it is still there after ``timeout_s``. Returns
    True when there was a folder or a server. Touches no process but that postmaster and
    its children."""
    folder = Path(folder)
    pid = postmaster_pid(folder)
    if pid is not None:
        children = _children(pid)
        os.kill(pid, signal.SIGQUIT)
        deadline = time.monotonic() + timeout_s
        while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        for leftover in [pid, *children]:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(leftover, signal.SIGKILL)
    existed = folder.exists()
    shutil.rmtree(folder, ignore_errors=True)
    return existed or pid is not None
