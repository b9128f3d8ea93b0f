"""Tests for the normalization of aduana, patente, pedimento and RFC."""

import pytest

from pedimentos.exceptions import InvalidServiceData
from pedimentos.vucem import Credentials, PedimentoQuery, normalize_query, validate_rfc


@pytest.mark.parametrize(
    ("aduana", "patente", "pedimento", "expected"),
    [
        ("070", "3420", "5006792", ("070", "3420", "5006792")),
        ("07", "3420", "5006792", ("070", "3420", "5006792")),
        ("160", "3420", "5006792", ("160", "3420", "5006792")),
        (" 16 ", " 3420 ", " 5006792 ", ("160", "3420", "5006792")),
        ("400", 3420, 6000123, ("400", "3420", "6000123")),
        ("070", "3420", "24 16 3420 5006792", ("070", "3420", "5006792")),
        ("070", "3420", "241634205006792", ("070", "3420", "5006792")),
    ],
)
def test_normalize_query_good(aduana, patente, pedimento, expected):
    query = normalize_query(aduana, patente, pedimento)

    assert query == PedimentoQuery(*expected)


@pytest.mark.parametrize(
    ("aduana", "patente", "pedimento", "field"),
    [
        ("7", "3420", "5006792", "aduana"),
        ("0700", "3420", "5006792", "aduana"),
        ("07A", "3420", "5006792", "aduana"),
        ("-07", "3420", "5006792", "aduana"),
        (None, "3420", "5006792", "aduana"),
        ("", "3420", "5006792", "aduana"),
        ("070", "342", "5006792", "patente"),
        ("070", "34200", "5006792", "patente"),
        ("070", "34X0", "5006792", "patente"),
        ("070", None, "5006792", "patente"),
        ("070", "3420", "500679", "pedimento"),
        ("070", "3420", "50067921", "pedimento"),
        ("070", "3420", "5OO6792", "pedimento"),
        ("070", "3420", None, "pedimento"),
        ("070", "3420", "24 16 3421 5006792", "pedimento"),
        ("070", "3420", "241634215006792", "pedimento"),
        ("070", "3420", "2416342050067", "pedimento"),
        ("070", "3420", True, "pedimento"),
    ],
)
def test_normalize_query_bad(aduana, patente, pedimento, field):
    with pytest.raises(InvalidServiceData) as caught:
        normalize_query(aduana, patente, pedimento)

    assert caught.value.context["field"] == field
    assert field in str(caught.value)


def test_normalize_query_message_names_value():
    with pytest.raises(InvalidServiceData) as caught:
        normalize_query("7", "3420", "5006792")

    message = str(caught.value)
    assert "'7'" in message
    assert "ambiguous" in message


def test_normalize_query_patente_mismatch_message():
    with pytest.raises(InvalidServiceData) as caught:
        normalize_query("070", "3420", "24 16 3421 5006792")

    assert "3421" in str(caught.value)
    assert "3420" in str(caught.value)


def test_normalize_query_missing_message():
    with pytest.raises(InvalidServiceData) as caught:
        normalize_query("070", None, "5006792")

    assert str(caught.value).startswith("Missing patente")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("AAA010101AAA", "AAA010101AAA"),
        ("PEGJ800101AB1", "PEGJ800101AB1"),
        (" a&b850101xy9 ", "A&B850101XY9"),
        ("MUÑ&850101AB1", "MUÑ&850101AB1"),
        ("muñ&850101ab1", "MUÑ&850101AB1"),
    ],
)
def test_validate_rfc_good(value, expected):
    assert validate_rfc(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "AA010101AAA",
        "AAAAA010101AAA",
        "AAA01010AAA",
        "AAA0101011AAA",
        "AAA010101AA",
        "AAA010101AA-",
        "AAA-10101AAA",
        "AAA０10101AAA",
    ],
)
def test_validate_rfc_bad(value):
    with pytest.raises(InvalidServiceData) as caught:
        validate_rfc(value)

    assert caught.value.context["field"] == "RFC"


def test_credentials_repr_hides_password():
    credentials = Credentials(username="AAA010101AAA", password="s3cr3t-key")

    assert "s3cr3t-key" not in repr(credentials)
    assert "s3cr3t-key" not in str(credentials)
    assert "AAA010101AAA" in repr(credentials)


def test_query_is_frozen():
    query = PedimentoQuery("070", "3420", "5006792")

    with pytest.raises(AttributeError):
        query.aduana = "160"
