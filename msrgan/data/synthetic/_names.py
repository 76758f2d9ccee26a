"""Class and channel names of the synthetic fields, and the class ids the stain renderers use."""

from __future__ import annotations

CLASS_NAMES: tuple[str, ...] = (
    "nucleoplasm",
    "nuclear_membrane",
    "nucleoli",
    "cytosol",
    "plasma_membrane",
    "mitochondria",
    "endoplasmic_reticulum",
    "golgi_apparatus",
    "vesicles",
    "actin_filaments",
    "microtubules",
    "centrosome",
    "intermediate_filaments",
)
NUM_CLASSES = len(CLASS_NAMES)

CHANNEL_NAMES_4: tuple[str, ...] = ("nucleus", "microtubules", "er", "protein")  # CYTO2017 order
CHANNEL_NAMES_3: tuple[str, ...] = ("microtubules", "protein", "nucleus")  # RGB merge
CHANNEL_NAMES_1: tuple[str, ...] = ("protein",)  # gray: the protein of interest
_CHANNEL_NAMES = {1: CHANNEL_NAMES_1, 3: CHANNEL_NAMES_3, 4: CHANNEL_NAMES_4}

# Class ids, for readability in the stain renderers (_stains.py).
(
    _NUCLEOPLASM,
    _NUCLEAR_MEMBRANE,
    _NUCLEOLI,
    _CYTOSOL,
    _PLASMA_MEMBRANE,
    _MITOCHONDRIA,
    _ER,
    _GOLGI,
    _VESICLES,
    _ACTIN,
    _MICROTUBULES,
    _CENTROSOME,
    _INTERMEDIATE_FILAMENTS,
) = range(NUM_CLASSES)
