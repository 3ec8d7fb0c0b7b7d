"""The package's architecture holds (docs/architecture.md), and its checks can fail.

- import-linter's contracts (pyproject.toml) pass on the code as it is, and break when a
  capability imports another, when the routing domain or core imports a capability,
  and when the routing rule imports anything outside the standard library;
- every module of `gateway` imports on its own, in a fresh interpreter (no cycle
  hidden by import order);
- the routing rule loads nothing but the standard library.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.conftest import SECRET

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "gateway"
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
LAYERS = "Core, below the routing domain, below the capabilities, below the app and the CLI"
PURE_RULE = "The routing rule is pure: the standard library only"


def gateway_modules() -> list[str]:
    names = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def lint_imports(python_path: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if python_path is not None:
        env["PYTHONPATH"] = str(python_path)
    return subprocess.run(  # noqa: S603 - our own tool on our own config
        [str(LINT_IMPORTS), "--no-cache", str(ROOT / "pyproject.toml")],
        capture_output=True,
        text=True,
        env=env,
        cwd=python_path or ROOT,
        check=False,
        timeout=120,
    )


def test_the_architecture_contracts_hold() -> None:
    result = lint_imports()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.fixture(scope="module")
def package_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the package that a test may break without touching the real one."""
    root = tmp_path_factory.mktemp("copy")
    shutil.copytree(PACKAGE, root / "gateway", ignore=shutil.ignore_patterns("__pycache__"))
    return root


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        ("sso/errors.py", "import gateway.provider.claims", LAYERS),
        ("migration/errors.py", "import gateway.insights", LAYERS),
        ("systems/service.py", "from gateway.migration import errors", LAYERS),
        ("routing/service.py", "import gateway.landing.views", LAYERS),
        ("core/audit.py", "import gateway.routing.config", LAYERS),
        ("core/errors.py", "import gateway.sso", LAYERS),
        ("routing/decision.py", "import flask", PURE_RULE),
        ("routing/decision.py", "import gateway.core.settings", PURE_RULE),
    ],
)
def test_a_forbidden_import_breaks_a_contract(
    package_copy: Path, module: str, line: str, contract: str
) -> None:
    target = package_copy / "gateway" / module
    original = target.read_text()
    try:
        target.write_text(original + f"\n{line}  # noqa\n")
        result = lint_imports(package_copy)
    finally:
        target.write_text(original)
    report = " ".join(result.stdout.split())  # the report wraps long contract names
    assert result.returncode != 0, result.stdout
    assert f"{contract} BROKEN" in report, result.stdout


def _import_alone(module: str) -> tuple[str, int, str]:
    env = {
        **{key: value for key, value in os.environ.items() if not key.startswith("GATEWAY_")},
        # gunicorn's config module checks the settings when it is loaded, so that a bad
        # one stops the master before it binds a port; nothing else needs any.
        "GATEWAY_SECRET_KEY": SECRET,
    }
    result = subprocess.run(  # noqa: S603 - our own interpreter, our own module names
        # import_module: migration scripts' names start with a digit.
        [sys.executable, "-c", f"import importlib; importlib.import_module({module!r})"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        check=False,
        timeout=120,
    )
    return module, result.returncode, result.stderr[-2000:]


def test_every_module_imports_on_its_own() -> None:
    modules = gateway_modules()
    assert len(modules) > 100 and "gateway.core.migrations.env" in modules
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = pool.map(_import_alone, modules)
        failures = [f"{module}:\n{stderr}" for module, code, stderr in results if code != 0]
    assert not failures, "\n\n".join(failures)


def test_the_routing_rule_loads_only_the_standard_library() -> None:
    probe = (
        "import sys; before = set(sys.modules); import gateway.routing.decision; "
        "print('\\n'.join(sorted(set(sys.modules) - before)))"
    )
    result = subprocess.run(  # noqa: S603 - our own interpreter
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    loaded = result.stdout.split()
    ours = {"gateway", "gateway.routing", "gateway.routing.decision"}
    outside = [
        name
        for name in loaded
        if name not in ours and name.split(".")[0] not in sys.stdlib_module_names
    ]
    assert "gateway.routing.decision" in loaded
    assert outside == [], outside
    assert "flask" not in loaded and "sqlalchemy" not in loaded
