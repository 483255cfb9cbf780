"""The Stripe webhook endpoint: verify, store once, acknowledge; a task does the work."""

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from marketplace.payments.gateway import SignatureError
from marketplace.payments.services import stripe_event_receive


@csrf_exempt
@require_POST
def stripe_webhook(request: HttpRequest) -> HttpResponse:
    try:
        event, created = stripe_event_receive(request.body, request.headers.get("Stripe-Signature", ""))
    except SignatureError as exc:
        return JsonResponse({"error": f"signature verification failed: {exc}"}, status=400)
    return JsonResponse({"received": event.event_id, "duplicate": not created})
