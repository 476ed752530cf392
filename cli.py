"""The `monitor` command line: parses, calls one function of `monitor`, prints.

Domain errors (:class:`monitor.errors.MonitorError`) exit 1 with a one-line message; usage
errors exit 2 (click's); a run that finished with failed site-years exits 3.
"""

from __future__ import annotations

import functools
import logging
import sqlite3
import sys
import traceback
from pathlib import Path

import click

from monitor.app import AppContext, ensure_demo, setup_logging
from monitor.errors import MonitorError


class TrainDefaults:
    """Defaults of `monitor train` the help shows without importing TensorFlow."""

    epochs = 120
    augment = 0.35


log = logging.getLogger("monitor")
pass_app = click.make_pass_decorator(AppContext)

EXIT_FAILED_SITE_YEARS = 3


class MonitorGroup(click.Group):
    """Turns library errors into one-line messages at the edge, never a traceback (unless -v)."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except MonitorError as exc:
            self._fail(ctx, str(exc))
        except sqlite3.DatabaseError as exc:
            app = ctx.find_object(AppContext)
            where = app.config.store if app is not None and app._config is not None else "the store"
            self._fail(
                ctx,
                f"the history store {where} is damaged or unreadable ({exc}); restore it "
                "from a backup or move it away (nothing was written)",
            )
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except KeyboardInterrupt:
            click.echo("interrupted; nothing half-written is kept, rerun to continue", err=True)
            sys.exit(130)
        except Exception as exc:
            self._fail(
                ctx, f"unexpected {exc.__class__.__name__}: {exc} (rerun with -v for the traceback)"
            )

    @staticmethod
    def _fail(ctx: click.Context, message: str) -> None:
        app = ctx.find_object(AppContext)
        if app is not None and app.verbosity > 0:
            traceback.print_exc()
        click.echo(f"Error: {message}", err=True)
        sys.exit(1)


def output_format(*choices: str):
    """The shared --format option."""
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(choices),
        default=choices[0],
        show_default=True,
        help="Output format.",
    )


def progress_bar(label: str):
    """A click progress bar on a terminal, plain log lines under cron."""
    if sys.stderr.isatty():
        state: dict = {}

        def update(done: int, total: int) -> None:
            bar = state.get("bar")
            if bar is None:
                bar = state["bar"] = click.progressbar(length=total, label=label, file=sys.stderr)
                bar.__enter__()
            bar.update(done - bar.pos)
            if done >= total:
                bar.__exit__(None, None, None)

        return update

    def log_update(done: int, total: int) -> None:
        if done == total or done % max(1, total // 10) == 0:
            log.info("%s: %d/%d", label, done, total)

    return log_update


@click.group(cls=MonitorGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default="config.yaml",
    show_default=True,
    help="Config file.",
)
@click.option("-v", "--verbose", count=True, help="More output (-v: debug and tracebacks).")
@click.option("-q", "--quiet", count=True, help="Less output: warnings and errors only.")
@click.version_option(package_name="mine-monitor")
@click.pass_context
def main(ctx: click.Context, config_path: Path, verbose: int, quiet: int) -> None:
    """Watch mine sites from space: yearly Sentinel-2 composites, an FCN mine classifier,
    per-site histories, change flags and restoration-candidate reports."""
    setup_logging(verbose - quiet)
    ctx.obj = AppContext(config_path=config_path, verbosity=verbose - quiet)


def needs_demo(func):
    """Build the configured demo world first when it is missing."""

    @functools.wraps(func)
    def wrapper(app: AppContext, *args, **kwargs):
        ensure_demo(app.config, progress=progress_bar("building demo world"))
        return func(app, *args, **kwargs)

    return wrapper


# -- demo -----------------------------------------------------------------------------------
@main.command()
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Output folder [default: the config's demo folder, else ./data/demo].",
)
@click.option(
    "--seed",
    type=click.IntRange(0, 2**31 - 1),
    default=None,
    help="World seed [default: the config's demo.seed, else 0].",
)
@click.option(
    "--biome",
    "biomes",
    default=None,
    metavar="NAMES",
    help="Biomes, comma-separated: savanna, rainforest, arid, temperate "
    "[default: the config's demo.biomes, else savanna].",
)
@click.option(
    "--training-regions",
    type=click.IntRange(1, 4),
    default=1,
    show_default=True,
    help="Labelled training regions per biome (the shipped model used 4).",
)
@click.option(
    "--training-spread",
    type=click.FloatRange(0, 4),
    default=1.0,
    show_default=True,
    help="How far the training regions' materials stray from the reference spectra "
    "(1: as far as any world's; the shipped model used 1).",
)
@pass_app
def demo(
    app: AppContext,
    out: Path | None,
    seed: int | None,
    biomes: str | None,
    training_regions: int,
    training_spread: float,
) -> None:
    """Build the demo world: a local STAC catalog + sites + truth."""
    from monitor.demo import BIOMES, build_demo

    cfg = app.config if app.config_path.exists() else None
    out = out or (cfg.demo_dir if cfg else Path("data/demo"))
    seed = seed if seed is not None else (cfg.demo.seed if cfg else 0)
    names = (
        tuple(b.strip() for b in biomes.split(","))
        if biomes
        else (cfg.demo.biomes if cfg else ("savanna",))
    )
    unknown = [b for b in names if b not in BIOMES]
    if unknown or not names:
        raise click.BadParameter(
            f"unknown biome {unknown[0] if unknown else '(none)'}; use {', '.join(BIOMES)}",
            param_hint="--biome",
        )
    world = build_demo(
        out,
        seed,
        biomes=names,
        training_regions=training_regions,
        training_spread=training_spread,
        progress=progress_bar("rendering scenes"),
    )
    click.echo(
        f"demo world (seed {seed}, {', '.join(names)}): {world.items} items in {world.catalog}"
    )
    click.echo(f"sites: {world.sites}\ntruth: {world.truth}\ntraining labels: {world.labels}")


# -- sites ----------------------------------------------------------------------------------
@main.group()
def sites() -> None:
    """The site registry."""


@sites.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--layer", default=None, help="Layer of a multi-layer file (GeoPackage).")
@click.option(
    "--id-field", default=None, help="Field with the site id [default: site_id, id or fid]."
)
@click.option("--name-field", default=None, help="Field with the site name.")
@pass_app
@click.option("--skip-invalid", is_flag=True, help="Import the good records even if some are bad.")
def sites_import(app: AppContext, path: Path, layer, id_field, name_field, skip_invalid) -> None:
    """Import or update sites from a vector file or a CSV with lon/lat."""
    from monitor.registry import import_sites
    from monitor.store import Store

    cfg = app.config
    with Store(cfg.store) as store:
        rep = import_sites(
            store,
            path,
            layer=layer,
            id_field=id_field or cfg.site_import.id_field,
            name_field=name_field or cfg.site_import.name_field,
            skip_invalid=skip_invalid,
            point_buffer_m=cfg.site_import.point_buffer_m,
            max_area_km2=cfg.site_import.max_area_km2,
        )
    click.echo(
        f"{path}: {rep.added} added, {rep.updated} updated, {len(rep.repaired)} repaired, "
        f"{len(rep.rejected)} skipped"
    )


@sites.command("list")
@output_format("table", "json", "csv")
@pass_app
def sites_list(app: AppContext, fmt: str) -> None:
    """List the registered sites."""
    from monitor.queries import show_sites

    click.echo(show_sites(app.config, fmt))


# -- the annual run -------------------------------------------------------------------------
@main.command()
@click.option("--year", type=int, default=None, help="One year.")
@click.option("--years", default=None, help="A range of years, A-B.")
@click.option("--site", "site_ids", multiple=True, help="Only this site (repeatable).")
@click.option("--force", is_flag=True, help="Recompute site-years already stored.")
@click.option("--scheduler", default=None, help="Dask scheduler address (tcp://host:port).")
@pass_app
@needs_demo
def run(app: AppContext, year, years, site_ids, force, scheduler) -> None:
    """Update every site's history: composites, FCN, store, change analysis."""
    from monitor.queries import status_counts
    from monitor.run import run as run_all

    cfg = app.config
    span = _year_span(cfg, year, years)
    summary = run_all(
        cfg,
        years=span,
        site_ids=site_ids,
        force=force,
        scheduler=scheduler,
        progress=progress_bar("site-years"),
    )
    counts = ", ".join(f"{v} {k}" for k, v in sorted(status_counts(cfg).items()))
    click.echo(
        f"run {summary.run_id}: {summary.done} site-year(s) done, "
        f"{summary.skipped} already stored, "
        f"{len(summary.failed)} failed in {summary.seconds:.0f} s; sites: {counts}"
    )
    click.echo(f"log: {summary.log_file}")
    if summary.failed:
        for site_id, yr, err in summary.failed:
            click.echo(f"  failed {site_id} {yr}: {err}", err=True)
        click.echo("the failed site-years are recorded and the next run retries them", err=True)
        sys.exit(EXIT_FAILED_SITE_YEARS)


def _year_span(cfg, year: int | None, years: str | None) -> range:
    first, last = cfg.year_range
    if year is not None and years is not None:
        raise click.UsageError("give --year or --years, not both")
    if year is not None:
        return range(year, year + 1)
    if years is not None:
        try:
            a, b = (int(x) for x in years.split("-"))
        except ValueError:
            raise click.BadParameter(
                f"{years!r} is not A-B (e.g. 2016-2024)", param_hint="--years"
            ) from None
        if b < a:
            raise click.BadParameter(f"{years!r} ends before it starts", param_hint="--years")
        return range(a, b + 1)
    return range(first, last + 1)


@main.command()
@click.argument("site_id")
@click.argument("year", type=int)
@click.option(
    "--out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="Output COG."
)
@pass_app
@needs_demo
def composite(app: AppContext, site_id: str, year: int, out: Path) -> None:
    """Write one site-year composite as a 12-band COG."""
    from monitor.run import composite_to_cog

    comp = composite_to_cog(app.config, site_id, year, out, threads=app.config.compute.threads)
    click.echo(
        f"{out}: {comp.shape[1]}x{comp.shape[0]} px at 10 m, {comp.crs}, "
        f"{len(comp.items_used)} scene(s) used, {len(comp.items_skipped)} skipped"
    )
    for item_id, reason in comp.items_skipped:
        click.echo(f"  skipped {item_id}: {reason}", err=True)


@main.command()
@click.argument("site_id", required=False)
@click.option("--all", "all_sites", is_flag=True, help="Every site.")
@output_format("table", "json", "csv")
@pass_app
def history(app: AppContext, site_id, all_sites, fmt) -> None:
    """A site's yearly history (or every site's with --all)."""
    from monitor.queries import show_history

    if bool(site_id) == bool(all_sites):
        raise click.UsageError("give a SITE_ID or --all")
    click.echo(show_history(app.config, None if all_sites else site_id, fmt))


@main.command()
@click.option("--candidates", is_flag=True, help="Only restoration candidates, ranked.")
@output_format("table", "json", "csv")
@pass_app
def status(app: AppContext, candidates: bool, fmt: str) -> None:
    """Every site's current status and events."""
    from monitor.queries import show_status

    click.echo(show_status(app.config, fmt, candidates))


@main.command()
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Output folder [default: the config's reports].",
)
@click.option("--site", "site_ids", multiple=True, help="Only this site (repeatable).")
@click.option(
    "--candidates",
    is_flag=True,
    help="Also write dossier.html: one printable page per restoration candidate.",
)
@pass_app
def report(app: AppContext, out, site_ids, candidates) -> None:
    """Write the interactive HTML change reports."""
    from monitor.report import write_report

    res = write_report(
        app.config, out, site_ids, dossier=candidates, progress=progress_bar("site pages")
    )
    extra = f", {res.dossier}" if res.dossier else ""
    click.echo(
        f"report: {res.index}{extra} and {len(res.pages)} site page(s), "
        f"{res.bytes_total / 1e6:.1f} MB"
    )


@main.command()
@click.option(
    "--labels",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help="Polygons or points with a `label` column (mine / background).",
)
@click.option("--year", type=int, required=True, help="Year of the composites the labels describe.")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Output model [default: models/model.keras].",
)
@click.option(
    "--epochs",
    type=click.IntRange(1, 1000),
    default=TrainDefaults.epochs,
    show_default=True,
    help="Most training epochs (early stopping ends sooner).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed.")
@click.option(
    "--real-negatives",
    is_flag=True,
    help="Add the BigEarthNet example patches (real L2A, no mines) as background.",
)
@click.option(
    "--augment",
    type=click.FloatRange(0, 2),
    default=TrainDefaults.augment,
    show_default=True,
    help="Radiometric augmentation strength: 1 for a model meant for regions it never "
    "saw; low keeps the fine spectra of your own region.",
)
@pass_app
@needs_demo
def train(app: AppContext, labels, year, out, epochs, seed, real_negatives, augment) -> None:
    """Train the FCN and a per-pixel baseline on labelled polygons or points."""
    from monitor.train import TrainSettings, train_model

    cfg = app.config
    out = out or cfg.base / "models" / "model.keras"
    settings = TrainSettings(
        epochs=epochs, seed=seed, real_negatives=real_negatives, augment=augment
    )
    rep = train_model(cfg, labels, year, out, settings, progress=progress_bar("composites"))
    click.echo(f"model {rep.model.version} written to {out} (metadata {out.with_suffix('.json')})")
    click.echo(f"held out: {rep.model.meta.training['held_out']}")
    for name, fig in (
        ("FCN", rep.fcn),
        ("baseline (gradient-boosted trees, per pixel)", rep.baseline),
    ):
        click.echo(
            f"  {name}: kappa {fig['kappa']:.4f}, overall accuracy {fig['overall_accuracy']:.4f}, "
            f"producer's {fig['producers_accuracy']:.4f}, user's {fig['users_accuracy']:.4f}, "
            f"threshold {fig['threshold']:.3f}"
        )
    if not rep.fcn_wins_by > 0:
        click.echo(
            f"the FCN does NOT beat the per-pixel baseline on held-out data (kappa "
            f"{rep.fcn['kappa']:.3f} vs {rep.baseline['kappa']:.3f}): label more mines and "
            "look-alikes, or map with the baseline",
            err=True,
        )
    else:
        click.echo(f"the FCN beats the baseline by {rep.fcn_wins_by:+.3f} kappa on held-out data")


@main.command()
@click.option(
    "--reference",
    type=click.Path(exists=True, path_type=Path),
    required=True,
    help="Reference mask (GeoTIFF) or polygons.",
)
@click.option("--year", type=int, required=True, help="Year to evaluate.")
@output_format("table", "json")
@pass_app
@needs_demo
def evaluate(app: AppContext, reference, year, fmt) -> None:
    """Accuracy of the model (and the index baseline) against reference data."""
    from monitor.evaluate import evaluate as run_evaluation
    from monitor.evaluate import format_evaluation

    click.echo(format_evaluation(run_evaluation(app.config, reference, year), fmt))


@main.command()
@click.option(
    "--ring-km",
    type=click.FloatRange(0.05, 20),
    default=None,
    help="Ring around every site to look in [default: discovery.ring_km, 2 km].",
)
@click.option(
    "--aoi",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Also scan this area (polygons): reads its imagery.",
)
@click.option("--years", default=None, help="Years, A-B [default: the config's].")
@output_format("table", "json", "csv")
@pass_app
@needs_demo
def discover(app: AppContext, ring_km, aoi, years, fmt) -> None:
    """Unregistered mines around the registry (and in --aoi), tracked year by year."""
    from monitor.discover import show_discoveries

    cfg = app.config
    span = _year_span(cfg, None, years)
    click.echo(
        show_discoveries(
            cfg,
            ring_km=ring_km,
            aoi=aoi,
            years=span,
            fmt=fmt,
            progress=progress_bar("area of interest"),
        )
    )


@main.command()
@click.option(
    "--what",
    type=click.Choice(("footprints", "candidates", "history", "discoveries")),
    required=True,
    help="What to export.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(("gpkg", "geojson", "kml", "csv")),
    required=True,
    help="GeoPackage or GeoJSON (QGIS), KML (Google Earth), CSV.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Output file [default: <reports>/<what>.<format>].",
)
@pass_app
def export(app: AppContext, what, fmt, out) -> None:
    """Export footprints, candidates, history or discoveries for QGIS or Google Earth."""
    from monitor.export import export as write_export

    res = write_export(app.config, what, fmt, out)
    click.echo(f"{res.path}: {res.features} feature(s)")


if __name__ == "__main__":
    main()
