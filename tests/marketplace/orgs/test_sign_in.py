"""Sign-in by email address, whatever its case."""

from django.contrib.auth import get_user_model
from django.urls import reverse

from tests.fixtures.market import PASSWORD, make_user


def sign_in(client, username: str, password: str = PASSWORD):
    return client.post(reverse("login"), {"username": username, "password": password})


def test_an_address_signs_in_in_any_case(client, db):
    user = make_user("studio@northlight.example")
    for typed in ("STUDIO@Northlight.example", " studio@northlight.EXAMPLE "):
        response = sign_in(client, typed)
        assert response.status_code == 302, typed
        assert client.session["_auth_user_id"] == str(user.pk)
        client.logout()
    response = sign_in(client, "Studio@Northlight.example", "wrong password")
    assert response.status_code == 200 and "_auth_user_id" not in client.session
    assert "Please enter a correct" in response.content.decode()


def test_accounts_that_differ_only_in_case_keep_their_exact_sign_in(client, db):
    users = get_user_model()
    lower = make_user("old@example.com")
    upper = users.objects.create_user("Old@example.com", email="Old@example.com", password="another-pass-123")
    sign_in(client, "Old@example.com", "another-pass-123")
    assert client.session["_auth_user_id"] == str(upper.pk)
    client.logout()
    sign_in(client, "old@example.com")
    assert client.session["_auth_user_id"] == str(lower.pk)
    client.logout()
    assert sign_in(client, "OLD@example.com").status_code == 200  # ambiguous: neither
