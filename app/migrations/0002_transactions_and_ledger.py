"""Card transactions, their events, ASA decisions and the ledger; running totals on accounts."""

import datetime

from peewee import *  # noqa: F403


def up(migrator, db):
    migrator.migrate(
        migrator.add_column("credit_account", "posted_balance", BigIntegerField(default=0)),
        migrator.add_column("credit_account", "pending_holds", BigIntegerField(default=0)),
        migrator.add_column(
            "card", "spend_limit_duration", CharField(max_length=16, default="TRANSACTION")
        ),
    )

    class CreditAccount(Model):
        id = CharField(primary_key=True, max_length=36)

        class Meta:
            database = db
            table_name = "credit_account"

    class Card(Model):
        id = CharField(primary_key=True, max_length=36)

        class Meta:
            database = db
            table_name = "card"

    class CardTransaction(Model):
        id = CharField(primary_key=True, max_length=36)
        token = CharField(max_length=36, unique=True)
        account = ForeignKeyField(CreditAccount, null=True)
        card = ForeignKeyField(Card, null=True)
        card_token = CharField(max_length=36, index=True)
        status = CharField(max_length=16, index=True)
        result = CharField(max_length=48)
        authorization_amount = BigIntegerField(default=0)
        settled_amount = BigIntegerField(default=0)
        held_amount = BigIntegerField(default=0)
        posted_amount = BigIntegerField(default=0)
        merchant_descriptor = CharField(max_length=64, default="")
        merchant_mcc = CharField(max_length=8, default="")
        merchant_city = CharField(max_length=64, default="")
        merchant_state = CharField(max_length=8, default="")
        merchant_country = CharField(max_length=8, default="")
        event_count = IntegerField(default=0)
        flag = CharField(max_length=32, null=True)
        lithic_created = DateTimeField(index=True)
        lithic_updated = DateTimeField()
        created_at = DateTimeField(default=datetime.datetime.utcnow)

        class Meta:
            database = db
            table_name = "card_transaction"

    class TransactionEvent(Model):
        id = CharField(primary_key=True, max_length=36)
        transaction = ForeignKeyField(CardTransaction, on_delete="CASCADE")
        token = CharField(max_length=36, unique=True)
        type = CharField(max_length=40)
        amount = BigIntegerField()
        result = CharField(max_length=48)
        detailed_result = CharField(max_length=64, default="")
        position = IntegerField()
        lithic_created = DateTimeField()

        class Meta:
            database = db
            table_name = "transaction_event"

    class LedgerEntry(Model):
        id = CharField(primary_key=True, max_length=36)
        account = ForeignKeyField(CreditAccount)
        card = ForeignKeyField(Card, null=True)
        transaction_token = CharField(max_length=36, index=True, null=True)
        kind = CharField(max_length=16)
        amount = BigIntegerField()
        reason = CharField(max_length=40)
        source_id = CharField(max_length=64, null=True)
        created_at = DateTimeField(index=True)

        class Meta:
            database = db
            table_name = "ledger_entry"

    class AsaDecision(Model):
        id = CharField(primary_key=True, max_length=36)
        token = CharField(max_length=36, unique=True)
        card_token = CharField(max_length=36)
        account = ForeignKeyField(CreditAccount, null=True)
        amount = BigIntegerField()
        approved_amount = BigIntegerField(default=0)
        result = CharField(max_length=40)
        reason = CharField(max_length=64, default="")
        created_at = DateTimeField()

        class Meta:
            database = db
            table_name = "asa_decision"

    db.create_tables([CardTransaction, TransactionEvent, LedgerEntry, AsaDecision])


def down(migrator, db):
    for table in ("asa_decision", "ledger_entry", "transaction_event", "card_transaction"):
        migrator.migrate(migrator.drop_table(table))
    migrator.migrate(
        migrator.drop_column("card", "spend_limit_duration"),
        migrator.drop_column("credit_account", "pending_holds"),
        migrator.drop_column("credit_account", "posted_balance"),
    )
