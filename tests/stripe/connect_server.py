"""A small stateful Stripe-compatible server for what localstripe lacks: Connect.

Stripe's test mode cannot be reached from the test machines, so the official ``stripe`` SDK is pointed here
(``STRIPE_CONNECT_API_BASE``). It keeps Express accounts, account links, transfers, payouts made on connected
accounts (``Stripe-Account`` header) and balance transactions, honours ``Idempotency-Key``, answers errors the
way Stripe does, and sends events signed exactly as Stripe signs them (``Stripe-Signature: t=…,v1=…``).

Test controls, under ``/_test/``: finish an account's onboarding, settle a payout as paid or failed, reverse a
transfer, and set where webhooks go.

    python -m tests.stripe.connect_server --port 8421
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import hmac
import itertools
import json
import secrets
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlparse


class State:
    def __init__(self):
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        self.accounts: dict[str, dict] = {}
        self.transfers: dict[str, dict] = {}
        self.payouts: dict[str, dict] = {}
        self.balance_transactions: list[dict] = []
        self.idempotent: dict[tuple, tuple[int, dict, str]] = {}
        self.webhook: dict = {}
        self.events: list[dict] = []
        self.outbox: list[tuple[dict, dict]] = []
        self.counter = itertools.count(1)


STATE = State()


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(8)}"


def parse_form(body: str) -> dict:
    """Stripe's form encoding: ``a=1&metadata[k]=v&capabilities[transfers][requested]=true``."""
    out: dict = {}
    for key, value in parse_qsl(body, keep_blank_values=True):
        parts = key.replace("]", "").split("[")
        node = out
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return out


def error(status: int, message: str, param: str | None = None, code: str | None = None) -> tuple[int, dict]:
    body = {"error": {"type": "invalid_request_error", "message": message}}
    if param:
        body["error"]["param"] = param
    if code:
        body["error"]["code"] = code
    return status, body


def send_event(type_: str, obj: dict, account: str | None = None) -> None:
    event = {
        "id": new_id("evt"), "object": "event", "api_version": "2025-09-30.clover", "created": int(time.time()),
        "type": type_, "data": {"object": obj}, "livemode": False, "pending_webhooks": 1,
    }  # fmt: skip
    if account:
        event["account"] = account
    STATE.events.append(event)
    if STATE.webhook:
        STATE.outbox.append((event, dict(STATE.webhook)))


def deliver(event: dict, hook: dict) -> None:
    """Outside the lock: the receiver may call back into this server while it handles the event."""
    payload = json.dumps(event).encode()
    timestamp = int(time.time())
    signature = hmac.new(hook["secret"].encode(), f"{timestamp}.".encode() + payload, hashlib.sha256).hexdigest()
    request = urllib.request.Request(
        hook["url"], data=payload,
        headers={"Content-Type": "application/json", "Stripe-Signature": f"t={timestamp},v1={signature}"},
    )  # fmt: skip
    with contextlib.suppress(OSError):  # Stripe would retry; tests can read /_test/state
        urllib.request.urlopen(request, timeout=10).close()


def balance_transaction(type_: str, amount: int, currency: str, source: str, account: str | None) -> str:
    txn = {
        "id": new_id("txn"), "object": "balance_transaction", "type": type_, "amount": amount, "fee": 0,
        "net": amount, "currency": currency, "source": source, "created": int(time.time()),
        "available_on": int(time.time()), "status": "available", "account": account,
        "seq": len(STATE.balance_transactions), "description": f"{type_} {source}",
    }  # fmt: skip
    STATE.balance_transactions.append(txn)
    return txn["id"]


def handle(method: str, path: str, form: dict, headers) -> tuple[int, dict]:
    parts = [p for p in path.split("/") if p]
    account_header = headers.get("Stripe-Account")
    if parts[:2] == ["v1", "accounts"]:
        if method == "POST" and len(parts) == 2:
            account = {
                "id": new_id("acct"), "object": "account", "type": form.get("type", "express"),
                "country": form.get("country", "FR"), "email": form.get("email"), "details_submitted": False,
                "payouts_enabled": False, "charges_enabled": False, "metadata": form.get("metadata", {}),
                "capabilities": {"transfers": "inactive"},
                "settings": {"payouts": {"schedule": {"interval": "manual"}}},
                "created": int(time.time()),
            }  # fmt: skip
            STATE.accounts[account["id"]] = account
            return 200, account
        if len(parts) == 3:
            account = STATE.accounts.get(parts[2])
            return (200, account) if account else error(404, f"No such account: '{parts[2]}'", "account")
    if parts == ["v1", "account_links"] and method == "POST":
        account = STATE.accounts.get(form.get("account", ""))
        if account is None:
            return error(400, f"No such account: '{form.get('account')}'", "account")
        for name in ("refresh_url", "return_url"):
            if not form.get(name):
                return error(400, f"Missing required param: {name}.", name)
        token = secrets.token_hex(6)
        return 200, {
            "object": "account_link", "created": int(time.time()), "expires_at": int(time.time()) + 300,
            "url": f"https://connect.stripe.test/setup/e/{account['id']}/{token}",
        }  # fmt: skip
    if parts == ["v1", "transfers"] and method == "POST":
        destination = STATE.accounts.get(form.get("destination", ""))
        if destination is None:
            return error(400, f"No such destination: '{form.get('destination')}'", "destination")
        if not destination["payouts_enabled"]:
            return error(
                400, "Your destination account needs to have at least one of the following capabilities enabled: "
                "transfers, crypto_transfers, legacy_payments", "destination", "insufficient_capabilities_for_transfer",
            )  # fmt: skip
        amount = int(form["amount"])
        transfer = {
            "id": new_id("tr"), "object": "transfer", "amount": amount, "currency": form["currency"],
            "destination": destination["id"], "metadata": form.get("metadata", {}), "reversed": False,
            "amount_reversed": 0, "created": int(time.time()), "transfer_group": form.get("transfer_group"),
        }  # fmt: skip
        transfer["balance_transaction"] = balance_transaction(
            "transfer", -amount, form["currency"], transfer["id"], None
        )
        STATE.transfers[transfer["id"]] = transfer
        send_event("transfer.created", transfer)
        return 200, transfer
    if parts[:2] == ["v1", "transfers"] and len(parts) == 3:
        transfer = STATE.transfers.get(parts[2])
        return (200, transfer) if transfer else error(404, f"No such transfer: '{parts[2]}'", "id")
    if parts == ["v1", "payouts"] and method == "POST":
        account = STATE.accounts.get(account_header or "")
        if account is None:
            return error(400, "Payouts here are made on a connected account: send the Stripe-Account header.")
        payout = {
            "id": new_id("po"), "object": "payout", "amount": int(form["amount"]), "currency": form["currency"],
            "status": "pending", "metadata": form.get("metadata", {}), "created": int(time.time()),
            "arrival_date": int(time.time()) + 86400, "failure_code": None, "failure_message": None,
            "account": account["id"],
        }  # fmt: skip
        STATE.payouts[payout["id"]] = payout
        return 200, {k: v for k, v in payout.items() if k != "account"}
    if parts == ["v1", "balance_transactions"] and method == "GET":
        return 200, list_page([t for t in STATE.balance_transactions if t["account"] == account_header], form)
    return error(404, f"Unrecognized request URL ({method}: {path}).")


def list_page(items: list[dict], query: dict) -> dict:
    """Newest first, with Stripe's cursors: ``starting_after`` pages back in time, ``ending_before`` forward."""
    items = sorted(items, key=lambda i: (i["created"], i["seq"]), reverse=True)
    ids = [i["id"] for i in items]
    limit = int(query.get("limit", 10))
    after, before = query.get("starting_after"), query.get("ending_before")
    if before:
        newer = items[: ids.index(before)] if before in ids else []
        page = newer[-limit:]
        return {"object": "list", "data": page, "has_more": len(newer) > limit, "url": "/v1/balance_transactions"}
    if after:
        items = items[ids.index(after) + 1 :] if after in ids else []
    return {"object": "list", "data": items[:limit], "has_more": len(items) > limit, "url": "/v1/balance_transactions"}


def control(path: str, form: dict) -> tuple[int, dict]:
    parts = [p for p in path.split("/") if p][1:]
    if parts == ["reset"]:
        STATE.reset()
        return 200, {}
    if parts == ["webhook"]:
        STATE.webhook = {"url": form["url"], "secret": form["secret"]}
        return 200, STATE.webhook
    if parts[:1] == ["accounts"] and parts[2:] == ["complete"]:
        account = STATE.accounts[parts[1]]
        account.update(details_submitted=True, payouts_enabled=True, charges_enabled=True)
        account["capabilities"]["transfers"] = "active"
        send_event("account.updated", account, account["id"])
        return 200, account
    if parts[:1] == ["payouts"] and len(parts) == 3 and parts[2] in ("paid", "failed"):
        payout = STATE.payouts[parts[1]]
        payout["status"] = parts[2]
        if parts[2] == "failed":
            payout.update(failure_code="account_closed", failure_message="The bank account has been closed.")
        else:
            balance_transaction("payout", -payout["amount"], payout["currency"], payout["id"], payout["account"])
        send_event(f"payout.{parts[2]}", {k: v for k, v in payout.items() if k != "account"}, payout["account"])
        return 200, payout
    if parts[:1] == ["transfers"] and parts[2:] == ["reverse"]:
        transfer = STATE.transfers[parts[1]]
        transfer.update(reversed=True, amount_reversed=transfer["amount"])
        balance_transaction("transfer_cancel", transfer["amount"], transfer["currency"], transfer["id"], None)
        send_event("transfer.reversed", transfer)
        return 200, transfer
    if parts == ["platform_payouts"]:
        # Stripe paying the platform's own balance out to its bank.
        payout_id = new_id("po")
        balance_transaction("payout", -int(form["amount"]), form.get("currency", "eur"), payout_id, None)
        return 200, {"id": payout_id, "amount": int(form["amount"])}
    if parts == ["balance_transactions"]:
        # What the platform's balance shows for activity that another fake handled (card payments on localstripe).
        amount, fee = int(form["amount"]), int(form.get("fee", 0))
        txn_id = balance_transaction(form["type"], amount, form.get("currency", "eur"), form["source"], None)
        txn = next(t for t in STATE.balance_transactions if t["id"] == txn_id)
        txn.update(fee=fee, net=amount - fee)
        return 200, txn
    if parts == ["state"]:
        return 200, {"transfers": list(STATE.transfers.values()), "payouts": list(STATE.payouts.values()),
                     "accounts": list(STATE.accounts.values()), "events": STATE.events}  # fmt: skip
    return 404, {"error": {"message": f"unknown control {path}"}}


class Handler(BaseHTTPRequestHandler):
    def _respond(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        url = urlparse(self.path)
        form = parse_form(body if method == "POST" else url.query)
        with STATE.lock:
            if url.path.startswith("/_test/"):
                status, payload = control(url.path, form)
            else:
                key = self.headers.get("Idempotency-Key")
                scope = (key, self.headers.get("Stripe-Account"), url.path) if key and method == "POST" else None
                if scope and scope in STATE.idempotent:
                    status, payload, seen_body = STATE.idempotent[scope]
                    if seen_body != body:
                        status, payload = error(
                            400, "Keys for idempotent requests can only be used with the same parameters they were "
                            "first used with.", code="idempotency_key_in_use",
                        )  # fmt: skip
                else:
                    status, payload = handle(method, url.path, form, self.headers)
                    if scope:
                        STATE.idempotent[scope] = (status, payload, body)
            outbox, STATE.outbox = STATE.outbox, []
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Request-Id", f"req_{next(STATE.counter)}")
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()
        for event, hook in outbox:
            deliver(event, hook)

    def do_GET(self):
        self._respond("GET")

    def do_POST(self):
        self._respond("POST")

    def do_DELETE(self):
        self._respond("DELETE")

    def log_message(self, *args):
        pass


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    ThreadingHTTPServer(("127.0.0.1", args.port), Handler).serve_forever()


if __name__ == "__main__":
    main()
