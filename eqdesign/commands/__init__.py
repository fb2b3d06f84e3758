"""One module per command. Each exposes one core function that returns a result with an exit code."""
