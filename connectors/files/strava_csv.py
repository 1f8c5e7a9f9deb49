"""Strava's ``activities.csv`` as Strava really writes it: in the athlete's language.

Strava translates the column names, the dates ("21.07.2026, 15:09:27", "2 de ene. de 2025,
7:05:00"), the decimal separator of the display columns ("5,01") and the activity types
("Carrera", "Course à pied"). Columns are found by a table of the names Strava writes; where a
language is not in the table, by their position, since Strava writes the first columns in a
fixed order (Activity ID, Activity Date, Activity Name, Activity Type, Activity Description,
Elapsed Time, Distance, Max Heart Rate, Relative Effort, Commute, Activity Private Note,
Activity Gear, Filename, Athlete Weight, Bike Weight, then Elapsed Time, Moving Time and
Distance again in seconds and metres). A header that fits neither is reported, never guessed.
"""

from __future__ import annotations

import csv
import io
import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from connectors.files.strava_types import csv_type_name

ACTIVITY_SUFFIXES = (".fit", ".gpx", ".tcx")

# The column names, per language, of the fields syncd reads. Sources: exports quoted in public
# importers' tests (English, German, French in full; Spanish and Czech in part). Italian,
# Portuguese, Dutch and the rest are found by position.
_HEADERS: dict[str, dict[str, tuple[str, ...]]] = {
    "en": {"id": ("Activity ID",), "date": ("Activity Date",), "name": ("Activity Name",),
           "type": ("Activity Type",), "gear": ("Activity Gear",), "file": ("Filename",),
           "elapsed": ("Elapsed Time",), "distance": ("Distance",), "moving": ("Moving Time",)},
    "de": {"id": ("Aktivitäts-ID",), "date": ("Aktivitätsdatum",),
           "name": ("Name der Aktivität",), "type": ("Aktivitätsart",),
           "gear": ("Aktivitätsausrüstung",), "file": ("Dateiname",),
           "elapsed": ("Verstrichene Zeit",), "distance": ("Distanz",),
           "moving": ("Bewegungszeit",)},
    "fr": {"id": ("ID de l'activité",), "date": ("Date de l'activité",),
           "name": ("Nom de l'activité",), "type": ("Type d'activité",),
           "gear": ("Matériel utilisé pour l'activité",), "file": ("Nom du fichier",),
           "elapsed": ("Temps écoulé",), "distance": ("Distance",),
           "moving": ("Durée de déplacement",)},
    "es": {"id": ("ID de actividad", "ID de la actividad"),
           "date": ("Fecha de la actividad",), "name": ("Nombre de la actividad",),
           "type": ("Tipo de actividad",), "file": ("Nombre del archivo",)},
    "cs": {"id": ("ID aktivity",), "date": ("Datum aktivity",), "name": ("Název aktivity",),
           "type": ("Typ aktivity",), "gear": ("Vybavení na aktivitu",),
           "file": ("Název souboru",), "elapsed": ("Uplynulý čas",),
           "distance": ("Vzdálenost",), "moving": ("Aktivní čas",)},
}
# Where each field sits in Strava's fixed order (the first block, then the second, which
# repeats Elapsed Time and Distance in seconds and metres).
_POSITIONS = {"id": 0, "date": 1, "name": 2, "type": 3, "elapsed": 5, "distance": 6,
              "gear": 11, "file": 12, "moving": 16}
_SECOND_POSITIONS = {"elapsed": 15, "distance": 17}
_REQUIRED = ("id", "date", "type")


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.strip().casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c)).replace("’", "'")


# English last, so that a name several languages share ("Distance") counts as English.
_FIELD_BY_NAME: dict[str, tuple[str, str]] = {
    _fold(name): (field_key, language)
    for language, fields in reversed(_HEADERS.items())
    for field_key, names in fields.items() for name in names
}


@dataclass(frozen=True, slots=True)
class Layout:
    """Which column holds each field (``second``: the repeated seconds/metres columns)."""

    first: dict[str, int]
    second: dict[str, int]
    decimal_comma: bool


@dataclass(frozen=True, slots=True)
class CsvRow:
    """One activity as the CSV describes it; ``sport_type`` is Strava's English type when the
    word is known, else the cell's own text."""

    line: int
    strava_id: str | None
    start_utc: datetime | None
    name: str | None
    sport_type: str | None
    gear: str | None
    file: str | None
    elapsed_s: float | None
    moving_s: float | None
    distance_m: float | None

    def label(self) -> str:
        """How a message names the row: its line and Strava's activity id."""
        return f"line {self.line}" + (f" (activity {self.strava_id})" if self.strava_id else "")


@dataclass(slots=True)
class ActivitiesCsv:
    """The rows of an ``activities.csv``, or the ``problem`` that kept them from being read."""

    rows: list[CsvRow] = field(default_factory=list)
    problem: str | None = None


def read_activities_csv(text: str) -> ActivitiesCsv:
    """Read an ``activities.csv`` in any language Strava writes.

    When the header is neither known nor in Strava's fixed order, no row is read and
    ``problem`` says why (the caller reports it with the archive's name).
    """
    table = list(csv.reader(io.StringIO(text)))
    header, data = (table[0], table[1:]) if table else ([], [])
    data = [row for row in data if any(cell.strip() for cell in row)]
    if not data:
        return ActivitiesCsv()
    layout = resolve_layout(header, data)
    if layout is None:
        shown = ", ".join(repr(title) for title in header[:4])
        return ActivitiesCsv(problem=f"column names not recognised ({shown}, ...) and not in "
                                     "Strava's usual order")
    rows = [_row(index + 2, cells, layout) for index, cells in enumerate(data)]
    return ActivitiesCsv(rows=rows)


def resolve_layout(header: Sequence[str], data: Sequence[Sequence[str]]) -> Layout | None:
    """The columns of each field: by name where the header's language is known, by Strava's
    fixed order for the rest when the data fits it; ``None`` when neither works."""
    first, second, languages = _named_columns(header)
    positional_ok = _fits_fixed_order(header, data)
    if all(key in first for key in _REQUIRED):
        if positional_ok and _named_at_fixed_positions(first):
            first = {**_positions(header, _POSITIONS), **first}
            second = {**_positions(header, _SECOND_POSITIONS), **second}
        return Layout(first, second, decimal_comma=languages != {"en"})
    if not positional_ok:
        return None
    return Layout(_positions(header, _POSITIONS), _positions(header, _SECOND_POSITIONS),
                  decimal_comma=True)


def _named_columns(header: Sequence[str]) -> tuple[dict[str, int], dict[str, int], set[str]]:
    first: dict[str, int] = {}
    second: dict[str, int] = {}
    languages: set[str] = set()
    for index, title in enumerate(header):
        found = _FIELD_BY_NAME.get(_fold(title))
        if found is None:
            continue
        key, language = found
        languages.add(language)
        if key not in first:
            first[key] = index
        elif key not in second:
            second[key] = index
    return first, second, languages


def _positions(header: Sequence[str], positions: dict[str, int]) -> dict[str, int]:
    return {key: index for key, index in positions.items() if index < len(header)}


def _named_at_fixed_positions(first: dict[str, int]) -> bool:
    """True when every field found by name sits where Strava's fixed order puts it, so the
    order can be trusted for the fields whose names are not in the table."""
    return all(first[key] == index for key, index in _POSITIONS.items() if key in first)


def _fits_fixed_order(header: Sequence[str], data: Sequence[Sequence[str]]) -> bool:
    """True when the rows look like Strava's fixed order: a numeric id, a date, and a file
    name (or nothing, for a manual entry) in the Filename column."""
    if len(header) <= _POSITIONS["file"]:
        return False
    return all(_fits_row(row) for row in data)


def _fits_row(row: Sequence[str]) -> bool:
    if len(row) <= _POSITIONS["file"]:
        return False
    file_name = row[_POSITIONS["file"]].strip()
    return (row[0].strip().isdigit() and parse_date(row[1]) is not None
            and (not file_name or is_activity_path(file_name)))


def is_activity_path(name: str) -> bool:
    """True for ``.fit``/``.gpx``/``.tcx`` names, gzipped or not (case-insensitive)."""
    return name.lower().removesuffix(".gz").endswith(ACTIVITY_SUFFIXES)


def _row(line: int, cells: Sequence[str], layout: Layout) -> CsvRow:
    def cell(key: str, second: bool = False) -> str:
        index = (layout.second if second else layout.first).get(key)
        return cells[index].strip() if index is not None and index < len(cells) else ""

    type_text = cell("type")
    km = parse_number(cell("distance"), decimal_comma=layout.decimal_comma)
    metres = parse_number(cell("distance", second=True), decimal_comma=False)
    elapsed = parse_number(cell("elapsed", second=True), decimal_comma=False)
    return CsvRow(
        line=line,
        strava_id=cell("id") or None,
        start_utc=parse_date(cell("date")),
        name=cell("name") or None,
        sport_type=csv_type_name(type_text) or type_text or None,
        gear=cell("gear") or None,
        file=cell("file") or None,
        elapsed_s=elapsed if elapsed is not None else parse_number(
            cell("elapsed"), decimal_comma=layout.decimal_comma),
        moving_s=parse_number(cell("moving"), decimal_comma=False),
        # The second Distance is in metres; the first is in the athlete's display unit (km).
        distance_m=metres if metres is not None else (None if km is None else km * 1000),
    )


def parse_number(text: str, *, decimal_comma: bool) -> float | None:
    """A number as an export writes it: ``1,371.15`` (English), ``5,01`` or ``1.234,5``
    (decimal comma); ``None`` for an empty, unreadable or infinite cell."""
    text = text.replace("\u00a0", "").replace("\u202f", "").replace(" ", "")
    if "," in text and "." in text:
        decimal = "," if text.rfind(",") > text.rfind(".") else "."
        text = text.replace("." if decimal == "," else ",", "").replace(",", ".")
    elif "," in text:
        text = text.replace(",", "." if decimal_comma else "")
    try:
        value = float(text) if text else None
    except ValueError:
        return None
    # "nan" or "1e999" in a cell is no time or distance (and must not reach the JSON payload).
    return value if value is not None and math.isfinite(value) else None


# Month words as Strava's languages abbreviate them (accents folded); French "juin"/"juil"
# need four letters, the rest three.
_MONTHS = {
    "jan": 1, "ene": 1, "gen": 1, "feb": 2, "fev": 2, "mar": 3, "mrt": 3, "maa": 3,
    "apr": 4, "abr": 4, "avr": 4, "may": 5, "mai": 5, "mei": 5, "mag": 5, "mayo": 5,
    "jun": 6, "juin": 6, "giu": 6, "jul": 7, "juil": 7, "lug": 7, "aug": 8, "ago": 8,
    "aou": 8, "sep": 9, "set": 9, "oct": 10, "okt": 10, "ott": 10, "out": 10, "nov": 11,
    "dec": 12, "dic": 12, "dez": 12,
}
_TIME = re.compile(r"(\d{1,2}):(\d{2})(?::(\d{2}))?")
_MERIDIEM = re.compile(r"\b([ap])\.?\s?m\b\.?")


def parse_date(text: str) -> datetime | None:
    """A start as the export writes it, in UTC: ``Sep 14, 2026, 5:20:00 AM``,
    ``21.07.2026, 15:09:27``, ``2 de ene. de 2025, 7:05:00``, ``2026-09-14 05:20:00``..."""
    folded = _fold(text)
    clock = _TIME.search(folded)
    if clock is None:
        return None
    hour, minute, second = (int(part or 0) for part in clock.groups())
    meridiem = _MERIDIEM.search(folded[clock.end():])
    if meridiem is not None:
        hour = hour % 12 + (12 if meridiem.group(1) == "p" else 0)
    day_month_year = _calendar_date(folded[:clock.start()])
    if day_month_year is None:
        return None
    day, month, year = day_month_year
    try:
        return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except ValueError:
        return None


def _calendar_date(text: str) -> tuple[int, int, int] | None:
    """(day, month, year) from a date with a month word, or numeric (ISO or day first)."""
    numbers = [int(n) for n in re.findall(r"\d+", text)]
    month = next((_month(word) for word in re.findall(r"[a-z]+", text) if _month(word)), None)
    if month is not None:
        years = [n for n in numbers if n > 31]
        days = [n for n in numbers if n <= 31]
        return (days[0], month, years[0]) if years and days else None
    if len(numbers) != 3:
        return None
    if numbers[0] > 31:
        return numbers[2], numbers[1], numbers[0]
    return numbers[0], numbers[1], numbers[2]


def _month(word: str) -> int | None:
    return _MONTHS.get(word[:4]) or _MONTHS.get(word[:3])
