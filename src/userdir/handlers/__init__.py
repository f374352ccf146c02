"""Request handlers: parse with a schema, consult the cache, query, dump, respond."""
