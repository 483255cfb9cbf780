"""Template context shared by every page: the signed-in user's organisations."""

from marketplace.orgs.access import memberships_for


def navigation(request):
    access = getattr(request, "access", None)
    return {
        "my_memberships": memberships_for(request.user) if hasattr(request, "user") else [],
        "current_org": access.organisation if access else None,
    }
