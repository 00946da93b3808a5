"""``predict --mode physics`` of 20 small structures in this process, on a local pool and on a Dask cluster
(``--scheduler``), with a worker killed mid-run and a rerun on what that run left (``docs/cluster.md``).

The 20 structures are the valid-split materials of the phonon-DOS CSV with the fewest atoms (ties by mp-id),
written as CIFs into a temporary folder. Each run is the command as a user types it (a fresh
``python -m equispec predict``, start-up included) into a fresh cache folder of its own:

1. in this process, one structure after the other (``--workers 1``);
2. the default: a local pool, one process per core (no engine option);
3. a ``distributed.LocalCluster`` of 2 worker processes, one thread each (``--scheduler ADDRESS``), started
   before the run (its workers load torch and the potential on their first task, inside the timing), with
   Dask's default worker environment;
4. as 3, on a cluster whose workers also get ``MALLOC_MMAP_THRESHOLD_=33554432`` (Dask's nanny sets
   ``MALLOC_TRIM_THRESHOLD_=65536``, which pins glibc's mmap threshold at 128 KiB: every large torch buffer is
   then mapped and unmapped again, and SevenNet runs ~1.5x slower; ``docs/cluster.md``);
5. the cluster of 4, one worker killed (SIGKILL) as soon as the first result is in the cache: Dask gives its
   task to the other worker and restarts the killed one;
6. run 5's command again on its cache: how many structures it computed (new or rewritten entries).

Printed per run: wall seconds; compute seconds (the sum, over the structures the run computed, of the seconds
their forces and raw DOS took where they ran, as stored in each cache entry: how much the workers slowed each
other and were slowed by the machine's other load); the largest difference of a DOS (51-bin, max-normalised)
from run 1 and the structure it is of; run 6's count of structures computed. The load average at the start
and the end says how busy the machine was otherwise.

    python scripts/studies/scheduler_20.py [--potential NAME] [--n 20]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
SHARED_PHDOS = ROOT.parent / "shared" / "data" / "phdos"


def small_structures(csv: Path, ids_file: Path, n: int, folder: Path) -> tuple[list[Path], list[int]]:
    """The ``n`` valid materials with the fewest atoms, as CIFs in ``folder``, and their numbers of atoms."""
    from equispec.data.datasets import read_ids, read_phdos_csv

    table = read_phdos_csv(csv).subset(read_ids(ids_file), str(ids_file))
    chosen = sorted(zip(table.ids, table.structures), key=lambda pair: (len(pair[1]), pair[0]))[:n]
    paths = []
    for mp_id, structure in chosen:
        paths.append(folder / f"{mp_id}.cif")
        structure.to(filename=str(paths[-1]))
    return paths, [len(structure) for _, structure in chosen]


#: the environment of every ``equispec`` command (the client): this process's, as it was at the start
CLIENT_ENV = dict(os.environ)
#: what run 4 on adds to the environment of the cluster's workers
WORKER_ENV = {"MALLOC_MMAP_THRESHOLD_": "33554432"}


def predict(files: list[Path], cache: Path, out: Path, potential: str | None, *options: str) -> float:
    """Seconds of one ``predict --mode physics`` command (it must succeed)."""
    command = [sys.executable, "-m", "equispec", "predict", *map(str, files), "--mode", "physics", "--cache",
               str(cache), "-o", str(out), *(["--potential", potential] if potential else []), *options]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=CLIENT_ENV)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command[3:6])} ... failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return seconds


def read_dos(out: Path) -> dict[str, np.ndarray]:
    return {record["name"]: np.asarray(record["dos"]) for record in json.loads(out.read_text())}


def max_difference(got: dict, reference: dict) -> str:
    """The largest |DOS - reference| over all structures and bins, and the structure it is of."""
    if sorted(got) != sorted(reference):
        raise SystemExit(f"runs predicted different structures: {sorted(set(got) ^ set(reference))}")
    worst = max(reference, key=lambda name: float(np.abs(got[name] - reference[name]).max()))
    return f"max |DOS - run 1| = {float(np.abs(got[worst] - reference[worst]).max()):.1e} ({Path(worst).stem})"


def compute_seconds(cache: Path, since: dict | None = None) -> float:
    """Sum of the seconds each structure's forces and raw DOS took where they ran (stored with each cache
    entry), over the entries written after ``since``."""
    total = 0.0
    for path, mtime in entries(cache).items():
        if since is None or since.get(path) != mtime:
            with np.load(path, allow_pickle=False) as archive:
                total += float(json.loads(str(archive["info"])).get("seconds", 0.0))
    return total


def entries(cache: Path) -> dict[Path, int]:
    return {path: path.stat().st_mtime_ns for path in cache.rglob("*.npz")}


def kill_after_first_entry(cache: Path, client, killed: list, stop: threading.Event) -> None:
    """Wait for the first entry in ``cache``, then SIGKILL a worker that is running a task."""
    while not stop.is_set() and not entries(cache):
        time.sleep(0.02)
    if stop.is_set():
        return
    pids = client.run(os.getpid)
    deadline = time.monotonic() + 10.0
    while time.monotonic() < deadline:
        busy = [worker for worker, tasks in client.processing().items() if tasks and worker in pids]
        if busy:
            os.kill(pids[busy[0]], signal.SIGKILL)
            killed.append((busy[0], pids[busy[0]], len(entries(cache))))
            return
        time.sleep(0.02)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--potential", help="default: the one physics mode takes without --potential")
    parser.add_argument("--n", type=int, default=20)
    parser.add_argument("--data-csv", default=str(SHARED_PHDOS / "phdos_trainval.csv"))
    parser.add_argument("--valid-ids", default=str(SHARED_PHDOS / "splits" / "valid_mp_ids.txt"))
    args = parser.parse_args(argv)

    import logging

    import distributed

    with tempfile.TemporaryDirectory(prefix="scheduler_20_") as tmp:
        tmp = Path(tmp)
        (tmp / "cif").mkdir()
        files, atoms = small_structures(Path(args.data_csv), Path(args.valid_ids), args.n, tmp / "cif")
        print(f"structures: {len(files)} valid-split materials with the fewest atoms ({min(atoms)}-{max(atoms)} "
              f"atoms); potential: {args.potential or 'default'}; "
              f"{os.cpu_count()} cores; load average at start {os.getloadavg()[0]:.2f}", flush=True)
        print(f"{'run':<46} {'wall s':>7} {'compute s':>10}   (compute s: sum over the structures computed)")

        def row(label: str, seconds: float, cache: Path, note: str = "", since: dict | None = None) -> None:
            print(f"{label:<46} {seconds:7.1f} {compute_seconds(cache, since):10.1f}   {note}".rstrip(), flush=True)

        seconds = predict(files, tmp / "c1", tmp / "r1.json", args.potential, "--workers", "1")
        reference = read_dos(tmp / "r1.json")
        row("1. in this process (--workers 1)", seconds, tmp / "c1")
        seconds = predict(files, tmp / "c2", tmp / "r2.json", args.potential)
        row(f"2. local pool (default: {min(len(files), os.cpu_count() or 1)} processes)", seconds, tmp / "c2",
            max_difference(read_dos(tmp / "r2.json"), reference))
        def cluster(environment: dict):
            """A LocalCluster of 2 single-thread worker processes whose environment has ``environment`` too
            (the nanny spawns each worker, restarts included, with this process's environment)."""
            os.environ.clear()
            os.environ.update({**CLIENT_ENV, **environment})
            return distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                            dashboard_address=":0", silence_logs=logging.CRITICAL)

        try:
            with cluster({}) as local:
                seconds = predict(files, tmp / "c3", tmp / "r3.json", args.potential, "--scheduler",
                                  local.scheduler_address)
            row("3. Dask LocalCluster, 2 workers (--scheduler)", seconds, tmp / "c3",
                max_difference(read_dos(tmp / "r3.json"), reference))
            with cluster(WORKER_ENV) as local, distributed.Client(local, set_as_default=False) as client:
                address = local.scheduler_address
                seconds = predict(files, tmp / "c4", tmp / "r4.json", args.potential, "--scheduler", address)
                row("4. as 3, workers with MALLOC_MMAP_THRESHOLD_", seconds, tmp / "c4",
                    max_difference(read_dos(tmp / "r4.json"), reference))
                killed, stop = [], threading.Event()
                (tmp / "c5").mkdir()
                watcher = threading.Thread(target=kill_after_first_entry, args=(tmp / "c5", client, killed, stop),
                                           daemon=True)
                watcher.start()
                seconds = predict(files, tmp / "c5", tmp / "r5.json", args.potential, "--scheduler", address)
                stop.set()
                watcher.join(timeout=15)
                done = read_dos(tmp / "r5.json")
                what = (f"a busy worker killed after {killed[0][2]} result(s)" if killed
                        else "no worker was killed")
                row("5. as 4, one worker killed mid-run", seconds, tmp / "c5",
                    f"{what}; {len(done)}/{len(files)} DOS, {len(entries(tmp / 'c5'))} cache entries, "
                    f"{max_difference(done, reference)}")
                before = entries(tmp / "c5")
                seconds = predict(files, tmp / "c5", tmp / "r6.json", args.potential, "--scheduler", address)
                computed = sum(1 for path, mtime in entries(tmp / "c5").items() if before.get(path) != mtime)
                row("6. run 5 again on its cache", seconds, tmp / "c5", f"computed {computed} of {len(files)}, "
                    f"{max_difference(read_dos(tmp / 'r6.json'), reference)}", since=before)
        finally:
            os.environ.clear()
            os.environ.update(CLIENT_ENV)
        print(f"load average at the end {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
