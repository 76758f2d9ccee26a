"""Class and channel names of the synthetic fields, and the class ids the stain renderers use."""

from __future__ import annotations

from msrgan.convention import CHANNEL_LAYOUTS, LOCALIZATION_CLASSES

CLASS_NAMES: tuple[str, ...] = LOCALIZATION_CLASSES  # the 13 protein-localization classes, in class-id order
NUM_CLASSES = len(CLASS_NAMES)

CHANNEL_NAMES_4: tuple[str, ...] = CHANNEL_LAYOUTS[4]  # CYTO2017 order: nucleus, microtubules, er, protein
CHANNEL_NAMES_3: tuple[str, ...] = CHANNEL_LAYOUTS[3]  # RGB merge: microtubules, protein, nucleus
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
