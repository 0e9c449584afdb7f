"""Keyword rules: matching the query language (``db.query``) against documents.

``RuleSet`` compiles many rules once and matches them against documents; ``make_snippet``
cuts a short excerpt around the matched terms for messages. The query language itself
(``parse_query``, ``QuerySyntaxError``, the syntax tree) is imported from ``db.query``.
Pure: no database, no I/O.
"""

from haitiwatch.scheduler.rules.compiled import CompiledRule, compile_rule
from haitiwatch.scheduler.rules.highlight import Snippet, make_snippet
from haitiwatch.scheduler.rules.matcher import Mark, RuleMatch, RuleSet

__all__ = [
    "CompiledRule",
    "Mark",
    "RuleMatch",
    "RuleSet",
    "Snippet",
    "compile_rule",
    "make_snippet",
]
