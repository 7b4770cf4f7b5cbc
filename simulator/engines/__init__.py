"""Engines: isolated runtimes, worker processes, adapters (one engine a file), sandbox, faults.

Modules imported inside an engine's isolated runtime (``contract``, ``worker_main`` and
``adapters/*``) may depend only on the standard library and pyarrow.
"""
