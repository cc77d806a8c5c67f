"""The public status page of a Facebook data deletion request, as the person opens it from
Facebook: what was deleted, what was kept and why, at laptop and phone widths."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Page, expect
from social_django.models import UserSocialAuth

from tenants.models import Membership, Tenant
from tenants.permissions import Role
from tenants.services.facebook_callbacks import facebook_data_deletion


@pytest.mark.django_db(transaction=True)
def test_the_status_page_reads_well_and_names_no_facebook_id(
    page: Page, screenshot_dir: Path
) -> None:
    user = User.objects.create_user(username="ada.fb", first_name="Ada", email="ada@example.com")
    UserSocialAuth.objects.create(user=user, provider="facebook", uid="1029384756")
    tenant = Tenant.objects.create(name="Ada's Bakery", slug="adas-bakery", country="US")
    Membership.objects.create(tenant=tenant, user=user, role=Role.OWNER)
    deletion = facebook_data_deletion(user_id="1029384756", signed_request="x.y")

    for width, height in ((1366, 800), (390, 844)):
        page.set_viewport_size({"width": width, "height": height})
        response = page.goto(f"/facebook/data-deletion/{deletion.code}/")
        assert response is not None
        assert response.status == 200
        expect(page.get_by_role("heading", name="Data deletion request")).to_be_visible()
        expect(page.get_by_role("heading", name="What we deleted")).to_be_visible()
        expect(
            page.get_by_role("listitem").filter(has_text="Facebook Login connection")
        ).to_be_visible()
        expect(page.get_by_role("heading", name="What we kept")).to_be_visible()
        expect(page.get_by_text("only owner of Ada's Bakery")).to_be_visible()
        assert "1029384756" not in page.content()
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{overflow}px of sideways scroll at {width}px"
        page.screenshot(
            path=str(screenshot_dir / f"facebook-data-deletion-{width}.png"), full_page=True
        )
