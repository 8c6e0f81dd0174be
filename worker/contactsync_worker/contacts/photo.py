"""Photos travel as ``data:`` URIs of an image media type holding base64; nothing else passes.

Sources check a photo here before it enters a contact, and the vCard serializer checks it again
before it writes the payload raw (vCard 3.0's ``ENCODING=b``): a value that is not exactly this
shape could otherwise end a property line and start another.
"""

from __future__ import annotations

import base64
import binascii
import re

# RFC 2397 with RFC 6838 media type names, base64 only, no parameters.
_DATA_URI = re.compile(
    r"data:(image/[a-z0-9][a-z0-9!#$&^_.+-]{0,126});base64,([A-Za-z0-9+/]+={0,2})",
    re.ASCII | re.IGNORECASE,
)


class InvalidPhoto(ValueError):
    """A photo value that is not a base64 data: URI of an image type."""


def parse_data_uri(text: str) -> tuple[str, str]:
    """The media type (lower case) and base64 payload of a photo data: URI; raises
    InvalidPhoto for anything else, a payload that does not decode included."""
    match = _DATA_URI.fullmatch(text)
    if match is None:
        raise InvalidPhoto("photo must be a data: URI of an image type in base64")
    media, payload = match.groups()
    try:
        base64.b64decode(payload, validate=True)
    except binascii.Error:
        raise InvalidPhoto("photo data is not valid base64") from None
    return media.lower(), payload
