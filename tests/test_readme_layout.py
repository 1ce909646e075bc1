"""README's layout names every module of the code and every make target: a module or target
added without a word there fails here."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
LAYOUT = README.split("## Layout", 1)[1].split("```")[1]
PACKAGES = ["apps", "textserve", "bench"]
MODULES = sorted(
    path.relative_to(ROOT)
    for package in PACKAGES
    for path in (ROOT / package).rglob("*.py")
    if path.name != "__init__.py" and "__pycache__" not in path.parts
)


@pytest.mark.parametrize("module", MODULES, ids=str)
def test_every_module_is_in_the_layout(module):
    name = module.name
    assert re.search(rf"(?<![\w.]){re.escape(name)}(?![\w])", LAYOUT) or (
        name == "__main__.py" and "__main__.py" in LAYOUT
    ), f"{module} is not named in README.md's layout"


def test_every_make_target_is_in_the_readme():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    targets = re.search(r"^\.PHONY: (.*)$", makefile, re.M).group(1).split()
    assert len(targets) > 10
    missing = [target for target in targets if f"make {target}" not in README]
    assert not missing, f"README.md names no `make {missing[0]}`"
