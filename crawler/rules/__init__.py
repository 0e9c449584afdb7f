"""Keyword rules: one query syntax for alert rules and archive search.

``parse_query`` turns query text into a syntax tree (``ast``); ``RuleSet`` compiles many
rules once and matches them against documents; ``make_snippet`` cuts a short excerpt
around the matched terms for messages. Pure: no database, no I/O.
"""

from crawler.rules.ast import Node, to_query
from crawler.rules.highlight import Snippet, make_snippet
from crawler.rules.matcher import CompiledRule, Mark, RuleMatch, RuleSet, compile_rule
from crawler.rules.parser import QuerySyntaxError, parse_query, words_of

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
