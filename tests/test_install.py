"""The install ends with the CPU build of torch, on this machine and on a standard Linux one."""

from __future__ import annotations

import os
import subprocess
from importlib import metadata
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "scripts" / "install_torch.sh"


def test_installed_torch_is_the_cpu_build():
    import torch

    assert torch.version.cuda is None, torch.__version__
    cuda_wheels = sorted(d.metadata["Name"] for d in metadata.distributions()
                         if (d.metadata["Name"] or "").lower().startswith(("nvidia-", "cuda-")))
    assert cuda_wheels == []


def _fake_env(tmp_path: Path, local_has_cpu_wheel: bool, cuda_after: bool) -> tuple[Path, Path]:
    """A fake environment: ``pip`` logs its arguments, ``python`` reports the torch build."""
    env = tmp_path / "venv" / "bin"
    env.mkdir(parents=True)
    log = tmp_path / "pip.log"
    (env / "pip").write_text(
        "#!/bin/sh\n"
        f'echo "$*" >> {log}\n'
        # Only the PyTorch CPU index holds the +cpu wheel, unless the local index has it.
        f'case "$*" in *--index-url*) exit 0 ;; *+cpu*) exit {0 if local_has_cpu_wheel else 1} ;; esac\n'
        "exit 0\n")
    (env / "python").write_text(f"#!/bin/sh\nexit {1 if cuda_after else 0}\n")
    for name in ("pip", "python"):
        os.chmod(env / name, 0o755)
    return env / "pip", log


def _run(pip: Path, **env):
    return subprocess.run(["bash", str(SCRIPT), str(pip), "2.13.0"], capture_output=True, text=True,
                          env={**os.environ, **env}, timeout=60)


def test_standard_linux_machine_gets_torch_from_the_cpu_index(tmp_path):
    pip, log = _fake_env(tmp_path, local_has_cpu_wheel=False, cuda_after=False)
    out = _run(pip, TORCH_CPU_INDEX="https://cpu.example/whl")
    assert out.returncode == 0, out.stderr
    calls = log.read_text().splitlines()
    assert calls[0] == "install -q torch==2.13.0+cpu"
    assert calls[1] == ("install -q torch==2.13.0+cpu --index-url https://cpu.example/whl "
                        "--extra-index-url https://pypi.org/simple")


def test_machine_with_a_local_cpu_wheel_uses_it(tmp_path):
    pip, log = _fake_env(tmp_path, local_has_cpu_wheel=True, cuda_after=False)
    out = _run(pip)
    assert out.returncode == 0, out.stderr
    assert log.read_text().splitlines() == ["install -q torch==2.13.0+cpu"]


def test_a_cuda_build_fails_the_install_with_the_fix(tmp_path):
    pip, _ = _fake_env(tmp_path, local_has_cpu_wheel=True, cuda_after=True)
    out = _run(pip)
    assert out.returncode == 1
    assert "a CUDA build of torch was installed; reinstall with:" in out.stderr


def test_the_wheel_carries_the_stylesheets(tmp_path):
    """The page's CSS lives in bot/static/ (package data): an ordinary install must have it."""
    import sys
    import zipfile

    subprocess.run([sys.executable, "-m", "pip", "wheel", str(REPO), "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(tmp_path)], check=True, capture_output=True, timeout=300)
    (wheel,) = tmp_path.glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"bot/static/chat.css", "bot/static/tools.css", "bot/static/corpus.css"} <= names
