"""The FastAPI application of ``equispec serve``.

Routes: ``/`` (the page), ``/static/*`` (its script and style, and plotly.js from the installed ``plotly``
package: nothing from the internet), ``/api/options`` (models, modes, potentials, limits), ``POST /api/jobs``
(a prediction or comparison; fast ones answer at once), ``GET``/``DELETE /api/jobs/ID`` (progress, result,
cancel) and ``/api/jobs/ID/files/NAME`` (downloads). Every failure is JSON ``{"error": "one line"}``.
"""

from __future__ import annotations

import contextlib
import functools
import hmac
import logging
import math
import os
import threading
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from ..errors import EquispecError, InputError
from .jobs import JobManager, error_line
from .tasks import TaskSpec, needs_worker
from .uploads import MEASURED_SUFFIXES, STRUCTURE_SUFFIXES, UploadFolder

__all__ = ["ServeSettings", "create_app", "TOKEN_COOKIE"]

log = logging.getLogger("equispec.web")

TOKEN_COOKIE = "equispec_token"
_STATIC = {"app.js": "text/javascript", "style.css": "text/css"}
_MODES = ("fast", "physics", "hybrid")


@dataclass
class ServeSettings:
    """What ``equispec serve`` was started with.

    Attributes:
        root: the private folder for uploads and job results (removed when the server stops).
        token: the token every request must carry, or None (loopback only).
        max_upload_bytes: largest request body (all files of one request together).
        workers: worker jobs running at once (physics, hybrid, S(Q,E)); the rest queue.
        scheduler, pool_workers: where a job's many-structure physics runs (``--scheduler``, ``--workers``).
        physics_cache: the physics cache folder (None: the command line's default).
        models: the models the page offers (shipped names).
    """

    root: Path
    token: str | None = None
    max_upload_bytes: int = 20 * 1024 * 1024
    workers: int = 1
    scheduler: str | None = None
    pool_workers: int | None = None
    physics_cache: str | None = None
    models: tuple[str, ...] = ("phdos", "xas-cu-k")


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


class _BodyLimit:
    """Refuse a request body over the limit before it is read (by its Content-Length) or as it streams."""

    def __init__(self, app, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        too_large = _error(413, f"upload too large: the limit is {self.limit / 2**20:g} MB per request")
        if length is not None and length.isdigit() and int(length) > self.limit:
            return await too_large(scope, receive, send)
        seen, refused = 0, False

        async def counted():
            nonlocal seen, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:  # answer now; the app reads a disconnect and its own answer is dropped
                refused = True
                await too_large(scope, receive, send)
                return {"type": "http.disconnect"}
            return message

        async def unless_refused(message):
            if not refused:
                await send(message)

        await self.app(scope, counted, unless_refused)


class _TokenCheck:
    """Every request carries the token: ``Authorization: Bearer TOKEN``, the cookie set by opening
    ``/?token=TOKEN`` once, or (downloads) ``?token=TOKEN``. Compared in constant time."""

    def __init__(self, app, token: str):
        self.app, self.token = app, token

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        request = Request(scope)
        offered = request.headers.get("authorization", "")
        offered = offered[7:] if offered.lower().startswith("bearer ") else ""
        from_query = request.query_params.get("token", "")
        candidates = [offered, request.cookies.get(TOKEN_COOKIE, ""), from_query]
        if not any(c and hmac.compare_digest(c.encode(), self.token.encode()) for c in candidates):
            return await _error(401, "missing or wrong token: open the address the server printed")(scope, receive, send)
        if from_query and scope["path"] == "/":  # keep it in a cookie, and out of the address bar and history
            response = RedirectResponse("/", status_code=303)
            response.set_cookie(TOKEN_COOKIE, self.token, httponly=True, samesite="strict")
            return await response(scope, receive, send)
        return await self.app(scope, receive, send)


class _Predictors:
    """Fast-mode predictors, each loaded once and used by one request at a time."""

    def __init__(self):
        self._loaded: dict[str, object] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def lock(self, model: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(model, threading.Lock())

    def get(self, model: str):
        """The loaded predictor of ``model``; call with :meth:`lock` held."""
        if model not in self._loaded:
            from .. import workflows

            self._loaded[model] = workflows.load_model(model, mode="fast")
        return self._loaded[model]


def _number(form, key: str, label: str, positive: bool = True) -> float | None:
    text = str(form.get(key) or "").strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        raise InputError(label, f"not a number: {text[:40]!r}") from None
    if not math.isfinite(value) or (positive and value <= 0):
        raise InputError(label, f"must be a finite number above 0 (got {text[:40]})")
    return value


def create_app(settings: ServeSettings) -> FastAPI:
    """The application: one :class:`JobManager` and one set of loaded fast models for its lifetime."""
    from ..workflows.options import potential_names

    potentials = potential_names()
    uploads = UploadFolder(settings.root)
    jobs = JobManager(settings.root, settings.workers)
    predictors = _Predictors()
    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield
        jobs.close()  # the server stops: its workers stop too

    app = FastAPI(title="equispec", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    app.state.jobs, app.state.settings, app.state.predictors = jobs, settings, predictors

    @app.get("/", response_class=HTMLResponse)
    def index() -> Response:
        return HTMLResponse(_static_text("index.html"), headers={"Cache-Control": "no-store"})

    @app.get("/static/{name}")
    def static(name: str) -> Response:
        if name == "plotly.min.js":
            return FileResponse(_plotly_js(), media_type="text/javascript")
        if name not in _STATIC:
            return _error(404, f"no such file: {name[:60]}")
        return Response(_static_text(name), media_type=_STATIC[name])

    @app.get("/api/options")
    def options() -> dict:
        from .. import __version__

        return {"version": __version__, "models": list(settings.models), "modes": list(_MODES),
                "potentials": list(potentials),
                "default_potentials": {model: _default_potential(model) for model in settings.models},
                "mp_ids": bool(os.environ.get("MP_API_KEY")), "max_upload_mb": settings.max_upload_bytes / 2**20,
                "structure_suffixes": list(STRUCTURE_SUFFIXES), "measured_suffixes": list(MEASURED_SUFFIXES)}

    @app.post("/api/jobs")
    async def new_job(request: Request) -> Response:
        try:
            form = await request.form(max_files=64, max_fields=64)
        except Exception as exc:  # noqa: BLE001 - a malformed multipart body
            return _error(400, f"could not read the form ({' '.join(str(exc).split())[:120]})")
        try:
            spec = await _task_spec(form)
        except EquispecError as exc:
            return _error(400, error_line(exc))
        finally:
            await form.close()
        if needs_worker(spec):
            return JSONResponse(jobs.submit(spec), status_code=202)
        job = await run_in_threadpool(_run_fast, spec)
        return JSONResponse(job.to_dict(), status_code=200 if job.status == "done" else 400)

    def _run_fast(spec: TaskSpec):
        with predictors.lock(spec.model):
            return jobs.run_here(spec, lambda: predictors.get(spec.model))

    async def _task_spec(form) -> TaskSpec:
        model = str(form.get("model") or "phdos")
        if model not in settings.models:
            raise InputError("model", f"unknown model {model[:40]!r} (this server offers {', '.join(settings.models)})")
        mode = str(form.get("mode") or "fast")
        if mode not in _MODES:
            raise InputError("mode", f"unknown mode {mode[:20]!r} (fast, physics or hybrid)")
        potential = str(form.get("potential") or "").strip() or None
        if potential is not None and potential not in potentials:
            raise InputError("potential", f"unknown potential {potential[:40]!r} (known: {', '.join(potentials)})")
        if mode == "fast":
            potential = None
        structures = []
        for upload in form.getlist("structure"):
            if not hasattr(upload, "read") or not upload.filename:
                continue
            stored = uploads.store(upload.filename, await upload.read(), STRUCTURE_SUFFIXES, "structure")
            structures.append({"path": str(stored.path), "name": stored.name})
        mp_id = str(form.get("mp_id") or "").strip()
        if mp_id:
            from ..workflows.options import is_mp_id

            if not is_mp_id(mp_id):
                raise InputError(mp_id[:40], "not a Materials Project id (mp-NNN)")
            if not os.environ.get("MP_API_KEY"):
                raise InputError(mp_id, "Materials Project ids need MP_API_KEY set where the server runs")
            structures.append({"mp_id": mp_id})
        if not structures:
            raise InputError("structure", "upload a structure file (CIF, POSCAR, ...) or give an mp-id")
        for structure in structures:  # read now, as the command line does, so that a bad file fails at once
            if "path" in structure:
                await run_in_threadpool(_read_structure, structure["path"])
        measured = None
        upload = form.get("measured")
        if hasattr(upload, "read") and upload.filename:
            stored = uploads.store(upload.filename, await upload.read(), MEASURED_SUFFIXES, "measured spectrum")
            measured = {"path": str(stored.path), "name": stored.name}
            await run_in_threadpool(_read_measured, stored.path, model)
        instrument = str(form.get("instrument") or "").strip() or None
        spec = TaskSpec("compare" if measured else "predict", structures, model, mode, potential, measured,
                        instrument=instrument, ei_mev=_number(form, "ei_mev", "Ei"),
                        temperature_k=_number(form, "temperature_k", "temperature"),
                        resolution_mev=_number(form, "resolution_mev", "resolution"),
                        physics_cache=settings.physics_cache, scheduler=settings.scheduler,
                        workers=settings.pool_workers)
        if measured is None and any(v is not None for v in (instrument, spec.ei_mev, spec.temperature_k,
                                                            spec.resolution_mev)):
            raise InputError("instrument, Ei, temperature", "are for a comparison: upload a measured spectrum")
        return spec

    @app.get("/api/jobs/{job_id}")
    def job_state(job_id: str) -> Response:
        job = jobs.get(job_id)
        return _error(404, "no such job") if job is None else JSONResponse(job.to_dict())

    @app.delete("/api/jobs/{job_id}")
    def cancel(job_id: str) -> Response:
        job = jobs.cancel(job_id)
        return _error(404, "no such job") if job is None else JSONResponse(job.to_dict())

    @app.get("/api/jobs/{job_id}/files/{name}")
    def download(job_id: str, name: str) -> Response:
        job = jobs.get(job_id)
        path = None if job is None else job.file(name)
        if path is None or not path.is_file():
            return _error(404, "no such file")
        return FileResponse(path, filename=name)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        log.exception("equispec serve: %s %s failed", request.method, request.url.path)
        return _error(500, error_line(exc))

    wrapped = _BodyLimit(app, settings.max_upload_bytes)
    if settings.token:
        wrapped = _TokenCheck(wrapped, settings.token)
    wrapped.state = app.state  # tests and the server reach the job manager through the outer app
    return wrapped


def _read_structure(path: str) -> None:
    from ..workflows import read_structure

    read_structure(path)


@functools.lru_cache(maxsize=None)
def _model_record(model: str) -> dict:
    """A model's task and default potential, from its checked ``model.json`` (the weights are not read)."""
    from ..workflows.options import describe_model

    return describe_model(model)


def _task_of(model: str) -> str:
    """``xas`` or ``phdos``: what a model predicts."""
    return _model_record(model)["task"]


def _default_potential(model: str) -> str | None:
    """The potential physics and hybrid modes use when none is chosen (None for a model without them)."""
    return _model_record(model)["default_potential"]


def _read_measured(path: Path, model: str) -> None:
    """Read a measured upload as the model's kind expects (XAS; a DOS table or an S(Q,E) map for phonons)."""
    from ..workflows import read_measured

    read_measured(str(path), _task_of(model))


def _static_text(name: str) -> str:
    return resources.files("equispec.web").joinpath("static", name).read_text(encoding="utf-8")


def _plotly_js() -> Path:
    """plotly.min.js as the installed ``plotly`` package ships it (served from here: no CDN)."""
    import plotly

    path = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    if not path.is_file():
        raise InputError("plotly", "this plotly installation has no package_data/plotly.min.js")
    return path

