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
    assert "That email and password do not match an account. The password is case-sensitive" in (
        response.content.decode()
    )


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


def test_a_forgotten_password_is_reset_through_a_link_that_works_once(client, db):
    from django.core import mail

    user = make_user("studio@northlight.example")
    login_page = client.get(reverse("login")).content.decode()
    assert reverse("password_reset") in login_page
    response = client.post(reverse("password_reset"), {"email": "Studio@Northlight.example"})
    assert response["Location"] == reverse("password_reset_done")
    assert mail.outbox[0].to == ["studio@northlight.example"]
    link = next(line for line in mail.outbox[0].body.splitlines() if "/accounts/password-reset/" in line)
    path = link[link.index("/accounts/") :]
    form_page = client.get(path, follow=True)  # Django moves the token out of the address first
    assert form_page.context["validlink"]
    typo = client.post(form_page.redirect_chain[-1][0], {"new_password1": "a-new-pass-4321", "new_password2": "x"})
    assert typo.context["form"].errors["new_password2"]  # the two differ: nothing saved
    weak = client.post(form_page.redirect_chain[-1][0], {"new_password1": "password", "new_password2": "password"})
    assert "This password is too common." in weak.context["form"].errors["new_password1"]  # under the password
    done = client.post(
        form_page.redirect_chain[-1][0], {"new_password1": "a-new-pass-4321", "new_password2": "a-new-pass-4321"}
    )
    assert done["Location"] == reverse("password_reset_complete")
    user.refresh_from_db()
    assert user.check_password("a-new-pass-4321")
    assert not client.get(path, follow=True).context["validlink"]  # used once
    # An unknown address learns nothing: the same page, and no mail.
    client.post(reverse("password_reset"), {"email": "nobody@example.com"})
    assert len(mail.outbox) == 1


def test_signing_out_asks_on_a_get_and_says_so_after(client, db):
    user = make_user("studio@northlight.example")
    client.force_login(user)
    page = client.get(reverse("logout"))
    assert page.status_code == 200 and "You are signed in as studio@northlight.example" in page.content.decode()
    assert "_auth_user_id" in client.session  # a GET signs nobody out
    landed = client.post(reverse("logout"), follow=True)
    assert "_auth_user_id" not in client.session
    assert "You are signed out." in [str(m) for m in landed.context["messages"]]
    # Signed in again, the sign-in page goes straight on.
    client.force_login(user)
    assert client.get(reverse("login"))["Location"] == reverse("home")


def test_the_menu_leads_a_superuser_to_the_admin_and_no_one_else(client, db):
    from django.urls import reverse

    admin_url = f'href="{reverse("admin:index")}"'
    admin = make_user("admin@market.example")
    admin.is_staff = admin.is_superuser = True
    admin.save()
    client.force_login(admin)
    assert admin_url in client.get(reverse("home")).content.decode()
    staff = make_user("finance@market.example")
    staff.is_staff = True
    staff.save()
    client.force_login(staff)  # finance staff have no admin permissions: the admin would show them nothing
    assert admin_url not in client.get(reverse("home")).content.decode()
    assert admin_url not in client.get(reverse("finance:trial_balance")).content.decode()
