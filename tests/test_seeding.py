"""msrgan.seeding: every random source seeded, TensorFlow imported only when it is the backend."""

from __future__ import annotations

from tests.helpers import run_in_backend

CODE = """
import json, sys
import numpy as np
import keras
from msrgan.seeding import set_random_seed

draws = []
for _ in range(2):
    set_random_seed(11)
    draws.append([float(np.random.rand()), float(keras.ops.convert_to_numpy(keras.random.uniform((1,)))[0])])
backend = keras.backend.backend()
if backend == "torch":
    import torch
    set_random_seed(11); a = float(torch.rand(1)); set_random_seed(11); b = float(torch.rand(1))
    draws.append([a, b])
print(json.dumps({"draws": draws, "tensorflow": "tensorflow" in sys.modules}))
"""


def test_seeds_every_source_and_imports_tensorflow_only_on_its_backend(backend):
    got = run_in_backend(backend, CODE)
    first, second = got["draws"][0], got["draws"][1]
    assert first == second  # NumPy and Keras's global seed generator repeat after reseeding
    if backend == "torch":
        a, b = got["draws"][2]
        assert a == b  # torch's own generator too
    # TensorFlow is imported to be seeded on its own backend only (a fresh interpreter imports nothing else)
    assert got["tensorflow"] is (backend == "tensorflow")
