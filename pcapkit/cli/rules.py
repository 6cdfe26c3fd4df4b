"""``pcapkit rules list|lint|test``: the rule packs, checked and exercised."""

from __future__ import annotations

import sys

import click

rules_option = click.option("--rules", "rule_dirs", multiple=True, type=click.Path(exists=True),
                            help="A rule file or directory to add to the core pack; "
                                 "repeatable.")


@click.group()
def rules() -> None:
    """The rule packs: Sigma rules over pcapkit's tables (rules/README.md)."""


@rules.command("list")
@rules_option
@click.option("--no-core", is_flag=True, help="Leave out the shipped core pack.")
def list_rules(rule_dirs: tuple[str, ...], no_core: bool) -> None:
    """One line per rule: id, level, category, table, title.

    \b
    Examples:
      pcapkit rules list
      pcapkit rules list --rules my-rules/
    """
    from pcapkit.rules import load_rules

    pack = load_rules(rule_dirs, core=not no_core)
    for rule in sorted(pack.rules, key=lambda r: (r.category, r.title)):
        click.echo(f"{rule.id}  {rule.level:<13} {rule.category:<16} {rule.table:<12} "
                   f"{rule.title}")
    _report(pack.problems)


@rules.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
def lint(paths: tuple[str, ...]) -> None:
    """Check rule files against Sigma and the table registry; exit 1 on any problem.

    \b
    Examples:
      pcapkit rules lint pcapkit/rules/core/
      pcapkit rules lint my-rules/site-dns.yml
    """
    from pcapkit.rules import load_rules

    pack = load_rules(paths, core=False)
    _report(pack.problems)
    click.echo(f"{len(pack.rules)} rule(s) OK, {len(pack.problems)} problem(s)", err=True)
    if pack.problems or not pack.rules:
        sys.exit(1)


@rules.command("test")
@click.argument("paths", nargs=-1, type=click.Path())
def test_rules(paths: tuple[str, ...]) -> None:
    """Run every rule's regression cases (the core pack when no PATH is given).

    \b
    Examples:
      pcapkit rules test
      pcapkit rules test my-rules/
    """
    from pcapkit.rules import load_rules
    from pcapkit.rules.regression import run_rule_tests

    pack = load_rules(paths, core=not paths)
    _report(pack.problems)
    results = run_rule_tests(pack.rules)
    for result in results:
        click.echo(str(result))
    failed = [r for r in results if not r.passed]
    untested = [r.title for r in pack.rules if not r.tests]
    for title in untested:
        click.echo(f"UNTESTED {title}: no pcapkit.tests cases")
    click.echo(f"{len(results) - len(failed)}/{len(results)} case(s) passed", err=True)
    if failed or pack.problems or untested:
        sys.exit(1)


def _report(problems: list) -> None:
    for problem in problems:
        click.echo(f"pcapkit: rule problem: {problem}", err=True)
