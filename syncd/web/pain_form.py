"""The dashboard's pain form: the score, when it hurt, the warning symptoms and a note, and
the reading of what it posts. The choices come from the domain (:data:`~syncd.models.PAIN_WHENS`,
:data:`~syncd.models.SYMPTOMS`), so the form offers exactly what the API and the CLI accept."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape

from syncd.models import PAIN_WHENS, SYMPTOM_LABELS, WHEN_LABELS, pain_symptoms, pain_when

NOTE_LIMIT = 500
# What the page says for each ``?error=`` the form's handler redirects with.
ERRORS = {
    "score": "Choose a score from 0 to 10.",
    "when": "Choose when it hurt from the list.",
    "symptom": "Tick only the symptoms the form lists.",
}
_BOX = ('<label style="flex-direction:row;gap:0.4rem;align-items:center">'
        '<input type="checkbox" name="symptom" value="{value}" style="min-height:auto">'
        "{label}</label>")


@dataclass(frozen=True, slots=True)
class PainForm:
    """What the form posted, checked."""

    score: int
    when: str
    symptoms: tuple[str, ...]
    note: str | None


class FormProblem(ValueError):
    """A posted field is not one the form offers; ``field`` is the key of :data:`ERRORS`."""

    def __init__(self, field: str) -> None:
        super().__init__(ERRORS[field])
        self.field = field


def read_pain_form(fields: Mapping[str, Sequence[str]]) -> PainForm:
    """The posted fields (every value of each) as a report, or :class:`FormProblem`."""
    score_text = _first(fields, "score").strip()
    if not score_text.isdigit() or not 0 <= int(score_text) <= 10:
        raise FormProblem("score")
    try:
        when = pain_when(_first(fields, "when") or "other")
    except ValueError:
        raise FormProblem("when") from None
    try:
        symptoms = pain_symptoms(fields.get("symptom", ()))
    except ValueError:
        raise FormProblem("symptom") from None
    note = _first(fields, "note").strip()[:NOTE_LIMIT] or None
    return PainForm(int(score_text), when, symptoms, note)


def _first(fields: Mapping[str, Sequence[str]], name: str) -> str:
    values = fields.get(name) or ()
    return values[0] if values else ""


def pain_section(logged: int | None, error: str | None, action: str | None = None) -> str:
    """The form, with a notice for what was just recorded or refused."""
    notice = ""
    if logged is not None and 0 <= logged <= 10:
        notice = f'<p class="notice good" role="status">Pain {logged}/10 recorded.</p>'
    if error:
        told = ERRORS.get(error, ERRORS["score"])
        notice = f'<p class="notice bad" role="alert">{escape(told)}</p>'
    options = "".join(f'<option value="{i}">{i}</option>' for i in range(11))
    return (
        '<section id="pain"><h2>Log pain</h2>' + notice
        + f'<form method="post" action="{escape(action or "/dashboard/pain")}">'
        '<label>Pain now (0 none, 10 worst) <select name="score" required>'
        f'<option value="" selected disabled>choose</option>{options}</select></label>'
        f'<label>When did it hurt? <select name="when">{_when_options()}</select></label>'
        f"<fieldset><legend>With any of these?</legend>{symptom_boxes()}</fieldset>"
        f'<label>Note <input type="text" name="note" maxlength="{NOTE_LIMIT}" '
        'placeholder="optional: where, when it started"></label>'
        '<button type="submit">Record</button></form>'
        '<p class="muted">4 or more means stop and reassess. Swelling, numbness, trouble '
        "walking, locking or pain at night: see a professional.</p></section>"
    )


def _when_options() -> str:
    return "".join(
        f'<option value="{escape(w)}"{" selected" if w == "other" else ""}>'
        f"{escape(WHEN_LABELS[w])}</option>" for w in PAIN_WHENS)


def symptom_boxes() -> str:
    """One checkbox per symptom, all named ``symptom`` (the form posts one value each)."""
    return "".join(_BOX.format(value=escape(name), label=escape(label.capitalize()))
                   for name, label in SYMPTOM_LABELS.items())
