"""Backends: where rows go. Each one is a module; ``sheetlog.targets`` picks one from a target."""
