"""What Strava calls a sport, in the places an export writes it: the number in its GPX
``<type>`` and the (often translated) word in the ``Activity Type`` column of
``activities.csv``. Both are read into Strava's own English type names (``Run``, ``Walk``,
``Hike``...), which :func:`syncd.models.sport_family` understands.
"""

from __future__ import annotations

import unicodedata

# Strava's GPX files give the activity type as a number, which Strava does not document.
# The table is the one Strava's apps use, as collected by NathanBaulch/rainbow-roads
# (parse/gpx.go, "stravaTypeCodes") and discussed on Stack Overflow ("What do the Strava GPX
# <type></type> elements mean", question 61903437); 9 = Run and 10 = Walk match real exports.
GPX_TYPE_CODES: dict[str, str] = {
    "1": "Ride", "2": "AlpineSki", "3": "BackcountrySki", "4": "Hike", "5": "IceSkate",
    "6": "InlineSkate", "7": "NordicSki", "8": "RollerSki", "9": "Run", "10": "Walk",
    "11": "Workout", "12": "Snowboard", "13": "Snowshoe", "14": "Kitesurf", "15": "Windsurf",
    "16": "Swim", "17": "VirtualRide", "18": "EBikeRide", "19": "Velomobile", "21": "Canoeing",
    "22": "Kayaking", "23": "Rowing", "24": "StandUpPaddling", "25": "Surfing",
    "26": "Crossfit", "27": "Elliptical", "28": "RockClimbing", "29": "StairStepper",
    "30": "WeightTraining", "31": "Yoga", "51": "Handcycle", "52": "Wheelchair",
    "53": "VirtualRun",
}

# The Activity Type words of a localized activities.csv, for the sports the rules count (run,
# walk, hike) and the common others; a word not listed keeps its own text (family "other").
# Sources: exports quoted in public importers' tests (German "Lauf", French "Course à pied",
# "Marche", "Natation", Spanish "Carrera", "Senderismo", Czech "Běh", "Turistika", "Jízda")
# and Strava's localized sport names.
_LOCALIZED_TYPES: dict[str, tuple[str, ...]] = {
    "Run": ("Run", "Carrera", "Lauf", "Laufen", "Course à pied", "Course", "Corsa",
            "Corrida", "Hardlopen", "Hardloopsessie", "Běh", "Bieg", "Löpning", "Løb",
            "Løping", "Juoksu"),
    "TrailRun": ("Trail Run", "Carrera por montaña", "Trailrun", "Traillauf", "Trail",
                 "Course à pied sur sentier", "Corsa in montagna", "Trail running",
                 "Corrida de trilha", "Corrida em trilha", "Trailrunning", "Běh v terénu"),
    "VirtualRun": ("Virtual Run", "Carrera virtual", "Virtueller Lauf",
                   "Course à pied virtuelle", "Course virtuelle", "Corsa virtuale",
                   "Corrida virtual", "Virtuele hardloopsessie", "Virtueel hardlopen",
                   "Virtuální běh"),
    "Walk": ("Walk", "Caminata", "Caminar", "Spaziergang", "Gehen", "Marche", "Camminata",
             "Caminhada", "Wandelen", "Wandeling", "Chůze", "Spacer", "Promenad"),
    "Hike": ("Hike", "Senderismo", "Excursionismo", "Wanderung", "Wandern", "Randonnée",
             "Randonnée pédestre", "Escursionismo", "Escursione", "Trilha", "Hiken",
             "Wandeltocht", "Bergwandelen", "Turistika", "Wędrówka", "Vandring"),
    "Ride": ("Ride", "Bicicleta", "Ciclismo", "Radfahrt", "Radfahren", "Vélo", "Sortie à vélo",
             "Giro in bici", "Pedalada", "Fietsrit", "Fietsen", "Jízda", "Jízda na kole"),
    "Swim": ("Swim", "Natación", "Schwimmen", "Natation", "Nuoto", "Natação", "Zwemmen",
             "Plavání"),
    "WeightTraining": ("Weight Training", "Entrenamiento con pesas", "Krafttraining",
                       "Entraînement aux poids", "Musculation", "Allenamento con i pesi",
                       "Treino com pesos", "Musculação", "Krachttraining", "Posilování"),
    "Workout": ("Workout", "Entrenamiento", "Training", "Entraînement", "Allenamento",
                "Treino", "Cvičení"),
}


# Strava's other English types: an English export's type is always Strava's own word, so it
# stays the authority even for sports syncd does not count (an "Elliptical" recorded in a
# watch's running mode is not a run).
_OTHER_TYPES = (
    *GPX_TYPE_CODES.values(), "Badminton", "EMountainBikeRide", "Golf", "GravelRide",
    "HighIntensityIntervalTraining", "HIIT", "MountainBikeRide", "Pickleball", "Pilates",
    "Racquetball", "Sail", "Skateboard", "Soccer", "Squash", "TableTennis", "Tennis",
    "VirtualRow", "Dance",
)


def _fold(text: str) -> str:
    """Case, accents, spaces and hyphens folded: "Randonnee" finds "Randonnée" and
    "Weight Training" finds "WeightTraining"."""
    decomposed = unicodedata.normalize("NFKD", text.strip().casefold())
    kept = "".join(c for c in decomposed if not unicodedata.combining(c))
    return kept.replace(" ", "").replace("-", "")


_BY_WORD: dict[str, str] = {_fold(name): name for name in _OTHER_TYPES} | {
    _fold(word): name for name, words in _LOCALIZED_TYPES.items() for word in (name, *words)
}


def gpx_type_name(gpx_type: str | None) -> str | None:
    """A GPX ``<type>`` as a sport name: Strava's numbers (``9``) become their type (``Run``);
    anything else (``running``, an unknown number) is returned unchanged."""
    if gpx_type is None:
        return None
    return GPX_TYPE_CODES.get(gpx_type.strip(), gpx_type)


def csv_type_name(word: str | None) -> str | None:
    """Strava's English type (``Run``) for an ``Activity Type`` cell in any language
    (``Carrera``, ``Course à pied``), or ``None`` when the word is not known."""
    if not word:
        return None
    return _BY_WORD.get(_fold(word))
