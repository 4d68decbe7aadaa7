"""The yes/no form on a match page (two buttons, one field)."""
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import AnyOf, InputRequired


class AnswerForm(FlaskForm):
    # Rendered as two submit buttons named "answer"; any other value is refused.
    answer = StringField(validators=[InputRequired(), AnyOf(["yes", "no"])])
