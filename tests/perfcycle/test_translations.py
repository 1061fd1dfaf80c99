"""Every user-facing string in the source has a Simplified Chinese translation."""

import shutil
import subprocess
import sys
from pathlib import Path

from django.utils import translation

ROOT = Path(__file__).resolve().parents[2]
CATALOGUE = Path("perfcycle/locale/zh_Hans/LC_MESSAGES/django.po")
SKIP = {
    ".venv",
    ".git",
    "staticfiles",
    "media",
    "node_modules",
    ".pytest_cache",
    ".ruff_cache",
    "tests",
    "bench",
}


def test_it_has_a_chinese_translation_for_every_source_string(tmp_path):
    # Extract afresh from a copy of the source, so the check sees strings that were added
    # without running makemessages, and the working tree is left untouched.
    copy = tmp_path / "src"
    shutil.copytree(
        ROOT, copy, ignore=lambda d, names: [n for n in names if n in SKIP or n.endswith(".mo")]
    )
    subprocess.run(
        [
            sys.executable,
            "manage.py",
            "makemessages",
            "--locale",
            "zh_Hans",
            "--no-obsolete",
            "--no-location",
            "--verbosity",
            "0",
        ],
        cwd=copy,
        check=True,
        capture_output=True,
        text=True,
    )
    po = copy / CATALOGUE
    stats = subprocess.run(
        ["msgfmt", "--statistics", "--output-file", "/dev/null", str(po)],
        check=True,
        capture_output=True,
        text=True,
    ).stderr
    if "untranslated" in stats or "fuzzy" in stats:
        listing = subprocess.run(
            ["msgattrib", "--untranslated", "--no-obsolete", "--no-wrap", str(po)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        raise AssertionError(f"{stats.strip()}\n{listing[-4000:]}")
    assert "translated message" in stats


def test_it_serves_the_catalogue_at_run_time():
    with translation.override("zh-hans"):
        assert translation.gettext("Log in") != "Log in"
