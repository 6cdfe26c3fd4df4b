"""The documentation stays in step with the code: generated pages are current, every page
is reachable from docs/index.md, every relative link (and its #anchor) resolves, console
blocks show what the command really prints, the guide's Python runs, the example rule pack
and tuning file do what docs/rules.md says, and the guide covers every table a rule can
read and every finding category of the core pack."""

from __future__ import annotations

import json
import os
import re
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_help_examples import _inputs_exist

from pcapkit.cli import main
from pcapkit.schema import TABLES, columns_document

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
#: the pages whose links are checked: the README, every page of docs/, the rules pointer
LINKED = [ROOT / "README.md", *sorted(DOCS.glob("*.md")), ROOT / "rules" / "README.md"]
#: the user's guide pages whose Python blocks are run here (docs/api.md has its own test)
GUIDE = [DOCS / name for name in ("index.md", "capturing.md", "snapshot.md", "rules.md",
                                  "findings.md")]
_FENCE = re.compile(r"^(```|~~~)")
_LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")


def test_columns_doc_is_current() -> None:
    assert (DOCS / "columns.md").read_text() == columns_document(), \
        "docs/columns.md is stale: run `python -m pcapkit.schema > docs/columns.md`"


def test_readme_commands_are_the_ci_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    for command in ("pip install -e '.[dev]'", "pytest -q"):
        assert command in readme and command in ci


def _prose(text: str) -> list[str]:
    """The lines of a Markdown text outside fenced code blocks."""
    lines, fenced = [], False
    for line in text.splitlines():
        if _FENCE.match(line.strip()):
            fenced = not fenced
            continue
        if not fenced:
            lines.append(line)
    return lines


def _links(path: Path) -> list[str]:
    """The link targets of a Markdown page, code spans and fenced blocks left out."""
    return [target for line in _prose(path.read_text())
            for target in _LINK.findall(re.sub(r"`[^`]*`", "", line))]


def _anchors(path: Path) -> set[str]:
    """The anchors GitHub gives a page's headings: lower case, punctuation other than '-'
    and '_' dropped, spaces as '-', a repeated heading suffixed -1, -2 ..."""
    seen: dict[str, int] = {}
    anchors = set()
    for line in _prose(path.read_text()):
        heading = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if not heading:
            continue
        slug = re.sub(r"[^\w\- ]", "", heading.group(1).lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        anchors.add(slug if count == 0 else f"{slug}-{count}")
    return anchors


def test_every_page_is_linked_from_the_index() -> None:
    index = DOCS / "index.md"
    linked = {(index.parent / target.split("#", 1)[0]).resolve()
              for target in _links(index) if not target.startswith(("http:", "https:"))}
    missing = [page.name for page in sorted(DOCS.glob("*.md"))
               if page != index and page.resolve() not in linked]
    assert not missing, f"docs/index.md does not link {missing}"


@pytest.mark.parametrize("page", LINKED, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(page: Path) -> None:
    broken = []
    for target in _links(page):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):
            continue  # http:, https:, mailto: ...
        file, _, anchor = target.partition("#")
        where = (page.parent / file).resolve() if file else page
        if not where.exists():
            broken.append(f"{target} (no {where.relative_to(ROOT)})")
        elif anchor and where.suffix == ".md" and anchor not in _anchors(where):
            broken.append(f"{target} (no heading #{anchor} in {where.name})")
    assert not broken, f"{page.relative_to(ROOT)}: broken links {broken}"


def _console_blocks(text: str) -> list[tuple[str, list[str]]]:
    """(command, the output lines shown after it) of every ``$ pcapkit ...`` prompt in a
    fenced block; continuation lines joined, the output runs to the next prompt."""
    shown: list[tuple[str, list[str]]] = []
    for block in re.findall(r"^```[a-z]*\n(.*?)^```", text, flags=re.S | re.M):
        command, output, continued = None, [], False
        for line in block.splitlines():
            if continued:
                command += " " + line.strip().rstrip("\\").strip()
                continued = line.rstrip().endswith("\\")
            elif line.startswith("$ "):
                if command:
                    shown.append((command, output))
                command, output = line[2:].rstrip("\\").strip(), []
                continued = line.rstrip().endswith("\\")
            elif command is not None:
                output.append(line)
        if command:
            shown.append((command, output))
    return [(c, out) for c, out in shown if c.startswith("pcapkit ")]


def _documents_with_console_blocks() -> list[Path]:
    return [p for p in LINKED if _console_blocks(p.read_text())]


@pytest.mark.parametrize("page", _documents_with_console_blocks(),
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_console_blocks_show_the_real_output(page: Path, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Every line shown under a ``$ pcapkit ...`` prompt is in what the command prints
    (a line is checked part by part where the page shortened it at '...'); prompts whose
    inputs are a user's own files are shown, not run."""
    for folder in ("fixtures", "pcapkit", "docs"):
        os.symlink(ROOT / folder, tmp_path / folder)
    monkeypatch.chdir(tmp_path)
    for command, output in _console_blocks(page.read_text()):
        words = shlex.split(command)[1:]
        if not _inputs_exist(words):
            continue
        result = CliRunner().invoke(main, words)
        assert result.exit_code in (0, 1), (command, result.output[-500:])
        for line in output:
            for part in (p.strip() for p in line.split("...")):
                assert part in result.output, (command, line, part)


@pytest.mark.parametrize("page", GUIDE, ids=lambda p: p.name)
def test_guide_python_runs(page: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each ```python block of the guide's pages runs on its own, from the checkout."""
    monkeypatch.chdir(ROOT)
    blocks = re.findall(r"^```python\n(.*?)^```", page.read_text(), flags=re.S | re.M)
    for number, block in enumerate(blocks, 1):
        exec(compile(block, f"{page.name} python block {number}", "exec"), {})  # noqa: S102


def _run(*words: str, stdout: bool = False) -> tuple[int, str]:
    """Exit status and what the command printed (stdout alone with ``stdout``)."""
    result = CliRunner().invoke(main, list(words))
    assert "Traceback" not in result.output, result.output
    return result.exit_code, result.stdout if stdout else result.output


def test_example_rule_pack(monkeypatch: pytest.MonkeyPatch) -> None:
    """docs/examples/rules lints clean, passes its own cases, and finds the frontend's
    lookups of the retired zone on the demo incident; its broken twin is refused with the
    closest column named."""
    monkeypatch.chdir(ROOT)
    pack = "docs/examples/rules/"
    assert _run("rules", "lint", pack) == (0, "1 rule(s) OK, 0 problem(s)\n")
    code, out = _run("rules", "test", pack)
    assert code == 0 and "2/2 case(s) passed" in out, out
    code, out = _run("analyze", "fixtures/demo", "--rules", pack, "-q")
    assert code == 1
    assert "[legacy-dependency] Lookups of the decommissioned legacy zone" in out
    assert "Deployment shop/frontend looked up inventory.legacy.svc.cluster.local" in out
    code, out = _run("rules", "lint", "docs/examples/broken-rules/")
    assert code == 1 and "no column 'qnmae' (did you mean qname?)" in out, out


def test_site_tuning_example(monkeypatch: pytest.MonkeyPatch) -> None:
    """docs/examples/site-tuning.yml leaves the demo's policy drop and failed asymmetric
    route, and quiets the frontend's lost lookups (as docs/rules.md says)."""
    monkeypatch.chdir(ROOT)
    code, out = _run("analyze", "fixtures/demo", "--format", "json", "-q", stdout=True)
    assert code == 1
    code, tuned = _run("analyze", "fixtures/demo", "--tuning", "docs/examples/site-tuning.yml",
                       "--format", "json", "-q", stdout=True)

    def categories(report: str) -> list[str]:
        return sorted(f["category"] for f in json.loads(report)["findings"])

    assert categories(out) == ["asymmetric-route", "dns-timeout", "dns-timeout",
                               "policy-drop"]
    assert categories(tuned) == ["asymmetric-route", "policy-drop"]


def test_rules_doc_lists_every_table() -> None:
    """docs/rules.md's table of log sources names every registered table, linked to its
    section of docs/columns.md, and no table that does not exist."""
    text = (DOCS / "rules.md").read_text()
    listed = set(re.findall(r"^\| \[`(\w+)`\]\(columns\.md#\1\)", text, flags=re.M))
    assert listed == set(TABLES), (sorted(set(TABLES) - listed), sorted(listed - set(TABLES)))


def test_findings_doc_covers_every_core_category() -> None:
    """docs/findings.md has a section for every finding category of the core pack, and
    names every core rule file."""
    from pcapkit.rules import load_rules
    from pcapkit.rules.load import core_rules_dir

    text = (DOCS / "findings.md").read_text()
    sections = set(re.findall(r"^## (\S+)$", text, flags=re.M))
    categories = {rule.category for rule in load_rules().rules}
    assert sections == categories, (sorted(categories - sections), sorted(sections - categories))
    files = [p.name for p in core_rules_dir().glob("*.yml")]
    unnamed = [name for name in files if name not in text]
    assert not unnamed, f"docs/findings.md does not name {unnamed}"
