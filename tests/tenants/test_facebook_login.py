"""Facebook Login end to end against the real Graph sandbox on a local port, driven over HTTP.

Our app runs in-process (Django's test client); every Facebook call goes to the sandbox: the
login dialog (its non-interactive mode), the code exchange, the long-lived exchange,
debug_token, /me, /me/accounts with paging, subscribed_apps and datasets.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from pytest_django.fixtures import Settings
from social_django.models import UserSocialAuth

from tenants.crypto import decrypt_token, encrypt_token
from tenants.models import AuditEvent, ConnectedPage, Membership, PageGrant, Tenant
from tests.sandbox_fixtures import (
    ADA,
    ADA_PAGE,
    ADA_PAGE_2,
    ADA_PAGE_NO_ANALYZE,
    BOB,
    CLEO,
    GraphSandbox,
)

if TYPE_CHECKING:
    from tests.client_types import TestResponse

pytestmark = pytest.mark.django_db


def facebook_login(
    client: Client,
    sandbox: GraphSandbox,
    user_id: str,
    *,
    decline: Sequence[str] = (),
    rerequest: bool = False,
) -> tuple[str, TestResponse]:
    """Click "Continue with Facebook", let the sandbox's dialog answer, follow the callback."""
    start = client.post("/auth/login/facebook/", {"auth_type": "rerequest"} if rerequest else {})
    assert start.status_code == 302
    dialog = start["Location"]
    assert dialog.startswith(f"{sandbox.url}/v25.0/dialog/oauth?")
    params = {"sandbox_auto": "1", "sandbox_user": user_id}
    if decline:
        params["sandbox_decline"] = ",".join(decline)
    answer = requests.get(dialog, params=params, allow_redirects=False, timeout=10)
    assert answer.status_code == 302, answer.text
    callback = urlsplit(answer.headers["Location"])
    assert callback.path == "/auth/complete/facebook/"
    done = client.get(f"{callback.path}?{callback.query}")
    return dialog, done


def connect(client: Client, tenant: Tenant, page_id: str, **body: str) -> TestResponse:
    return client.post(
        f"/api/v1/tenants/{tenant.slug}/pages/",
        {"page_id": page_id, **body},
        content_type="application/json",
    )


def test_the_dialog_asks_for_what_pagepulse_needs(client: Client, sandbox: GraphSandbox) -> None:
    dialog, _ = facebook_login(client, sandbox, ADA)
    query = parse_qs(urlsplit(dialog).query)
    assert query["scope"] == [
        "email,page_events,pages_show_list,pages_messaging,pages_manage_metadata,"
        "business_management"
    ]
    assert query["return_scopes"] == ["true"]
    assert "auth_type" not in query


def test_a_new_user_lands_in_a_new_workspace_with_their_pages_to_pick(
    client: Client, sandbox: GraphSandbox
) -> None:
    _, done = facebook_login(client, sandbox, ADA)
    assert done.status_code == 302
    assert done["Location"] == "/connect/facebook/done/"
    user = get_user_model().objects.get()
    # The profile comes from the sandbox's /me (seed.json's Ada: "Ada Sandbox", her email), and
    # the account is tied to her Facebook id, which finds her again at the next login.
    assert (user.username, user.email) == ("AdaSandbox", "ada@sandbox.example")
    assert UserSocialAuth.objects.get(user=user).uid == ADA
    membership = Membership.objects.get(user=user)
    assert membership.role == "owner"
    assert membership.tenant.name == "Ada Sandbox's workspace"

    landing = client.get("/connect/facebook/done/")
    assert landing["Location"] == f"/t/{membership.tenant.slug}/pages/"
    html = client.get(landing["Location"]).content.decode()
    assert "Ada&#x27;s Bakery" in html
    assert "lacks the ANALYZE task" in html  # Corner Cafe: Ada cannot analyze it

    grants = {g.page_id: g for g in PageGrant.objects.filter(user=user)}
    assert set(grants) == {ADA_PAGE, ADA_PAGE_2, "300000000000003", ADA_PAGE_NO_ANALYZE}
    assert "page_events" in grants[ADA_PAGE].scopes
    assert "ANALYZE" not in grants[ADA_PAGE_NO_ANALYZE].tasks
    # social-auth would keep the user token in the clear; we keep none.
    assert "access_token" not in UserSocialAuth.objects.get(user=user).extra_data


def test_a_facebook_only_person_can_be_invited_by_their_email(
    client: Client, sandbox: GraphSandbox
) -> None:
    """Login asks for `email`, so /me returns it and the account has it: an owner of another
    workspace can add this person by email, though they never set a password."""
    facebook_login(client, sandbox, ADA)
    ada = get_user_model().objects.get()
    assert ada.email == "ada@sandbox.example"
    assert not ada.has_usable_password()
    me_calls = [r for r in sandbox.requests() if r["path"] == "/v25.0/me"]
    assert me_calls, "social-auth read the profile from the sandbox's /me"

    other = Tenant.objects.create(name="Globex", slug="globex", country="US")
    owner = get_user_model().objects.create_user(username="olga", email="olga@example.com")
    Membership.objects.create(tenant=other, user=owner, role="owner")
    inviter = Client()
    inviter.force_login(owner)
    added = inviter.post(
        f"/api/v1/tenants/{other.slug}/members/",
        {"email": "ada@sandbox.example", "role": "editor"},
        content_type="application/json",
    )
    assert added.status_code == 201, added.content
    assert Membership.objects.get(tenant=other, user=ada).role == "editor"


def test_a_person_who_declines_email_has_none_and_the_inviter_learns_why(
    client: Client, sandbox: GraphSandbox
) -> None:
    facebook_login(client, sandbox, ADA, decline=["email"])
    assert get_user_model().objects.get().email == ""
    other = Tenant.objects.create(name="Globex", slug="globex", country="US")
    owner = get_user_model().objects.create_user(username="olga", email="olga@example.com")
    Membership.objects.create(tenant=other, user=owner, role="owner")
    inviter = Client()
    inviter.force_login(owner)
    added = inviter.post(
        f"/api/v1/tenants/{other.slug}/members/",
        {"email": "ada@sandbox.example", "role": "editor"},
        content_type="application/json",
    )
    assert added.status_code == 400
    assert "allow Pagepulse to see their email" in added.json()["error"]["message"]


def test_connecting_a_page_from_the_picker(client: Client, sandbox: GraphSandbox) -> None:
    facebook_login(client, sandbox, ADA)
    tenant = Tenant.objects.get()
    response = connect(client, tenant, ADA_PAGE, transport="conversions_api")
    assert response.status_code == 201, response.content
    page = ConnectedPage.objects.get()
    assert (page.status, page.transport) == ("active", "conversions_api")
    assert page.dataset_id
    token = decrypt_token(page.token_encrypted)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT token_encrypted FROM tenants_connectedpage UNION ALL SELECT token_encrypted FROM tenants_pagegrant"
        )
        assert all(token not in row[0] for row in cursor.fetchall())
    received = [(r["method"], r["path"]) for r in sandbox.requests()]
    assert ("POST", f"/v25.0/{ADA_PAGE}/subscribed_apps") in received
    assert ("POST", f"/v25.0/{ADA_PAGE}/dataset") in received
    assert token not in response.content.decode()


def test_after_sign_out_only_the_connected_pages_token_is_stored(
    client: Client, sandbox: GraphSandbox
) -> None:
    facebook_login(client, sandbox, ADA)
    tenant = Tenant.objects.get()
    assert connect(client, tenant, ADA_PAGE).status_code == 201
    assert PageGrant.objects.exclude(token_encrypted="").count() == 4  # the login's, for now
    client.post("/accounts/logout/")
    with connection.cursor() as cursor:
        cursor.execute("SELECT token_encrypted FROM tenants_pagegrant")
        assert {row[0] for row in cursor.fetchall()} == {""}
        cursor.execute("SELECT token_encrypted FROM tenants_connectedpage")
        [(stored,)] = cursor.fetchall()
    assert decrypt_token(stored)  # the connected Page keeps its own


def test_the_page_without_analyze_cannot_be_connected(
    client: Client, sandbox: GraphSandbox
) -> None:
    facebook_login(client, sandbox, ADA)
    tenant = Tenant.objects.get()
    response = connect(client, tenant, ADA_PAGE_NO_ANALYZE)
    assert response.status_code == 400
    assert "ANALYZE task" in response.json()["error"]["message"]
    assert not ConnectedPage.objects.exists()


def test_a_returning_user_gets_the_same_account_and_workspace(
    client: Client, sandbox: GraphSandbox
) -> None:
    facebook_login(client, sandbox, ADA)
    client.logout()
    facebook_login(client, sandbox, ADA)
    assert get_user_model().objects.count() == 1
    assert Tenant.objects.count() == 1
    assert UserSocialAuth.objects.get().uid == ADA


def test_declined_page_events_is_explained_and_asked_again(
    client: Client, sandbox: GraphSandbox
) -> None:
    facebook_login(client, sandbox, ADA, decline=["page_events"])
    tenant = Tenant.objects.get()
    html = client.get(f"/t/{tenant.slug}/pages/").content.decode()
    assert "Facebook did not grant everything Pagepulse needs" in html
    assert '<input type="hidden" name="auth_type" value="rerequest">' in html
    assert all("page_events" not in g.scopes for g in PageGrant.objects.all())

    # Facebook does not ask again for a declined permission without auth_type=rerequest...
    facebook_login(client, sandbox, ADA)
    assert all("page_events" not in g.scopes for g in PageGrant.objects.all())
    # ...and does with it.
    dialog, _ = facebook_login(client, sandbox, ADA, rerequest=True)
    assert parse_qs(urlsplit(dialog).query)["auth_type"] == ["rerequest"]
    assert all("page_events" in g.scopes for g in PageGrant.objects.all())
    assert client.session["facebook_missing_scopes"] == []


def test_a_user_who_never_grants_page_events(client: Client, sandbox: GraphSandbox) -> None:
    facebook_login(client, sandbox, CLEO)
    assert "page_events" in client.session["facebook_missing_scopes"]
    [grant] = PageGrant.objects.all()
    assert "page_events" not in grant.scopes


def test_every_page_across_several_paging_pages_is_found(
    client: Client, sandbox: GraphSandbox
) -> None:
    facebook_login(client, sandbox, BOB)
    assert PageGrant.objects.count() == 60
    accounts_calls = [r for r in sandbox.requests() if r["path"].endswith("/me/accounts")]
    assert len(accounts_calls) >= 3


def test_a_revoked_token_needs_reauth_and_a_new_login_puts_it_back(
    client: Client, sandbox: GraphSandbox
) -> None:
    facebook_login(client, sandbox, ADA)
    tenant = Tenant.objects.get()
    connect(client, tenant, ADA_PAGE)
    page = ConnectedPage.objects.get()

    sandbox.revoke(page_id=ADA_PAGE)
    checked = client.post(
        f"/api/v1/tenants/{tenant.slug}/pages/{page.pk}/check/", content_type="application/json"
    )
    assert checked.json()["status"] == "needs_reauth"
    html = client.get(f"/t/{tenant.slug}/pages/").content.decode()
    assert "1 Page needs attention" in html

    sandbox.reset()  # Facebook forgets the revocation once the person logs in again
    facebook_login(client, sandbox, ADA)
    page.refresh_from_db()
    assert page.status == "active"
    assert AuditEvent.objects.filter(action="page.reconnected").count() == 1
    landing = client.get("/connect/facebook/done/", follow=True).content.decode()
    assert "is connected again with a fresh token" in landing


def test_a_token_without_page_events_is_found_by_the_health_check(
    client: Client, sandbox: GraphSandbox
) -> None:
    facebook_login(client, sandbox, ADA)
    tenant = Tenant.objects.get()
    connect(client, tenant, ADA_PAGE)
    # The person removed page_events on Facebook: the Page's token no longer carries it.
    stripped = sandbox.mint(
        type="page", user_id=ADA, page_id=ADA_PAGE, scopes=["pages_show_list", "pages_messaging"]
    )
    ConnectedPage.objects.update(token_encrypted=encrypt_token(stripped))
    page = ConnectedPage.objects.get()

    checked = client.post(
        f"/api/v1/tenants/{tenant.slug}/pages/{page.pk}/check/", content_type="application/json"
    )
    assert checked.json()["status"] == "missing_permission"
    assert "page_events permission was removed" in checked.json()["last_error"]
    event = AuditEvent.objects.get(action="page.needs_attention")
    assert event.details["status"] == "missing_permission"


def test_the_health_check_task_marks_only_the_broken_page(
    client: Client, sandbox: GraphSandbox
) -> None:
    from tenants.tasks import check_page_token

    facebook_login(client, sandbox, ADA)
    tenant = Tenant.objects.get()
    for page_id in (ADA_PAGE, ADA_PAGE_2):
        connect(client, tenant, page_id)
    sandbox.revoke(page_id=ADA_PAGE_2)
    for page in ConnectedPage.objects.all():
        check_page_token(page.pk)  # the task body; the worker itself runs in tests/system
    statuses = dict(ConnectedPage.objects.values_list("page_id", "status"))
    assert statuses == {ADA_PAGE: "active", ADA_PAGE_2: "needs_reauth"}


def test_the_daily_schedule_runs_the_health_check(settings: Settings) -> None:
    entry = settings.CELERY_BEAT_SCHEDULE["check-page-tokens"]
    assert entry == {"task": "tenants.tasks.check_page_tokens", "schedule": 24 * 60 * 60}


def test_no_token_or_proof_reaches_logs_pages_or_the_admin(
    client: Client, sandbox: GraphSandbox, caplog: pytest.LogCaptureFixture, admin_client: Client
) -> None:

    import logging

    caplog.set_level(logging.DEBUG)
    facebook_login(client, sandbox, ADA)
    tenant = Tenant.objects.get()
    connected = connect(client, tenant, ADA_PAGE)
    page = ConnectedPage.objects.get()
    client.post(
        f"/api/v1/tenants/{tenant.slug}/pages/{page.pk}/check/", content_type="application/json"
    )
    tokens = [decrypt_token(g.token_encrypted) for g in PageGrant.objects.all()]
    proofs = [sandbox.proof(token) for token in tokens]
    screens = [
        connected.content.decode(),
        client.get(f"/t/{tenant.slug}/pages/").content.decode(),
        client.get(f"/api/v1/tenants/{tenant.slug}/pages/?available=1").content.decode(),
        admin_client.get(f"/admin/tenants/connectedpage/{page.pk}/change/").content.decode(),
        admin_client.get("/admin/tenants/connectedpage/").content.decode(),
        admin_client.get(
            f"/admin/social_django/usersocialauth/{UserSocialAuth.objects.get().pk}/change/"
        ).content.decode(),
    ]
    assert "Ada&#x27;s Bakery" in screens[3]  # the admin screen did render the Page
    for secret in [*tokens, *proofs, sandbox.app_secret]:
        assert secret not in caplog.text
        for screen in screens:
            assert secret not in screen
