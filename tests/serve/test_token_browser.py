"""A service bound beyond the loopback: every request without the token is refused (page,
API, static files); the token opened once in the address sets a cookie and leaves the
address bar, and the page never contains it."""

from __future__ import annotations

import socket
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from serve_fixtures import Service, start_service

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.xdist_group("serve_token")]
TOKEN = "qsim-test-token-8c1f0e"


def _outside_address() -> str:
    """An address of this machine other than the loopback (the one a default route uses)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect(("192.0.2.1", 9))  # TEST-NET: nothing is sent by a UDP connect
        return str(probe.getsockname()[0])


@pytest.fixture(scope="module")
def outside(serve_config: Path) -> Iterator[Service]:
    running = start_service(serve_config, "--host", "0.0.0.0", env={"QSIM_SERVE_TOKEN": TOKEN})
    yield running
    assert running.stop() == 0


def _status(url: str, headers: dict[str, str] | None = None, data: bytes | None = None) -> int:
    request = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as err:
        return int(err.code)


def test_requests_without_the_token_are_refused(outside: Service) -> None:
    port = outside.url.rsplit(":", 1)[1].rstrip("/")
    base = f"http://{_outside_address()}:{port}"
    assert TOKEN not in "\n".join(outside.lines)  # a token from the environment is not printed
    for path in ("/", "/?tenant=t01", "/static/serve.js", "/api/status?tenant=t01"):
        assert _status(base + path) == 401, path
        assert _status(base + path, {"X-Qsim-Token": "wrong"}) == 401, path
    post = {"X-Qsim-Request": "1"}
    assert _status(base + "/api/reset", post, b'{"tenant": "t01"}') == 401
    assert _status(base + "/?token=wrong") == 401
    assert _status(base + "/", {"X-Qsim-Token": TOKEN}) == 200


def test_the_token_in_the_address_becomes_a_cookie_and_is_never_shown(
    browser: Any, outside: Service
) -> None:
    port = outside.url.rsplit(":", 1)[1].rstrip("/")
    base = f"http://{_outside_address()}:{port}"
    page = browser.new_page()
    page.goto(f"{base}/?token={TOKEN}")
    assert page.url == f"{base}/"
    assert page.locator("#tenant-pick option").count() == 2
    page.goto(f"{base}/?tenant=t01")
    assert page.inner_text("#tenant-name") == "t01"
    assert TOKEN not in page.content()
    assert page.evaluate("document.cookie") == ""  # HttpOnly: no script can read it
    page.close()
