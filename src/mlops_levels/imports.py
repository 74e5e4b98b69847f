"""Which module a distribution is imported as: a dependency counts when code imports it."""

from __future__ import annotations

import re

# Distributions whose import name is not their name with `-` as `_`.
IMPORT_NAMES = {
    "scikit-learn": ("sklearn",),
    "pyyaml": ("yaml",),
    "great-expectations": ("great_expectations", "great_expectations_cloud"),
    "opencv-python": ("cv2",),
    "pillow": ("PIL",),
}


def normalise(name: str) -> str:
    """A distribution name as PEP 503 compares them: great_expectations is great-expectations."""
    return re.sub(r"[-_.]+", "-", name).lower()


def import_names(distribution: str) -> tuple[str, ...]:
    """The top-level modules a distribution is imported as."""
    name = normalise(distribution)
    return IMPORT_NAMES.get(name, (name.replace("-", "_"),))


def imports_module(imported: str, module: str) -> bool:
    """Whether an imported dotted name is the module or inside it (`mlflow.sklearn` is mlflow)."""
    return imported == module or imported.startswith(module + ".")
