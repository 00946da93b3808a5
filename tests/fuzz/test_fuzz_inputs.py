"""Property-based fuzzing of every kind of file a user hands the command line (issue 14).

Each example mutates a real seed file (numbers replaced by NaN, 1e9, text; bytes and lines deleted,
inserted, duplicated; truncation) and runs the real CLI on it in-process. Whatever the input, the run must
end in success with exactly the requested outputs, or in exit status 2 with one line on stderr, no
traceback (an escaping exception fails the test) and no file left behind, ``.part`` and temporary files
included. Models are loaded once per module (``load_model`` is memoised) and physics-mode force constants
once per structure: the inputs are what is fuzzed, not the loading.

Set ``EQUISPEC_FUZZ_REPORT=FILE.json`` for a count of the outcomes (successes, and each error message).
Examples per run: ``EQUISPEC_FUZZ_EXAMPLES`` in total (default 120, what CI runs), shared by the five
properties in the ratio of ``SHARE``. The documented long profile is
``EQUISPEC_FUZZ_EXAMPLES=10000 python -m pytest tests/fuzz -p no:cacheprovider``.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import tempfile
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from equispec.cli.main import main
from tests.conftest import EXAMPLES, ROOT, SHARED_DATA

TOTAL = int(os.environ.get("EQUISPEC_FUZZ_EXAMPLES", "120"))
SHARE = {"structures": 0.4, "spectra": 0.25, "sqe": 0.05, "configs": 0.2, "model_json": 0.1}


def fuzz_settings(kind: str):
    return settings(max_examples=max(5, round(TOTAL * SHARE[kind])), deadline=None, derandomize=TOTAL <= 1000,
                    database=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


# ---------------------------------------------------------------- mutations
INTERESTING = ["0", "-1", "1e9", "-1e9", "1e-9", "nan", "NaN", "inf", "-inf", "1e308", "", "abc", "0.5", "100000",
               "-0.0", "1,5", "3.2.1", "9" * 30, "null", "[]", "{}", "true"]
NUMBER = re.compile(rb"-?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?")
SNIPPETS = [b"\n", b"loop_\n", b"#", b"'", b'"', b"\t", b"_cell_length_a 5\n", b"- ", b": ", b"\x00", b"\xff\xfe"]


@st.composite
def mutated(draw, seed: bytes) -> bytes:
    """One to three mutations of ``seed``, most of them on its numbers."""
    data = bytearray(seed)
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["number"] * 4 + ["delete", "insert", "truncate", "line", "byte"]))
        if kind == "number":
            spans = [m.span() for m in NUMBER.finditer(data)]
            if spans:
                start, stop = draw(st.sampled_from(spans))
                value = draw(st.sampled_from(INTERESTING) | st.floats().map(repr) | st.integers(-10**12, 10**12).map(str))
                data[start:stop] = value.encode()
        elif kind == "delete":
            start = draw(st.integers(0, len(data)))
            del data[start:start + draw(st.integers(1, 80))]
        elif kind == "insert":
            start = draw(st.integers(0, len(data)))
            data[start:start] = draw(st.sampled_from(SNIPPETS) | st.binary(max_size=24))
        elif kind == "truncate":
            data = data[:draw(st.integers(0, len(data)))]
        elif kind == "line":
            lines = data.split(b"\n")
            i = draw(st.integers(0, len(lines) - 1))
            action = draw(st.sampled_from(["drop", "repeat", "swap"]))
            if action == "drop":
                del lines[i]
            elif action == "repeat":
                lines[i:i] = [lines[i]] * draw(st.integers(1, 3))
            else:
                j = draw(st.integers(0, len(lines) - 1))
                lines[i], lines[j] = lines[j], lines[i]
            data = bytearray(b"\n".join(lines))
        elif data:
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    return bytes(data)


LEAF = (st.none() | st.booleans() | st.integers(-10**7, 10**7) | st.floats() | st.text(max_size=12)
        | st.sampled_from([1e9, -1, 0, 10**6, "1e-3", "abc"]))
JSONISH = st.recursive(LEAF, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                                        max_size=3), max_leaves=6)


@st.composite
def mutated_tree(draw, tree):
    """A copy of a JSON/YAML tree with one to three values replaced, keys deleted or unknown keys added."""
    tree = json.loads(json.dumps(tree))
    for _ in range(draw(st.integers(1, 3))):
        node, path = tree, []
        while isinstance(node, (dict, list)) and node and draw(st.booleans()):
            key = draw(st.sampled_from(sorted(node) if isinstance(node, dict) else list(range(len(node)))))
            path.append(key)
            node = node[key]
        if not path:
            continue
        parent = tree
        for key in path[:-1]:
            parent = parent[key]
        action = draw(st.sampled_from(["replace", "replace", "delete", "add"]))
        if action == "replace":
            parent[path[-1]] = draw(JSONISH)
        elif action == "delete" and isinstance(parent, dict):
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[draw(st.text(min_size=1, max_size=8))] = draw(JSONISH)
    return tree


# ---------------------------------------------------------------- the property
OUTCOMES: dict[str, int] = {}  # "predict 0", "predict 2: <problem, numbers removed>": count (printed at the end)


def _tally(command: str, code: int, message: str) -> None:
    problem = message.split(": ")[-1] if code else ""
    key = f"{command} {code}" + (": " + re.sub(r"[-+]?\d[\d.e+-]*", "#", problem)[:70] if code else "")
    OUTCOMES[key] = OUTCOMES.get(key, 0) + 1


@pytest.fixture(scope="session", autouse=True)
def outcome_report():
    yield
    if os.environ.get("EQUISPEC_FUZZ_REPORT"):
        with open(os.environ["EQUISPEC_FUZZ_REPORT"], "w") as handle:
            json.dump(dict(sorted(OUTCOMES.items(), key=lambda kv: -kv[1])), handle, indent=1)


def run_cli(argv: list[str], folders: list[Path], expected: set[str], out: Path) -> int:
    """Run the CLI; check the outcome is success with exactly ``expected`` in ``out``, or status 2 with one
    line and no new file anywhere in ``folders``."""
    before = {folder: sorted(p.name for p in folder.iterdir()) for folder in folders}
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = main(argv)
    assert code in (0, 2), (code, stderr.getvalue())
    _tally(argv[0], code, stderr.getvalue().strip())
    if code == 2:
        lines = stderr.getvalue().strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("equispec: error: "), stderr.getvalue()
        assert "Traceback" not in stderr.getvalue()
        for folder in folders:
            assert sorted(p.name for p in folder.iterdir()) == before[folder], f"left behind in {folder}"
    else:
        assert sorted(p.name for p in out.iterdir()) == sorted(expected), stderr.getvalue()
    return code


@contextlib.contextmanager
def workspace():
    with tempfile.TemporaryDirectory() as tmp:
        inputs, out = Path(tmp) / "in", Path(tmp) / "out"
        inputs.mkdir()
        out.mkdir()
        yield inputs, out


@pytest.fixture(scope="module", autouse=True)
def loaded_once():
    """Memoise shipped models and the physics DOS: the fuzz is about inputs, not loading."""
    import equispec.api as api
    import equispec.physics as physics

    load, physics_dos = api.load_model, physics.physics_dos
    models, forces = {}, {}

    def load_model(name_or_dir="phdos", device="cpu", mode="fast", potential=None, relax=False):
        if str(name_or_dir) not in api.PRETRAINED:  # a fuzzed model directory: load it for real
            return load(name_or_dir, device=device, mode=mode, potential=potential, relax=relax)
        key = (str(name_or_dir), str(device), mode, potential, bool(relax))
        if key not in models:
            models[key] = load(name_or_dir, device=device, mode=mode, potential=potential, relax=relax)
        return models[key]

    def cached_physics_dos(structure, name="structure", settings=None, **options):
        key = (json.dumps(structure.as_dict(), sort_keys=True, default=str), repr(settings), repr(options))
        if key not in forces:
            forces[key] = physics_dos(structure, name=name, settings=settings, **options)
        return forces[key]

    api.load_model, physics.physics_dos = load_model, cached_physics_dos
    yield
    api.load_model, physics.physics_dos = load, physics_dos


# ---------------------------------------------------------------- structure files
def _structure_seeds() -> dict[str, bytes]:
    from ase.io import write
    from pymatgen.core import Structure
    from pymatgen.io.ase import AseAtomsAdaptor

    seeds = {name: (EXAMPLES / name).read_bytes() for name in ("Si.cif", "SrTiO3.cif", "NaCl.cif", "AlP.POSCAR")}
    gaas = Structure.from_file(EXAMPLES / "GaAs.cif")
    seeds["GaAs.json"] = gaas.to(fmt="json").encode()
    buffer = io.StringIO()
    write(buffer, AseAtomsAdaptor.get_atoms(Structure.from_file(EXAMPLES / "MgO.cif")), format="extxyz")
    seeds["MgO.extxyz"] = buffer.getvalue().encode()
    return seeds


STRUCTURES = _structure_seeds()


@fuzz_settings("structures")
@given(st.sampled_from(sorted(STRUCTURES)).flatmap(lambda name: st.tuples(st.just(name), mutated(STRUCTURES[name]))),
       st.sampled_from(["dos.json", "dos.csv", "dos.jsonl"]), st.integers(0, 9))
def test_any_structure_file_ends_cleanly(case, output, plot):
    name, data = case
    with workspace() as (inputs, out):
        path = inputs / name
        path.write_bytes(data)
        argv = ["predict", str(path), "-o", str(out / output)]
        expected = {output}
        if plot == 0:  # plots take a third of a second: one example in ten
            argv += ["--plot", str(out / "dos.png")]
            expected.add("dos.png")
        run_cli(argv, [inputs, out], expected, out)


# ---------------------------------------------------------------- measured spectra
MEASURED = SHARED_DATA / "measured"


def _xdi_seed() -> bytes:
    """A Cu K-edge XDI 1.0 file made from the larch Cu foil example (no Cu XDI file is in the shared data)."""
    rows = [line for line in (MEASURED / "xas/larch_examples/cu_150k.xmu").read_text().splitlines()
            if line.strip() and not line.startswith("#")]
    header = ["# XDI/1.0", "# Column.1: energy eV", "# Column.2: mutrans", "# Element.symbol: Cu",
              "# Element.edge: K", "# Sample.name: Cu foil 150 K", "#----", "# energy mutrans"]
    return ("\n".join(header + [" ".join(r.split()[:2]) for r in rows]) + "\n").encode()


SPECTRA = {  # file name -> (seed, structure, model)
    "Cu_foil.xdi": (_xdi_seed(), "Cu.cif", "xas-cu-k"),
    "cu_150k.xmu": ((MEASURED / "xas/larch_examples/cu_150k.xmu").read_bytes(), "Cu.cif", "xas-cu-k"),
    "Cu_HERFD.txt": ((MEASURED / "xas/larch_athena_extracted/CuHERFD_standards__CuHERFD_Cu_Foil_001.txt").read_bytes(),
                     "Cu.cif", "xas-cu-k"),
    "V_dos.csv": ((MEASURED / "phdos/multiphonon/V_ARCS_Ei120meV_300K_dos.csv").read_bytes(), "V.cif", "phdos"),
    "V_dos_THz.dat": ((MEASURED / "phdos/multiphonon/V_reference_dos_THz.dat").read_bytes(), "V.cif", "phdos"),
}


@fuzz_settings("spectra")
@given(st.sampled_from(sorted(SPECTRA)).flatmap(lambda name: st.tuples(st.just(name), mutated(SPECTRA[name][0]))),
       st.booleans())
def test_any_measured_spectrum_file_ends_cleanly(case, as_json):
    name, data = case
    _, structure, model = SPECTRA[name]
    with workspace() as (inputs, out):
        path = inputs / name
        path.write_bytes(data)
        argv = ["compare", str(EXAMPLES / structure), str(path), "--model", model]
        run_cli(argv + (["--json"] if as_json else []), [inputs, out], set(), out)


def _sqe_seed() -> dict[str, np.ndarray]:
    """The measured Al map on a coarser grid (every 6th Q, every 3rd E), so that each prediction is quick."""
    with np.load(MEASURED / "phdos/multiphonon/Al_Ei80meV_sqe.npz") as archive:
        arrays = {key: archive[key] for key in archive.files}
    return {"Q": arrays["Q"][::6], "E": arrays["E"][::3], "I": arrays["I"][::6, ::3], "I_err2": arrays["I_err2"][::6, ::3]}


SQE = _sqe_seed()


@st.composite
def mutated_arrays(draw) -> dict:
    arrays = dict(SQE)
    for _ in range(draw(st.integers(0, 2))):
        key = draw(st.sampled_from(sorted(arrays)))
        action = draw(st.sampled_from(["nan", "inf", "negative", "reverse", "shape", "drop", "rename", "empty",
                                       "strings", "objects", "scalar", "scale"]))
        try:
            value = np.array(arrays[key], dtype=float)
        except (TypeError, ValueError):  # an earlier action made it strings or objects: leave it
            continue
        if value.ndim == 0:  # an earlier action made it a scalar
            continue
        if action in ("nan", "inf", "negative") and value.size:
            flat = value.reshape(-1)
            index = draw(st.lists(st.integers(0, flat.size - 1), min_size=1, max_size=5))
            flat[index] = {"nan": np.nan, "inf": np.inf, "negative": -1.0}[action]
            arrays[key] = flat.reshape(value.shape)
        elif action == "reverse":
            arrays[key] = value[::-1]
        elif action == "shape":
            arrays[key] = value.reshape(-1)[:draw(st.integers(0, value.size))]
        elif action == "drop":
            del arrays[key]
        elif action == "rename":
            arrays[draw(st.sampled_from(["q", "energy_mev", "sqe", "x", "I_err"]))] = arrays.pop(key)
        elif action == "empty":
            arrays[key] = np.zeros((0,))
        elif action == "strings":
            arrays[key] = value.astype(str)
        elif action == "objects":
            arrays[key] = np.array([None, "x"], dtype=object)
        elif action == "scalar":
            arrays[key] = np.float64(1.0)
        else:
            arrays[key] = value * draw(st.sampled_from([0.0, 1e-300, 1e300, -1.0]))
    return arrays


@fuzz_settings("sqe")
@given(mutated_arrays(), st.integers(0, 4))
def test_any_sqe_map_ends_cleanly(arrays, corrupt):
    with workspace() as (inputs, out):
        path = inputs / "map.npz"
        with open(path, "wb") as handle:
            np.savez(handle, **arrays)
        if corrupt == 0:  # damage the archive itself once in five
            data = bytearray(path.read_bytes())
            del data[len(data) // 2:len(data) // 2 + 50]
            path.write_bytes(bytes(data))
        argv = ["compare", str(EXAMPLES / "Al.cif"), str(path), "--model", "phdos", "--mode", "physics",
                "--potential", "7net-0", "--ei", "80", "--json"]
        run_cli(argv, [inputs, out], set(), out)


# ---------------------------------------------------------------- training configs
def _config_seeds() -> dict[str, dict]:
    seeds = {}
    for name in ("phdos.yaml", "xas_cu_k.yaml"):
        config = yaml.safe_load((ROOT / "configs" / name).read_text())
        for key in ("csv", "train_ids", "valid_ids", "folder"):
            if key in config["data"]:
                config["data"][key] = str(SHARED_DATA / Path(config["data"][key]).relative_to("../shared/data"))
        config["data"]["feature_cache"] = None
        seeds[name] = config
    return seeds


CONFIGS = _config_seeds()
NEVER_CREATED = "/tmp/equispec-fuzz-output-never-created/run"
OVERRIDES = st.sampled_from(["optim.lr=abc", "optim.lr=1e-4", "model.mul=1000000", "trainer.devices=2",
                             "optim.max_epochs=0", "data.limit_train=5", "model=3", "model.lmax.x=1", "nonsense",
                             "optim.batch_size=[1]", "optim.ema_decay=null", "task=xrd"])


@fuzz_settings("configs")
@given(st.sampled_from(sorted(CONFIGS)).flatmap(lambda name: mutated_tree(CONFIGS[name])), st.lists(OVERRIDES, max_size=2),
       st.data())
def test_any_training_config_ends_cleanly(tree, overrides, data):
    with workspace() as (inputs, out):
        path = inputs / "config.yaml"
        # a fixed output_dir: the mutations draw from the text, which must not change between runs
        text = yaml.safe_dump(dict(tree, output_dir=NEVER_CREATED)).encode()
        if data.draw(st.integers(0, 3)) == 0:  # also break the YAML text itself, once in four
            text = data.draw(mutated(text))
        path.write_bytes(text)
        argv = ["train", str(path), "--check", *[arg for o in overrides for arg in ("--set", o)]]
        run_cli(argv, [inputs, out], set(), out)
        assert not Path(NEVER_CREATED).exists()


# ---------------------------------------------------------------- model directories
@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    """A small trained-format model directory (no pretrained features), saved by the real writer."""
    from equispec.models.serialization import save_model_dir
    from equispec.models.build import build_model

    hyper = dict(cutoff_ang=4.5, num_layers=1, mul=4, lmax=1, embed_dim=8, num_radial=4, radial_hidden=8,
                 readout_hidden=8, n_out=51, avg_num_neighbors=10.0)
    directory = tmp_path_factory.mktemp("tiny") / "model"
    return save_model_dir(build_model("phdos_gate_v1", hyper), directory, "phdos_gate_v1", hyper, task="phdos",
                          freq_cm1=[20.0 * k for k in range(51)], elements=["Si", "Na", "Cl", "Ga", "As"])


@fuzz_settings("model_json")
@given(st.data())
def test_any_model_directory_ends_cleanly(tiny_model, data):
    with workspace() as (inputs, out):
        model = inputs / "model"
        model.mkdir()
        info = json.loads((tiny_model / "model.json").read_text())
        weights = (tiny_model / "model.safetensors").read_bytes()
        kind = data.draw(st.sampled_from(["tree", "tree", "tree", "text", "weights"]))
        text = json.dumps(info).encode()
        if kind == "tree":
            text = json.dumps(data.draw(mutated_tree(info))).encode()
        elif kind == "text":
            text = data.draw(mutated(text))
        else:
            weights = data.draw(mutated(weights))
        (model / "model.json").write_bytes(text)
        (model / "model.safetensors").write_bytes(weights)
        argv = ["predict", str(EXAMPLES / "Si.cif"), "--model", str(model), "-o", str(out / "dos.json")]
        run_cli(argv, [inputs, model, out], {"dos.json"}, out)
