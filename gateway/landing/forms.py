"""The choice between license centers."""

from __future__ import annotations

from collections.abc import Iterable

from flask_wtf import FlaskForm
from wtforms import BooleanField, RadioField
from wtforms.validators import InputRequired


class ChooseSystemForm(FlaskForm):  # type: ignore[misc]  # flask_wtf ships no types
    """Which system to open now, and whether to go there directly next time."""

    system = RadioField("License center", validators=[InputRequired()], choices=[])
    remember = BooleanField("Remember my choice")


def choose_system_form(options: Iterable[tuple[str, str]]) -> ChooseSystemForm:
    """The form offering exactly `options` (key, name); any other posted key is invalid."""
    form = ChooseSystemForm()
    form.system.choices = list(options)
    return form
