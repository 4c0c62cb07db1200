"""Build the installable Blender extension zip: the add-on, the engine, the prior, and wheels.

    python tools/build_extension.py                         # no wheels: for a Blender whose Python has torch
    python tools/build_extension.py --platform linux-x64 --wheels DIR
    python tools/build_extension.py --platform linux-x64 --download

The zip holds ``blender_manifest.toml`` and ``zedo_blender``'s modules at its root, the engine as
the sub-package ``zedo_core`` (imported relatively by the add-on) and ``wheels/*.whl``. PyTorch
and its dependencies come as wheels for one platform per zip, as Blender's extension platform
expects; ``--download`` fetches CPU wheels for Blender's Python 3.11 with pip.
Install the zip with Edit > Preferences > Get Extensions > Install from Disk.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PLATFORM_TAGS = {
    "linux-x64": "manylinux_2_28_x86_64",
    "windows-x64": "win_amd64",
    "macos-arm64": "macosx_11_0_arm64",
}
# Blender 4.2 to 5.0 bundle Python 3.11 and numpy: torch's own dependencies are what we ship.
PYTHON_VERSION = "3.11"
TORCH_REQUIREMENT = "torch>=2.2"
CPU_INDEX = "https://download.pytorch.org/whl/cpu"


def _source_files(package: str) -> list[Path]:
    base = ROOT / package
    return sorted(
        p for p in base.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix in {".py", ".pt", ".npz"}
    )


def manifest_text(platform: str | None, wheels: list[str]) -> str:
    text = (ROOT / "blender_manifest.toml").read_text()
    extra = []
    if platform:
        extra.append(f'platforms = ["{platform}"]')
    if wheels:
        extra.append("wheels = [\n" + "".join(f'  "./wheels/{name}",\n' for name in wheels) + "]")
    if extra:
        # Top-level keys must come before the first [table].
        head, sep, tail = text.partition("\n[permissions]")
        text = head.rstrip() + "\n\n" + "\n".join(extra) + "\n" + sep + tail
    tomllib.loads(text)  # fail here, not in Blender, if the result is not valid TOML
    return text


def download_wheels(platform: str, dest: Path) -> list[Path]:
    """CPU PyTorch and its dependencies for ``platform`` and Blender's Python, fetched with pip."""
    dest.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable, "-m", "pip", "download", TORCH_REQUIREMENT, "--only-binary=:all:", "--dest", str(dest),
        "--python-version", PYTHON_VERSION, "--platform", PLATFORM_TAGS[platform], "--extra-index-url", CPU_INDEX,
    ]
    subprocess.run(command, check=True)
    return sorted(dest.glob("*.whl"))


def build(out: Path, platform: str | None = None, wheels: list[Path] = ()) -> Path:
    """Write the extension zip to ``out`` and return it."""
    version = tomllib.loads((ROOT / "blender_manifest.toml").read_text())["version"]
    wheels = [w for w in wheels if not w.name.startswith("numpy-")]  # Blender ships numpy
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".partial")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("blender_manifest.toml", manifest_text(platform, [w.name for w in wheels]))
        for path in _source_files("zedo_blender"):
            archive.write(path, path.relative_to(ROOT / "zedo_blender").as_posix())
        for path in _source_files("zedo_core"):
            archive.write(path, path.relative_to(ROOT).as_posix())
        for wheel in wheels:
            archive.write(wheel, f"wheels/{wheel.name}", compress_type=zipfile.ZIP_STORED)
    tmp.replace(out)
    print(f"wrote {out} (version {version}, {out.stat().st_size / 1e6:.1f} MB, {len(wheels)} wheels)")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--platform", choices=sorted(PLATFORM_TAGS), default=None, help="target platform of the wheels")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--wheels", type=Path, default=None, help="folder of wheels to bundle (torch and its dependencies)")
    group.add_argument("--download", action="store_true", help="download CPU torch wheels for --platform with pip")
    parser.add_argument("--out", type=Path, default=None, help="zip to write (default build/zedo_pose-VERSION[-PLATFORM].zip)")
    args = parser.parse_args(argv)
    if (args.wheels or args.download) and not args.platform:
        parser.error("wheels are per platform: give --platform")
    wheels: list[Path] = []
    if args.download:
        wheels = download_wheels(args.platform, ROOT / "build" / "wheels" / args.platform)
    elif args.wheels:
        wheels = sorted(args.wheels.glob("*.whl"))
        if not wheels:
            parser.error(f"no .whl files in {args.wheels}")
    version = tomllib.loads((ROOT / "blender_manifest.toml").read_text())["version"]
    out = args.out or ROOT / "build" / f"zedo_pose-{version}{'-' + args.platform if args.platform else ''}.zip"
    build(out, args.platform, wheels)
    return 0


if __name__ == "__main__":
    sys.exit(main())
