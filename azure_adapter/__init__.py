"""The Azure Functions adapter's helpers: `function_app.py` declares the functions, these translate.

Nothing here holds a rule of the app: events go to `shared.handlers`, room state to the
operations in `shared.room_operations`, run by Durable Entities.
"""
