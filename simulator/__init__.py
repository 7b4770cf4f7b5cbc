"""qsim: a production-scale query regression simulator.

The package is laid out as the pipeline it runs (see README "Architecture"):
datasets -> workload -> engines -> compare -> runner -> report. This module must stay
import-light: engine worker processes import ``simulator.engines`` from inside isolated
runtimes that only have pyarrow and the engine installed.
"""

__version__ = "0.1.0"
