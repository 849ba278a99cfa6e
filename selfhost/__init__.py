"""The self-hosted adapter: the core on python-socketio and uvicorn, in one process."""
