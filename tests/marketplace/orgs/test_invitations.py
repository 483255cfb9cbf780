"""Members and invitations: invite by email, accept (with or without an account), revoke, expire."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from marketplace.orgs.models import Invitation, Membership, Role
from tests.fixtures.market import PASSWORD, add_member


def invite(client, access, email="new.person@example.com", role=Role.CATALOG_MANAGER):
    return client.post(reverse("orgs:members", args=[access.organisation.slug]), {"email": email, "role": role})


def emailed_link() -> str:
    return re.search(r"https?://\S+/invitations/\S+/", mail.outbox[-1].body).group(0)


def test_invite_emails_a_link_and_stores_only_its_hash(client, licensor, django_capture_on_commit_callbacks):
    client.force_login(licensor.user)
    with django_capture_on_commit_callbacks(execute=True):
        response = invite(client, licensor)
    assert response.status_code == 302
    invitation = Invitation.objects.get()
    assert (invitation.email, invitation.role, invitation.invited_by, invitation.status) == (
        "new.person@example.com", "catalog_manager", licensor.user, "pending",
    )  # fmt: skip
    assert mail.outbox[0].to == ["new.person@example.com"]
    token = emailed_link().rstrip("/").rsplit("/", 1)[1]
    assert token not in invitation.token_hash
    assert len(invitation.token_hash) == 64


def test_accept_without_an_account_creates_one_and_joins(client, licensor, django_capture_on_commit_callbacks):
    client.force_login(licensor.user)
    with django_capture_on_commit_callbacks(execute=True):
        invite(client, licensor)
    client.logout()
    link = emailed_link()
    path = link[link.index("/invitations/") :]
    response = client.post(path, {"full_name": "New Person", "password": "short", "password_again": "short"})
    assert "too short" in response.content.decode()
    typo = client.post(path, {"full_name": "New Person", "password": PASSWORD, "password_again": PASSWORD + "x"})
    assert "The two passwords differ" in typo.content.decode()
    assert not get_user_model().objects.filter(username="new.person@example.com").exists()
    response = client.post(path, {"full_name": "New Person", "password": PASSWORD, "password_again": PASSWORD})
    assert response.status_code == 302
    user = get_user_model().objects.get(username="new.person@example.com")
    # Signed in for good: the next page is the organisation's, not the sign-in form.
    assert client.session["_auth_user_id"] == str(user.pk)
    landing = client.get(response["Location"])
    assert landing.status_code == 200 and licensor.organisation.name in landing.content.decode()
    membership = Membership.objects.get(user=user)
    assert (membership.organisation, membership.role) == (licensor.organisation, Role.CATALOG_MANAGER)
    assert "This invitation has already been accepted." in client.get(path).content.decode()
    # The owner's members page, left open since, offers Revoke: it says the invitation was accepted.
    client.force_login(licensor.user)
    accepted = Invitation.objects.get(email="new.person@example.com")
    page = client.post(
        reverse("orgs:invitation_revoke", args=[licensor.organisation.slug, accepted.pk]), follow=True
    ).content.decode()
    assert "accepted the invitation already: remove the member instead" in page
    assert Membership.objects.filter(user=user, organisation=licensor.organisation).exists()


def test_accept_as_a_signed_in_user(client, licensor, django_capture_on_commit_callbacks):
    existing = get_user_model().objects.create_user(
        "someone@example.com", email="someone@example.com", password=PASSWORD
    )
    client.force_login(licensor.user)
    with django_capture_on_commit_callbacks(execute=True):
        invite(client, licensor, email="someone@example.com", role=Role.VIEWER)
    link = emailed_link()
    path = link[link.index("/invitations/") :]
    # Someone else holding the link (forwarded, or seen over a shoulder) cannot use it.
    users = get_user_model().objects
    other = users.create_user("other@example.com", email="other@example.com", password=PASSWORD)
    # Nor an address that is only the same under Unicode case folding (ß folds to ss).
    lookalike = users.create_user("someone@exampleß.com", email="someone@exampleß.com", password=PASSWORD)
    with django_capture_on_commit_callbacks(execute=True):
        client.force_login(licensor.user)
        invite(client, licensor, email="someone@examplesS.com", role=Role.ADMIN)
    folded = emailed_link()
    # The page says so before anything is clicked, and offers to sign out and come back.
    client.force_login(other)
    page = client.get(path).content.decode()
    assert "but this invitation is for someone@example.com" in page and "Accept and join" not in page
    signed_out = client.post(reverse("logout"), {"next": path})
    assert signed_out["Location"] == path
    for intruder, target in ((other, path), (lookalike, folded[folded.index("/invitations/") :])):
        client.force_login(intruder)
        response = client.post(target)
        assert "; sign in with that address" in response.content.decode()
        assert not Membership.objects.filter(user=intruder).exists()
    assert {i.status for i in Invitation.objects.all()} == {"pending"}
    client.force_login(existing)
    client.post(path)
    assert Membership.objects.get(user=existing).role == Role.VIEWER


def test_revoked_and_expired_invitations_cannot_be_used(client, licensor, django_capture_on_commit_callbacks):
    client.force_login(licensor.user)
    with django_capture_on_commit_callbacks(execute=True):
        invite(client, licensor, email="a@example.com")
    first = emailed_link()
    with django_capture_on_commit_callbacks(execute=True):
        invite(client, licensor, email="b@example.com")
    second = emailed_link()
    revoked = Invitation.objects.get(email="a@example.com")
    revoke = reverse("orgs:invitation_revoke", args=[licensor.organisation.slug, revoked.pk])
    page = client.post(revoke, follow=True).content.decode()
    assert "The invitation to a@example.com is revoked." in page
    # Revoking again (a page left open) says what happened instead of reporting a second revocation.
    page = client.post(revoke, follow=True).content.decode()
    assert "was revoked already" in page and "is revoked." not in page
    Invitation.objects.filter(email="b@example.com").update(expires_at=timezone.now())
    page = client.post(
        reverse(
            "orgs:invitation_revoke",
            args=[licensor.organisation.slug, Invitation.objects.get(email="b@example.com").pk],
        ),
        follow=True,
    ).content.decode()
    assert "has expired already" in page
    assert Invitation.objects.get(email="b@example.com").revoked_at is None
    client.logout()
    assert (
        "This invitation was revoked; ask the organisation for a new one."
        in client.get(first[first.index("/invitations/") :]).content.decode()
    )
    assert (
        "This invitation has expired; ask the organisation for a new one."
        in client.get(second[second.index("/invitations/") :]).content.decode()
    )
    assert client.get("/invitations/not-a-token/").status_code == 404
    assert Membership.objects.filter(organisation=licensor.organisation).count() == 1


@pytest.mark.parametrize("role", [Role.CATALOG_MANAGER, Role.FINANCE, Role.VIEWER])
def test_only_owners_and_admins_invite(client, licensor, role):
    member = add_member(licensor.organisation, f"{role}@example.com", role)
    client.force_login(member)
    assert invite(client, licensor).status_code == 403
    assert not Invitation.objects.exists()


def test_invite_errors_are_shown_next_to_the_field(client, licensor):
    client.force_login(licensor.user)
    response = invite(client, licensor, email=licensor.user.email)
    assert "is already a member" in response.context["form"].errors["email"][0]
    for email, message in (
        ("x" * 65 + "@example.com", "An email address has at most 64 characters before the @."),
        (
            "x" * 60 + "@" + ".".join(["d" * 50] * 4) + ".example",
            "Ensure this value has at most 254 characters (it has 272).",
        ),
    ):
        response = invite(client, licensor, email=email)
        assert response.context["form"].errors["email"] == [message]
    assert not Invitation.objects.exists()


def test_owners_and_admins_manage_roles_and_the_last_owner_stays(client, licensor):
    from django.urls import reverse

    from tests.fixtures.market import add_member

    org = licensor.organisation
    admin = add_member(org, "admin@northlight.example", Role.ADMIN)
    viewer = add_member(org, "viewer@northlight.example", Role.VIEWER)
    members = reverse("orgs:members", args=[org.slug])

    def membership(user):
        return Membership.objects.get(organisation=org, user=user)

    def change(user, role):
        return client.post(reverse("orgs:membership_change", args=[org.slug, membership(user).pk]), {"role": role})

    client.force_login(admin)
    page = client.get(members).content.decode()
    assert '<option value="owner"' not in page  # an admin cannot make owners: not offered
    refused = client.post(members, {"email": "x@y.example", "role": "owner"}).content.decode()
    assert "Select a valid choice" in refused and not Invitation.objects.exists()
    change(viewer, Role.CATALOG_MANAGER)
    assert membership(viewer).role == Role.CATALOG_MANAGER
    response = change(licensor.user, Role.VIEWER)  # an admin cannot demote the owner
    assert membership(licensor.user).role == Role.OWNER
    assert "Only an owner can change or remove an owner." in client.get(response["Location"]).content.decode()
    client.force_login(licensor.user)
    response = change(licensor.user, Role.ADMIN)
    assert membership(licensor.user).role == Role.OWNER  # the last owner
    assert "is the last owner" in client.get(response["Location"]).content.decode()
    change(admin, Role.OWNER)
    change(licensor.user, Role.ADMIN)
    assert (membership(admin).role, membership(licensor.user).role) == (Role.OWNER, Role.ADMIN)
    same = client.post(
        reverse("orgs:membership_change", args=[org.slug, membership(viewer).pk]), {"role": Role.CATALOG_MANAGER},
        follow=True,
    )  # fmt: skip
    assert "Nothing changed: viewer@northlight.example is catalogue manager." in same.content.decode()
    gone_id = membership(viewer).pk
    client.post(reverse("orgs:membership_remove", args=[org.slug, gone_id]))
    assert not Membership.objects.filter(organisation=org, user=viewer).exists()
    assert get_user_model().objects.filter(pk=viewer.pk).exists()  # the account stays
    # A page left open acts on a member already removed: a 404 that says so and leads back; nothing changes.
    for name, data in (("orgs:membership_change", {"role": Role.ADMIN}), ("orgs:membership_remove", {})):
        stale = client.post(reverse(name, args=[org.slug, gone_id]), data)
        assert stale.status_code == 404
        assert "someone may have removed them since this page was loaded" in stale.content.decode()
        assert f'href="{members}"' in stale.content.decode()
    # Leaving is said as leaving.
    left = client.post(reverse("orgs:membership_remove", args=[org.slug, membership(licensor.user).pk]), follow=True)
    assert f"You left {org.name}." in left.content.decode()


def test_inviting_again_retires_the_earlier_link(client, licensor, licensee, django_capture_on_commit_callbacks):
    client.force_login(licensor.user)
    with django_capture_on_commit_callbacks(execute=True):
        invite(client, licensor, role=Role.VIEWER)
        again = client.post(
            reverse("orgs:members", args=[licensor.organisation.slug]),
            {"email": "New.Person@example.com", "role": Role.CATALOG_MANAGER}, follow=True,
        )  # fmt: skip
    assert "It replaces the one sent now as viewer, whose link no longer works." in again.content.decode()
    assert [i.status for i in Invitation.objects.order_by("id")] == ["replaced", "pending"]
    first = Invitation.objects.order_by("id").first()
    assert first.status_message == "A newer invitation replaced this one: use the link in the latest email."
    client.force_login(licensee.user)
    page = client.get(reverse("orgs:members", args=[licensee.organisation.slug])).content.decode()
    assert 'value="catalog_manager"' not in page  # nothing to manage in a licensee


def test_a_pending_or_expired_invitation_is_resent_with_a_new_link(
    client, licensor, django_capture_on_commit_callbacks
):
    client.force_login(licensor.user)
    with django_capture_on_commit_callbacks(execute=True):
        invite(client, licensor, role=Role.VIEWER)
    first = emailed_link()
    old = Invitation.objects.get()
    Invitation.objects.filter(pk=old.pk).update(expires_at=timezone.now())
    members = client.get(reverse("orgs:members", args=[licensor.organisation.slug])).content.decode()
    resend = reverse("orgs:invitation_resend", args=[licensor.organisation.slug, old.pk])
    assert f'action="{resend}"' in members  # expired: offered again
    with django_capture_on_commit_callbacks(execute=True):
        page = client.post(resend, follow=True).content.decode()
    assert "A new invitation was sent to new.person@example.com" in page
    second = emailed_link()
    new = Invitation.objects.exclude(pk=old.pk).get()
    assert (new.role, new.status, second != first) == (Role.VIEWER, "pending", True)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("orgs:invitation_resend", args=[licensor.organisation.slug, new.pk]))
    assert Invitation.objects.get(pk=new.pk).status == "replaced"  # one live link per address
    page = client.post(reverse("orgs:invitation_resend", args=[licensor.organisation.slug, new.pk]), follow=True)
    assert "is replaced: there is nothing to resend" in page.content.decode()
    assert Invitation.objects.filter(accepted_at__isnull=True, revoked_at__isnull=True).count() == 1


def test_long_member_and_invitation_lists_page(client, licensor):
    client.force_login(licensor.user)
    for i in range(25):
        invite(client, licensor, email=f"person{i:02d}@example.com")
    url = reverse("orgs:members", args=[licensor.organisation.slug])
    first = client.get(url).content.decode()
    assert first.count("@example.com</td>") == 20 and "person24@example.com" in first  # newest first
    assert "invitations_page=2" in first and "Page 1 of 2" in first
    second = client.get(url + "?invitations_page=2").content.decode()
    assert "person00@example.com" in second and "person24@example.com" not in second
    kept = client.get(url + "?members_page=1").content.decode()
    assert "?members_page=1&amp;invitations_page=2" in kept  # paging one list keeps the other's page


def test_a_link_revoked_or_expired_after_its_page_was_shown_does_not_join(
    client, licensor, django_capture_on_commit_callbacks
):
    """The page checks the invitation before it offers "Accept and join"; the acceptance checks it again, under
    the invitation's lock, as it may have been revoked or have expired since."""
    from django.core.exceptions import ValidationError

    from marketplace.orgs import services

    client.force_login(licensor.user)
    with django_capture_on_commit_callbacks(execute=True):
        invite(client, licensor, email="someone@example.com", role=Role.ADMIN)
    token = emailed_link().rstrip("/").rsplit("/", 1)[1]
    someone = get_user_model().objects.create_user(
        "someone@example.com", email="someone@example.com", password=PASSWORD
    )
    invitation = Invitation.objects.get()
    services.invitation_revoke(access=licensor, invitation_id=invitation.pk)
    with pytest.raises(ValidationError, match="This invitation was revoked"):
        services.invitation_accept(token=token, user=someone)
    Invitation.objects.filter(pk=invitation.pk).update(revoked_at=None, expires_at=timezone.now())
    with pytest.raises(ValidationError, match="This invitation has expired"):
        services.invitation_accept(token=token, user=someone)
    assert not Membership.objects.filter(user=someone).exists()
    assert Invitation.objects.get(pk=invitation.pk).accepted_at is None


def test_an_address_with_an_account_in_another_case_signs_in_instead_of_registering_again(
    client, licensor, django_capture_on_commit_callbacks
):
    users = get_user_model().objects
    existing = users.create_user("Someone@Example.com", email="Someone@Example.com", password=PASSWORD)
    client.force_login(licensor.user)
    with django_capture_on_commit_callbacks(execute=True):
        invite(client, licensor, email="someone@example.com", role=Role.VIEWER)
    client.logout()
    link = emailed_link()
    path = link[link.index("/invitations/") :]
    response = client.post(path, {"full_name": "Some One", "password": PASSWORD, "password_again": PASSWORD})
    assert response.status_code == 200 and "You have an account already." in response.content.decode()
    refused = ["An account with this email exists already; sign in instead."]
    assert response.context["form"].non_field_errors() == refused
    assert list(users.filter(username__iexact="someone@example.com")) == [existing]
    assert "_auth_user_id" not in client.session
    assert Invitation.objects.get().status == "pending"
    assert Membership.objects.filter(organisation=licensor.organisation).count() == 1


def test_accepting_as_someone_who_joined_meanwhile_keeps_their_membership(
    client, licensor, django_capture_on_commit_callbacks
):
    from marketplace.orgs.services import membership_set

    client.force_login(licensor.user)
    with django_capture_on_commit_callbacks(execute=True):
        invite(client, licensor, email="someone@example.com", role=Role.VIEWER)
    link = emailed_link()
    someone = get_user_model().objects.create_user(
        "someone@example.com", email="someone@example.com", password=PASSWORD
    )
    membership_set(organisation=licensor.organisation, user=someone, role=Role.FINANCE)  # added by a set-up script
    client.force_login(someone)
    response = client.post(link[link.index("/invitations/") :])
    assert response.status_code == 302
    assert response["Location"] == reverse("orgs:dashboard", args=[licensor.organisation.slug])
    assert list(Membership.objects.filter(user=someone).values_list("role", flat=True)) == [Role.FINANCE]
    assert Invitation.objects.get().status == "accepted"


@pytest.mark.parametrize("role", [Role.CATALOG_MANAGER, Role.FINANCE, Role.VIEWER])
def test_the_invitation_services_refuse_members_who_do_not_manage_members(licensor, role):
    """The pages check the role; the services hold the line by themselves for the callers that are not views."""
    from django.core.exceptions import PermissionDenied

    from marketplace.orgs import services
    from tests.fixtures.market import access_for

    org = licensor.organisation
    invitation = services.invitation_create(access=licensor, email="new.person@example.com", role=Role.VIEWER)
    member = access_for(org, add_member(org, f"{role}@example.com", role))
    with pytest.raises(PermissionDenied):
        services.invitation_revoke(access=member, invitation_id=invitation.pk)
    with pytest.raises(PermissionDenied):
        services.invitation_resend(access=member, invitation_id=invitation.pk)
    assert [(i.pk, i.status) for i in Invitation.objects.all()] == [(invitation.pk, "pending")]
