"""Fuzzing with hypothesis: every form found on the site's pages, every POST route, and the CSV importer.

- strategies.py  hostile and plausible values for form fields, and whole CSV files (bytes)
- forms.py       finds the forms by crawling every GET page of the URL map as every kind of user
- harness.py     one app + world; sends one input and returns the properties it broke (a list of strings)
- runner.py      many examples outside pytest, counting tries and failures (bench/fuzz.py)

tests/test_fuzz.py runs a few hundred derandomized examples; `python bench/fuzz.py --examples 10000` the big run.
"""
