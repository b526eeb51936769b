"""The demo's page and /docs in Chromium with every request recorded (none may leave).

Called by ``tests/api/test_demo.py`` while ``traffic-monitor demo`` runs on the shared video,
so the page shows the real edge pipeline's events; skipped without Debian's Chromium.
"""

from __future__ import annotations

from tests.browser.test_alert_view import ARTIFACTS, CHROMIUM, chromium
from tests.browser.test_operations_views import Watch


def check_demo_page(base: str, password: str) -> None:
    """Log in as the demo's admin, wait for a live card, open /docs; screenshots of both."""
    if not CHROMIUM.exists():
        return
    from playwright.sync_api import expect

    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1440, "height": 1000})
        watch = Watch(page)
        page.goto(base + "/")
        page.fill("#username", "admin")
        page.fill("#password", password)
        page.click("#login button[type=submit]")
        expect(page.locator("#live-dot.on")).to_be_visible(timeout=15_000)
        expect(page.locator("#map [data-camera=nga-ba-hue-overpass]")).to_be_visible()
        page.locator("#map [data-camera=nga-ba-hue-overpass]").click()
        expect(page.locator("#camera-title")).to_have_text(
            "Cầu vượt Ngã ba Huế, nhìn dọc tuyến đường"
        )
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "demo_vi.png"), full_page=True)
        page.select_option("#lang", "en")
        expect(page.locator("#camera-title")).to_have_text(
            "Ngã ba Huế overpass, looking along the road"
        )
        page.screenshot(path=str(ARTIFACTS / "demo_en.png"), full_page=True)
        page.goto(base + "/docs")
        expect(page.locator(".swagger-ui .opblock").first).to_be_visible(timeout=20_000)
        page.goto(base + "/open-data/")
        expect(page.locator("#sites")).to_contain_text("Ngã ba Huế")
        assert watch.outside() == [], watch.outside()
        assert watch.errors == [], watch.errors
