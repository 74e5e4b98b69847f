"""The DVC pipeline (dvc.yaml): its stages, the data contract they check, and
the sample data that CI rebuilds before `dvc repro`."""
