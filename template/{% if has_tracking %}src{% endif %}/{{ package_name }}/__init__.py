"""Training code of this project: data, features, training, evaluation, tracking.

`python -m` with this package's name runs its command line (see __main__.py);
the notebooks import the same functions.
"""
