"""Generators of malformed inputs for the three systems, each written into a fresh folder, and the CLI call.

Every generator ``gen(tmp: Path) -> BadInput`` writes one malformed input (real formats, built from
scratch: EDF via ``tests.sleep.synthetic``, AEDAT4 via ``tests.fewshot.aedat4_writer``, images and videos
via OpenCV/Pillow, checkpoints via safetensors/pickle) and returns the ``neurotrio`` arguments that feed it
to the real command, the file name the error must name, a regex for the problem, and the output path that
must not exist afterwards. The generators live per system in ``corpus_sleep``, ``corpus_mer`` and
``corpus_fewshot``; :data:`CORPUS` lists every case as a ``pytest.param`` (id = case name).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.bad_inputs.cases import BadInput
from tests.bad_inputs.corpus_fewshot import FEWSHOT_CASES
from tests.bad_inputs.corpus_mer import MER_CASES
from tests.bad_inputs.corpus_sleep import SLEEP_CASES

# every case; the id is the generator's name
CORPUS = [*SLEEP_CASES, *MER_CASES, *FEWSHOT_CASES]


def case(name: str) -> Callable[[Path], BadInput]:
    """The generator called ``name`` (e.g. ``"edf_truncated"``)."""
    gens = {p.values[0].__name__: p.values[0] for p in CORPUS}
    return gens[name]


__all__ = ["CORPUS", "BadInput", "case"]
