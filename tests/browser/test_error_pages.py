"""The production 404 page in a real browser (the test settings run with DEBUG off), at laptop
and phone widths, with no sideways scroll."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page, expect


def test_404_page_in_the_products_look(page: Page, screenshot_dir: Path) -> None:
    for width, height in ((1366, 800), (390, 844)):
        page.set_viewport_size({"width": width, "height": height})
        response = page.goto("/no/such/page/")
        assert response is not None
        assert response.status == 404
        expect(page.get_by_role("heading", name="This page does not exist")).to_be_visible()
        expect(page.get_by_role("link", name="Go to your workspace")).to_be_visible()
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{overflow}px of sideways scroll at {width}px"
        page.screenshot(path=str(screenshot_dir / f"error-404-{width}.png"), full_page=True)
