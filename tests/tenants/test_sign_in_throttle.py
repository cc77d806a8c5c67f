"""Password sign-in is throttled by account and by client address (issue #12, access 3).

django-axes counts failed sign-ins in the database, so each test starts from none (its
transaction is rolled back, or the live server's tables are flushed) and no test can lock
another out.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

import pytest
from axes.models import AccessAttempt
from django.contrib.auth.models import User
from django.test import Client
from pytest_django.fixtures import Settings

if TYPE_CHECKING:
    from tests.client_types import TestResponse

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"
LIMIT = 5  # LOGIN_FAILURE_LIMIT's default
HOME = "198.51.100.7"
OFFICE = "203.0.113.20"


@pytest.fixture
def ada(django_user_model: type[User]) -> User:
    return django_user_model.objects.create_user(username="ada", password=PASSWORD)


@pytest.fixture
def grace(django_user_model: type[User]) -> User:
    return django_user_model.objects.create_user(username="grace", password=PASSWORD)


def sign_in(
    username: str, password: str, *, address: str = HOME, client: Client | None = None
) -> tuple[TestResponse, Client]:
    client = client or Client()
    response = client.post(
        "/accounts/login/", {"username": username, "password": password}, REMOTE_ADDR=address
    )
    return response, client


def signed_in(response: TestResponse) -> bool:
    return response.status_code == 302 and bool(response.wsgi_request.user.is_authenticated)


def test_the_issue_scene_wrong_passwords_then_the_right_one_is_refused(
    settings: Settings, ada: User
) -> None:
    assert settings.AXES_FAILURE_LIMIT == LIMIT
    answers = [sign_in("ada", f"guess-{n}")[0].status_code for n in range(LIMIT - 1)]
    assert answers == [200] * (LIMIT - 1)  # the form again, saying the password is wrong

    locking, _ = sign_in("ada", "guess-last")
    assert locking.status_code == 429
    right, client = sign_in("ada", PASSWORD)

    assert right.status_code == 429
    assert not signed_in(right)
    assert "_auth_user_id" not in client.session
    page = right.content.decode()
    assert "Too many failed sign-ins for this account, or from your network." in page
    assert "password sign-in is paused for 15 minutes." in page
    assert "ask a Pagepulse administrator to unlock your account" in page
    # 60 more tries change nothing.
    assert {sign_in("ada", f"more-{n}")[0].status_code for n in range(60)} == {429}


def test_an_account_is_locked_whichever_address_the_guesses_come_from(
    ada: User, grace: User
) -> None:

    for n in range(LIMIT):
        sign_in("ada", f"guess-{n}", address=f"192.0.2.{n + 1}")
    assert sign_in("ada", PASSWORD, address=OFFICE)[0].status_code == 429
    assert signed_in(sign_in("grace", PASSWORD, address=OFFICE)[0])  # others are not


def test_an_address_is_locked_whichever_accounts_it_guesses(ada: User, grace: User) -> None:
    for n in range(LIMIT):
        sign_in(f"someone-{n}", "guess", address=HOME)
    assert sign_in("grace", PASSWORD, address=HOME)[0].status_code == 429
    assert signed_in(sign_in("grace", PASSWORD, address=OFFICE)[0])


def test_a_successful_sign_in_clears_the_accounts_count(ada: User) -> None:
    for n in range(LIMIT - 1):
        sign_in("ada", f"guess-{n}")
    assert signed_in(sign_in("ada", PASSWORD)[0])
    for n in range(LIMIT - 1):
        sign_in("ada", f"again-{n}")
    assert signed_in(sign_in("ada", PASSWORD)[0])


def test_an_admin_unlocks_an_account_in_the_django_admin(ada: User, admin_client: Client) -> None:
    for n in range(LIMIT):
        sign_in("ada", f"guess-{n}")
    assert sign_in("ada", PASSWORD)[0].status_code == 429

    listing = admin_client.get("/admin/axes/accessattempt/")
    assert listing.status_code == 200
    assert "ada" in listing.content.decode()
    attempt = AccessAttempt.objects.get(username="ada")
    unlocked = admin_client.post(
        "/admin/axes/accessattempt/",
        {"action": "delete_selected", "_selected_action": [attempt.pk], "post": "yes"},
    )
    assert unlocked.status_code == 302

    assert signed_in(sign_in("ada", PASSWORD)[0])


def test_the_lockout_ends_by_itself_after_its_cool_off(settings: Settings, ada: User) -> None:
    for n in range(LIMIT):
        sign_in("ada", f"guess-{n}")
    assert sign_in("ada", PASSWORD)[0].status_code == 429
    # Move the failures into the past rather than waiting for the clock.
    past = settings.AXES_COOLOFF_TIME + timedelta(seconds=1)
    for attempt in AccessAttempt.objects.all():
        attempt.attempt_time -= past
        attempt.save(update_fields=["attempt_time"])
    assert signed_in(sign_in("ada", PASSWORD)[0])


def test_the_django_admin_sign_in_is_throttled_too(ada: User) -> None:
    client = Client()
    for n in range(LIMIT):
        client.post(
            "/admin/login/", {"username": "ada", "password": f"guess-{n}"}, REMOTE_ADDR=HOME
        )
    response = client.post(
        "/admin/login/", {"username": "ada", "password": PASSWORD}, REMOTE_ADDR=HOME
    )
    assert response.status_code == 429


def test_a_locked_out_test_leaves_nothing_for_the_next_one(ada: User) -> None:
    for n in range(LIMIT):
        sign_in("ada", f"guess-{n}")
    assert AccessAttempt.objects.filter(username="ada").exists()


def test_the_next_test_starts_with_no_failures(ada: User) -> None:
    """Runs after the one above (pytest keeps a module's order)."""
    assert not AccessAttempt.objects.exists()
    assert signed_in(sign_in("ada", PASSWORD)[0])
