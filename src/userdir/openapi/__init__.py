"""The API's contract: an OpenAPI document built from the router and the marshmallow schemas.

To document a route, add its entry to `operations.OPERATIONS`.
"""
