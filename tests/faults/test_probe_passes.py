"""What the issue-23 probe found already right, kept right: old outputs survive bad input, pickles and YAML
tags are refused without running (a payload that would leave a marker file leaves none)."""

from __future__ import annotations

import numpy as np

from tests.faults.cli import error_line, example, listing, overlapping_cif, run


def test_old_outputs_survive_a_bad_input(tmp_path):
    for name in ("out.json", "out.csv", "out.jsonl"):
        (tmp_path / name).write_text(f"old {name}\n")
    bad = overlapping_cif(tmp_path)
    for name in ("out.json", "out.csv", "out.jsonl"):
        assert "apart" in error_line(run("predict", bad, "-o", name, cwd=tmp_path))
        assert (tmp_path / name).read_text() == f"old {name}\n"
    assert listing(tmp_path) == ["out.csv", "out.json", "out.jsonl", "overlapping.cif"]


class _Payload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_pickled_sqe_map_is_refused_unrun(tmp_path):
    marker = tmp_path / "unpickled"
    np.savez(tmp_path / "map.npz", Q=np.linspace(0.5, 5, 10), E=np.linspace(0, 50, 20),
             I=np.array([_Payload(str(marker))], dtype=object), I_err2=np.ones((10, 20)))
    line = error_line(run("compare", example("V.cif", tmp_path), "map.npz", "--model", "phdos", cwd=tmp_path))
    assert "map.npz: not a readable .npz of arrays" in line and not marker.exists()


def test_a_yaml_tag_in_a_config_is_refused_unrun(tmp_path):
    marker = tmp_path / "ran"
    (tmp_path / "evil.yaml").write_text(f"task: !!python/object/apply:os.system ['touch {marker}']\n")
    assert "evil.yaml: not valid YAML" in error_line(run("train", "evil.yaml", "--check", cwd=tmp_path))
    assert not marker.exists()
