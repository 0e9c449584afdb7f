"""The cached, decompressed language model is py3langid's own model, and never required."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from py3langid.langid import MODEL_DIR, MODEL_FILE, LanguageIdentifier

from crawler.langid_model import CACHE_DIR_ENV, cache_path, load_identifier

SAMPLES = (
    "Le Conseil de sécurité a renouvelé le mandat de la mission en Haïti.",
    "Gang yo kontinye atake katye yo nan Pòtoprens, polis la di.",
    "Kenyan police officers arrived in Port-au-Prince on Tuesday.",
    "La fuerza de supresión de pandillas llegará a Haití el próximo año.",
)


@pytest.fixture(scope="module")
def packaged() -> LanguageIdentifier:
    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=False)


def _same_model(model: LanguageIdentifier, packaged: LanguageIdentifier) -> None:
    assert model.nb_classes == packaged.nb_classes
    assert np.array_equal(model.nb_ptc, packaged.nb_ptc)
    assert np.array_equal(model.nb_pc, packaged.nb_pc)
    assert model.tk_nextmove == packaged.tk_nextmove
    assert model.tk_row == packaged.tk_row
    assert model.tk_output == packaged.tk_output
    for text in SAMPLES:
        assert model.classify(text) == packaged.classify(text)


def test_the_first_load_writes_the_cache_and_the_next_reads_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, packaged: LanguageIdentifier
) -> None:
    monkeypatch.setenv(CACHE_DIR_ENV, str(tmp_path / "cache"))
    cached = cache_path(Path(MODEL_DIR) / MODEL_FILE)
    assert not cached.exists()
    _same_model(load_identifier(), packaged)
    assert cached.exists()
    written = cached.stat().st_mtime_ns
    _same_model(load_identifier(), packaged)
    assert cached.stat().st_mtime_ns == written  # read, not written again
    assert [p.name for p in cached.parent.iterdir()] == [cached.name]  # no temporary left


def test_an_unusable_cache_directory_falls_back_to_the_packaged_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, packaged: LanguageIdentifier
) -> None:
    not_a_directory = tmp_path / "file"
    not_a_directory.write_text("x")
    monkeypatch.setenv(CACHE_DIR_ENV, str(not_a_directory))
    _same_model(load_identifier(), packaged)


def test_a_damaged_cache_file_is_not_used_and_is_written_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, packaged: LanguageIdentifier
) -> None:
    monkeypatch.setenv(CACHE_DIR_ENV, str(tmp_path))
    cached = cache_path(Path(MODEL_DIR) / MODEL_FILE)
    cached.write_bytes(b"PK\x03\x04 cut short")
    _same_model(load_identifier(), packaged)
    assert not cached.exists()
    _same_model(load_identifier(), packaged)
    assert cached.exists()
