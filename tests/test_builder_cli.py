"""``python -m index_builder``: options, reports, exit codes."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from index_builder.cli import EXIT_FAILED, EXIT_OK, EXIT_REFUSED, main
from talksearch.store import open_store
from tests.conftest import ROOT, SAMPLE_CONTENT


@pytest.fixture
def content(tmp_path) -> Path:
    return Path(shutil.copytree(SAMPLE_CONTENT, tmp_path / "content"))


def test_module_help_documents_every_option():
    result = subprocess.run(
        [sys.executable, "-m", "index_builder", "build", "--help"], cwd=ROOT, capture_output=True, text=True, check=True
    )
    for option in ("--source", "--index", "--full", "--keep-versions", "--max-file-mb", "--json", "--progress"):
        assert option in result.stdout
    rollback = subprocess.run(
        [sys.executable, "-m", "index_builder", "rollback", "--help"], cwd=ROOT, capture_output=True, text=True
    )
    assert "--to VERSION" in rollback.stdout and "--index" in rollback.stdout


def test_build_prints_the_report_then_reports_unchanged(content, tmp_path, capsys):
    index = str(tmp_path / "index")
    assert main(["build", "--source", str(content), "--index", index]) == EXIT_OK
    out = capsys.readouterr().out
    assert out.startswith("published: 16 talks published as version ")
    assert "talks indexed 16 (+16 new, 0 changed, -0 gone)" in out and "artifact " in out and "duration " in out
    assert main(["build", "--source", str(content), "--index", index, "--json"]) == EXIT_OK
    report = json.loads(capsys.readouterr().out)
    assert report["status"] == "unchanged" and report["published"] is False and report["talks_indexed"] == 16


def test_refused_build_exits_non_zero(content, tmp_path, capsys):
    index = str(tmp_path / "index")
    main(["build", "--source", str(content), "--index", index])
    for path in content.rglob("*.*"):
        path.write_bytes(b"")
    assert main(["build", "--source", str(content), "--index", index]) == EXIT_REFUSED
    out = capsys.readouterr().out
    assert "refused: no talks found" in out and "empty file" in out


def test_versions_and_rollback(content, tmp_path, capsys):
    index = str(tmp_path / "index")
    main(["build", "--source", str(content), "--index", index])
    (content / "talks" / "x.md").write_text("---\ntitle: X\nspeaker: Ex Tra\n---\nBody.\n")
    main(["build", "--source", str(content), "--index", index, "--full", "--keep-versions", "3"])
    first, second = open_store(index).list_versions()
    capsys.readouterr()
    assert main(["versions", "--index", index]) == EXIT_OK
    assert capsys.readouterr().out.splitlines() == [f"  {first}", f"* {second}"]
    assert main(["rollback", "--index", index]) == EXIT_OK
    assert capsys.readouterr().out == f"published version {first} (16 talks) again\n"
    assert main(["rollback", "--index", index, "--to", "nope"]) == EXIT_FAILED
    assert "version nope is not kept" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["build", "--source", "gs://bucket/x", "--index", "idx"], "unsupported location"),
        (["rollback", "--index", "{tmp}/empty"], "nothing is published"),
        (["build", "--source", "{tmp}", "--index", "{tmp}/i", "--keep-versions", "0"], "at least 1"),
    ],
)
def test_bad_arguments_give_one_line_errors(tmp_path, capsys, argv, message):
    code = main([a.replace("{tmp}", str(tmp_path)) for a in argv])
    assert code != EXIT_OK
    assert message in capsys.readouterr().err
