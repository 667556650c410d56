"""The executable schema: schema.graphql bound to resolvers that call the domain services."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from ariadne import (
    MutationType,
    ObjectType,
    QueryType,
    ScalarType,
    load_schema_from_path,
    make_executable_schema,
)

from app.accounts import service as accounts
from app.auth import ADMIN, CUSTOMER, INTERNAL, Principal
from app.cards import service as cards
from app.cards.models import Card, CardEvent
from app.errors import NotFound
from app.operations.models import Operation
from app.payments import autopay
from app.payments import service as payments
from app.payments.models import AutopayRun, Payment, PaymentEvent
from app.transactions import ledger
from app.transactions import service as transactions
from app.transactions.models import CardTransaction, TransactionEvent

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "schema.graphql"

money = ScalarType("Money")
datetime_scalar = ScalarType("DateTime")
query = QueryType()
mutation = MutationType()
credit_card = ObjectType("CreditCard")
card_event = ObjectType("CardEvent")
operation_type = ObjectType("Operation")
account_info = ObjectType("AccountInfo")
card_transaction = ObjectType("CardTransaction")
payment_type = ObjectType("Payment")
payment_event = ObjectType("PaymentEvent")
autopay_type = ObjectType("AutopayInstruction")
transaction_event = ObjectType("TransactionEvent")


@money.serializer
def serialize_money(value):
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError("Money must be an integer number of cents")
    return value


@money.value_parser
def parse_money(value):
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError("Money must be an integer number of cents")
    if abs(value) > 10**15:
        raise ValueError("Money is out of range")
    return value


@datetime_scalar.value_parser
def parse_datetime(value) -> dt.datetime:
    if not isinstance(value, str):
        raise ValueError("DateTime must be an RFC 3339 string")
    parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError("DateTime needs a time zone (use Z for UTC)")
    return parsed


@datetime_scalar.serializer
def serialize_datetime(value: dt.datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def _principal(info) -> Principal:
    return info.context["principal"]


def _customer_id(info) -> str:
    return _principal(info).customer_id


# Queries


@query.field("accountInfo")
def resolve_account_info(_, info):
    customer_id = _customer_id(info)
    return accounts.account_for(customer_id)


@account_info.field("firstName")
def resolve_first_name(account, _info):
    return account.customer.first_name


@account_info.field("lastName")
def resolve_last_name(account, _info):
    return account.customer.last_name


@account_info.field("email")
def resolve_email(account, _info):
    return account.customer.email


@account_info.field("creditLimit")
def resolve_credit_limit(account, _info):
    return account.credit_limit


@account_info.field("currentBalance")
def resolve_current_balance(account, _info):
    return account.posted_balance


@account_info.field("pendingHolds")
def resolve_pending_holds(account, _info):
    return account.pending_holds


@account_info.field("availableCredit")
def resolve_available_credit(account, _info):
    return max(ledger.available_credit(account), 0)


@query.field("creditCardTransactions")
def resolve_transactions(_, info, first=20, after=None, cardId=None, status=None, **dates):
    rows, has_next = transactions.list_transactions(
        _customer_id(info),
        first=first,
        after=after,
        card_id=cardId,
        status=status,
        since=dates.get("from"),
        until=dates.get("to"),
    )
    edges = [{"cursor": transactions.cursor_of(row), "node": row} for row in rows]
    return {
        "edges": edges,
        "pageInfo": {"hasNextPage": has_next, "endCursor": edges[-1]["cursor"] if edges else None},
    }


for field_name, attribute in {
    "cardId": "card_id",
    "authorizationAmount": "authorization_amount",
    "settledAmount": "settled_amount",
    "pendingAmount": "held_amount",
    "postedAmount": "posted_amount",
    "createdAt": "lithic_created",
    "updatedAt": "lithic_updated",
}.items():
    card_transaction.set_alias(field_name, attribute)

transaction_event.set_alias("createdAt", "lithic_created")


@card_transaction.field("merchant")
def resolve_merchant(row: CardTransaction, _info):
    return {
        "descriptor": row.merchant_descriptor,
        "mcc": row.merchant_mcc,
        "city": row.merchant_city,
        "state": row.merchant_state,
        "country": row.merchant_country,
    }


@card_transaction.field("events")
def resolve_transaction_events(row: CardTransaction, _info):
    return list(
        TransactionEvent.select()
        .where(TransactionEvent.transaction == row)
        .order_by(TransactionEvent.position)
    )


@query.field("payments")
def resolve_payments(_, info, first=20):
    return payments.payments_of(_customer_id(info), limit=max(1, min(first, 100)))


@query.field("autopay")
def resolve_autopay(_, info):
    return autopay.active_instruction(_customer_id(info))


@query.field("amountsDue")
def resolve_amounts_due(_, info):
    account = accounts.account_for(_customer_id(info))
    due = payments.amounts_due(account)
    statement = payments.latest_statement(account)
    return {
        "minimumPaymentDue": due["MINIMUM_PAYMENT_DUE"],
        "statementBalance": due["STATEMENT_BALANCE"],
        "currentBalance": due["CURRENT_BALANCE"],
        "paymentDueDate": str(statement.payment_due_date) if statement else None,
    }


payment_type.set_alias("createdAt", "created_at")
payment_event.set_alias("at", "created_at")
for field_name, attribute in {
    "fixedAmount": "fixed_amount",
    "sourceAccountId": "source_account_id",
    "agreedAt": "agreed_at",
}.items():
    autopay_type.set_alias(field_name, attribute)


@payment_type.field("events")
def resolve_payment_events(payment: Payment, _info):
    return list(
        PaymentEvent.select()
        .where(PaymentEvent.payment == payment)
        .order_by(PaymentEvent.created_at)
    )


@autopay_type.field("failedAttempts")
def resolve_failed_attempts(instruction, _info):
    failed = 0
    for run in AutopayRun.select().where(
        (AutopayRun.instruction == instruction) & AutopayRun.failure.is_null(False)
    ):
        # A run that finally paid spent its last attempt on the payment.
        failed += run.attempts - (1 if run.status == AutopayRun.PAID else 0)
    return failed


@mutation.field("makePayment")
def resolve_make_payment(_, info, input):
    return payments.make_payment(
        _customer_id(info),
        input["option"],
        input.get("sourceAccountId"),
        amount=input.get("amount"),
        idempotency_key=input.get("idempotencyKey"),
    )


@mutation.field("setupAutoPay")
def resolve_setup_autopay(_, info, input):
    return autopay.setup(
        _customer_id(info),
        input["mode"],
        input.get("sourceAccountId"),
        input["agreementAccepted"],
        fixed_amount=input.get("fixedAmount"),
    )


@mutation.field("cancelAutoPay")
def resolve_cancel_autopay(_, info):
    return autopay.cancel(_customer_id(info))


@query.field("creditCards")
def resolve_credit_cards(_, info):
    return cards.cards_of(_customer_id(info))


@query.field("creditCard")
def resolve_credit_card(_, info, id):
    try:
        return cards.card_of(_customer_id(info), id)
    except NotFound:
        return None


@query.field("operation")
def resolve_operation(_, info, id):
    principal = _principal(info)
    found = Operation.get_or_none(Operation.id == id)
    if found is None:
        return None
    if principal.role == CUSTOMER and found.customer_id != principal.subject:
        return None
    return found


# Card and operation fields (snake_case model attributes to camelCase schema fields)

for field_name, attribute in {
    "lastFour": "last_four",
    "expMonth": "exp_month",
    "expYear": "exp_year",
    "spendLimit": "spend_limit",
    "shippingMethod": "shipping_method",
    "trackingNumber": "tracking_number",
    "shippedAt": "shipped_at",
    "activatedAt": "activated_at",
    "createdAt": "created_at",
}.items():
    credit_card.set_alias(field_name, attribute)

for field_name, attribute in {
    "resourceId": "resource_id",
    "createdAt": "created_at",
    "updatedAt": "updated_at",
}.items():
    operation_type.set_alias(field_name, attribute)

card_event.set_alias("at", "created_at")


@credit_card.field("replacementFor")
def resolve_replacement_for(card: Card, _info):
    return card.replacement_for_id


@credit_card.field("events")
def resolve_card_events(card: Card, _info):
    return list(CardEvent.select().where(CardEvent.card == card).order_by(CardEvent.created_at))


# Mutations


def _shipping(data: dict | None) -> cards.ShippingAddress | None:
    if not data:
        return None
    return cards.ShippingAddress(
        first_name=data["firstName"],
        last_name=data["lastName"],
        address1=data["address1"],
        address2=data.get("address2"),
        city=data["city"],
        state=data["state"],
        postal_code=data["postalCode"],
        country=data.get("country") or "USA",
    )


@mutation.field("createCard")
def resolve_create_card(_, info, input):
    card, operation = cards.create_card(
        _customer_id(info),
        input["type"],
        memo=input.get("memo"),
        shipping=_shipping(input.get("shippingAddress")),
        shipping_method=input.get("shippingMethod"),
    )
    return {"card": Card.get_by_id(card.id), "operation": Operation.get_by_id(operation.id)}


@mutation.field("activateCreditCard")
def resolve_activate(_, info, cardId):
    card = cards.activate_card(_customer_id(info), cardId)
    return Card.get_by_id(card.id)


@mutation.field("freezeUnfreezeCard")
def resolve_freeze(_, info, cardId, freeze):
    card = cards.freeze_unfreeze_card(_customer_id(info), cardId, freeze)
    return Card.get_by_id(card.id)


@mutation.field("replaceCard")
def resolve_replace(_, info, input):
    card, operation = cards.request_replacement(
        _customer_id(info),
        input["cardId"],
        input["reason"],
        shipping=_shipping(input.get("shippingAddress")),
    )
    return {"card": card, "operation": operation}


@mutation.field("onboardCustomer")
def resolve_onboard(_, info, input):
    _principal(info).require(INTERNAL, ADMIN)
    address = input["address"]
    customer, account, operation = accounts.onboard_customer(
        accounts.Applicant(
            external_id=input["externalId"],
            first_name=input["firstName"],
            last_name=input["lastName"],
            email=input["email"],
            phone_number=input["phoneNumber"],
            dob=input["dob"],
            government_id=input["governmentId"],
            address=accounts.Address(
                address1=address["address1"],
                address2=address.get("address2"),
                city=address["city"],
                state=address["state"],
                postal_code=address["postalCode"],
                country=address.get("country") or "USA",
            ),
            credit_limit=input.get("creditLimit"),
        )
    )
    return {"customerId": customer.id, "accountId": account.id, "operation": operation}


@mutation.field("closeCard")
def resolve_close(_, info, cardId, reason=None):
    _principal(info).require(ADMIN)
    return Card.get_by_id(cards.close_card(cardId, reason).id)


def build_schema():
    """The executable schema, built once per process."""
    return make_executable_schema(
        load_schema_from_path(str(SCHEMA_PATH)),
        money,
        datetime_scalar,
        query,
        mutation,
        credit_card,
        card_event,
        operation_type,
        account_info,
        card_transaction,
        transaction_event,
        payment_type,
        payment_event,
        autopay_type,
    )
