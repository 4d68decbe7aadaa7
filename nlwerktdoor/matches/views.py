"""One match, seen by either side, where each side says yes or no."""
from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from ..errors import DomainError, NotFoundError
from ..extensions import db
from ..models import Match
from ..services import responses
from . import bp
from .forms import AnswerForm


@bp.get("/<int:match_id>")
@login_required
def detail(match_id: int):
    match = db.get_or_404(Match, match_id)
    side = responses.side_for(current_user, match)
    if side is None:
        abort(404)  # not "403": ids of other people's matches cannot be probed
    return render_template(
        "matches/detail.html",
        match=match,
        side=side,
        form=AnswerForm(),
        contact=responses.other_side_contact(match, side),
    )


@bp.post("/<int:match_id>")
@login_required
def answer(match_id: int):
    form = AnswerForm()
    if not form.validate_on_submit():
        flash(_("Je antwoord kwam niet goed door. Probeer het nog eens."), "error")
        return redirect(url_for(".detail", match_id=match_id))
    yes = form.answer.data == "yes"
    try:
        match = responses.answer(match_id, current_user, yes)
    except NotFoundError:
        abort(404)
    except DomainError as error:
        flash(error.message, "error")
        return redirect(url_for(".detail", match_id=match_id))
    if not yes:
        flash(_("Je hebt nee gezegd. We stellen jullie niet aan elkaar voor."), "info")
    elif match.is_mutual_yes:
        flash(_("Jullie zeggen allebei ja! De contactgegevens staan hieronder en zijn ook per e-mail verstuurd."), "info")
    else:
        flash(_("Je hebt ja gezegd. Zodra de andere kant ook ja zegt, krijgen jullie elkaars contactgegevens."), "info")
    return redirect(url_for(".detail", match_id=match_id))
