"""localstripe for the local stack: its own address and state, plus the pieces it lacks.

localstripe (PyPI) is a stateful fake of Stripe's HTTP API. Run as `localstripe`, it listens on
`::` at a fixed port and pickles its store to /tmp/localstripe.pickle after every write, so two
stacks on one machine would share (and overwrite) each other's customers and charges. This
launcher runs localstripe's own aiohttp app with:

1. Its own address and state. It binds --host/--port; the store is kept in memory, or in --state
   FILE (the stack's data directory) when given, written through a temporary file and a rename.
2. Connect, which localstripe lacks: POST/GET /v1/accounts, GET /v1/accounts/{id}, POST/GET
   /v1/transfers (filters `destination`, `transfer_group`), GET /v1/transfers/{id}, POST/GET
   /v1/transfers/{id}/reversals. They are localstripe objects (its StripeObject, store, List and
   route helpers), so they are stateful and served by the same server as the payments they pay
   out. As on Stripe: a transfer needs a destination whose `transfers` capability is active
   (else 400 insufficient_capabilities_for_transfer) and funds, either from the charge named by
   `source_transaction` or from the platform's balance (localstripe's balance transactions less
   the transfers not reversed; else 400 balance_insufficient); a reversal cannot exceed what is
   left of the transfer. Accounts are active at once: a requested capability is `active`, there
   is no onboarding.
3. Stripe's parameter checks. A request to any operation in --openapi (the parts of Stripe's
   published OpenAPI document the platform uses, vendored in adapters/stripe-api/openapi/) is
   checked against that operation before localstripe sees it: an unknown parameter, a value of
   the wrong type or a missing required one is answered as Stripe answers it, 400
   invalid_request_error with `code` and `param`. (localstripe's own routes refuse unknown
   parameters too, as "Unexpected ...", but know nothing of types or of Stripe's names.)
4. Idempotency-Key. Stripe honours it on every POST; localstripe ignores it. Here a POST with a
   key that was used before with the same parameters gets the first answer again (with
   `Idempotent-Replayed: true`), with other parameters a 400 idempotency_error, and while the
   first is still running a 409. Keys are scoped by API key, as Stripe scopes them by account.
   As on Stripe, a request refused by the parameter checks saves no result.
5. `customer` on GET /v1/payment_intents, a filter Stripe has and localstripe does not.

Usage: python localstripe_launcher.py --host 127.0.0.1 --port PORT --openapi FILE [--state FILE]
"""

import argparse
import json
import logging
import os
import pickle
import re
import sys
from urllib.parse import parse_qsl

from aiohttp import web

from localstripe import server
from localstripe.errors import UserError
from localstripe.resources import (
    Event,
    List,
    PaymentIntent,
    StripeObject,
    Store,
    store,
    try_convert_to_bool,
    try_convert_to_int,
)
from localstripe.webhooks import schedule_webhook

# ------------------------------------------------------------------------------------------------
# 1. State


def keep_state_in(path):
    """Replaces localstripe's fixed /tmp pickle with `path`, or with nothing when None."""

    def load(self):
        if path is None:
            return
        try:
            with open(path, "rb") as file:
                saved = pickle.load(file)
        except FileNotFoundError:
            return
        dict.clear(self)
        dict.update(self, saved)

    def dump(self):
        if path is None:
            return
        temporary = f"{path}.{os.getpid()}.tmp"
        with open(temporary, "wb") as file:
            pickle.dump(dict(self), file, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(temporary, path)

    Store.try_load_from_disk = load
    Store.dump_to_disk = dump


# ------------------------------------------------------------------------------------------------
# 2. Connect


def invalid(message, param=None, code=None):
    contents = {}
    if param is not None:
        contents["param"] = param
    if code is not None:
        contents["code"] = code
    return UserError(400, message, contents)


def missing(kind, id, param):
    return invalid(f"No such {kind}: '{id}'", param=param, code="resource_missing")


def positive_amount(amount, param="amount"):
    amount = try_convert_to_int(amount)
    if type(amount) is not int or amount <= 0:
        raise invalid("This value must be greater than or equal to 1.", param=param,
                      code="parameter_invalid_integer")
    return amount


def objects(kind):
    return [value for key, value in store.items() if key.startswith(kind + ":")]


def available_balance(currency):
    """The platform's balance: localstripe's balance transactions (charges less refunds), less
    what transfers took and reversals have not given back."""
    received = sum(t.amount for t in objects("balance_transaction") if t.currency == currency)
    paid_out = sum(t.amount - t.amount_reversed for t in objects("transfer")
                   if t.currency == currency)
    return received - paid_out


class Account(StripeObject):
    object = "account"
    _id_prefix = "acct_"

    def __init__(self, type=None, email=None, business_profile=None, capabilities=None,
                 country=None, default_currency=None, metadata=None, **ignored):
        # The parameters were checked against Stripe's document; those that change nothing here
        # (company, individual, tos_acceptance, ...) are accepted and ignored.
        requested = sorted(
            name for name, value in (capabilities or {}).items()
            if isinstance(value, dict) and try_convert_to_bool(value.get("requested")) is True
        )
        super().__init__()
        self.type = type or "custom"
        self.email = email
        self.business_profile = {"name": (business_profile or {}).get("name")}
        self.country = country or "US"
        self.default_currency = (default_currency or "usd").lower()
        self.capabilities = {name: "active" for name in requested}
        self.charges_enabled = "card_payments" in requested
        self.payouts_enabled = "transfers" in requested
        self.details_submitted = True
        self.metadata = metadata or {}
        schedule_webhook(Event("account.updated", self))


class Transfer(StripeObject):
    object = "transfer"
    _id_prefix = "tr_"

    def __init__(self, amount=None, currency=None, destination=None, description=None,
                 metadata=None, source_transaction=None, source_type=None,
                 transfer_group=None, **ignored):
        if amount is None:
            raise invalid("Missing required param: amount.", "amount", "parameter_missing")
        amount = positive_amount(amount)
        currency = currency.lower()
        account = store.get("account:" + destination)
        if account is None:
            raise missing("destination", destination, "destination")
        if account.capabilities.get("transfers") != "active":
            raise invalid(
                "Your destination account needs to have at least one of the following "
                "capabilities enabled: transfers, crypto_transfers, legacy_payments",
                "destination", "insufficient_capabilities_for_transfer")
        if source_transaction is not None:
            charge = store.get("charge:" + source_transaction)
            if charge is None:
                raise missing("charge", source_transaction, "source_transaction")
            if charge.status != "succeeded" or charge.currency != currency:
                raise invalid(f"The source transaction {source_transaction} is not a "
                              f"succeeded charge in {currency}.", "source_transaction")
            left = charge.amount - charge.amount_refunded - sum(
                t.amount - t.amount_reversed for t in objects("transfer")
                if t.source_transaction == source_transaction)
            if amount > left:
                raise invalid(f"The transfer amount ({amount}) exceeds what is left of the "
                              f"source transaction {source_transaction} ({left}).", "amount")
        elif amount > available_balance(currency):
            raise invalid(
                "You have insufficient available funds in your Stripe account. Try adding "
                "funds directly to your available balance by creating Charges using the "
                "4000000000000077 test card.", None, "balance_insufficient")
        super().__init__()
        self.amount = amount
        self.amount_reversed = 0
        self.currency = currency
        self.description = description
        self.destination = destination
        self.destination_payment = None
        self.balance_transaction = None
        self.metadata = metadata or {}
        self.source_transaction = source_transaction
        self.source_type = source_type or "card"
        self.transfer_group = transfer_group
        schedule_webhook(Event("transfer.created", self))

    @property
    def reversed(self):
        return self.amount_reversed >= self.amount

    @property
    def reversals(self):
        return TransferReversal._list_of(self.id)

    @classmethod
    def _api_list_all(cls, url, destination=None, transfer_group=None, limit=None,
                      starting_after=None, **kwargs):
        li = super()._api_list_all(url, limit=limit, starting_after=starting_after, **kwargs)
        li._list = [t for t in li._list
                    if destination in (None, t.destination)
                    and transfer_group in (None, t.transfer_group)]
        return li


class TransferReversal(StripeObject):
    object = "transfer_reversal"
    _id_prefix = "trr_"

    def __init__(self, transfer=None, amount=None, description=None, metadata=None,
                 **ignored):
        reversed_transfer = store.get("transfer:" + str(transfer))
        if reversed_transfer is None:
            raise missing("transfer", transfer, "id")
        left = reversed_transfer.amount - reversed_transfer.amount_reversed
        if left == 0:
            raise invalid(f"Transfer {transfer} is already fully reversed.")
        amount = left if amount is None else positive_amount(amount)
        if amount > left:
            raise invalid(f"The amount to reverse ({amount}) is greater than what is left of "
                          f"transfer {transfer} to reverse ({left}).", "amount")
        super().__init__()
        self.amount = amount
        self.currency = reversed_transfer.currency
        self.transfer = reversed_transfer.id
        self.balance_transaction = None
        self.destination_payment_refund = None
        self.source_refund = None
        self.metadata = metadata or {}
        reversed_transfer.amount_reversed += amount
        store["transfer:" + reversed_transfer.id] = reversed_transfer
        schedule_webhook(Event("transfer.reversed", reversed_transfer))

    @classmethod
    def _list_of(cls, transfer, limit=None, starting_after=None):
        li = List("/v1/transfers/" + transfer + "/reversals", limit=limit,
                  starting_after=starting_after)
        li._list = [r for r in objects(cls.object) if r.transfer == transfer]
        return li

    @classmethod
    def _api_create_for(cls, id, **data):
        return cls(transfer=id, **data)

    @classmethod
    def _api_list_for(cls, id, limit=None, starting_after=None, **kwargs):
        if store.get("transfer:" + id) is None:
            raise missing("transfer", id, "id")
        return cls._list_of(id, limit=limit, starting_after=starting_after)


def add_connect_routes(app):
    for cls, url in ((Account, "/v1/accounts"), (Transfer, "/v1/transfers")):
        app.router.add_route("POST", url, server.api_create(cls, url))
        app.router.add_route("GET", url, server.api_list_all(cls, url))
        app.router.add_route("GET", url + "/{id}", server.api_retrieve(cls, url))
    reversals = "/v1/transfers/{id}/reversals"
    app.router.add_route("POST", reversals,
                         server.api_extra(TransferReversal._api_create_for, reversals))
    app.router.add_route("GET", reversals,
                         server.api_extra(TransferReversal._api_list_for, reversals))


# ------------------------------------------------------------------------------------------------
# 3. Stripe's parameter checks


class OpenApi:
    """The vendored operations, and Stripe's answer to a request that does not fit one."""

    def __init__(self, path):
        with open(path) as file:
            self.document = json.load(file)
        self.routes = []
        for template, item in self.document["paths"].items():
            pattern = re.compile("^" + re.sub(r"\\{[^/]+?\\}", "[^/]+", re.escape(template)) + "$")
            for method, operation in item.items():
                self.routes.append((method.upper(), pattern, operation))

    def operation(self, method, path):
        for route_method, pattern, operation in self.routes:
            if route_method == method and pattern.match(path):
                return operation
        return None

    def resolve(self, schema):
        reference = schema.get("$ref")
        if reference is None:
            return schema
        name = reference.rpartition("/")[2]
        return self.document["components"]["schemas"].get(name)

    def check(self, schema, name, path, value):
        """None when `value` at `path` fits `schema`, else (code, message)."""
        schema = self.resolve(schema)
        if schema is None:
            return None  # not vendored: opaque
        for combinator in ("anyOf", "oneOf"):
            if combinator in schema:
                problems = [self.check(branch, name, path, value)
                            for branch in schema[combinator]]
                if any(problem is None for problem in problems):
                    return None
                return problems[0]
        kind = schema.get("type")
        if path:
            first, rest = path[0], path[1:]
            if kind == "array":
                if first == "" or first.isdigit():
                    return self.check(schema.get("items", {}), name, rest, value)
                return ("parameter_unknown", f"Received unknown parameter: {name}")
            if kind in (None, "object"):
                properties = schema.get("properties", {})
                if first in properties:
                    return self.check(properties[first], name, rest, value)
                additional = schema.get("additionalProperties")
                if additional is True:
                    return None
                if isinstance(additional, dict):
                    return self.check(additional, name, rest, value)
            return ("parameter_unknown", f"Received unknown parameter: {name}")
        if kind == "integer" and not re.fullmatch(r"-?[0-9]+", value):
            return ("parameter_invalid_integer", f"Invalid integer: {value}")
        if kind == "number" and not re.fullmatch(r"-?[0-9]+(\.[0-9]+)?", value):
            return (None, f"Invalid decimal: {value}")
        if kind == "boolean" and value not in ("true", "false"):
            return (None, f"Invalid boolean: {value}")
        if kind in ("object", "array"):
            return (None, f"Invalid {kind}")
        allowed = schema.get("enum")
        if allowed and not schema.get("x-stripeBypassValidation") and value not in allowed:
            return (None, f"Invalid {name}: must be one of {', '.join(map(str, allowed))}")
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            return (None, f"Invalid {name}: must be at most {schema['maxLength']} characters")
        return None

    def refusal(self, operation, method, pairs):
        """None when the request's parameters fit the operation, else the UserError to raise."""
        if method == "POST":
            content = operation.get("requestBody", {}).get("content", {})
            body = content.get("application/x-www-form-urlencoded", {}).get("schema", {})
            declared = lambda first: body  # noqa: E731 - every parameter is in the one body
            required = body.get("required", [])
        else:
            parameters = {p["name"]: p.get("schema", {}) for p in operation.get("parameters", [])
                          if p.get("in") == "query"}
            declared = lambda first: (  # noqa: E731
                {"type": "object", "properties": {first: parameters[first]}}
                if first in parameters else {"type": "object", "properties": {}})
            required = [p["name"] for p in operation.get("parameters", [])
                        if p.get("in") == "query" and p.get("required")]
        given = set()
        for name, value in pairs:
            path = segments(name)
            given.add(path[0])
            problem = self.check(declared(path[0]), name, path, value)
            if problem is not None:
                code, message = problem
                return invalid(message, param=name, code=code)
        for name in required:
            if name not in given:
                return invalid(f"Missing required param: {name}.", param=name,
                               code="parameter_missing")
        return None


def segments(name):
    """`metadata[order]` -> ['metadata', 'order']; `expand[]` -> ['expand', '']."""
    head, _, rest = name.partition("[")
    return [head] + (re.findall(r"\[([^\]]*)\]", "[" + rest) if rest else [])


# What Stripe.js adds to its requests (a publishable key authenticates them) and Stripe accepts
# without its document listing them; localstripe strips them too.
NOT_IN_THE_DOCUMENT = {"key", "payment_user_agent", "referrer"}


def openapi_middleware(openapi):
    @web.middleware
    async def check_parameters(request, handler):
        operation = openapi.operation(request.method, request.path)
        form = request.content_type in ("", "application/x-www-form-urlencoded")
        # Stripe takes form bodies only; a JSON body (localstripe accepts those) is left to it.
        if operation is not None and (request.method != "POST" or form):
            if request.method == "POST":
                pairs = parse_qsl(await request.text(), keep_blank_values=True)
            else:
                pairs = list(request.query.items())
            pairs = [(name, value) for name, value in pairs
                     if segments(name)[0] not in NOT_IN_THE_DOCUMENT]
            refusal = openapi.refusal(operation, request.method, pairs)
            if refusal is not None:
                raise refusal
        return await handler(request)

    return check_parameters


# ------------------------------------------------------------------------------------------------
# 4. Idempotency-Key

# Keys whose first request is still running: a second one gets 409, as on Stripe.
in_flight = set()


@web.middleware
async def idempotency(request, handler):
    key = request.headers.get("Idempotency-Key")
    if request.method != "POST" or not key:
        return await handler(request)
    scope = f"idempotency:{server.get_api_key(request) or 'publishable'}:{key}"
    fingerprint = [request.method, request.path,
                   sorted(parse_qsl(await request.text(), keep_blank_values=True))]
    if scope in in_flight:
        return server.json_response({"error": {
            "type": "invalid_request_error", "code": "idempotency_key_in_use",
            "message": "There is currently another in-progress request using this "
                       f"Idempotent Key (that probably means you submitted twice, and the other "
                       f"request is still going through): {key}. Please try again later."}},
            status=409)
    saved = store.get(scope)
    if saved is not None:
        if saved["fingerprint"] != fingerprint:
            return server.json_response({"error": {
                "type": "idempotency_error",
                "message": "Keys for idempotent requests can only be used with the same "
                           "parameters they were first used with. Try using a key other than "
                           f"'{key}' if you meant to execute a different request."}},
                status=400)
        return web.Response(status=saved["status"], body=saved["body"],
                            content_type="application/json",
                            headers={"Idempotent-Replayed": "true"})
    in_flight.add(scope)
    try:
        try:
            response = await handler(request)
        except UserError as error:
            response = error.to_response()
        if isinstance(response, web.Response) and isinstance(response.body, bytes):
            store[scope] = {"fingerprint": fingerprint, "status": response.status,
                            "body": response.body}
        return response
    finally:
        in_flight.discard(scope)


# ------------------------------------------------------------------------------------------------
# 5. PaymentIntents by customer


def list_payment_intents(cls, url, customer=None, limit=None, starting_after=None, **kwargs):
    li = StripeObject._api_list_all.__func__(cls, url, limit=limit,
                                             starting_after=starting_after, **kwargs)
    if customer is not None:
        li._list = [intent for intent in li._list if intent.customer == customer]
    return li


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--openapi", required=True, help="the vendored Stripe document")
    parser.add_argument("--state", help="keep the store in this file (default: in memory)")
    args = parser.parse_args()

    keep_state_in(args.state)
    store.try_load_from_disk()
    PaymentIntent._api_list_all = classmethod(list_payment_intents)

    app = server.app
    add_connect_routes(app)
    app.middlewares.append(openapi_middleware(OpenApi(args.openapi)))
    app.middlewares.append(idempotency)

    logger = logging.getLogger("aiohttp.access")
    logger.setLevel(logging.INFO)
    logger.addHandler(logging.StreamHandler(sys.stdout))
    print(f"localstripe_launcher: {len(store)} objects restored from {args.state}"
          if args.state else "localstripe_launcher: state in memory", flush=True)
    # SIGTERM (the stack stopping) and SIGINT end it through aiohttp's graceful shutdown; open
    # keep-alive connections get a second, not aiohttp's default minute.
    web.run_app(app, host=args.host, port=args.port, access_log=logger, print=None,
                shutdown_timeout=1.0)


if __name__ == "__main__":
    main()
