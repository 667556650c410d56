"""Statements, payments and their events, AutoPay instructions and runs, notifications, job runs."""

import datetime

from peewee import *  # noqa: F403


def up(migrator, db):
    class Customer(Model):
        id = CharField(primary_key=True, max_length=36)

        class Meta:
            database = db
            table_name = "customer"

    class CreditAccount(Model):
        id = CharField(primary_key=True, max_length=36)

        class Meta:
            database = db
            table_name = "credit_account"

    class Statement(Model):
        id = CharField(primary_key=True, max_length=36)
        account = ForeignKeyField(CreditAccount)
        token = CharField(max_length=36, unique=True)
        statement_start_date = DateField()
        statement_end_date = DateField(index=True)
        payment_due_date = DateField(index=True)
        ending_balance = BigIntegerField()
        minimum_payment = BigIntegerField()
        created_at = DateTimeField(default=datetime.datetime.utcnow)

        class Meta:
            database = db
            table_name = "statement"

    class AutopayInstruction(Model):
        id = CharField(primary_key=True, max_length=36)
        account = ForeignKeyField(CreditAccount)
        mode = CharField(max_length=24)
        fixed_amount = BigIntegerField(null=True)
        source_account_id = CharField(max_length=64)
        agreed_at = DateTimeField()
        active = BooleanField(default=True, index=True)
        created_at = DateTimeField()
        cancelled_at = DateTimeField(null=True)

        class Meta:
            database = db
            table_name = "autopay_instruction"

    class AutopayRun(Model):
        id = CharField(primary_key=True, max_length=36)
        instruction = ForeignKeyField(AutopayInstruction)
        due_date = DateField()
        status = CharField(max_length=16, default="QUEUED", index=True)
        attempts = IntegerField(default=0)
        failure = TextField(null=True)
        retry_at = DateTimeField(null=True, index=True)
        payment_id = CharField(max_length=36, null=True)
        created_at = DateTimeField()
        updated_at = DateTimeField()

        class Meta:
            database = db
            table_name = "autopay_run"
            indexes = ((("instruction", "due_date"), True),)

    class Payment(Model):
        id = CharField(primary_key=True, max_length=36)
        customer = ForeignKeyField(Customer)
        account = ForeignKeyField(CreditAccount)
        option = CharField(max_length=24)
        amount = BigIntegerField()
        source_account_id = CharField(max_length=64)
        origin = CharField(max_length=8, default="MANUAL", index=True)
        autopay_run = ForeignKeyField(AutopayRun, null=True)
        status = CharField(max_length=16, default="PENDING", index=True)
        failure = TextField(null=True)
        idempotency_key = CharField(max_length=128, null=True)
        request_fingerprint = CharField(max_length=64, null=True)
        created_at = DateTimeField(index=True)
        updated_at = DateTimeField()

        class Meta:
            database = db
            table_name = "payment"
            indexes = ((("customer", "idempotency_key"), True),)

    class PaymentEvent(Model):
        id = CharField(primary_key=True, max_length=36)
        payment = ForeignKeyField(Payment, on_delete="CASCADE")
        kind = CharField(max_length=40)
        detail = TextField(default="")
        created_at = DateTimeField()

        class Meta:
            database = db
            table_name = "payment_event"

    class Notification(Model):
        id = CharField(primary_key=True, max_length=36)
        customer = ForeignKeyField(Customer)
        kind = CharField(max_length=40)
        message = TextField()
        created_at = DateTimeField()

        class Meta:
            database = db
            table_name = "notification"

    class JobRun(Model):
        job = CharField(max_length=48)
        run_date = DateField()
        started_at = DateTimeField()

        class Meta:
            database = db
            table_name = "job_run"
            primary_key = CompositeKey("job", "run_date")

    db.create_tables(
        [Statement, AutopayInstruction, AutopayRun, Payment, PaymentEvent, Notification, JobRun]
    )


def down(migrator, db):
    for table in (
        "job_run",
        "notification",
        "payment_event",
        "payment",
        "autopay_run",
        "autopay_instruction",
        "statement",
    ):
        migrator.migrate(migrator.drop_table(table))
