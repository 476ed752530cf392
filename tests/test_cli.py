import re
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from cli import main

ROOT = Path(__file__).resolve().parents[1]
CONTRACT = ["demo", "sites", "run", "composite", "history", "status", "report", "train", "evaluate"]


def test_help_lists_every_command_of_the_contract():
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    listed = re.findall(r"^  (\w+)", result.output.split("Commands:")[1], re.M)
    assert sorted(listed) == sorted(CONTRACT)


def test_usage_error_exits_2():
    result = CliRunner().invoke(main, ["history", "--format", "xml"])
    assert result.exit_code == 2


def test_domain_error_is_one_line_exit_1(tmp_path):
    bad = tmp_path / "c.yaml"
    bad.write_text("nonsense_key: 1\n")
    proc = subprocess.run(
        [sys.executable, str(ROOT / "cli.py"), "--config", str(bad), "demo", "--out", str(tmp_path / "w")],
        capture_output=True, text=True, cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 1
    assert proc.stderr.strip().count("\n") == 0, proc.stderr
    assert "nonsense_key" in proc.stderr and "Traceback" not in proc.stderr
