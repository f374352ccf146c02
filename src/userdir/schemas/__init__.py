"""marshmallow schemas: the wire format in and out, named for their direction."""
