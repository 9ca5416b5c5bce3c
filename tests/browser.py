"""Debian's Chromium driven by Playwright (its own browser download cannot work here), and a
signed-in console page, for the tests that use the console in a real browser."""

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def open_console(browser, url: str, key: str, session: str | None = "Austrian", width: int = 1280, height: int = 800):
    """A page signed in with `key` (on the live session whose name holds `session`, unless None),
    and the list the page's console errors are logged to."""
    page = browser.new_page(viewport={"width": width, "height": height})
    errors = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(url)
    page.fill("input[name=api_key]", key)
    page.click("button[type=submit]")
    if session is not None:
        page.locator("[data-testid=session-option]", has_text=session).first.click()
    return page, errors
