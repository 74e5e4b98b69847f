"""The checks `mlops-levels assess` runs: one small named unit per entry criterion in levels/.

Each unit is registered under its criterion's id with `@check(id)`, takes the
project and the criterion, and returns a Finding. Its docstring is the fix
hint that `assess` prints when the criterion does not hold, so write it as
what to do. Most units apply the criterion's own rule from levels/ (files,
dependencies, CI runs, config keys, or a question to a person); a unit may add
what a rule cannot say. A new criterion in levels/ needs one new unit here and
nothing else; a test holds levels/ and this registry to one unit per criterion.
"""

from __future__ import annotations

from collections.abc import Callable

from mlops_levels.detect import Criterion, Finding, Project

Check = Callable[[Project, Criterion], Finding]

CHECKS: dict[str, Check] = {}


def check(criterion_id: str) -> Callable[[Check], Check]:
    """Register the decorated unit as the one check of `criterion_id`."""

    def register(unit: Check) -> Check:
        if criterion_id in CHECKS:
            raise ValueError(
                f"criterion {criterion_id} has two checks: "
                f"{CHECKS[criterion_id].__name__} and {unit.__name__}"
            )
        if not (unit.__doc__ or "").strip():
            raise ValueError(f"check {unit.__name__} needs a docstring: it is the fix hint")
        CHECKS[criterion_id] = unit
        return unit

    return register


def run_check(project: Project, criterion: Criterion) -> Finding:
    """The finding of a criterion's registered check."""
    if criterion["id"] not in CHECKS:
        raise LookupError(f"levels/ criterion {criterion['id']} has no check in checks.py")
    return CHECKS[criterion["id"]](project, criterion)


def fix_hint(criterion_id: str) -> str:
    """What to do when the criterion does not hold: its check's docstring, as one line."""
    return " ".join((CHECKS[criterion_id].__doc__ or "").split())


# --- Level 0 - Manual ---------------------------------------------------------------


@check("L0-notebooks")
def notebooks(project: Project, criterion: Criterion) -> Finding:
    """Keep exploration and training in notebooks under notebooks/, committed with the code
    (for example notebooks/01-explore.ipynb and notebooks/02-train.ipynb)."""
    return project.evaluate(criterion)


@check("L0-layout")
def layout(project: Project, criterion: Criterion) -> Finding:
    """Give data, models and reports their own folders: data/raw/, data/processed/, models/
    and reports/figures/, each with a .gitkeep so that git keeps it."""
    return project.evaluate(criterion)


@check("L0-dependencies")
def dependencies(project: Project, criterion: Criterion) -> Finding:
    """Declare dependencies in pyproject.toml (`uv init`, then `uv add pandas scikit-learn
    jupyter`), or at least in requirements.txt."""
    return project.evaluate(criterion)


# --- Level 1 - Tracked --------------------------------------------------------------


@check("L1-package")
def package(project: Project, criterion: Criterion) -> Finding:
    """Move the training code out of notebooks into a package, src/<package>/ with train.py
    and a __main__.py, so that `python -m <package> train` trains."""
    return project.evaluate(criterion)


@check("L1-config")
def config(project: Project, criterion: Criterion) -> Finding:
    """Put training parameters (data path, split, model settings) in one file, params.yaml,
    and have the code read them from there."""
    return project.evaluate(criterion)


@check("L1-tracking")
def tracking(project: Project, criterion: Criterion) -> Finding:
    """Track every training run: `uv add mlflow`, then log parameters, metrics and the model
    inside `mlflow.start_run()`."""
    return project.evaluate(criterion)


@check("L1-data-versioning")
def data_versioning(project: Project, criterion: Criterion) -> Finding:
    """Version the raw data with DVC: `dvc init`, `dvc add data/raw/<file>`, commit the .dvc
    file, and log its hash with each run."""
    return project.evaluate(criterion)


# --- Level 2 - Automated ------------------------------------------------------------


@check("L2-pipeline")
def pipeline(project: Project, criterion: Criterion) -> Finding:
    """Write the prepare -> train -> evaluate stages in dvc.yaml, so that `dvc repro`
    rebuilds data, model and metrics, and only what changed."""
    return project.evaluate(criterion)


@check("L2-data-validation")
def data_validation(project: Project, criterion: Criterion) -> Finding:
    """Check the data where it enters the pipeline against a schema: `uv add pandera`, and
    validate each column's type and range before training."""
    return project.evaluate(criterion)


@check("L2-tests")
def tests(project: Project, criterion: Criterion) -> Finding:
    """Add tests under tests/ (tests/test_*.py) for the data, the features and training on
    a small slice, and run them with pytest."""
    return project.evaluate(criterion)


@check("L2-pre-commit")
def pre_commit(project: Project, criterion: Criterion) -> Finding:
    """Add .pre-commit-config.yaml with ruff's lint and format hooks, then run
    `pre-commit install`."""
    return project.evaluate(criterion)


@check("L2-ci")
def ci(project: Project, criterion: Criterion) -> Finding:
    """Add a CI workflow (.github/workflows/ci.yml or .gitlab-ci.yml) whose steps run pytest
    on every push and merge request."""
    return project.evaluate(criterion)


# --- Level 3 - Delivered ------------------------------------------------------------


@check("L3-registry")
def registry(project: Project, criterion: Criterion) -> Finding:
    """Add a promote stage to dvc.yaml that registers each model in MLflow's registry and
    moves the `champion` alias only when the new model beats the current one."""
    return project.evaluate(criterion)


@check("L3-serving")
def serving(project: Project, criterion: Criterion) -> Finding:
    """Serve the champion model with an API (`uv add fastapi uvicorn`) that has /health,
    /ready and /predict endpoints."""
    return project.evaluate(criterion)


@check("L3-container")
def container(project: Project, criterion: Criterion) -> Finding:
    """Package the service as an image with a Dockerfile: multi-stage, a non-root user and
    a HEALTHCHECK."""
    return project.evaluate(criterion)


@check("L3-cd")
def cd(project: Project, criterion: Criterion) -> Finding:
    """Add a release workflow that builds the image and deploys it through a protected
    environment (GitHub) or a manual job (GitLab), so that a person approves production."""
    return project.evaluate(criterion)


# --- Level 4 - Continuous -----------------------------------------------------------


@check("L4-prediction-logging")
def prediction_logging(project: Project, criterion: Criterion) -> Finding:
    """Log every prediction from the service (request id, inputs, output, model version,
    time) to a database through SQLAlchemy."""
    return project.evaluate(criterion)


@check("L4-monitoring")
def monitoring(project: Project, criterion: Criterion) -> Finding:
    """Add a scheduled job that compares recent traffic with the training data (`uv add
    evidently`) and fails when it finds drift."""
    return project.evaluate(criterion)


@check("L4-retraining")
def retraining(project: Project, criterion: Criterion) -> Finding:
    """Add a CI workflow that runs retraining on a schedule or on drift, and promotes the new
    model only through the gate."""
    return project.evaluate(criterion)


@check("L4-runbook")
def runbook(project: Project, criterion: Criterion) -> Finding:
    """Write docs/runbook.md: what to do on drift, on a failed gate, and how to roll back."""
    return project.evaluate(criterion)


@check("L4-on-call")
def on_call(project: Project, criterion: Criterion) -> Finding:
    """Name the person or rota who receives the model's alerts, and write it in the
    runbook."""
    return project.evaluate(criterion)
