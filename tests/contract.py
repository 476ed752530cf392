"""The contracts of ../shared/DESIGN.md, written out here rather than imported from the code
under test: a test that reads the expectation from the code it checks cannot fail."""

#: Band order and names of the composite COG.
BANDS = ("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B11", "B12")

#: The commands of the command line.
COMMANDS = (
    "demo",
    "sites",
    "run",
    "composite",
    "history",
    "status",
    "report",
    "train",
    "evaluate",
    "discover",
    "export",
)

#: Keys of `status --format json` objects.
STATUS_KEYS = {
    "site_id",
    "name",
    "status",
    "opened_year",
    "stagnant_since",
    "abandoned_since",
    "last_detected_year",
    "latest_area_ha",
    "restoration_candidate",
    "confidence",
    "events",
}

#: Keys of `history --all --format json` objects.
HISTORY_KEYS = {
    "site_id",
    "year",
    "mined_area_ha",
    "mine_fraction",
    "clear_observations",
    "ndvi",
    "model_version",
}

#: Keys of the `evaluate --format json` object (and of its `baseline`).
EVALUATE_KEYS = {
    "overall_accuracy",
    "kappa",
    "producers_accuracy",
    "users_accuracy",
    "confusion",
    "area_km2",
    "year",
    "model_version",
    "baseline",
}
CONFUSION_KEYS = {"tp", "fp", "fn", "tn"}

#: Keys of `discover --format json` objects.
DISCOVER_KEYS = {
    "candidate_id",
    "lon",
    "lat",
    "first_year",
    "last_year",
    "latest_area_ha",
    "peak_area_ha",
    "status",
    "confidence",
    "nearest_site",
    "distance_km",
}

#: The status vocabulary.
STATUSES = {"none", "opening", "active", "expansion", "stagnation", "likely_abandonment"}
