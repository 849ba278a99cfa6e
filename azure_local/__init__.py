"""The Azure build run locally: Microsoft's Python worker, with stand-ins for Web PubSub for Socket.IO and Durable.

See docs/AZURE_LOCAL.md: what runs for real, what is stood in, and what that cannot prove.
Needs the Azure venv (Python 3.13, requirements-azure.txt): `make run-azure`.
"""
