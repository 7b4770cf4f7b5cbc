"""The aiohttp service of ``qsim serve`` and its page.

aiohttp serves it: a maintained, widely used asyncio web framework that Ray already
depends on, so the service adds no dependency. Engine work runs in the workbench's threads;
the event loop only answers the page. The page is server-rendered (jinja2, autoescape on)
with one small script (``templates/serve.js``) that submits a replay and polls its job
every 100 ms, writing what comes back with ``textContent`` only, never as markup.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import jinja2
from aiohttp import web

from simulator import __version__
from simulator.errors import QsimError
from simulator.results.layout import HISTORY_FILE
from simulator.results.masking import neutralize_bidi
from simulator.serve.audit import ReplayLog
from simulator.serve.security import guard
from simulator.serve.workbench import ReplayRequest, Workbench

TEMPLATES = Path(__file__).parent / "templates"
REPORT_CSS = Path(__file__).parents[1] / "report" / "templates" / "report.css"
STATIC = {
    "serve.js": (TEMPLATES / "serve.js", "text/javascript"),
    "serve.css": (TEMPLATES / "serve.css", "text/css"),
    "report.css": (REPORT_CSS, "text/css"),
}
# The report served at /nightly carries its own, stricter, CSP in a meta tag.
REPORT_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
    "img-src data:; frame-ancestors 'none'; base-uri 'none'"
)
_TENANT = re.compile(r"^[\w.-]{1,64}$")
WORKBENCH = web.AppKey("workbench", Workbench)
LOG = web.AppKey("log", ReplayLog)


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["shown"] = neutralize_bidi
    return env


def _error(status: int, message: str) -> web.Response:
    """A refusal: the request's own text (tenant, ids, the pasted statement) may be in it,
    never an engine's answer (a failed replay's error is masked by the workbench)."""
    return web.json_response({"error": neutralize_bidi(message)}, status=status)


async def page(request: web.Request) -> web.Response:
    """The page: the tenants, and for ``?tenant=`` its queries, the engines and the form."""
    bench = request.app[WORKBENCH]
    tenant = request.query.get("tenant", "")
    error = ""
    catalog: list[dict[str, Any]] = []
    nightly = None
    dialect = ""
    if tenant:
        try:
            catalog = bench.catalog(tenant)
            dialect = bench.pasted_dialect(tenant)
            nightly = request.app[LOG].last_nightly(tenant, bench.cfg.run.name)
        except QsimError as err:
            error, tenant = str(err), ""
    cfg = bench.cfg
    html = (
        _environment()
        .get_template("serve.html.j2")
        .render(
            qsim_version=__version__,
            config=cfg.path,
            tenants=bench.tenants(),
            tenant=tenant,
            catalog=catalog,
            engines=bench.engine_names,
            baseline=cfg.run.baseline,
            candidate=(
                cfg.run.candidates or [n for n in bench.engine_names if n != cfg.run.baseline]
            )[0],
            nightly=nightly,
            dialect=dialect,
            error=error,
            diff_sample_rows=bench.diff_sample_rows,
            max_sql_chars=bench.max_sql_chars,
        )
    )
    return web.Response(text=html, content_type="text/html")


async def static(request: web.Request) -> web.Response:
    """The page's script and style sheets (nothing else is served from disk)."""
    entry = STATIC.get(request.match_info["name"])
    if entry is None:
        return web.Response(status=404, text="not found\n")
    path, content_type = entry
    return web.Response(body=path.read_bytes(), content_type=content_type)


async def no_icon(request: web.Request) -> web.Response:
    """No favicon (204, so the browser does not log a 404)."""
    return web.Response(status=204)


async def _json_body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except (ValueError, UnicodeDecodeError):
        raise web.HTTPBadRequest(text="request body is not JSON\n") from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text="request body is not a JSON object\n")
    return body


async def replay(request: web.Request) -> web.Response:
    """Queue a replay; 202 with its job id, or 400 with one line saying what is refused."""
    body = await _json_body(request)
    try:
        replay_request = ReplayRequest(
            tenant=str(body.get("tenant", "")),
            baseline=str(body.get("baseline", "")),
            candidate=str(body.get("candidate", "")),
            query_id=str(body.get("query_id", "")),
            sql=str(body.get("sql", "")),
            reruns=int(body.get("reruns") or 0),
        )
    except (TypeError, ValueError):
        return _error(400, "reruns: not a number")
    log, client = request.app[LOG], request.remote or ""
    try:
        job = request.app[WORKBENCH].submit(
            replay_request, on_done=lambda finished: log.record(finished, client)
        )
    except QsimError as err:
        log.record_refused(replay_request, client)
        return _error(400, str(err))
    return web.json_response(job.view(), status=202)


async def job_status(request: web.Request) -> web.Response:
    """A job's progress as the page shows it."""
    job = request.app[WORKBENCH].job(request.match_info["job_id"])
    if job is None:
        return _error(404, "no such replay (the service keeps the last 200)")
    return web.json_response(job.view())


async def warm(request: web.Request) -> web.Response:
    """Start the tenant's engine workers now (the page asks when a tenant is picked)."""
    body = await _json_body(request)
    bench = request.app[WORKBENCH]
    tenant = str(body.get("tenant", ""))
    try:
        bench.warm(tenant)
    except QsimError as err:
        return _error(400, str(err))
    return web.json_response({"tenant": tenant, "warm": bench.is_warm(tenant)})


async def status(request: web.Request) -> web.Response:
    """Whether the tenant's engine workers are warm, or why they could not start."""
    tenant = request.query.get("tenant", "")
    bench = request.app[WORKBENCH]
    return web.json_response(
        {"warm": bench.is_warm(tenant), "error": bench.warm_errors.get(tenant, "")}
    )


async def reset(request: web.Request) -> web.Response:
    """Throw away the tenant's session workspace (back to the generation)."""
    body = await _json_body(request)
    bench = request.app[WORKBENCH]
    try:
        await request.loop.run_in_executor(None, bench.reset, str(body.get("tenant", "")))
    except QsimError as err:
        return _error(400, str(err))
    return web.json_response({"reset": True})


async def nightly_report(request: web.Request) -> web.StreamResponse:
    """The report of the tenant's last nightly run (the file the history names)."""
    bench = request.app[WORKBENCH]
    tenant = request.match_info["tenant"]
    if not _TENANT.match(tenant) or tenant not in bench.tenants():
        return web.Response(status=404, text="unknown tenant\n")
    nightly = request.app[LOG].last_nightly(tenant, bench.cfg.run.name)
    if nightly is None or not Path(nightly.report_path).is_file():
        return web.Response(status=404, text="no nightly report recorded\n")
    response = web.Response(body=Path(nightly.report_path).read_bytes(), content_type="text/html")
    response.headers["Content-Security-Policy"] = REPORT_CSP
    return response


def build_app(bench: Workbench, token: str | None, history: Path | None = None) -> web.Application:
    """The service over ``bench``; ``token`` None means loopback only (see security)."""
    app = web.Application(
        middlewares=[guard(token)], client_max_size=4 * bench.max_sql_chars + 4096
    )
    app[WORKBENCH] = bench
    if history is None:  # the results folder a run would create
        Path(bench.cfg.run.results_dir).mkdir(parents=True, exist_ok=True)
    app[LOG] = ReplayLog(history or Path(bench.cfg.run.results_dir) / HISTORY_FILE)
    app.router.add_get("/", page)
    app.router.add_get("/static/{name}", static)
    app.router.add_get("/favicon.ico", no_icon)
    app.router.add_get("/api/jobs/{job_id}", job_status)
    app.router.add_get("/api/status", status)
    app.router.add_post("/api/replay", replay)
    app.router.add_post("/api/warm", warm)
    app.router.add_post("/api/reset", reset)
    app.router.add_get("/nightly/{tenant}", nightly_report)
    return app
