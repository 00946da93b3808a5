"""Issue 14's cases, each as a user meets it: one line on stderr, exit status 2, no traceback, no file left
behind; process substitution works. (tests/fuzz generalises these over mutated files.)"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from pymatgen.core import Lattice, Structure

from equispec.cli.main import main
from tests.conftest import EXAMPLES, PHDOS, ROOT


def one_error_line(capsys) -> str:
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("equispec: error: "), lines
    return lines[0]


def left_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def si_cif_with(tmp_path: Path, old: str, new: str) -> Path:
    path = tmp_path / "in" / "bad.cif"
    path.parent.mkdir(exist_ok=True)
    text = (EXAMPLES / "Si.cif").read_text()
    assert old in text
    path.write_text(text.replace(old, new))
    return path


@pytest.mark.parametrize("old, new, message", [
    ("_cell_length_a   3.84029693", "_cell_length_a   1e9", "cell length a = 1e+09 Å is over 1000 Å"),
    ("_cell_length_b   3.84029693", "_cell_length_b   nan", "NaN"),
    ("_cell_length_c   3.84029693", "_cell_length_c   0.01", "volume per atom"),
])
def test_absurd_cells_fail_before_any_neighbour_search(tmp_path, capsys, old, new, message):
    bad = si_cif_with(tmp_path, old, new)
    (tmp_path / "out").mkdir()
    assert main(["predict", str(bad), "-o", str(tmp_path / "out" / "dos.jsonl")]) == 2
    line = one_error_line(capsys)
    assert str(bad) in line and message in line
    assert left_in(tmp_path / "out") == []


def test_a_species_that_is_no_element_is_one_line(tmp_path, capsys):
    """Found by the fuzz: a POSCAR species line reading 'Ql P' gave pymatgen's traceback."""
    poscar = tmp_path / "AlP.POSCAR"
    poscar.write_text((EXAMPLES / "AlP.POSCAR").read_text().replace("\nAl P\n", "\nQl P\n"))
    assert "Ql P" in poscar.read_text()
    assert main(["predict", str(poscar)]) == 2
    assert "species Ql is not a chemical element" in one_error_line(capsys)


def test_nearly_flat_cell_is_one_line(tmp_path, capsys):
    flat = tmp_path / "flat.vasp"
    lattice = Lattice([[100, 0, 0], [0, 100, 0], [50, 50, 0.05]])  # planes 0.05 Å apart, 250 Å^3 per atom
    Structure(lattice, ["Si", "Si"], [[0, 0, 0], [0.5, 0.5, 0.5]]).to(filename=str(flat), fmt="poscar")
    assert main(["predict", str(flat)]) == 2
    assert "cell is nearly flat: lattice planes (0 0 1) are 0.05 Å apart" in one_error_line(capsys)


def test_absurd_cell_in_a_subprocess_has_no_traceback(tmp_path):
    bad = si_cif_with(tmp_path, "_cell_length_a   3.84029693", "_cell_length_a   1e9")
    result = subprocess.run([sys.executable, "-m", "equispec", "predict", str(bad)], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 2 and "Traceback" not in result.stderr and "MemoryError" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def lonely_atom_cif(folder: Path) -> Path:
    path = folder / "lonely.cif"
    Structure(Lattice.cubic(12.0), ["Si", "Si", "Na"], [[0, 0, 0], [0.2, 0, 0], [0.5, 0.5, 0.5]]).to(filename=str(path))
    return path


def test_jsonl_stream_leaves_nothing_when_a_later_input_is_bad(tmp_path, capsys):
    """The lonely atom is the last of 3 inputs in chunks of one: found in the up-front checks, before the
    first record is streamed, so neither OUT.jsonl nor OUT.jsonl.part appears."""
    (tmp_path / "out").mkdir()
    lonely = lonely_atom_cif(tmp_path)
    out = tmp_path / "out" / "dos.jsonl"
    from equispec.inference import Predictor

    original = Predictor.predict_stream

    def small_chunks(self, *args, **kwargs):
        return original(self, *args, **dict(kwargs, chunk_size=1))

    Predictor.predict_stream = small_chunks
    try:
        code = main(["predict", str(EXAMPLES / "Si.cif"), str(EXAMPLES / "NaCl.cif"), str(lonely), "-o", str(out)])
    finally:
        Predictor.predict_stream = original
    assert code == 2
    assert "no neighbour within the 4.5 Å cutoff" in one_error_line(capsys)
    assert left_in(tmp_path / "out") == []


def test_physics_mode_checks_neighbours_before_any_force(tmp_path, capsys, monkeypatch):
    import equispec.physics as physics

    monkeypatch.setattr(physics, "physics_dos", lambda *a, **k: pytest.fail("forces computed before the checks"))
    lonely = lonely_atom_cif(tmp_path)
    (tmp_path / "out").mkdir()
    code = main(["predict", str(EXAMPLES / "Si.cif"), str(lonely), "--mode", "physics", "--potential", "7net-0",
                 "-o", str(tmp_path / "out" / "dos.jsonl")])
    assert code == 2 and "no neighbour" in one_error_line(capsys)
    assert left_in(tmp_path / "out") == []


def test_bad_first_input_leaves_no_part_file(tmp_path, capsys):
    bad = tmp_path / "empty.cif"
    bad.write_text("")
    (tmp_path / "out").mkdir()
    assert main(["predict", str(bad), "-o", str(tmp_path / "out" / "dos.jsonl")]) == 2
    assert "file is empty" in one_error_line(capsys)
    assert left_in(tmp_path / "out") == []


@pytest.mark.parametrize("plot, message", [("no/such/folder/dos.png", "output folder does not exist"),
                                           ("dos.xyz", "figure must end in one of"),
                                           ("folder.png", "is a folder, not a file name")])
def test_plot_path_is_checked_before_any_output(tmp_path, capsys, monkeypatch, plot, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "folder.png").mkdir()
    assert main(["predict", str(EXAMPLES / "Si.cif"), "-o", "dos.csv", "--plot", plot]) == 2
    assert message in one_error_line(capsys)
    assert left_in(tmp_path) == ["folder.png"]


def test_process_substitution_for_ids_and_file_lists(tmp_path):
    """bash's <(...) hands the program /dev/fd/N, a pipe: it must be read (once), not stat'ed as a file."""
    ids = "mp-149\nmp-2534  # a comment\n"
    script = (f'{sys.executable} -m equispec evaluate --data {PHDOS / "phdos_trainval.csv"} --ids <(printf "{ids}") '
              f'--json && {sys.executable} -m equispec predict --files-from <(echo {EXAMPLES / "Si.cif"})')
    result = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    first, *rest = result.stdout.splitlines()
    assert json.loads(first)["n"] == 2
    assert any(line.startswith(f"{EXAMPLES / 'Si.cif'}: Si, 2 atoms") for line in rest)


def test_a_folder_given_as_id_list_is_one_line(tmp_path, capsys):
    assert main(["evaluate", "--data", str(PHDOS / "phdos_trainval.csv"), "--ids", str(tmp_path)]) == 2
    assert f"{tmp_path}: is a folder, not an id list" in one_error_line(capsys)


@pytest.mark.parametrize("override, key, message", [
    ("optim.lr=abc", "optim.lr", "expected a number, got str 'abc'"),
    ("optim.batch_size=0", "optim.batch_size", "must be at least 1"),
    ("model.mul=1000000", "model.mul", "must be in [1, 512]"),
    ("trainer.progress_bar=maybe", "trainer.progress_bar", "expected true or false"),
    ("optim.lr.x=1", "optim.lr", "is not a section"),
    ("trainer.devices=abc", "trainer.devices", "expected a count, -1, 'auto' or a list"),
    ("trainer.accelerator=gpux", "trainer.accelerator", "unknown value 'gpux'"),
    ("architecture=os.system", "architecture", "unknown value 'os.system'"),
    ("model.num_species_features=4", "model.num_species_features", "this option was removed"),
    ("optim.position_noise_ang=0.05", "optim.position_noise_ang", "this option was removed"),
    ("data.gamma_json=gamma.json", "data.gamma_json", "only its off value None is accepted"),
])
def test_config_values_are_type_checked(tmp_path, capsys, monkeypatch, override, key, message):
    monkeypatch.chdir(tmp_path)
    assert main(["train", str(ROOT / "configs" / "phdos.yaml"), "--set", override]) == 2
    line = one_error_line(capsys)
    assert f"error: {key}" in line and message in line
    assert left_in(tmp_path) == []


def test_yaml_numbers_without_a_dot_are_numbers(tmp_path, capsys):
    """YAML 1.1 reads 1e-3 as a string; a float field takes it as the number it obviously is."""
    from equispec.training import load_config

    config = tmp_path / "c.yaml"
    config.write_text((ROOT / "configs" / "phdos.yaml").read_text().replace("lr: 0.001", "lr: 1e-3"))
    assert load_config(config).optim.lr == 0.001


def test_train_check_and_missing_data_make_no_output_folder(tmp_path, capsys):
    config = tmp_path / "c.yaml"
    config.write_text((ROOT / "configs" / "phdos.yaml").read_text()
                      .replace("../shared/data/phdos", str(PHDOS)).replace("runs/phdos", str(tmp_path / "run")))
    assert main(["train", str(config), "--check"]) == 0
    assert "config OK" in capsys.readouterr().err and not (tmp_path / "run").exists()
    config.write_text(config.read_text().replace("phdos_trainval.csv", "missing.csv"))
    assert main(["train", str(config)]) == 2
    assert "data.csv" in one_error_line(capsys) and not (tmp_path / "run").exists()


@pytest.fixture
def model_copy(tmp_path) -> Path:
    copy = tmp_path / "model"
    copy.mkdir()
    for name in ("model.json", "model.safetensors"):
        (copy / name).write_bytes((ROOT / "checkpoints" / "xas-cu-k" / name).read_bytes())
    return copy


def edit_json(directory: Path, edit) -> None:
    info = json.loads((directory / "model.json").read_text())
    edit(info)
    (directory / "model.json").write_text(json.dumps(info))


@pytest.mark.parametrize("edit, message", [
    (lambda i: i["members"][0]["hyperparameters"].update(mul=10**6), "members[0].hyperparameters.mul: must be in"),
    (lambda i: i["members"][1]["hyperparameters"].update(lmax="2"), "hyperparameters.lmax: expected an integer"),
    (lambda i: i.update(energy_ev=i["energy_ev"][:10]), "energy_ev: has 10 values"),
    (lambda i: i.update(format_version="1"), "format_version must be a positive integer"),
    (lambda i: i.update(elements="Cu"), "elements: expected a list of element symbols"),
    (lambda i: i.update(members=[]), "an ensemble needs a list of 1-64 members"),
    (lambda i: i.pop("weights_sha256"), "weights_sha256 must be"),
    (lambda i: i.update(architecture="os.system"), "unknown architecture"),
    (lambda i: i.update(architecture=[]), "unknown architecture"),  # found by the fuzz: unhashable
    (lambda i: i.update(task=["xas"]), "task: unknown task"),
])
def test_bad_model_json_is_one_line(model_copy, tmp_path, capsys, edit, message):
    edit_json(model_copy, edit)
    (tmp_path / "out").mkdir()
    assert main(["predict", str(EXAMPLES / "Cu.cif"), "--model", str(model_copy), "-o",
                 str(tmp_path / "out" / "xas.json")]) == 2
    line = one_error_line(capsys)
    assert f"{model_copy / 'model.json'}" in line and message in line
    assert left_in(tmp_path / "out") == []


def test_changed_weights_fail_the_hash_check(model_copy, capsys):
    weights = bytearray((model_copy / "model.safetensors").read_bytes())
    weights[-1] ^= 1  # one bit of one weight
    (model_copy / "model.safetensors").write_bytes(bytes(weights))
    assert main(["predict", str(EXAMPLES / "Cu.cif"), "--model", str(model_copy)]) == 2
    assert "SHA-256 differs from weights_sha256" in one_error_line(capsys)


def test_shipped_models_pass_their_schema():
    from equispec.models.serialization import load_model_dir

    for name in ("phdos", "xas-cu-k"):
        _, info = load_model_dir(ROOT / "checkpoints" / name)
        assert info["architecture"] == "ensemble"


def test_ensemble_scores_before_writing(tmp_path, capsys):
    from equispec.models.serialization import save_model_dir
    from equispec.models.build import build_model

    hyper = dict(cutoff_ang=4.5, num_layers=1, mul=4, lmax=1, embed_dim=8, num_radial=4, radial_hidden=8,
                 readout_hidden=8, n_out=51, avg_num_neighbors=10.0)
    grid = [20.0 * k for k in range(51)]
    members = []
    for seed in (0, 1):
        import torch

        torch.manual_seed(seed)
        members.append(str(save_model_dir(build_model("phdos_gate_v1", hyper), tmp_path / f"m{seed}", "phdos_gate_v1",
                                          hyper, task="phdos", freq_cm1=grid, elements=["Si", "C", "O", "Mg"])))
    ids = tmp_path / "ids.txt"
    ids.write_text("mp-149\n")
    out = tmp_path / "ensemble"
    assert main(["ensemble", *members, "-o", str(out), "--data", str(tmp_path / "missing.csv"), "--ids", str(ids)]) == 2
    assert "missing.csv" in one_error_line(capsys) and not out.exists()
    assert main(["ensemble", *members, "-o", str(out), "--data", str(PHDOS / "phdos_trainval.csv"), "--ids", str(ids)]) == 0
    info = json.loads((out / "model.json").read_text())
    assert info["valid_metrics"]["n"] == 1 and info["valid_data"]["ids"] == str(ids) and len(info["members"]) == 2


@pytest.mark.parametrize("edit, message", [
    (lambda h: h["learned"].update(bin_logit=h["learned"]["bin_logit"][:3]), "hybrid.learned.bin_logit: has 3 values"),
    (lambda h: h["learned"].update(spread_members=[0, 99]), "hybrid.learned.spread_members"),
    (lambda h: h.update(network_weight=7), "hybrid.network_weight: must be in [0, 1]"),
])
def test_bad_hybrid_record_is_one_line(tmp_path, capsys, edit, message):
    copy = tmp_path / "phdos"
    copy.mkdir()
    for name in ("model.json", "model.safetensors"):
        (copy / name).write_bytes((ROOT / "checkpoints" / "phdos" / name).read_bytes())
    edit_json(copy, lambda info: edit(info["hybrid"]))
    assert main(["predict", str(EXAMPLES / "Si.cif"), "--model", str(copy), "--mode", "hybrid"]) == 2
    assert message in one_error_line(capsys)


def test_fuzz_findings_yaml_escape_and_huge_intensity(tmp_path, capsys):
    """Found by the 10 000-example fuzz: PyYAML raises ValueError (not YAMLError) for an escape beyond
    Unicode, and an intensity of 1e303 overflowed the scores."""
    from equispec.analysis.readers import read_measured_dos
    from equispec.errors import InputError

    config = tmp_path / "c.yaml"
    config.write_text('task: phdos\ndata:\n  "0\\U999999999": null\n')
    assert main(["train", str(config), "--check"]) == 2
    assert "not valid YAML" in one_error_line(capsys)
    table = tmp_path / "dos.csv"
    table.write_text("energy_meV,dos\n" + "".join(f"{e},{1e303 if e == 7 else e}\n" for e in range(1, 20)))
    with pytest.raises(InputError, match="beyond any measured intensity"):
        read_measured_dos(table)
