"""The Materials Project path against a fake server on 127.0.0.1 (real mp-api client over HTTP, emmet-core
documents); phonon DOS through a stand-in for mp-api's AWS read. No test reaches the network."""

import gzip
import logging
import socket

import numpy as np
import pytest

from equispec.data.datasets import read_phdos_csv
from equispec.workflows.materials_project import MaterialsProject
from equispec.workflows.mp_datasets import build_phdos_csv, build_xas_dataset
from equispec.data.phdos_processing import PHDOS_GRID_CM1, process_raw_dos_thz
from equispec.data.structures import to_structure
from equispec.workflows import resolve_structures
from equispec.data.xas import omnixas_grid_ev, read_xas_dataset
from equispec.errors import InputError

from . import mp_guard
from .mp_fake import BAD_KEY, GOOD_KEY, FakeServer, fake_get_dos

mp_guard.install_network_guard()


@pytest.fixture
def fake(monkeypatch, tmp_path):
    from mp_api.client.routes.materials.phonon import PhononRester

    with FakeServer() as server:
        server.dos_calls = []
        monkeypatch.setattr(PhononRester, "get_dos_from_phonon_id", fake_get_dos(server.db.dos, server.dos_calls))
        monkeypatch.setenv("EQUISPEC_MP_ENDPOINT", server.endpoint)
        monkeypatch.setenv("MP_API_KEY", GOOD_KEY)
        monkeypatch.delenv("PMG_MAPI_KEY", raising=False)
        monkeypatch.setenv("EQUISPEC_CACHE_DIR", str(tmp_path / "cache"))
        yield server


def test_no_test_reaches_the_network():
    assert socket.socket.connect.__name__ == "connect" and mp_guard._ORIGINAL, "guard not installed"
    with pytest.raises(OSError, match="network guard"):
        socket.create_connection(("api.materialsproject.org", 443), timeout=1)
    with pytest.raises(OSError, match="network guard"):
        socket.create_connection(("93.184.216.34", 80), timeout=1)
    assert "blocked:api.materialsproject.org" in mp_guard.ATTEMPTS and "blocked:93.184.216.34" in mp_guard.ATTEMPTS
    # every connection any test of this session made went to this machine; anything else was refused
    assert all(mp_guard.is_loopback(h) or h.startswith("blocked:") for h in mp_guard.ATTEMPTS)


def test_structure_by_id_is_fetched_once(fake):
    (structure,), (label,) = resolve_structures(["mp-149"])
    assert label == "mp-149" and structure.composition.reduced_formula == "Si"
    assert np.allclose(structure.lattice.matrix, fake.db.structures["mp-149"].lattice.matrix)
    n = len(fake.requests)
    (again,), _ = resolve_structures("mp-149")
    assert len(fake.requests) == n and again == structure


def test_a_reader_below_the_workflows_does_not_go_to_the_network(fake):
    """``data`` reads files and objects only: an id there is refused with one line, and no request is made."""
    with pytest.raises(InputError, match=r"^mp-149: is a Materials Project id, not a file: fetch it first"):
        to_structure("mp-149")
    assert fake.requests == []


def test_unknown_id_is_an_input_error(fake):
    with pytest.raises(InputError, match=r"^mp-999999: no such material in the Materials Project$"):
        resolve_structures(["mp-999999"])


def test_phdos_build_writes_the_shipped_format_and_lists_skipped(fake, tmp_path, phdos_csv):
    out = tmp_path / "built.csv"
    report = build_phdos_csv(out, ["mp-149", "mp-30", "mp-1265", "mp-404"])
    assert report.written == ["mp-149", "mp-1265"]
    assert report.skipped == {"mp-30": "no DFPT phonon data",
                              "mp-404": "unknown id (no such material in the Materials Project)"}
    table = read_phdos_csv(out)  # the reader train and evaluate use
    shipped = read_phdos_csv(phdos_csv).subset(["mp-1000"])
    assert table.ids == ["mp-149", "mp-1265"]
    assert np.array_equal(table.freq_cm1, shipped.freq_cm1) and np.array_equal(table.freq_cm1, PHDOS_GRID_CM1)
    raw = fake.db.dos["aaaaaaab"]
    assert np.allclose(table.dos[0], process_raw_dos_thz(raw["frequencies"], raw["densities"]), atol=0, rtol=0)
    assert np.allclose(table.structures[0].cart_coords, fake.db.structures["mp-149"].cart_coords)
    header, first = out.read_text().splitlines()[:2]
    assert header == "mp_id,structure,phfreq,phdos"
    assert first.startswith("mp-149,\"{'numbers': [14, 14], 'positions': [[")


def test_phdos_build_from_a_query(fake, tmp_path):
    report = build_phdos_csv(tmp_path / "q.csv", query={"chemsys": "Mg-O"})
    assert sorted(report.written) == ["mp-1265", "mp-2000"]


def test_interrupted_build_resumes_without_repeating_requests(fake, tmp_path, monkeypatch):
    from mp_api.client.routes.materials.phonon import PhononRester

    real = fake_get_dos(fake.db.dos, fake.dos_calls)

    def interrupted(self, identifier, method):
        if identifier == "aaaaaaac":
            raise KeyboardInterrupt
        return real(self, identifier, method)

    monkeypatch.setattr(PhononRester, "get_dos_from_phonon_id", interrupted)
    out = tmp_path / "built.csv"
    ids = ["mp-149", "mp-1265", "mp-2000"]
    with pytest.raises(KeyboardInterrupt):
        build_phdos_csv(out, ids)
    assert not out.exists()  # nothing half-written
    first = [r for r in fake.data_requests()]
    assert fake.dos_calls == ["aaaaaaab"]

    monkeypatch.setattr(PhononRester, "get_dos_from_phonon_id", real)
    start = len(fake.requests)
    report = build_phdos_csv(out, ids)
    assert report.written == ids
    second = [r for r in fake.requests[start:] if r[0] != "/heartbeat"]
    assert not [r for r in second if r in first], "a request of the interrupted run was made again"
    assert fake.dos_calls == ["aaaaaaab", "aaaaaaac", "aaaaaaad"]  # each DOS downloaded once

    # a rerun with everything cached makes no request at all, and needs neither key nor network
    start = len(fake.requests)
    monkeypatch.delenv("MP_API_KEY")
    monkeypatch.setenv("EQUISPEC_MP_ENDPOINT", fake.endpoint)
    assert build_phdos_csv(tmp_path / "again.csv", ids).written == ids
    assert len(fake.requests) == start
    assert (tmp_path / "again.csv").read_bytes() == out.read_bytes()


def test_xas_build_on_the_omnixas_grid(fake, tmp_path):
    report = build_xas_dataset(tmp_path / "cu", "Cu", "K")
    assert report.written == ["mp-30 site 0"]
    assert list(report.skipped) == ["mp-361 site 0"] and "OmniXAS window" in report.skipped["mp-361 site 0"]
    data = read_xas_dataset(tmp_path / "cu")
    grid = omnixas_grid_ev("Cu")
    assert np.array_equal(data.energy_ev, grid) and data.spectrum.shape == (1, 141)
    assert list(data.material_id) == ["mp-30"] and list(data.split) == ["train"] and list(data.edge) == ["K"]
    spectrum = fake.db.xas[0]["spectrum"]
    assert np.allclose(data.spectrum[0], np.interp(grid, spectrum["x"], spectrum["y"]))
    assert data.structure("mp-30").composition.reduced_formula == "Cu"

    report = build_xas_dataset(tmp_path / "ids", "Cu", "K", material_ids=["mp-30", "mp-149"], split="val")
    assert report.written == ["mp-30 site 0"] and "mp-149" in report.skipped


@pytest.mark.parametrize("case", ["no key", "short key", "bad key", "no network", "default endpoint"])
def test_errors_are_one_sentence(fake, monkeypatch, tmp_path, case):
    expected = {"no key": r"^MP_API_KEY: no Materials Project API key",
                "short key": r"^MP_API_KEY: not a Materials Project API key",
                "bad key": r"^MP_API_KEY: the Materials Project rejected the API key \(HTTP 403\)",
                "no network": r"cannot reach the Materials Project",
                "default endpoint": r"^https://api.materialsproject.org/: cannot reach the Materials Project"}[case]
    if case == "no key":
        monkeypatch.delenv("MP_API_KEY")
        monkeypatch.setenv("HOME", str(tmp_path))
        from pymatgen.core import SETTINGS

        monkeypatch.delitem(SETTINGS, "PMG_MAPI_KEY", raising=False)
    elif case == "short key":
        monkeypatch.setenv("MP_API_KEY", "abc")
    elif case == "bad key":
        monkeypatch.setenv("MP_API_KEY", BAD_KEY)
    elif case == "no network":
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        monkeypatch.setenv("EQUISPEC_MP_ENDPOINT", f"http://127.0.0.1:{port}/")  # nothing listens there
    else:
        monkeypatch.delenv("EQUISPEC_MP_ENDPOINT")  # the real one: refused by the network guard
    with pytest.raises(InputError, match=expected) as info:
        build_phdos_csv(tmp_path / "x.csv", ["mp-149"])
    assert "\n" not in str(info.value)
    if case in ("no key", "short key"):
        assert fake.requests == []  # no request without a usable key


def test_key_never_appears_in_output_logs_or_cache(fake, tmp_path, caplog, capsys):
    caplog.set_level(logging.DEBUG)
    build_phdos_csv(tmp_path / "a.csv", ["mp-149", "mp-30"])
    build_xas_dataset(tmp_path / "x", "Cu", "K")
    resolve_structures(["mp-1265"])
    assert set(fake.keys_seen) - {None} == {GOOD_KEY}  # the key did reach the server, as a header
    captured = capsys.readouterr()
    assert GOOD_KEY not in captured.out + captured.err + caplog.text
    for path in (tmp_path / "cache").rglob("*"):
        if path.is_file():
            assert GOOD_KEY.encode() not in gzip.decompress(path.read_bytes())
    for path in tmp_path.rglob("*"):
        if path.is_file() and "cache" not in path.parts:
            assert GOOD_KEY.encode() not in path.read_bytes()


def test_cache_is_per_endpoint(fake, tmp_path):
    client = MaterialsProject()
    assert "127.0.0.1" in str(client.cache.root) and str(client.cache.root).startswith(str(tmp_path / "cache"))


@pytest.fixture
def quick_requests(monkeypatch):
    """One retry, no backoff and a 1 s timeout, so that failing requests fail in a second or two."""
    import equispec.workflows.materials_project as mp

    monkeypatch.setattr(mp, "REQUEST_RETRIES", 1)
    monkeypatch.setattr(mp, "REQUEST_BACKOFF_S", 0.01)
    monkeypatch.setattr(mp, "REQUEST_TIMEOUT_S", 1)


@pytest.mark.parametrize("case", ["HTTP 500", "no answer", "malformed answer"])
def test_failed_requests_are_one_sentence(fake, quick_requests, case):
    """The server is up (heartbeat answers) but the data request fails: a one-line error naming the endpoint."""
    if case == "HTTP 500":
        fake.data_status = 500
        expected = r"answered HTTP 500 \(server busy or failing\); try again later$"
    elif case == "no answer":
        fake.data_hang = 5.0
        expected = r"did not answer in time; try again later$"
    else:  # emmet's structure validator raises KeyError('@class') while mp-api converts the answer
        for doc in fake.db.materials:
            doc["structure"] = {"lattice": "nonsense"}
        expected = r"answer does not fit this mp-api/emmet-core's documents \(KeyError: '@class'\)"
    with pytest.raises(InputError, match=expected) as info:
        MaterialsProject().structures(["mp-149"])
    assert str(info.value).startswith(fake.endpoint) and "\n" not in str(info.value)
    assert GOOD_KEY not in str(info.value)


@pytest.mark.parametrize("error", [KeyError("densities"), ValueError("could not convert string to float: 'x'")])
def test_a_bug_inside_a_request_is_not_called_a_failed_request(fake, monkeypatch, tmp_path, error):
    """A KeyError or ValueError from code on our side of an mp-api call (here: the DOS read, where our parsing
    of its result would sit) is a bug: it keeps its type and traceback instead of 'request failed'."""
    from mp_api.client.routes.materials.phonon import PhononRester

    def broken(self, identifier, phonon_method):
        raise error

    monkeypatch.setattr(PhononRester, "get_dos_from_phonon_id", broken)
    with pytest.raises(type(error)) as info:
        build_phdos_csv(tmp_path / "x.csv", ["mp-149"])
    assert not isinstance(info.value, InputError)
