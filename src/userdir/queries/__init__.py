"""All SQL lives here: small async functions taking the session first."""
