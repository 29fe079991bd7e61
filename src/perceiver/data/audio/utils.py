"""Download and unpack dataset archives (used when a network is there; ``file://`` URLs work offline)."""

import os
import shutil
import urllib.request
import zipfile
from pathlib import Path


def download_file(url: str, target: str | os.PathLike, timeout: float = 60.0) -> Path:
    """Download ``url`` to the file ``target`` (through a temporary file, so a broken download leaves nothing)."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".part")
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, open(tmp, "wb") as f:
            shutil.copyfileobj(response, f)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise OSError(f"could not download {url}: {e}") from e
    os.replace(tmp, target)
    return target


def extract_file(archive: str | os.PathLike, target_dir: str | os.PathLike) -> Path:
    """Unpack the zip file ``archive`` into ``target_dir``; members may not leave ``target_dir``."""
    archive, target_dir = Path(archive), Path(target_dir)
    if not zipfile.is_zipfile(archive):
        raise ValueError(f"archive {str(archive)!r} is not a zip file")
    target_dir.mkdir(parents=True, exist_ok=True)
    root = target_dir.resolve()
    with zipfile.ZipFile(archive) as zf:
        for name in zf.namelist():
            dest = (root / name).resolve()
            if root != dest and root not in dest.parents:
                raise ValueError(f"archive member {name!r} would be extracted outside {str(target_dir)!r}")
        zf.extractall(target_dir)
    return target_dir
