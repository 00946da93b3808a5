"""A fake Materials Project for the tests: an HTTP server on 127.0.0.1 speaking the API that mp-api
calls, serving documents built with emmet-core's own models, plus a guard that refuses every
connection that is not to this machine.

mp-api reads phonon DOS from the Materials Project's Delta tables on AWS rather than over HTTP;
:func:`fake_get_dos` stands in for ``PhononRester.get_dos_from_phonon_id`` (patched in-process, and in
CLI subprocesses through the ``sitecustomize`` in ``tests/workflows/mp_site``).
"""

from __future__ import annotations

import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import numpy as np
from emmet.core.material import MaterialsDoc
from emmet.core.mpid import AlphaID
from emmet.core.phonon import PhononBSDOSTask, PhononDOS
from emmet.core.summary import SummaryDoc
from emmet.core.xas import XASDoc
from pymatgen.analysis.xas.spectrum import XAS
from pymatgen.core import Lattice, Structure

GOOD_KEY = "GoodKey0123456789abcdefGHIJKLMN"
GOOD_KEY = GOOD_KEY + "x" * (32 - len(GOOD_KEY))
BAD_KEY = "B" * 32

from .mp_guard import ATTEMPTS, NetworkBlocked, install_network_guard, is_loopback  # noqa: F401


# -- documents -----------------------------------------------------------------------------------------

def silicon() -> Structure:
    return Structure(Lattice.from_parameters(3.867, 3.867, 3.867, 60, 60, 60), ["Si", "Si"],
                     [[0, 0, 0], [0.25, 0.25, 0.25]])


def rocksalt(a: float = 4.2) -> Structure:
    return Structure(Lattice.from_parameters(a / 2 ** 0.5, a / 2 ** 0.5, a / 2 ** 0.5, 60, 60, 60), ["Mg", "O"],
                     [[0, 0, 0], [0.5, 0.5, 0.5]])


def copper() -> Structure:
    return Structure(Lattice.from_parameters(2.556, 2.556, 2.556, 60, 60, 60), ["Cu"], [[0, 0, 0]])


def cu2o() -> Structure:
    return Structure(Lattice.cubic(4.27), ["Cu"] * 4 + ["O"] * 2,
                     [[0.25, 0.25, 0.25], [0.75, 0.75, 0.25], [0.75, 0.25, 0.75], [0.25, 0.75, 0.75],
                      [0, 0, 0], [0.5, 0.5, 0.5]])


def raw_dos_thz(peaks_cm1, n: int = 3001, top_cm1: float = 1200.0):
    """A high-resolution raw DOS (Gaussian bands; frequencies in THz like Materials Project documents)."""
    freq_cm1 = np.linspace(-20.0, top_cm1, n)
    dos = sum(np.exp(-0.5 * ((freq_cm1 - p) / 30.0) ** 2) for p in peaks_cm1) + 0.1 * (freq_cm1 > 0) * (freq_cm1 < 150)
    return freq_cm1 / 33.35640951981521, dos


def xas_spectrum(structure, site, start_ev, stop_ev, n=400, edge_ev=8985.0):
    energy = np.linspace(start_ev, stop_ev, n)
    mu = 1.0 / (1.0 + np.exp(-(energy - edge_ev) / 1.5)) + 0.2 * np.exp(-0.5 * ((energy - edge_ev - 10) / 3) ** 2)
    return XAS(energy, mu, structure, "Cu", edge="K", spectrum_type="XANES", absorbing_index=site)


class FakeDatabase:
    """Documents per endpoint, as JSON dicts dumped from emmet-core models."""

    def __init__(self):
        structures = {"mp-149": silicon(), "mp-1265": rocksalt(), "mp-30": copper(), "mp-361": cu2o(),
                      "mp-2000": rocksalt(4.5)}
        self.structures = structures
        self.materials = [MaterialsDoc.from_structure(s, material_id=m).model_dump(mode="json")
                          for m, s in structures.items()]
        phonons = {"mp-149": "aaaaaaab", "mp-1265": "aaaaaaac", "mp-2000": "aaaaaaad"}
        self.summary = [SummaryDoc.from_structure(s, material_id=m, phonon_IDs={"dfpt": [phonons[m]]}
                                                  if m in phonons else None).model_dump(mode="json")
                        for m, s in structures.items()]
        self.phonon_tasks = [PhononBSDOSTask.from_structure(meta_structure=structures[m], identifier=pid,
                                                            phonon_method="dfpt", structure=structures[m]
                                                            ).model_dump(mode="json")
                             for m, pid in phonons.items()]
        peaks = {"aaaaaaab": [150, 300, 480], "aaaaaaac": [220, 390, 560], "aaaaaaad": [180, 350, 700]}
        self.dos = {}
        for m, pid in phonons.items():
            freq_thz, dos = raw_dos_thz(peaks[pid])
            self.dos[pid] = PhononDOS(frequencies=freq_thz.tolist(), densities=dos.tolist(),
                                      structure=structures[m]).model_dump(mode="json")
        self.xas = [XASDoc.from_spectrum(xas_spectrum(structures["mp-30"], 0, 8960.0, 9060.0), material_id="mp-30",
                                         task_id="mp-30").model_dump(mode="json"),
                    # a spectrum that stops inside the OmniXAS window: skipped and listed
                    XASDoc.from_spectrum(xas_spectrum(structures["mp-361"], 0, 8970.0, 9000.0), material_id="mp-361",
                                         task_id="mp-361").model_dump(mode="json")]

    def dump_dos(self, path) -> None:
        with open(path, "w") as handle:
            json.dump(self.dos, handle)


def _same_id(a: str, b: str) -> bool:
    try:
        return AlphaID(str(a)) == AlphaID(str(b)) and str(a).split("-")[0] == str(b).split("-")[0]
    except Exception:
        return str(a) == str(b)


def _matches(doc: dict, key: str, values: list[str]) -> bool:
    return any(_same_id(doc.get(key), v) for v in values)


class _Handler(BaseHTTPRequestHandler):
    server_version = "FakeMP/1.0"

    def log_message(self, *args):  # quiet
        pass

    def do_GET(self):
        fake: FakeServer = self.server.fake  # type: ignore[attr-defined]
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        path = url.path.rstrip("/")
        fake.requests.append((path, query))
        fake.keys_seen.append(self.headers.get("x-api-key"))
        if fake.hang:
            threading.Event().wait(fake.hang)
            return
        if path == "/heartbeat":
            return self._send(200, {"db_version": "2025.09.25", "access_controlled_batch_ids": [],
                                    "version": "0.87.3"})
        if fake.data_hang:  # the server is up but a data request never gets its answer
            threading.Event().wait(fake.data_hang)
            return
        if fake.data_status:  # the server is up but fails every data request
            return self._send(fake.data_status, {"detail": "Internal Server Error"})
        if self.headers.get("x-api-key") != GOOD_KEY:
            return self._send(403, {"detail": "Invalid API key"})
        db = fake.db
        if path == "/materials/core":
            docs = db.materials
            if "material_ids" in query:
                docs = [d for d in docs if _matches(d, "material_id", query["material_ids"].split(","))]
        elif path == "/materials/summary":
            docs = db.summary
            if "material_ids" in query:
                docs = [d for d in docs if _matches(d, "material_id", query["material_ids"].split(","))]
            if "has_props" in query:
                docs = [d for d in docs if d.get("phonon_IDs")]
            if "chemsys" in query:
                docs = [d for d in docs if d.get("chemsys") == query["chemsys"]]
        elif path == "/materials/phonon":
            wanted = query.get("identifiers", "").split(",")
            docs = [d for d in db.phonon_tasks if any(AlphaID(str(d["identifier"])) == AlphaID(w) for w in wanted if w)]
        elif path == "/materials/xas":
            docs = [d for d in db.xas if d["absorbing_element"] == query.get("absorbing_element", d["absorbing_element"])
                    and d["edge"] == query.get("edge", d["edge"])]
            if "task_ids" in query:
                docs = [d for d in docs if _matches(d, "task_id", query["task_ids"].split(","))]
        else:
            return self._send(404, {"detail": "Not Found"})
        if "_fields" in query:
            fields = query["_fields"].split(",")
            docs = [{k: v for k, v in d.items() if k in fields} for d in docs]
        return self._send(200, {"data": docs, "meta": {"total_doc": len(docs)}})

    def _send(self, status: int, body: dict):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class FakeServer:
    """``with FakeServer() as fake: fake.endpoint`` serves :class:`FakeDatabase` and logs requests."""

    def __init__(self, db: FakeDatabase | None = None, hang: float = 0.0):
        self.db = db or FakeDatabase()
        self.requests: list[tuple[str, dict]] = []
        self.keys_seen: list[str | None] = []
        self.hang = hang
        self.data_hang = 0.0  # seconds a data request (not the heartbeat) waits without an answer
        self.data_status: int | None = None  # HTTP status of every data request's answer (e.g. 500)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._server.fake = self  # type: ignore[attr-defined]
        self.endpoint = f"http://127.0.0.1:{self._server.server_address[1]}/"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._server.shutdown()
        self._server.server_close()

    def data_requests(self) -> list[tuple[str, dict]]:
        return [r for r in self.requests if r[0] != "/heartbeat"]


def fake_get_dos(dos_docs: dict, calls: list | None = None):
    """A stand-in for ``PhononRester.get_dos_from_phonon_id`` returning emmet ``PhononDOS`` models."""

    def get_dos_from_phonon_id(self, identifier, phonon_method):
        if calls is not None:
            calls.append(identifier)
        from mp_api.client.core import MPRestError

        if identifier not in dos_docs:
            raise MPRestError(f"No phonon dos data found for {identifier=} and {phonon_method=}")
        return PhononDOS.model_validate(dos_docs[identifier])

    return get_dos_from_phonon_id


def env_for_cli(tmp_path, endpoint: str | None, key: str | None, dos_json: str | None = None) -> dict:
    """Environment for an ``equispec`` subprocess: fake endpoint and cache, guard and DOS patch via sitecustomize."""
    from pathlib import Path

    env = {k: v for k, v in os.environ.items() if k not in ("MP_API_KEY", "PMG_MAPI_KEY", EQUISPEC_ENV)}
    site = str(Path(__file__).resolve().parent / "mp_site")
    src = str(Path(__file__).resolve().parents[2] / "src")
    env["PYTHONPATH"] = os.pathsep.join([site, src])
    env["HOME"] = str(tmp_path / "home")  # no ~/.config/.pmgrc.yaml with a real key
    env["EQUISPEC_CACHE_DIR"] = str(tmp_path / "cache")
    env["EQUISPEC_TEST_NET_LOG"] = str(tmp_path / "net.log")
    if endpoint:
        env[EQUISPEC_ENV] = endpoint
    if key:
        env["MP_API_KEY"] = key
    if dos_json:
        env["EQUISPEC_TEST_PHONON_DOS"] = dos_json
    return env


EQUISPEC_ENV = "EQUISPEC_MP_ENDPOINT"
