"""Schemathesis hooks for .ci/api-contract.sh (loaded via SCHEMATHESIS_HOOKS)."""

import schemathesis

# JSON Schema counts 2.0 as an integer and Schemathesis sends integer fields
# that way too, but the API refuses `2.0` where it reads an integer (400; see
# README, "The HTTP API"): a count written with a fraction is a client bug it
# would rather report than round. No schema keyword can say so, so generated
# bodies spell whole numbers as integers; everything else about them is left
# as generated.
_EXACT = 2**53


def _plain_integers(value):
    if isinstance(value, float) and value.is_integer() and abs(value) <= _EXACT:
        return int(value)
    if isinstance(value, dict):
        return {key: _plain_integers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain_integers(item) for item in value]
    return value


@schemathesis.hook
def map_body(context, body):
    return _plain_integers(body)


# Schemathesis fills path parameters with values it saw in responses, `null`
# included (an optional id a response leaves `null`). A path segment cannot
# be null and the document never says one is, so such cases are dropped
# rather than sent as the text `null`.
@schemathesis.hook
def filter_path_parameters(context, path_parameters):
    return all(value is not None for value in (path_parameters or {}).values())
