"""The throwaway local PostgreSQL cluster (socket only, unprivileged roles, clean stop) and
its database names."""

from __future__ import annotations

import stat

import psycopg
import pytest

from simulator.engines.postgres_server import DATABASE_NAME, LocalPostgres, database_name
from simulator.errors import EngineError

pytestmark = pytest.mark.postgres
FILE_ROLES = ("pg_read_server_files", "pg_write_server_files", "pg_execute_server_program")


def test_cluster_listens_only_on_its_private_socket(local_postgres):
    with psycopg.connect(local_postgres.admin_dsn) as conn:
        assert conn.execute("SHOW listen_addresses").fetchone()[0] == ""
        socket_dirs = conn.execute("SHOW unix_socket_directories").fetchone()[0]
    assert socket_dirs == str(local_postgres.socket_dir)
    for folder in (local_postgres.folder, local_postgres.socket_dir):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert local_postgres.version().startswith("PostgreSQL ")


def test_engine_roles_are_unprivileged_and_confined_to_their_database(local_postgres):
    dsn = local_postgres.create_database("roles_check")
    checks = ", ".join(f"pg_has_role(current_user, '{role}', 'MEMBER')" for role in FILE_ROLES)
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            f"SELECT rolsuper, rolcreaterole, rolcreatedb, {checks} FROM pg_roles "
            "WHERE rolname = current_user"
        ).fetchone()
    assert row == (False,) * 6
    with pytest.raises(psycopg.OperationalError, match="permission denied for database"):
        psycopg.connect(local_postgres.dsn("postgres", user="qsim_r_roles_check"))
    with pytest.raises(EngineError, match="not a valid database name"):
        local_postgres.create_database("Bad-Name; DROP")


def test_stop_removes_the_cluster_and_is_idempotent(local_postgres):
    # local_postgres: skip (loudly) with the others when the machine has no server binaries.
    server = LocalPostgres().start()
    folder = server.folder
    assert (folder / "data" / "PG_VERSION").exists()
    server.stop()
    server.stop()
    assert not folder.exists()


def test_database_names_are_valid_and_distinct_per_engine_and_tenant():
    names = {
        database_name(engine, tenant)
        for engine in ("pg-15.candidate", "pg_15_candidate", "Baseline" * 10)
        for tenant in ("t01", "t02")
    }
    assert len(names) == 6
    assert all(DATABASE_NAME.match(name) for name in names)
