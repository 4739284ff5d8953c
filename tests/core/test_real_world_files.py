"""A documentation tree as it really is: gzip-compressed changelogs, HTML pages, UTF-16 files, links
that loop or dangle, and file names with a newline. Stats and prepare read what is text, skip the
rest with a reason, and exit 0."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from forgellm_tui.cli import main
from forgellm_tui.core.datasets import read_preview, scan_dataset

CHANGELOG = ("pkg (1.2-1) unstable; urgency=medium\n\n  * New upstream release with a faster parser.\n"
             "  * Fix the crash when the config file is missing.\n\n -- Maintainer <m@example.org>\n")
PAGE = """<!DOCTYPE html><html><head><title>Parser Guide</title>
<style>body { color: red; }</style><script>var secretScript = "<p>not text</p>";</script></head>
<body><nav><a href="/">Home</a></nav><h1>Getting started</h1>
<p>The parser reads <b>every</b> file &amp; keeps
its paragraphs.</p><ul><li>first item</li><li>second item</li></ul>
<pre>  indented code
    more code</pre><!-- a comment --></body></html>
"""
UTF16 = "Notes in UTF-16: naïve café, written by a Windows editor.\nSecond line.\n"


def build_tree(root: Path) -> Path:
    docs = root / "core"
    docs.mkdir(parents=True)
    (docs / "changelog.gz").write_bytes(gzip.compress(CHANGELOG.encode()))
    (docs / "guide.html").write_text(PAGE, encoding="utf-8")
    (docs / "guide-copy.html.gz").write_bytes(gzip.compress(PAGE.encode()))
    (docs / "notes.txt").write_bytes(UTF16.encode("utf-16"))  # with its byte-order mark
    (docs / "plain.txt").write_text("A plain file that is read as before.\n", encoding="utf-8")
    (docs / "broken.gz").write_bytes(b"this is not gzip data at all")
    (docs / "bundle.tar.gz").write_bytes(gzip.compress(b"x" * 600))
    (docs / "loop-a").symlink_to("loop-b")
    (docs / "loop-b").symlink_to("loop-a")
    (docs / "dangling.txt").symlink_to("gone.txt")
    (docs / "up").symlink_to("..", target_is_directory=True)
    (docs / "two\nlines.txt").write_text("A file whose name holds a newline.\n", encoding="utf-8")
    return root


@pytest.fixture
def tree(tmp_path) -> Path:
    return build_tree(tmp_path / "dataset")


def test_html_becomes_its_text():
    from forgellm_tui.core.datasets.html_text import html_to_text

    text = html_to_text(PAGE)
    assert text.startswith("Parser Guide\n\n")
    assert "Getting started\n\nThe parser reads every file & keeps its paragraphs.\n\nfirst item\nsecond item" in text
    assert "  indented code\n    more code" in text
    assert "<" not in text and "secretScript" not in text and "color" not in text and "comment" not in text


def test_scan_reads_gzip_html_and_utf16_and_names_every_skip(tree):
    from forgellm_tui.core.datasets.html_text import html_to_text

    scan = scan_dataset(tree, cache_path=False)
    counted = {f.rel: f for f in scan.files}
    skipped = {s.rel: s.reason for s in scan.skipped}
    assert {"core/changelog.gz", "core/guide.html", "core/guide-copy.html.gz", "core/notes.txt",
            "core/plain.txt", "core/two\nlines.txt"} == set(counted)
    assert counted["core/changelog.gz"].words == len(CHANGELOG.split())
    assert counted["core/notes.txt"].words == len(UTF16.split())
    html_words = len(html_to_text(PAGE).split())
    assert counted["core/guide.html"].words == html_words == counted["core/guide-copy.html.gz"].words
    assert skipped["core/broken.gz"].startswith("not a valid gzip file")
    assert skipped["core/bundle.tar.gz"].startswith("binary file (.tar.gz)")
    assert skipped["core/loop-a"].startswith("link loop") and skipped["core/loop-b"].startswith("link loop")
    assert skipped["core/dangling.txt"].startswith("dangling link (its target gone.txt does not exist)")
    assert skipped["core/up"].startswith("link loop")


def test_preview_shows_the_text_not_the_bytes(tree):
    assert read_preview(tree / "core" / "changelog.gz") == CHANGELOG
    assert read_preview(tree / "core" / "notes.txt") == UTF16
    page = read_preview(tree / "core" / "guide.html")
    assert "Getting started" in page and "<h1>" not in page


def test_names_are_escaped_for_one_table_row():
    from forgellm_tui.core.datasets.io import printable

    assert printable("two\nlines.txt") == "two\\nlines.txt"
    assert printable("tab\there\x1b[31m") == "tab\\there\\x1b[31m"
    assert printable("caf\udce9.txt") == "caf\\xe9.txt"  # a Latin-1 byte the file system name did not decode
    assert printable("café.txt") == "café.txt"


def test_stats_lists_every_file_on_one_line_and_exits_0(tree, tmp_path, capsys):
    assert main(["--workspace", str(tmp_path / "ws"), "stats", str(tree), "--files"]) == 0
    captured = capsys.readouterr()
    rows = captured.out.splitlines()
    assert any(r.startswith(f"{tree}/core/two\\nlines.txt ") for r in rows), captured.out
    assert any("changelog.gz" in r for r in rows) and any("guide.html" in r for r in rows)
    assert all(line.startswith("skipped ") for line in captured.err.splitlines()), captured.err
    assert "dangling link" in captured.err and "link loop" in captured.err


def test_prepare_trains_on_text_not_markup_and_exits_0(workspace, capsys):
    build_tree(workspace / "dataset" / "docs")
    assert main(["--workspace", str(workspace), "prepare", "--name", "docs", "--target-tokens", "256",
                 "--mix-ratio", "1", "--valid-fraction", "0", "--test-fraction", "0"]) == 0
    out = capsys.readouterr().out
    data = workspace / "data" / "docs"
    rows = [json.loads(line) for line in (data / "train.jsonl").read_text(encoding="utf-8").splitlines()]
    text = "".join(r["text"] for r in rows)
    assert "New upstream release with a faster parser" in text  # from changelog.gz
    assert "naïve café, written by a Windows editor" in text  # from UTF-16
    assert "Getting started" in text and "<p>" not in text and "secretScript" not in text
    sources = {s["path"] for s in json.loads((data / "manifest.json").read_text(encoding="utf-8"))["sources"]}
    assert "dataset/docs/core/changelog.gz" in sources and "dataset/docs/core/two\\nlines.txt" in sources
    assert "docs/core/two\\nlines.txt" not in out  # counted, so not in the skipped list
    skipped_lines = [line for line in out.splitlines() if line.startswith("    docs/core/")]
    assert any("dangling link" in line for line in skipped_lines), out
    assert all(line.count("docs/core/") == 1 for line in skipped_lines)
