"""Build the installable Blender extension zip: the add-on, the engine and the shipped prior.

    python tools/build_extension.py [--out build/zedo_pose-VERSION.zip]

One zip for every platform (Linux, Windows, macOS Intel and Apple silicon) and every Blender from
4.2 to 5.3: the engine runs on numpy, which Blender ships, so nothing is compiled and no wheels are
bundled. The zip holds ``blender_manifest.toml`` and ``zedo_blender``'s modules at its root and the
engine as the sub-package ``zedo_core`` (imported relatively by the add-on). Install it with
Edit > Preferences > Get Extensions > Install from Disk, or ``blender --command extension
install-file -r user_default FILE``.
"""

from __future__ import annotations

import argparse
import sys
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SUFFIXES = {".py", ".npz", ".sha256"}
# Fixed member times, so the same sources give the same zip bytes.
MEMBER_TIME = (2026, 1, 1, 0, 0, 0)


def source_files(package: str) -> list[Path]:
    """The files of ``package`` that go into the zip (sources and the shipped prior)."""
    base = ROOT / package
    return sorted(p for p in base.rglob("*") if p.is_file() and "__pycache__" not in p.parts and p.suffix in SUFFIXES)


def manifest() -> dict:
    """The parsed ``blender_manifest.toml``."""
    return tomllib.loads((ROOT / "blender_manifest.toml").read_text())


def build(out: Path) -> Path:
    """Write the extension zip to ``out`` (atomically) and return it."""
    version = manifest()["version"]
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".partial")
    entries = [(ROOT / "blender_manifest.toml", "blender_manifest.toml")]
    entries += [(path, path.relative_to(ROOT / "zedo_blender").as_posix()) for path in source_files("zedo_blender")]
    entries += [(path, path.relative_to(ROOT).as_posix()) for path in source_files("zedo_core")]
    try:
        with zipfile.ZipFile(tmp, "w") as archive:
            for path, name in entries:
                info = zipfile.ZipInfo(name, date_time=MEMBER_TIME)
                # The prior's arrays barely compress; the sources do.
                info.compress_type = zipfile.ZIP_STORED if path.suffix == ".npz" else zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16
                archive.writestr(info, path.read_bytes())
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)
    print(f"wrote {out} (version {version}, {out.stat().st_size / 1e6:.1f} MB)")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=None, help="zip to write (default build/zedo_pose-VERSION.zip)")
    args = parser.parse_args(argv)
    out = args.out or ROOT / "build" / f"zedo_pose-{manifest()['version']}.zip"
    try:
        build(out)
    except OSError as error:
        print(f"error: cannot write {out}: {error.strerror or error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
