"""How every browser test starts Debian's Chromium: headless, with no network side traffic
(update checks, sync, QUIC) that would show up as requests the page did not make."""

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
