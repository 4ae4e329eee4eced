"""Plain Django views of the health-code app: the published key set, and the printed card as a
download (shared by the API and the portal's desk page).

The published key set: GET /.well-known/healthcode-keys.json (docs/design.md §6).

Plain Django (no API auth, no session): offline verifiers and clinic scanners fetch it anonymously
and proxies may cache it. Public key halves only, each with its validity and status. A key is
published a week before it signs (HEALTHCODE_KEY_PUBLISH_AHEAD_DAYS), far longer than max-age.

An empty set is never cacheable: a verifier or proxy that kept it would refuse every code until
max-age passed, although `migrate` (or the next rotation) publishes a key at once.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.cache import patch_cache_control
from django.views.decorators.http import require_GET

from healthcodes import keys
from healthcodes.conf import setting
from healthcodes.services import PrintedCard


@require_GET
def healthcode_keys(request: HttpRequest) -> JsonResponse:
    document = keys.key_set_document()
    response = JsonResponse(document)
    if document.get("keys"):
        patch_cache_control(
            response, public=True, max_age=int(setting("HEALTHCODE_KEYSET_MAX_AGE_SECONDS"))
        )
    else:
        patch_cache_control(response, no_store=True)
    return response


def printed_card_response(printed: PrintedCard) -> HttpResponse:
    """The printed card as a download that no cache keeps (it is a valid code for a year)."""
    response = HttpResponse(printed.content, content_type=printed.content_type)
    response["Content-Disposition"] = f'attachment; filename="{printed.filename}"'
    response["Cache-Control"] = "no-store"
    return response
