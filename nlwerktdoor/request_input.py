"""The request class: form fields and query values arrive without NUL characters.

No person types a NUL, and PostgreSQL refuses it in every text column and query parameter, so a
single "\\x00" in any field used to end in a 500 (found by tests/test_fuzz.py). Removing it here, where
the input is parsed, covers every form and every filter at once.
"""
from flask import Request
from werkzeug.utils import cached_property


def _clean(text):
    return text.replace("\x00", "") if isinstance(text, str) else text


def _without_nul(values):
    pairs = list(values.items(multi=True))
    if not any(isinstance(part, str) and "\x00" in part for pair in pairs for part in pair):
        return values
    return type(values)((_clean(key), _clean(value)) for key, value in pairs)


class CleanRequest(Request):
    def _load_form_data(self) -> None:
        super()._load_form_data()
        self.__dict__["form"] = _without_nul(self.__dict__["form"])

    @cached_property
    def args(self):
        return _without_nul(super().args)
