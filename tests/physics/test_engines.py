"""Engines (``equispec.engines``) and the physics DOS of many structures on them
(``equispec.physics.cache.iter_raw_dos`` / ``raw_dos_many``): results in input order, each stored by the client
the moment it arrives, an interruption keeping what arrived, and a local process pool giving the DOS that this
process gives. The Dask cluster runs are in ``tests/workflows/test_scheduler.py``."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import time

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure

import equispec.physics.cache as physics_cache
from equispec.engines import EngineChoice, LocalPool, open_engine
from equispec.errors import InputError, ModelError
from equispec.physics import PhysicsDosSettings
from tests.conftest import EXAMPLES

SETTINGS = PhysicsDosSettings(potential="7net-0")


def structures(n: int) -> list[Structure]:
    """``n`` different one-atom cubic cells (their lattice constant tells them apart)."""
    return [Structure(Lattice.cubic(3.0 + 0.1 * k), ["Al"], [[0, 0, 0]]) for k in range(n)]


def synthetic(structure: Structure, name: str, settings, device: str = "cpu") -> physics_cache.RawPhysicsDos:
    """A raw DOS that says which structure it is of (no potential involved)."""
    freq = np.arange(0.0, 401.0)
    return physics_cache.RawPhysicsDos(freq, np.full(freq.shape, 3.0 / 400.0), {"a": structure.lattice.a},
                                       forces=np.zeros((1, 1, 3)))


class Reversed:
    """An engine in this process that completes its calls last first."""

    name = "reversed"

    def map_unordered(self, function, arguments):
        for k in reversed(range(len(arguments))):
            yield k, function(*arguments[k])


@pytest.fixture
def computed(monkeypatch):
    """The lattice constants the cache module computes a (synthetic) DOS for."""
    calls = []

    def compute(structure, name, settings, device="cpu"):
        calls.append(round(structure.lattice.a, 6))
        return synthetic(structure, name, settings, device)

    monkeypatch.setattr(physics_cache, "compute_raw_dos", compute)
    return calls


def test_results_come_in_input_order_and_each_is_stored_as_it_arrives(tmp_path, computed, monkeypatch):
    inputs = structures(5)
    names = [f"s{k}" for k in range(5)]
    cache = physics_cache.PhysicsDosCache(tmp_path, SETTINGS)
    cache.put(inputs[1], synthetic(inputs[1], "s1", SETTINGS))
    stored = []
    real_put = physics_cache.PhysicsDosCache.put
    monkeypatch.setattr(physics_cache.PhysicsDosCache, "put",
                        lambda self, s, raw, name=None: (stored.append(name), real_put(self, s, raw, name))[1])
    report = {}
    records = physics_cache.raw_dos_many(inputs, names, SETTINGS, cache, engine=Reversed(), report=report)
    assert [r.info["a"] for r in records] == pytest.approx([s.lattice.a for s in inputs])
    assert stored == ["s4", "s3", "s2", "s0"]  # as they arrived, by the client
    assert report == {"cached": 1, "computed": 4, "engine": "reversed"}
    assert len(computed) == 4
    again = {}
    physics_cache.raw_dos_many(inputs, names, SETTINGS, cache, engine=Reversed(), report=again)
    assert again["computed"] == 0 and len(computed) == 4


def test_an_entry_without_forces_is_missing_when_forces_are_needed(tmp_path, computed):
    inputs = structures(2)
    cache = physics_cache.PhysicsDosCache(tmp_path, SETTINGS)
    for s in inputs:
        raw = synthetic(s, "x", SETTINGS)
        raw.forces = None  # an entry written before forces were kept
        cache.put(s, raw)
    report = {}
    physics_cache.raw_dos_many(inputs, ["a", "b"], SETTINGS, cache, engine=Reversed(), report=report)
    assert report["computed"] == 0
    records = physics_cache.raw_dos_many(inputs, ["a", "b"], SETTINGS, cache, engine=Reversed(), need_forces=True,
                                         report=report)
    assert report["computed"] == 2 and all(r.forces is not None for r in records)


@pytest.mark.parametrize("engine", [None, Reversed()], ids=["this process", "engine"])
def test_an_interrupted_client_keeps_what_arrived_and_a_rerun_computes_the_rest(tmp_path, computed, monkeypatch,
                                                                                 engine):
    n, k = 5, 2
    inputs, names = structures(n), [f"s{j}" for j in range(n)]
    cache = physics_cache.PhysicsDosCache(tmp_path, SETTINGS)
    real_put = physics_cache.PhysicsDosCache.put
    puts = []

    def interrupted(self, structure, raw, name=None):
        real_put(self, structure, raw, name)
        puts.append(name)
        if len(puts) == k:
            raise KeyboardInterrupt

    monkeypatch.setattr(physics_cache.PhysicsDosCache, "put", interrupted)
    with pytest.raises(KeyboardInterrupt):
        physics_cache.raw_dos_many(inputs, names, SETTINGS, cache, engine=engine)
    assert len(list(cache.folder.glob("*.npz"))) == k and not list(cache.folder.glob(".*"))
    monkeypatch.setattr(physics_cache.PhysicsDosCache, "put", real_put)
    computed.clear()
    report = {}
    physics_cache.raw_dos_many(inputs, names, SETTINGS, cache, engine=engine, report=report)
    assert (report["cached"], report["computed"], len(computed)) == (k, n - k, n - k)


def test_engine_choice_opens_a_pool_only_for_more_than_one_task():
    assert open_engine(None, 1, tasks=10) is None
    assert open_engine(None, None, tasks=1) is None  # one structure: in this process, as before
    assert EngineChoice().open(0) is None and EngineChoice(workers=4).open(1) is None
    pool = open_engine(None, 8, tasks=2)  # no process starts before a task is submitted
    try:
        assert isinstance(pool, LocalPool) and pool.workers == 2
        assert pool.threads == max(1, (os.cpu_count() or 1) // 2)
    finally:
        pool.close()
    for bad in (0, -2, 1.5, True):
        with pytest.raises(InputError, match="--workers"):
            EngineChoice(workers=bad)
    with pytest.raises(InputError, match="--workers: sizes the local pool"):
        EngineChoice("tcp://127.0.0.1:8786", 2)


def test_a_scheduler_file_gives_its_address(tmp_path):
    from equispec.engines import scheduler_address

    written = tmp_path / "scheduler.json"
    written.write_text('{"type": "Scheduler", "id": "Scheduler-1", "address": "tcp://10.0.0.7:8786"}')
    assert scheduler_address(str(written)) == "tcp://10.0.0.7:8786"
    assert scheduler_address("tcp://node17:8786") == "tcp://node17:8786"
    written.write_text("not json")
    with pytest.raises(InputError, match="is not a Dask scheduler file"):
        scheduler_address(str(written))


def test_errors_survive_the_trip_from_a_worker():
    """A worker's ``InputError`` / ``ModelError`` is pickled back to the client and raised as it was."""
    for error in (InputError("Si.cif", "no real modes"), ModelError(None, "needs phonopy")):
        again = pickle.loads(pickle.dumps(error))
        assert type(again) is type(error) and (again.source, again.problem, str(again)) == \
            (error.source, error.problem, str(error))


def whoami(k: int) -> tuple[int, int, int]:
    import torch

    return k, os.getpid(), torch.get_num_threads()


def test_local_pool_runs_every_call_in_spawned_processes_with_its_share_of_the_cores():
    with LocalPool(2) as pool:
        results = dict((k, rest) for k, (_, *rest) in pool.map_unordered(whoami, [(k,) for k in range(6)]))
    assert sorted(results) == list(range(6))
    assert os.getpid() not in {pid for pid, _ in results.values()}
    assert {threads for _, threads in results.values()} == {max(1, (os.cpu_count() or 1) // 2)}


INTERRUPTED_POOL = """
import time
from equispec.engines import LocalPool

pool = LocalPool(2)
for k, _ in pool.map_unordered(time.sleep, [(0.1,), (120,), (120,)]):
    break  # what an interruption does: the client stops waiting
pool.close()
"""


def test_an_interrupted_pool_ends_its_running_tasks_and_the_process_exits():
    """``close`` after an interruption terminates the worker still running (a 2-minute task), so that the
    process ends at once instead of waiting for it at exit."""
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", INTERRUPTED_POOL], capture_output=True, text=True, timeout=100)
    assert done.returncode == 0, done.stderr[-2000:]
    assert time.monotonic() - started < 60


@pytest.mark.slow
def test_local_pool_gives_the_raw_dos_of_this_process(tmp_path):
    """Al and NaCl in this process and on a pool of two, each run into its own cache.

    The workers get ``cpu_count // 2`` torch threads and this process all of them, so SevenNet's float32
    sums run in another order: forces move by up to ~4e-7 eV/Å (measured over the examples), which is within
    float32 rounding of forces of ~0.1 eV/Å summed over ~10^3 messages. Held to 1e-5 eV/Å. The tetrahedron DOS
    on 1 cm^-1 bins turns such a change into bin-edge jumps (up to 0.8 % of the maximum, measured), so the raw
    DOS is compared through what is read off it: the number of modes below each frequency (to 1e-3 of 3N)
    and the 51-bin label (max-normalised; measured within 3e-4, held to 1e-3)."""
    inputs = [Structure.from_file(EXAMPLES / name) for name in ("Al.cif", "NaCl.cif")]
    names = ["Al", "NaCl"]
    here = physics_cache.raw_dos_many(inputs, names, SETTINGS, physics_cache.PhysicsDosCache(tmp_path / "a",
                                                                                              SETTINGS))
    report = {}
    with LocalPool(2) as pool:
        pooled = physics_cache.raw_dos_many(inputs, names, SETTINGS,
                                            physics_cache.PhysicsDosCache(tmp_path / "b", SETTINGS), engine=pool,
                                            need_forces=True, report=report)
    assert report == {"cached": 0, "computed": 2, "engine": "local pool"}
    for a, b, structure in zip(here, pooled, inputs):
        assert a.error is None and b.error is None
        np.testing.assert_allclose(b.forces, a.forces, rtol=0, atol=1e-5)
        np.testing.assert_array_equal(b.freq_cm1, a.freq_cm1)
        modes = 3 * len(structure)
        np.testing.assert_allclose(np.cumsum(b.dos), np.cumsum(a.dos), rtol=0, atol=1e-3 * modes)
        np.testing.assert_allclose(b.label(), a.label(), rtol=0, atol=1e-3)
