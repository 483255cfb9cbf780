"""Organisation pages: dashboard, members and invitations."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.humanize.templatetags.humanize import naturaltime
from django.core.exceptions import ValidationError
from django.db.models import Count, Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from marketplace.catalog.models import Corpus, CorpusStatus, ImportStatus, ManifestImport
from marketplace.catalog.selectors import corpora_with_expired_rights, revisions_waiting
from marketplace.orgs import services
from marketplace.orgs.access import Perm, org_view
from marketplace.orgs.forms import InviteForm, RegisterForm
from marketplace.orgs.models import Invitation, Membership, OrgKind
from marketplace.orgs.selectors import invitation_pending, licensor_sales
from marketplace.web.feedback import report
from marketplace.web.paging import pages_of


def form_errors(form, exc: ValidationError) -> None:
    """Put a service's ValidationError next to the form's fields (or at the top)."""
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


@org_view(Perm.VIEW)
def dashboard(request: HttpRequest) -> HttpResponse:
    access = request.access
    org = access.organisation
    context = {"access": access, "org": org}
    if org.kind == OrgKind.LICENSOR:
        corpora = Corpus.objects.filter(organisation=org)
        context["totals"] = corpora.exclude(status=CorpusStatus.WITHDRAWN).aggregate(
            corpora=Count("id"), assets=Sum("asset_count"), seconds=Sum("total_seconds"), size=Sum("total_bytes")
        )
        context["corpora"] = corpora.order_by("-updated_at")[:10]
        context["expired_rights"] = list(corpora_with_expired_rights(org)[:10])
        context["recent_imports"] = (
            ManifestImport.objects.filter(corpus__organisation=org).select_related("corpus").order_by("-created_at")[:5]
        )
        context["running_imports"] = ManifestImport.objects.filter(
            corpus__organisation=org, status__in=[ImportStatus.QUEUED, ImportStatus.VALIDATING, ImportStatus.APPLYING]
        ).count()
        context["sales"] = licensor_sales(org, with_money=access.can(Perm.FINANCE))
    elif org.kind == OrgKind.OPERATOR:
        in_review = Corpus.objects.filter(status=CorpusStatus.IN_REVIEW)
        waiting = revisions_waiting()  # changes to published listings
        # The oldest few of each; the review queue pages through the rest.
        context["review_queue"] = list(in_review.select_related("organisation").order_by("submitted_at", "id")[:10])
        context["changes_waiting"] = list(waiting[:10])
        context["waiting_count"] = in_review.count() + waiting.count()
        context["published"] = Corpus.objects.filter(status=CorpusStatus.PUBLISHED).count()
    return render(request, "orgs/dashboard.html", context)


@org_view(Perm.VIEW)
def members(request: HttpRequest) -> HttpResponse:
    access = request.access
    roles = services.roles_offered(access)
    form = InviteForm(roles=roles)
    if request.method == "POST":
        access.require(Perm.MANAGE_MEMBERS)
        form = InviteForm(request.POST, roles=roles)
        if form.is_valid():
            replaced = invitation_pending(access.organisation, form.cleaned_data["email"])
            try:
                invitation = services.invitation_create(
                    access=access,
                    email=form.cleaned_data["email"],
                    role=form.cleaned_data["role"],
                    accept_base_url=request.build_absolute_uri("/"),
                )
            except ValidationError as exc:
                form_errors(form, exc)
            else:
                said = f"Invitation sent to {invitation.email}."
                if replaced is not None:
                    said += (
                        f" It replaces the one sent {naturaltime(replaced.created_at)} as"
                        f" {replaced.get_role_display().lower()}, whose link no longer works."
                    )
                messages.success(request, said)
                return redirect("orgs:members", org_slug=access.organisation.slug)
    return render(
        request,
        "orgs/members.html",
        {
            "access": access,
            "org": access.organisation,
            "form": form,
            **pages_of(
                request,
                members=(
                    Membership.objects.filter(organisation=access.organisation)
                    .select_related("user")
                    .order_by("user__email"),
                    50,
                ),
                invitations=(
                    Invitation.objects.filter(organisation=access.organisation)
                    .select_related("invited_by")
                    .order_by("-created_at", "-id"),
                    20,
                ),
            ),
            "can_manage": access.can(Perm.MANAGE_MEMBERS),
            "roles": roles,
        },
    )


def _member(request: HttpRequest, membership_id: int) -> Membership | None:
    return (
        Membership.objects.filter(pk=membership_id, organisation=request.access.organisation)
        .select_related("user")
        .first()
    )


def _member_gone(request: HttpRequest) -> HttpResponse:
    """A page left open while someone else removed the member: still a 404 (another organisation's id looks the
    same), but one that says what happened and leads back."""
    return render(request, "orgs/member_gone.html", {"org": request.access.organisation}, status=404)


@require_POST
@org_view(Perm.MANAGE_MEMBERS)
def membership_change(request: HttpRequest, membership_id: int) -> HttpResponse:
    membership = _member(request, membership_id)
    if membership is None:
        return _member_gone(request)
    if membership.role == request.POST.get("role"):
        messages.info(request, f"Nothing changed: {membership.user.email} is {membership.get_role_display().lower()}.")
    else:
        report(
            request,
            lambda: services.membership_change(
                access=request.access, membership_id=membership_id, role=request.POST.get("role", "")
            ),
            lambda m: f"{m.user.email} is now {m.get_role_display().lower()}.",
        )
    return redirect("orgs:members", org_slug=request.access.organisation.slug)


@require_POST
@org_view(Perm.MANAGE_MEMBERS)
def membership_remove(request: HttpRequest, membership_id: int) -> HttpResponse:
    org = request.access.organisation
    if _member(request, membership_id) is None:
        return _member_gone(request)
    membership = report(
        request,
        lambda: services.membership_remove(access=request.access, membership_id=membership_id),
        lambda m: (
            f"You left {org.name}."
            if m.user_id == request.user.pk
            else f"{m.user.email} is no longer a member of {org.name}."
        ),
    )
    if membership is not None and membership.user_id == request.user.pk:  # left it: its pages are no longer theirs
        return redirect("home")
    return redirect("orgs:members", org_slug=request.access.organisation.slug)


@require_POST
@org_view(Perm.MANAGE_MEMBERS)
def invitation_revoke(request: HttpRequest, invitation_id: int) -> HttpResponse:
    get_object_or_404(Invitation, pk=invitation_id, organisation=request.access.organisation)
    report(
        request,
        lambda: services.invitation_revoke(access=request.access, invitation_id=invitation_id),
        lambda i: f"The invitation to {i.email} is revoked.",
    )
    return redirect("orgs:members", org_slug=request.access.organisation.slug)


@require_POST
@org_view(Perm.MANAGE_MEMBERS)
def invitation_resend(request: HttpRequest, invitation_id: int) -> HttpResponse:
    """A new link for a pending or expired invitation, with the same role; the old link stops working."""
    get_object_or_404(Invitation, pk=invitation_id, organisation=request.access.organisation)
    report(
        request,
        lambda: services.invitation_resend(
            access=request.access, invitation_id=invitation_id, accept_base_url=request.build_absolute_uri("/")
        ),
        lambda i: f"A new invitation was sent to {i.email}; the earlier link no longer works.",
    )
    return redirect("orgs:members", org_slug=request.access.organisation.slug)


def invitation_accept(request: HttpRequest, token: str) -> HttpResponse:
    invitation = services.invitation_for_token(token)
    if invitation is None:
        return render(request, "orgs/invitation.html", {"error": "This invitation link is not valid."}, status=404)
    if invitation.status != "pending":
        return render(
            request,
            "orgs/invitation.html",
            {"invitation": invitation, "error": invitation.status_message},
        )
    form = RegisterForm()
    if request.method == "POST":
        user = request.user if request.user.is_authenticated else None
        if user is None:
            form = RegisterForm(request.POST)
            if form.is_valid():
                try:
                    user = services.user_register(
                        email=invitation.email, password=form.cleaned_data["password"],
                        full_name=form.cleaned_data["full_name"],
                    )  # fmt: skip
                except ValidationError as exc:
                    form_errors(form, exc)
                else:
                    login(request, user)  # through the configured backend, so that the session holds
        if user is not None:
            try:
                membership = services.invitation_accept(token=token, user=user)
            except ValidationError as exc:
                return render(request, "orgs/invitation.html", {"invitation": invitation, "error": exc.messages[0]})
            messages.success(request, f"Welcome to {membership.organisation.name}.")
            return redirect("orgs:dashboard", org_slug=membership.organisation.slug)
    from django.contrib.auth import get_user_model

    has_account = get_user_model().objects.filter(username__iexact=invitation.email).exists()
    return render(request, "orgs/invitation.html", {"invitation": invitation, "form": form, "has_account": has_account})
