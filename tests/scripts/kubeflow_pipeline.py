"""Write the template's pipeline.yaml.jinja from what the KFP SDK compiles.

A generated Kubeflow project ships its compiled pipeline.yaml, and its CI checks
that the file is current. This renders a level-2 and a level-3 project, compiles
each one's pipeline/kubeflow.py, and merges the two files into one template: the
level-3 steps under `has_serving`, the names as Jinja, the rest kept raw (KFP's
placeholders look like Jinja). Run it after changing pipeline/kubeflow.py:

    uv run --with 'kfp>=2.17,<2.18' python tests/scripts/kubeflow_pipeline.py
"""

import difflib
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from copier import run_copy

ROOT = Path(__file__).resolve().parents[2]
TARGET = ROOT / "template" / "{% if has_kubeflow %}pipeline.yaml{% endif %}.jinja"
# Names that differ from one another and appear nowhere else in the file: the
# slug names the experiment and the registered model (params.yaml), the package
# the code, the image and the pipeline.
ANSWERS = {"project_name": "Kfp Probe", "package_name": "kfp_pkg", "orchestrator": "kubeflow"}
NAMES = {
    "kfp_pkg": "{{ package_name }}",
    "kfp-pkg": "{{ package_name | replace('_', '-') }}",
    "kfp-probe": "{{ project_slug }}",
}


def compiled(level: int, folder: Path) -> list[str]:
    project = folder / f"level-{level}"
    run_copy(str(ROOT), project, data={**ANSWERS, "level": level}, defaults=True, quiet=True)
    environment = {**os.environ, "PYTHONPATH": str(project / "src")}
    subprocess.run(
        [sys.executable, "-m", "kfp_pkg.pipeline.kubeflow"],
        cwd=project,
        env=environment,
        check=True,
    )
    return (project / "pipeline.yaml").read_text().splitlines(keepends=True)


def raw(lines: list[str]) -> str:
    """The lines as template text: raw, except for the project's names."""
    text = "".join(lines)
    for name, jinja in NAMES.items():
        text = text.replace(name, f"{{% endraw %}}{jinja}{{% raw %}}")
    return f"{{% raw %}}{text}{{% endraw %}}"


def merged(level_2: list[str], level_3: list[str]) -> str:
    parts = []
    matcher = difflib.SequenceMatcher(a=level_2, b=level_3, autojunk=False)
    for tag, a_start, a_end, b_start, b_end in matcher.get_opcodes():
        if tag == "equal":
            parts.append(raw(level_2[a_start:a_end]))
            continue
        parts.append("{% if has_serving -%}\n" + raw(level_3[b_start:b_end]))
        if a_end > a_start:
            parts.append("{% else -%}\n" + raw(level_2[a_start:a_end]))
        parts.append("{% endif -%}\n")
    return "".join(parts)


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        TARGET.write_text(merged(compiled(2, Path(folder)), compiled(3, Path(folder))))
    print(f"wrote {TARGET.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
