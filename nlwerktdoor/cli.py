"""Command line (DESIGN.md, "Command line"): `flask --app nlwerktdoor …` or the `nlwerktdoor` command.

Each command is a thin call into a service; services own the transaction.
"""
import sys
import time

import click
from flask import Flask
from flask.cli import AppGroup, FlaskGroup

demo_cli = AppGroup("demo", help="Demo data.")
import_cli = AppGroup("import", help="Bulk import from CSV (operator).")
match_cli = AppGroup("match", help="Matching.")
mail_cli = AppGroup("mail", help="The outbox.")
scheduler_cli = AppGroup("scheduler", help="The job scheduler (its own process).")
export_cli = AppGroup("export", help="Exports as CSV on standard output.")
users_cli = AppGroup("users", help="User accounts.")
jobs_cli = AppGroup("jobs", help="Scheduled job runs.")


@demo_cli.command("seed")
@click.option("--if-empty", is_flag=True, help="Only seed when the database holds no organisations yet.")
@click.option("--seed", "random_seed", default=2020, show_default=True, help="Random seed (same seed, same data).")
def demo_seed(if_empty: bool, random_seed: int):
    """Load fictional demo organisations, listings, shortages and workers."""
    from .services import demo

    report = demo.seed_demo(random_seed=random_seed, only_if_empty=if_empty)
    click.echo(report.summary())


def _import(kind: str, file) -> None:
    from .services import imports

    started = time.perf_counter()
    report = imports.import_csv(kind, file.read(), progress=_progress_printer())
    for error in report.errors:
        where = f"rij {error.row}, kolom {error.column}" if error.column else f"rij {error.row}"
        click.echo(f"{where}: {error.message}", err=True)
    if report.errors:
        click.echo(f"{len(report.errors)} fout(en) in {report.rows_with_errors} rij(en); niets geïmporteerd.", err=True)
        sys.exit(1)
    if report.encoding != "utf-8":
        click.echo(f"Let op: bestand gelezen als {report.encoding} (geen UTF-8).", err=True)
    click.echo(
        f"{report.created} nieuw, {report.updated} bijgewerkt, {report.unchanged} ongewijzigd "
        f"({time.perf_counter() - started:.1f} s)"
    )
    if kind == "shortages" and report.created + report.updated:
        click.echo(f"kandidaten direct gezocht voor {report.matched_at_once} van {report.created + report.updated} "
                   "tekorten; de rest bij de volgende matchronde")


def _progress_printer():
    def progress(done: int, total: int) -> None:
        if total >= 2000 and (done == total or done % 1000 == 0):
            click.echo(f"\r{done}/{total} rijen", nl=done == total, err=True)

    return progress


@import_cli.command("shortages")
@click.argument("file", type=click.File("rb"))
def import_shortages(file):
    """Import shortages (growing side)."""
    _import("shortages", file)


@import_cli.command("listings")
@click.argument("file", type=click.File("rb"))
def import_listings(file):
    """Import staff listings (shrinking side)."""
    _import("listings", file)


@import_cli.command("workers")
@click.argument("file", type=click.File("rb"))
def import_workers(file):
    """Import workers who gave consent."""
    _import("workers", file)


@match_cli.command("run")
@click.option("--full", is_flag=True, help="Examine every pair, not only those with a side changed since the last run.")
def match_run(full):
    """One matching run: store new matches and queue one digest per recipient."""
    from .services import matching

    started = time.perf_counter()
    run = matching.run_matching(full=full)
    click.echo(
        f"run: {run.kind}, candidates: {run.candidates}, shortages: {run.shortages}, new matches: {run.new_matches}, "
        f"emails queued: {run.emails}, time: {time.perf_counter() - started:.2f} s"
    )


@match_cli.command("index")
def match_index():
    """Write the candidate index now (instant candidates read by it; the scheduler does this hourly)."""
    from .services import candidate_index

    started = time.perf_counter()
    build = candidate_index.build()
    click.echo(f"candidate index {build.token}: {build.workers} workers, {build.listings} listings, "
               f"{time.perf_counter() - started:.2f} s")


@match_cli.command("warm")
def match_warm():
    """Compile the matching engine now (kept in numba's cache): run at deploy, after db upgrade."""
    from .matching import warm_up

    started = time.perf_counter()
    warm_up()
    click.echo(f"matching engine ready: {time.perf_counter() - started:.2f} s")


@mail_cli.command("send")
def mail_send():
    """Send what is waiting in the outbox."""
    from .services import outbox

    report = outbox.send_pending()
    click.echo(f"sent: {report.sent}, failed: {report.failed}, waiting: {report.waiting}")


@scheduler_cli.command("run")
def scheduler_run():
    """Run the scheduler in the foreground until stopped (production: its own process)."""
    from .jobs import run_scheduler

    run_scheduler()


@export_cli.command("matches")
def export_matches():
    """All matches as CSV on standard output."""
    from .services import exports

    exports.write_matches_csv(sys.stdout)


@users_cli.command("create-admin")
@click.option("--email", prompt=True)
@click.option("--name", default="Beheerder")
@click.password_option()
def users_create_admin(email: str, name: str, password: str):
    """Create an administrator account."""
    from .errors import DomainError
    from .services import accounts

    try:
        accounts.create_admin(email=email, name=name, password=password)
    except DomainError as error:
        raise click.ClickException(error.message) from error
    click.echo(f"admin {email} created")


@jobs_cli.command("list")
@click.option("--limit", default=20, show_default=True, help="How many runs, newest first.")
@click.option("--job", "job_id", default=None, help="Only this job (match, send_mail).")
def jobs_list(limit: int, job_id: str | None):
    """The job-run history: slot, status, duration, counts, error."""
    from .jobs import recent_runs

    click.echo(f"{'job':<10} {'slot (UTC)':<20} {'status':<8} {'duration':>9}  {'host:pid':<24} counts / error")
    for run in recent_runs(limit=limit, job_id=job_id):
        duration = f"{(run.finished_at - run.started_at).total_seconds():.2f} s" if run.finished_at else "-"
        counts = " ".join(f"{key}={value}" for key, value in (run.counts or {}).items())
        click.echo(
            f"{run.job_id:<10} {run.slot:%Y-%m-%d %H:%M:%S} {run.status:<8} {duration:>9}  "
            f"{f'{run.host}:{run.pid}'[:24]:<24} {counts}{'  ' + run.error if run.error else ''}"
            f"{'  (taken over)' if run.takeovers else ''}"
        )


@click.command("eval")
@click.option("--cases", "cases_path", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Labelled cases (CSV); default bench/eval_cases.csv.")
@click.option("--quiet", is_flag=True, help="Only the figures, not the cases that miss a target.")
@click.option("--split", type=click.Choice(["all", "tune", "holdout"]), default="all", show_default=True,
              help="Only one half of the cases (bench/README.md: tuning half, hold-out half).")
def eval_command(cases_path: str | None, quiet: bool, split: str):
    """Measure the matching engine on the labelled cases (hit rate, implausible, hard rules, spread)."""
    from .services import evaluation

    started = time.perf_counter()
    try:
        report = evaluation.run_evaluation(cases_path, split=split)
    except evaluation.CasesError as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"split: {split}")
    click.echo(evaluation.report_text(report, details=not quiet))
    click.echo(f"time: {time.perf_counter() - started:.2f} s")


def init_app(app: Flask) -> None:
    for group in (demo_cli, import_cli, match_cli, mail_cli, scheduler_cli, export_cli, users_cli, jobs_cli):
        app.cli.add_command(group)
    app.cli.add_command(eval_command)


def _create_app():
    from . import create_app

    return create_app()


def main() -> None:
    """Entry point of the `nlwerktdoor` console script."""
    FlaskGroup(create_app=_create_app, help="nlwerktdoor command line")(prog_name="nlwerktdoor")
