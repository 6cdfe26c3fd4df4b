"""Every command's --help ends its text with examples, and each example there and in the
README and docs/ that names only files a fresh clone has (fixtures/, the core pack, or
what an earlier command of the same block wrote) runs as shown: exit 0, or 1 for
findings, damage or a denied connection, never a usage error or a traceback. A command
shown on a user's own files is checked against its --help: the command and every option
it gives exist."""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from pcapkit.cli import COMMANDS, main

ROOT = Path(__file__).resolve().parent.parent
GROUPS = {"policy": ["explain"], "rules": ["list", "lint", "test"]}
LEAVES = [(name, sub) for name in COMMANDS for sub in GROUPS.get(name, [None])]
#: example paths a user supplies (their own captures, rules, home): shown, not run
USER_PATHS = ("captures/", "capture.pcap", "my-rules", "~", "report.json", "node1.pcap")


def _help(name: str, sub: str | None) -> str:
    args = [name, *([sub] if sub else []), "--help"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    return result.output


def _examples(text: str) -> list[str]:
    lines = text.split("Examples:", 1)[1].splitlines()
    commands, current = [], ""
    for line in lines:
        stripped = line.strip()
        if not stripped:
            if current:
                break
            continue
        if stripped.startswith("Options:"):
            break
        current += " " + stripped.split("  #", 1)[0].rstrip("\\").strip()
        if not line.rstrip().endswith("\\"):
            commands.append(current.strip())
            current = ""
    return commands


@pytest.mark.parametrize(("name", "sub"), LEAVES)
def test_help_has_examples(name: str, sub: str | None) -> None:
    text = _help(name, sub)
    assert "Examples:" in text, f"pcapkit {name} {sub or ''} --help has no examples"
    examples = _examples(text)
    assert any(e.startswith(f"pcapkit {name}") for e in examples), examples


@pytest.mark.parametrize(("name", "sub"), LEAVES)
def test_examples_on_shipped_files_run(name: str, sub: str | None, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    for folder in ("fixtures", "pcapkit"):
        os.symlink(ROOT / folder, tmp_path / folder)
    monkeypatch.chdir(tmp_path)  # outputs (-o flows.csv) land here, not in the checkout
    ran = 0
    for example in _examples(_help(name, sub)):
        words = shlex.split(example)[1:]
        if not example.startswith("pcapkit ") or any(m in example for m in USER_PATHS):
            continue  # a step of the workflow shown (wireshark ...), or a user's own files
        result = CliRunner().invoke(main, words)
        assert result.exit_code in (0, 1), (example, result.output[-500:])
        assert "Traceback" not in result.output, example
        ran += 1
    if name != "export-evidence":  # its examples need a report made first
        assert ran, f"no example of pcapkit {name} {sub or ''} runs on shipped files"


#: options whose value is a file the command writes (it need not exist yet)
OUTPUTS = {"-o", "--output", "--evidence", "--cache"}
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")),
             ROOT / "rules" / "README.md", ROOT / "fixtures" / "README.md"]


def _block_commands(text: str) -> list[list[str]]:
    """The ``pcapkit ...`` command lines of each fenced block (continuations joined,
    ``$`` prompts and trailing comments dropped), block by block."""
    blocks = []
    for block in re.findall(r"```[a-z]*\n(.*?)```", text, flags=re.S):
        commands, current = [], ""
        prompted = any(line.startswith("$ ") for line in block.splitlines())
        for line in block.splitlines():
            if prompted and not current and not line.startswith("$ "):
                continue  # a console block: the rest is output
            stripped = line.strip().removeprefix("$ ")
            if not current and not stripped.startswith("pcapkit "):
                continue
            current += " " + stripped.split("  #", 1)[0].rstrip("\\").strip()
            if not stripped.endswith("\\"):
                commands.append(current.strip())
                current = ""
        if commands:
            blocks.append(commands)
    return blocks


def _inputs_exist(words: list[str]) -> bool:
    """Whether every file the command reads is there (outputs and option values aside)."""
    after_output = False
    for word in words:
        if after_output:
            after_output = False
            continue
        if word in OUTPUTS:
            after_output = True
            continue
        if word.startswith("-") or "=" in word or "[" in word or "..." in word:
            if "[" in word or "..." in word:
                return False   # a synopsis (PATH..., [--rules DIR]), not a command
            continue
        looks_like_path = "/" in word or word.endswith((".pcap", ".pcapng", ".gz", ".json",
                                                         ".yml", ".yaml"))
        if looks_like_path and not Path(word).exists():
            return False
    return True


def _options_exist(words: list[str], command: str) -> None:
    """A command shown on a user's own files (not run) names a real command, and every
    option it gives is one that command's --help lists."""
    if any("[" in w or "..." in w for w in words) or "$(" in command:
        return  # a synopsis, or a shell loop building the words: not one command
    name = words[0]
    sub = words[1] if name in GROUPS and len(words) > 1 else None
    assert name in COMMANDS and (sub is None or sub in GROUPS[name]), command
    text = _help(name, sub)
    for word in words:
        if word.startswith("-") and len(word) > 1 and not word[1:2].isdigit():
            option = word.split("=", 1)[0]
            assert re.search(rf"(^|[\s,/]){re.escape(option)}([\s,=/]|$)", text, re.M), \
                f"{command}: {option} is not an option of pcapkit {name} {sub or ''}"


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_document_commands_run(document: Path, tmp_path: Path,
                               monkeypatch: pytest.MonkeyPatch) -> None:
    assert document.exists(), document
    for folder in ("fixtures", "pcapkit"):
        os.symlink(ROOT / folder, tmp_path / folder)
    monkeypatch.chdir(tmp_path)
    ran = 0
    for commands in _block_commands(document.read_text()):
        for command in commands:
            words = shlex.split(command)[1:]
            if not _inputs_exist(words):
                _options_exist(words, command)  # a user's own files: only its options
                continue
            result = CliRunner().invoke(main, words)
            assert result.exit_code in (0, 1), (command, result.output[-500:])
            assert "Traceback" not in result.output, command
            ran += 1
    if document.name == "README.md" and document.parent == ROOT:
        assert ran >= 10, f"only {ran} README commands ran"
