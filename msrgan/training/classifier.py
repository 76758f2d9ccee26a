"""Training the miniVGG19 microscopy classifier, whose features drive mSRGAN's content loss.

The classifier sees images normalized exactly as the GAN's training patches are
(``msrgan.data.patches.PatchDataset``'s default: per-image, per-channel percentiles 2 / 99.8 to
0 / 1, clipped), so its feature taps measure content on the same intensity scale.

- ``prepare_images``: images of any dtype -> float32 [0, 1] arrays (percentile or unit range).
- ``ClassifierBatches``: random ``crop``-pixel crops with the 8 flips/rotations, as a Keras
  ``PyDataset``, deterministic given ``(seed, epoch, index)``.
- ``train_classifier``: builds, compiles and fits a ``MiniVGG19`` (Adam, cross-entropy on logits),
  validates each epoch, and returns the model and a report with the validation top-1 accuracy
  and the confusion matrix.
- ``confusion_matrix`` / ``classification_report`` / ``format_confusion``.
- ``ClassifierOptions``: the typed settings of ``msrgan train-classifier`` (a frozen dataclass,
  checked when made, from keywords, a dict, or a JSON/TOML/YAML file: ``msrgan.training.config.Options``).
- ``train_and_save``: ``msrgan train-classifier`` as a library call: loads the labelled data,
  trains, and saves the model (the zoo's pretrained format), ``train_config.json`` and ``report.json``.

Example:
    >>> import numpy as np
    >>> confusion_matrix([0, 1, 1], [0, 1, 0], num_classes=2).tolist()
    [[1, 0], [1, 1]]
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import keras
import numpy as np

from msrgan.seeding import set_random_seed
from msrgan.training.config import Options

SYNTHETIC_COUNT = 520  # synthetic fields drawn when count is not given


@dataclasses.dataclass(frozen=True)
class ClassifierOptions(Options):
    """Every setting of ``train_and_save``, named as ``msrgan train-classifier``'s long flags (``--help``
    says what each one does), with its default.

    Checked and converted when made, as ``TrainOptions`` (``msrgan.training.config.Options``: a wrong
    value raises ``UsageError`` naming the setting, or a ``ValueError`` naming the file too when it
    came from one); ``train_config.json`` records ``run_record()`` and ``from_file`` reads it back.

    Example:
        >>> options = ClassifierOptions(count=26, size=32, crop=32, steps=3, out="runs/minivgg19")
        >>> options.lr, options.replace(width=0.125).width
        (0.002, 0.125)
        >>> ClassifierOptions.from_dict(options.to_dict()) == options
        True
    """

    COMMAND = "msrgan train-classifier"
    NOT_RECORDED = ("overwrite",)  # how this invocation treats OUT: not in train_config.json

    data: str = "synthetic"  # 'synthetic', a labelled image folder or a Hugging Face dataset
    count: int | None = None  # None: SYNTHETIC_COUNT synthetic fields, or every image of a folder or dataset
    size: int = 64
    channels: int = 3
    seed: int = 0
    val_fraction: float = 0.2
    normalization: str = "percentile"
    crop: int = 64
    width: float = 0.25
    dropout: float = 0.3
    steps: int = 600
    steps_per_epoch: int = 100
    batch_size: int = 32
    lr: float = 2e-3
    augment: bool = True
    jit_compile: str | bool = "auto"
    mixed_precision: str | None = None
    out: str | None = None
    overwrite: bool = False
    verbose: int = 1

    @classmethod
    def settings(cls) -> dict:
        """The type and range of every setting (``msrgan.training.config.Setting``)."""
        from msrgan.data.normalize import NORMALIZATIONS
        from msrgan.training.config import Setting as S

        return {
            "data": S(str), "count": S(int, 1, optional=True), "size": S(int, 32),
            "channels": S(int, choices=(1, 3, 4)), "seed": S(int, 0),
            "val_fraction": S(float, 0, 1, open_low=True, open_high=True),
            "normalization": S(str, choices=tuple(NORMALIZATIONS)), "crop": S(int, 1),
            "width": S(float, 0, open_low=True), "dropout": S(float, 0, 1, open_high=True), "steps": S(int, 1),
            "steps_per_epoch": S(int, 1), "batch_size": S(int, 1), "lr": S(float, 0, open_low=True),
            "augment": S(bool), "mixed_precision": S(str, choices=("bfloat16", "float16"), optional=True),
            "out": S(str, optional=True), "overwrite": S(bool), "verbose": S(int, 0, 2),
        }


def prepare_images(images: Sequence[np.ndarray], normalization: str = "percentile") -> list[np.ndarray]:
    """Maps each ``(H, W, C)`` image to float32 [0, 1].

    Args:
        images: Images in their stored dtype.
        normalization: A name of ``msrgan.data.normalize.NORMALIZATIONS``, fitted on each image, the
            result clipped: ``"percentile"`` (per image and channel, 2 / 99.8 percentiles to 0 / 1; the
            ``PatchDataset`` default), ``"unit"`` (uint8 / 255, uint16 / 65535) or ``"none"``.

    Returns:
        A list of float32 arrays.
    """
    from msrgan.data.normalize import get_normalizer

    normalizer = get_normalizer(normalization, clip=True)
    out = []
    for i, im in enumerate(images):
        im = np.asarray(im)
        if im.ndim != 3:
            raise ValueError(f"images[{i}] must be (H, W, C), got shape {im.shape}")
        out.append(normalizer.before(im, name=f"images[{i}]"))
    return out


def center_crops(images: Sequence[np.ndarray], crop: int) -> np.ndarray:
    """``(N, crop, crop, C)`` centre crops of images at least ``crop`` pixels on each side."""
    out = []
    for i, im in enumerate(images):
        h, w = im.shape[:2]
        if h < crop or w < crop:
            raise ValueError(f"images[{i}] of shape {im.shape} is smaller than the crop size {crop}")
        y, x = (h - crop) // 2, (w - crop) // 2
        out.append(im[y:y + crop, x:x + crop])
    return np.stack(out).astype(np.float32)


class ClassifierBatches(keras.utils.PyDataset):
    """Random labelled crops with flips/rot90 augmentation, deterministic per ``(seed, epoch, index)``.

    Args:
        images: float32 ``(H, W, C)`` images in [0, 1] (sizes may differ, each at least ``crop``).
        labels: One class id per image.
        crop: Crop side in pixels.
        batch_size: Crops per batch.
        steps_per_epoch: Batches per epoch.
        augment: Random flips and rot90.
        seed: Seed of all draws.
    """

    def __init__(self, images, labels, *, crop: int, batch_size: int = 32, steps_per_epoch: int = 50,
                 augment: bool = True, seed: int = 0):
        super().__init__(workers=1, use_multiprocessing=False)
        self.images = list(images)
        self.labels = np.asarray(labels, np.int64)
        if len(self.images) != len(self.labels) or not len(self.images):
            raise ValueError(f"{len(self.images)} images but {len(self.labels)} labels")
        for i, im in enumerate(self.images):
            if im.shape[0] < crop or im.shape[1] < crop:
                raise ValueError(f"images[{i}] of shape {im.shape} is smaller than the crop size {crop}")
        self.crop, self.batch_size, self.steps = int(crop), int(batch_size), int(steps_per_epoch)
        self.augment, self.seed, self.epoch = bool(augment), int(seed), 0

    def __len__(self):
        return self.steps

    def on_epoch_end(self):
        self.epoch += 1

    def __getitem__(self, index):
        rng = np.random.default_rng((self.seed, self.epoch, int(index)))
        idx = rng.integers(0, len(self.images), self.batch_size)
        c = self.crop
        x = np.empty((self.batch_size, c, c, self.images[0].shape[-1]), np.float32)
        for b, k in enumerate(idx):
            im = self.images[k]
            y0 = int(rng.integers(im.shape[0] - c + 1))
            x0 = int(rng.integers(im.shape[1] - c + 1))
            patch = im[y0:y0 + c, x0:x0 + c]
            if self.augment:
                if rng.random() < 0.5:
                    patch = patch[:, ::-1]
                patch = np.rot90(patch, int(rng.integers(4)))
            x[b] = patch
        return x, self.labels[idx]


def confusion_matrix(y_true, y_pred, num_classes: int) -> np.ndarray:
    """``(num_classes, num_classes)`` counts; row = true class, column = predicted class."""
    m = np.zeros((num_classes, num_classes), np.int64)
    np.add.at(m, (np.asarray(y_true, np.int64), np.asarray(y_pred, np.int64)), 1)
    return m


def classification_report(model, x, y, class_names: Sequence[str], *, batch_size: int = 64) -> dict:
    """Top-1 accuracy, per-class accuracy (recall) and the confusion matrix of ``model`` on ``(x, y)``."""
    logits = model.predict(np.asarray(x, np.float32), batch_size=batch_size, verbose=0)
    pred = np.argmax(logits, axis=-1)
    y = np.asarray(y, np.int64)
    cm = confusion_matrix(y, pred, len(class_names))
    support = cm.sum(axis=1)
    per_class = {name: (float(cm[i, i] / support[i]) if support[i] else None) for i, name in enumerate(class_names)}
    return {"accuracy": float(np.mean(pred == y)), "per_class_accuracy": per_class,
            "confusion_matrix": cm.tolist(), "class_names": list(class_names), "images": int(len(y))}


def format_confusion(report: dict, width: int = 5) -> str:
    """The confusion matrix as text: one row per true class, columns = predicted class ids."""
    names = report["class_names"]
    cm = np.asarray(report["confusion_matrix"])
    pad = max(len(n) for n in names)
    head = " " * (pad + 4) + "".join(f"{j:>{width}d}" for j in range(len(names))) + "   recall"
    lines = [f"top-1 accuracy {report['accuracy']:.4f} on {report['images']} images (rows: true, columns: predicted)",
             head]
    for i, n in enumerate(names):
        acc = report["per_class_accuracy"][n]
        acc_s = "   -" if acc is None else f"{acc:7.3f}"
        lines.append(f"{i:>2d} {n:<{pad}} " + "".join(f"{v:>{width}d}" for v in cm[i]) + f"  {acc_s}")
    return "\n".join(lines)


def train_classifier(train_images, train_labels, val_images, val_labels, *, class_names: Sequence[str],
                     crop: int = 64, width: float = 0.25, dropout: float = 0.3, steps: int = 300,
                     steps_per_epoch: int = 50, batch_size: int = 32, learning_rate: float = 1e-3,
                     seed: int = 0, augment: bool = True, jit_compile="auto", callbacks=(), verbose="auto"):
    """Trains a ``MiniVGG19`` on labelled float32 [0, 1] images and reports validation accuracy.

    Args:
        train_images, train_labels: Training images ``(H, W, C)`` (see ``prepare_images``) and ids.
        val_images, val_labels: Validation images (centre-cropped to ``crop``) and ids.
        class_names: Name of each class id (``num_classes = len(class_names)``).
        crop: Side of the training crops and validation centre crops.
        width, dropout: ``MiniVGG19`` options.
        steps: Training steps, rounded up to whole epochs of ``steps_per_epoch`` (the report says how many ran).
        steps_per_epoch: Steps between validations.
        batch_size: Crops per step.
        learning_rate: Adam learning rate (cosine-decayed to 5% over ``steps``).
        seed: Seed of the weights and the batches.
        augment: Flips/rot90 augmentation.
        jit_compile: Passed to ``compile``.
        callbacks: Extra Keras callbacks.
        verbose: ``fit`` verbosity.

    Returns:
        ``(model, report)``: the trained ``MiniVGG19`` and ``classification_report`` on the
        validation set plus ``history`` (epoch logs).
    """
    from msrgan.models import MiniVGG19

    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    channels = int(np.asarray(train_images[0]).shape[-1])
    set_random_seed(seed)
    model = MiniVGG19(num_classes=len(class_names), channels=channels, width=width, dropout=dropout)
    model(np.zeros((1, crop, crop, channels), np.float32))
    epoch_steps = min(int(steps_per_epoch), int(steps))
    epochs = -(-int(steps) // epoch_steps)  # whole epochs: the run is `epochs * epoch_steps` steps, the schedule too
    schedule = keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps=epochs * epoch_steps, alpha=0.05)
    model.compile(optimizer=keras.optimizers.Adam(schedule),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")], jit_compile=jit_compile)
    data = ClassifierBatches(train_images, train_labels, crop=crop, batch_size=batch_size,
                             steps_per_epoch=epoch_steps, augment=augment, seed=seed)
    x_val = center_crops(val_images, crop)
    y_val = np.asarray(val_labels, np.int64)
    history = model.fit(data, epochs=epochs, validation_data=(x_val, y_val), callbacks=list(callbacks),
                        verbose=verbose, shuffle=False)
    report = classification_report(model, x_val, y_val, class_names)
    report["steps"] = epochs * epoch_steps
    report["history"] = [{k: float(v[i]) for k, v in history.history.items()} for i in range(len(history.epoch))]
    return model, report


def train_and_save(options: ClassifierOptions | dict, out=None) -> dict:
    """Trains the classifier on the labelled images of ``options.data`` and saves it into OUT.

    Args:
        options: The settings; a dict is read by ``ClassifierOptions.from_dict`` (settings not named
            keep their defaults, an unknown one is refused).
        out: OUT, in place of ``options.out``: the folder of the trained model (the zoo's pretrained
            format), ``train_config.json`` and ``report.json``; a folder holding a model is replaced
            only with ``overwrite``.

    Returns:
        The validation report (``classification_report``) plus ``seconds`` and ``text`` (the
        confusion matrix, printable).

    Raises:
        FileExistsError: OUT holds a model and ``overwrite`` is not set (before anything is read).
        ValueError: a setting that does not fit (``UsageError``), no OUT, or data without class labels.
    """
    import time
    from pathlib import Path

    from msrgan.data import load_source
    from msrgan.errors import UsageError
    from msrgan.training.config import data_count, parse_jit, set_precision, write_config

    t0 = time.time()
    if not isinstance(options, ClassifierOptions):
        options = ClassifierOptions.from_dict(options)
    if out is not None:
        options = options.replace(out=out)
    if not options.out:
        raise UsageError("out is required: the folder to save the trained classifier in")
    out = Path(options.out)
    if (out / "config.json").exists() and not options.overwrite:
        raise FileExistsError(f"{out} already holds a model; pass --overwrite to replace it")
    policy = set_precision(options.mixed_precision)
    src = load_source(options.data, channels=options.channels, size=options.size, seed=options.seed,
                      count=data_count(options.data, options.count, SYNTHETIC_COUNT))
    if src.labels is None:
        raise ValueError(f"data {options.data!r} has no class labels; the classifier needs labelled images "
                         "(class subfolders, CYTO2017 names or a labelled dataset)")
    train, val = src.split(options.val_fraction, seed=options.seed)
    x_train = prepare_images(train.images, options.normalization)
    x_val = prepare_images(val.images, options.normalization)
    model, report = train_classifier(
        x_train, train.labels, x_val, val.labels, class_names=src.class_names, crop=options.crop,
        width=options.width, dropout=options.dropout, steps=options.steps, steps_per_epoch=options.steps_per_epoch,
        batch_size=options.batch_size, learning_rate=options.lr, seed=options.seed, augment=options.augment,
        jit_compile=parse_jit(options.jit_compile), verbose=options.verbose)
    seconds = time.time() - t0
    summary = {"val_accuracy": report["accuracy"], "per_class_accuracy": report["per_class_accuracy"],
               "confusion_matrix": report["confusion_matrix"], "class_names": report["class_names"],
               "val_images": report["images"], "train_images": len(train), "seconds": round(seconds, 1),
               "backend": keras.backend.backend(), "dtype_policy": policy,
               "data": {"spec": options.data, "kind": src.kind,
                        **({"synthetic": src.info} if src.kind == "synthetic" else {})},
               "options": {k: v for k, v in options.to_dict().items() if k not in ("out", "overwrite", "verbose")}}
    keras.config.set_dtype_policy("float32")
    model.save_pretrained(out, metadata={"class_names": list(src.class_names), "training": summary},
                          overwrite=options.overwrite)
    write_config(out / "train_config.json", options.run_record())
    write_config(out / "report.json", summary)
    report = dict(report)
    report["seconds"] = seconds
    report["text"] = format_confusion(report)
    return report
