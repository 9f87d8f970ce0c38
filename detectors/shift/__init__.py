"""Silent behaviour drift: did the calls behind one model name change between two windows, and when?

A provider can swap the model behind a name without a new version string; what betrays it is the
calls themselves. `compare.compare_windows` sets a baseline window against a current one three
ways: a two-sample test per feature (Holm-corrected, and gated by a practical effect floor, so that
big windows do not raise trifles), a classifier two-sample test over every feature and the answer
text at once (it sees what no single column shows, such as a new style of answer), and the best
single split of the time-ordered calls, which dates the change.

`sample` (building a window) and `report` (what comes back) need neither SciPy nor scikit-learn:
the drift job imports only them and runs `compare` in a worker process (`detectors.worker`).
"""
