"""``qsim selftest``: qsim proves on this installation that it catches what it must catch
(the 2020 lost-write incident, injected latency, injected errors) and stays quiet when
nothing is wrong (A/A runs), printing a detection matrix.

One module per scenario family: :mod:`world` (the scenario configs from ``configs/``
redirected into a work folder, and the tiny world they replay), :mod:`incident` (lost writes
under load and on a quiet cluster, plus the quiet confirmation), :mod:`calibration` (A/A
false alarms and sensitivity to latency and errors), :mod:`matrix` (the detection matrix)
and :mod:`suite` (all of it, as ``qsim selftest`` runs it); :mod:`mutants` measures
detection power with mutant engines (``qsim selftest --mutants``).
"""
