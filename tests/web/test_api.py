"""``equispec serve`` through its HTTP interface (FastAPI's test client, no browser): the token rule, the
upload checks (size, names, pickles), downloads by id only, jobs that can be cancelled, and the page's
own files served from the installed packages."""

import io
import re
import time
from pathlib import Path

import numpy as np
import pytest

from equispec.cli.main import main
from tests.conftest import EXAMPLES

fastapi = pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from equispec.web.app import TOKEN_COOKIE, ServeSettings, create_app  # noqa: E402

TOKEN = "a-long-enough-token-for-tests"


def client(tmp_path, **settings) -> TestClient:
    root = tmp_path / "serve"
    root.mkdir()
    return TestClient(create_app(ServeSettings(root, **settings)))


def cif(name: str = "Si.cif") -> tuple:
    return ("structure", (name, (EXAMPLES / "Si.cif").read_bytes(), "chemical/x-cif"))


def test_the_page_offers_exactly_the_modes_and_potentials_there_are(tmp_path):
    from equispec.inference.phonon import MODES
    from equispec.workflows.options import potential_names

    with client(tmp_path) as http:
        options = http.get("/api/options").json()
        assert options["modes"] == list(MODES)
        assert options["potentials"] == list(potential_names())
        assert options["default_potentials"] == {"phdos": "7net-l3i5", "xas-cu-k": None}
        answer = http.post("/api/jobs", files=[cif()], data={"mode": "slow"})
        assert answer.status_code == 400 and "unknown mode 'slow'" in answer.json()["error"]


def test_without_a_token_the_server_answers_401_and_with_it_200(tmp_path):
    with client(tmp_path, token=TOKEN) as http:
        assert http.get("/api/options").status_code == 401
        assert http.get("/api/options", headers={"Authorization": "Bearer wrong-token-wrong-token"}).status_code == 401
        refused = http.post("/api/jobs", files=[cif()])
        assert refused.status_code == 401 and refused.json() == {"error": "missing or wrong token: open the address "
                                                                          "the server printed"}
        assert http.get("/api/options", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
        opened = http.get(f"/?token={TOKEN}", follow_redirects=False)  # the address printed once
        assert opened.status_code == 303 and opened.headers["location"] == "/"
        assert TOKEN_COOKIE in opened.cookies
        assert http.get("/api/options").status_code == 200  # the cookie now carries it
        http.cookies.clear()
        assert http.get("/").status_code == 401


def test_a_bind_beyond_loopback_without_a_token_is_refused_in_one_line(capsys):
    assert main(["serve", "--host", "0.0.0.0", "--port", "0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["equispec: error: --host 0.0.0.0: a bind beyond this machine needs a token: add --token (a "
                   "generated one is printed once) or --token YOURS"]
    assert main(["serve", "--host", "0.0.0.0", "--token", "short"]) == 2
    assert "too short" in capsys.readouterr().err


def test_a_port_in_use_is_one_line(capsys):
    import socket

    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        assert main(["serve", "--port", str(port)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"equispec: error: --host 127.0.0.1 --port {port}: cannot listen there")


def test_an_oversized_upload_is_refused_and_the_server_stays_up(tmp_path):
    with client(tmp_path, max_upload_bytes=4096) as http:
        big = ("structure", ("big.cif", b"#" * 10_000, "chemical/x-cif"))
        refused = http.post("/api/jobs", files=[big])
        assert refused.status_code == 413 and refused.json()["error"].startswith("upload too large: the limit is")

        def chunks():  # no Content-Length: counted as it streams
            for _ in range(10):
                yield b"x" * 1000

        streamed = http.post("/api/jobs", content=chunks(), headers={"Content-Type": "multipart/form-data; boundary=b"})
        assert streamed.status_code == 413
        assert http.get("/api/options").status_code == 200
        assert not list((tmp_path / "serve").rglob("big.cif"))


@pytest.mark.parametrize("name", ["../../escaped.cif", "..\\escaped.cif", "/etc/escaped.cif", ".hidden.cif",
                                  "a\x00b.cif", "sub/dir.cif"])
def test_a_path_traversal_file_name_is_refused(tmp_path, name):
    with client(tmp_path) as http:
        refused = http.post("/api/jobs", files=[cif(name)])
    assert refused.status_code == 400
    assert "not a plain file name" in refused.json()["error"]
    assert not list(tmp_path.rglob("escaped.cif")) and not list(tmp_path.rglob("dir.cif"))


def test_a_file_of_the_wrong_kind_or_content_is_one_line_naming_it(tmp_path):
    with client(tmp_path) as http:
        wrong_kind = http.post("/api/jobs", files=[("structure", ("notes.txt", b"hello", "text/plain"))])
        garbage = http.post("/api/jobs", files=[("structure", ("broken.cif", b"data_x\n_cell_length_a oops\n", "text/plain"))])
        empty = http.post("/api/jobs", files=[("structure", ("empty.cif", b"", "text/plain"))])
        nothing = http.post("/api/jobs", data={"model": "phdos"})
        unknown_model = http.post("/api/jobs", files=[cif()], data={"model": "/etc"})
    assert wrong_kind.status_code == 400 and wrong_kind.json()["error"].startswith("notes.txt: not a structure file")
    error = garbage.json()["error"]
    assert garbage.status_code == 400 and error.startswith("broken.cif: ") and "uploads" not in error
    assert "\n" not in error
    assert empty.json()["error"] == "empty.cif: the uploaded structure file is empty"
    assert nothing.json()["error"].startswith("structure: upload a structure file")
    assert unknown_model.json()["error"].startswith("model: unknown model '/etc'")


def test_a_pickle_bearing_npz_is_refused_unread(tmp_path):
    buffer = io.BytesIO()
    np.savez(buffer, q=np.array([{"payload": 1}], dtype=object), energy=np.arange(3.0), sqe=np.ones((1, 3)))
    with client(tmp_path) as http:
        refused = http.post("/api/jobs", files=[cif(), ("measured", ("map.npz", buffer.getvalue(), "application/octet-stream"))],
                            data={"mode": "physics"})
    assert refused.status_code == 400
    assert refused.json()["error"] == "map.npz: not a readable .npz of arrays (ValueError)"


def test_only_a_jobs_listed_files_are_served_by_its_id(tmp_path):
    with client(tmp_path) as http:
        done = http.post("/api/jobs", files=[cif()]).json()
        assert done["status"] == "done"
        names = [d["name"] for d in done["result"]["downloads"]]
        assert names == ["prediction.csv", "prediction.json", "prediction.png"]
        csv = http.get(done["result"]["downloads"][0]["url"])
        assert csv.status_code == 200 and "freq_cm1," in csv.text
        png = http.get(done["result"]["downloads"][2]["url"])  # drawn when first asked for
        assert png.status_code == 200 and png.content.startswith(b"\x89PNG\r\n\x1a\n")
        assert http.get(done["result"]["downloads"][2]["url"]).content == png.content
        for path in (f"/api/jobs/{done['id']}/files/result.json", f"/api/jobs/{done['id']}/files/..%2F..%2Fx",
                     "/api/jobs/not-a-job/files/prediction.csv", "/static/..%2Fapp.py", "/static/tasks.py"):
            assert http.get(path).status_code == 404, path
    assert len(done["id"]) >= 24 and re.fullmatch(r"[A-Za-z0-9_-]+", done["id"])


def test_the_page_loads_nothing_from_the_internet(tmp_path):
    with client(tmp_path) as http:
        page = http.get("/").text
        scripts = re.findall(r'(?:src|href)="([^"]+)"', page)
        assert scripts and all(s.startswith("/static/") for s in scripts)
        for script in scripts:
            served = http.get(script)
            assert served.status_code == 200 and "https://cdn" not in served.text[:2000]
        assert len(http.get("/static/plotly.min.js").content) > 1_000_000


def test_a_physics_job_can_be_cancelled_while_a_fast_request_is_answered(tmp_path):
    with client(tmp_path, physics_cache=str(tmp_path / "cache")) as http:
        queued = http.post("/api/jobs", files=[cif()], data={"mode": "physics"})
        assert queued.status_code == 202 and queued.json()["status"] == "queued"
        job = queued.json()["id"]
        fast = http.post("/api/jobs", files=[cif()])
        assert fast.json()["status"] == "done"
        state = http.get(f"/api/jobs/{job}").json()
        assert state["status"] in ("queued", "running")  # a worker process needs seconds to import torch
        cancelled = http.delete(f"/api/jobs/{job}").json()
        assert cancelled["status"] == "cancelled"
        time.sleep(0.3)
        assert http.get(f"/api/jobs/{job}").json()["status"] == "cancelled"
        process = http.app.state.jobs.get(job).process
        assert process is None or not process.is_alive()


def test_a_physics_job_uses_the_command_lines_physics_cache_unless_told_otherwise(tmp_path, monkeypatch):
    """A server started without ``--cache`` keeps its physics in the cache ``predict`` and ``evaluate`` use."""
    from equispec.web.tasks import TaskSpec, run_task

    class Stop(Exception):
        pass

    class Recorder:  # stands for a physics-mode predictor: records where it was told to keep its physics
        task, folders = "phdos", []

        def use_physics_cache(self, folder):
            self.folders.append(folder)

        def use_engine(self, scheduler=None, workers=None):
            pass

        def predict_stream(self, inputs, names):
            raise Stop

    monkeypatch.setenv("EQUISPEC_CACHE_DIR", str(tmp_path / "user-cache"))
    structure = [{"path": str(EXAMPLES / "Si.cif"), "name": "Si.cif"}]
    for given, expected in ((None, tmp_path / "user-cache" / "physics"), (str(tmp_path / "mine"), tmp_path / "mine")):
        with pytest.raises(Stop):
            run_task(TaskSpec("predict", structure, mode="physics", physics_cache=given), tmp_path, Recorder())
        assert Path(Recorder.folders[-1]) == expected
