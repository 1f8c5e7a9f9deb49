"""Strava bulk exports built the way Strava writes them, for the tests: ``activities.csv`` with
its full header (the repeated Elapsed Time and Distance columns included) in English or
another language, gzipped and plain activity files, GPX with Strava's numeric ``<type>``.

The English header is the one of exports made in 2025-2026 (as quoted by public importers'
tests); the German and French ones are Strava's own (same sources). Spanish is known in part;
the Italian, Portuguese and Dutch names below are written for these tests (syncd finds those
languages' columns by position, so the names only have to be unknown to it).
"""

from __future__ import annotations

import csv
import gzip
import io
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta


def _columns(line: str) -> list[str]:
    """A header line's column names (written as the file has them, on one line)."""
    return line.split(",")


ENGLISH = _columns(
    "Activity ID,Activity Date,Activity Name,Activity Type,Activity Description,"
    "Elapsed Time,Distance,Max Heart Rate,Relative Effort,Commute,Activity Private Note,"
    "Activity Gear,Filename,Athlete Weight,Bike Weight,Elapsed Time,Moving Time,Distance,"
    "Max Speed,Average Speed,Elevation Gain,Elevation Loss,Elevation Low,Elevation High,"
    "Max Grade,Average Grade,Average Positive Grade,Average Negative Grade,Max Cadence,"
    "Average Cadence,Max Heart Rate,Average Heart Rate,Max Watts,Average Watts,Calories,"
    "Max Temperature,Average Temperature,Relative Effort,Total Work,Number of Runs,"
    "Uphill Time,Downhill Time,Other Time,Perceived Exertion,Type,Start Time,"
    "Weighted Average Power,Power Count,Prefer Perceived Exertion,"
    "Perceived Relative Effort,Commute,Total Weight Lifted,From Upload,"
    "Grade Adjusted Distance,Weather Observation Time,Weather Condition,"
    "Weather Temperature,Apparent Temperature,Dewpoint,Humidity,Weather Pressure,"
    "Wind Speed,Wind Gust,Wind Bearing,Precipitation Intensity,Sunrise Time,Sunset Time,"
    "Moon Phase,Bike,Gear,Precipitation Probability,Precipitation Type,Cloud Cover,"
    "Weather Visibility,UV Index,Weather Ozone,Jump Count,Total Grit,Average Flow,Flagged,"
    "Average Elapsed Speed,Dirt Distance,Newly Explored Distance,"
    "Newly Explored Dirt Distance,Activity Count,Total Steps,Carbon Saved,Pool Length,"
    "Training Load,Intensity,Average Grade Adjusted Pace,Timer Time,Total Cycles,Recovery,"
    "With Pet,Competition,Long Run,For a Cause,With Kid,Downhill Distance,Total Sets,"
    "Total Reps,Media"
)

_FIRST_18 = {
    "de": "Aktivitäts-ID,Aktivitätsdatum,Name der Aktivität,Aktivitätsart,"
          "Aktivitätsbeschreibung,Verstrichene Zeit,Distanz,Max. Herzfrequenz,"
          "Relative Leistung,Pendeln,Hinweis zur Privatsphäre für Aktivitäten,"
          "Aktivitätsausrüstung,Dateiname,Sportlergewicht,Fahrradgewicht,Verstrichene Zeit,"
          "Bewegungszeit,Distanz",
    "fr": "ID de l'activité,Date de l'activité,Nom de l'activité,Type d'activité,"
          "Description de l'activité,Temps écoulé,Distance,Fréquence cardiaque max.,"
          "Effort relatif,Déplacement-transport,Note privée sur les activités,"
          "Matériel utilisé pour l'activité,Nom du fichier,Poids de l'athlète,Poids du vélo,"
          "Temps écoulé,Durée de déplacement,Distance",
    "es": "ID de actividad,Fecha de la actividad,Nombre de la actividad,Tipo de actividad,"
          "Descripción de la actividad,Tiempo transcurrido,Distancia,"
          "Frecuencia cardiaca máxima,Esfuerzo relativo,Desplazamiento,"
          "Nota privada de la actividad,Equipo de la actividad,Nombre del archivo,"
          "Peso del deportista,Peso de la bicicleta,Tiempo transcurrido,Tiempo en movimiento,"
          "Distancia",
    "it": "ID attività,Data attività,Nome attività,Tipo di attività,Descrizione attività,"
          "Tempo trascorso,Distanza,Frequenza cardiaca massima,Sforzo relativo,Pendolarismo,"
          "Nota privata attività,Attrezzatura attività,Nome file,Peso atleta,Peso bici,"
          "Tempo trascorso,Tempo in movimento,Distanza",
    "pt": "ID da atividade,Data da atividade,Nome da atividade,Tipo da atividade,"
          "Descrição da atividade,Tempo decorrido,Distância,Frequência cardíaca máxima,"
          "Esforço relativo,Deslocamento,Nota privada da atividade,Equipamento da atividade,"
          "Nome do arquivo,Peso do atleta,Peso da bicicleta,Tempo decorrido,"
          "Tempo em movimento,Distância",
    "nl": "Activiteits-ID,Datum van activiteit,Naam activiteit,Type activiteit,"
          "Beschrijving activiteit,Verstreken tijd,Afstand,Max. hartslag,Relatieve inspanning,"
          "Woon-werkverkeer,Privénotitie activiteit,Uitrusting activiteit,Bestandsnaam,"
          "Gewicht atleet,Gewicht fiets,Verstreken tijd,Beweegtijd,Afstand",
}


def header(language: str) -> list[str]:
    """The full header in ``language``: Strava's 18 first columns, then the rest (in
    English here: syncd reads none of them)."""
    if language == "en":
        return list(ENGLISH)
    return _FIRST_18[language].split(",") + ENGLISH[18:]


# Dates as Strava writes the Activity Date (UTC) in each language.
DATE_FORMATS = {
    "en": lambda d: f"{d:%b} {d.day}, {d.year}, {d.hour % 12 or 12}:{d:%M:%S} "
                    f"{'AM' if d.hour < 12 else 'PM'}",
    "de": lambda d: f"{d:%d.%m.%Y, %H:%M:%S}",
    "fr": lambda d: f"{d.day} {_FR[d.month - 1]} {d.year}, {d:%H:%M:%S}",
    "es": lambda d: f"{d.day} de {_ES[d.month - 1]} de {d.year}, {d.hour}:{d:%M:%S}",
    "it": lambda d: f"{d.day} {_IT[d.month - 1]} {d.year}, {d:%H:%M:%S}",
    "pt": lambda d: f"{d.day} de {_PT[d.month - 1]} de {d.year}, {d:%H:%M:%S}",
    "nl": lambda d: f"{d.day} {_NL[d.month - 1]} {d.year}, {d:%H:%M:%S}",
}
_FR = _columns("janv.,févr.,mars,avr.,mai,juin,juil.,août,sept.,oct.,nov.,déc.")
_ES = _columns("ene.,feb.,mar.,abr.,may.,jun.,jul.,ago.,sept.,oct.,nov.,dic.")
_IT = _columns("gen,feb,mar,apr,mag,giu,lug,ago,set,ott,nov,dic")
_PT = _columns("jan.,fev.,mar.,abr.,mai.,jun.,jul.,ago.,set.,out.,nov.,dez.")
_NL = _columns("jan.,feb.,mrt.,apr.,mei,jun.,jul.,aug.,sep.,okt.,nov.,dec.")

# The Activity Type words Strava writes for a run and a walk in each language.
RUN_WORD = {"en": "Run", "de": "Lauf", "fr": "Course à pied", "es": "Carrera", "it": "Corsa",
            "pt": "Corrida", "nl": "Hardlopen"}
WALK_WORD = {"en": "Walk", "de": "Spaziergang", "fr": "Marche", "es": "Caminata",
             "it": "Camminata", "pt": "Caminhada", "nl": "Wandelen"}


@dataclass
class Row:
    """One activity as activities.csv lists it."""

    activity_id: str
    start: datetime
    name: str
    sport: str
    elapsed_s: int
    km: float
    gear: str = ""
    file: str = ""
    moving_s: float | None = None
    metres: float | None = None


@dataclass
class Export:
    """A Strava export to zip: the CSV's rows in ``language`` and the archive's files."""

    language: str = "en"
    rows: list[Row] = field(default_factory=list)
    members: dict[str, bytes] = field(default_factory=dict)

    def csv_text(self) -> str:
        """The activities.csv Strava would write for these rows."""
        titles = header(self.language)
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(titles)
        for row in self.rows:
            writer.writerow(self._cells(row, len(titles)))
        return out.getvalue()

    def _cells(self, row: Row, width: int) -> list[str]:
        cells = [""] * width
        decimal = "." if self.language == "en" else ","
        cells[:13] = [row.activity_id, DATE_FORMATS[self.language](row.start), row.name,
                      row.sport, "", str(row.elapsed_s), f"{row.km:.2f}".replace(".", decimal),
                      "", "", "false", "", row.gear, row.file]
        cells[15] = f"{row.elapsed_s:.1f}"
        cells[16] = "" if row.moving_s is None else f"{row.moving_s:.1f}"
        cells[17] = "" if row.metres is None else f"{row.metres:.1f}"
        return cells

    def zip_bytes(self) -> bytes:
        """The archive: activities.csv, the activity files, and what else an export holds."""
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("activities.csv", self.csv_text())
            for name, data in self.members.items():
                archive.writestr(name, data)
            archive.writestr("profile.csv", "Athlete ID,Email Address\n1,a@example.org\n")
            archive.writestr("routes/1.gpx", b"<gpx></gpx>")
        return buffer.getvalue()


def strava_gpx(start: datetime, minutes: int, *, type_code: str = "9",
               name: str = "Morning Run", speed: float = 2.8) -> bytes:
    """A GPX as Strava exports it: creator StravaGPX, the type as a number, one point a
    second, with elevation and heart rate."""
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<gpx creator="StravaGPX" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        'xsi:schemaLocation="http://www.topografix.com/GPX/1/1 '
        'http://www.topografix.com/GPX/1/1/gpx.xsd" version="1.1" '
        'xmlns="http://www.topografix.com/GPX/1/1" '
        'xmlns:gpxtpx="http://www.garmin.com/xmlschemas/TrackPointExtension/v1">',
        f" <metadata>\n  <time>{start:%Y-%m-%dT%H:%M:%SZ}</time>\n </metadata>",
        f" <trk>\n  <name>{name}</name>\n  <type>{type_code}</type>\n  <trkseg>",
    ]
    for second in range(minutes * 60 + 1):
        at = start + timedelta(seconds=second)
        lat = 52.5145 + second * speed / 111_195
        lines.append(f'   <trkpt lat="{lat:.7f}" lon="13.3501000">\n    <ele>34.2</ele>\n'
                     f"    <time>{at:%Y-%m-%dT%H:%M:%SZ}</time>\n    <extensions>\n"
                     "     <gpxtpx:TrackPointExtension>\n      <gpxtpx:hr>142</gpxtpx:hr>\n"
                     "     </gpxtpx:TrackPointExtension>\n    </extensions>\n   </trkpt>")
    lines.append("  </trkseg>\n </trk>\n</gpx>\n")
    return "\n".join(lines).encode()


def gz(data: bytes) -> bytes:
    """A member as Strava stores most: gzipped."""
    return gzip.compress(data, mtime=0)


def utc(*parts: int) -> datetime:
    """A UTC time."""
    return datetime(*parts, tzinfo=UTC)
