"""The serving API: the registry and its gate, the app, and the server that runs it."""
