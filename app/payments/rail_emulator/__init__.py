"""A local, in-memory stand-in for the bank-transfer provider that pays the card bill.

Use `server.start_in_thread(RailConfig(...))` in tests, `app.create_app(config)` to serve it from
any WSGI server, or the `ccs-rail-emulator` command. Test-only controls live under `/_rail/`.
"""
