"""Write the example structures in data/examples/ from textbook prototypes and lattice constants.

Run from the project root: ``python scripts/tools/make_examples.py``. The files are generated here, not copied
from any data set; lattice constants are room-temperature experimental values.
"""

from pathlib import Path

from pymatgen.core import Lattice, Structure
from pymatgen.io.vasp import Poscar

OUT = Path(__file__).resolve().parents[2] / "data" / "examples"


def diamond(element: str, a: float) -> Structure:
    return Structure.from_spacegroup("Fd-3m", Lattice.cubic(a), [element], [[0, 0, 0]]).get_primitive_structure()


def zincblende(cation: str, anion: str, a: float) -> Structure:
    return Structure.from_spacegroup("F-43m", Lattice.cubic(a), [cation, anion],
                                     [[0, 0, 0], [0.25, 0.25, 0.25]]).get_primitive_structure()


def rocksalt(cation: str, anion: str, a: float) -> Structure:
    return Structure.from_spacegroup("Fm-3m", Lattice.cubic(a), [cation, anion],
                                     [[0, 0, 0], [0.5, 0.5, 0.5]]).get_primitive_structure()


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    examples = {
        "Si.cif": diamond("Si", 5.431),
        "GaAs.cif": zincblende("Ga", "As", 5.653),
        "NaCl.cif": rocksalt("Na", "Cl", 5.640),
        "MgO.cif": rocksalt("Mg", "O", 4.212),
        "SrTiO3.cif": Structure(Lattice.cubic(3.905), ["Sr", "Ti", "O", "O", "O"],
                                [[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]]),
        "Cu.cif": Structure.from_spacegroup("Fm-3m", Lattice.cubic(3.615), ["Cu"], [[0, 0, 0]]).get_primitive_structure(),
        # for neutron comparisons: diamond (modes up to ~165 meV) and the measured Al and V of ../shared
        "C_diamond.cif": diamond("C", 3.567),
        "Al.cif": Structure.from_spacegroup("Fm-3m", Lattice.cubic(4.0495), ["Al"], [[0, 0, 0]]).get_primitive_structure(),
        "V.cif": Structure.from_spacegroup("Im-3m", Lattice.cubic(3.0274), ["V"], [[0, 0, 0]]).get_primitive_structure(),
        # cuprite: O on a bcc lattice, Cu linearly coordinated between them
        "Cu2O.cif": Structure(Lattice.cubic(4.2696), ["O", "O", "Cu", "Cu", "Cu", "Cu"],
                              [[0, 0, 0], [0.5, 0.5, 0.5], [0.25, 0.25, 0.25], [0.75, 0.75, 0.25],
                               [0.75, 0.25, 0.75], [0.25, 0.75, 0.75]]),
    }
    for name, structure in examples.items():
        structure.to(filename=str(OUT / name))
    Poscar(zincblende("Al", "P", 5.451), comment="AlP zincblende").write_file(OUT / "AlP.POSCAR")
    print(f"wrote {len(examples) + 1} structures to {OUT}")


if __name__ == "__main__":
    main()
