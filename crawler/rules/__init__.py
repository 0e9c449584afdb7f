"""Keyword rules: matching the query language (``db.query``) against documents.

``RuleSet`` compiles many rules once and matches them against documents; ``make_snippet``
cuts a short excerpt around the matched terms for messages. The query language's names
(``parse_query``, ``QuerySyntaxError``...) are part of this package's interface too, since
every rule starts as query text. Pure: no database, no I/O.
"""

from crawler.rules.compiled import CompiledRule, compile_rule
from crawler.rules.highlight import Snippet, make_snippet
from crawler.rules.matcher import Mark, RuleMatch, RuleSet
from db.query.ast import Node, to_query
from db.query.parser import QuerySyntaxError, parse_query, words_of

__all__ = [
    "CompiledRule",
    "Mark",
    "Node",
    "QuerySyntaxError",
    "RuleMatch",
    "RuleSet",
    "Snippet",
    "compile_rule",
    "make_snippet",
    "parse_query",
    "to_query",
    "words_of",
]
