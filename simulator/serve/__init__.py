"""``qsim serve``: an interactive per-customer replay service and its web page.

:mod:`.workbench` keeps one tenant session (its engine workers and workspaces) warm per
tenant in the service process, without Ray, and replays one query or one pasted statement
on a baseline and a candidate, judged like a run; :mod:`.pasted` refuses a pasted statement
before any engine sees it; :mod:`.audit` records every replay in the run history;
:mod:`.security` holds the bind, token and same-origin rules; :mod:`.app` is the aiohttp
service and the page.
"""
