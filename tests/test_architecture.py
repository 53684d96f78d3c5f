"""The layering holds, and the distribution installs one import package.

``make lint`` runs the import-linter contract in pyproject.toml; these tests show that the
contract covers every kernel module, that it really fails on a wrong import, and that the
wheel carries only ``talkcast`` and installs beside an unrelated package named ``publish``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
STAGES = ("streamer", "recorder", "transcribe", "publish", "archive")
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def kernel_layer() -> set[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    layers = config["tool"]["importlinter"]["contracts"][0]["layers"]
    return {m.strip().removeprefix("talkcast.") for m in layers[-1].split(":")}


def test_the_contract_names_every_kernel_module() -> None:
    modules = {p.stem for p in (ROOT / "talkcast").glob("*.py") if p.stem != "__init__"}
    assert kernel_layer() == modules


def test_every_folder_is_linked_into_the_one_namespace() -> None:
    for name in (*STAGES, "app"):
        link = ROOT / "talkcast" / name
        assert link.is_symlink() and link.resolve() == (ROOT / name).resolve(), name


def _lint_copy(tmp_path: Path, wrong: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run lint-imports on a copy of the tree with ``wrong`` lines appended to some modules."""
    copy = tmp_path / "tree"
    shutil.copytree(
        ROOT, copy, symlinks=True, ignore=shutil.ignore_patterns(".venv", ".git", "tests", "*cache*", "demo-event")
    )
    for module, line in wrong.items():
        path = copy / module
        path.write_text(path.read_text() + f"\n{line}\n")
    env = {**os.environ, "PYTHONPATH": str(copy)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"], cwd=copy, env=env, capture_output=True, text=True, check=False
    )


@pytest.mark.parametrize(
    ("module", "line"),
    [
        ("talkcast/journal.py", "from talkcast.app import pipeline"),  # the kernel imports the application
        ("talkcast/state.py", "import talkcast.publish.youtube"),  # the kernel imports a stage
        ("streamer/relay.py", "from talkcast.recorder import cut"),  # live imports post
        ("publish/pipeline.py", "from talkcast.app.pipeline import Options"),  # a stage imports the application
    ],
)
def test_lint_fails_on_a_wrong_import(tmp_path: Path, module: str, line: str) -> None:
    result = _lint_copy(tmp_path, {module: line})
    assert result.returncode != 0, result.stdout
    assert "BROKEN" in result.stdout


def test_lint_passes_on_the_tree(tmp_path: Path) -> None:
    result = _lint_copy(tmp_path, {})
    assert result.returncode == 0, result.stdout


def test_the_wheel_holds_only_talkcast_and_installs_beside_another_publish(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    build = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(wheels)]
    other = tmp_path / "other"
    (other / "publish").mkdir(parents=True)
    (other / "publish" / "__init__.py").write_text('WHO = "an unrelated project called publish"\n')
    (other / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n'
        '[project]\nname = "publish"\nversion = "1.0"\n'
    )
    clean = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    subprocess.run([*build, str(ROOT)], check=True, cwd=tmp_path)
    subprocess.run([*build, str(other)], check=True, cwd=tmp_path)
    (wheel,) = wheels.glob("talkcast-*.whl")
    import zipfile

    names = zipfile.ZipFile(wheel).namelist()
    tops = {name.split("/")[0] for name in names}
    assert {t for t in tops if not t.endswith(".dist-info")} == {"talkcast"}
    # The control room, the rooms overview and the review page work without internet:
    # their templates, CSS and scripts are package data.
    shipped = set()
    for folder in ("streamer/room/assets", "streamer/overview/assets", "app/review/assets"):
        assets = [p for p in (ROOT / folder).iterdir() if p.suffix in (".html", ".css", ".js")]
        shipped |= {f"talkcast/{folder}/{p.name}" for p in assets}
    assert len(shipped) >= 20 and shipped <= set(names), sorted(shipped - set(names))

    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    py = env_dir / "bin" / "python"
    pip = [py, "-m", "pip", "install", "-q", "--no-deps", "--no-index", *wheels.glob("*.whl")]
    subprocess.run(pip, check=True, env=clean)
    # The dependencies come from this test environment (no index is reached), as a plain path
    # entry after the new environment's own: this environment's editable talkcast stays out.
    site = next(env_dir.glob("lib/python*/site-packages"))
    deps = next(p for p in sys.path if p.endswith("site-packages"))
    (site / "deps.pth").write_text(deps + "\n")
    imports = "; ".join(f"import talkcast.{s}" for s in (*STAGES, "app"))
    page = (
        "import talkcast.streamer.room.web as w; assert 'data-action' in w._asset('room.html').decode(); "
        "import talkcast.streamer.overview.web as o, importlib.resources as res; "
        "assert 'EventSource' in (res.files('talkcast.streamer.overview.assets') / 'rooms.js').read_text(); "
        "import talkcast.app.review.web as r; assert 'data-step' in r._asset('talk.html').decode(); "
        "assert '--accent' in r._asset('room.css').decode()"
    )
    check = f"{imports}; {page}; import publish, talkcast; print(publish.WHO); print(talkcast.__file__)"
    out = subprocess.run([py, "-c", check], cwd=tmp_path, env=clean, capture_output=True, text=True, check=True).stdout
    assert out.splitlines()[0] == "an unrelated project called publish"
    assert str(env_dir) in out.splitlines()[1]
    help_text = subprocess.run(
        [env_dir / "bin" / "talkcast", "--help"], cwd=tmp_path, env=clean, capture_output=True, text=True, check=True
    ).stdout
    assert "post" in help_text and "live" in help_text
