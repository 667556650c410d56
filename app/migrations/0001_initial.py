"""The first schema: customers, accounts, cards, operations, outbox, dead letters, webhooks.

Key and timestamp defaults are set by the application models, not by the database.
"""

from peewee import *  # noqa: F403


def up(migrator, db):
    class Customer(Model):
        id = CharField(primary_key=True, max_length=36)
        external_id = CharField(unique=True, max_length=128)
        first_name = CharField(max_length=64)
        last_name = CharField(max_length=64)
        email = CharField(max_length=254)
        phone_number = CharField(max_length=32)
        created_at = DateTimeField()

        class Meta:
            database = db
            table_name = "customer"

    db.create_tables([Customer])

    class CreditAccount(Model):
        id = CharField(primary_key=True, max_length=36)
        customer = ForeignKeyField(Customer, unique=True)
        status = CharField(index=True, max_length=16, default="PENDING")
        credit_limit = BigIntegerField()
        lithic_account_holder_token = CharField(unique=True, null=True, max_length=36)
        lithic_account_token = CharField(unique=True, null=True, max_length=36)
        lithic_financial_account_token = CharField(null=True, max_length=36)
        status_reasons = TextField(default="")
        kyc_ciphertext = TextField(null=True)
        created_at = DateTimeField()
        updated_at = DateTimeField()

        class Meta:
            database = db
            table_name = "credit_account"

    db.create_tables([CreditAccount])

    class Card(Model):
        id = CharField(primary_key=True, max_length=36)
        customer = ForeignKeyField(Customer)
        account = ForeignKeyField(CreditAccount)
        type = CharField(max_length=16)
        state = CharField(index=True, max_length=24, default="REQUESTED")
        substatus = CharField(null=True, max_length=32)
        lithic_token = CharField(unique=True, null=True, max_length=36)
        last_four = CharField(null=True, max_length=4)
        exp_month = CharField(null=True, max_length=2)
        exp_year = CharField(null=True, max_length=4)
        memo = CharField(null=True, max_length=128)
        spend_limit = BigIntegerField(default=0)
        replacement_for = ForeignKeyField("self", null=True)
        order_key = CharField(unique=True, max_length=36)
        shipping_name = CharField(null=True, max_length=64)
        shipping_address = TextField(null=True)
        shipping_method = CharField(null=True, max_length=32)
        tracking_number = CharField(null=True, max_length=64)
        shipped_at = DateTimeField(null=True)
        activated_at = DateTimeField(null=True)
        activation_reminded_at = DateTimeField(null=True)
        failure = TextField(null=True)
        created_at = DateTimeField()
        updated_at = DateTimeField()

        class Meta:
            database = db
            table_name = "card"

    db.create_tables([Card])

    class CardEvent(Model):
        id = CharField(primary_key=True, max_length=36)
        card = ForeignKeyField(Card, on_delete="CASCADE")
        kind = CharField(max_length=48)
        detail = TextField(default="{}")
        source_id = CharField(null=True, max_length=64)
        created_at = DateTimeField()

        class Meta:
            database = db
            table_name = "card_event"
            indexes = ((("card", "kind", "source_id"), True),)

    db.create_tables([CardEvent])

    class DeadLetter(Model):
        id = CharField(primary_key=True, max_length=36)
        message_id = CharField(index=True, max_length=36)
        queue_name = CharField(max_length=64)
        actor_name = CharField(max_length=64)
        payload = TextField()
        error_type = CharField(max_length=128)
        error = TextField()
        retries = IntegerField(default=0)
        failed_at = DateTimeField()
        replayed_at = DateTimeField(null=True)

        class Meta:
            database = db
            table_name = "dead_letter"

    db.create_tables([DeadLetter])

    class Operation(Model):
        id = CharField(primary_key=True, max_length=36)
        customer = ForeignKeyField(Customer, null=True)
        kind = CharField(max_length=48)
        status = CharField(max_length=16, default="PENDING")
        resource_id = CharField(null=True, max_length=36)
        error = TextField(null=True)
        created_at = DateTimeField()
        updated_at = DateTimeField()

        class Meta:
            database = db
            table_name = "operation"

    db.create_tables([Operation])

    class OutboxMessage(Model):
        id = CharField(primary_key=True, max_length=36)
        queue_name = CharField(max_length=64)
        actor_name = CharField(max_length=64)
        payload = TextField()
        created_at = DateTimeField()
        published_at = DateTimeField(index=True, null=True)
        attempts = IntegerField(default=0)
        last_error = TextField(null=True)

        class Meta:
            database = db
            table_name = "outbox_message"

    db.create_tables([OutboxMessage])

    class ProcessedMessage(Model):
        message_id = CharField(primary_key=True, max_length=36)
        actor_name = CharField(max_length=64)
        processed_at = DateTimeField()

        class Meta:
            database = db
            table_name = "processed_message"

    db.create_tables([ProcessedMessage])

    class WebhookDelivery(Model):
        id = CharField(primary_key=True, max_length=36)
        webhook_id = CharField(unique=True, max_length=128)
        event_type = CharField(index=True, max_length=64)
        data = TextField()
        status = CharField(max_length=16, default="RECEIVED")
        note = TextField(null=True)
        received_at = DateTimeField()
        applied_at = DateTimeField(null=True)

        class Meta:
            database = db
            table_name = "webhook_delivery"

    db.create_tables([WebhookDelivery])


def down(migrator, db):
    migrator.migrate(migrator.drop_table("webhook_delivery"))
    migrator.migrate(migrator.drop_table("processed_message"))
    migrator.migrate(migrator.drop_table("outbox_message"))
    migrator.migrate(migrator.drop_table("operation"))
    migrator.migrate(migrator.drop_table("dead_letter"))
    migrator.migrate(migrator.drop_table("card_event"))
    migrator.migrate(migrator.drop_table("card"))
    migrator.migrate(migrator.drop_table("credit_account"))
    migrator.migrate(migrator.drop_table("customer"))
