"""FastAPI application: thin routes over the service use cases."""
