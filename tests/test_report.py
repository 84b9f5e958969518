"""The athlete's page: self-contained (no network), escaped, readable on a phone."""

from __future__ import annotations

import datetime as dt
import re
import shutil
import struct
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

from beatrun.activity.synth import week_runs, write_runs
from beatrun.models import Track
from beatrun.plan import make_plan, plan_playlists, review_plan
from beatrun.report import athlete_page, page_playlist
from beatrun.workflows.coaching import measure_activities

ROOT = Path(__file__).resolve().parent.parent
HOSTILE = '<script src="http://evil.example/x.js"></script>"\'&<img src=//evil.example/y>'


class Resources(HTMLParser):
    """Collects every tag and attribute that could make a browser fetch something."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.fetching: list[tuple[str, str, str]] = []
        self.styles: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self._in_style = tag == "style"
        for name, value in attrs:
            if name in {"src", "href", "srcset", "poster", "data", "action", "formaction",
                        "background", "xlink:href", "ping"}:
                self.fetching.append((tag, name, value or ""))
            if name == "style":
                self.styles.append(value or "")
            if name == "http-equiv" and (value or "").lower() == "refresh":
                self.fetching.append((tag, name, value or ""))

    def handle_endtag(self, tag):
        self._in_style = False

    def handle_data(self, data):
        if self._in_style:
            self.styles.append(data)


def tracks() -> list[Track]:
    found = []
    for i in range(40):
        bpm = 160 + (i % 15) if i % 3 else 80 + (i % 8)
        found.append(Track(id=i + 1, source="local", path=f"/m/{i}.mp3",
                           artist=HOSTILE if i == 4 else f"Artist {i % 6}",
                           title=HOSTILE if i % 5 == 0 else f"Song {i}", duration_s=200.0,
                           tag_bpm=float(bpm), bpm=float(bpm)))
    return found


@pytest.fixture(scope="module")
def page(tmp_path_factory) -> str:
    folder = tmp_path_factory.mktemp("page")
    plan = make_plan(start_spm=162, goal_spm=170, weeks=5, start_date=dt.date(2026, 11, 2))
    paths = write_runs(folder, week_runs(plan, {1: [164, 164], 2: [160, 159]}))
    review = review_plan(plan, measure_activities([str(p) for p in paths]).reports,
                         as_of=dt.date(2026, 11, 16))
    lists = [page_playlist(wp.week, wp.name, wp.playlist, wp.note)
             for wp in plan_playlists(review.adjusted, tracks())]
    return athlete_page(review.adjusted, title=HOSTILE, playlists=lists)


def test_page_makes_no_network_request(page):
    parser = Resources()
    parser.feed(page)
    assert parser.fetching == []
    assert "script" not in parser.tags and "link" not in parser.tags
    assert not {"img", "iframe", "object", "embed", "video", "audio"} & set(parser.tags)
    css = "\n".join(parser.styles)
    assert "@import" not in css and "url(" not in css and "http" not in css
    assert not re.search(r"(?i)<script|<link|<img|<iframe|@import", page)
    # URLs appear only as escaped text (the hostile title), never in markup
    markup = re.sub(r">[^<]*<", "><", page)
    assert not re.search(r"(?i)https?:|//[a-z0-9.-]+\.[a-z]{2,}/", markup)


def test_strings_from_outside_are_escaped(page):
    assert HOSTILE not in page
    assert ("&lt;script src=&quot;http://evil.example/x.js&quot;&gt;&lt;/script&gt;&quot;"
            "&#x27;&amp;&lt;img src=//evil.example/y&gt;") in page


def test_page_has_the_plan_the_review_and_advice(page):
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
    assert "Week 1</span>" in page and 'class="badge b-held">held<' in page
    assert 'class="badge b-not-held">not held<' in page
    assert "repeat: week 2 not held" in page
    assert "Week 2 was not held (median 159 spm for 166)" in page
    assert "Mon 02 Nov to Sun 08 Nov 2026" in page
    assert page.count("<details") == 6  # one playlist per week of the adjusted plan
    assert "<details open><summary>Week 3:" in page  # next week's playlist is open


def test_screenshot_in_chromium(tmp_path):
    if shutil.which("chromium") is None and shutil.which("chromium-browser") is None:
        pytest.skip("chromium is not installed (Debian: apt-get install chromium); the "
                    "screenshot script is benchmarks/report_screenshot.py")
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import report_screenshot
    finally:
        sys.path.pop(0)
    page = report_screenshot.build_page(tmp_path)
    browser = report_screenshot.chromium()
    for name, size in report_screenshot.SIZES.items():
        png = tmp_path / f"{name}.png"
        report_screenshot.screenshot(browser, page, png, size)
        data = png.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        assert struct.unpack(">II", data[16:24]) == size
