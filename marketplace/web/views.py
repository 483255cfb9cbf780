from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.views.decorators.http import require_safe

from marketplace.orgs.access import memberships_for


def home(request: HttpRequest) -> HttpResponse:
    """Signed in: go to the chosen (or only) organisation. Otherwise: what ClearFrame is."""
    memberships = memberships_for(request.user)
    wanted = request.GET.get("org")
    if wanted and any(m.organisation.slug == wanted for m in memberships):
        return redirect("orgs:dashboard", org_slug=wanted)
    if len(memberships) == 1 and not request.GET.get("stay"):
        return redirect("orgs:dashboard", org_slug=memberships[0].organisation.slug)
    return render(request, "web/home.html", {"memberships": memberships})


@require_safe
def favicon(request: HttpRequest) -> HttpResponse:
    """Pages that name no icon (the admin's, a JSON or CSV response opened in a tab) get the site's own."""
    return redirect(static("clearframe/icon.svg"))
