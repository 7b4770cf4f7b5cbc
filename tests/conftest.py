"""Suite-wide pytest hooks."""

from __future__ import annotations

import pytest


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Make ``xdist_group`` marks take effect under ``-n 2 --dist loadgroup``.

    pytest-xdist groups tests by a ``@group`` suffix it writes into ``item._nodeid`` on each
    worker; pytest 9.2 keeps the id in ``item._id`` instead, so that write is lost and every
    grouped test is spread over both workers, each building its own copy of a module
    fixture (a whole qsim run). This writes the same suffix where pytest reads it, only when
    xdist's own did not land.
    """
    if not getattr(config.option, "loadgroup", False):
        return
    for item in items:
        names = {
            str(mark.args[0] if mark.args else mark.kwargs.get("name", "default"))
            for mark in item.iter_markers("xdist_group")
        }
        if not names or item.nodeid.rfind("@") > item.nodeid.rfind("]"):
            continue  # no group, or xdist's suffix landed
        grouped = f"{item.nodeid}@{'_'.join(sorted(names))}"
        if hasattr(item, "_id"):
            from _pytest.nodeid import NodeId

            item._id = NodeId.parse(grouped)
        else:
            item._nodeid = grouped
