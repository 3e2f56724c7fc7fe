"""Documentation stays true: the man page is generated from the click definitions, the README starts right."""
import os
import subprocess
import sys

from conftest import ROOT
from dstream_cli.cli.app import app
from dstream_cli.cli.stages import STAGES


def test_man_page_is_generated_from_the_current_definitions():
    """Fails when a stage or option changed without 'python scripts/generate_man.py'."""
    result = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "generate_man.py"), "--check"])
    assert result.returncode == 0, "man/dstream.1 is out of date: run python scripts/generate_man.py"


def test_man_page_names_every_stage_and_global_option():
    with open(os.path.join(ROOT, "man", "dstream.1"), encoding="utf-8") as handle:
        text = handle.read().replace("\\-", "-")
    for command in STAGES:
        assert f"\\fB{command.name}\\fR" in text, command.name
    for param in app.params:
        for opt in getattr(param, "opts", []):
            assert opt in text, opt


def test_readme_starts_with_the_two_commands():
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as handle:
        lines = handle.read().splitlines()
    block = lines[lines.index("```sh") + 1: lines.index("```", lines.index("```sh"))]
    assert len(block) == 2
    assert block[0].startswith("pip install . && ") and "dstream" in block[0]
    assert block[1].startswith("pip install '.[test]' && ") and "pytest" in block[1]


def test_every_guarantee_in_the_readme_names_a_test_that_exists():
    import re

    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as handle:
        text = handle.read()
    named = re.findall(r"`(test_\w+\.py)::(test_\w+)`", text)
    assert len(named) >= 10
    for module, test in named:
        with open(os.path.join(ROOT, "tests", module), encoding="utf-8") as handle:
            assert f"def {test}(" in handle.read(), f"{module}::{test}"
