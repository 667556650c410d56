"""A local, in-memory emulator of Lithic's card-issuing API (sandbox behaviour included).

Use `server.start_in_thread(EmulatorConfig(...))` in tests, `app.create_app(config)` to serve it
from any WSGI server, or the `ccs-lithic-emulator` command. Test-only controls live under
`/_emulator/`.
"""
