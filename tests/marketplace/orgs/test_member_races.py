"""Member changes made at the same moment by two people of one organisation (PostgreSQL row locks)."""

import contextlib
import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connections

from marketplace.orgs import services
from marketplace.orgs.models import Membership, Role
from tests.fixtures.market import access_for, add_member


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_owners_stepping_down_at_once_queue_instead_of_deadlocking(licensor, monkeypatch):
    """Each owner makes themself an admin at the same moment: one succeeds, the other is told that they are now the
    last owner. Neither request may end in PostgreSQL's deadlock error (a 500)."""
    org = licensor.organisation
    second = add_member(org, "second@northlight.example", Role.OWNER)
    both_in = threading.Barrier(2, timeout=2)
    release_owner = services._release_owner

    def meet_then_release(access, membership):
        # Both requests have taken their own member's row before either looks for another owner.
        with contextlib.suppress(threading.BrokenBarrierError):  # the other one queued behind this one
            both_in.wait()
        return release_owner(access, membership)

    monkeypatch.setattr(services, "_release_owner", meet_then_release)
    outcomes = {}

    def step_down(user):
        try:
            access = access_for(org, user)
            services.membership_change(access=access, membership_id=access.membership.pk, role=Role.ADMIN)
            outcomes[user.email] = "done"
        except ValidationError as exc:
            outcomes[user.email] = " ".join(exc.messages)
        except Exception as exc:  # the deadlock this test is about
            outcomes[user.email] = f"{type(exc).__name__}: {exc}"
        finally:
            connections.close_all()

    threads = [threading.Thread(target=step_down, args=(user,)) for user in (licensor.user, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert len(outcomes) == 2, outcomes
    assert list(outcomes.values()).count("done") == 1, outcomes
    assert any("is the last owner" in outcome for outcome in outcomes.values()), outcomes
    assert Membership.objects.filter(organisation=org, role=Role.OWNER).count() == 1


def test_a_role_taken_away_while_the_request_waited_no_longer_counts(licensor):
    """An owner demoted to viewer by another owner a moment before their own change runs acts as a viewer."""
    from django.core.exceptions import PermissionDenied

    org = licensor.organisation
    add_member(org, "third@northlight.example", Role.OWNER)
    demoted = access_for(org, add_member(org, "demoted@northlight.example", Role.OWNER))
    Membership.objects.filter(pk=demoted.membership.pk).update(role=Role.VIEWER)  # read as owner, now a viewer
    with pytest.raises(PermissionDenied):
        services.membership_change(access=demoted, membership_id=licensor.membership.pk, role=Role.VIEWER)
    with pytest.raises(PermissionDenied):
        services.membership_remove(access=demoted, membership_id=licensor.membership.pk)
    assert Membership.objects.get(pk=licensor.membership.pk).role == Role.OWNER


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_one_address_invited_twice_at_once_keeps_one_pending_link(licensor):
    """The invite form posted twice (a double click): the second waits for the first and replaces it."""
    from marketplace.orgs.models import Invitation
    from tests.fixtures.threads import HeldTransaction

    first = HeldTransaction(
        lambda: services.invitation_create(access=licensor, email="x@example.com", role=Role.VIEWER)
    )
    second_done = threading.Event()

    def invite_again():
        try:
            services.invitation_create(access=licensor, email="X@example.com", role=Role.ADMIN)
        finally:
            second_done.set()
            connections.close_all()

    thread = threading.Thread(target=invite_again)
    thread.start()
    assert not second_done.wait(1), "the second invitation did not wait for the first"
    first.commit()
    first.join()
    thread.join(10)
    assert [(i.role, i.status) for i in Invitation.objects.order_by("id")] == [
        (Role.VIEWER, "replaced"),
        (Role.ADMIN, "pending"),
    ]


def test_the_last_owner_cannot_leave_or_be_removed_and_admins_do_not_touch_owners(licensor):
    org = licensor.organisation
    admin = access_for(org, add_member(org, "admin@northlight.example", Role.ADMIN))
    with pytest.raises(ValidationError, match="is the last owner"):
        services.membership_remove(access=licensor, membership_id=licensor.membership.pk)
    second = access_for(org, add_member(org, "second@northlight.example", Role.OWNER))
    # Another owner remains, so only the admin's role stands in the way.
    with pytest.raises(ValidationError, match="Only an owner can change or remove an owner"):
        services.membership_change(access=admin, membership_id=licensor.membership.pk, role=Role.VIEWER)
    with pytest.raises(ValidationError, match="Only an owner can change or remove an owner"):
        services.membership_remove(access=admin, membership_id=second.membership.pk)
    owners = Membership.objects.filter(organisation=org, role=Role.OWNER).values_list("user__email", flat=True)
    assert sorted(owners) == [licensor.user.email, "second@northlight.example"]


def test_a_member_removed_while_the_request_waited_changes_nothing(licensor):
    """An owner removed by another owner a moment before their own change runs is told so, and changes nothing."""
    org = licensor.organisation
    add_member(org, "third@northlight.example", Role.OWNER)
    removed = access_for(org, add_member(org, "removed@northlight.example", Role.OWNER))
    viewer = access_for(org, add_member(org, "viewer@northlight.example", Role.VIEWER))
    Membership.objects.filter(pk=removed.membership.pk).delete()  # read as owner, now gone
    with pytest.raises(ValidationError, match="You are no longer a member of"):
        services.membership_change(access=removed, membership_id=viewer.membership.pk, role=Role.ADMIN)
    with pytest.raises(ValidationError, match="You are no longer a member of"):
        services.membership_remove(access=removed, membership_id=licensor.membership.pk)
    assert Membership.objects.get(pk=viewer.membership.pk).role == Role.VIEWER
    assert Membership.objects.get(pk=licensor.membership.pk).role == Role.OWNER
