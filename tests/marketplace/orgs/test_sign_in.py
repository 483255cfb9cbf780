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


def test_the_menu_offers_only_pages_the_role_opens_and_licensor_pages_stay_with_licensors(client, licensor, licensee):
    from django.urls import reverse

    from marketplace.orgs.models import Role
    from tests.fixtures.market import add_member

    viewer = add_member(licensor.organisation, "viewer@northlight.example", Role.VIEWER)
    client.force_login(viewer)
    menu = client.get(reverse("orgs:dashboard", args=[licensor.organisation.slug])).content.decode()
    assert "/corpora/" in menu and "/charges/" not in menu and "/statements/" not in menu and "/payouts/" not in menu
    client.force_login(licensor.user)  # the owner: every page
    menu = client.get(reverse("orgs:dashboard", args=[licensor.organisation.slug])).content.decode()
    assert "/charges/" in menu and "/statements/" in menu and "/payouts/" in menu
    client.force_login(licensee.user)
    slug = licensee.organisation.slug
    for name in ("catalog:corpus_list", "catalog:withdrawals"):
        assert client.get(reverse(name, args=[slug])).status_code == 404, name


def test_pages_for_the_parties_to_a_licence_do_not_exist_for_other_kinds(client, licensor, licensee, operator):
    from django.urls import reverse

    pages = {
        "licensing:licence_list": {"licensor", "licensee"},
        "rating:charge_list": {"licensor", "licensee"},
        "statements:list": {"licensor"},
        "invoicing:invoice_list": {"licensee"},
    }
    for access in (licensor, licensee, operator):
        client.force_login(access.user)
        slug, kind = access.organisation.slug, access.organisation.kind
        for name, kinds in pages.items():
            status = client.get(reverse(name, args=[slug])).status_code
            assert status == (200 if kind in kinds else 404), (kind, name)


def test_pages_outside_any_organisation_keep_the_menu_of_the_last_one(client, licensor, licensee):
    from django.urls import reverse

    from marketplace.orgs.models import Membership

    client.force_login(licensor.user)
    corpora = reverse("catalog:corpus_list", args=[licensor.organisation.slug])
    assert corpora in client.get(reverse("catalog:public_list")).content.decode()  # their only organisation
    Membership.objects.create(user=licensor.user, organisation=licensee.organisation, role="viewer")
    client.get(reverse("orgs:dashboard", args=[licensee.organisation.slug]))
    page = client.get(reverse("catalog:public_list")).content.decode()
    assert corpora not in page and reverse("licensing:licence_list", args=[licensee.organisation.slug]) in page
    client.get(corpora)
    assert corpora in client.get(reverse("catalog:public_list")).content.decode()
    client.logout()
    assert corpora not in client.get(reverse("catalog:public_list")).content.decode()
