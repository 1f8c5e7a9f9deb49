"""What the ``syncd athletes`` commands share: the name rule, the checks an added athlete's
settings get, the refusals, and finding the clinic and a stored athlete."""

from __future__ import annotations

from syncd.app import App
from syncd.clinic import Clinic, UnknownAthlete
from syncd.config import Settings
from syncd.config.plans import resolve_plan
from syncd.config.sections import AthleteSection
from syncd.errors import ConfigError, SyncdError
from syncd.plan import load_plan
from syncd.store.roster import StoredAthlete, find_athlete

NAME_RULE = "a name has 1 to 100 characters, none of them / or \\ or a control character"


def athlete_problems(settings: Settings, section: AthleteSection) -> list[str]:
    """What keeps ``section`` from being one of the athletes of ``settings``: the checks an
    ``[[athletes]]`` entry gets (channels, mail and sources configured; a plan that loads)."""
    problems = []
    known = settings.shared_channels()
    unknown = [c for c in section.channels or [] if c not in known]
    if unknown:
        problems.append(f"--channel {', '.join(unknown)}: not configured; known channels: "
                        f"{', '.join(known) or 'none'}")
    if section.email and settings.email is None:
        problems.append("--email: own mail recipients need an [email] section (the SMTP "
                        "server)")
    missing = [s for s in section.sources or [] if getattr(settings, s) is None]
    if missing:
        problems.append(f"--source {', '.join(missing)}: not configured; add the "
                        f"section{'s' if len(missing) > 1 else ''} first")
    wants_files = "files" in (section.sources or ()) or (
        section.sources is None and section.watch)
    if wants_files and settings.files is not None and not section.watch:
        problems.append("--source files: give --watch DIR, a folder of the athlete's own "
                        "files")
    if section.watch and settings.files is None:
        problems.append("--watch: the files source needs a [files] section")
    if section.plan:
        try:
            load_plan(resolve_plan(section.plan, settings.config_dir))
        except ConfigError as err:
            problems += [f"--plan {section.plan}: {p.removeprefix('athlete.plan: ')}"
                         for p in err.problems]
    return problems


def clinic_of(app: App) -> Clinic:
    """The clinic of ``app`` (``syncd`` always runs these commands with one)."""
    if not isinstance(app.clinic, Clinic):
        raise SyncdError("syncd athletes needs the clinic's roster",
                         hint="run it through the syncd command")
    return app.clinic


def stored_athlete(clinic: Clinic, name: str) -> StoredAthlete:
    """The stored athlete called ``name``; :class:`UnknownAthlete` when there is none."""
    with clinic.store.read() as tx:
        row = find_athlete(tx, name)
    if row is None:
        known = "configured" if name in clinic.names() else "known"
        raise UnknownAthlete([f"nothing is stored about {known} athlete {name!r}"
                              + ("" if known == "configured" else
                                 "; `syncd athletes list --all` shows who is stored")])
    return row


def refuse_configured(settings: Settings, name: str, what_to_do: str) -> None:
    """Refuse (:class:`ConfigError`) to change athlete ``name`` here when the configuration
    file holds them: ``what_to_do`` says what to do instead."""
    if any(a.name == name for a in settings.roster()):
        where = settings.config_path or "the built-in defaults"
        raise ConfigError([f"athlete {name!r} is in the configuration file ({where}): "
                           f"{what_to_do}"])


def refuse_single_athlete_install(settings: Settings, what: str,
                                   instead: str | None = None) -> None:
    """A configuration with one ``[athlete]`` keeps its files and Garmin tokens in shared
    places: another athlete beside it would read them. Clinic mode keeps each apart."""
    if settings.clinic:
        return
    alternative = f"; or {instead}" if instead else ""
    raise ConfigError([f"this configuration watches one athlete ([athlete]): to {what}, move "
                       "that athlete into an [[athletes]] entry (clinic mode, which keeps each "
                       f"athlete's files and tokens apart){alternative}"])


def quoted(name: str) -> str:
    """``name`` as typed in a shell command (quoted when it holds a space or a quote)."""
    return f'"{name}"' if any(c in name for c in " '\"$`\\") else name
