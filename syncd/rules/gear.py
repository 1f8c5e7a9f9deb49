"""Shoe mileage: warn at ``shoe_warn_km``, ask for replacement at ``shoe_replace_km``."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from syncd.models import Finding, Gear, Subject
from syncd.plan import Limits
from syncd.rules.context import over


def shoe_mileage(gear: Iterable[Gear], limits: Limits) -> Iterator[Finding]:
    """One finding per pair and band passed: ``warn`` (info), then ``replace`` (warning)."""
    for pair in gear:
        if pair.retired:
            continue
        km = pair.distance_m / 1000
        name = pair.name or pair.id
        if over(km, limits.shoe_warn_km):
            yield Finding(
                rule="shoe_mileage", severity="info", subject=Subject.gear(pair.id, "warn"),
                observed=round(km, 1), limit=limits.shoe_warn_km, unit="km",
                message=f"Shoes {name} have covered {km:.0f} km, past {limits.shoe_warn_km:g} km.",
                advice="Cushioning wears out with distance: plan to replace these shoes soon.")
        if over(km, limits.shoe_replace_km):
            yield Finding(
                rule="shoe_mileage", severity="warning", subject=Subject.gear(pair.id, "replace"),
                observed=round(km, 1), limit=limits.shoe_replace_km, unit="km",
                message=f"Shoes {name} have covered {km:.0f} km, past "
                        f"{limits.shoe_replace_km:g} km.",
                advice="Replace these shoes before the next run.")
