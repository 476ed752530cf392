"""The command line's edge, in process (CliRunner): the contract's commands, exit codes, one-line
messages, usage errors."""

from __future__ import annotations

import re
import sqlite3

from click.testing import CliRunner

from cli import main
from tests.contract import COMMANDS


def invoke(*args: str):
    return CliRunner().invoke(main, list(args))


def test_help_lists_every_command_of_the_contract():
    result = invoke("--help")
    assert result.exit_code == 0
    listed = re.findall(r"^  (\w+)", result.output.split("Commands:")[1], re.M)
    assert sorted(listed) == sorted(COMMANDS)


def test_usage_errors_exit_2():
    assert invoke("history", "--format", "xml").exit_code == 2
    assert invoke("demo", "--seed", "-1").exit_code == 2
    assert invoke("export", "--what", "everything", "--format", "csv").exit_code == 2
    assert invoke("discover", "--ring-km", "0").exit_code == 2


def test_domain_error_is_one_line_exit_1(tmp_path):
    bad = tmp_path / "c.yaml"
    bad.write_text("nonsense_key: 1\n")
    result = invoke("--config", str(bad), "demo", "--out", str(tmp_path / "w"))
    assert result.exit_code == 1
    assert result.output.strip().count("\n") == 0, result.output
    assert "nonsense_key" in result.output and "Traceback" not in result.output


def test_a_damaged_store_is_a_message_not_a_traceback(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("sites: null\nstore: s.gpkg\n")
    assert invoke("--config", str(cfg), "status").exit_code == 0  # creates the store
    store = tmp_path / "s.gpkg"
    data = bytearray(store.read_bytes())
    data[4096:] = b"\xff" * (len(data) - 4096)  # every page but the first torn
    store.write_bytes(bytes(data))
    result = invoke("--config", str(cfg), "history", "--all")
    assert result.exit_code == 1, result.output
    assert "damaged or unreadable" in result.output and "Traceback" not in result.output
    assert str(store) in result.output


def test_history_of_an_unknown_site_names_where_to_look(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("sites: null\nstore: s.gpkg\n")
    result = invoke("--config", str(cfg), "history", "NOPE")
    assert result.exit_code == 1 and "unknown site id 'NOPE'" in result.output
    assert "sites list" in result.output
    with sqlite3.connect(tmp_path / "s.gpkg") as c:  # nothing but the empty store was written
        assert c.execute("SELECT count(*) FROM site_years").fetchone()[0] == 0
