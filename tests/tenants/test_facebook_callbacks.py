"""Facebook's data deletion and deauthorize callbacks, posted as Facebook posts them: a form
field `signed_request` built from the reference (§11), over HTTP to our views, with the real
database. What is deleted, what is kept, the audit rows, the status page, bad input, repeats."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.db import connection as db_connection
from django.db import connections as db_connections
from django.db import transaction
from django.test import Client
from pytest_django.live_server_helper import LiveServer
from social_django.models import UserSocialAuth

from graph_api.signed_request import build_signed_request
from tenants.crypto import encrypt_token
from tenants.models import (
    AuditAction,
    AuditEvent,
    ConnectedPage,
    DataDeletionRequest,
    Membership,
    PageGrant,
    PageStatus,
    Tenant,
)
from tenants.permissions import Role
from tenants.services.facebook_callbacks import (
    DELETED_REASON,
    REMOVED_REASON,
    facebook_data_deletion,
)
from tests.sandbox_fixtures import ADA, GraphSandbox, error_of
from tests.tenants.factories import ConnectedPageFactory, TenantFactory, member
from tests.timing import deadline

pytestmark = pytest.mark.django_db

FB_ID = "1029384756"
DELETION = "/facebook/data-deletion"
DEAUTHORIZE = "/facebook/deauthorize"


def signed_request(user_id: str = FB_ID, *, secret: str | None = None, **overrides: Any) -> str:
    """As Facebook builds one (the builder is checked against the reference in
    tests/graph_api/test_signed_request.py)."""
    payload = {"algorithm": "HMAC-SHA256", "user_id": user_id, "issued_at": int(time.time())}
    payload.update(overrides)
    return build_signed_request(payload, secret=secret or settings.FACEBOOK_APP_SECRET)


def facebook_person(*, password: bool = False) -> User:
    """Someone who signed up with Facebook Login, as social-auth leaves them."""
    user = User.objects.create_user(
        username="ada.lovelace",
        email="ada@example.com",
        first_name="Ada",
        last_name="Lovelace",
        password="a password of her own" if password else None,
    )
    UserSocialAuth.objects.create(
        user=user, provider="facebook", uid=FB_ID, extra_data={"id": FB_ID}
    )
    return user


def new_page(**fields: Any) -> ConnectedPage:
    page: ConnectedPage = ConnectedPageFactory.create(**fields)
    return page


def new_tenant() -> Tenant:
    tenant: Tenant = TenantFactory.create()
    return tenant


class World:
    """Ada owns one workspace alone, edits in another with its own owner, and connected a Page
    in each; the other owner connected a Page of their own."""

    def __init__(self, *, password: bool = False) -> None:
        self.ada = facebook_person(password=password)
        self.own = new_tenant()
        Membership.objects.create(tenant=self.own, user=self.ada, role=Role.OWNER)
        self.shared = new_tenant()
        self.other_owner = member(self.shared, Role.OWNER).user
        Membership.objects.create(tenant=self.shared, user=self.ada, role=Role.EDITOR)
        self.ada_page = new_page(tenant=self.own, connected_by=self.ada, name="Ada's Bakery")
        self.ada_shared_page = new_page(tenant=self.shared, connected_by=self.ada, name="Shop")
        self.other_page = new_page(tenant=self.shared, connected_by=self.other_owner, name="Cafe")
        PageGrant.objects.create(
            user=self.ada, page_id="42", name="Ada's Bakery", token_encrypted=encrypt_token("t")
        )


def post(client: Client, path: str, value: str | None) -> Any:
    return client.post(path, {} if value is None else {"signed_request": value})


def test_data_deletion_deletes_what_came_from_facebook_and_answers_as_facebook_expects(
    client: Client,
) -> None:
    world = World()

    response = post(client, DELETION, signed_request())

    assert response.status_code == 200
    body = response.json()
    code = body["confirmation_code"]
    assert body["url"] == f"http://testserver/facebook/data-deletion/{code}/"
    assert len(code) >= 32
    assert not UserSocialAuth.objects.filter(uid=FB_ID).exists()
    assert not PageGrant.objects.filter(user=world.ada).exists()
    for page in (world.ada_page, world.ada_shared_page):
        page.refresh_from_db()
        assert (page.status, page.token_encrypted, page.last_error) == (
            PageStatus.NEEDS_REAUTH,
            "",
            DELETED_REASON,
        )
    world.other_page.refresh_from_db()
    assert world.other_page.status == PageStatus.ACTIVE
    assert world.other_page.token_encrypted
    ada = User.objects.get(pk=world.ada.pk)
    assert (ada.first_name, ada.last_name, ada.email, ada.is_active) == ("", "", "", False)
    assert "ada" not in ada.username
    # The only owner stays; the shared workspace's editor membership goes.
    assert list(Membership.objects.filter(user=ada).values_list("tenant_id", "role")) == [
        (world.own.pk, Role.OWNER)
    ]
    for tenant, membership in ((world.own, "kept"), (world.shared, "removed")):
        (event,) = AuditEvent.objects.filter(
            tenant=tenant, action=AuditAction.FACEBOOK_DATA_DELETED
        )
        assert event.details["membership"] == membership
        assert event.actor_label == "system"
    row = DataDeletionRequest.objects.get(code=code)
    assert row.found
    assert FB_ID not in json.dumps(
        {"subject": row.subject_hash, "deleted": row.deleted, "code": row.code}
    )


def test_the_status_page_says_what_was_deleted_and_when(client: Client) -> None:
    World()
    code = post(client, DELETION, signed_request()).json()["confirmation_code"]

    page = Client().get(f"/facebook/data-deletion/{code}/")

    assert page.status_code == 200
    text = page.content.decode()
    assert code in text
    assert "Facebook Login connection" in text
    assert "Access tokens of Pages you connected (2)" in text
    assert "only owner of" in text
    assert FB_ID not in text
    assert settings.FACEBOOK_APP_SECRET not in text


def test_an_unknown_code_is_404(client: Client) -> None:
    assert client.get("/facebook/data-deletion/not-a-code/").status_code == 404


def test_a_person_with_a_password_keeps_their_account_and_memberships(client: Client) -> None:
    world = World(password=True)

    assert post(client, DELETION, signed_request()).status_code == 200

    ada = User.objects.get(pk=world.ada.pk)
    assert (ada.email, ada.username, ada.is_active) == ("ada@example.com", "ada.lovelace", True)
    assert (ada.first_name, ada.last_name) == ("", "")
    assert Membership.objects.filter(user=ada).count() == 2
    assert not UserSocialAuth.objects.filter(uid=FB_ID).exists()


def test_the_same_request_twice_answers_the_same_code_and_deletes_once(client: Client) -> None:
    World()
    value = signed_request()

    first = post(client, DELETION, value).json()
    second = post(client, DELETION, value).json()

    assert first == second
    assert DataDeletionRequest.objects.count() == 1
    assert AuditEvent.objects.filter(action=AuditAction.FACEBOOK_DATA_DELETED).count() == 2


def test_an_unknown_person_still_gets_a_code_and_a_status_saying_nothing_was_held(
    client: Client,
) -> None:
    response = post(client, DELETION, signed_request("5555555555"))

    assert response.status_code == 200
    status = client.get(response.json()["url"].removeprefix("http://testserver"))
    assert "held no data from Facebook about this person" in status.content.decode()
    assert not DataDeletionRequest.objects.get().found
    assert not AuditEvent.objects.exists()


def test_deauthorize_marks_the_persons_pages_for_a_new_login_once(client: Client) -> None:
    world = World()

    first = post(client, DEAUTHORIZE, signed_request())
    again = post(client, DEAUTHORIZE, signed_request(issued_at=int(time.time()) - 5))

    assert (first.status_code, first.json()) == (200, {"pages_needing_a_new_login": 2})
    assert again.json() == {"pages_needing_a_new_login": 0}
    for page in (world.ada_page, world.ada_shared_page):
        page.refresh_from_db()
        assert (page.status, page.last_error) == (PageStatus.NEEDS_REAUTH, REMOVED_REASON)
        assert page.token_encrypted  # kept: a reconnect replaces it
    world.other_page.refresh_from_db()
    assert world.other_page.status == PageStatus.ACTIVE
    assert PageGrant.objects.get(user=world.ada).token_encrypted == ""
    events = AuditEvent.objects.filter(action=AuditAction.FACEBOOK_APP_REMOVED)
    assert sorted(e.target for e in events) == ["Ada's Bakery", "Shop"]
    assert UserSocialAuth.objects.filter(uid=FB_ID).exists()  # they may log in again


def test_the_pages_screen_shows_why(client: Client) -> None:
    world = World()
    post(client, DEAUTHORIZE, signed_request())

    client.force_login(world.ada)
    screen = client.get(f"/t/{world.own.slug}/pages/")

    assert REMOVED_REASON in screen.content.decode()


@pytest.mark.parametrize("path", [DELETION, DEAUTHORIZE])
@pytest.mark.parametrize(
    ("value", "status", "code"),
    [
        (None, 400, "signed_request_invalid"),
        ("not-a-signed-request", 400, "signed_request_invalid"),
        ("abc.%%%", 400, "signed_request_invalid"),
        ("forged", 403, "signature_invalid"),
        ("sha1", 400, "signed_request_invalid"),
        ("expired", 400, "signed_request_invalid"),
    ],
)
def test_bad_signed_requests_are_refused_and_nothing_is_written(
    client: Client, path: str, value: str | None, status: int, code: str
) -> None:
    world = World()
    built = {
        "forged": signed_request(secret="not-our-secret"),
        "sha1": signed_request(algorithm="HMAC-SHA1"),
        "expired": signed_request(issued_at=int(time.time()) - 2 * 24 * 3600),
    }

    response = post(client, path, built.get(value or "", value))

    assert response.status_code == status
    error = response.json()["error"]
    assert error["code"] == code
    assert error["message"]
    assert settings.FACEBOOK_APP_SECRET not in response.content.decode()
    assert UserSocialAuth.objects.filter(uid=FB_ID).exists()
    assert not DataDeletionRequest.objects.exists()
    assert not AuditEvent.objects.exists()
    world.ada_page.refresh_from_db()
    assert world.ada_page.status == PageStatus.ACTIVE


@pytest.mark.parametrize("path", [DELETION, DEAUTHORIZE])
def test_get_is_405_in_the_api_error_shape(client: Client, path: str) -> None:
    response = client.get(path)

    assert response.status_code == 405
    assert response["Allow"] == "POST"
    assert response.json()["error"]["code"] == "method_not_allowed"


@pytest.mark.django_db(transaction=True)
def test_the_sandbox_removing_the_app_posts_both_callbacks_to_the_app(
    sandbox: GraphSandbox, live_server: LiveServer
) -> None:
    """End to end: the sandbox signs the requests itself, over HTTP to our live server."""
    user = User.objects.create_user(username="ada.sandbox")
    UserSocialAuth.objects.create(user=user, provider="facebook", uid=ADA)
    tenant = new_tenant()
    Membership.objects.create(tenant=tenant, user=user, role=Role.OWNER)
    page = new_page(tenant=tenant, connected_by=user, name="Ada's Bakery")
    token = sandbox.login(ADA)

    answer = sandbox.http.post(
        f"{sandbox.url}/_sandbox/remove_app",
        json={"user_id": ADA, "delete_data": True, "app_url": live_server.url},
        timeout=30,
    ).json()

    assert answer["deauthorize"]["status"] == 200
    assert answer["deauthorize"]["body"] == {"pages_needing_a_new_login": 1}
    assert answer["data_deletion"]["status"] == 200
    code = answer["data_deletion"]["body"]["confirmation_code"]
    assert DataDeletionRequest.objects.get(code=code).found
    page.refresh_from_db()
    assert (page.status, page.token_encrypted) == (PageStatus.NEEDS_REAUTH, "")
    assert not UserSocialAuth.objects.filter(uid=ADA).exists()
    me = error_of(sandbox.get("/me", token))
    assert (me["code"], me["error_subcode"]) == (190, 458)


def test_the_sandbox_needs_a_known_user_and_an_app_url(sandbox: GraphSandbox) -> None:
    post_ = sandbox.http.post
    unknown = post_(f"{sandbox.url}/_sandbox/remove_app", json={"user_id": "1"}, timeout=10)
    no_url = post_(f"{sandbox.url}/_sandbox/remove_app", json={"user_id": ADA}, timeout=10)

    assert (unknown.status_code, no_url.status_code) == (400, 400)
    assert "unknown user" in unknown.json()["error"]
    assert "app_url" in no_url.json()["error"]


@pytest.mark.django_db(transaction=True)
def test_a_repeat_racing_the_first_gets_the_first_code() -> None:
    """Two identical requests at once: the second, which saw no request yet, waits on the
    unique hash for the first to commit, then answers the first's code, not a 500."""
    if db_connection.vendor != "postgresql":  # row locks and pg_stat_activity are PostgreSQL's
        pytest.skip("needs PostgreSQL: SQLite takes the whole database for a writer")
    value = signed_request("5555555555")
    request_hash = hashlib.sha256(value.encode()).hexdigest()
    first_inserted, first_may_commit = threading.Event(), threading.Event()

    def first() -> None:
        try:
            with transaction.atomic():
                DataDeletionRequest.objects.create(
                    code="first-code", request_hash=request_hash, subject_hash="s", found=False
                )
                first_inserted.set()
                first_may_commit.wait(deadline(30))
        finally:
            db_connections.close_all()

    thread = threading.Thread(target=first)
    thread.start()
    assert first_inserted.wait(deadline(30))
    answers: list[str] = []

    def second_request() -> None:
        try:
            answers.append(facebook_data_deletion(user_id="5555555555", signed_request=value).code)
        finally:
            db_connections.close_all()

    second = threading.Thread(target=second_request)
    second.start()
    waiting = deadline(30) + time.monotonic()
    while not _someone_waits_on_a_lock() and time.monotonic() < waiting:
        time.sleep(0.05)
    first_may_commit.set()
    thread.join(deadline(30))
    second.join(deadline(30))

    assert answers == ["first-code"]
    assert DataDeletionRequest.objects.count() == 1


def _someone_waits_on_a_lock() -> bool:
    with db_connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
            "AND datname = current_database()"
        )
        row = cursor.fetchone()
    return bool(row and row[0])
