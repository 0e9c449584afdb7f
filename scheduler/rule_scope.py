"""Which articles a rule looks at: ``languages = ["fr", "ht"]`` and ``sources = [...]`` in
``[[rules]]`` limit it; empty lists (the default) mean every language and every source.

Pure: applied where rules match (the Store hook in scheduler/notify.py) and by
``haitiwatch alerts preview``.
"""

from __future__ import annotations

from haitiwatch.scheduler.rule_config import RuleConfig


def primary_language(code: str | None) -> str | None:
    """ "fr-HT" -> "fr"; tags compare by their primary subtag, case-insensitively."""
    if not code:
        return None
    return code.replace("_", "-").split("-", 1)[0].strip().lower() or None


def in_scope(rule: RuleConfig, language: str | None, source: str) -> bool:
    """Whether ``rule`` looks at an article in ``language`` from the source named ``source``.
    An article whose language is unknown is outside a rule limited to languages: the limit
    is there to keep other languages out, and an unknown one may be any of them."""
    if rule.sources and source not in rule.sources:
        return False
    if rule.languages:
        return primary_language(language) in {primary_language(x) for x in rule.languages}
    return True
