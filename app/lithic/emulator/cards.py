"""Cards: create (with replace and Idempotency-Key), get, list, update, reissue, renew."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import falcon

from .errors import LithicError, bad_request, not_found, unprocessable
from .fulfilment import start_fulfilment
from .models import Card
from .pagination import paginate
from .spending import card_velocity
from .util import Body, check_uuid, luhn_check_digit, new_token, random_digits, read_json, utcnow

if TYPE_CHECKING:
    from .state import Emulator

logger = logging.getLogger(__name__)

CARD_TYPES = ("MERCHANT_LOCKED", "PHYSICAL", "SINGLE_USE", "VIRTUAL", "UNLOCKED", "DIGITAL_WALLET")
CARD_STATES = ("CLOSED", "OPEN", "PAUSED", "PENDING_ACTIVATION", "PENDING_FULFILLMENT")
SUBSTATUSES = (
    "LOST",
    "COMPROMISED",
    "DAMAGED",
    "END_USER_REQUEST",
    "ISSUER_REQUEST",
    "NOT_ACTIVE",
    "SUSPICIOUS_ACTIVITY",
    "INTERNAL_REVIEW",
    "EXPIRED",
    "UNDELIVERABLE",
    "OTHER",
)
SHIPPING_METHODS = (
    "2_DAY",
    "BULK",
    "EXPEDITED",
    "EXPRESS",
    "PRIORITY",
    "STANDARD",
    "STANDARD_WITH_TRACKING",
)
DURATIONS = ("ANNUALLY", "FOREVER", "MONTHLY", "TRANSACTION")
# The sandbox's card programs; the first is the default.
DEFAULT_CARD_PROGRAM = "00000000-0000-0000-1000-000000000000"
CARD_PROGRAMS = (DEFAULT_CARD_PROGRAM, "00000000-0000-0000-2000-000000000000")
# Types whose replacement, renewal and PIN make sense (the deprecated two behave like VIRTUAL).
REPLACEABLE = ("PHYSICAL", "VIRTUAL", "UNLOCKED", "DIGITAL_WALLET")
MAX_REISSUES_AND_RENEWALS = 8
EXPIRY_YEARS = 5
# Which states a card may be PATCHed from, per target state (CLOSED: from any but CLOSED).
ALLOWED_FROM = {
    "OPEN": ("OPEN", "PAUSED", "PENDING_ACTIVATION"),
    "PAUSED": ("OPEN", "PAUSED"),
    "CLOSED": ("OPEN", "PAUSED", "PENDING_ACTIVATION", "PENDING_FULFILLMENT"),
}
# Sandbox PANs are Visa test-range numbers.
PAN_PREFIX = "411111"


def _shipping_address(body: Body | None) -> dict[str, Any] | None:
    if body is None:
        return None
    limits = {
        "first_name": (1, 24, True),
        "last_name": (1, 24, True),
        "address1": (1, 40, True),
        "address2": (1, 40, False),
        "city": (1, 30, True),
        "state": (0, 24, True),
        "postal_code": (1, 12, True),
        "country": (3, 3, True),
        "email": (5, 50, False),
        "phone_number": (8, 16, False),
        "line2_text": (0, 26, False),
    }
    address = {}
    for name, (low, high, required) in limits.items():
        value = body.str(name, required=required, min_len=low, max_len=high)
        if value is not None:
            address[name] = value
    return address


def _carrier(body: Body | None) -> dict[str, Any] | None:
    if body is None:
        return None
    return {"qr_code_url": body.str("qr_code_url")}


def _expiry(body: Body, current: tuple[str, str] | None = None) -> tuple[str, str]:
    """Validate exp_month/exp_year, or generate them five years out."""
    month = body.str("exp_month", min_len=2, max_len=2)
    year = body.str("exp_year", min_len=4, max_len=4)
    now = utcnow()
    if month is None and year is None:
        years = EXPIRY_YEARS
        # A renewal must change the date even when the card was issued this month.
        if current is not None and current == (f"{now.month:02d}", str(now.year + years)):
            years += 1
        return f"{now.month:02d}", str(now.year + years)
    if month is None or year is None:
        raise bad_request("exp_month and exp_year must be provided together")
    if not (month.isdigit() and year.isdigit() and 1 <= int(month) <= 12):
        raise bad_request("exp_month must be MM and exp_year YYYY")
    if (int(year), int(month)) < (now.year, now.month):
        raise bad_request("The expiration date must be in the future")
    if (int(year), int(month)) > (now.year + EXPIRY_YEARS + 1, now.month):
        raise bad_request("The expiration date may be at most five years in the future")
    return month, year


def _new_pan(emulator: Emulator) -> str:
    while True:
        partial = PAN_PREFIX + random_digits(9)
        pan = partial + luhn_check_digit(partial)
        if pan not in emulator.cards_by_pan:
            return pan


def _new_cvv(old: str | None = None) -> str:
    while True:
        cvv = random_digits(3)
        if cvv != old:
            return cvv


def get_card(emulator: Emulator, token: str, name: str = "card_token") -> Card:
    """Return the card or raise 400/404."""
    check_uuid(name, token)
    card = emulator.cards.get(token)
    if card is None:
        raise not_found()
    return card


def card_updated(emulator: Emulator, card: Card, previous: dict[str, Any]) -> None:
    """Emit `card.updated` with the previous values of the fields that changed."""
    emulator.emit(
        "card.updated",
        {"card_token": card.token, "state": card.state, "previous_fields": previous},
    )


def create_card(emulator: Emulator, data: dict[str, Any]) -> Card:
    """`POST /v1/cards`; with `replacement_for` the old card is closed at once."""
    body = Body(data)
    type_ = body.str("type", required=True, enum=CARD_TYPES)
    account_token = body.uuid("account_token")
    program = body.uuid("card_program_token") or DEFAULT_CARD_PROGRAM
    if program not in CARD_PROGRAMS:
        raise bad_request("card_program_token is not a card program of this program")
    memo = body.str("memo", default="")
    spend_limit = body.int("spend_limit", minimum=0, default=0)
    duration = body.str("spend_limit_duration", enum=DURATIONS, default="TRANSACTION")
    state = body.str("state", enum=("OPEN", "PAUSED"), default="OPEN")
    exp_month, exp_year = _expiry(body)
    pin = body.str("pin")
    product_id = body.str("product_id")
    shipping_address = _shipping_address(body.obj("shipping_address"))
    shipping_method = body.str("shipping_method", enum=SHIPPING_METHODS)
    carrier = _carrier(body.obj("carrier"))
    replacement_for = body.uuid("replacement_for")
    replacement_substatus = body.str("replacement_substatus", enum=SUBSTATUSES)
    replacement_comment = body.str("replacement_comment")
    replacement_account_token = body.uuid("replacement_account_token")
    bulk_order_token = body.uuid("bulk_order_token")
    digital_card_art_token = body.uuid("digital_card_art_token")
    tags = {k: v for k, v in (body.str_map("tags") or {}).items() if v is not None}

    with emulator.lock:
        old = None
        if replacement_for is not None:
            old = emulator.cards.get(replacement_for)
            if old is None:
                raise not_found("The card to replace was not found.")
            if old.type not in REPLACEABLE:
                raise unprocessable(f"Cards of type {old.type} cannot be replaced.")
            if (
                account_token
                and account_token != old.account_token
                and not (replacement_account_token)
            ):
                raise bad_request("replacement_for refers to a card of another account")
            # A replacement keeps the old card's type and, unless told otherwise, its address.
            type_ = old.type
            account_token = replacement_account_token or account_token or old.account_token
            shipping_address = shipping_address or old.shipping_address
            shipping_method = shipping_method or old.shipping_method
            product_id = product_id or old.product_id
            carrier = carrier or old.carrier
        if account_token is None:
            raise bad_request("account_token is required")
        account = emulator.accounts.get(account_token)
        if account is None:
            raise not_found("Account not found.")
        if account.state == "CLOSED":
            raise unprocessable("Cannot create a card for a closed account.")
        holder = emulator.account_holders.get(account.account_holder_token or "")
        if holder is not None and holder.status != "ACCEPTED":
            raise unprocessable("The account holder has not passed verification.")
        physical = type_ == "PHYSICAL"
        if physical and shipping_address is None:
            raise bad_request("shipping_address is required for PHYSICAL cards")

        pan = _new_pan(emulator)
        card = Card(
            token=new_token(),
            seq=emulator.next_seq(),
            created=utcnow(),
            account_token=account_token,
            card_program_token=program,
            type=type_,
            state=state,
            pan=pan,
            cvv=_new_cvv(),
            exp_month=exp_month,
            exp_year=exp_year,
            memo=memo,
            spend_limit=spend_limit,
            spend_limit_duration=duration,
            pin_status="OK" if pin else "NOT_SET",
            product_id=product_id if physical else None,
            replacement_for=replacement_for,
            bulk_order_token=bulk_order_token if physical else None,
            digital_card_art_token=digital_card_art_token,
            tags=tags,
            shipping_address=shipping_address if physical else None,
            shipping_method=(shipping_method or "STANDARD") if physical else None,
            carrier=carrier if physical else None,
        )
        emulator.cards[card.token] = card
        emulator.cards_by_pan[pan] = card.token
        if physical:
            # Physical cards start in fulfilment whatever state was asked for.
            start_fulfilment(emulator, card)
        emulator.emit(
            "card.created", {"card_token": card.token, "replacement_for": replacement_for}
        )

        if old is not None and old.state != "CLOSED":
            previous = {"state": old.state, "substatus": old.substatus}
            old.state = "CLOSED"
            old.substatus = replacement_substatus
            if replacement_comment is not None:
                previous["comment"] = old.comment
                old.comment = replacement_comment
            card_updated(emulator, old, previous)
    logger.info(
        "card created",
        extra={"card_token": card.token, "card_type": type_, "replacement_for": replacement_for},
    )
    return card


def update_card(emulator: Emulator, card: Card, data: dict[str, Any]) -> None:
    """Apply a PATCH: state machine, limits, memo, PIN, substatus."""
    if card.state == "CLOSED":
        # Lithic refuses any change to a closed card with 405.
        raise LithicError(405, "Card is closed and cannot be modified.")
    body = Body(data)
    state = body.str("state", enum=tuple(ALLOWED_FROM))
    changes: dict[str, Any] = {
        "memo": body.str("memo"),
        "spend_limit": body.int("spend_limit", minimum=0),
        "spend_limit_duration": body.str("spend_limit_duration", enum=DURATIONS),
        "substatus": body.str("substatus", enum=SUBSTATUSES),
        "comment": body.str("comment"),
        "digital_card_art_token": body.uuid("digital_card_art_token"),
        "network_program_token": body.uuid("network_program_token"),
    }
    pin = body.str("pin")
    pin_status = body.str("pin_status", enum=("OK",))
    tags = body.str_map("tags")

    if state is not None and card.state not in ALLOWED_FROM[state]:
        raise unprocessable(f"Cannot change card state from {card.state} to {state}.")
    if state is not None:
        changes["state"] = state
    if pin is not None or pin_status is not None:
        changes["pin_status"] = "OK"

    previous: dict[str, Any] = {}
    for name, value in changes.items():
        if value is not None and getattr(card, name) != value:
            previous[name] = getattr(card, name)
            setattr(card, name, value)
    if tags is not None:
        merged = dict(card.tags)
        for key, value in tags.items():
            # A null value removes the tag.
            if value is None:
                merged.pop(key, None)
            else:
                merged[key] = value
        if merged != card.tags:
            previous["tags"] = card.tags
            card.tags = merged
    if previous:
        card_updated(emulator, card, previous)


def _check_reissue_cap(card: Card) -> None:
    if card.reissue_renew_count >= MAX_REISSUES_AND_RENEWALS:
        raise unprocessable("A card can be reissued or renewed at most 8 times.")


def reissue_card(emulator: Emulator, card: Card, data: dict[str, Any]) -> None:
    """Print a duplicate physical card: same token, PAN, expiry and CVV."""
    body = Body(data)
    shipping_address = _shipping_address(body.obj("shipping_address"))
    shipping_method = body.str("shipping_method", enum=SHIPPING_METHODS)
    product_id = body.str("product_id")
    carrier = _carrier(body.obj("carrier"))
    if card.type != "PHYSICAL":
        raise unprocessable("Only PHYSICAL cards can be reissued.")
    if card.state == "CLOSED":
        raise unprocessable("A closed card cannot be reissued.")
    _check_reissue_cap(card)

    card.reissue_renew_count += 1
    card.shipping_address = shipping_address or card.shipping_address
    card.shipping_method = shipping_method or card.shipping_method
    card.product_id = product_id or card.product_id
    card.carrier = carrier or card.carrier
    previous_state = start_fulfilment(emulator, card)
    emulator.emit("card.reissued", {"card_token": card.token})
    if previous_state != card.state:
        card_updated(emulator, card, {"state": previous_state})


def renew_card(emulator: Emulator, card: Card, data: dict[str, Any]) -> None:
    """Give a card a new expiry and CVV; physical cards go through fulfilment again."""
    body = Body(data)
    physical = card.type == "PHYSICAL"
    # Shipping fields matter only for physical cards; a virtual renewal ignores them.
    shipping_address = physical and _shipping_address(body.obj("shipping_address", required=True))
    shipping_method = body.str("shipping_method", enum=SHIPPING_METHODS)
    product_id = body.str("product_id")
    carrier = physical and _carrier(body.obj("carrier"))
    exp_month, exp_year = _expiry(body, current=(card.exp_month, card.exp_year))
    if card.type not in REPLACEABLE:
        raise unprocessable(f"Cards of type {card.type} cannot be renewed.")
    if card.state == "CLOSED":
        raise unprocessable("A closed card cannot be renewed.")
    if physical:
        _check_reissue_cap(card)

    previous_exp = (card.exp_month, card.exp_year)
    card.exp_month, card.exp_year = exp_month, exp_year
    card.cvv = _new_cvv(card.cvv)
    previous_state = card.state
    if physical:
        card.reissue_renew_count += 1
        card.shipping_address = shipping_address
        card.shipping_method = shipping_method or card.shipping_method
        card.product_id = product_id or card.product_id
        card.carrier = carrier or card.carrier
        start_fulfilment(emulator, card)
    emulator.emit(
        "card.renewed",
        {
            "card_token": card.token,
            "exp_month": exp_month,
            "exp_year": exp_year,
            "previous_exp_month": previous_exp[0],
            "previous_exp_year": previous_exp[1],
        },
    )
    if previous_state != card.state:
        card_updated(emulator, card, {"state": previous_state})


def convert_to_physical(emulator: Emulator, card: Card, data: dict[str, Any]) -> None:
    """Turn an OPEN virtual card into a physical one with the same token and PAN."""
    body = Body(data)
    shipping_address = _shipping_address(body.obj("shipping_address", required=True))
    shipping_method = body.str("shipping_method", enum=SHIPPING_METHODS, default="STANDARD")
    product_id = body.str("product_id")
    carrier = _carrier(body.obj("carrier"))
    if card.type not in ("VIRTUAL", "UNLOCKED", "DIGITAL_WALLET") or card.state != "OPEN":
        raise unprocessable("Only OPEN virtual cards can be converted to physical cards.")
    card.type = "PHYSICAL"
    card.shipping_address = shipping_address
    card.shipping_method = shipping_method
    card.product_id = product_id
    card.carrier = carrier
    previous_state = start_fulfilment(emulator, card)
    emulator.emit("card.converted", {"card_token": card.token})
    card_updated(emulator, card, {"state": previous_state, "type": "VIRTUAL"})


def card_spend_limits(emulator: Emulator, card: Card) -> dict[str, Any]:
    """The card's limit per window, what was spent in each and what is left."""
    spent = card_velocity(emulator, card.token)
    window = {"MONTHLY": "monthly", "ANNUALLY": "annually", "FOREVER": "forever"}.get(
        card.spend_limit_duration
    )
    limits: dict[str, int] = {}
    available: dict[str, int] = {}
    if window is not None and card.spend_limit > 0:
        limits[window] = card.spend_limit
        available[window] = max(card.spend_limit - spent[window], 0)
    return {"available_spend_limit": available, "spend_limit": limits, "spend_velocity": spent}


class CardsResource:
    """`/v1/cards`."""

    def __init__(self, emulator: Emulator):
        self._emulator = emulator

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        data = read_json(req)
        key = req.get_header("Idempotency-Key")
        if key is not None:
            check_uuid("Idempotency-Key", key)
        # Same key and body: the card made the first time comes back, and no new card.
        resp.media = self._emulator.idempotent(
            "cards", key, data, lambda: create_card(self._emulator, data).to_json(pci=True)
        )

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        account_token = req.get_param("account_token")
        state = req.get_param("state")
        memo = req.get_param("memo")
        if account_token:
            check_uuid("account_token", account_token)
        if state and state not in CARD_STATES:
            raise bad_request(f"state must be one of: {', '.join(CARD_STATES)}")
        emulator = self._emulator
        with emulator.lock:
            rows = [
                card
                for card in emulator.cards.values()
                if (not account_token or card.account_token == account_token)
                and (not state or card.state == state)
                and (not memo or memo.lower() in card.memo.lower())
            ]
            resp.media = paginate(
                rows, req.params, emulator.cards.get, lambda card: card.to_json(pci=False)
            )


class CardResource:
    """`/v1/cards/{card_token}`."""

    def __init__(self, emulator: Emulator):
        self._emulator = emulator

    def on_get(self, req: falcon.Request, resp: falcon.Response, card_token: str) -> None:
        with self._emulator.lock:
            resp.media = get_card(self._emulator, card_token).to_json(pci=True)

    def on_patch(self, req: falcon.Request, resp: falcon.Response, card_token: str) -> None:
        data = read_json(req)
        with self._emulator.lock:
            card = get_card(self._emulator, card_token)
            update_card(self._emulator, card, data)
            resp.media = card.to_json(pci=True)


class CardActionResource:
    """`/v1/cards/{card_token}/reissue`, `/renew` and `/convert_physical`."""

    def __init__(self, emulator: Emulator, action):
        self._emulator = emulator
        self._action = action

    def on_post(self, req: falcon.Request, resp: falcon.Response, card_token: str) -> None:
        data = read_json(req)
        with self._emulator.lock:
            card = get_card(self._emulator, card_token)
            self._action(self._emulator, card, data)
            resp.media = card.to_json(pci=True)


class CardSpendLimitsResource:
    """`/v1/cards/{card_token}/spend_limits`."""

    def __init__(self, emulator: Emulator):
        self._emulator = emulator

    def on_get(self, req: falcon.Request, resp: falcon.Response, card_token: str) -> None:
        with self._emulator.lock:
            card = get_card(self._emulator, card_token)
            resp.media = card_spend_limits(self._emulator, card)


class CardSearchResource:
    """`/v1/cards/search_by_pan` (POST keeps the PAN out of URLs and logs)."""

    def __init__(self, emulator: Emulator):
        self._emulator = emulator

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        pan = Body(read_json(req)).str("pan", required=True)
        with self._emulator.lock:
            token = self._emulator.cards_by_pan.get(pan)
            if token is None:
                raise not_found()
            resp.media = self._emulator.cards[token].to_json(pci=True)
