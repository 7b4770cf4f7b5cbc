"""``qsim selftest --mutants``: detection power measured with mutant engines.

:mod:`adapter` is the mutant engine (a real DuckDB that changes its answers in one known
way a class, and says when it did); :mod:`suite` runs every class as a candidate over one
baseline and scores what qsim flagged against that ground truth.
"""
