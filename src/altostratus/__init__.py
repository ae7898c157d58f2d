"""Altostratus: a multi-region cloud management server speaking the CloudStack API."""

__version__ = "0.1.0"

#: The CloudStack release whose API this server follows; clients read it from
#: ``listCapabilities`` to decide which commands and fields to expect.
CLOUDSTACK_API_VERSION = "4.20.0"

__all__ = ["CLOUDSTACK_API_VERSION", "__version__"]
