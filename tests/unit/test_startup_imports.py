"""What a process imports at start: the heavy libraries wait until they are needed.

A pass where every feed answers 304 builds no record, places no story and parses nothing;
its whole cost is the start (the re-poll figure of benchmarks/bench_ingest.py).
"""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
from typing import Any

# Imported on use: numpy (stories, text tables, rule matching), the feed parser and the page
# extractor (CPU workers), the PostgreSQL dialect (only for a PostgreSQL URL).
ON_USE = ("numpy", "crawler.stories", "feedparser", "trafilatura", "psycopg")


def run_probe(probe: str) -> Any:
    """Run ``probe`` in a fresh interpreter (nothing imported yet); its JSON output."""
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    return json.loads(done.stdout)


def test_the_crawl_command_starts_without_the_libraries_it_imports_on_use() -> None:
    probe = (
        "import json, sys\n"
        "import scheduler.cli, scheduler.wiring, crawler.runner, crawler.harvest\n"
        f"print(json.dumps([m for m in {ON_USE!r} if m in sys.modules]))\n"
    )
    assert run_probe(probe) == []


def test_the_story_matcher_imports_its_work_on_first_use() -> None:
    probe = (
        "import json, sys\n"
        "from crawler.story_matcher import StoryMatcher\n"
        "from db.records import ArticleRecord\n"
        "before = 'numpy' in sys.modules\n"
        "text = ' '.join(f'word{i}' for i in range(60))\n"
        "record = ArticleRecord(source='s', url='https://a.example/1', "
        "canonical_url='https://a.example/1', title='A title of five words', text=text, "
        "text_origin='feed')\n"
        "prepared = StoryMatcher().prepare(record)\n"
        "print(json.dumps([before, 'numpy' in sys.modules, len(prepared.story_keys)]))\n"
    )
    assert run_probe(probe) == [False, True, 33]


def test_lifelong_imports_freeze_what_they_load_with_the_collector_off() -> None:
    probe = (
        "import gc, json\n"
        "from scheduler.startup import lifelong_imports\n"
        "before = gc.get_freeze_count()\n"
        "with lifelong_imports():\n"
        "    during = gc.isenabled()\n"
        "    kept = [[] for _ in range(5000)]\n"
        "after = gc.isenabled()\n"
        "frozen = gc.get_freeze_count() - before\n"
        "gc.disable()\n"
        "with lifelong_imports():\n"
        "    pass\n"
        "print(json.dumps([during, after, frozen >= 5000, gc.isenabled()]))\n"
    )
    # off inside, on after, the new objects frozen; a disabled collector stays disabled
    assert run_probe(probe) == [False, True, True, False]


def test_loading_the_download_handlers_installs_no_reactor() -> None:
    """The crawl command loads them before the asyncio reactor is installed (NOTES.md)."""
    probe = (
        "import json, sys\n"
        "from crawler.runner import load_download_handlers\n"
        "load_download_handlers()\n"
        "print(json.dumps(['twisted.internet.reactor' in sys.modules,\n"
        "                  'scrapy.core.downloader.handlers.http11' in sys.modules]))\n"
    )
    assert run_probe(probe) == [False, True]


DEPRECATED_CLASSES_PROBE = (
    "import inspect, json\n"
    "{load}\n"
    "from scrapy.core.downloader import contextfactory, tls\n"
    "from scrapy.utils import deprecate\n"
    "print(json.dumps([contextfactory.ScrapyClientContextFactory.__module__,\n"
    "                  contextfactory.AcceptableProtocolsContextFactory.__module__,\n"
    "                  tls.ScrapyClientTLSOptions.__module__,\n"
    "                  deprecate.inspect is inspect]))\n"
)


def test_scrapys_deprecated_classes_name_the_same_modules_when_loaded_by_the_crawl() -> None:
    """load_download_handlers spares create_deprecated_class its inspect.stack() walk; the
    classes it makes must name their modules as Scrapy alone names them."""
    ours, scrapys = (
        run_probe(DEPRECATED_CLASSES_PROBE.format(load=load))
        for load in (
            "from crawler.runner import load_download_handlers; load_download_handlers()",
            "import scrapy.core.downloader.handlers.http11",  # Scrapy alone
        )
    )
    assert ours == scrapys
    assert ours[0] == "scrapy.core.downloader.contextfactory" and ours[-1] is True


def test_the_inspect_stand_in_finds_the_frame_and_module_that_inspect_finds() -> None:
    from crawler.runner import _InspectWithoutSource

    stand_in = _InspectWithoutSource()

    def caller() -> tuple[object, object]:
        return stand_in.stack()[1][0], inspect.stack()[1][0]

    ours, real = caller()
    assert ours is real
    assert stand_in.getmodule(ours) is inspect.getmodule(real) is sys.modules[__name__]
    assert stand_in.isclass(int) and stand_in.getmodule(json) is json  # the rest: inspect's
