"""The vectorised language scoring gives exactly the scores of the library's byte loop.

``_reference_scores`` is the one-sample scoring as it was before the speed-up: a Python
loop over the bytes (py3langid's ``visit_counts``) and an einsum casting the float16 rows.
The new code must match it bit for bit, not approximately.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from crawler.language import (
    MAX_SAMPLE_CHARS,
    _bonuses,
    _enough_letters,
    _features,
    _model,
    _sample,
    _scores_many,
    _tables,
    _walk,
    _widen_half,
    detect_language,
    detect_languages,
    normalise_tag,
)

# Real text (FLORES-200 via SIB-200, CC BY-SA 4.0, and MIT-Haiti Creole prose), from lang-samples.
CREOLE = (
    "Azòt sou fòm gaz toujou gen menm pwopriyete yo ak azòt likid lan. Eta likid lan pi lou "
    "men molekil yo toujou menm."
)
FRENCH = (
    "Il existe toutefois aujourd'hui des graffeurs reconnus, des événements consacrés à la "
    "discipline et des surfaces « autorisées » pour s'y adonner."
)
SPANISH = (
    "Los turistas pueden visitar distintos puntos de referencia en un país en particular o "
    "sencillamente optar por centrarse en una sola área."
)
ENGLISH = (
    "The station's web site describes the show as \"old school radio theater with a new and "
    'outrageous geeky spin!"'
)
SAMPLES = (CREOLE, FRENCH, SPANISH, ENGLISH)
OTHER_SCRIPTS = (
    "Президент заявил, что переговоры продолжатся на следующей неделе.",
    "東京都は新たな感染対策を発表し、市民に協力を呼びかけた。",
    "서울시는 내년부터 대중교통 요금을 인상한다고 밝혔다.",
    "الحكومة تعلن عن خطة جديدة لدعم الاقتصاد الوطني",
    "प्रधानमंत्री ने आज नई योजना की घोषणा की।",
    "Η κυβέρνηση ανακοίνωσε νέα μέτρα για την οικονομία.",
    "ההחלטה התקבלה לאחר דיון ארוך בכנסת.",
    "รัฐบาลประกาศมาตรการใหม่เพื่อช่วยเหลือเกษตรกร",
    "Nach Kalifat-Rufen in Hamburg wird darüber diskutiert. 🇩🇪🎉 Maßnahmen!",
)


def _reference_scores(model: Any, sample: str) -> Any:
    """The one-sample scoring of ``crawler.language`` before the speed-up, kept verbatim as
    the reference."""
    from py3langid.langid import visit_counts

    encoded = model._encode(sample)
    visits = visit_counts(model.tk_nextmove, model._rowbase, model.tk_output, encoded)
    if not visits:
        return None
    features = np.fromiter(visits.keys(), dtype=np.intp, count=len(visits))
    weights = np.log1p(np.fromiter(visits.values(), dtype=np.float32, count=len(visits)))
    rows = model.nb_ptc[features]
    return np.einsum("f,fc->c", weights, rows, dtype=np.float32, casting="unsafe") + model.nb_pc


def _reference_detect(title: str | None, text: str | None, declared: str | None) -> str | None:
    """``detect_language`` on the reference scores."""
    hint = normalise_tag(declared)
    sample = _sample(title, text)
    if not _enough_letters(sample):
        return hint
    model = _model()
    scores = _reference_scores(model, sample)
    if scores is None:
        return hint
    best = int((scores + _bonuses(tuple(model.nb_classes), hint)).argmax())
    found = str(model.nb_classes[best])
    return hint if found == "zxx" else found  # "no language": keep the declared one


def _assert_same_scores(sample: str) -> None:
    model = _model()
    expected = _reference_scores(model, sample)
    (found,) = _scores_many(model, [sample])
    if expected is None:
        assert found is None
        return
    assert found.dtype == expected.dtype == np.float32
    # Bit for bit: the same float32 values, not merely close ones.
    assert found.view(np.uint32).tolist() == expected.view(np.uint32).tolist()


def _upper(text: str) -> str:
    return text.upper()


scripts = st.sampled_from(
    [
        st.characters(min_codepoint=0x20, max_codepoint=0x7E),  # ASCII
        st.characters(min_codepoint=0xA0, max_codepoint=0x24F),  # Latin accents
        st.characters(min_codepoint=0x370, max_codepoint=0x3FF),  # Greek
        st.characters(min_codepoint=0x400, max_codepoint=0x4FF),  # Cyrillic
        st.characters(min_codepoint=0x590, max_codepoint=0x6FF),  # Hebrew, Arabic
        st.characters(min_codepoint=0x900, max_codepoint=0x97F),  # Devanagari
        st.characters(min_codepoint=0x3040, max_codepoint=0x30FF),  # kana
        st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF),  # CJK
        st.characters(min_codepoint=0xAC00, max_codepoint=0xD7A3),  # Hangul
        st.characters(min_codepoint=0x1F300, max_codepoint=0x1FAFF),  # emoji
        st.characters(categories=["Cs"]),  # lone surrogates
        st.characters(categories=["Mn"]),  # combining marks (NFC changes the bytes)
        st.characters(),
    ]
)
mixed_text = scripts.flatmap(lambda chars: st.text(chars, max_size=MAX_SAMPLE_CHARS + 200))
real_text = st.builds(
    lambda parts, cut: " ".join(parts)[:cut],
    st.lists(st.sampled_from(SAMPLES + OTHER_SCRIPTS), min_size=1, max_size=12),
    st.integers(min_value=0, max_value=2 * MAX_SAMPLE_CHARS),
)
texts = st.one_of(
    mixed_text,
    real_text,
    real_text.map(_upper),  # all-upper text is lowercased by py3langid's _encode
    st.lists(mixed_text | real_text, max_size=4).map("".join),
    st.text(max_size=2 * MAX_SAMPLE_CHARS),
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts)
@example("")
@example(" ")
@example("a")
@example("\ud800")
@example("HAITI: LAPOLIS DI GANG YO ATAKE PLIZYÈ KATYE NAN PÒTOPRENS")
@example("🇭🇹" * 300)
@example("é" * (MAX_SAMPLE_CHARS + 1))
def test_scores_are_identical_to_the_byte_loop(text: str) -> None:
    _assert_same_scores(text)


@pytest.mark.parametrize("text", [*SAMPLES, *OTHER_SCRIPTS])
def test_scores_are_identical_on_real_text(text: str) -> None:
    _assert_same_scores(text)
    _assert_same_scores(text.upper())
    _assert_same_scores((text + "\n") * 20)  # past MAX_SAMPLE_CHARS


@pytest.mark.parametrize(
    ("text", "expected"), [(CREOLE, "ht"), (FRENCH, "fr"), (SPANISH, "es"), (ENGLISH, "en")]
)
def test_real_samples_still_detected(text: str, expected: str) -> None:
    assert detect_language(None, text) == expected == _reference_detect(None, text, None)


@settings(max_examples=200, deadline=None)
@given(
    st.one_of(st.none(), texts),
    st.one_of(st.none(), texts),
    st.sampled_from([None, "fr", "fr-FR", "ht", "en", "und", "xx"]),
)
@example(title="NACH KALIFAT-RUFEN IN HAMBURG DISKUTIERT. 🇩🇪🎉", text="a", declared=None)
def test_detect_language_is_unchanged(title: str | None, text: str | None, declared: str) -> None:
    assert detect_language(title, text, declared) == _reference_detect(title, text, declared)


def _loop_walk(tables: Any, data: bytes) -> list[int]:
    """The library's walk, keeping the feature id (or -1) after every byte."""
    state, found = 0, []
    for byte in data:
        state = int(tables.nextmove[tables.rowbase[state] + byte])
        found.append(int(tables.output[state]))
    return found


@settings(max_examples=300, deadline=None)
@given(
    st.binary(max_size=3000)
    | texts.map(lambda t: t.encode("utf8", "surrogatepass"))
    | real_text.map(lambda t: t.lower().encode())
)
@example(b"")
@example(b"\x00" * 10)
@example(b"\xff" * 10)
def test_vectorised_walk_visits_the_states_of_the_byte_loop(data: bytes) -> None:
    # Any bytes, not only UTF-8: the depth bound is a property of the automaton.
    tables = _tables(_model())
    assert tables.depth is not None
    found, starts = _walk(tables, tables.depth, [data])
    assert found.tolist() == _loop_walk(tables, data)
    assert starts.tolist() == [0]


@settings(max_examples=100, deadline=None)
@given(st.lists(texts, max_size=5))
def test_fallback_byte_loop_gives_the_same_features(batch: list[str]) -> None:
    # A model whose depth is not proven keeps the library's loop; both paths agree.
    model = _model()
    tables = _tables(model)
    encoded = [model._encode(text) for text in batch]
    fast = _features(model, tables, encoded)
    slow = _features(model, tables._replace(depth=None), encoded)
    assert len(fast) == len(slow) == len(batch)
    for one_fast, one_slow in zip(fast, slow, strict=True):
        if one_slow is None:
            assert one_fast is None
            continue
        assert one_fast is not None
        assert [a.tolist() for a in one_fast] == [a.tolist() for a in one_slow]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.binary(max_size=40) | texts.map(lambda t: t.encode("utf8", "surrogatepass"))))
@example([b"", b"abc", b"", b"\xff" * 7])
def test_pieces_are_walked_each_from_the_root(pieces: list[bytes]) -> None:
    """Walking pieces end to end gives each piece's own walk: no state carries over."""
    tables = _tables(_model())
    assert tables.depth is not None
    found, starts = _walk(tables, tables.depth, pieces)
    assert found.tolist() == [state for piece in pieces for state in _loop_walk(tables, piece)]
    assert starts.tolist() == [sum(map(len, pieces[:i])) for i in range(len(pieces))]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(texts, max_size=6))
@example(["", "a", ENGLISH, " ", FRENCH.upper()])
def test_a_batch_scores_each_sample_as_the_byte_loop_does(batch: list[str]) -> None:
    model = _model()
    scored = _scores_many(model, batch)
    assert len(scored) == len(batch)
    for sample, found in zip(batch, scored, strict=True):
        expected = _reference_scores(model, sample)
        if expected is None:
            assert found is None
        else:
            assert found.view(np.uint32).tolist() == expected.view(np.uint32).tolist()


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(
            st.one_of(st.none(), texts),
            st.one_of(st.none(), texts),
            st.sampled_from([None, "fr", "ht", "en-US", "und"]),
        ),
        max_size=6,
    )
)
def test_detect_languages_answers_as_one_at_a_time(
    articles: list[tuple[str | None, str | None, str | None]],
) -> None:
    assert detect_languages(articles) == [_reference_detect(*article) for article in articles]


def test_detect_languages_reads_every_language_of_a_mixed_batch() -> None:
    articles = [(None, text, None) for text in (CREOLE, FRENCH, SPANISH, ENGLISH)] * 3
    articles.insert(5, ("", "", "fr"))  # too little text: the declared language
    expected = ["ht", "fr", "es", "en"] * 3
    expected.insert(5, "fr")
    assert detect_languages(articles) == expected


def test_widen_half_matches_numpy_on_every_finite_float16() -> None:
    every = np.arange(1 << 16, dtype=np.uint32).astype(np.uint16).view(np.float16)
    finite = every[np.isfinite(every)].reshape(-1, 16)
    widened = _widen_half(finite)
    assert widened.dtype == np.float32
    assert widened.view(np.uint32).tolist() == finite.astype(np.float32).view(np.uint32).tolist()


def test_model_rows_are_finite_so_the_fast_widening_is_used() -> None:
    assert _tables(_model()).finite_rows


def _depth_of(nextmove: Any, rowbase: Any) -> int:
    """Fewest bytes after which every state leads where the root does, whatever the bytes.

    Follows all pairs (state reached from some state, state reached from the root) by the
    same bytes, dropping pairs that have met; the pairs run out after exactly `depth` bytes.
    """
    states = len(rowbase)
    every_byte = np.arange(256, dtype=np.int64)

    def moves(sources: Any) -> Any:
        return nextmove[rowbase[sources][:, None] + every_byte].astype(np.int64)

    pairs = np.arange(states, dtype=np.int64) * states  # (any state, root)
    depth = 0
    while pairs.size:
        depth += 1
        found = []
        for chunk in np.array_split(pairs, max(1, pairs.size // 8192)):
            left, right = moves(chunk // states), moves(chunk % states)
            apart = left != right
            found.append(np.unique(left[apart] * states + right[apart]))
        pairs = np.unique(np.concatenate(found))
        assert depth <= 64, "the automaton is not definite"
    return depth


def test_the_proven_depth_is_the_automatons() -> None:
    # Re-derives language._PROVEN_DEPTHS for the installed model: if py3langid ships another
    # model, this fails (and the code falls back to the byte loop) until the table is updated.
    model = _model()
    tables = _tables(model)
    assert tables.depth is not None, "unknown model: derive its depth and add it"
    nextmove = np.asarray(model.tk_nextmove)
    rowbase = np.asarray(model._rowbase, dtype=np.int64)
    assert _depth_of(nextmove, rowbase) == tables.depth == 6
