"""Who is calling: an API key (``Authorization: Bearer cf_live_…``) or a signed-in session."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from django.http import Http404
from rest_framework import authentication, exceptions, permissions

from marketplace.api.keys import api_key_lookup, api_key_touch
from marketplace.api.models import ApiKey
from marketplace.orgs.access import memberships_for
from marketplace.orgs.models import Organisation, OrgKind


@dataclass
class KeyPrincipal:
    """``request.user`` for a key: enough for DRF, and never a Django user."""

    key: ApiKey
    is_authenticated: bool = True
    is_active: bool = True
    is_staff: bool = False
    pk = None

    def __str__(self) -> str:
        return f"API key {self.key.prefix}…"


def _basic_username(credentials: str) -> str:
    try:
        decoded = base64.b64decode(credentials, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return ""
    return decoded.partition(":")[0]


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """``Bearer <key>``; or HTTP Basic with the key as the user name and no password (``curl -u key:``),
    for tools that only speak Basic, such as mlcroissant's downloader."""

    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode(errors="replace")
        if not header:
            return None
        scheme, _, credentials = header.partition(" ")
        secret = credentials.strip()
        if scheme == "Basic":
            secret = _basic_username(secret)
        elif scheme != self.keyword:
            secret = ""
        if not secret:
            raise exceptions.AuthenticationFailed("Send the key as 'Authorization: Bearer cf_live_…'.")
        key = api_key_lookup(secret)
        if key is None:
            raise exceptions.AuthenticationFailed("This API key is not valid.")
        if key.revoked_at is not None:
            raise exceptions.AuthenticationFailed("This API key was revoked.")
        api_key_touch(key)
        return KeyPrincipal(key), key

    def authenticate_header(self, request):
        return 'Bearer realm="api"'


ORG_HEADER = "ClearFrame-Organisation"


def caller_organisation(request) -> Organisation:
    """The organisation the caller acts for: the key's, or for a session the one named in the
    ``ClearFrame-Organisation`` header (required if the user belongs to several)."""
    if isinstance(request.auth, ApiKey):
        return request.auth.organisation
    memberships = memberships_for(request.user)
    wanted = request.headers.get(ORG_HEADER)
    if wanted:
        for m in memberships:
            if m.organisation.slug == wanted:
                return m.organisation
        raise Http404("No such organisation")
    if len(memberships) == 1:
        return memberships[0].organisation
    raise exceptions.ValidationError(
        {ORG_HEADER: ["You belong to several organisations: name the one you act for in this header."]}
    )


def caller_label(request) -> str:
    if isinstance(request.auth, ApiKey):
        return f"key {request.auth.public_id}"
    return f"user {request.user.get_username()}"


class IsLicensee(permissions.BasePermission):
    message = "Only licensees (AI firms) can do this."

    def has_permission(self, request, view):
        if not (request.user and request.user.is_authenticated):
            return False
        org = caller_organisation(request)
        request.organisation = org
        return org.kind == OrgKind.LICENSEE


class IsMember(permissions.BasePermission):
    def has_permission(self, request, view):
        if not (request.user and request.user.is_authenticated):
            return False
        request.organisation = caller_organisation(request)
        return True
