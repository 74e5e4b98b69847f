"""The `demo` command's harness: the whole continuous-training loop, run on this
machine against a scratch copy of the project (loop.py). Not part of the
library: nothing else in the package imports it."""
