"""Training code of this project: data, features, training, evaluation, tracking.

`python -m` with this package's name runs its command line (see __main__.py);
the notebooks import the same functions.
"""

import atexit
import gc


def exit_without_collecting() -> None:
    """At this process's exit, leave its objects to the operating system.

    The command lines call this: a command ends with its results written, and
    what is left is the interpreter collecting MLflow's and scikit-learn's
    objects one by one on the way out, 0.4 s of every command and pipeline
    stage. Frozen objects are skipped, and the memory is freed at once.
    """
    atexit.register(gc.freeze)
