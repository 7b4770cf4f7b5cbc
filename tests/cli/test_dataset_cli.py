"""``qsim dataset ...``: the commands a user types, their output, exit codes and errors."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from simulator.cli import main
from simulator.datasets.manifest import MANIFEST_FILE

SCALE = "0.0005"
NAME_RULE = "is not a valid name (letters, digits, '_', '-', '.'; no '/' or '..')"


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["dataset", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    """A store with two tiny generations named 'w' (seeds 1 and 2): (store, id1, id2)."""
    store = tmp_path_factory.mktemp("cli") / "store"
    ids = []
    for seed in ("1", "2"):
        code = main(
            [
                "dataset",
                "generate",
                "--name",
                "w",
                "--scale",
                SCALE,
                "--seed",
                seed,
                "--tenants",
                "2",
                "--store",
                str(store),
            ]
        )
        assert code == 0
        ids.append(sorted(p.name for p in store.iterdir() if p.name not in ids)[0])
    return store, ids[0], ids[1]


@pytest.fixture
def store_copy(tmp_path: Path, built: tuple[Path, str, str]) -> tuple[Path, str, str]:
    store = tmp_path / "store"
    shutil.copytree(built[0], store)
    for dirpath, _, names in os.walk(store):
        for name in names:
            os.chmod(os.path.join(dirpath, name), 0o644)
    return store, built[1], built[2]


def test_generate_prints_the_id_on_its_last_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = str(tmp_path / "s")
    code, out, err = _run(
        capsys, "generate", "--name", "demo", "--scale", SCALE, "--seed", "3", "--store", store
    )
    assert code == 0 and err == ""
    lines = out.strip().splitlines()
    assert lines[0].startswith("demo: 8 tenants, 32 tables, ")
    generation_id = lines[-1]
    assert len(generation_id) == 32 and (tmp_path / "s" / generation_id / MANIFEST_FILE).is_file()
    code, out, _ = _run(
        capsys, "generate", "--name", "demo", "--scale", SCALE, "--seed", "3", "--store", store
    )
    assert out.strip().splitlines()[-1] == generation_id


def test_list_show_verify_diff_restore(
    tmp_path: Path, built: tuple[Path, str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    store, first, second = (str(built[0]), built[1], built[2])
    code, out, _ = _run(capsys, "list", "--store", store)
    assert code == 0
    rows = out.strip().splitlines()
    assert rows[0].split() == ["id", "name", "created_at", "tenants", "rows", "MB"]
    assert {r.split()[0] for r in rows[1:]} == {first[:12], second[:12]}

    code, out, _ = _run(capsys, "show", first[:8], "--store", store)
    assert code == 0
    assert f"id          {first}" in out
    assert "source      synthetic-world seed=" in out
    assert any(
        line.startswith("t01     events") and line.endswith("day") for line in out.splitlines()
    )

    code, out, _ = _run(capsys, "verify", "w", "--store", store)  # 'w' is the newest named w
    assert code == 0
    assert out.strip().splitlines()[-1].startswith(f"generation {second}: intact (")

    code, out, _ = _run(capsys, "diff", first, second, "--store", store)
    assert code == 1
    assert "t01/orders: checksum differs (columns differing: " in out
    assert out.strip().splitlines()[-1].endswith("differences")
    code, out, _ = _run(capsys, "diff", first, first, "--store", store)
    assert code == 0 and out.strip().endswith("tables identical")

    target = tmp_path / "restored"
    code, out, _ = _run(
        capsys,
        "restore",
        first,
        "--tenant",
        "t02",
        "--table",
        "customers",
        "--to",
        str(target),
        "--store",
        store,
    )
    assert code == 0
    assert out.startswith("restored t02/customers: 1 files, ")
    assert (target / "customers" / "part-0.parquet").is_file()


def test_verify_names_corrupt_and_missing_files_and_exits_1(
    store_copy: tuple[Path, str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    store, first, _ = store_copy
    manifest = json.loads((store / first / MANIFEST_FILE).read_bytes())
    files = manifest["tenants"]["t01"]["events"]["files"]
    os.truncate(store / first / files[0]["path"], 100)
    (store / first / files[1]["path"]).unlink()
    code, out, err = _run(capsys, "verify", first, "--store", str(store))
    assert code == 1 and err == ""
    lines = out.strip().splitlines()
    assert lines[0].startswith(f"{files[0]['path']}: corrupt Parquet: content hash differs (")
    assert lines[1] == f"{files[1]['path']}: missing"
    assert lines[2] == "t01/events: table checksum not recomputed (2 missing or unreadable files)"
    assert lines[3] == f"generation {first}: 3 problems"


def test_hand_edited_manifest_fails_verify_and_broken_json_is_exit_2(
    store_copy: tuple[Path, str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    store, first, _ = store_copy
    path = store / first / MANIFEST_FILE
    manifest = json.loads(path.read_bytes())
    manifest["name"] = "renamed"
    path.write_text(json.dumps(manifest))
    code, out, _ = _run(capsys, "verify", first, "--store", str(store))
    assert code == 1
    assert out.startswith(f"{MANIFEST_FILE}: content does not match generation id {first} ")
    path.write_text("{")
    code, out, err = _run(capsys, "show", first, "--store", str(store))
    assert code == 2 and out == ""
    assert err.startswith(f"qsim: error: {path}: not valid JSON (")
    assert err.count("\n") == 1


def test_restore_of_a_damaged_or_missing_file_is_exit_2(
    tmp_path: Path, store_copy: tuple[Path, str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    store, first, _ = store_copy
    customers = store / first / "tables" / "t01" / "customers" / "part-0.parquet"
    customers.write_bytes(customers.read_bytes()[:-10])
    code, _, err = _run(
        capsys,
        "restore",
        first,
        "--tenant",
        "t01",
        "--table",
        "customers",
        "--to",
        str(tmp_path / "a"),
        "--store",
        str(store),
    )
    assert code == 2
    assert err == (
        f"qsim: error: {customers}: content hash differs from the manifest; not restored "
        f"(run 'qsim dataset verify {first[:12]}')\n"
    )
    customers.unlink()
    code, _, err = _run(
        capsys,
        "restore",
        first,
        "--tenant",
        "t01",
        "--table",
        "customers",
        "--to",
        str(tmp_path / "b"),
        "--store",
        str(store),
    )
    assert code == 2
    assert err == f"qsim: error: {customers}: missing, cannot restore\n"


def test_import_of_corrupt_parquet_is_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "src" / "acme" / "sales" / "part-0.parquet"
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"garbage")
    code, out, err = _run(
        capsys, "import", str(tmp_path / "src"), "--name", "x", "--store", str(tmp_path / "s")
    )
    assert code == 2 and out == ""
    assert err.startswith(f"qsim: error: {bad}: cannot read (")
    assert err.count("\n") == 1


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["show", "0123456789abcdef"], "generation '0123456789abcdef' not found in {s} (known: w)"),
        (["verify", "x"], "generation 'x' not found in {s} (known: w)"),
        (
            ["generate", "--name", "a/b"],
            "generation name: 'a/b' " + NAME_RULE,
        ),
        (
            ["generate", "--name", ".."],
            "generation name: '..' " + NAME_RULE,
        ),
        (
            ["show", "../etc"],
            "generation: '../etc' " + NAME_RULE,
        ),
        (["generate", "--name", "n", "--scale", "-1"], "scale: must be positive, got -1.0"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    argv: list[str], message: str, built: tuple[Path, str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = _run(capsys, *argv, "--store", str(built[0]))
    assert code == 2
    assert err == f"qsim: error: {message.format(s=built[0])}\n"


def test_unwritable_store_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "file").write_text("")
    store = tmp_path / "file" / "store"
    code, _, err = _run(capsys, "generate", "--name", "n", "--scale", SCALE, "--store", str(store))
    assert code == 2
    assert err == f"qsim: error: store {store}: cannot create (Not a directory)\n"


def test_full_disk_on_a_small_tmpfs_is_exit_2_and_nothing_is_listed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mount = tmp_path / "tiny"
    mount.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root); the FakeFullDisk test covers ENOSPC")
    try:
        store = mount / "store"
        code, out, err = _run(
            capsys, "generate", "--name", "big", "--scale", "0.01", "--store", str(store)
        )
        assert code == 2 and out == ""
        assert err.startswith(
            f"qsim: error: store {store}: cannot write generation 'big': "
            f"No space left on device ({store}/.tmp-"
        )
        assert err.count("\n") == 1
        assert [p.name for p in store.iterdir()] == []
        code, out, _ = _run(capsys, "list", "--store", str(store))
        assert code == 0 and out == f"no generations in {store}\n"
    finally:
        subprocess.run(["umount", str(mount)], check=False)


def _start_generate(store: Path) -> subprocess.Popen[str]:
    argv = ["dataset", "generate", "--name", "big", "--scale", "0.2", "--store", str(store)]
    return subprocess.Popen(
        [sys.executable, "-m", "simulator", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for_first_file(store: Path, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while not list(store.glob(".tmp-*/tables/*/*/*")):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "generate wrote nothing within 60 s"
        time.sleep(0.05)


@pytest.mark.slow
def test_interrupted_or_killed_generate_is_never_listed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = tmp_path / "store"
    proc = _start_generate(store)
    _wait_for_first_file(store, proc)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and err == "qsim: interrupted\n"
    assert list(store.iterdir()) == []  # Ctrl-C removes its own temporary folder

    proc = _start_generate(store)
    _wait_for_first_file(store, proc)
    proc.kill()
    proc.wait(timeout=60)
    leftover = list(store.glob(".tmp-*"))
    assert len(leftover) == 1
    code, out, _ = _run(capsys, "list", "--store", str(store))
    assert code == 0 and out == f"no generations in {store}\n"
    code, out, _ = _run(capsys, "generate", "--name", "n", "--scale", SCALE, "--store", str(store))
    assert code == 0
    assert not leftover[0].exists()  # the killed writer's folder was cleaned up
    assert [p.name for p in store.iterdir()] == [out.strip().splitlines()[-1]]


@pytest.mark.parametrize(
    "argv",
    [
        ["list"],
        ["show", "tiny"],
        ["verify", "tiny"],
        ["restore", "tiny", "--tenant", "t01", "--table", "orders", "--to", "out"],
    ],
)
def test_a_store_that_does_not_exist_is_refused_not_created(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    store = tmp_path / "no-such-store"
    argv = [a.replace("out", str(tmp_path / "out")) for a in argv]
    code, out, err = _run(capsys, *argv, "--store", str(store))
    assert code == 2 and out == ""
    assert err == f"qsim: error: store {store} does not exist " + (
        "(qsim dataset generate or import creates one)\n"
    )
    assert not store.exists()
