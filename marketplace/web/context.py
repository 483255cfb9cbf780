"""Template context shared by every page: the signed-in user's organisations, and which menu section is open."""

from marketplace.orgs.access import LAST_ORG_SESSION_KEY, OrgAccess, Perm, memberships_for


def navigation(request):
    memberships = memberships_for(request.user) if hasattr(request, "user") else []
    access = getattr(request, "access", None)
    if access is None and memberships:
        # A page outside any organisation (the public catalogue) keeps the menu of the one last worked in.
        last = request.session.get(LAST_ORG_SESSION_KEY)
        chosen = next((m for m in memberships if m.organisation.slug == last), None)
        if chosen is None and len(memberships) == 1:
            chosen = memberships[0]
        access = OrgAccess(chosen.organisation, chosen) if chosen else None
    return {
        "nav_section": nav_section(getattr(request, "resolver_match", None)),
        "my_memberships": memberships,
        "current_org": access.organisation if access else None,
        # What the member's role allows here, so that the menu offers only pages that will open.
        "current_can": {perm.value: access.can(perm) for perm in Perm} if access else {},
    }


_SECTIONS_BY_APP = {
    "licensing": "licences", "rating": "earnings", "statements": "statements", "invoicing": "billing",
    "developers": "developers", "finance": "finance", "reconciliation": "finance",
}  # fmt: skip
_PUBLIC_CATALOGUE = {"public_list", "public_corpus", "manifest_format", "preview_file"}


def nav_section(match) -> str:
    """The main menu's entry a page belongs to, marked as the current one (aria-current) for every page under it:
    an import or an offer belongs to Corpora, a payout run to Finance."""
    if match is None:
        return ""
    app, name = match.app_name, match.url_name or ""
    if app == "orgs":
        return "dashboard" if name == "dashboard" else "members"
    if app == "catalog":
        if name in _PUBLIC_CATALOGUE:
            return "catalogue"
        if name.startswith("withdrawal"):
            return "withdrawals"
        return "review" if name.startswith("review") else "corpora"
    if app == "payouts":
        return "payouts" if name in ("settings", "stripe_onboard", "stripe_return") else "finance"
    return _SECTIONS_BY_APP.get(app, "")
