"""py3langid's model, loaded from an uncompressed copy in the user's cache directory.

The model ships LZMA-compressed (``model.npz.xz``). Decompressing it costs 0.3-0.5 s of CPU,
and every process that detects languages pays it at start: the crawl's CPU workers, at every
``haitiwatch crawl`` and service start. The decompressed npz (about 70 MB) is written to the
cache directory once, and later processes read it in 0.1 s.

The cache only saves time. Whatever goes wrong with it (no home directory, a read-only or full
disk, a damaged file) falls back to py3langid's own loader, and a damaged file is removed so
that the next process writes it again.
"""

from __future__ import annotations

import importlib.metadata
import logging
import lzma
import os
import shutil
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

#: Where the decompressed model is kept (default: $XDG_CACHE_HOME/haitiwatch, else
#: ~/.cache/haitiwatch). Safe to delete at any time.
CACHE_DIR_ENV = "HAITIWATCH_CACHE_DIR"


def cache_dir() -> Path:
    configured = os.environ.get(CACHE_DIR_ENV)
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "haitiwatch"


def load_identifier() -> Any:
    """py3langid's ``LanguageIdentifier`` with raw (unnormalised) scores."""
    from py3langid.langid import MODEL_DIR, MODEL_FILE, LanguageIdentifier

    try:
        parts = _cached_parts(Path(MODEL_DIR) / MODEL_FILE)
    except Exception as e:  # any failure of the cache: the packaged model still works
        log.info("language model cache not used (%s); decompressing the packaged model", e)
        return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=False)
    import numpy as np

    ptc, pc, classes, nextmove, row, output = parts
    return LanguageIdentifier(
        np.asarray(ptc), np.asarray(pc), classes, nextmove, output, norm_probs=False, tk_row=row
    )


def cache_path(source: Path) -> Path:
    """The cached copy of ``source``: named after the library version and the file's
    size and mtime, so that an upgraded model is never read from an old copy."""
    stat = source.stat()
    version = importlib.metadata.version("py3langid")
    return cache_dir() / f"py3langid-{version}-{stat.st_size}-{stat.st_mtime_ns}.npz"


def _cached_parts(source: Path) -> tuple[Any, ...]:
    """What py3langid's ``modelio.load_model`` returns, read from the cached npz."""
    import numpy as np
    from py3langid.modelio import _to_array  # the library's own conversion, same types

    path = cache_path(source)
    if not path.exists():
        _write_decompressed(source, path)
    try:
        with np.load(path, allow_pickle=False) as data:
            return (
                data["ptc"],
                data["pc"],
                data["classes"].tolist(),
                _to_array(data["nextmove"]),
                _to_array(data["nextmove_row"]),
                data["out_feat"].tolist(),
            )
    except Exception:
        path.unlink(missing_ok=True)  # damaged: the next process writes it again
        raise


def _write_decompressed(source: Path, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        with lzma.open(source) as compressed, temporary.open("wb") as out:
            shutil.copyfileobj(compressed, out, 1 << 20)
        temporary.replace(path)  # atomic: a reader sees the whole file or none
    finally:
        temporary.unlink(missing_ok=True)
