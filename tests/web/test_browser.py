"""``equispec serve`` in a real browser: Debian's chromium driven by Playwright against a server started as
the command line starts it (``python -m equispec serve --port 0``), checked against what the command line
writes for the same inputs (``compare --json``, ``predict -o OUT.json`` / ``-o OUT.csv``).

The server and the browser are started once for the module; each test opens its own browser context (own
tabs, own page state), so that every test passes alone and in any order. Without chromium or Playwright the
module is skipped, unless ``EQUISPEC_REQUIRE_BROWSER=1`` (CI sets it): then it fails.
"""

from __future__ import annotations

import importlib.util
import io
import json
import math
import os
import queue
import signal
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import ROOT, SHARED_DATA

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
REQUIRED = os.environ.get("EQUISPEC_REQUIRE_BROWSER") == "1"


def _missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    if importlib.util.find_spec("playwright") is None:
        return "playwright is not installed (pip install -e '.[test]')"
    for module in ("fastapi", "uvicorn", "multipart", "plotly"):
        if importlib.util.find_spec(module) is None:
            return f"the web extra is missing ({module}): pip install -e '.[test]'"
    if not CHROMIUM.is_file():
        return f"{CHROMIUM} is missing (apt-get install chromium)"
    return None


def _unavailable(reason: str):
    """Skip, or fail where CI requires the browser tests."""
    if REQUIRED:
        pytest.fail(f"EQUISPEC_REQUIRE_BROWSER=1 but {reason}", pytrace=False)
    pytest.skip(f"browser tests need Debian's chromium and Playwright: {reason}", allow_module_level=True)


if (_why := _missing()) is not None:
    _unavailable(_why)

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page, sync_playwright

V_CIF = "data/examples/V.cif"  # as the CLI is given them: relative to the project root
# ../shared/data/measured/... unless EQUISPEC_SHARED_DATA points elsewhere
V_MEASURED = os.path.relpath(SHARED_DATA / "measured" / "phdos" / "multiphonon" / "V_ARCS_Ei120meV_300K_dos.csv", ROOT)
SI_CIF = "data/examples/Si.cif"
SCORE_KEYS = ("mse", "cosine", "pearson", "spearman", "wasserstein")
#: Where the screenshot test writes the page: a temporary file, or the README's picture when
#: ``EQUISPEC_SCREENSHOT=docs/img/serve.png`` is set (so that a test run never changes the checkout).
SCREENSHOT = os.environ.get("EQUISPEC_SCREENSHOT")
FAST_S = 90_000  # ms: a fast request (the first one loads the model)
PHYSICS_S = 150_000  # ms: a physics job of Si (a worker process, SevenNet forces and phonopy)

# The comparison the CLI makes, with a spy on equispec.workflows.compare to keep its arrays (the JSON the CLI
# prints has the scores only, the page's overlay plot draws the arrays).
_CLI_ARRAYS = """
import sys
import numpy as np
import equispec.workflows as workflows
from equispec.cli.main import main

real, seen = workflows.compare, []
def spy(*args, **kwargs):
    seen.append(real(*args, **kwargs))
    return seen[-1]
workflows.compare = spy
code = main(sys.argv[2:])
assert code == 0 and len(seen) == 1, (code, seen)
np.savez(sys.argv[1], **seen[0].arrays())
"""


def _env(tmp: Path) -> dict:
    cache = tmp / "equispec-cache"
    cache.mkdir(exist_ok=True)
    return dict(os.environ, EQUISPEC_CACHE_DIR=str(cache), OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")


def _run(args: list[str], env: dict, timeout: float = 180) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout,
                          check=False)
    assert done.returncode == 0, f"{' '.join(args)} failed ({done.returncode}): {done.stderr[-2000:]}"
    return done


# --------------------------------------------------------------------------------------------- fixtures


class Server:
    def __init__(self, url: str, process: subprocess.Popen, log: Path):
        self.url, self.process, self.log = url, process, log

    def alive(self) -> bool:
        return self.process.poll() is None


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """``python -m equispec serve --port 0`` in a subprocess; its address is its first stdout line. Stopped
    with SIGINT (Ctrl-C) at the end of the module, as a user stops it: it must end within 30 s, in one line,
    having removed its private folder (``TMPDIR`` points into the test's folder to see that)."""
    tmp = tmp_path_factory.mktemp("serve")
    log, private = tmp / "server.stderr", tmp / "tmp"
    private.mkdir()
    env = dict(_env(tmp), TMPDIR=str(private))
    with open(log, "w") as err:
        command = [sys.executable, "-m", "equispec", "serve", "--port", "0", "--cache", str(tmp / "cache")]
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=err, text=True)
    lines: queue.Queue = queue.Queue()

    def drain():  # keep reading stdout so that the server never blocks on a full pipe
        for line in process.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=drain, daemon=True).start()
    stopped = False
    try:
        try:
            first = lines.get(timeout=120)
        except queue.Empty:
            first = None
        if not first or not first.startswith("equispec: serving http://127.0.0.1:"):
            pytest.fail(f"the server did not start: {first!r}; stderr: {log.read_text()[-2000:]}", pytrace=False)
        assert first.rstrip("\n").endswith("(Ctrl-C stops it; results are kept until then)"), first
        url = first.split()[2]
        assert url.endswith("/") and int(url.rsplit(":", 1)[1].rstrip("/")) > 0, first
        assert any(p.name.startswith("equispec-serve-") for p in private.iterdir()), list(private.iterdir())
        yield Server(url, process, log)
        if process.poll() is not None:
            pytest.fail(f"the server ended during the tests (exit status {process.returncode}); stderr: "
                        f"{log.read_text()[-2000:]}", pytrace=False)
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the server did not stop within 30 s of SIGINT; stderr: {log.read_text()[-2000:]}",
                        pytrace=False)
        stopped = True
        text = log.read_text()
        assert process.returncode in (0, 130), (process.returncode, text[-2000:])  # 130: "equispec: interrupted"
        assert "Traceback" not in text, text[-3000:]
        assert not [p for p in private.iterdir() if p.name.startswith("equispec-serve-")], list(private.iterdir())
    finally:
        if not stopped and process.poll() is None:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def browser():
    playwright = sync_playwright().start()
    try:
        try:
            chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        except PlaywrightError as exc:
            _unavailable(f"chromium does not start: {str(exc).splitlines()[0]}")
        yield chromium
        chromium.close()
    finally:
        playwright.stop()


@pytest.fixture
def context(browser, server):
    """A fresh browser context (its own tabs and page state) per test, around 1280x1000."""
    context = browser.new_context(viewport={"width": 1280, "height": 1000}, accept_downloads=True)
    context.set_default_timeout(30_000)
    yield context
    context.close()


def open_page(context, server) -> Page:
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.script_errors = errors
    page.goto(server.url)
    page.wait_for_function("document.querySelectorAll('#model option').length > 0")  # /api/options arrived
    return page


@pytest.fixture
def page(context, server) -> Page:
    page = open_page(context, server)
    yield page
    assert page.script_errors == [], page.script_errors


@pytest.fixture(scope="module")
def cli_comparison(tmp_path_factory):
    """What ``equispec compare V.cif V_ARCS...csv --model phdos --instrument ARCS --ei 120 --json`` prints,
    and the arrays of the same comparison (the CLI's own code path, watched by a spy)."""
    tmp = tmp_path_factory.mktemp("cli-compare")
    env = _env(tmp)
    args = ["compare", V_CIF, V_MEASURED, "--model", "phdos", "--instrument", "ARCS", "--ei", "120", "--json"]
    arrays = tmp / "arrays.npz"
    spied = subprocess.Popen([sys.executable, "-c", _CLI_ARRAYS, str(arrays), *args], cwd=ROOT, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    printed = _run(["-m", "equispec", *args], env)
    out, err = spied.communicate(timeout=180)
    assert spied.returncode == 0, err[-2000:]
    record = json.loads(printed.stdout)
    same_record(json.loads(out), record)  # the spy's run printed the same JSON
    with np.load(arrays) as data:
        return record, {key: data[key] for key in data.files}


@pytest.fixture(scope="module")
def cli_prediction(tmp_path_factory):
    """``equispec predict data/examples/Si.cif -o OUT.json`` and ``-o OUT.csv``."""
    tmp = tmp_path_factory.mktemp("cli-predict")
    env = _env(tmp)
    runs = [subprocess.Popen([sys.executable, "-m", "equispec", "predict", SI_CIF, "-o", str(tmp / f"si.{suffix}")],
                             cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for suffix in ("json", "csv")]
    for run in runs:
        err = run.communicate(timeout=180)[1]
        assert run.returncode == 0, err[-2000:]
    csv_text = (tmp / "si.csv").read_bytes().decode()  # as written: its rows end in \r\n (csv module)
    return json.loads((tmp / "si.json").read_text()), csv_text


# --------------------------------------------------------------------------------------------- helpers


def fill_form(page: Page, structure: str, *, mode: str = "fast", measured: str | None = None, **fields) -> None:
    """Choose the files (paths relative to the project root) and fill the fields (``instrument="ARCS"``...)."""
    page.set_input_files("#structure", str(ROOT / structure))
    page.set_input_files("#measured", [] if measured is None else [str(ROOT / measured)])
    page.select_option("#model", "phdos")
    page.select_option("#mode", mode)
    for field in ("instrument", "ei", "temperature", "resolution"):
        page.fill(f"#{field}", str(fields.pop(field, "")))
    assert not fields, fields


def submit(page: Page) -> tuple[int, dict]:
    """Click Predict; the status and JSON of the server's answer to the POST."""
    with page.expect_response(lambda r: r.url.endswith("/api/jobs") and r.request.method == "POST",
                              timeout=FAST_S) as answer:
        page.click("#submit")
    response = answer.value
    return response.status, response.json()


def shown(page: Page, job_id: str, timeout: float = FAST_S) -> dict:
    """Wait until the page has drawn ``job_id``'s result; the result record the page holds."""
    page.wait_for_selector(f"#figures[data-ready='{job_id}']", state="attached", timeout=timeout)
    return page.evaluate("(id) => state.jobs.get(id).result", job_id)


def traces(page: Page, figure_id: str) -> list[dict]:
    """The plotly traces of ``#plot-<figure_id>`` as drawn (``name``, ``x``, ``y``)."""
    return page.evaluate("(id) => document.getElementById(id).data.map((t) => ({name: t.name, x: t.x, y: t.y, "
                         "fill: t.fill || null}))", f"plot-{figure_id}")


def download(page: Page, name: str) -> bytes:
    """Fetch the page's ``a.download`` link called ``name`` with the page's own cookies."""
    link = page.locator("#downloads a.download", has_text=name)
    assert link.count() == 1, page.inner_html("#downloads")
    assert link.get_attribute("download") == name
    response = page.request.get(page.evaluate("(a) => a.href", link.element_handle()))
    assert response.ok, response.text()
    return response.body()


def close(actual: float, expected: float, rel: float = 1e-9) -> bool:
    return math.isclose(actual, expected, rel_tol=rel, abs_tol=1e-300)


def same_record(actual, expected, rel: float = 1e-9, where: str = "") -> None:
    """Equal JSON values, floats to ``rel``."""
    if isinstance(expected, float) and isinstance(actual, (int, float)) and not isinstance(actual, bool):
        assert close(actual, expected, rel), f"{where}: {actual!r} != {expected!r}"
    elif isinstance(expected, dict):
        assert isinstance(actual, dict) and actual.keys() == expected.keys(), f"{where}: {actual!r} != {expected!r}"
        for key in expected:
            same_record(actual[key], expected[key], rel, f"{where}.{key}")
    elif isinstance(expected, list):
        assert isinstance(actual, list) and len(actual) == len(expected), f"{where}: {actual!r} != {expected!r}"
        for k, (a, e) in enumerate(zip(actual, expected)):
            same_record(a, e, rel, f"{where}[{k}]")
    else:
        assert actual == expected, f"{where}: {actual!r} != {expected!r}"


def compare_on_page(page: Page) -> tuple[str, dict]:
    """Upload V.cif and its measured DOS (ARCS, Ei 120 meV, fast mode) and wait for the drawn comparison."""
    if not (ROOT / V_MEASURED).is_file():
        pytest.fail(f"shared data missing: {ROOT / V_MEASURED} (set EQUISPEC_SHARED_DATA)", pytrace=False)
    fill_form(page, V_CIF, measured=V_MEASURED, instrument="ARCS", ei=120)
    status, job = submit(page)
    assert status == 200 and job["status"] == "done", job
    result = shown(page, job["id"])
    assert page.is_hidden("#error")
    assert page.inner_text("#result-title") == "Comparison"
    return job["id"], result


# --------------------------------------------------------------------------------------------- tests


def test_a_comparison_on_the_page_is_the_one_the_cli_prints(page, cli_comparison):
    cli, cli_arrays = cli_comparison
    job_id, result = compare_on_page(page)

    # the scores the page holds are the CLI's, and the table shows each of them
    same_record({k: v for k, v in result["scores"].items() if k not in ("structure", "measured")},
                {k: v for k, v in cli.items() if k not in ("structure", "measured")})
    rows = page.eval_on_selector_all("#scores tbody tr", "(rows) => rows.map((r) => [r.dataset.score, "
                                     "r.cells[1].textContent])")
    table = dict(rows)
    assert set(SCORE_KEYS) <= table.keys(), rows
    for key in SCORE_KEYS:  # the table rounds to 6 significant digits: it shows the CLI's number so rounded
        assert table[key] == page.evaluate("(v) => v.toPrecision(6)", cli[key]), (key, table[key], cli[key])
        assert close(float(table[key]), cli[key], 1e-5)
    assert page.is_visible("#scores")

    # the overlay draws the compared arrays: exactly those the page's comparison.npz holds, and the CLI's
    overlay = traces(page, "overlay")
    assert [t["name"] for t in overlay] == ["measured", "predicted"]
    x, measured, predicted = (np.array(v, dtype=float) for v in (overlay[0]["x"], overlay[0]["y"], overlay[1]["y"]))
    assert overlay[1]["x"] == overlay[0]["x"]
    assert len(x) > 10 and x[0] == cli["e_min"] and x[-1] == cli["e_max"]
    for values, key in ((x, "grid"), (measured, "measured"), (predicted, "predicted")):
        np.testing.assert_allclose(values, cli_arrays[key], rtol=1e-9, atol=0, err_msg=key)
    residual = traces(page, "residual")
    np.testing.assert_allclose(np.array(residual[0]["y"], dtype=float), predicted - measured, rtol=1e-12, atol=1e-15)

    # the downloads: comparison.json is the CLI's JSON, named by the uploaded files; the npz holds the plot's arrays
    names = page.eval_on_selector_all("#downloads a.download", "(links) => links.map((a) => a.textContent)")
    assert names == ["comparison.json", "comparison.png", "comparison.npz"]
    downloaded = json.loads(download(page, "comparison.json"))
    assert downloaded["structure"] == "V.cif"
    assert downloaded["measured"] == Path(V_MEASURED).name
    assert (cli["structure"], cli["measured"]) == (V_CIF, V_MEASURED)
    same_record({k: v for k, v in downloaded.items() if k not in ("structure", "measured")},
                {k: v for k, v in cli.items() if k not in ("structure", "measured")})
    assert downloaded == result["scores"]
    with np.load(io.BytesIO(download(page, "comparison.npz"))) as npz:
        assert np.array_equal(npz["grid"], x) and np.array_equal(npz["measured"], measured)
        assert np.array_equal(npz["predicted"], predicted)  # exactly: the plot's numbers are unrounded
    assert download(page, "comparison.png")[:8] == b"\x89PNG\r\n\x1a\n"
    assert job_id in page.get_attribute("#figures", "data-ready")


def test_b_a_fast_prediction_draws_and_downloads_what_the_cli_writes(page, cli_prediction):
    cli_records, cli_csv = cli_prediction
    (cli,) = cli_records
    fill_form(page, SI_CIF)
    status, job = submit(page)
    assert status == 200 and job["status"] == "done", job
    result = shown(page, job["id"])
    assert page.inner_text("#result-title") == "Prediction"
    assert page.is_hidden("#scores")

    drawn = traces(page, "dos-0")
    by_name = {t["name"]: t for t in drawn}
    total = by_name["total DOS"]
    assert total["x"] == cli["freq_cm1"]
    np.testing.assert_allclose(np.array(total["y"], dtype=float), cli["dos"], rtol=1e-9, atol=1e-12)
    # the ±2σ band: a lower and an upper trace around the DOS, the upper filled to the lower
    assert "−2σ" in by_name and "±2σ calibrated" in by_name, list(by_name)
    lower, upper = (np.array(by_name[n]["y"], dtype=float) for n in ("−2σ", "±2σ calibrated"))
    assert by_name["±2σ calibrated"]["fill"] == "tonexty"
    dos, std = np.array(cli["dos"]), np.array(cli["dos_std"])
    band = 2 * cli["reliability"]["sigma_scale"] * std
    np.testing.assert_allclose(upper, dos + band, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(lower, np.clip(dos - band, 0, None), rtol=1e-9, atol=1e-12)
    assert "Si partial" in by_name

    reliability = page.eval_on_selector_all("#reliability li", "(items) => items.map((li) => li.textContent)")
    assert len(reliability) == 1 and reliability[0].startswith("Si.cif: expected MSE "), reliability
    assert f"{cli['reliability']['expected_mse']:.3f}" in reliability[0]
    assert page.locator("#summary li").count() == 1

    # prediction.csv: the CLI's file byte for byte, but for the lines that name the input (path there, file name here)
    page_csv = download(page, "prediction.csv").decode()
    cli_lines, page_lines = cli_csv.splitlines(keepends=True), page_csv.splitlines(keepends=True)
    assert len(page_lines) == len(cli_lines) > 50
    named = 0
    for cli_line, page_line in zip(cli_lines, page_lines):
        if SI_CIF in cli_line:
            named += 1
            assert page_line == cli_line.replace(SI_CIF, "Si.cif")
        else:
            assert page_line == cli_line
    assert named == 2  # the reliability comment and the column header
    page_json = json.loads(download(page, "prediction.json"))
    assert page_json[0]["name"] == "Si.cif" and page_json[0]["dos"] == total["y"]
    assert [d["name"] for d in result["downloads"]] == ["prediction.csv", "prediction.json", "prediction.png"]


def test_c_a_bad_upload_is_one_line_and_the_server_stays_up(page, server, tmp_path):
    def good_prediction_still_works():
        fill_form(page, "data/examples/Al.cif")
        status, job = submit(page)
        assert status == 200 and job["status"] == "done", job
        shown(page, job["id"])
        assert page.is_hidden("#error")
        assert server.alive()

    def refused(message: str):
        page.wait_for_selector("#error[role=alert]", state="visible")
        text = page.inner_text("#error")
        assert "\n" not in text.strip() and text.strip() == message, text
        return text

    assert page.is_hidden("#error")
    # the Materials Project field shows only where the server has a key (hidden stays hidden under the CSS)
    assert page.is_hidden("#mp-id-label") == (not os.environ.get("MP_API_KEY"))
    notes = tmp_path / "notes.txt"
    notes.write_text("not a crystal\n")
    page.set_input_files("#structure", str(notes))
    status, answer = submit(page)
    assert status == 400 and list(answer) == ["error"], answer
    text = refused(answer["error"])
    assert text.startswith("notes.txt: not a structure file this page reads (expected .cif"), text
    assert page.locator("#jobs li").count() == 0  # refused before any job
    good_prediction_still_works()

    garbage = tmp_path / "garbage.cif"
    garbage.write_bytes(b"this is no CIF \x00\x01\x02 at all\n" * 20)
    page.set_input_files("#structure", str(garbage))
    jobs_before = page.locator("#jobs li").count()
    status, answer = submit(page)
    assert status == 400 and answer.get("status", "failed") == "failed", answer
    text = refused(answer["error"])
    assert text.startswith("garbage.cif: not a crystal structure"), text  # named as uploaded
    assert "Traceback" not in text and "internal error" not in text, text
    assert str(tmp_path) not in text and "equispec-serve-" not in text, text  # no path of either side
    if "id" in answer:  # refused as a failed job: its row says so
        failed = page.locator(f"#job-{answer['id']}")
        assert failed.get_attribute("data-status") == "failed"
        assert failed.locator(".stage").inner_text() == answer["error"]
    else:  # refused before any job (the server reads an upload before it queues it)
        assert page.locator("#jobs li").count() == jobs_before
    good_prediction_still_works()
    assert page.request.get(server.url + "api/options").ok


@pytest.mark.slow
def test_d_a_second_tab_works_during_a_physics_job_which_can_be_cancelled(context, server):
    first = open_page(context, server)
    fill_form(first, SI_CIF, mode="physics")
    assert first.is_disabled("#potential") is False
    status, physics = submit(first)
    assert status == 202 and physics["status"] in ("queued", "running"), physics  # a free worker may start it at once
    item = first.locator(f"#job-{physics['id']}")
    first.locator(f"#job-{physics['id']}[data-status=running]").wait_for(timeout=60_000)
    assert item.locator(".cancel").is_visible()
    assert 0 < item.locator("progress").evaluate("(p) => p.value") < 1
    assert item.locator(".stage").inner_text().startswith("running: ")

    second = open_page(context, server)
    fill_form(second, "data/examples/Al.cif")
    status, fast = submit(second)
    assert status == 200 and fast["status"] == "done", fast
    shown(second, fast["id"])
    meanwhile = second.request.get(f"{server.url}api/jobs/{physics['id']}").json()
    assert meanwhile["status"] in ("queued", "running"), meanwhile  # the physics job was still at work
    assert item.get_attribute("data-status") != "done"
    assert second.locator("#plot-dos-0").count() == 1
    assert second.locator(f"#job-{physics['id']}").count() == 0  # each tab lists its own jobs

    first.locator(f"#job-{physics['id']}[data-status=done]").wait_for(timeout=PHYSICS_S)
    result = shown(first, physics["id"], timeout=10_000)
    assert result["mode"] == "physics"
    (dos,) = [t for t in traces(first, "dos-0") if t["name"] == "total DOS"]
    assert len(dos["y"]) > 10 and max(dos["y"]) > 0
    assert item.locator(".cancel").is_hidden()
    assert item.locator("progress").evaluate("(p) => p.value") == 1

    # another physics job, cancelled from its row
    fill_form(first, "data/examples/GaAs.cif", mode="physics")
    status, doomed = submit(first)
    assert status == 202, doomed
    row = first.locator(f"#job-{doomed['id']}")
    row.locator(".cancel").click()
    first.locator(f"#job-{doomed['id']}[data-status=cancelled]").wait_for(timeout=30_000)
    # the page stops polling it, and a poll answered before the cancel does not bring it back
    first.wait_for_function("(id) => !state.polling.has(id)", arg=doomed["id"], timeout=30_000)
    assert row.get_attribute("data-status") == "cancelled"
    assert row.locator(".cancel").is_hidden()
    assert first.request.get(f"{server.url}api/jobs/{doomed['id']}").json()["status"] == "cancelled"
    assert first.get_attribute("#figures", "data-ready") == physics["id"]  # the shown result stays
    for tab in (first, second):
        assert tab.script_errors == [], tab.script_errors
    assert server.alive()


def test_e_a_screenshot_of_a_comparison(page, tmp_path):
    compare_on_page(page)
    for figure in ("overlay", "residual"):  # plotly draws asynchronously: wait for the drawn lines
        page.wait_for_selector(f"#plot-{figure} .scatterlayer .trace path.js-line", state="attached")
    page.evaluate("() => document.fonts.ready")
    target = ROOT / SCREENSHOT if SCREENSHOT else tmp_path / "serve.png"
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")  # written whole or not at all
    partial.write_bytes(page.screenshot(full_page=True, type="png"))
    os.replace(partial, target)
    data = target.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000, len(data)
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert width == 1280 and height >= 1000, (width, height)
