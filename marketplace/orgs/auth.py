"""Sign-in by email address, in whatever case it is typed."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend


class EmailBackend(ModelBackend):
    """``Studio@Northlight.example`` signs in as ``studio@northlight.example``: an address is registered once
    whatever its case (``user_register``), so at most one account matches. Two accounts that differ only in case
    (made before that rule) are left to the exact match."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is not None:
            username = username.strip()
            matches = list(
                get_user_model().objects.filter(username__iexact=username).values_list("username", flat=True)[:2]
            )
            if len(matches) == 1:
                username = matches[0]
        return super().authenticate(request, username=username, password=password, **kwargs)
