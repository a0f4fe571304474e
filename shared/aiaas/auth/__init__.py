"""Authentication and authorization: scopes, principals, passwords, tokens, API keys.

No web framework and no AWS SDK here: the authorizer function imports this package and its
cold start precedes every first request.
"""
