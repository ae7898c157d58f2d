"""The one builder of "Invalid parameter" texts (431)."""

from __future__ import annotations

from ipaddress import IPv4Address

from altostratus.errors import InvalidParameter, invalid


def test_without_a_value() -> None:
    error = invalid("domainid", "it needs the account parameter")
    assert type(error) is InvalidParameter
    assert error.code == 431
    assert error.text == "Invalid parameter domainid: it needs the account parameter"
    assert str(error) == error.text


def test_with_a_value() -> None:
    error = invalid("id", "a ROOT volume cannot be attached", value="5f1c")
    assert error.text == "Invalid parameter id value=5f1c: a ROOT volume cannot be attached"


def test_a_value_is_formatted_as_an_f_string_would() -> None:
    assert invalid("deviceid", "the slot is taken", value=3).text == (
        "Invalid parameter deviceid value=3: the slot is taken"
    )
    assert invalid("endip", "lower than startip 10.0.0.9", value=IPv4Address("10.0.0.5")).text == (
        "Invalid parameter endip value=10.0.0.5: lower than startip 10.0.0.9"
    )
    assert invalid("name", "taken", value="").text == "Invalid parameter name value=: taken"


def test_none_means_no_value() -> None:
    assert invalid("size", "required", value=None).text == "Invalid parameter size: required"
    assert invalid("size", "smaller", value=str(None)).text == (
        "Invalid parameter size value=None: smaller"
    )


def test_indexed_parameters() -> None:
    assert invalid("tags[0].key", "required").text == "Invalid parameter tags[0].key: required"
