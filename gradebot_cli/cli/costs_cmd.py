"""``gradebot costs`` (what was spent, from the ledger) and ``gradebot prices``."""

from __future__ import annotations

from typing import Any

import click

from gradebot_cli.cli.common import add_plain_row, json_option

GROUP_TITLES = {
    "assignment": "By assignment",
    "model": "By model",
    "day": "By day (UTC)",
    "type": "By request type",
    "tier": "By service tier (standard or batch)",
}


@click.command()
@click.option("--since", metavar="YYYY-MM-DD", help="First day to include (UTC).")
@click.option("--until", metavar="YYYY-MM-DD", help="Last day to include (UTC).")
@click.option(
    "--assignment", "assignment_id", metavar="ID", help="Only this assignment."
)
@click.option(
    "--by",
    "grouping",
    type=click.Choice(["assignment", "model", "day", "type", "tier"]),
    help="Show one grouping. Default: all of them.",
)
@json_option
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV on stdout.")
def costs(
    since: str | None,
    until: str | None,
    assignment_id: str | None,
    grouping: str | None,
    as_json: bool,
    as_csv: bool,
) -> None:
    """Report what the API requests in the ledger cost.

    Totals by assignment, model, day, request type and service tier, with tokens
    by kind, the cost per graded submission, and what prompt caching and the
    Batch API saved. Each request is priced with the prices recorded when it was
    made, so past reports never change.
    """
    from gradebot_cli.costs.reports import GROUPINGS, CostFilter, cost_report, parse_day
    from gradebot_cli.workspace import open_store

    if as_json and as_csv:
        raise click.UsageError("Choose one of --json and --csv.")
    filters = CostFilter(
        since=parse_day(since, "--since") if since else None,
        until=parse_day(until, "--until") if until else None,
        assignment_id=assignment_id,
    )
    groupings = (grouping,) if grouping else GROUPINGS
    store = open_store()
    try:
        report = cost_report(store, filters, groupings)
    finally:
        store.close()
    if as_json:
        from gradebot_cli.cli.common import print_json

        print_json(report.to_dict())
    elif as_csv:
        from gradebot_cli.costs.reports import report_csv

        click.echo(report_csv(report), nl=False)
    else:
        _print_report(report)


def _print_report(report: Any) -> None:
    from rich.table import Table

    from gradebot_cli.cli.common import stdout_console
    from gradebot_cli.costs.reports import describe_totals

    console = stdout_console()
    if report.totals.requests == 0:
        console.print(
            "No API requests in the ledger match these filters.", markup=False
        )
        return
    summary = Table(title="Totals", show_header=False)
    summary.add_column("Name")
    summary.add_column("Value", overflow="fold")
    for name, value in describe_totals(report.totals):
        add_plain_row(summary, name, value)
    console.print(summary)
    for grouping, rows in report.groups.items():
        console.print(_group_table(GROUP_TITLES[grouping], grouping, rows))
    if report.skipped_snapshots:
        console.print(
            f"{report.skipped_snapshots} requests have no readable price snapshot; "
            "their savings are counted as 0.",
            markup=False,
        )


def _group_table(title: str, grouping: str, rows: dict[str, Any]) -> Any:
    from rich.table import Table

    from gradebot_cli.pricing import format_usd

    table = Table(title=title)
    columns = (
        grouping.capitalize(),
        "Requests",
        "Input",
        "Output",
        "Cache write",
        "Cache read",
        "Cost",
        "Per graded",
        "Caching saved",
        "Batching saved",
    )
    for column in columns:
        table.add_column(
            column, justify="left" if column == columns[0] else "right", overflow="fold"
        )
    for key, totals in rows.items():
        tokens = totals.tokens
        per = totals.cost_per_graded_micro
        add_plain_row(
            table,
            key,
            f"{totals.requests:,}",
            f"{tokens.input_tokens:,}",
            f"{tokens.output_tokens:,}",
            f"{tokens.cache_write_5m_tokens + tokens.cache_write_1h_tokens:,}",
            f"{tokens.cache_read_tokens:,}",
            format_usd(totals.cost_micro),
            format_usd(per) if per is not None else "-",
            format_usd(totals.cache_saved_micro),
            format_usd(totals.batch_saved_micro),
        )
    return table


@click.command()
@click.option(
    "-m",
    "--model",
    "models",
    multiple=True,
    metavar="ID",
    help="Show only this model id; repeat for several.",
)
@json_option
def prices(models: tuple[str, ...], as_json: bool) -> None:
    """Show the Claude prices gradebot charges requests at, in USD per million tokens.

    The bundled table is merged with $GRADEBOT_HOME/prices.toml when that file
    exists; each model names the page its prices came from and when they were read.
    """
    from gradebot_cli.pricing import load_price_table
    from gradebot_cli.settings import gradebot_home

    table = load_price_table(gradebot_home() / "prices.toml")
    selected = [table.get(model) for model in models] if models else list(table)
    if as_json:
        from gradebot_cli.cli.common import print_json

        print_json(
            {
                "files": list(table.files),
                "models": [_price_json(price) for price in selected],
            }
        )
        return
    _print_prices(table.files, selected)


def per_mtok(micro_per_mtok: int) -> str:
    """Format µ$ per million tokens as plain USD per million tokens ("3.75")."""
    from decimal import Decimal

    value = Decimal(micro_per_mtok) / 1_000_000
    text = format(value.normalize(), "f")
    return text


def _price_json(price: Any) -> dict[str, Any]:
    from gradebot_cli.pricing import RATE_FIELDS

    tier = price.long_context
    return {
        "model": price.model,
        "name": price.name,
        "status": price.status,
        "usd_per_mtok": {
            name: per_mtok(getattr(price.rates, name)) for name in RATE_FIELDS
        },
        "batch_discount_percent": price.batch_discount_percent,
        "long_context": None
        if tier is None
        else {
            "threshold_tokens": tier.threshold_tokens,
            "usd_per_mtok": {
                name: per_mtok(getattr(tier.rates, name)) for name in RATE_FIELDS
            },
        },
        "source": price.source,
        "read_on": price.read_on,
    }


def _print_prices(files: tuple[str, ...], selected: list[Any]) -> None:
    from rich.table import Table

    from gradebot_cli.cli.common import stdout_console

    console = stdout_console()
    console.print("Price files: " + "; ".join(files), markup=False, highlight=False)
    table = Table(title="USD per million tokens")
    columns = (
        "Model",
        "Input",
        "Output",
        "Cache write 5m",
        "Cache write 1h",
        "Cache read",
        "Batch discount",
        "Long context",
        "Status",
    )
    for column in columns:
        table.add_column(column, overflow="fold")
    for price in selected:
        rates = price.rates
        tier = price.long_context
        add_plain_row(
            table,
            price.model,
            per_mtok(rates.input),
            per_mtok(rates.output),
            per_mtok(rates.cache_write_5m),
            per_mtok(rates.cache_write_1h),
            per_mtok(rates.cache_read),
            f"{price.batch_discount_percent}%",
            ""
            if tier is None
            else (
                f"over {tier.threshold_tokens:,} tokens: {per_mtok(tier.rates.input)} in, "
                f"{per_mtok(tier.rates.output)} out"
            ),
            price.status,
        )
    console.print(table)
    # Sources are long URLs; listed once below the table, they keep it readable.
    sources = sorted(
        {(price.source, price.read_on) for price in selected if price.source}
    )
    for source, read_on in sources:
        console.print(
            f"Source: {source} (read {read_on})", markup=False, highlight=False
        )
