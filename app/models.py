"""Every model, in dependency order: what migrations and test fixtures create."""

from app.accounts.models import CreditAccount, Customer
from app.cards.models import Card, CardEvent
from app.messaging.models import DeadLetter, OutboxMessage, ProcessedMessage
from app.operations.models import Operation
from app.payments.models import (
    AutopayInstruction,
    AutopayRun,
    JobRun,
    Notification,
    Payment,
    PaymentEvent,
    Statement,
)
from app.transactions.models import AsaDecision, CardTransaction, LedgerEntry, TransactionEvent
from app.webhooks.models import WebhookDelivery

MODELS = [
    Customer,
    CreditAccount,
    Operation,
    Card,
    CardEvent,
    OutboxMessage,
    ProcessedMessage,
    DeadLetter,
    WebhookDelivery,
    CardTransaction,
    TransactionEvent,
    LedgerEntry,
    AsaDecision,
    Statement,
    AutopayInstruction,
    AutopayRun,
    Payment,
    PaymentEvent,
    Notification,
    JobRun,
]
