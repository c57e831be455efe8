"""The staff project installed as a wheel (``pip install .``, not the editable install of `make setup`), as a cluster's
worker image or a JupyterHub server would install it: it carries every file its packages read.

Built from a copy of this checkout's tracked files, so that the build leaves nothing in the checkout.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile

from submissions import REPO

PACKAGES = ("course", "graders", "solutions")


def tracked(*folders: str) -> list[str]:
    return subprocess.run(["git", "ls-files", "--", *folders], cwd=REPO, capture_output=True, text=True, check=True).stdout.split()


def test_the_staff_wheel_carries_every_data_file_of_its_packages(tmp_path):
    project = tmp_path / "project"
    for name in tracked():
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, project / name)
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet", "--wheel-dir",
                            str(tmp_path / "dist"), str(project)], capture_output=True, text=True)
    assert built.returncode == 0, built.stdout + built.stderr
    (wheel,) = (tmp_path / "dist").glob("*.whl")
    carried = {name for name in zipfile.ZipFile(wheel).namelist() if not name.endswith(".py") and ".dist-info/" not in name}
    data = {name for name in tracked(*PACKAGES) if not name.endswith(".py")}
    assert carried == data, f"the wheel carries {sorted(carried)}; the packages' data files are {sorted(data)} (pyproject.toml's package-data)"
