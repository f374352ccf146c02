"""userdir: an async JSON REST service for a GitHub users directory and restaurant menus."""

__version__ = "0.1.0"
